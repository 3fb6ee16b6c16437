"""The machine a benchmark ran on, in one line: latencies on this project's development machines vary by up to 2×
from one day to the next (the machine type itself changes), so every printed table names the CPU it came from."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def cpu_name() -> str:
    """The CPU's model name (``/proc/cpuinfo``), else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def machine_line() -> str:
    """``"2 CPU cores (AMD EPYC)"``: what a benchmark's header says about where it ran."""
    return f"{os.cpu_count()} CPU cores ({cpu_name()})"

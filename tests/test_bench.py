"""The benchmarks' shared pieces (the benchmarks themselves run outside the test suite)."""

import os

from bench.machine import cpu_name, machine_line


def test_every_benchmark_header_names_the_cores_and_the_cpu():
    assert cpu_name().strip()
    assert machine_line() == f"{os.cpu_count()} CPU cores ({cpu_name()})"

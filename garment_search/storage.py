"""Read and write files that live on local disk or in Cloud Storage (``gs://bucket/path``), one API for both.

The client honours ``STORAGE_EMULATOR_HOST`` (used by the tests' local emulator) and is created only when a
``gs://`` path is actually used.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path, PurePosixPath

GS_PREFIX = "gs://"


def is_gcs(path: str | os.PathLike) -> bool:
    return str(path).startswith(GS_PREFIX)


def _split(path: str) -> tuple[str, str]:
    bucket, _, name = path[len(GS_PREFIX):].partition("/")
    return bucket, name


@lru_cache(maxsize=1)
def _client():
    from google.cloud import storage

    if os.environ.get("STORAGE_EMULATOR_HOST"):
        from google.auth.credentials import AnonymousCredentials

        return storage.Client(project=os.environ.get("GOOGLE_CLOUD_PROJECT", "test"), credentials=AnonymousCredentials())
    return storage.Client()


def read_bytes(path: str | os.PathLike) -> bytes:
    path = str(path)
    if is_gcs(path):
        bucket, name = _split(path)
        return _client().bucket(bucket).blob(name).download_as_bytes()
    return Path(path).read_bytes()


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write atomically on local disk (temp file + rename), as one upload on Cloud Storage."""
    path = str(path)
    if is_gcs(path):
        bucket, name = _split(path)
        _client().bucket(bucket).blob(name).upload_from_string(data)
        return
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(target)


def exists(path: str | os.PathLike) -> bool:
    path = str(path)
    if is_gcs(path):
        bucket, name = _split(path)
        return _client().bucket(bucket).blob(name).exists()
    return Path(path).exists()


def list_files(root: str | os.PathLike) -> list[str]:
    """Every file below ``root`` as a path in the same spelling as ``root`` (sorted)."""
    root = str(root)
    if is_gcs(root):
        bucket, prefix = _split(root.rstrip("/") + "/")
        return sorted(f"{GS_PREFIX}{bucket}/{b.name}" for b in _client().list_blobs(bucket, prefix=prefix)
                      if not b.name.endswith("/"))
    base = Path(root)
    return sorted(str(PurePosixPath(base.as_posix()) / p.relative_to(base).as_posix())
                  for p in base.rglob("*") if p.is_file())


def parent_name(path: str) -> str:
    """Name of the folder holding ``path`` (the product name)."""
    return PurePosixPath(path[len(GS_PREFIX):] if is_gcs(path) else path).parent.name

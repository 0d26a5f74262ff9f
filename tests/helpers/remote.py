"""Fixtures for the lease, shim, remote and fan-out tests: real roots on real servers.

Each root is ``(url, storage_options)``; cloud roots get a fresh bucket or container per
test on a session-scoped server (moto for S3, Azurite for Azure). A missing server binary
skips locally and fails in CI (``CI=true``), so a missing install step cannot hide.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from helpers.core import memory_root
from helpers.servers import Server, ServerMissingError, start_azurite, start_moto

__all__ = ["Root", "azurite", "moto", "root_on"]


@dataclass(frozen=True)
class Root:
    """A storage root for one test: its URL and the fsspec options to open it with."""

    url: str
    options: dict[str, Any] = field(default_factory=dict)
    kind: str = "file"


def _server(start: Any) -> Iterator[Server]:
    try:
        server = start()
    except ServerMissingError as exc:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(str(exc))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def moto() -> Iterator[Server]:
    yield from _server(start_moto)


@pytest.fixture(scope="session")
def azurite() -> Iterator[Server]:
    yield from _server(start_azurite)


def _bucket() -> str:
    return f"t-{uuid.uuid4().hex[:12]}"


def root_on(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Root]:
    """A fresh root of `kind` (memory, file, s3, azure); cloud ones are removed afterwards."""
    if kind == "memory":
        yield Root(memory_root(), {}, kind)
    elif kind == "file":
        yield Root(f"file://{tmp_path}/memo", {}, kind)
    elif kind == "s3":
        import s3fs

        server: Server = request.getfixturevalue("moto")
        fs = s3fs.S3FileSystem(skip_instance_cache=True, **server.options)
        bucket = _bucket()
        fs.mkdir(bucket)
        yield Root(f"s3://{bucket}/memo", dict(server.options), kind)
        fs.rm(bucket, recursive=True)
    elif kind == "azure":
        import adlfs

        server = request.getfixturevalue("azurite")
        fs = adlfs.AzureBlobFileSystem(skip_instance_cache=True, **server.options)
        container = _bucket()
        fs.mkdir(container)
        yield Root(f"az://{container}/memo", dict(server.options), kind)
        fs.rm(container, recursive=True)
    else:  # pragma: no cover - a typo in a parametrization
        raise ValueError(f"unknown root kind {kind!r}")

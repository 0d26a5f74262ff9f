"""Roots for the lease, shim, remote and fan-out tests, on the shared server fixtures.

Each root is a `Root` built from `tests/conftest.py`'s ``<kind>_root`` fixtures, so these
tests share the session's moto and Azurite servers (and their skip-locally, fail-in-CI
rule) instead of starting their own.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

__all__ = ["Root", "root_on"]


@dataclass(frozen=True)
class Root:
    """A storage root for one test: its URL and the fsspec options to open it with."""

    url: str
    options: dict[str, Any] = field(default_factory=dict)
    kind: str = "file"


def root_on(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Root]:
    """A fresh root of `kind` (memory, file, s3, gcs, azure); cloud ones are removed after.

    `tmp_path` is kept in the signature for callers; the file root comes from conftest's
    ``file_root``, which uses the same per-test temporary directory.
    """
    url, options = request.getfixturevalue(f"{kind}_root")
    yield Root(url, dict(options), kind)

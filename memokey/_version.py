"""The installed memokey version, at the bottom of the import graph (`meta` needs it)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _version

try:
    __version__ = _version("memokey")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

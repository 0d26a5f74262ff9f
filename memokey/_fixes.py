"""The commands error messages tell users to run, spelled so that pasting them works."""

from __future__ import annotations

import shlex

__all__ = ["ENTRY_FILES", "entry_uri", "rm_command"]

#: The files an entry directory holds (see the storage layout in the README).
ENTRY_FILES = ("result", "meta.json", "lease", "invocation", "error")


def entry_uri(uri: str) -> str:
    """The entry URI `memokey ls` prints for `uri` (an entry or one of its files)."""
    head, _, tail = uri.rstrip("/").rpartition("/")
    return head if tail in ENTRY_FILES else uri.rstrip("/")


def rm_command(uri: str) -> str:
    """``memokey rm 'URI'``: the shell command that deletes the entry `uri` names."""
    return f"memokey rm {shlex.quote(entry_uri(uri))}"

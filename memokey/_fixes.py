"""The commands error messages tell users to run, spelled so that pasting them works."""

from __future__ import annotations

import shlex

__all__ = ["ENTRY_FILES", "entry_uri", "rm_command"]

_SIBLINGS = (".lease", ".invocation", ".error", ".used")  # memokey.layout's, spelled as suffixes
#: What may sit inside a directory named like an entry: nothing (an entry is one object).
ENTRY_FILES: tuple[str, ...] = ()


def entry_uri(uri: str) -> str:
    """The entry URI `memokey ls` prints for `uri` (an entry or one of its siblings)."""
    uri = uri.rstrip("/")
    for suffix in _SIBLINGS:
        if uri.endswith(suffix):
            return uri[: -len(suffix)]
    return uri


def rm_command(uri: str) -> str:
    """``memokey rm 'URI'``: the shell command that deletes the entry `uri` names."""
    return f"memokey rm {shlex.quote(entry_uri(uri))}"

"""The metadata trailer: what a human or a tool wants to know about a stored result.

It travels at the end of the entry object (`memokey.entry_format`), written with the
result in the same request, and is never read to serve a hit, so it can change shape
between releases (`format` says which) and an odd one harms nothing. Argument
values appear only as short, truncated reprs of the *keyed* arguments (after a keyfunc,
so a `nil_args` connection shows as None): enough to recognise a call, never to
reconstruct or compare one.
"""

from __future__ import annotations

import functools
import getpass
import inspect
import os
import platform
import reprlib
import socket
import sys
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

__all__ = [
    "META_FORMAT",
    "argument_summary",
    "build_meta",
]

META_FORMAT = 2
_REPR_LIMIT = 80

_repr = reprlib.Repr()
_repr.maxstring = _REPR_LIMIT
_repr.maxother = _REPR_LIMIT
_repr.maxlist = _repr.maxtuple = _repr.maxset = _repr.maxfrozenset = _repr.maxdict = 6
_repr.maxlevel = 3


def short_repr(value: object, limit: int = _REPR_LIMIT) -> str:
    """A repr of at most `limit` characters that never raises."""
    try:
        text = _repr.repr(value)
    except Exception as exc:  # a broken __repr__ must not fail the call it describes
        text = f"<{type(value).__qualname__} (repr failed: {type(exc).__name__})>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


_PLAIN_REPR = frozenset({int, float, str, bool, type(None)})
_SHORT = 40  # no longer than this, `short_repr` of those types is their plain repr


def atom_repr(value: object) -> str | None:
    """`short_repr(value)` of an int, float, str, bool or None whose repr is short
    (reprlib would leave it as it is), without reprlib; None otherwise."""
    if type(value) not in _PLAIN_REPR:
        return None
    text = repr(value)
    return text if len(text) <= _SHORT else None


def argument_summary(bound: inspect.BoundArguments) -> dict[str, str]:
    """Parameter name -> short repr, for every bound argument (defaults included)."""
    return {name: atom_repr(value) or short_repr(value) for name, value in bound.arguments.items()}


def _user() -> str | None:
    try:
        return getpass.getuser()
    except Exception:  # no login name in some containers
        return None


@functools.lru_cache(maxsize=1)
def _process_facts() -> dict[str, Any]:
    """Facts that do not change while the process lives, looked up once: `getuser` reads
    /etc/passwd and `gethostname` is a syscall, on every miss otherwise."""
    from memokey._version import __version__

    return {
        "host": socket.gethostname(),
        "user": _user(),
        "python": platform.python_version(),
        "platform": sys.platform,
        "memokey_version": __version__,
    }


#: This process's id (a syscall each time `os.getpid` is asked), renewed in a fork child.
_pid = [os.getpid()]
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=lambda: _pid.__setitem__(0, os.getpid()))


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).isoformat()


def build_meta(
    *,
    uri: str,
    function_id: str,
    logic_key: str | None,
    namespace: str,
    digest: str,
    runner: str,
    arguments: Mapping[str, str],
    manifest: Mapping[str, Any] | None,
    started: float,
    duration: float,
    code: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The trailer's content: identity, timing, where it ran, argument summary, key
    manifest (the encoder adds serializer, payload size and result type)."""
    facts = _process_facts()
    return {
        "format": META_FORMAT,
        "uri": uri,
        "function_id": function_id,
        "logic_key": logic_key,
        "namespace": namespace,
        "digest": digest,
        "runner": runner,
        "arguments": dict(arguments),
        "manifest": dict(manifest or {}),
        "code": dict(code or {}),  # fingerprint and its parts (`memokey.code_policy`)
        "started": _iso(started),
        "duration_seconds": round(duration, 6),
        "host": facts["host"],
        "pid": _pid[0],  # kept per process: a forked child learns its own
        "user": facts["user"],
        "python": facts["python"],
        "platform": facts["platform"],
        "memokey_version": facts["memokey_version"],
    }

"""The ``code=`` option: how a function's code fingerprint takes part in its key.

- ``"key"``: the fingerprint is part of the function's storage directory
  (``{function_id}[@{logic_key}]={fingerprint}``): an edit re-keys, old entries stay, and
  reverting the edit hits again.
- ``"warn"``: the directory is keyed by the logic key only; the fingerprint and a manifest
  of its parts travel in the result header, and a hit made by different code logs ONE
  warning per (function, pair of fingerprints) naming what changed (no extra request).
- ``"off"``: no fingerprint.

Default: ``"key"`` without a logic key, ``"warn"`` with one (the user owns invalidation).
Functions without a stable importable name (lambdas, nested functions, ``exec``'d code,
functions of a file-less ``__main__``: REPL, ``python -c``, stdin, notebooks) always get
``"key"``: their name alone does not say which code they are.
"""

from __future__ import annotations

import logging
import threading
import types
from collections.abc import Callable, Mapping
from typing import Any, Literal

from memokey.errors import ConfigurationError
from memokey.hashing.objects import code_value_digest
from memokey.identity import (
    CodeIdentity,
    Fingerprint,
    code_identity,
    describe_changes,
    has_stable_name,
)
from memokey.results import read_header

__all__ = [
    "CODE_MODES",
    "CodeMode",
    "check_code_mode",
    "code_extra",
    "code_fingerprint",
    "effective_mode",
    "identity_of",
    "warn_if_changed",
]

logger = logging.getLogger("memokey")

CodeMode = Literal["key", "warn", "off"]
CODE_MODES: tuple[str, ...] = ("key", "warn", "off")
#: Header fields: the fingerprint, its manifest, and whether it was read from source.
CODE_FIELD = "code"
PARTS_FIELD = "code_parts"
SOURCE_FIELD = "code_from_source"


def check_code_mode(code: object) -> CodeMode | None:
    """`code` if it is a valid ``code=`` value (None: the default), else an error."""
    if code is None or code in CODE_MODES:
        return code  # type: ignore[return-value]
    raise ConfigurationError(
        f"code={code!r} is not a code mode; use 'key' (re-key when the code changes), "
        "'warn' (keep the key, warn when the code changed) or 'off'"
    )


def fingerprintable(func: Callable[..., Any]) -> types.FunctionType | None:
    """The Python function whose code a fingerprint can read (a bound method's function)."""
    target = getattr(func, "__func__", func)
    return target if isinstance(target, types.FunctionType) else None


def effective_mode(
    func: Callable[..., Any], requested: CodeMode | None, logic_key: str | None
) -> CodeMode:
    """The mode that applies to `func` (see the module docstring)."""
    target = fingerprintable(func)
    if target is None:
        return "off"  # a builtin or callable object: no code to read
    if not has_stable_name(target):
        return "key"
    if requested is not None:
        return requested
    return "warn" if logic_key else "key"


def identity_of(func: Callable[..., Any]) -> CodeIdentity | None:
    target = fingerprintable(func)
    return None if target is None else code_identity(target, code_value_digest)


def code_fingerprint(func: Callable[..., Any]) -> Fingerprint:
    """The current code fingerprint of `func` (a memoized function: of what it wraps):
    ``.digest``, ``.parts`` (what it was made of) and ``.from_source``."""
    while getattr(func, "__memokey_runner__", None) is not None:
        func = func.__wrapped__  # type: ignore[attr-defined]
    identity = identity_of(func)
    if identity is None:
        raise ConfigurationError(
            f"{func!r} is not a Python function, so it has no code fingerprint; its key "
            "uses its name only"
        )
    return identity.fingerprint


def code_extra(identity: CodeIdentity) -> dict[str, Any]:
    """What a result header records about the code that computed it."""
    fingerprint = identity.fingerprint
    return {
        CODE_FIELD: fingerprint.digest,
        PARTS_FIELD: dict(fingerprint.parts),
        SOURCE_FIELD: fingerprint.from_source,
    }


_SCAN = 1024
_warned: set[tuple[str, str, str]] = set()
_warned_lock = threading.Lock()


def warn_if_changed(
    data: bytes, uri: str, function_id: str, identity: CodeIdentity, logic_key: str | None
) -> None:
    """On a ``code="warn"`` hit: log once if the stored result was made by other code."""
    current = identity.fingerprint.digest
    # The usual case, without parsing the header: "code" is the first key of the header's
    # sorted JSON extra, which starts within the first ~270 bytes.
    if data.find(b'{"code":"' + current.encode() + b'"', 0, _SCAN) != -1:
        return
    extra: Mapping[str, Any] = read_header(data, uri).extra
    stored = extra.get(CODE_FIELD)
    if not isinstance(stored, str) or stored == current:
        return
    token = (function_id, stored, current)
    with _warned_lock:
        if token in _warned:
            return
        _warned.add(token)
    old_parts = extra.get(PARTS_FIELD)
    changes = describe_changes(
        old_parts if isinstance(old_parts, dict) else {}, identity.fingerprint.parts
    )
    bump = f"bump its logic key (now {logic_key!r})" if logic_key else "give it a logic key"
    logger.warning(
        "%s: this result was computed by different code (%s); it is served because "
        "code='warn' keys by the logic key only. To re-key, %s, or use code='key'. (%s)",
        function_id,
        "; ".join(changes),
        bump,
        uri,
    )

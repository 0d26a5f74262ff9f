"""The names memokey writes into storage paths: namespaces and logic keys.

A namespace is a whole path segment and a logic key the tail of one
(``{module}--{qualname}@{logic_key}``), on every backend. Characters that mean something to
a URL (``?versionId=`` is an S3/Azure query, ``#`` a fragment), a NUL byte, ``..``, a
trailing dot (Windows drops it) or, for a namespace, a Windows device name (``NUL``,
``CON``) would corrupt reads, loop on some servers or point outside the entry. So both
are checked once, when a function is decorated or a runner created, against one small
alphabet that is safe everywhere: letters, digits and ``. _ + -``.

A function id (``{module}--{qualname}``) is not the user's choice in the same way: the
module part of a script is its file name, and ``run[1].py`` or ``100%.py`` must still be
memoizable. So function ids are not refused but encoded, here and only here
(`function_segment`), into one path segment: ``%``, ``/``, ``@``, ``=``, ``~`` and the
characters the store refuses become ``%XX``. A local disk allows `MAX_SEGMENT_BYTES` per
segment, and the logic key and code version share the function's: an encoded id over
`MAX_FUNCTION_SEGMENT` bytes is cut and completed with ``~`` and the xxh3_128 digest of
the whole id (the only ``~`` a segment can hold, so shortened and plain ids never meet).
"""

from __future__ import annotations

import re
from typing import Any

import xxhash

from memokey.errors import ConfigurationError

__all__ = [
    "MAX_FUNCTION_SEGMENT",
    "MAX_NAME_LENGTH",
    "MAX_SEGMENT_BYTES",
    "check_function_segment",
    "check_logic_key",
    "check_namespace",
    "function_segment",
    "safe_example",
]

MAX_NAME_LENGTH = 100
#: The longest directory name local file systems take (ext4, APFS, NTFS: 255).
MAX_SEGMENT_BYTES = 255
_ALLOWED = re.compile(r"[A-Za-z0-9._+-]+")
_UNSAFE_RUN = re.compile(r"[^A-Za-z0-9._+-]+")

# `%` (the escape itself), `/` (a segment separator), `@` and `=` (the logic key's and
# the code version's separators), `~` (marks a shortened id), and what the store refuses:
# control characters, URL query and fragment, glob, backslash. Lone surrogates (a file
# name that is not UTF-8) become ``%uDCxx``: no path can hold them.
_ENCODED = re.compile(r"[\x00-\x1f\x7f%/@=~?#*\[\]\\\ud800-\udfff]")
_CODE_VERSION = 1 + 32  # "=" and an xxh3_128 hex digest
MAX_FUNCTION_SEGMENT = MAX_SEGMENT_BYTES - (1 + MAX_NAME_LENGTH) - _CODE_VERSION
"""Bytes an encoded function id may take, so that with ``@{logic_key}`` and
``={code_version}`` its directory name stays within `MAX_SEGMENT_BYTES`."""
_KEPT = 80  # bytes of a long id kept before its digest


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"%{code:02X}" if code < 0x100 else f"%u{code:04X}"


def function_segment(function_id: str) -> str:
    """`function_id` as one storage path segment: ``run[1]--job`` -> ``run%5B1%5D--job``.

    Injective (``%`` is encoded too), and the identity for ids made of ordinary
    characters and of ordinary length, so their paths are unchanged."""
    encoded = _ENCODED.sub(_escape, function_id)
    raw = encoded.encode()
    if len(raw) <= MAX_FUNCTION_SEGMENT:
        return encoded
    kept = raw[:_KEPT].decode(errors="ignore")  # never half a character
    return f"{kept}~{xxhash.xxh3_128_hexdigest(function_id.encode('utf-8', 'surrogatepass'))}"


def safe_example(value: object, fallback: str) -> str:
    """A usable name close to `value` (unsafe runs become ``-``), for error messages."""
    if not isinstance(value, str):
        return fallback
    cleaned = _UNSAFE_RUN.sub("-", value).replace("..", ".").strip(".-")[:MAX_NAME_LENGTH]
    return cleaned or fallback


def _problem(value: object) -> str | None:
    """What is wrong with `value` as a storage name, or None when it is fine."""
    if not isinstance(value, str):
        return f"it is a {type(value).__name__}, not a string"
    if not value:
        return "it is empty"
    if len(value) > MAX_NAME_LENGTH:
        return f"it has {len(value)} characters, more than {MAX_NAME_LENGTH}"
    bad = sorted(set("".join(_UNSAFE_RUN.findall(value))))
    if bad:
        shown = ", ".join(repr(c) for c in bad[:8])
        return f"it contains {shown}; only letters, digits and . _ + - are allowed"
    if ".." in value:
        return "it contains '..'"
    if value.startswith(".") or value.endswith("."):
        return "it starts or ends with '.'"
    return None


#: Names Windows gives to devices, whatever follows a dot (``NUL.txt`` is NUL too): as a
#: whole path segment on a Windows local root, writes would go to the device.
_WINDOWS_DEVICES = re.compile(r"(CON|PRN|AUX|NUL|COM[0-9]|LPT[0-9])(\..*)?", re.IGNORECASE)


def check_namespace(namespace: Any) -> str:
    """`namespace` if it is a safe storage name, else a `ConfigurationError` saying why."""
    problem = _problem(namespace)
    if problem is None and _WINDOWS_DEVICES.fullmatch(namespace):
        raise ConfigurationError(
            f"namespace {namespace!r} cannot be used in a storage path: Windows has it "
            f"reserved for a device. Use another name, e.g. namespace={namespace + '-data'!r}"
        )
    if problem is not None:
        raise ConfigurationError(
            f"namespace {namespace!r} cannot be used in a storage path: {problem}. Use 1-"
            f"{MAX_NAME_LENGTH} letters, digits and . _ + - (no '..'), e.g. "
            f"namespace={safe_example(namespace, 'experiment-3')!r}"
        )
    return str(namespace)


def check_logic_key(logic_key: Any, owner: object = None) -> str:
    """`logic_key` if it is a safe storage name, else a `ConfigurationError` saying why.

    `owner` (the function, if known) is named in the message; a docstring
    ``function-logic-key:`` line goes through here too.
    """
    problem = _problem(logic_key)
    if problem is not None:
        whose = "" if owner is None else f" of {getattr(owner, '__qualname__', owner)!r}"
        raise ConfigurationError(
            f"logic key {logic_key!r}{whose} cannot be used in a storage path: {problem}. "
            f"Use 1-{MAX_NAME_LENGTH} letters, digits and . _ + - (no '..'), e.g. "
            f"logic_key={safe_example(logic_key, 'v2')!r} or a docstring line "
            f"'function-logic-key: {safe_example(logic_key, 'v2')}'"
        )
    return str(logic_key)


def check_function_segment(owner: object, function_id: str, logic_key: str | None) -> None:
    """Refuse a function whose directory name ``{function_id}[@{logic_key}]`` (as
    `function_segment` stores it) is longer than file systems allow (UTF-8 bytes): on a
    local root every call would fail. `function_segment` keeps ids short enough, so this
    guards the invariant should the limits ever change."""
    stored = function_segment(function_id)
    segment = stored if logic_key is None else f"{stored}@{logic_key}"
    size = len(segment.encode("utf-8", "surrogatepass")) + _CODE_VERSION
    if size > MAX_SEGMENT_BYTES:
        name = getattr(owner, "__qualname__", owner)
        raise ConfigurationError(
            f"{name!r} cannot be memoized: its storage directory name {segment[:40]!r}... is "
            f"{size} bytes of UTF-8, more than the {MAX_SEGMENT_BYTES} that file systems "
            "allow. Give the function (or its module) a shorter name, or memoize a "
            "module-level function that calls it"
        )

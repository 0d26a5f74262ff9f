"""The key manifest: what the key saw of each argument, kept in the entry's trailer so
"why did this miss?" can be answered (`memokey.explain`).

Per bound argument: its type, which hasher keyed it (``register_hasher``, the class's
``__memokey__`` hook, or memokey's own rules), its digest and a short repr; one level
into dicts, lists, tuples and DataFrames (per key / index / column: digest, repr or
dtype). Built on the miss path only (the trailer is never read to serve a hit); it
hashes the arguments a second time, which a miss can afford and a hit never pays.
"""

from __future__ import annotations

import inspect
from typing import Any

from memokey.hashing import digest
from memokey.hashing.hook import hook_handler
from memokey.hashing.registry import registered_handler
from memokey.keys import atom_digest
from memokey.meta import atom_repr, short_repr

__all__ = ["MAX_CHILDREN", "argument_manifest", "key_manifest"]

MAX_CHILDREN = 64  # keys, items or columns described per argument
_REPR = 60


def _type_name(value: object) -> str:
    cls = type(value)
    return f"{cls.__module__}.{cls.__qualname__}"


def _hasher(value: object) -> str:
    cls = type(value)
    if registered_handler(cls) is not None:
        return "register_hasher"
    if hook_handler(cls) is not None:
        return "__memokey__"
    return "memokey"


def _digest(value: object) -> str | None:
    try:
        return digest(value)
    except Exception:  # keyed once already; a value that cannot be keyed alone is skipped
        return None


def _leaf(value: object) -> dict[str, Any]:
    return {"type": _type_name(value), "digest": _digest(value), "repr": short_repr(value, _REPR)}


def _children(value: object) -> dict[str, dict[str, Any]] | None:
    """One level in: dict keys, sequence indices, DataFrame columns (labels as reprs)."""
    if isinstance(value, dict):
        items = list(value.items())[:MAX_CHILDREN]
        return {repr(k): _leaf(v) for k, v in items}
    if isinstance(value, (list, tuple)):
        return {str(i): _leaf(v) for i, v in enumerate(value[:MAX_CHILDREN])}
    columns = getattr(value, "columns", None)
    dtypes = getattr(value, "dtypes", None)
    if columns is not None and dtypes is not None and type(value).__name__ == "DataFrame":
        found: dict[str, dict[str, Any]] = {}
        for position, label in enumerate(list(columns)[:MAX_CHILDREN]):
            column = value.iloc[:, position]  # type: ignore[attr-defined]
            found[repr(label)] = {
                "type": "column",
                "dtype": str(column.dtype),
                "digest": _digest(column),
            }
        return found
    return None


def argument_manifest(value: object) -> dict[str, Any]:
    """What the key saw of one argument."""
    atom = _atom_manifest(value)
    if atom is not None:
        return atom
    item = {**_leaf(value), "hasher": _hasher(value)}
    children = _children(value)
    if children is not None:
        item["children"] = children
        item["length"] = len(value)  # type: ignore[arg-type]
    return item


_ATOM_TYPES: dict[type, str] = {
    kind: f"{kind.__module__}.{kind.__qualname__}" for kind in (int, float, str, bool, type(None))
}


def _atom_manifest(value: object) -> dict[str, Any] | None:
    """`argument_manifest` of a small int, float, str, bool or None, without the
    encoder or reprlib (equal to what they give: builtins keep memokey's own hasher)."""
    name = _ATOM_TYPES.get(type(value))
    if name is None:
        return None
    text = atom_repr(value)
    found = None if text is None else atom_digest(value)
    if found is None:
        return None
    return {"type": name, "digest": found, "repr": text, "hasher": "memokey"}


def key_manifest(bound: inspect.BoundArguments) -> dict[str, dict[str, Any]]:
    """Parameter name -> `argument_manifest`, for every bound (keyed) argument."""
    return {name: argument_manifest(value) for name, value in bound.arguments.items()}

""" "Why did this miss?": compare a call (or an entry) with the nearest stored entries of
the same function, naming exactly what differs.

Both sides are key manifests (`memokey.manifest`): the call's is built now, a stored
entry's is read from its trailer (one ranged read each). The nearest entry is the one
with the fewest differing arguments, code version and logic key. Differences read like
``cfg['lr']: 0.1 → 0.1000001``, ``df['x']: int64 → Int64``, ``code: helper clean_text
changed``, ``logic key: v1 → v2``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol, TypeVar

from memokey.code_policy import CODE_FIELD, PARTS_FIELD
from memokey.identity.fingerprint import describe_changes

__all__ = ["Described", "differences", "nearest", "report"]


class Stored(Protocol):
    """A stored entry as compared here (`memokey.lifecycle.StoredEntry`)."""

    @property
    def uri(self) -> str: ...

    @property
    def meta(self) -> Mapping[str, Any]: ...


E = TypeVar("E", bound=Stored)

Described = Mapping[str, Any]  # a trailer: "manifest", "code", "logic_key", ...
_SHOWN = 3  # nearest entries named in a report


def _child_diffs(label: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    found = []
    for key in new:
        if key not in old:
            found.append(f"{label}[{key}]: added")
            continue
        a, b = old[key], new[key]
        if a.get("digest") == b.get("digest") and a.get("dtype") == b.get("dtype"):
            continue
        if a.get("dtype") != b.get("dtype"):
            found.append(f"{label}[{key}]: {a.get('dtype')} → {b.get('dtype')}")
        elif a.get("type") != b.get("type"):
            found.append(f"{label}[{key}]: {_short_type(a)} → {_short_type(b)}")
        elif "repr" in a and a.get("repr") != b.get("repr"):
            found.append(f"{label}[{key}]: {a['repr']} → {b['repr']}")
        else:
            found.append(f"{label}[{key}]: values differ")
    found += [f"{label}[{key}]: removed" for key in old if key not in new]
    return found


def _short_type(item: Mapping[str, Any]) -> str:
    return str(item.get("type", "?")).removeprefix("builtins.")


def _argument_diffs(name: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    if old.get("digest") is not None and old.get("digest") == new.get("digest"):
        return []
    if old.get("type") != new.get("type"):
        return [f"{name}: {_short_type(old)} → {_short_type(new)}"]
    if "children" in old and "children" in new:
        inner = _child_diffs(name, old["children"], new["children"])
        if inner:
            return inner
        if old.get("length") != new.get("length"):
            return [f"{name}: length {old.get('length')} → {new.get('length')}"]
    if old.get("repr") != new.get("repr"):
        return [f"{name}: {old.get('repr')} → {new.get('repr')}"]
    return [f"{name}: values differ (equal reprs; see memokey.digest)"]


def differences(old: Described, new: Described) -> list[str]:
    """What differs from `old` to `new` (trailers, or a call described like one)."""
    found: list[str] = []
    if old.get("logic_key") != new.get("logic_key"):
        found.append(f"logic key: {old.get('logic_key')} → {new.get('logic_key')}")
    old_code, new_code = old.get("code") or {}, new.get("code") or {}
    if old_code.get(CODE_FIELD) != new_code.get(CODE_FIELD) and (old_code or new_code):
        changes = describe_changes(old_code.get(PARTS_FIELD) or {}, new_code.get(PARTS_FIELD) or {})
        found += [f"code: {change}" for change in changes]
    old_args, new_args = old.get("manifest") or {}, new.get("manifest") or {}
    for name in new_args:
        if name not in old_args:
            found.append(f"{name}: added")
        else:
            found += _argument_diffs(name, old_args[name], new_args[name])
    found += [f"{name}: removed" for name in old_args if name not in new_args]
    return found


def nearest(
    described: Described, candidates: Iterable[E], *, skip: str | None = None
) -> list[tuple[E, list[str]]]:
    """The stored entries closest to `described`, with their differences, nearest first."""
    scored = [
        (entry, differences(entry.meta, described))
        for entry in candidates
        if entry.meta and entry.uri != skip
    ]
    scored.sort(key=lambda item: len(item[1]))
    return scored[:_SHOWN]


def report(
    title: str,
    described: Described,
    candidates: Iterable[E],
    *,
    skip: str | None = None,
    name: Callable[[E], str] = lambda e: e.uri,
) -> str:
    """A report: `title`, then the nearest entries and what differs from each."""
    closest = nearest(described, candidates, skip=skip)
    lines = [title]
    if not closest:
        lines.append("no other stored entry of this function to compare with")
    for entry, diffs in closest:
        count = f"{len(diffs)} difference{'s' if len(diffs) != 1 else ''}"
        lines.append(f"nearest: {name(entry)} ({count})")
        lines += [f"  {line}" for line in diffs or ["no difference in the key manifest"]]
    return "\n".join(lines)

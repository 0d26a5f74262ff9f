"""Expiry (``memoize(..., ttl=...)``): an entry older than its function's ttl is a miss.

Every entry carries its creation time in its header (``"created"``, POSIX seconds, in the
header's JSON facts, covered by the entry's checksum), so checking a hit's age needs no
request beyond the one read that serves it, and no clock of the store. An entry without
a creation time (published before memokey recorded one) counts as expired: its age is
unknown, and recomputing costs time where serving a stale value could be a bug. An
expired entry is recomputed and replaced by one atomic overwrite (`memokey.lifecycle`).
"""

from __future__ import annotations

import math
import struct
import time
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from memokey.errors import ConfigurationError

__all__ = [
    "CREATED_FIELD",
    "DURATION_FIELD",
    "check_ttl",
    "created_at",
    "expired",
    "header_number",
    "stamped",
]

CREATED_FIELD = "created"
DURATION_FIELD = "duration"  # compute seconds, for `memokey.stats` (seconds saved)
_FIXED = 6  # magic 4, version 1, name length 1 (`memokey.entry_format`)
_EXTRA_LEN = struct.Struct(">I")


def check_ttl(ttl: object) -> float | None:
    """`ttl` in seconds (None: never expires); `ConfigurationError` saying what to write."""
    if ttl is None:
        return None
    seconds: Any = ttl.total_seconds() if isinstance(ttl, timedelta) else ttl
    if (
        isinstance(seconds, bool)
        or not isinstance(seconds, (int, float))
        or not math.isfinite(seconds)
        or seconds <= 0
    ):
        raise ConfigurationError(
            f"ttl={ttl!r} is not a positive number of seconds; write e.g. ttl=3600 or "
            "ttl=datetime.timedelta(days=1), or leave it out for entries that never expire"
        )
    return float(seconds)


def stamped(extra: Mapping[str, Any] | None, duration: float | None = None) -> dict[str, Any]:
    """The header facts a publish writes: `extra` plus the creation time (now) and how
    long the result took to compute."""
    facts = {**(extra or {}), CREATED_FIELD: round(time.time(), 3)}
    if duration is not None:
        facts[DURATION_FIELD] = round(duration, 6)
    return facts


def created_at(data: Any) -> float | None:
    """The creation time in an entry's header, None when it has none (or the header is
    malformed: decoding then reports what is wrong)."""
    return header_number(data, CREATED_FIELD)


def header_number(data: Any, name: str) -> float | None:
    """A number among an entry header's facts (None: absent or malformed). The header's
    JSON is searched for the key, not parsed (a hit calls this: code manifests can be
    long); a key can only match outside strings, where quotes are not escaped."""
    try:
        at = _FIXED + data[5]
        (length,) = _EXTRA_LEN.unpack_from(data, at)
        start = at + _EXTRA_LEN.size
        key = b'"' + name.encode() + b'":'
        found = data.find(key, start, start + length) if length else -1
        if found < 0 or data[found - 1] not in b"{,":
            return None
        value_at = found + len(key)
        end = value_at
        while end < start + length and data[end] not in b",}":
            end += 1
        number = float(data[value_at:end])  # JSON numbers are valid Python floats
    except (IndexError, struct.error, ValueError, TypeError, AttributeError):
        return None
    return number if math.isfinite(number) else None


def expired(data: Any, ttl: float, now: float | None = None) -> bool:
    """Whether the entry `data` is older than `ttl` seconds (or of unknown age)."""
    created = created_at(data)
    if created is None:
        return True
    return (time.time() if now is None else now) - created >= ttl

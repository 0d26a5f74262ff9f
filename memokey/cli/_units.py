"""Durations and sizes as people type them: ``45s 90m 12h 30d 2w``, ``500M 10G``."""

from __future__ import annotations

import argparse
import re

__all__ = ["count", "duration", "name_part", "size"]

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?")
_BYTES = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def duration(text: str) -> float:
    """Seconds in ``45s``, ``90m``, ``12h``, ``30d`` or ``2w`` (argparse type)."""
    found = _DURATION.fullmatch(text.strip().lower())
    if found is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a duration; write a number and a unit: 45s, 90m, 12h, 30d, 2w"
        )
    return float(found[1]) * _SECONDS[found[2]]


def size(text: str) -> int:
    """Bytes in ``500M``, ``10G``, ``1.5T``, ``800K`` or ``1000`` (binary units)."""
    found = _SIZE.fullmatch(text.strip().lower())
    if found is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a size; write a number and a unit: 800K, 500M, 10G, 1T (1024-based)"
        )
    return int(float(found[1]) * _BYTES[found[2]])


def count(text: str) -> int:
    """A whole number of 0 or more (argparse type)."""
    if not text.strip().isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a count; write 0 or more, e.g. 3")
    return int(text)


def name_part(text: str) -> str:
    """One namespace or function name, as ``--namespace``/``--function`` take it (argparse
    type): a path such as ``NS/FUNCTION`` would match nothing and report "0 entries" as if
    there were none, so it is refused with what to type instead."""
    if not text or "/" in text:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not one name; give the namespace with --namespace and the "
            "function (an id or directory from `memokey ls`) with --function"
        )
    return text

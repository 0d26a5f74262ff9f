"""Text from the store, made safe to print on a terminal.

Names in a bucket are written by whoever can write to it. Printed raw, a name holding
``ESC [ ... `` sequences could recolour, hide or rewrite what `memokey ls` shows (or set
the window title, or worse on some terminals). So control characters (C0, DEL, C1) and
the Unicode bidirectional overrides are shown as ``\\xNN`` / ``\\uNNNN`` escapes.
"""

from __future__ import annotations

import re

__all__ = ["printable"]

_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """`text` with every control or direction-changing character escaped."""
    return _UNSAFE.sub(_escape, text)

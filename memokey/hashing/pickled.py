"""The fast path for large plain containers: CPython's C pickler, hashing as it writes.

A list of a million small dicts costs millions of Python calls in a hand-written walker;
the C pickler walks it at C speed. Its output is canonical only under conditions we check
first, all properties of the value (never of identity or of the call stack):

* ``Pickler.fast`` disables the memo, so shared and copied sub-objects write the same bytes;
* no ``set``/``frozenset`` is reachable through plain list/tuple/dict (the pickler would
  write them in hash order, which changes with PYTHONHASHSEED);
* the plain containers nest at most `MAX_DEPTH` deep (also rules out cycles among them).

Everything the C pickler does not handle natively (objects, arrays, subclasses, sets
inside objects) reaches `reducer_override`, which writes that value's own canonical digest.
The reachability check uses `gc.get_referents`, a C-level walk, one call per nesting level.
"""

from __future__ import annotations

import gc
import pickle
from collections.abc import Callable
from typing import Any

from memokey.hashing.core import Encoder, Refusal, encode_items, encode_mapping_items

#: Containers shorter than this are walked directly: setting up a pickler costs more.
MIN_ITEMS = 16
#: Deeper plain nesting is walked directly, one level at a time.
MAX_DEPTH = 32

_CONTAINERS = frozenset({list, tuple, dict})
_NATIVE = frozenset({type(None), bool, int, float, str, bytes, bytearray}) | _CONTAINERS
_ORDER_FREE = frozenset({set, frozenset})


def pickle_eligible(obj: list[Any] | tuple[Any, ...] | dict[Any, Any]) -> bool:
    """True when the C pickler writes `obj` canonically (see the module docstring)."""
    if len(obj) < MIN_ITEMS:
        return False
    level: list[Any] = list(obj) if type(obj) is not dict else gc.get_referents(obj)
    for _ in range(MAX_DEPTH):
        kinds = set(map(type, level))
        if not kinds.isdisjoint(_ORDER_FREE):
            return False
        if not kinds <= _NATIVE:
            # Objects are leaves here: the pickler hands them to reducer_override.
            level = [item for item in level if type(item) in _CONTAINERS]
        elif kinds.isdisjoint(_CONTAINERS):
            return True
        if not level:
            return True
        # Atoms are not GC objects, so get_referents skips them at C speed.
        level = gc.get_referents(*level)
    return False


class _Sink:
    __slots__ = ("write",)

    def __init__(self, write: Callable[[Any], object]) -> None:
        self.write = write


class _HashingPickler(pickle.Pickler):
    """Writes straight into the encoder's hasher; never builds the pickle in memory."""

    def __init__(self, enc: Encoder) -> None:
        super().__init__(_Sink(enc.write), protocol=5)
        self.fast = True
        self._enc = enc

    def reducer_override(self, obj: Any) -> Any:
        if obj is bytes:  # the marker callable below, written as a plain global
            return NotImplemented
        # A value the pickler does not know natively: its canonical digest, as a marker
        # no native value can produce (plain bytes never go through REDUCE).
        return (bytes, (self._enc.sub_digest(obj),))


def encode_pickled(enc: Encoder, obj: list[Any] | tuple[Any, ...] | dict[Any, Any]) -> None:
    enc.write(b"P")
    try:
        _HashingPickler(enc).dump(obj)
    except Refusal:
        # The pickler cannot say where the culprit sits: walk again to name the path.
        probe = Encoder(enc.ancestors, structural_only=True)
        if type(obj) is dict:
            encode_mapping_items(probe, b"d", obj.items(), len(obj))
        else:
            encode_items(probe, b"l", obj)  # type: ignore[arg-type]
        raise

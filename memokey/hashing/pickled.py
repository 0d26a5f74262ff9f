"""The fast path for large plain containers: CPython's C pickler, hashing as it writes.

A list of a million small dicts costs millions of Python calls in a hand-written walker;
the C pickler walks it at C speed. Its output is canonical under conditions that are
properties of the value (never of identity, of GC history or of the call stack):

* ``Pickler.fast`` disables the memo, so shared and copied sub-objects write the same bytes;
* no ``set``/``frozenset`` is reachable through plain list/tuple/dict (the pickler would
  write them in hash order, which changes with PYTHONHASHSEED): `pickle_eligible`;
* the plain containers are acyclic: the fast pickler raises on a cycle, and the container
  is then encoded structurally instead (see `encode_pickled`).

Everything the C pickler does not handle natively (objects, arrays, subclasses, sets
inside objects) reaches `reducer_override`, which writes that value's canonical digest.
"""

from __future__ import annotations

import gc
import pickle
from collections.abc import Callable
from typing import Any

import xxhash

from memokey.hashing.core import Encoder, Refusal, encode_items, encode_mapping_items

#: Containers shorter than this are walked directly: setting up a pickler costs more.
MIN_ITEMS = 16
#: Levels searched breadth-first before switching to an exact walk (deep or cyclic values).
_BFS_LEVELS = 32

_CONTAINERS = frozenset({list, tuple, dict})
_NATIVE = frozenset({type(None), bool, int, float, str, bytes, bytearray}) | _CONTAINERS
_ORDER_FREE = frozenset({set, frozenset})

Plain = list[Any] | tuple[Any, ...] | dict[Any, Any]


def pickle_eligible(obj: Plain) -> bool:
    """True when no set/frozenset is reachable from `obj` through plain containers.

    Breadth-first, one C-level `gc.get_referents` call per level. Only GC-*tracked*
    containers are expanded: CPython untracks a dict or tuple whose contents are all
    untracked (atoms, untracked tuples), and a set is always tracked, so an untracked
    container cannot hold one. Which containers are tracked varies with GC history, but
    the answer does not: it is exactly "is a set reachable".
    """
    if len(obj) < MIN_ITEMS:
        return False
    level: Any = obj if type(obj) is not dict else gc.get_referents(obj)
    for _ in range(_BFS_LEVELS):
        kinds = set(map(type, level))
        if not kinds.isdisjoint(_ORDER_FREE):
            return False
        if kinds.isdisjoint(_CONTAINERS):
            return True
        tracked = list(filter(gc.is_tracked, level))
        if not kinds <= _NATIVE:  # objects are leaves: reducer_override keys them
            tracked = [item for item in tracked if type(item) in _CONTAINERS]
        if not tracked:
            return True
        level = gc.get_referents(*tracked)
    return _no_set_reachable(level)


def _no_set_reachable(start: list[Any]) -> bool:
    """The same question for deep or cyclic values: visit each container once."""
    seen: set[int] = set()
    stack = list(start)
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind in _ORDER_FREE:
            return False
        if kind in _CONTAINERS and gc.is_tracked(item) and id(item) not in seen:
            seen.add(id(item))
            stack.extend(gc.get_referents(item))
    return True


class _Sink:
    __slots__ = ("write",)

    def __init__(self, write: Callable[[Any], object]) -> None:
        self.write = write


class _HashingPickler(pickle.Pickler):
    """Writes straight into a hasher; never builds the pickle in memory."""

    def __init__(self, enc: Encoder, write: Callable[[Any], object]) -> None:
        super().__init__(_Sink(write), protocol=5)
        self.fast = True
        self._enc = enc

    def reducer_override(self, obj: Any) -> Any:
        if obj is bytes:  # the marker callable below, written as a plain global
            return NotImplemented
        # A value the pickler does not know natively: its canonical digest, as a marker
        # no native value can produce (plain bytes never go through REDUCE).
        return (bytes, (self._enc.sub_digest(obj),))


def encode_pickled(enc: Encoder, obj: Plain) -> bool:
    """Write ``P`` + the digest of `obj`'s fast pickle; False (nothing written) when
    `obj` is cyclic, which the caller then encodes structurally."""
    hasher = xxhash.xxh3_128()
    try:
        _HashingPickler(enc, hasher.update).dump(obj)
    except ValueError as exc:
        if "cyclic" not in str(exc):
            raise
        return False
    except Refusal:
        # The pickler cannot say where the culprit sits: walk again to name the path.
        probe = Encoder(enc.ancestors, structural_only=True)
        if type(obj) is dict:
            encode_mapping_items(probe, b"d", obj.items(), len(obj))
        else:
            encode_items(probe, b"l", obj)  # type: ignore[arg-type]
        raise
    enc.write(b"P" + hasher.digest())
    return True

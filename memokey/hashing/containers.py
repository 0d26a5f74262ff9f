"""Handlers for the built-in containers: list, tuple, dict (ordered) and set, frozenset
(order-free), and the dict views. Large plain containers go through the C pickler (see
`pickled`)."""

from __future__ import annotations

import collections
import gc
from typing import Any

from memokey.hashing.core import (
    Encoder,
    encode_items,
    encode_mapping_items,
    encode_unordered,
    register_builtin,
)
from memokey.hashing.pickled import encode_pickled, pickle_eligible


def _list(enc: Encoder, obj: list[Any]) -> None:
    if enc.enter(obj):
        try:
            if enc.structural_only or not pickle_eligible(obj) or not encode_pickled(enc, obj):
                encode_items(enc, b"l", obj)
        finally:
            enc.leave(obj)


def _tuple(enc: Encoder, obj: tuple[Any, ...]) -> None:
    if enc.enter(obj):
        try:
            if enc.structural_only or not pickle_eligible(obj) or not encode_pickled(enc, obj):
                encode_items(enc, b"t", obj)
        finally:
            enc.leave(obj)


def _dict(enc: Encoder, obj: dict[Any, Any]) -> None:
    if enc.enter(obj):
        try:
            if enc.structural_only or not pickle_eligible(obj) or not encode_pickled(enc, obj):
                encode_mapping_items(enc, b"d", obj.items(), len(obj))
        finally:
            enc.leave(obj)


def _set(enc: Encoder, obj: set[Any]) -> None:
    if enc.enter(obj):
        try:
            encode_unordered(enc, b"S", obj)
        finally:
            enc.leave(obj)


def _frozenset(enc: Encoder, obj: frozenset[Any]) -> None:
    if enc.enter(obj):
        try:
            encode_unordered(enc, b"Z", obj)
        finally:
            enc.leave(obj)


def _view_handler(tag: bytes) -> Any:
    """A dict view (``d.keys()``, ``.values()``, ``.items()``): its kind and the whole dict
    it views, in that dict's order. A view exposes the dict through ``view.mapping``
    (``keys_view.mapping[k]`` reads a value), so equal keys over other values differ."""

    def encode_view(enc: Encoder, view: Any) -> None:
        referents = gc.get_referents(view)  # CPython: exactly the viewed dict
        viewed = referents[0] if len(referents) == 1 else None
        if not isinstance(viewed, dict):
            viewed = dict(view.mapping)
        enc.write(tag)
        enc.encode(viewed)

    return encode_view


_VIEW_TAGS = {"keys": b"vk", "values": b"vv", "items": b"vi"}
_VIEWED: tuple[dict[Any, Any], ...] = ({}, collections.OrderedDict())
for _mapping in _VIEWED:
    for _kind, _tag in _VIEW_TAGS.items():
        register_builtin(type(getattr(_mapping, _kind)()), _view_handler(_tag))

register_builtin(list, _list)
register_builtin(tuple, _tuple)
register_builtin(dict, _dict)
register_builtin(set, _set)
register_builtin(frozenset, _frozenset)

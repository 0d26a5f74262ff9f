"""The ``__memokey__(self)`` hook: a class says what identifies its instances.

An instance of a class that defines ``__memokey__`` is keyed as its type (as
`objects.encode_class` keys classes) plus the canonical encoding of what
``obj.__memokey__()`` returns, e.g. a model's config. The hook wins over
``__reduce_ex__`` and every built-in rule except refusals of exact built-in types; a
hasher registered with `register_hasher` wins over the hook (`resolve` asks it first).
"""

from __future__ import annotations

from memokey.hashing.core import Encoder, Handler, Refusal, exception_text
from memokey.hashing.objects import encode_class

__all__ = ["HOOK", "encode_with_hook", "hook_handler"]

HOOK = "__memokey__"


def hook_handler(cls: type) -> Handler | None:
    """`encode_with_hook` when `cls` (or a base) defines ``__memokey__`` in its body.

    Looked up in the class bodies only, so a metaclass's hook keys classes, not their
    instances, and objects answering every attribute (mocks) are not mistaken for it."""
    if any(HOOK in vars(base) for base in cls.__mro__):
        return encode_with_hook
    return None


def encode_with_hook(enc: Encoder, obj: object) -> None:
    if not enc.enter(obj):
        return
    try:
        enc.write(b"J")
        encode_class(enc, type(obj))
        try:
            value = obj.__memokey__()  # type: ignore[attr-defined]
        except Refusal:
            raise
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exception_text(exc)}"
            raise Refusal(f"its __memokey__() raised {reason}; fix the hook") from exc
        if value is obj:
            raise Refusal(
                "its __memokey__() returned the object itself; return what identifies it "
                "instead (for example its config as a dict or tuple)"
            )
        try:
            enc.encode(value)
        except Refusal as refusal:
            refusal.segments.append(".__memokey__()")
            raise
    finally:
        enc.leave(obj)

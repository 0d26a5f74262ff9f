"""What an `UnkeyableArgumentError` tells the user to do.

Advice never recommends dropping an argument that can change the result without saying
so: ``nil_args`` only for arguments that cannot (a connection, a logger), and never for
``self``, the object a method runs on, which decides its result. There the hooks that
say what identifies an object are the answer (``__memokey__`` or `register_hasher`).
"""

from __future__ import annotations

__all__ = ["unkeyable_hint"]


def unkeyable_hint(parameter: str | None) -> str:
    """The advice for an unkeyable value found in `parameter` (None: a bare value)."""
    if parameter is None:
        return (
            "Key a different value, or register a hasher for its type with "
            "memokey.register_hasher, or give its class a __memokey__(self) method."
        )
    if parameter == "self":
        return (
            "The object a method runs on is part of its key. Say what identifies it: give "
            "its class a __memokey__(self) method returning that (e.g. its config), or "
            "register a hasher for its type with memokey.register_hasher."
        )
    return (
        "If it cannot change the result (a connection, a logger), leave it out of the "
        f"key with keyfunc=memokey.nil_args({parameter!r}) (KeyedLocalRunner); "
        "otherwise register a hasher for its type with memokey.register_hasher, or give "
        "its class a __memokey__(self) method."
    )

"""Turning the encoder's internal `Refusal` into the public `UnkeyableArgumentError`."""

from __future__ import annotations

from memokey.errors import UnkeyableArgumentError
from memokey.hashing.advice import unkeyable_hint
from memokey.hashing.core import MAX_NESTING, Encoder, Refusal

__all__ = ["TOO_DEEP", "argument_error", "encode_or_raise"]

TOO_DEEP = (
    f"it is nested too deeply to key (more than about {MAX_NESTING} levels, or the "
    "call stack is already deep)"
)


def encode_or_raise(enc: Encoder, value: object, *, parameter: str | None, root: str) -> None:
    """Encode `value`, turning a refusal into `UnkeyableArgumentError` with its path."""
    try:
        enc.encode(value)
    except Refusal as refusal:
        path = refusal.path(root)
        # Chained to what user or library code raised, if anything: its traceback helps.
        raise argument_error(parameter, path, refusal.reason) from refusal.__cause__
    except RecursionError:
        raise argument_error(parameter, root, TOO_DEEP) from None


def argument_error(parameter: str | None, path: str, reason: str) -> UnkeyableArgumentError:
    what = "value" if parameter is None else f"argument {parameter!r}"
    hint = unkeyable_hint(parameter)
    return UnkeyableArgumentError(
        f"cannot key {what}: {path} cannot be keyed because {reason}. {hint}",
        parameter=parameter,
        path=path,
    )

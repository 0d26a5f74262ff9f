"""A runner that keys on what a keyfunc returns (e.g. `memokey.nil_args`) but runs the
original call locally on a miss."""

from __future__ import annotations

import inspect
import os
import types
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from memokey.base_runner import Runner, RunnerOptions
from memokey.code_policy import identity_of
from memokey.errors import ConfigurationError, UnkeyableArgumentError
from memokey.hashing import digest
from memokey.identity import CodeIdentity, is_first_party
from memokey.keyfuncs import AnyKeyfunc, apply_keyfunc, check_keyfunc

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["KeyedLocalRunner"]


class KeyedLocalRunner(Runner):
    """Keys on what `keyfunc` returns, but runs the original call locally on a miss.

    Use it when some arguments must not (or cannot) be part of the key, e.g.
    ``KeyedLocalRunner(root, keyfunc=nil_args("conn"))``.
    """

    def __init__(
        self,
        root: str | os.PathLike[str] | None,
        *,
        keyfunc: AnyKeyfunc,
        **options: Unpack[RunnerOptions],
    ) -> None:
        if not callable(keyfunc):
            raise ConfigurationError(
                f"keyfunc={keyfunc!r} is not callable; write e.g. keyfunc=memokey.nil_args("
                "'conn') or a function (c, args, kwargs) -> (c, args, kwargs)"
            )
        super().__init__(root, **options)
        self.keyfunc = keyfunc
        # Your own keyfunc is code that decides the key; memokey's (`nil_args`) is keyed
        # by the arguments it drops, and is not re-encoded on every call.
        self._rule: object = keyfunc if is_first_party(keyfunc) else None
        self._rule_cache: tuple[CodeIdentity, tuple[Any, Any], str] | None = None

    def __repr__(self) -> str:
        return (
            f"KeyedLocalRunner(root={self.root!r}, keyfunc={self.keyfunc!r}, "
            f"namespace={self.namespace!r})"
        )

    def check(self, func: Callable[..., Any]) -> None:
        super().check(func)
        check_keyfunc(self.keyfunc, func)

    def _key_call(
        self, func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[Callable[..., Any], inspect.BoundArguments]:
        return apply_keyfunc(self.keyfunc, func, args, kwargs)

    def _key_rule(self) -> object:
        """The keyfunc's digest: computed once and reused while its code identity is
        current and its defaults are the same objects (a hit stays cheap)."""
        rule = self._rule
        if rule is None:
            return None
        cached = self._rule_cache
        defaults = (getattr(rule, "__defaults__", None), getattr(rule, "__kwdefaults__", None))
        if (
            cached is not None
            and cached[1][0] is defaults[0]
            and cached[1][1] is defaults[1]
            and cached[0].is_current()
        ):
            return cached[2]
        try:
            token = digest(rule)
        except UnkeyableArgumentError as exc:
            raise UnkeyableArgumentError(
                f"cannot key calls through the keyfunc {rule!r}: {exc}. Use a keyfunc "
                "defined at module level, or code='off' and a logic_key (then you own "
                "invalidation).",
                parameter=None,
                path=None,
            ) from None
        identity = None
        if isinstance(rule, types.FunctionType) and not rule.__closure__:
            identity = identity_of(rule)
        self._rule_cache = None if identity is None else (identity, defaults, token)
        return token

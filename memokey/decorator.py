"""`memoize`, `use_runner` and `key_for`: the decorators users write.

The wrapper is a real function (so methods bind as usual) with the wrapped function's
name, docstring and signature (`functools.wraps` for `inspect`, `ParamSpec` for type
checkers). It exposes ``.runner``, ``.key_for(*args, **kwargs)``,
``.submit(*args, **kwargs) -> concurrent.futures.Future`` and ``__wrapped__``.
Coroutine functions get a coroutine wrapper whose store I/O runs in worker threads.
"""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future
from datetime import timedelta
from typing import Any, ParamSpec, Protocol, TypeVar, cast, overload

from memokey import lifecycle
from memokey.code_policy import CodeMode, check_code_mode
from memokey.errors import ConfigurationError
from memokey.keys import LOGIC_KEY_ATTR, MemoKey
from memokey.lifecycle import StoredEntry
from memokey.results import DEFAULT_SERIALIZER, Serializer
from memokey.runners import DEFAULT_LEASE_SECONDS, MemoizingRunner, Runner
from memokey.shims.base import Shim
from memokey.signing import KeySpec

__all__ = ["MemoizedFunction", "key_for", "memoize", "use_runner"]

P = ParamSpec("P")
R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)


class MemoizedFunction(Protocol[P, R_co]):
    """What `memoize` and `use_runner` return: the function, memoized, plus helpers."""

    runner: Runner

    @property
    def __wrapped__(self) -> Callable[P, R_co]: ...

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R_co: ...

    def key_for(self, *args: P.args, **kwargs: P.kwargs) -> MemoKey:
        """The `MemoKey` this call would use now; nothing is read or computed."""
        ...

    def submit(self, *args: P.args, **kwargs: P.kwargs) -> Future[Any]:
        """Start the call in the background (through the runner's shim); identical calls
        in flight share one future. See `memokey.shims.fanout`."""
        ...

    def is_cached(self, *args: P.args, **kwargs: P.kwargs) -> bool:
        """Whether this call's result is stored (one existence check)."""
        ...

    def forget(self, *args: P.args, **kwargs: P.kwargs) -> bool:
        """Delete this call's stored result; True when there was one."""
        ...

    def refresh(self, *args: P.args, **kwargs: P.kwargs) -> R_co:
        """Recompute this call and replace its stored result atomically (coroutine
        functions: awaitable)."""
        ...

    def clear(self, *, all_versions: bool = False) -> int:
        """Delete this function's stored results (this code version, or all of them);
        the number deleted."""
        ...

    def entries(self, *, all_versions: bool = False) -> Iterator[StoredEntry]:
        """This function's stored results with their metadata."""
        ...


def _refuse(func: Callable[..., Any]) -> None:
    name = getattr(func, "__qualname__", repr(func))
    if getattr(func, "__memokey_runner__", None) is not None:
        raise ConfigurationError(f"{name} is already memoized; apply memoize/use_runner once")
    if inspect.isgeneratorfunction(func) or inspect.isasyncgenfunction(func):
        raise ConfigurationError(
            f"{name} is a generator function; its generator cannot be stored. Memoize a "
            "function that returns a list (or other value) instead"
        )
    if not callable(func):
        raise ConfigurationError(
            f"memoize needs a function, got {func!r}; decorate a def or pass a callable: "
            "memokey.memoize(f) or @memokey.memoize(root)"
        )


def _wrap(runner: Runner, func: Callable[P, R]) -> MemoizedFunction[P, R]:
    _refuse(func)
    runner.check(func)
    wrapper: Any  # a function that gets attributes set below
    if inspect.iscoroutinefunction(func):

        @functools.wraps(func)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            return await runner.acall(func, args, kwargs)

        wrapper = async_wrapper
    else:

        @functools.wraps(func)
        def sync_wrapper(*args: Any, **kwargs: Any) -> Any:
            return runner(func, args, kwargs)

        wrapper = sync_wrapper

    def key_for(*args: Any, **kwargs: Any) -> MemoKey:
        return runner.key_for(func, args, kwargs)

    def submit(*args: Any, **kwargs: Any) -> Future[Any]:
        if inspect.iscoroutinefunction(func):
            raise ConfigurationError(
                f"{getattr(func, '__qualname__', func)} is a coroutine function; start its "
                "calls with asyncio.create_task / asyncio.gather instead of .submit"
            )
        return runner.submit(func, args, kwargs)

    _attach_lifecycle(wrapper, runner, func)
    key_for.__doc__ = f"The MemoKey of a call to {getattr(func, '__qualname__', func)}."
    submit.__doc__ = f"Start a call to {getattr(func, '__qualname__', func)}; a Future."
    wrapper.runner = runner
    wrapper.key_for = key_for
    wrapper.submit = submit
    wrapper.__memokey_runner__ = runner
    if runner.logic_key is not None:  # a memoized function passed as an argument carries it
        setattr(wrapper, LOGIC_KEY_ATTR, runner.logic_key)
    return cast("MemoizedFunction[P, R]", wrapper)


def _attach_lifecycle(wrapper: Any, runner: Runner, func: Callable[..., Any]) -> None:
    """``is_cached``, ``forget``, ``refresh``, ``clear``, ``entries`` (`memokey.lifecycle`)."""

    def is_cached(*args: Any, **kwargs: Any) -> bool:
        return lifecycle.is_cached(runner, func, args, kwargs)

    def forget(*args: Any, **kwargs: Any) -> bool:
        return lifecycle.forget(runner, func, args, kwargs)

    refresh: Callable[..., Any]
    if inspect.iscoroutinefunction(func):

        async def arefresh(*args: Any, **kwargs: Any) -> Any:
            return await runner.arefresh(func, args, kwargs)

        refresh = arefresh
    else:

        def refresh(*args: Any, **kwargs: Any) -> Any:
            return runner.refresh(func, args, kwargs)

    def clear(*, all_versions: bool = False) -> int:
        return lifecycle.clear(runner, func, all_versions=all_versions)

    def entries(*, all_versions: bool = False) -> Iterator[StoredEntry]:
        return lifecycle.entries(runner, func, all_versions=all_versions)

    helpers = {
        "is_cached": is_cached,
        "forget": forget,
        "refresh": refresh,
        "clear": clear,
        "entries": entries,
    }
    for name, helper in helpers.items():
        helper.__qualname__ = f"{getattr(func, '__qualname__', 'function')}.{name}"
        setattr(wrapper, name, helper)


def use_runner(
    runner: Runner, *, code: CodeMode | None = None
) -> Callable[[Callable[P, R]], MemoizedFunction[P, R]]:
    """Memoize a function through `runner` (e.g. a `KeyedLocalRunner` with a keyfunc).

    The runner checks itself against the function at decoration time, so
    ``nil_args("typo")`` fails here rather than at the first call. `code` overrides the
    runner's ``code=`` mode for this function (`memokey.code_policy`).
    """
    if not isinstance(runner, Runner):
        raise ConfigurationError(
            f"use_runner needs a MemoizingRunner or KeyedLocalRunner, got {runner!r}; write "
            "e.g. @memokey.use_runner(memokey.KeyedLocalRunner(root, keyfunc=nil_args('conn')))"
        )
    mode = check_code_mode(code)

    def decorate(func: Callable[P, R]) -> MemoizedFunction[P, R]:
        wrapped = _wrap(runner, func)
        runner.set_code(func, mode)
        return wrapped

    return decorate


@overload
def memoize(
    func: Callable[P, R],
    /,
    *,
    root: str | os.PathLike[str] | None = None,
    namespace: str = "default",
    logic_key: str | None = None,
    storage_options: Mapping[str, Any] | None = None,
    serializer: str | Serializer = DEFAULT_SERIALIZER,
    shim: Shim | None = None,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
    cache_errors: bool = False,
    code: CodeMode | None = None,
    signing_key: KeySpec | None = None,
    allow_pickle: bool | None = None,
    ttl: float | timedelta | None = None,
) -> MemoizedFunction[P, R]: ...


@overload
def memoize(
    root: str | os.PathLike[str] | None = None,
    *,
    namespace: str = "default",
    logic_key: str | None = None,
    storage_options: Mapping[str, Any] | None = None,
    serializer: str | Serializer = DEFAULT_SERIALIZER,
    shim: Shim | None = None,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
    cache_errors: bool = False,
    code: CodeMode | None = None,
    signing_key: KeySpec | None = None,
    allow_pickle: bool | None = None,
    ttl: float | timedelta | None = None,
) -> Callable[[Callable[P, R]], MemoizedFunction[P, R]]: ...


def memoize(
    func_or_root: Any = None,
    /,
    *,
    root: str | os.PathLike[str] | None = None,
    namespace: str = "default",
    logic_key: str | None = None,
    storage_options: Mapping[str, Any] | None = None,
    serializer: str | Serializer = DEFAULT_SERIALIZER,
    shim: Shim | None = None,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
    cache_errors: bool = False,
    code: CodeMode | None = None,
    signing_key: KeySpec | None = None,
    allow_pickle: bool | None = None,
    ttl: float | timedelta | None = None,
) -> Any:
    """Memoize a function into a storage root, keyed on its full arguments.

    Bare (``@memoize``) or configured (``@memoize("s3://bucket/cache", namespace="exp")``,
    ``root=`` also by keyword). Without a root the call-time precedence applies:
    ``with memokey.root(...)`` > this root > ``MEMOKEY_ROOT`` > the user cache directory.
    `shim` runs misses elsewhere (`memokey.shims`), `lease_seconds` bounds how long other
    processes wait for a silent lease holder, `cache_errors` stores and re-raises failures,
    `code` says how the code fingerprint takes part in the key (`memokey.code_policy`).
    ``memoize(func, root=..., ...)`` takes the same options, all honoured.
    `signing_key` (or ``MEMOKEY_SIGNING_KEY``) signs what is stored and refuses anything
    unsigned; `allow_pickle=False` (or ``MEMOKEY_ALLOW_PICKLE=0``) decodes only formats
    that cannot run code. See SECURITY.md. `ttl` (seconds or a `timedelta`) makes an
    entry older than that a miss, recomputed and replaced (`memokey.expiry`).
    """
    func: Any = None
    if callable(func_or_root) and not isinstance(func_or_root, (str, os.PathLike)):
        func, func_or_root = func_or_root, None
    if func_or_root is not None and root is not None:
        raise ConfigurationError(
            "the root was passed twice; write it once: memoize('s3://b/memo') or "
            "memoize(root='s3://b/memo')"
        )
    runner = MemoizingRunner(
        func_or_root if func_or_root is not None else root,
        namespace=namespace,
        logic_key=logic_key,
        storage_options=storage_options,
        serializer=serializer,
        shim=shim,
        lease_seconds=lease_seconds,
        cache_errors=cache_errors,
        code=code,
        signing_key=signing_key,
        allow_pickle=allow_pickle,
        ttl=ttl,
    )
    return use_runner(runner) if func is None else _wrap(runner, func)


_default_runner: MemoizingRunner | None = None


def key_for(func: Callable[..., Any], /, *args: Any, **kwargs: Any) -> MemoKey:
    """The `MemoKey` (``.uri``, ``.digest``, ``.function_id``) of ``func(*args, **kwargs)``.

    A memoized `func` uses its own runner, root and keyfunc; a plain one is keyed as
    `memoize` would with no root (the call-time default root). Nothing is read or run.
    """
    global _default_runner
    runner = getattr(func, "__memokey_runner__", None)
    if isinstance(runner, Runner):
        return runner.key_for(func.__wrapped__, args, kwargs)  # type: ignore[attr-defined]
    if _default_runner is None:
        _default_runner = MemoizingRunner()
    return _default_runner.key_for(func, args, kwargs)

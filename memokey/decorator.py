"""`memoize`, `use_runner` and `key_for`: the decorators users write.

What they return is a `memokey.methods.MemoizedFunction`: it keeps the wrapped function's
name, docstring and signature (`functools.update_wrapper` for `inspect`, `ParamSpec` for
type checkers), exposes ``.runner``, ``.key_for(*args, **kwargs)``,
``.submit(*args, **kwargs) -> concurrent.futures.Future`` and ``__wrapped__``, and binds
like the function it wraps (methods, static and class methods; see `memokey.methods`).
Coroutine functions get a coroutine wrapper whose store I/O runs in worker threads.
"""

from __future__ import annotations

import os
import types
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any, Concatenate, ParamSpec, TypeVar, cast, overload

from memokey.callables import unbind
from memokey.code_policy import CodeMode, check_code_mode
from memokey.compression import CompressSpec
from memokey.errors import ConfigurationError
from memokey.keys import MemoKey
from memokey.methods import BoundMemoized, MemoizedFunction, memoized
from memokey.results import DEFAULT_SERIALIZER, Serializer
from memokey.runners import DEFAULT_LEASE_SECONDS, MemoizingRunner, Runner
from memokey.shims.base import Shim
from memokey.signing import KeySpec

__all__ = ["MemoizedFunction", "key_for", "memoize", "use_runner"]

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")


def use_runner(
    runner: Runner, *, code: CodeMode | None = None
) -> Callable[[Callable[P, R]], MemoizedFunction[P, R]]:
    """Memoize a function through `runner` (e.g. a `KeyedLocalRunner` with a keyfunc).

    The runner checks itself against the function at decoration time, so
    ``nil_args("typo")`` fails here rather than at the first call.
    """
    if not isinstance(runner, Runner):
        raise ConfigurationError(
            f"use_runner needs a MemoizingRunner or KeyedLocalRunner, got {runner!r}; write "
            "e.g. @memokey.use_runner(memokey.KeyedLocalRunner(root, keyfunc=nil_args('conn')))"
        )
    mode = check_code_mode(code)

    def decorate(func: Callable[P, R]) -> MemoizedFunction[P, R]:
        wrapped = memoized(runner, func)
        runner.set_code(unbind(wrapped.__wrapped__, ())[0], mode)  # what the runner keys
        return cast("MemoizedFunction[P, R]", wrapped)

    return decorate


@overload
def memoize(
    func: classmethod[T, P, R],
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
    verbose: bool = False,
    compress: CompressSpec = None,
) -> MemoizedFunction[Concatenate[type[T], P], R]: ...


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
    verbose: bool = False,
    compress: CompressSpec = None,
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
    verbose: bool = False,
    compress: CompressSpec = None,
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
    verbose: bool = False,
    compress: CompressSpec = None,
) -> Any:
    """Memoize a function into a storage root, keyed on its full arguments.

    Bare (``@memoize``) or configured (``@memoize("s3://bucket/cache", namespace="exp")``,
    ``root=`` also by keyword). Without a root the call-time precedence applies:
    ``with memokey.root(...)`` > this root > ``MEMOKEY_ROOT`` > the user cache directory.
    `shim` runs misses elsewhere (`memokey.shims`), `lease_seconds` bounds how long other
    processes wait for a silent lease holder, `cache_errors` stores and re-raises failures.
    `signing_key` (or ``MEMOKEY_SIGNING_KEY``) signs what is stored and refuses anything
    unsigned; `allow_pickle=False` (or ``MEMOKEY_ALLOW_PICKLE=0``) decodes only formats
    that cannot run code. See SECURITY.md. `ttl` (seconds or a `timedelta`) makes an
    entry older than that a miss, recomputed and replaced (`memokey.expiry`).
    `verbose=True` (or ``MEMOKEY_VERBOSE=1``) prints one line per call outcome to stderr
    (`memokey.observe`). `compress="zstd"` (or ``("zstd", level)``, or
    ``MEMOKEY_COMPRESS``) stores results compressed; it never changes a key
    (`memokey.compression`).
    """
    func: Any = None
    if isinstance(func_or_root, (staticmethod, classmethod)) or (
        callable(func_or_root) and not isinstance(func_or_root, (str, os.PathLike))
    ):
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
        verbose=verbose,
        compress=compress,
    )
    return use_runner(runner) if func is None else memoized(runner, func)


_default_runner: MemoizingRunner | None = None


def key_for(func: Callable[..., Any], /, *args: Any, **kwargs: Any) -> MemoKey:
    """The `MemoKey` (``.uri``, ``.digest``, ``.function_id``) of ``func(*args, **kwargs)``.

    A memoized `func` uses its own runner, root and keyfunc; a plain one is keyed as
    `memoize` would with no root (the call-time default root). Nothing is read or run.
    """
    global _default_runner
    if isinstance(func, (MemoizedFunction, BoundMemoized)):  # binds self/cls like a call
        return func.key_for(*args, **kwargs)
    if isinstance(func, types.MethodType) and isinstance(func.__func__, MemoizedFunction):
        # ``@classmethod`` above ``@memoize`` on Python >= 3.13: a method of the wrapper
        return BoundMemoized(func.__func__, func.__self__).key_for(*args, **kwargs)
    runner = getattr(func, "__memokey_runner__", None)
    if isinstance(runner, Runner):  # another wrapper of a memoized function
        return runner.key_for(func, args, kwargs)
    if _default_runner is None:
        _default_runner = MemoizingRunner()
    return _default_runner.key_for(func, args, kwargs)

"""What `memoize` returns: a memoized callable that binds like the function it wraps.

`MemoizedFunction` is a descriptor, so a memoized method binds its object the way a plain
method does, and the binding reaches every entry point: ``obj.m(x)``, ``obj.m.key_for(x)``,
``obj.m.submit(x)`` and ``memokey.key_for(obj.m, x)`` all key ``obj`` as ``self``. How it
binds follows what was memoized:

- a function: a method when found on an instance (``self``), the function on its class;
- ``staticmethod`` (``@memoize`` above ``@staticmethod``): never binds;
- ``classmethod`` (``@memoize`` above ``@classmethod``): binds the class it is found on,
  so ``Sub.m(1)`` and ``Base.m(1)`` are keyed apart;
- anything else (a bound method, a built-in, a callable object): never binds, exactly
  as that callable would not bind as a class attribute.

The other decorator orders (``@staticmethod``/``@classmethod`` above ``@memoize``) work
through Python's own descriptors. Type checkers see the binding through the overloads of
``__get__`` (mypy removes ``staticmethod``/``classmethod`` from decorator chains and
keeps only the function, so they tell the kinds apart by the first parameter's type).
"""

from __future__ import annotations

import functools
import inspect
import sys
import types
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from typing import (
    TYPE_CHECKING,
    Any,
    ClassVar,
    Generic,
    Literal,
    ParamSpec,
    Protocol,
    TypeVar,
    overload,
)

from memokey.callables import unbind
from memokey.errors import ConfigurationError, SerializationError
from memokey.identity.fingerprint import owner_class
from memokey.keys import LOGIC_KEY_ATTR, MemoKey
from memokey.lifecycle import Lifecycle, StoredEntry
from memokey.runners import Runner

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = [
    "AsyncBoundMemoized",
    "AsyncMemoizedFunction",
    "BoundMemoized",
    "MemoizedFunction",
    "memoized",
]

P = ParamSpec("P")
P2 = ParamSpec("P2")
R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)
T = TypeVar("T")
T_contra = TypeVar("T_contra", contravariant=True)

#: How a memoized callable binds when found on a class or instance (see the module doc).
Binding = Literal["instance", "class", None]


class _Method(Protocol[T_contra, P, R_co]):
    """A callable taking a first positional argument of type `T_contra` (for ``__get__``)."""

    def __call__(self, first: T_contra, /, *args: P.args, **kwargs: P.kwargs) -> R_co: ...


class BoundMemoized(Generic[P, R]):
    """A memoized method bound to an object (or, for a classmethod, a class): like a
    bound method, with ``.key_for``, ``.submit``, ``.runner`` and the lifecycle helpers
    (`memokey.lifecycle`) bound as well."""

    __slots__ = ("__func__", "__self__")

    def __init__(self, memoized: MemoizedFunction[Any, Any], obj: object) -> None:
        self.__func__ = memoized
        self.__self__ = obj

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        memoized = self.__func__
        return memoized.runner(memoized.__wrapped__, (self.__self__, *args), kwargs)  # type: ignore[no-any-return]

    def key_for(self, *args: P.args, **kwargs: P.kwargs) -> MemoKey:
        """The `MemoKey` this call would use now; nothing is read or computed."""
        memoized = self.__func__
        return memoized.runner.key_for(memoized.__wrapped__, (self.__self__, *args), kwargs)

    def submit(self, *args: P.args, **kwargs: P.kwargs) -> Future[Any]:
        """Start the call in the background; see `MemoizedFunction.submit`."""
        memoized = self.__func__
        if isinstance(memoized, AsyncMemoizedFunction):
            memoized.submit()  # refused, with what to use instead
        return memoized.runner.submit(memoized.__wrapped__, (self.__self__, *args), kwargs)

    # -- lifecycle (`memokey.lifecycle`): per call with the object, per function as is ------

    def is_cached(self, *args: P.args, **kwargs: P.kwargs) -> bool:
        return self.__func__.is_cached(self.__self__, *args, **kwargs)

    def forget(self, *args: P.args, **kwargs: P.kwargs) -> bool:
        return self.__func__.forget(self.__self__, *args, **kwargs)

    def refresh(self, *args: P.args, **kwargs: P.kwargs) -> R:
        return self.__func__.refresh(self.__self__, *args, **kwargs)  # type: ignore[no-any-return]

    def clear(self, *, all_versions: bool = False) -> int:
        return self.__func__.clear(all_versions=all_versions)

    def entries(self, *, all_versions: bool = False) -> Iterator[StoredEntry]:
        return self.__func__.entries(all_versions=all_versions)

    def explain(self, *args: P.args, **kwargs: P.kwargs) -> str:
        return self.__func__.explain(self.__self__, *args, **kwargs)

    @property
    def runner(self) -> Runner:
        return self.__func__.runner

    @property
    def __memokey_runner__(self) -> Runner:
        return self.__func__.runner

    @property
    def __wrapped__(self) -> Callable[P, R]:
        """The original function bound to the same object (what `inspect` reads)."""
        return types.MethodType(self.__func__.__wrapped__, self.__self__)

    if TYPE_CHECKING:
        __name__: str
        __qualname__: str
    else:  # at run time, like a bound method: the function's name, doc and other attributes

        @property
        def __doc__(self) -> str | None:
            return self.__func__.__doc__

        def __getattr__(self, name: str) -> Any:
            if name in ("__func__", "__self__"):  # not set yet: no recursion
                raise AttributeError(name)
            return getattr(self.__func__, name)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, BoundMemoized)
            and self.__self__ is other.__self__
            and self.__func__ is other.__func__
        )

    def __hash__(self) -> int:
        return hash((id(self.__self__), id(self.__func__)))

    def __memokey__(self) -> object:
        """As an argument: the memoized function and the object it is bound to."""
        return (self.__func__, self.__self__)

    def __reduce__(self) -> tuple[Any, ...]:
        return (getattr, (self.__self__, self.__func__.__name__))

    def __repr__(self) -> str:
        return f"<bound memoized {self.__func__.__qualname__} of {self.__self__!r}>"


class MemoizedFunction(Lifecycle[P, R], Generic[P, R]):
    """A function memoized by `runner`: call it, ask ``.key_for(...)`` for a call's
    `MemoKey`, ``.submit(...)`` it in the background; ``is_cached``, ``forget``,
    ``refresh``, ``clear``, ``entries`` (`memokey.lifecycle`). ``__wrapped__`` is the
    original."""

    runner: Runner
    __wrapped__: Callable[P, R]
    if TYPE_CHECKING:  # set by functools.update_wrapper
        __name__: str
        __qualname__: str
    #: What `__get__` binds with (the async variant has its own).
    _bound: ClassVar[type[BoundMemoized[Any, Any]]] = BoundMemoized

    def __init__(self, runner: Runner, func: Callable[P, R], binding: Binding) -> None:
        functools.update_wrapper(self, func)
        if not isinstance(vars(self).get("__qualname__"), str):  # a callable object
            self.__name__ = self.__qualname__ = type(func).__qualname__
        self.runner = runner
        self.__wrapped__ = func
        self._binding = binding
        self._owner: tuple[type, str] | None = None  # the class attribute it was set as
        self._inside_classmethod: bool | None = None  # wrapped by a classmethod (lazy)
        self.__memokey_runner__ = runner
        if runner.logic_key is not None:  # a memoized function passed as an argument
            setattr(self, LOGIC_KEY_ATTR, runner.logic_key)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        return self.runner(self.__wrapped__, args, kwargs)  # type: ignore[no-any-return]

    def key_for(self, *args: P.args, **kwargs: P.kwargs) -> MemoKey:
        """The `MemoKey` this call would use now; nothing is read or computed."""
        self._refuse_without_class("key_for")
        return self.runner.key_for(self.__wrapped__, args, kwargs)

    def submit(self, *args: P.args, **kwargs: P.kwargs) -> Future[Any]:
        """Start the call in the background (through the runner's shim); identical calls
        in flight share one future. See `memokey.shims.fanout`."""
        self._refuse_without_class("submit")
        return self.runner.submit(self.__wrapped__, args, kwargs)

    def _refuse_without_class(self, what: str) -> None:
        """``@classmethod`` above ``@memoize``: since Python 3.13 ``C.m`` is a plain bound
        method whose ``.key_for`` / ``.submit`` reach this function without ``C``; the
        first argument would be keyed (and run) as the class. Refused, naming the order
        that binds the class everywhere."""
        inside = self._inside_classmethod
        if inside is None:
            inside = self._inside_classmethod = _in_classmethod(self)
        if inside:
            raise ConfigurationError(
                f"{self.__qualname__}.{what} cannot tell which class it is called on: "
                "@classmethod is applied above @memoize, and Python 3.13 no longer passes "
                "the class through. Put @memoize above @classmethod, or use "
                f"memokey.key_for(Class.{self.__name__}, ...) for a key"
            )

    # -- binding -------------------------------------------------------------------------

    @overload  # a classmethod, found on its class: binds the class
    def __get__(
        self: _Method[type[T], P2, R], instance: None, owner: type[T], /
    ) -> BoundMemoized[P2, R]: ...

    @overload  # a function found on its class: the function itself
    def __get__(self, instance: None, owner: type[Any] | None = None, /) -> Self: ...

    @overload  # a classmethod found on an instance: binds the instance's class
    def __get__(
        self: _Method[type[T], P2, R], instance: T, owner: type[Any] | None = None, /
    ) -> BoundMemoized[P2, R]: ...

    @overload  # a method found on an instance: binds the instance
    def __get__(
        self: _Method[T, P2, R], instance: T, owner: type[Any] | None = None, /
    ) -> BoundMemoized[P2, R]: ...

    @overload  # a staticmethod (or any callable that does not bind)
    def __get__(self, instance: object, owner: type[Any] | None = None, /) -> Self: ...

    def __get__(self, instance: object, owner: type[Any] | None = None, /) -> Any:
        binding = self._binding
        if binding == "instance" and instance is not None:
            return self._bound(self, instance)
        if binding == "class":
            return self._bound(self, owner if owner is not None else type(instance))
        return self

    def __set_name__(self, owner: type, name: str) -> None:
        self._owner = (owner, name)

    # -- identity ------------------------------------------------------------------------

    def __memokey__(self) -> object:
        """As an argument: the function it memoizes and its explicit logic key."""
        return (self.runner.logic_key, self.__wrapped__)

    def __reduce__(self) -> str | tuple[Any, ...]:
        """Pickled by reference, like a function: its class attribute or its global name.

        A method of a class that cannot be imported elsewhere (``__main__``, a notebook, a
        function body) travels by value with its runner's settings, so that cloudpickle
        can send the class to a subprocess or a Dask worker (far side: no shim)."""
        if self._owner is None:
            return self.__qualname__
        if _importable(self._owner[0]):
            return (_class_attribute, self._owner)
        runner_type, settings = _runner_settings(self.runner)
        return (
            _rebuild,
            (type(self), self.__wrapped__, self._binding, runner_type, settings, self._owner),
        )

    def __repr__(self) -> str:
        return f"<memoized {self.__module__}.{self.__qualname__} via {self.runner!r}>"


class _CoroutineFunctionLike:
    """Lets `inspect.iscoroutinefunction` recognise a memoized ``async def`` (it accepts
    objects that look like functions: a ``__code__`` and friends, here the original's)."""

    __slots__ = ()

    @property
    def __code__(self) -> types.CodeType:
        return _original(self).__code__  # type: ignore[no-any-return]

    @property
    def __defaults__(self) -> tuple[Any, ...] | None:
        return _original(self).__defaults__  # type: ignore[no-any-return]

    @property
    def __kwdefaults__(self) -> dict[str, Any] | None:
        return _original(self).__kwdefaults__  # type: ignore[no-any-return]


class AsyncMemoizedFunction(_CoroutineFunctionLike, MemoizedFunction[P, R]):
    """`MemoizedFunction` of an ``async def``: calling it returns a coroutine whose store
    I/O runs in worker threads."""

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        return self.runner.acall(self.__wrapped__, args, kwargs)  # type: ignore[arg-type, return-value]

    def submit(self, *args: P.args, **kwargs: P.kwargs) -> Future[Any]:
        raise ConfigurationError(
            f"{self.__qualname__} is a coroutine function; start its calls with "
            "asyncio.create_task / asyncio.gather instead of .submit"
        )

    def refresh(self, *args: P.args, **kwargs: P.kwargs) -> R:
        """A coroutine: recompute this call and replace its stored result atomically."""
        return self.runner.arefresh(self.__wrapped__, args, kwargs)  # type: ignore[arg-type, return-value]


class AsyncBoundMemoized(_CoroutineFunctionLike, BoundMemoized[P, R]):
    """`BoundMemoized` of an ``async def`` method."""

    __slots__ = ()

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        memoized = self.__func__
        return memoized.runner.acall(memoized.__wrapped__, (self.__self__, *args), kwargs)  # type: ignore[return-value]


AsyncMemoizedFunction._bound = AsyncBoundMemoized


def _original(memoized: object) -> Any:
    """The function behind a memoized callable (a bound method's function, a callable
    object's ``__call__``)."""
    return unbind(memoized.__wrapped__, ())[0]  # type: ignore[attr-defined]


def _in_classmethod(memoized: MemoizedFunction[Any, Any]) -> bool:
    """Whether `memoized` is the function of a ``classmethod`` in the class its qualified
    name leads to (``@classmethod`` above ``@memoize``; such a function is never given a
    class attribute of its own, so `_owner` stays None)."""
    func = memoized.__wrapped__
    if memoized._binding != "instance" or memoized._owner is not None:
        return False
    if not isinstance(func, types.FunctionType):
        return False
    owner = owner_class(func)
    if owner is None:
        return False
    found = vars(owner).get(func.__name__)
    return isinstance(found, classmethod) and found.__func__ is memoized


def _importable(cls: type) -> bool:
    """Whether another process importing ``cls.__module__`` finds this very class."""
    module, qualname = cls.__module__, cls.__qualname__
    if module == "__main__" or "<locals>" in qualname:
        return False
    found: object = sys.modules.get(module)
    for part in qualname.split("."):
        found = getattr(found, part, None)
    return found is cls


def _runner_settings(runner: Runner) -> tuple[type[Runner], dict[str, Any]]:
    """What rebuilds `runner` in another process. Not its shim (there, calls run in place),
    nor its storage options or signing key: secrets would be written into the store with
    the invocation; the far side uses its own environment (``MEMOKEY_SIGNING_KEY``, the
    SDKs' credentials), as for the call itself."""
    settings: dict[str, Any] = {
        "root": runner.root,
        "namespace": runner.namespace,
        "serializer": runner.serializer,
        "logic_key": runner.logic_key,
        "lease_seconds": runner.lease_seconds,
        "cache_errors": runner.cache_errors,
        "ttl": runner.ttl,
        "verbose": runner.verbose,
    }
    settings["allow_pickle"] = runner.trust.allow_pickle
    settings["compress"] = runner.compress
    settings["code"] = runner.code
    keyfunc = getattr(runner, "keyfunc", None)
    if keyfunc is not None:
        settings["keyfunc"] = keyfunc
    return type(runner), settings


def _rebuild(
    cls: type[MemoizedFunction[Any, Any]],
    func: Callable[..., Any],
    binding: Binding,
    runner_type: type[Runner],
    settings: dict[str, Any],
    owner: tuple[type, str],
) -> MemoizedFunction[Any, Any]:
    """Unpickle a memoized method that travelled by value (see `MemoizedFunction.__reduce__`)."""
    memoized = cls(runner_type(**settings), func, binding)
    memoized._owner = owner
    return memoized


def _class_attribute(owner: type, name: str) -> Any:
    """The raw class attribute (not what the descriptor returns): unpickles a memoized
    method, static method or class method."""
    try:
        return vars(owner)[name]
    except KeyError:
        raise SerializationError(
            f"cannot rebuild the memoized {owner.__qualname__}.{name} here: its class was "
            "rebuilt without it (sent by value while importable, e.g. through "
            "cloudpickle.register_pickle_by_value). Import the class's module on this side "
            "instead"
        ) from None


def _refuse(func: object) -> None:
    name = getattr(func, "__qualname__", repr(func))
    if getattr(func, "__memokey_runner__", None) is not None:
        raise ConfigurationError(f"{name} is already memoized; apply memoize/use_runner once")
    if inspect.isgeneratorfunction(func) or inspect.isasyncgenfunction(func):
        raise ConfigurationError(
            f"{name} is a generator function; its generator cannot be stored. Memoize a "
            "function that returns a list (or other value) instead"
        )
    if isinstance(func, (property, functools.cached_property)):
        kind = type(func).__name__
        raise ConfigurationError(
            f"memoize got a {kind}, which cannot be called; put @{kind} above @memoize "
            "so that the memoized getter is keyed with its instance"
        )
    if not callable(func):
        raise ConfigurationError(
            f"memoize needs a function, got {func!r}; decorate a def or pass a callable: "
            "memokey.memoize(f) or @memokey.memoize(root)"
        )


def memoized(runner: Runner, func: object) -> MemoizedFunction[Any, Any]:
    """Memoize `func` (a function, a ``staticmethod`` or ``classmethod`` object, a bound
    method or any callable) through `runner`, binding as the module docstring says."""
    binding: Binding
    if isinstance(func, staticmethod):
        func, binding = func.__func__, None
    elif isinstance(func, classmethod):
        func, binding = func.__func__, "class"
    else:
        binding = "instance" if isinstance(func, types.FunctionType) else None
    _refuse(func)
    assert callable(func)  # checked by _refuse
    keyed = unbind(func, ())[0]  # what the runner keys: a bound object is an argument
    runner.check(keyed)
    if inspect.iscoroutinefunction(keyed):  # an async def, bound or not
        return AsyncMemoizedFunction(runner, func, binding)
    return MemoizedFunction(runner, func, binding)

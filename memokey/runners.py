"""Runners decide hit or miss, compute once, and publish the result.

A runner is called as ``runner(func, args, kwargs)`` (``await runner.acall(...)`` for
coroutine functions). It keys the call, reads the entry (a hit is ONE read), and on a miss
computes once (a per-URI lock in the process; across processes a kernel byte-range lock on
local roots, a lease object elsewhere) and publishes the entry, metadata trailer included,
with ONE exclusive write (a loser of the race returns the winner's value).

The whole miss path lives in `Runner._compute` / `Runner._acompute`, the seam where
cross-process leases and remote shims plug in.

A hit redoes nothing that does not depend on the call (store, names, path prefixes and
signature plan are cached: `RootCache`, `memokey._targets`, `memokey.keys`). Nothing a
miss writes is fsynced by default: the lease is ephemeral and the entry checksummed (see
`memokey.results` for the durability choice and its opt-in).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import inspect
import logging
import os
import time
import types
from collections.abc import Awaitable, Callable, Iterator, Mapping
from concurrent.futures import Future
from datetime import timedelta
from typing import Any

from memokey._compute_once import async_locks, computing, computing_here, thread_locks
from memokey._local_locks import LocalLock, lock_for
from memokey._targets import (
    Place,
    PlaceCache,
    Target,
    decoded,
    entry_meta,
    lookup,
    read_entry,
    unwrap_memoized,
    write_entry,
)
from memokey.callables import unbind
from memokey.code_policy import CodeMode, check_code_mode, identity_of
from memokey.compression import CompressSpec
from memokey.compression import resolve as resolve_compression
from memokey.errors import ConfigurationError, UnkeyableArgumentError, WriteConflictError
from memokey.expiry import check_ttl, expired, stamped
from memokey.hashing import digest
from memokey.identity import CodeIdentity, absorb_side_effects, is_first_party
from memokey.keyfuncs import AnyKeyfunc, apply_keyfunc, check_keyfunc
from memokey.keys import MemoKey, bind_call, call_digest, function_id, logic_key_of
from memokey.layout import ERROR
from memokey.leases import Lease, acquire_or_wait, holding_lease
from memokey.modes import arun_in_mode, current_mode, replaces, replacing, run_in_mode
from memokey.names import check_function_segment
from memokey.observe import Outcome, record
from memokey.remote import Invocation, publish_failure, raise_failure
from memokey.results import DEFAULT_SERIALIZER, Serializer
from memokey.roots import RootCache, select_root
from memokey.settings import check_settings, check_shim
from memokey.shims import fanout
from memokey.shims.base import Job, SameThreadShim, Shim, same_thread
from memokey.shims.dispatch import finish_elsewhere, start_elsewhere
from memokey.signing import KeySpec
from memokey.trust import TrustSettings
from memokey.usage import note_use

__all__ = ["DEFAULT_LEASE_SECONDS", "KeyedLocalRunner", "MemoKey", "MemoizingRunner", "Runner"]

logger = logging.getLogger("memokey")

DEFAULT_LEASE_SECONDS = 60.0


def _release_when_acquired(acquiring: asyncio.Future[Any]) -> None:
    """A cancelled caller's lease, acquired after it stopped waiting, is released at once."""
    if not acquiring.cancelled() and acquiring.exception() is None:
        lease = acquiring.result()
        if isinstance(lease, (Lease, LocalLock)):
            lease.release()


class Runner:
    """Shared machinery: root, namespace, serializer, keying, lookup, compute, publish."""

    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        *,
        namespace: str = "default",
        serializer: str | Serializer = DEFAULT_SERIALIZER,
        storage_options: Mapping[str, Any] | None = None,
        logic_key: str | None = None,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        cache_errors: bool = False,
        code: CodeMode | None = None,
        signing_key: KeySpec | None = None,
        allow_pickle: bool | None = None,
        ttl: float | timedelta | None = None,
        verbose: bool = False,
        compress: CompressSpec = None,
    ) -> None:
        settings = check_settings(
            root=root,
            namespace=namespace,
            logic_key=logic_key,
            storage_options=storage_options,
            serializer=serializer,
            lease_seconds=lease_seconds,
            cache_errors=cache_errors,
            compress=compress,
        )
        self.root = settings.root
        self.namespace = settings.namespace
        self.serializer = settings.serializer
        self.storage_options: Mapping[str, Any] = settings.storage_options
        self.logic_key = settings.logic_key
        self.lease_seconds = settings.lease_seconds
        self.cache_errors = settings.cache_errors
        self.code = check_code_mode(code)  # None: the default (`memokey.code_policy`)
        self.compress = settings.compress  # None: MEMOKEY_COMPRESS decides per publish
        self.trust = TrustSettings(self.serializer, signing_key, allow_pickle, self.compress)
        self.verbose = verbose is True  # one line per call outcome (`memokey.observe`)
        self.ttl = check_ttl(ttl)  # seconds; None: entries never expire (`memokey.expiry`)
        # Hit-path caches (see the module docstring).
        self._roots = RootCache(self.root, self.storage_options)
        self._places = PlaceCache(self.namespace, self.logic_key, self.code)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(root={self.root!r}, namespace={self.namespace!r})"

    # -- decoration time -------------------------------------------------------------------

    def check(self, func: Callable[..., Any]) -> None:
        """Validate this runner against `func` when it is decorated (e.g. keyfunc names)."""
        logic_key = logic_key_of(func, self.logic_key)  # a malformed one fails now
        check_function_segment(func, function_id(func), logic_key)

    def set_code(self, func: Callable[..., Any], code: CodeMode | None) -> None:
        """``use_runner(runner, code=...)``: `func`'s own code mode on this runner."""
        mode = check_code_mode(code)
        if mode is not None:
            self._places.override(func, mode)

    # -- keying ------------------------------------------------------------------------------

    def _key_call(
        self, func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[Callable[..., Any], inspect.BoundArguments]:
        """The function and bound arguments the key describes (full arguments here)."""
        return func, bind_call(func, args, kwargs)

    def _target(
        self, func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Target:
        func, args = unbind(func, args)  # a bound method's object is keyed as `self`
        key_func, keyed = self._key_call(func, args, kwargs)
        if getattr(key_func, "__memokey_runner__", None) is not None:
            key_func = unwrap_memoized(key_func)
        place = self._places.get(key_func, self._roots.store(), own=key_func is func)
        code_keyed = place.code_version is not None  # code="key": arguments' classes too
        rule = self._key_rule() if code_keyed else None
        met: set[type] = set()
        digest = call_digest(key_func, keyed, code_classes=code_keyed, keyfunc=rule, met=met)
        target = Target(place, digest, keyed, self.trust.current())
        if met:
            target.classes = frozenset(met)
        return target

    def _key_rule(self) -> object:
        """What besides the function decides which calls share a key (a keyfunc)."""
        return None

    def target(
        self, func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Target:
        """The keyed call (store, entry path) as a real call would make it; nothing is
        read. For lifecycle tools (`memokey.lifecycle`)."""
        return self._target(unwrap_memoized(func), args, kwargs)

    def place(self, func: Callable[..., Any]) -> Place:
        """Where `func`'s entries live now (its function directory in the current root)."""
        return self._places.get(unwrap_memoized(func), self._roots.store(), own=True)

    def key_for(
        self, func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> MemoKey:
        """The key a call would use now (root chosen as for a real call); nothing is read."""
        return self._target(unwrap_memoized(func), args, kwargs).key

    # -- synchronous calls -----------------------------------------------------------------

    def __call__(
        self, func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        return self._call(self._target(func, args, kwargs), func, args, kwargs)

    def submit(
        self, func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Future[Any]:
        """`__call__` in the background (see `memokey.shims.fanout`); keying errors raise
        here at once, the call's own errors arrive through the future."""
        target = self._target(func, args, kwargs)
        context = contextvars.copy_context()  # the pool thread sees the caller's root()
        return fanout.submit(
            target.uri,
            lambda: context.run(self._call, target, func, args, kwargs),
            inline=self._inline,
        )

    @property
    def _inline(self) -> bool:
        """Whether a miss runs in the calling thread (then `submit` runs at once)."""
        return True

    def _call(
        self,
        target: Target,
        func: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:
        mode = current_mode()  # the one run-mode hook (`memokey.modes`)
        if mode is not None:
            return run_in_mode(
                mode,
                target,
                lambda: func(*args, **kwargs),
                lambda: self._refresh(target, func, args, kwargs),
                self.ttl,
                self._observe,
            )
        data = read_entry(target.store, target.path)  # the hit path: `lookup`, inlined
        if data is not None:
            if self.ttl is not None and expired(data, self.ttl):
                return self._renew(target, func, args, kwargs)
            logger.debug("hit %s", target.uri)
            value = target.trust.decode_result(data, target.uri)
            target.place.check_hit(data, target.uri)
            note_use(target.store, target.path, target.uri)  # background, once a day
            self._observe("hit", target, data=data)
            return value
        with thread_locks.hold(target.uri):
            # Another thread may have just published. With a lease, `_compute` checks
            # that before taking it; a process-local store takes none: look here.
            if target.store.process_local:
                found, value = lookup(target)
                if found:
                    logger.debug("hit %s", target.uri)
                    self._observe("hit", target)
                    return value
            logger.debug("miss %s", target.uri)
            self._observe("miss", target)
            return self._compute(target, func, args, kwargs)

    def refresh(
        self, func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        """Recompute the call here and replace its entry atomically (`memokey.lifecycle`)."""
        return self._refresh(self._target(func, args, kwargs), func, args, kwargs)

    def _refresh(
        self,
        target: Target,
        func: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:
        """Run the call in this thread and publish it by atomic overwrite: a reader sees
        the old entry or the new one, whole (no lease: concurrent refreshes each write a
        whole entry, the last one stays)."""
        with thread_locks.hold(target.uri), replacing():
            return Runner._run(self, target, func, args, kwargs)

    def _renew(
        self,
        target: Target,
        func: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:
        """An expired hit: recompute and replace it (unless another thread of this
        process just did)."""
        assert self.ttl is not None
        with thread_locks.hold(target.uri):
            data = read_entry(target.store, target.path)
            if data is not None and not expired(data, self.ttl):
                return decoded(target, data)[1]
            logger.debug("expired %s", target.uri)
            self._observe("miss", target)  # an expired entry is a miss (stats, on_event)
            with replacing():
                return Runner._run(self, target, func, args, kwargs)

    async def arefresh(
        self,
        func: Callable[..., Awaitable[Any]],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:
        """`refresh` for coroutine functions."""
        return await self._arefresh(self._target(func, args, kwargs), func, args, kwargs)

    async def _arefresh(
        self,
        target: Target,
        func: Callable[..., Awaitable[Any]],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:
        async with async_locks().hold(target.uri):
            with replacing():
                return await Runner._arun(self, target, func, args, kwargs)

    def _compute(
        self,
        target: Target,
        func: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:
        """The miss path: under the lease (other processes wait for us), run the call and
        publish its result; a waiter returns what the lease holder published."""
        if computing(target.uri):  # re-entered with the same arguments: we hold the lease
            return self._run(target, func, args, kwargs)
        if self.cache_errors:
            raise_failure(target.store, target.path, target.trust)
        while True:
            seen: list[Any] = []
            with self._exclusive(target, seen) as ours:
                if ours:
                    with computing_here(target.uri):
                        return self._run(target, func, args, kwargs)
            found, value = decoded(target, seen[0]) if seen else lookup(target)
            if found:
                self._observe("wait", target, data=seen[0] if seen else None)
                return value
            if self.cache_errors:
                raise_failure(target.store, target.path, target.trust)
            # Published, then deleted (memokey rm) before we read it: compete again.

    @contextlib.contextmanager
    def _exclusive(self, target: Target, seen: list[Any]) -> Iterator[bool]:
        """True: this caller computes (it holds the lock or lease until the block ends);
        False: the result (its bytes appended to `seen`) or, with `cache_errors`, an error
        was published while waiting."""
        store = target.store
        if store.process_local:  # one process sees it: the per-URI lock suffices
            yield True
            return
        local = _local_lock(target)
        if local is not None:  # blocks in the kernel while another process computes
            try:
                yield not self._published(target, seen)
            finally:
                local.release()
            return
        with holding_lease(
            store,
            target.path,
            done=lambda: self._published(target, seen),
            lease_seconds=self.lease_seconds,
        ) as lease:
            yield lease is not None

    def _published(self, target: Target, seen: list[Any]) -> bool:
        """One read of the entry (kept in `seen` for the caller to decode); with
        `cache_errors`, also whether an error is stored."""
        store = target.store
        data = read_entry(store, target.path)
        if data is not None:
            seen.append(data)
            return True
        return self.cache_errors and store.exists(target.sibling(ERROR))

    def _run(
        self,
        target: Target,
        func: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:
        """Run the call here and publish it (with `cache_errors`, publish its error too)."""
        started = time.time()
        clock = time.perf_counter()
        try:
            value = func(*args, **kwargs)
        except Exception as exc:
            self._observe("error", target, error=exc)
            if self.cache_errors:
                publish_failure(target.store, exc, target.path, target.trust.signer)
            raise
        finally:
            target.place.after_run()
            absorb_side_effects(target.classes)
        return self._publish(target, value, started, time.perf_counter() - clock)

    # -- coroutine functions ----------------------------------------------------------------

    async def acall(
        self,
        func: Callable[..., Awaitable[Any]],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:
        """`__call__` for coroutine functions; store I/O runs off the event loop."""
        target = self._target(func, args, kwargs)
        mode = current_mode()  # the one run-mode hook (`memokey.modes`)
        if mode is not None:
            return await arun_in_mode(
                mode,
                target,
                lambda: func(*args, **kwargs),
                lambda: self._arefresh(target, func, args, kwargs),
                self.ttl,
                self._observe,
            )
        data = await asyncio.to_thread(read_entry, target.store, target.path)
        if data is not None and self.ttl is not None and expired(data, self.ttl):
            logger.debug("expired %s", target.uri)
            self._observe("miss", target)
            return await self._arefresh(target, func, args, kwargs)
        found, value = await asyncio.to_thread(decoded, target, data)
        if found:
            note_use(target.store, target.path, target.uri)
            self._observe("hit", target, data=data)
        else:
            async with async_locks().hold(target.uri):
                found, value = await asyncio.to_thread(lookup, target)
                if not found:
                    logger.debug("miss %s", target.uri)
                    self._observe("miss", target)
                    return await self._acompute(target, func, args, kwargs)
                self._observe("hit", target)
        logger.debug("hit %s", target.uri)
        return value

    async def _acompute(
        self,
        target: Target,
        func: Callable[..., Awaitable[Any]],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:
        """The miss path for coroutine functions (see `_compute`); the lease is taken and
        released off the event loop, and released even if the task is cancelled."""
        if computing(target.uri):  # re-entered with the same arguments: we hold the lease
            return await self._arun(target, func, args, kwargs)
        if self.cache_errors:
            await asyncio.to_thread(raise_failure, target.store, target.path, target.trust)
        while True:
            seen: list[Any] = []
            acquiring = asyncio.ensure_future(asyncio.to_thread(self._acquire, target, seen))
            try:
                lease = await asyncio.shield(acquiring)
            except asyncio.CancelledError:
                acquiring.add_done_callback(_release_when_acquired)
                raise
            if lease is not None:
                try:
                    with computing_here(target.uri):
                        return await self._arun(target, func, args, kwargs)
                finally:
                    # Shielded: a second cancellation must not drop a queued release
                    # (the heartbeat would keep the orphaned lease alive forever).
                    await asyncio.shield(asyncio.to_thread(lease.release))
            if seen:
                found, value = await asyncio.to_thread(decoded, target, seen[0])
            else:
                found, value = await asyncio.to_thread(lookup, target)
            if found:
                self._observe("wait", target, data=seen[0] if seen else None)
                return value
            if self.cache_errors:
                await asyncio.to_thread(raise_failure, target.store, target.path, target.trust)

    def _acquire(self, target: Target, seen: list[Any]) -> Lease | LocalLock | None:
        """The lease (or local lock), or None once published. Also for process-local
        stores: asyncio locks are per event loop, so only the lease makes loops in other
        threads wait."""
        local = _local_lock(target)
        if local is not None:
            try:
                published = self._published(target, seen)
            except BaseException:
                local.release()
                raise
            if published:
                local.release()
                return None
            return local
        return acquire_or_wait(
            target.store,
            target.path,
            done=lambda: self._published(target, seen),
            lease_seconds=self.lease_seconds,
        )

    async def _arun(
        self,
        target: Target,
        func: Callable[..., Awaitable[Any]],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:
        started = time.time()
        clock = time.perf_counter()
        try:
            value = await func(*args, **kwargs)
        except Exception as exc:
            self._observe("error", target, error=exc)
            if self.cache_errors:
                await asyncio.to_thread(
                    publish_failure, target.store, exc, target.path, target.trust.signer
                )
            raise
        finally:
            target.place.after_run()
            absorb_side_effects(target.classes)
        duration = time.perf_counter() - clock
        return await asyncio.to_thread(self._publish, target, value, started, duration)

    # -- publishing --------------------------------------------------------------------------

    def _publish(self, target: Target, value: Any, started: float, duration: float) -> Any:
        """Write the entry once (exclusive; metadata trailer included); return the value
        callers get.

        Serialization errors raise before anything is written. Losing the exclusive write
        to another process means its equal result is already there: read and return it.
        """
        meta = entry_meta(target, runner=type(self).__name__, started=started, duration=duration)
        # The creation time `ttl` is checked against; the duration `stats` counts as saved.
        extra = stamped(target.place.extra, duration)
        parts = target.trust.encode_parts(value, target.path, extra=extra, meta=meta)
        try:
            write_entry(
                target.store,
                target.path,
                parts,
                exclusive=not replaces(),
                signer=target.trust.signer,
            )
        except WriteConflictError:
            logger.debug("lost the publish race for %s; using the stored result", target.uri)
            found, winner = lookup(target)
            return winner if found else value
        nbytes = sum(memoryview(part).nbytes for part in parts)
        self._observe("publish", target, nbytes=nbytes, seconds=duration)
        return value

    def _observe(
        self,
        kind: Outcome,
        target: Target,
        *,
        data: Any = None,
        nbytes: int = 0,
        seconds: float = 0.0,
        error: BaseException | None = None,
    ) -> None:
        """One call outcome, for `memokey.stats`, `on_event` and verbose lines."""
        record(
            kind,
            target.place.function_id,
            target.uri,
            data=data,
            nbytes=nbytes,
            seconds=seconds,
            error=error,
            verbose=self.verbose,
        )


def _local_lock(target: Target) -> LocalLock | None:
    """The kernel byte-range lock for `target`, held, on a plain local root; None
    elsewhere, and where the lock file cannot be made (a read-only or unusable root:
    the lease path then reports what is wrong as a `StoreError`)."""
    local_path = getattr(target.store, "local_path", None)
    where = None if local_path is None else local_path(target.path)
    lock = None if where is None else lock_for(where, target.digest)
    if lock is None:
        return None
    try:
        lock.acquire()
    except OSError:
        return None
    return lock


class MemoizingRunner(Runner):
    """The default runner: keys on the full arguments; runs the function on a miss.

    `shim` chooses where the function runs (None: `memokey.shims.same_thread`). A shim
    that runs elsewhere gets the call through the ``invocation`` stored under the memo URI
    and publishes ``result`` or ``error`` there; a remote exception is re-raised here with
    its type, message and remote traceback (a note). `lease_seconds` bounds how long other
    processes wait for a silent holder before taking over. `cache_errors=True` stores a
    failure in ``error`` and re-raises it on later calls instead of computing again.
    `signing_key` signs and verifies what is stored; `allow_pickle=False` decodes only
    formats that cannot run code (see `memokey.trust` and SECURITY.md).
    """

    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        *,
        shim: Shim | None = None,
        namespace: str = "default",
        serializer: str | Serializer = DEFAULT_SERIALIZER,
        storage_options: Mapping[str, Any] | None = None,
        logic_key: str | None = None,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        cache_errors: bool = False,
        code: CodeMode | None = None,
        signing_key: KeySpec | None = None,
        allow_pickle: bool | None = None,
        ttl: float | timedelta | None = None,
        verbose: bool = False,
        compress: CompressSpec = None,
    ) -> None:
        super().__init__(
            root,
            namespace=namespace,
            serializer=serializer,
            storage_options=storage_options,
            logic_key=logic_key,
            lease_seconds=lease_seconds,
            cache_errors=cache_errors,
            code=code,
            signing_key=signing_key,
            allow_pickle=allow_pickle,
            ttl=ttl,
            verbose=verbose,
            compress=compress,
        )
        self.shim: Shim = check_shim(shim) or same_thread

    def __repr__(self) -> str:
        return (
            f"MemoizingRunner(root={self.root!r}, namespace={self.namespace!r}, shim={self.shim!r})"
        )

    @property
    def _inline(self) -> bool:
        return isinstance(self.shim, SameThreadShim)

    def _run(
        self,
        target: Target,
        func: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:
        if isinstance(self.shim, SameThreadShim):
            return super()._run(target, func, args, kwargs)
        if not self.shim.runs_elsewhere:  # a thread pool: the value comes back in memory
            context = contextvars.copy_context()  # the pool thread sees our root()

            def call() -> Any:
                return context.run(Runner._run, self, target, func, args, kwargs)

            job = Job(call=call, memo_uri=target.uri, label=target.key.function_id)
            return self.shim.start(job).result()
        return self._run_elsewhere(target, func, args, kwargs)

    def _run_elsewhere(
        self,
        target: Target,
        func: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:
        """Upload the invocation, let the shim's far side run it, read the outcome back."""
        spec = select_root(self.root, self.storage_options)
        invocation = Invocation(
            func=func,
            args=args,
            kwargs=kwargs,
            serializer=self.serializer,
            context_root=spec.url if spec.source == "context" else None,
            function_id=target.key.function_id,
            digest=target.arguments_digest,
            code=target.place.extra,
            code_keyed=target.place.code_version is not None,
            compress=resolve_compression(target.trust.compress),
        )
        job = start_elsewhere(
            self.shim, target.store, target.path, invocation, spec.storage_options, target.trust
        )
        self.shim.start(job).result()
        return finish_elsewhere(
            self.shim, target.store, target.path, lambda: lookup(target), target.trust
        )

    async def _arun(
        self,
        target: Target,
        func: Callable[..., Awaitable[Any]],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:
        if not self.shim.runs_elsewhere:
            return await super()._arun(target, func, args, kwargs)
        return await asyncio.to_thread(self._run_elsewhere, target, func, args, kwargs)


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
        namespace: str = "default",
        serializer: str | Serializer = DEFAULT_SERIALIZER,
        storage_options: Mapping[str, Any] | None = None,
        logic_key: str | None = None,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        cache_errors: bool = False,
        code: CodeMode | None = None,
        signing_key: KeySpec | None = None,
        allow_pickle: bool | None = None,
        ttl: float | timedelta | None = None,
        verbose: bool = False,
        compress: CompressSpec = None,
    ) -> None:
        if not callable(keyfunc):
            raise ConfigurationError(
                f"keyfunc={keyfunc!r} is not callable; write e.g. keyfunc=memokey.nil_args("
                "'conn') or a function (c, args, kwargs) -> (c, args, kwargs)"
            )
        super().__init__(
            root,
            namespace=namespace,
            serializer=serializer,
            storage_options=storage_options,
            logic_key=logic_key,
            lease_seconds=lease_seconds,
            cache_errors=cache_errors,
            code=code,
            signing_key=signing_key,
            allow_pickle=allow_pickle,
            ttl=ttl,
            verbose=verbose,
            compress=compress,
        )
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

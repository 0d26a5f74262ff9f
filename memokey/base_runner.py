"""The runner every runner is: keying, the hit, the miss (compute once, publish) and
refresh, written once for plain and coroutine functions.

A call is a sequence of steps (`memokey._steps`): read the entry (a hit is ONE read);
on a miss take the per-URI lock of this process, claim the compute right across
processes (a kernel byte-range lock on local roots, a lease object elsewhere), run the
call and publish the entry, metadata trailer included, with ONE exclusive write (a loser
of the race returns the winner's value). `drive` runs those steps for a plain function,
`adrive` for a coroutine function (store I/O off the event loop); subclasses change
where a call runs (`_run` / `_arun`) and what is keyed (`_key_call`). A plain call's hit,
most calls, does not enter the steps at all (`__call__`).

A hit redoes nothing that does not depend on the call (store, names, path prefixes and
signature plan are cached: `RootCache`, `memokey._targets`, `memokey.keys`). Nothing a
miss writes is fsynced by default: the lease is ephemeral and the entry checksummed (see
`memokey.results` for the durability choice and its opt-in).
"""

from __future__ import annotations

import contextvars
import inspect
import logging
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import Future
from datetime import timedelta
from typing import Any, TypedDict

from memokey._compute_once import computing, computing_here
from memokey._decoded import decode as decode_again
from memokey._local_locks import LocalLock, lock_for
from memokey._steps import (
    Call,
    Claim,
    Io,
    Lock,
    Release,
    Run,
    Steps,
    Unlock,
    adrive,
    drive,
    original,
)
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
from memokey.code_policy import CodeMode, check_code_mode
from memokey.compression import CompressSpec
from memokey.errors import WriteConflictError
from memokey.expiry import check_ttl, expired, stamped
from memokey.identity import absorb_side_effects
from memokey.keys import (
    MemoKey,
    bind_call,
    call_digest,
    function_id,
    logic_key_of,
    positional_digest,
)
from memokey.layout import ERROR
from memokey.leases import Lease, acquire_or_wait
from memokey.modes import Mode, current_mode, in_mode, replaces, replacing
from memokey.names import check_function_segment
from memokey.observe import Outcome, record, record_hit
from memokey.remote import publish_failure, raise_failure
from memokey.results import DEFAULT_SERIALIZER, Serializer
from memokey.roots import RootCache
from memokey.settings import check_settings
from memokey.shims import fanout
from memokey.signing import KeySpec
from memokey.trust import TrustSettings
from memokey.usage import note_use

__all__ = ["DEFAULT_LEASE_SECONDS", "Runner", "RunnerOptions"]

logger = logging.getLogger("memokey")

DEFAULT_LEASE_SECONDS = 60.0
_UNREAD: Any = object()
Args = tuple[Any, ...]
Kwargs = dict[str, Any]
AsyncFunction = Callable[..., Awaitable[Any]]  # `_steps`: the entry has not been read yet


class RunnerOptions(TypedDict, total=False):
    """The settings every runner takes besides its root (see `Runner`); subclasses pass
    them through as ``**options``."""

    namespace: str
    serializer: str | Serializer
    storage_options: Mapping[str, Any] | None
    logic_key: str | None
    lease_seconds: float
    cache_errors: bool
    code: CodeMode | None
    signing_key: KeySpec | None
    allow_pickle: bool | None
    ttl: float | timedelta | None
    verbose: bool
    compress: CompressSpec


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
        # Keys the call as given (no keyfunc): `_target` may skip binding.
        kind = type(self)
        self._keys_itself = (
            kind._key_call is Runner._key_call and kind._key_rule is Runner._key_rule
        )

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
        if not kwargs and self._keys_itself:  # the commonest call, keyed without binding
            positional = positional_digest(func, args)
            if positional is not None:
                place = self._places.get(func, self._roots.store(), own=True)
                return Target(place, positional[0], positional[1], self.trust.current())
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

    # -- calls -------------------------------------------------------------------------------

    def __call__(
        self, func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        target = self._target(func, args, kwargs)
        mode = current_mode()  # the one run-mode hook (`memokey.modes`)
        if mode is not None:
            return drive(self._steps(target, Call(func, args, kwargs), mode))
        # The hit, without the steps machinery: it is most calls, and ONE read.
        data = read_entry(target.store, target.path)
        if data is None or (self.ttl is not None and expired(data, self.ttl)):
            return drive(self._steps(target, Call(func, args, kwargs), None, data))
        value = decode_again(target.trust, data, target.uri)
        target.place.check_hit(data, target.uri)
        self._served(target, data)
        return value

    async def acall(self, func: AsyncFunction, args: Args, kwargs: Kwargs) -> Any:
        """`__call__` for coroutine functions; store I/O runs off the event loop."""
        target = self._target(func, args, kwargs)
        return await adrive(self._steps(target, Call(func, args, kwargs), current_mode()))

    def submit(
        self, func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Future[Any]:
        """`__call__` in the background (see `memokey.shims.fanout`); keying errors raise
        here at once, the call's own errors arrive through the future."""
        target = self._target(func, args, kwargs)
        context = contextvars.copy_context()  # the pool thread sees the caller's root()
        return fanout.submit(
            target.uri,
            lambda: context.run(self._call, target, Call(func, args, kwargs)),
            inline=self._inline,
        )

    @property
    def _inline(self) -> bool:
        """Whether a miss runs in the calling thread (then `submit` runs at once)."""
        return True

    def _call(self, target: Target, call: Call) -> Any:
        return drive(self._steps(target, call, current_mode()))

    def refresh(
        self, func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        """Recompute the call here and replace its entry atomically (`memokey.lifecycle`)."""
        return drive(
            self._refresh_steps(self._target(func, args, kwargs), Call(func, args, kwargs))
        )

    async def arefresh(self, func: AsyncFunction, args: Args, kwargs: Kwargs) -> Any:
        """`refresh` for coroutine functions."""
        target = self._target(func, args, kwargs)
        return await adrive(self._refresh_steps(target, Call(func, args, kwargs)))

    def _run(self, target: Target, call: Call) -> Any:
        """Run the call here and publish it (subclasses: where else it may run)."""
        return drive(self._run_steps(target, call))

    async def _arun(self, target: Target, call: Call) -> Any:
        return await adrive(self._run_steps(target, call))

    # -- the steps of a call (`memokey._steps`) -----------------------------------------------

    def _steps(self, target: Target, call: Call, mode: Mode | None, data: Any = _UNREAD) -> Steps:
        """A call in run mode `mode` (None: normal): the hit, or the miss computed once
        and published. `data`: the entry's bytes when the caller has read them."""
        if mode is not None:
            return (
                yield from in_mode(
                    mode,
                    target,
                    call,
                    lambda: self._refresh_steps(target, call),
                    self.ttl,
                    self._observe,
                )
            )
        if data is _UNREAD:
            data = yield Io(read_entry, (target.store, target.path))
        if data is not None:
            if self.ttl is not None and expired(data, self.ttl):
                return (yield from _locked(target, self._renew_steps(target, call)))
            _, value = yield Io(decoded, (target, data))
            self._served(target, data)
            return value
        return (yield from _locked(target, self._miss_steps(target, call)))

    def _miss_steps(self, target: Target, call: Call) -> Steps:
        """A miss, under the per-URI lock of this process."""
        # Another caller of this process may have just published. With a lease, the
        # claim checks that before taking it; a process-local store takes none: look here.
        if target.store.process_local:
            found, value = yield Io(lookup, (target,))
            if found:
                logger.debug("hit %s", target.uri)
                self._observe("hit", target)
                return value
        logger.debug("miss %s", target.uri)
        self._observe("miss", target)
        if computing(target.uri):  # re-entered with the same arguments: we hold the lease
            return (yield from self._run_call(target, call))
        while True:
            if self.cache_errors:
                yield Io(raise_failure, (target.store, target.path, target.trust))
            seen: list[Any] = []
            claim = yield Claim(self, target, seen)
            if claim is not None:  # ours to compute; other processes wait for it
                try:
                    with computing_here(target.uri):
                        return (yield from self._run_call(target, call))
                finally:
                    yield Release(claim)
            # Published while we waited: read it (or compete again if it was deleted).
            found, value = yield (Io(decoded, (target, seen[0])) if seen else Io(lookup, (target,)))
            if found:
                self._observe("wait", target, data=seen[0] if seen else None)
                return value

    def _run_call(self, target: Target, call: Call) -> Steps:
        """Run the call and publish it: in this driver when it runs in the calling thread
        (`_inline`, where `_run` / `_arun` would only drive `_run_steps` again, a second
        driver per miss), else where the runner runs calls (the `Run` step)."""
        if self._inline:
            return (yield from self._run_steps(target, call))
        return (yield Run(self, target, call))

    def _renew_steps(self, target: Target, call: Call) -> Steps:
        """An expired hit, under the per-URI lock: recompute and replace it (unless
        another caller of this process just did)."""
        assert self.ttl is not None
        data = yield Io(read_entry, (target.store, target.path))
        if data is not None and not expired(data, self.ttl):
            return (yield Io(decoded, (target, data)))[1]
        logger.debug("expired %s", target.uri)
        self._observe("miss", target)  # an expired entry is a miss (stats, on_event)
        return (yield from self._replace_steps(target, call))

    def _refresh_steps(self, target: Target, call: Call) -> Steps:
        """Run the call here and publish it by atomic overwrite: a reader sees the old
        entry or the new one, whole (no lease: concurrent refreshes each write a whole
        entry, the last one stays)."""
        return (yield from _locked(target, self._replace_steps(target, call)))

    def _replace_steps(self, target: Target, call: Call) -> Steps:
        with replacing():
            return (yield from self._run_steps(target, call))

    def _run_steps(self, target: Target, call: Call) -> Steps:
        """Run the call here and publish it (with `cache_errors`, publish its error too)."""
        started = time.time()
        clock = time.perf_counter()
        try:
            value = yield call
        except Exception as exc:
            error = original(exc)  # what the function raised
            self._observe("error", target, error=error)
            if self.cache_errors:
                yield Io(publish_failure, (target.store, error, target.path, target.trust.signer))
            raise
        finally:
            target.place.after_run()
            absorb_side_effects(target.classes)
        duration = time.perf_counter() - clock
        return (yield Io(self._publish, (target, value, started, duration)))

    def _served(self, target: Target, data: Any) -> None:
        """A hit was returned: its use is noted, its outcome observed."""
        logger.debug("hit %s", target.uri)
        note_use(target.store, target.path, target.uri)  # background, once a day
        record_hit(target.place.function_id, target.uri, data, self.verbose)

    # -- compute once across processes -------------------------------------------------------

    def _claim(self, target: Target, seen: list[Any]) -> Lease | LocalLock | None:
        """The local lock or the lease, held; None once the result (its bytes appended
        to `seen`) or, with `cache_errors`, an error was published while waiting."""
        local = _local_lock(target)
        if local is not None:  # blocks in the kernel while another process computes
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

    def _published(self, target: Target, seen: list[Any]) -> bool:
        """One read of the entry (kept in `seen` for the caller to decode); with
        `cache_errors`, also whether an error is stored."""
        store = target.store
        data = read_entry(store, target.path)
        if data is not None:
            seen.append(data)
            return True
        return self.cache_errors and store.exists(target.sibling(ERROR))

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


def _locked(target: Target, steps: Steps) -> Steps:
    """`steps` under the per-URI lock of this process (re-entrant)."""
    yield Lock(target.uri)
    try:
        return (yield from steps)
    finally:
        yield Unlock()


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

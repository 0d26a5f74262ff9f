"""One call path for plain and coroutine functions: steps, and a driver for each.

The miss path (lock, claim the lease, run, publish, or read what another caller
published) is written once, as a generator that yields the steps it needs done
(`Io`, `Call`, `Run`, `Lock`/`Unlock`, `Claim`/`Release`) and gets their results back.
`drive` performs each step in the calling thread; `adrive` runs store I/O in a worker
thread (off the event loop), awaits the function, and keeps a lease claimed while the
task is cancelled from leaking. An error a step raises is thrown back into the
generator, so its ``finally`` blocks (releases) run as steps too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Generator
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from memokey._compute_once import async_locks, thread_locks

if TYPE_CHECKING:
    from memokey._targets import Target

__all__ = [
    "Call",
    "Claim",
    "Claimant",
    "Io",
    "Lock",
    "Release",
    "Run",
    "Steps",
    "Unlock",
    "adrive",
    "drive",
    "original",
]


class Releasable(Protocol):
    def release(self) -> None: ...


class Claimant(Protocol):
    """What claims a call's compute right and runs it (a runner)."""

    def _claim(self, target: Target, seen: list[Any]) -> Releasable | None: ...

    def _run(self, target: Target, call: Call) -> Any: ...

    async def _arun(self, target: Target, call: Call) -> Any: ...


@dataclass(frozen=True)
class Io:
    """Blocking store work: ``fn(*args)`` (async: in a worker thread)."""

    fn: Callable[..., Any]
    args: tuple[Any, ...]


@dataclass(frozen=True)
class Call:
    """The user's function, called here (async: awaited)."""

    func: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]


@dataclass(frozen=True)
class Run:
    """Run the call and publish it where the runner runs calls (its shim)."""

    runner: Claimant
    target: Target
    call: Call


@dataclass(frozen=True)
class Lock:
    """Take the in-process per-URI lock (a thread lock; async: the loop's asyncio lock)."""

    uri: str


@dataclass(frozen=True)
class Unlock:
    """Give back the innermost `Lock`."""


@dataclass(frozen=True)
class Claim:
    """The compute right across processes: a held lock or lease, or None when the result
    (its bytes appended to `seen`) was published meanwhile."""

    runner: Claimant
    target: Target
    seen: list[Any]


@dataclass(frozen=True)
class Release:
    """Give back what `Claim` returned (async: shielded from cancellation)."""

    claim: Releasable


Step = Io | Call | Run | Lock | Unlock | Claim | Release
Steps = Generator[Step, Any, Any]


class _HeldInProcess:
    """The claim of a process-local store in a thread: the per-URI lock held already."""

    def release(self) -> None:
        pass


_IN_PROCESS = _HeldInProcess()


class _Raised(Exception):
    """A `StopIteration` a step of a plain call raised, carried through the generator
    (which would turn it into a RuntimeError, PEP 479) and raised unchanged by `drive`."""

    def __init__(self, original: StopIteration) -> None:
        super().__init__(original)
        self.original = original


class _Exiting(BaseException):
    """A `GeneratorExit` a step raised (the function's own), carried through the
    generator: thrown in as is, it would close the generators a ``yield from`` delegates
    to, whose ``finally`` cannot yield its `Release`/`Unlock` steps ("generator ignored
    GeneratorExit"), leaving the call's lock or lease held. Not an `Exception`, like
    what it carries, so no ``except Exception`` of a step takes it for an error."""

    def __init__(self, original: GeneratorExit) -> None:
        super().__init__(original)
        self.original = original


def _carried(exc: BaseException) -> BaseException:
    """What to throw into the generator for an error a step raised."""
    if isinstance(exc, StopIteration):
        return _Raised(exc)
    if isinstance(exc, GeneratorExit):
        return _Exiting(exc)
    return exc


def original(exc: BaseException) -> BaseException:
    """What a step really raised (the function's own error, for reports and caching)."""
    return exc.original if isinstance(exc, _Raised) else exc


def drive(steps: Steps) -> Any:
    """Perform `steps` in this thread; return what the generator returns."""
    performer = _InThread()
    try:
        step = next(steps)
        while True:
            step = _resume(steps, performer.perform, step)
    except StopIteration as stop:
        return stop.value
    except (_Raised, _Exiting) as raised:
        raise raised.original from None
    finally:
        performer.unwind()


def _resume(steps: Steps, perform: Callable[[Step], Any], step: Step) -> Step:
    """Perform `step` and give the generator its result or its error; its next step."""
    try:
        result = perform(step)
    except BaseException as exc:  # StopIteration and GeneratorExit are carried (`_carried`)
        return steps.throw(_carried(exc))
    return steps.send(result)


async def adrive(steps: Steps) -> Any:
    """Perform `steps` for a coroutine function; return what the generator returns."""
    performer = _OnLoop()
    outcome: tuple[Any] | BaseException = (None,)
    try:
        step = next(steps)
        while True:
            try:
                outcome = (await performer.perform(step),)
            except BaseException as exc:
                outcome = exc
            step = (
                steps.throw(_carried(outcome))
                if isinstance(outcome, BaseException)
                else steps.send(outcome[0])
            )
    except StopIteration as stop:
        return stop.value
    except (_Raised, _Exiting) as raised:
        raise raised.original from None
    finally:
        outcome = (None,)  # no cycle through a traceback
        await performer.unwind()


class _InThread:
    """Steps of a plain call, in the calling thread."""

    def __init__(self) -> None:
        self.held: list[AbstractContextManager[None]] = []

    def perform(self, step: Step) -> Any:
        if isinstance(step, Io):
            return step.fn(*step.args)
        if isinstance(step, Call):
            return step.func(*step.args, **step.kwargs)
        if isinstance(step, Run):
            return step.runner._run(step.target, step.call)
        if isinstance(step, Lock):
            lock = thread_locks.hold(step.uri)
            lock.__enter__()
            self.held.append(lock)
            return None
        if isinstance(step, Unlock):
            self.held.pop().__exit__(None, None, None)
            return None
        if isinstance(step, Claim):
            if step.target.store.process_local:  # one process sees it: the URI lock suffices
                return _IN_PROCESS
            return step.runner._claim(step.target, step.seen)
        step.claim.release()
        return None

    def unwind(self) -> None:
        while self.held:  # only if the generator failed between Lock and Unlock
            self.held.pop().__exit__(None, None, None)


class _OnLoop:
    """Steps of a coroutine function: store I/O in worker threads, off the event loop."""

    def __init__(self) -> None:
        self.held: list[AbstractAsyncContextManager[None]] = []

    async def perform(self, step: Step) -> Any:
        if isinstance(step, Io):
            return await asyncio.to_thread(step.fn, *step.args)
        if isinstance(step, Call):
            return await step.func(*step.args, **step.kwargs)
        if isinstance(step, Run):
            return await step.runner._arun(step.target, step.call)
        if isinstance(step, Lock):
            lock = async_locks().hold(step.uri)
            await lock.__aenter__()
            self.held.append(lock)
            return None
        if isinstance(step, Unlock):
            await self.held.pop().__aexit__(None, None, None)
            return None
        if isinstance(step, Claim):
            # Also for process-local stores: asyncio locks are per event loop, so only
            # the lease makes loops in other threads wait.
            claiming = asyncio.ensure_future(
                asyncio.to_thread(step.runner._claim, step.target, step.seen)
            )
            try:
                return await asyncio.shield(claiming)
            except asyncio.CancelledError:
                claiming.add_done_callback(_release_when_claimed)
                raise
        # Shielded: a second cancellation must not drop a queued release (the heartbeat
        # would keep the orphaned lease alive forever).
        await asyncio.shield(asyncio.to_thread(step.claim.release))
        return None

    async def unwind(self) -> None:
        while self.held:
            await self.held.pop().__aexit__(None, None, None)


def _release_when_claimed(claiming: asyncio.Future[Any]) -> None:
    """A cancelled caller's lease, claimed after it stopped waiting, is released at once."""
    if not claiming.cancelled() and claiming.exception() is None:
        claim = claiming.result()
        if claim is not None:
            claim.release()

"""The shim interface: where a memoized call runs on a miss.

A runner decides hit or miss and holds the lease; a shim only runs the call. Shims come
in two kinds, told apart by `Shim.runs_elsewhere`:

* in-process (same thread, a thread pool): `start` runs ``job.call()`` and the future's
  value is the function's value;
* elsewhere (a child process, a Dask cluster, Ray, Kubernetes, ...): before `start` the
  runner stores the ``invocation`` under ``job.memo_uri``; the shim makes some process run
  ``memokey.remote.execute(job.memo_uri, job.storage_options)`` (or the command
  ``python -m memokey run URI`` with ``MEMOKEY_STORAGE_OPTIONS`` set), which publishes
  ``result`` or ``error``. The future's value is ignored; the runner reads the outcome from
  the store (pass ``signed=job.signed`` to `execute`, so that a worker without the
  signing key refuses a signed caller's call). The future fails only when the shim itself
  failed (could not start, the process died without publishing): raise `ShimError`
  saying what to check.

To add a backend, subclass `Shim`, set ``runs_elsewhere = True`` and implement `start`.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from memokey.errors import ShimError
from memokey.remote import execute
from memokey_backends.protocol import Store

__all__ = ["ExecutorShim", "Job", "SameThreadShim", "Shim", "same_thread"]


@dataclass(frozen=True)
class Job:
    """One call to run. In-process shims use `call`; shims that run elsewhere use
    `memo_uri` and `storage_options` (how to open it: credentials never go in the store)."""

    call: Callable[[], Any]
    memo_uri: str
    storage_options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    label: str = ""
    # Variables the far side's environment needs (the signing key); a subprocess shim
    # sets them for its child, workers elsewhere must have them already.
    environment: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}), repr=False)
    # The caller signed the invocation: a far side without a key must refuse to run it
    # (pass it on as ``execute(..., signed=job.signed)``), never run it unverified.
    signed: bool = False


class Shim(abc.ABC):
    """Where a call runs. Subclass it to add an execution backend (see module docstring)."""

    runs_elsewhere: bool = False
    """True: the call runs in another process, from the ``invocation`` in the store."""

    def check_store(self, store: Store) -> None:
        """Refuse a store the far side cannot see (``memory://`` lives in one process)."""
        if self.runs_elsewhere and store.process_local:
            raise ShimError(
                f"{self!r} runs calls in another process, which cannot see the "
                f"process-local root {store.url}; use a root every worker can reach "
                "(file:// on a shared disk, s3://, gs://, az://) or the same_thread shim.",
                root=store.url,
            )

    @abc.abstractmethod
    def start(self, job: Job) -> Future[Any]:
        """Start running `job`; the future completes when it is done (module docstring)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class SameThreadShim(Shim):
    """Calls the function directly in the caller's thread: the default."""

    def start(self, job: Job) -> Future[Any]:
        future: Future[Any] = Future()
        future.set_running_or_notify_cancel()
        try:
            future.set_result(job.call())
        except Exception as exc:
            future.set_exception(exc)
        return future

    def __repr__(self) -> str:
        return "same_thread"


same_thread = SameThreadShim()
"""The default shim: a miss runs in the calling thread, nothing is uploaded."""


class ExecutorShim(Shim):
    """Runs calls on any `concurrent.futures.Executor`.

    A `ThreadPoolExecutor` runs them in this process (nothing uploaded); any other executor
    (`ProcessPoolExecutor`, `distributed.Client.get_executor()`, ...) is treated as running
    elsewhere and is sent `memokey.remote.execute` with the memo URI, which must pickle. Pass
    ``runs_elsewhere=`` to override the guess. Give a `ProcessPoolExecutor` a "spawn" or
    "forkserver" context: forking a process with live threads (memokey's lease heartbeat,
    your own) can deadlock the child, and Python 3.14 stops forking by default.
    """

    def __init__(self, executor: Executor, *, runs_elsewhere: bool | None = None) -> None:
        self.executor = executor
        self.runs_elsewhere = (
            not isinstance(executor, ThreadPoolExecutor)
            if runs_elsewhere is None
            else runs_elsewhere
        )

    def start(self, job: Job) -> Future[Any]:
        try:
            if self.runs_elsewhere:
                return self.executor.submit(
                    execute, job.memo_uri, dict(job.storage_options), signed=job.signed
                )
            return self.executor.submit(job.call)
        except RuntimeError as exc:  # shut down executors refuse new work this way
            raise ShimError(
                f"{self!r} refused {job.label or job.memo_uri}: {exc}. Keep the executor "
                "open while memoized calls use it.",
            ) from exc

    def __repr__(self) -> str:
        return f"ExecutorShim({type(self.executor).__name__})"

"""Where a memoized call runs on a miss: here, in a child process, on a cluster.

``same_thread`` (the default) calls the function directly; ``subprocess_shim`` runs it in
a fresh ``python -m memokey run URI`` child; ``DaskShim(client)`` on a `dask.distributed`
cluster; ``ExecutorShim(executor)`` on any `concurrent.futures.Executor`. To add another
backend (Ray, Kubernetes, a batch queue), subclass `Shim`: see `memokey.shims.base`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from memokey.shims.base import ExecutorShim, Job, SameThreadShim, Shim, same_thread
from memokey.shims.process import SubprocessShim, subprocess_shim

if TYPE_CHECKING:
    from memokey.shims.dask_shim import DaskShim

__all__ = [
    "DaskShim",
    "ExecutorShim",
    "Job",
    "SameThreadShim",
    "Shim",
    "SubprocessShim",
    "same_thread",
    "subprocess_shim",
]


def __getattr__(name: str) -> Any:
    # DaskShim is imported on first use so that `import memokey` never needs dask.
    if name == "DaskShim":
        from memokey.shims.dask_shim import DaskShim

        return DaskShim
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

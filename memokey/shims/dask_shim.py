"""The Dask shim: runs calls on a `dask.distributed` cluster.

Each miss becomes one task, ``memokey.remote.execute(memo_uri, storage_options)``, so a
worker reads the invocation from the store and publishes the outcome there; nothing but
the URI and the options goes through the scheduler. Workers must reach the same root as
the caller (a shared disk, S3, GCS, Azure), which is why process-local roots are refused,
and must have the function's packages installed.
"""

from __future__ import annotations

from concurrent.futures import Future
from typing import Any

from memokey.errors import ShimError
from memokey.remote import execute
from memokey.shims.base import Job, Shim

__all__ = ["DaskShim"]


class DaskShim(Shim):
    """``DaskShim(client)``: submit each miss to the cluster behind a `distributed.Client`.

    `submit_kwargs` (for example ``resources={"GPU": 1}`` or ``retries=2``) are passed to
    every `Client.submit`.
    """

    runs_elsewhere = True

    def __init__(self, client: Any, **submit_kwargs: Any) -> None:
        if not hasattr(client, "submit"):
            raise ShimError(
                f"DaskShim needs a distributed.Client, got {client!r}; create one with "
                "`distributed.Client(address)` (install memokey[dask]).",
            )
        self.client = client
        self.submit_kwargs = submit_kwargs

    def start(self, job: Job) -> Future[Any]:
        try:
            task = self.client.submit(
                execute,
                job.memo_uri,
                dict(job.storage_options),
                signed=job.signed,
                pure=False,
                key=f"memokey-{job.label or 'call'}-{_suffix(job.memo_uri)}",
                **self.submit_kwargs,
            )
        except Exception as exc:
            raise ShimError(
                f"the Dask cluster refused {job.label or job.memo_uri}: "
                f"{type(exc).__name__}: {exc}; check that the client is connected.",
            ) from exc
        future: Future[Any] = Future()
        future.set_running_or_notify_cancel()

        def relay(done: Any) -> None:
            try:
                future.set_result(done.result())
            except BaseException as exc:
                future.set_exception(exc)

        task.add_done_callback(relay)
        return future

    def __repr__(self) -> str:
        return f"DaskShim({self.client!r})"


def _suffix(memo_uri: str) -> str:
    """The digest (last path part) plus a unique tag: Dask keys must not collide."""
    import uuid

    return f"{memo_uri.rstrip('/').rsplit('/', 1)[-1][:12]}-{uuid.uuid4().hex[:8]}"

"""The runner's side of running a miss elsewhere: upload, start, wait, read back.

Kept apart from `memokey.runners` so the runner only decides *whether* to compute; this
module knows the far-side protocol (`memokey.remote`). The caller holds the lease the
whole time, so nobody else computes the same call meanwhile.

After a successful remote run the ``invocation`` is deleted; after a failure it stays
beside ``error``, so ``memokey run URI`` reproduces the failure by hand.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from memokey.errors import ShimError
from memokey.remote import ERROR, INVOCATION, Invocation, encode_invocation, raise_failure
from memokey.shims.base import Job, Shim
from memokey_backends.protocol import Store

__all__ = ["finish_elsewhere", "start_elsewhere"]


def start_elsewhere(
    shim: Shim,
    store: Store,
    memo_dir: str,
    invocation: Invocation,
    storage_options: Mapping[str, Any],
) -> Job:
    """Check the root, clear an old error, upload the invocation; the job to start."""
    shim.check_store(store)
    store.delete(f"{memo_dir}/{ERROR}")
    store.write(f"{memo_dir}/{INVOCATION}", encode_invocation(invocation))

    def refuse_local_call() -> Any:  # a shim that runs elsewhere must not call it
        raise ShimError(f"{shim!r} runs calls elsewhere; it must not call Job.call")

    return Job(
        call=refuse_local_call,
        memo_uri=store.uri(memo_dir),
        storage_options=storage_options,
        label=invocation.function_id,
    )


def finish_elsewhere(
    shim: Shim,
    store: Store,
    memo_dir: str,
    lookup: Callable[[], tuple[bool, Any]],
) -> Any:
    """After the shim's future completed: the published value, or the published error
    re-raised, or `ShimError` when the far side published neither."""
    found, value = lookup()
    if found:
        store.delete(f"{memo_dir}/{INVOCATION}")
        return value
    raise_failure(store, memo_dir)
    raise ShimError(
        f"{shim!r} finished {store.uri(memo_dir)} without publishing a result or an error; "
        "check the far side's logs (it must run `python -m memokey run URI` with the same "
        "memokey version and reach the same root).",
        uri=store.uri(memo_dir),
    )

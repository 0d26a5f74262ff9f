"""The runner's side of running a miss elsewhere: upload, start, wait, read back.

Kept apart from `memokey.runners` so the runner only decides *whether* to compute; this
module knows the far-side protocol (`memokey.remote`). The caller holds the lease the
whole time, so nobody else computes the same call meanwhile.

After a successful remote run the ``{entry}.invocation`` is deleted; after a failure it
stays beside ``{entry}.error``, so ``memokey run URI`` reproduces the failure by hand.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from memokey.errors import ShimError, SignatureError
from memokey.layout import ERROR, INVOCATION, sibling
from memokey.remote import Invocation, encode_invocation, raise_failure
from memokey.shims.base import Job, Shim
from memokey.signing import RUN_KEY_ENV, SIGNING_KEY_ENV
from memokey.trust import ALLOW_PICKLE_ENV, OPEN, Trust
from memokey_backends.protocol import Store

__all__ = ["finish_elsewhere", "start_elsewhere"]


def start_elsewhere(
    shim: Shim,
    store: Store,
    memo_dir: str,
    invocation: Invocation,
    storage_options: Mapping[str, Any],
    trust: Trust = OPEN,
) -> Job:
    """Check the root, clear an old error, upload the invocation (signed when `trust`
    has a key, which the job's environment then carries); the job to start."""
    if not trust.allow_pickle:
        raise ShimError(
            f"{shim!r} sends the call as a pickle, and pickle is refused (allow_pickle=False "
            f"or {ALLOW_PICKLE_ENV}=0); use the same-thread shim for this function, or "
            "allow pickle and protect the store with a signing key",
        )
    shim.check_store(store)
    store.delete(sibling(memo_dir, ERROR))
    path = sibling(memo_dir, INVOCATION)
    store.write(path, encode_invocation(invocation, trust.signer, path))
    environment: dict[str, str] = {}
    if trust.signer is not None:
        environment[RUN_KEY_ENV] = trust.signer.environment_value

    def refuse_local_call() -> Any:  # a shim that runs elsewhere must not call it
        raise ShimError(f"{shim!r} runs calls elsewhere; it must not call Job.call")

    return Job(
        call=refuse_local_call,
        memo_uri=store.uri(memo_dir),
        storage_options=storage_options,
        label=invocation.function_id,
        environment=environment,
        signed=trust.signer is not None,
    )


def finish_elsewhere(
    shim: Shim,
    store: Store,
    memo_dir: str,
    lookup: Callable[[], tuple[bool, Any]],
    trust: Trust = OPEN,
) -> Any:
    """After the shim's future completed: the published value, or the published error
    re-raised, or `ShimError` when the far side published neither."""
    try:
        found, value = lookup()
    except SignatureError as exc:
        raise SignatureError(
            f"{exc} (It was just published by {shim!r}'s far side: does it have the "
            f"signing key? Set {SIGNING_KEY_ENV} in the workers' environment.)",
            uri=getattr(exc, "uri", store.uri(memo_dir)),
        ) from exc
    if found:
        store.delete(sibling(memo_dir, INVOCATION))
        return value
    raise_failure(store, memo_dir, trust)
    raise ShimError(
        f"{shim!r} finished {store.uri(memo_dir)} without publishing a result or an error; "
        "check the far side's logs (it must run `python -m memokey run URI` with the same "
        "memokey version and reach the same root).",
        uri=store.uri(memo_dir),
    )

"""The default runner: keys on the full arguments and runs the function on a miss, in
this thread or wherever its shim sends it (`memokey.shims`)."""

from __future__ import annotations

import asyncio
import contextvars
import os
from typing import TYPE_CHECKING, Any

from memokey._steps import Call
from memokey._targets import Target, lookup
from memokey.base_runner import Runner, RunnerOptions
from memokey.compression import resolve as resolve_compression
from memokey.remote import Invocation
from memokey.roots import select_root
from memokey.settings import check_shim
from memokey.shims.base import Job, SameThreadShim, Shim, same_thread
from memokey.shims.dispatch import finish_elsewhere, start_elsewhere

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["MemoizingRunner"]


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
        **options: Unpack[RunnerOptions],
    ) -> None:
        super().__init__(root, **options)
        self.shim: Shim = check_shim(shim) or same_thread

    def __repr__(self) -> str:
        return (
            f"MemoizingRunner(root={self.root!r}, namespace={self.namespace!r}, shim={self.shim!r})"
        )

    @property
    def _inline(self) -> bool:
        return isinstance(self.shim, SameThreadShim)

    def _run(self, target: Target, call: Call) -> Any:
        if isinstance(self.shim, SameThreadShim):
            return super()._run(target, call)
        if not self.shim.runs_elsewhere:  # a thread pool: the value comes back in memory
            context = contextvars.copy_context()  # the pool thread sees our root()

            def run() -> Any:
                return context.run(Runner._run, self, target, call)

            job = Job(call=run, memo_uri=target.uri, label=target.key.function_id)
            return self.shim.start(job).result()
        return self._run_elsewhere(target, call)

    def _run_elsewhere(self, target: Target, call: Call) -> Any:
        """Upload the invocation, let the shim's far side run it, read the outcome back."""
        spec = select_root(self.root, self.storage_options)
        invocation = Invocation(
            func=call.func,
            args=call.args,
            kwargs=call.kwargs,
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

    async def _arun(self, target: Target, call: Call) -> Any:
        if not self.shim.runs_elsewhere:
            return await super()._arun(target, call)
        return await asyncio.to_thread(self._run_elsewhere, target, call)

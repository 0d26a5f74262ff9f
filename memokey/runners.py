"""Runners decide hit or miss, compute once, and publish the result.

A runner is called as ``runner(func, args, kwargs)`` (``await runner.acall(...)`` for
coroutine functions). It keys the call, reads the entry (a hit is ONE read), and on a miss
computes once (a per-URI lock in the process; across processes a kernel byte-range lock on
local roots, a lease object elsewhere) and publishes the entry, metadata trailer included,
with ONE exclusive write (a loser of the race returns the winner's value).

The runners live in their own modules; this one names them in one place:

* `memokey.base_runner.Runner`: keying, the hit, the miss and refresh, written once as
  steps (`memokey._steps`) that a sync and an async driver perform;
* `memokey.memoizing_runner.MemoizingRunner`: full-argument keys, misses run by a shim;
* `memokey.keyed_runner.KeyedLocalRunner`: keys from a keyfunc, misses run here.
"""

from __future__ import annotations

from memokey.base_runner import DEFAULT_LEASE_SECONDS, Runner
from memokey.keyed_runner import KeyedLocalRunner
from memokey.keys import MemoKey
from memokey.memoizing_runner import MemoizingRunner

__all__ = ["DEFAULT_LEASE_SECONDS", "KeyedLocalRunner", "MemoKey", "MemoizingRunner", "Runner"]

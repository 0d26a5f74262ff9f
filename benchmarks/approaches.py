"""The ways of turning an argument into a key that the hashing benchmarks compare.

memokey's digest, the peers users come from (joblib.hash, dask's tokenize, pickle +
xxh3_128) and the ceiling: raw xxh3_128 over the argument's memory, which runs at memory
bandwidth. A peer that cannot hash an input in reasonable time and memory is skipped on
it, with the reason recorded in the results instead of a number.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from typing import Any

import xxhash

from benchmarks.cases import Built, Case, MiB

CEILING = "xxh3_128 raw"
MEMOKEY = "memokey"
PICKLE_DUMPS = "pickle.dumps"

# Display order; the report and the plot use it too.
APPROACHES = (MEMOKEY, "joblib.hash", "dask.tokenize", "pickle+xxh3_128", PICKLE_DUMPS, CEILING)


def _memokey(obj: Any) -> str:
    from memokey.hashing import digest

    return digest(obj)


def _joblib(obj: Any) -> str:
    import joblib

    return str(joblib.hash(obj))


def _dask(obj: Any) -> str:
    from dask.base import tokenize

    return str(tokenize(obj))


def _pickle_xxh3(obj: Any) -> str:
    return xxhash.xxh3_128_hexdigest(pickle.dumps(obj, protocol=5))


def _pickle_dumps(obj: Any) -> bytes:
    return pickle.dumps(obj, protocol=5)


_FUNCS: dict[str, Callable[[Any], object]] = {
    MEMOKEY: _memokey,
    "joblib.hash": _joblib,
    "dask.tokenize": _dask,
    "pickle+xxh3_128": _pickle_xxh3,
    PICKLE_DUMPS: _pickle_dumps,
}


def applies(approach: str, kind: str) -> bool:
    """pickle.dumps alone is the issue's yardstick for the list of dicts only."""
    if approach == PICKLE_DUMPS:
        return kind == "list_of_dicts"
    if approach == CEILING:
        return kind != "list_of_dicts"  # no raw memory to hash
    return True


def skip_reason(approach: str, case: Case) -> str | None:
    """Why `approach` is not run on this argument, or None when it is."""
    if approach == "dask.tokenize" and case.kind == "bytes" and case.n > 16 * MiB:
        return (
            "dask.tokenize hashes bytes through repr(): 22 s and +5.9 GB of RSS "
            "for 1 GiB on this machine (HASHING_NOTES.md); skipped above 16 MiB"
        )
    return None


def hasher(approach: str, built: Built) -> Callable[[], object]:
    """A zero-argument callable that keys `built`'s argument once with `approach`."""
    if approach == CEILING:
        if built.ceiling is None:
            raise ValueError(f"{built.case.id} has no raw memory for the xxh3_128 ceiling")
        buffers = list(built.ceiling())
        if len(buffers) == 1:
            only = buffers[0]
            return lambda: xxhash.xxh3_128_hexdigest(only)

        def ceiling() -> str:
            h = xxhash.xxh3_128()
            for buf in buffers:
                h.update(buf)
            return h.hexdigest()

        return ceiling
    func = _FUNCS[approach]
    obj = built.obj
    return lambda: func(obj)

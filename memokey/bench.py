"""`memokey bench`: this machine's key-hashing throughput next to its raw xxh3_128 ceiling.

Every call to a memoized function pays for its key, hit or miss, so a user wants to know
what hashing their arguments costs here. Raw xxh3_128 over the same memory runs at about
memory bandwidth; the ratio to it is what memokey's encoder adds. The full comparison with
joblib, dask and pickle lives in `benchmarks/` (`nox -s bench`); this command needs only
the standard library, xxhash and numpy when it is installed, and takes a few seconds.
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import pickle
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import xxhash

__all__ = ["Measurement", "main", "measure"]

DEFAULT_MIB = 256
DEFAULT_DICTS = 100_000


@dataclass(frozen=True)
class Measurement:
    """One input: memokey's best time and its yardstick's best time on the same data.

    The yardstick is raw xxh3_128 over the input's memory, or for a list of dicts (which
    has no flat memory to hash) `pickle.dumps` of the same list.
    """

    name: str
    size: str
    units: float  # bytes, or objects for the list of dicts
    unit: str  # "B" or "obj"
    memokey_s: float
    yardstick: str
    yardstick_s: float

    @property
    def ratio(self) -> float:
        """memokey's speed as a fraction of the yardstick's (1.0 = as fast)."""
        return self.yardstick_s / self.memokey_s


def _best(fn: Callable[[], object], repeat: int) -> float:
    fn()  # warm-up: imports, first-touch page faults, lazy state
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def _inputs(
    nbytes: int, dicts: int
) -> Iterator[tuple[str, str, object, float, str, memoryview | None]]:
    """(name, size, argument, units, unit, yardstick data or None) one at a time.

    Generated lazily so only one large argument is alive at once. Contents are written
    for real (not calloc'd zero pages, which every read would find in cache).
    """
    size = f"{nbytes / (1 << 20):g} MiB"
    if importlib.util.find_spec("numpy") is not None:
        import numpy as np

        arr = np.arange(nbytes // 8, dtype=np.float64)
        yield "float64 ndarray", size, arr, arr.nbytes, "B", arr.data
        del arr
    data = bytes(range(256)) * (nbytes // 256)
    yield "bytes", size, data, len(data), "B", memoryview(data)
    text = data.translate(bytes(97 + i % 26 for i in range(256))).decode("ascii")
    del data
    yield "str (ASCII)", size, text, len(text), "B", memoryview(text.encode("ascii"))
    del text
    records = [{"id": i, "name": f"n{i}", "score": i * 0.5} for i in range(dicts)]
    yield "list of small dicts", f"{dicts:,}", records, len(records), "obj", None


def measure(
    nbytes: int = DEFAULT_MIB << 20, dicts: int = DEFAULT_DICTS, repeat: int = 3
) -> Iterator[Measurement]:
    """Time memokey's digest against its yardstick on each input, best of `repeat`."""
    from memokey.hashing import digest

    for name, size, obj, units, unit, raw in _inputs(nbytes, dicts):
        ours = _best(functools.partial(digest, obj), repeat)
        if raw is None:
            theirs = _best(functools.partial(pickle.dumps, obj, protocol=5), repeat)
            yield Measurement(name, size, units, unit, ours, "pickle.dumps", theirs)
        else:
            theirs = _best(functools.partial(xxhash.xxh3_128_hexdigest, raw), repeat)
            yield Measurement(name, size, units, unit, ours, "raw xxh3_128", theirs)


def _rate(units: float, unit: str, seconds: float) -> str:
    if unit == "obj":
        return f"{units / seconds / 1e6:8.2f} M obj/s"
    return f"{units / seconds / 1e9:8.2f} GB/s   "


def main(argv: list[str] | None = None) -> int:
    """Print this machine's hashing throughput vs its ceiling; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="memokey bench",
        description="Measure memokey's key hashing against raw xxh3_128 on this machine.",
    )
    parser.add_argument(
        "--size-mib",
        type=int,
        default=DEFAULT_MIB,
        help=f"size of the array, bytes and str arguments in MiB (default {DEFAULT_MIB})",
    )
    parser.add_argument(
        "--dicts",
        type=int,
        default=DEFAULT_DICTS,
        help=f"length of the list of small dicts (default {DEFAULT_DICTS:,})",
    )
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per input; best wins")
    args = parser.parse_args(argv)
    if args.size_mib < 1 or args.dicts < 1 or args.repeat < 1:
        parser.error("--size-mib, --dicts and --repeat must be at least 1")

    print(f"memokey bench: key hashing on this machine, best of {args.repeat} (GB = 10^9 bytes)")
    print(f"{'input':<22}{'size':>10}  {'memokey':>16}  {'yardstick':>30}  {'ratio':>6}")
    for m in measure(args.size_mib << 20, args.dicts, args.repeat):
        yardstick = f"{m.yardstick} {_rate(m.units, m.unit, m.yardstick_s)}"
        print(
            f"{m.name:<22}{m.size:>10}  {_rate(m.units, m.unit, m.memokey_s):>16}  "
            f"{yardstick:>30}  {m.ratio:5.2f}x"
        )
    print("ratio = memokey's speed / the yardstick's; full comparison with peers: nox -s bench")
    return 0

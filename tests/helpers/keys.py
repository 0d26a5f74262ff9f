"""Golden key vectors: the values whose digests are pinned in tests/data/golden_keys.json.

Regenerate ONLY when the key scheme version changes (a new scheme = new storage paths):
    python tests/helpers/keys.py --write
"""

from __future__ import annotations

import array
import dataclasses
import enum
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa

GOLDEN_PATH = Path(__file__).resolve().parents[1] / "data" / "golden_keys.json"


@dataclasses.dataclass(frozen=True)
class GoldenPoint:
    x: int
    label: str


class GoldenColor(enum.Enum):
    RED = 1
    BLUE = 2


class GoldenPair(NamedTuple):
    left: int
    right: str


def golden_call(a: int, b: str = "b", *rest: int, flag: bool = False, **extra: int) -> None:
    """A module-level function whose call digests are pinned."""


def golden_values() -> dict[str, Callable[[], Any]]:
    """Name -> factory; factories so each test run builds fresh objects."""
    arr = np.arange(24, dtype=np.float64).reshape(4, 6)
    return {
        "none": lambda: None,
        "true": lambda: True,
        "false": lambda: False,
        "int_1": lambda: 1,
        "int_neg": lambda: -123456789,
        "int_big": lambda: 2**100,
        "float_1": lambda: 1.0,
        "float_neg_zero": lambda: -0.0,
        "float_nan": lambda: float("nan"),
        "complex": lambda: 1 + 2j,
        "str_1": lambda: "1",
        "str_unicode": lambda: "héllo ✓ \ud800",
        "str_long_ascii": lambda: "ab" * 40_000,
        "str_long_unicode": lambda: "é✓" * 40_000,
        "bytes_1": lambda: b"1",
        "bytearray": lambda: bytearray(b"abc"),
        "list_small": lambda: [1, "a", None],
        "list_large": lambda: list(range(100)),
        "tuple": lambda: (1, 2.0, "3"),
        "dict": lambda: {"b": 1, "a": [1, 2]},
        "dict_large": lambda: {f"k{i}": i for i in range(50)},
        "records": lambda: [{"id": i, "name": f"n{i}", "score": i * 0.5} for i in range(40)],
        "set_str": lambda: {"alpha", "beta", "gamma"},
        "frozenset_str": lambda: frozenset({"alpha", "beta", "gamma"}),
        "nested_sets": lambda: [{"x": {1, 2}}] * 20,
        "cycle_list": _cycle_list,
        "dataclass": lambda: GoldenPoint(1, "p"),
        "enum": lambda: GoldenColor.BLUE,
        "namedtuple": lambda: GoldenPair(1, "r"),
        "class": lambda: GoldenPoint,
        "function": lambda: golden_call,
        "builtin_function": lambda: len,
        "memoryview": lambda: memoryview(b"abcdef"),
        "array_array": lambda: array.array("i", [1, 2, 3]),
        "ndarray_f8": lambda: arr,
        "ndarray_fortran": lambda: np.asfortranarray(arr),
        "ndarray_strided": lambda: arr[:, ::2],
        "ndarray_object": lambda: np.array([1, "a", None], dtype=object),
        "ndarray_datetime": lambda: np.array(["2020-01-01", "NaT"], dtype="datetime64[D]"),
        "numpy_scalar": lambda: np.float64(1.5),
        "masked_array": lambda: np.ma.masked_array([1, 2, 3], mask=[0, 1, 0]),
        # Explicit dtypes: pandas 3 changed the defaults (str labels and categories), and
        # these vectors must mean the same data under every supported pandas.
        "dataframe_object_labels": _golden_frame,
        "series_arrow_str": lambda: pd.Series(
            ["a", None, "ccc"], dtype=pd.StringDtype("pyarrow", na_value=np.nan), name="s"
        ),
        "categorical_object": lambda: pd.Categorical(
            ["a", "b", "a"], categories=pd.Index(["a", "b"], dtype=object)
        ),
        "arrow_chunked": lambda: pa.chunked_array([pa.array(["x", "yy"]), pa.array(["z"])]),
        "arrow_array_date32_nulls": lambda: pa.array([0, None, 2], pa.date32()),
        "arrow_dictionary": lambda: pa.array(["a", "b", "a"]).dictionary_encode(),
        "dict_view_items": lambda: {"b": 1, "a": 2}.items(),
        "dtype_metadata": lambda: np.dtype(np.float64, metadata={"unit": "m"}),
        "exception_value": lambda: ValueError("bad", 3),
    }


def _golden_frame() -> Any:
    import pandas as pd

    frame = pd.DataFrame({"i": [1, 2], "f": [0.5, 1.5], "s": pd.Series(["a", "b"], dtype=object)})
    frame.columns = pd.Index(["i", "f", "s"], dtype=object)
    return frame


def _cycle_list() -> list[Any]:
    value: list[Any] = [1]
    value.append(value)
    return value


def golden_calls() -> dict[str, tuple[tuple[Any, ...], dict[str, Any]]]:
    return {
        "call_positional": ((1,), {}),
        "call_all": ((1, "x", 7, 8), {"flag": True, "z": 3}),
    }


def compute() -> dict[str, str]:
    import memokey.keys as keys
    from memokey.hashing import digest

    out = {name: digest(factory()) for name, factory in golden_values().items()}
    for name, (args, kwargs) in golden_calls().items():
        bound = keys.bind_call(golden_call, args, kwargs)
        out[name] = keys.call_digest(golden_call, bound)
    return out


def main(argv: list[str]) -> int:
    if argv != ["--write"]:
        print(__doc__)
        return 2
    import memokey.keys as keys

    data = {"scheme": keys.SCHEME, "digests": compute()}
    GOLDEN_PATH.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    print(f"wrote {len(data['digests'])} vectors to {GOLDEN_PATH}")
    return 0


if __name__ == "__main__":
    # Import as the tests do (`helpers.keys`): class names are part of some vectors.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from helpers.keys import main as _main

    sys.exit(_main(sys.argv[1:]))

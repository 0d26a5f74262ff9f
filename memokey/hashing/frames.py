"""pandas: DataFrames, Series, indexes, categoricals and extension arrays.

A frame is keyed by its labels and its columns' values, column by column, so equal
frames with different internal block layouts (consolidated or not, C or F order) share
one key. Numeric columns are hashed in place; Arrow-backed columns through `arrow`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from memokey.hashing.arrays import encode_ndarray
from memokey.hashing.core import TAG_U64, Encoder, Handler, Refusal, encode_str, short_repr
from memokey.hashing.objects import encode_attrs, encode_class, encode_name

_ExtensionArray = pd.api.extensions.ExtensionArray


def pandas_handler(cls: type) -> Handler | None:
    if issubclass(cls, pd.DataFrame):
        return encode_dataframe
    if issubclass(cls, pd.Series):
        return encode_series
    if issubclass(cls, pd.Index):
        return encode_index
    if issubclass(cls, _ExtensionArray):
        return encode_values
    return None


def _header(enc: Encoder, kind: bytes, obj: object) -> None:
    enc.write(b"p" + kind)
    cls = type(obj)
    if cls.__module__.startswith("pandas") and getattr(pd, cls.__name__, None) is cls:
        # pandas' own classes by their public name, as pandas 3 reports it: pandas 2 gives
        # internal modules (pandas.core.frame) that move between versions.
        encode_name(enc, b"C", f"pandas:{cls.__name__}")
        return
    encode_class(enc, cls)
    # pandas' subclassing pattern: attributes named in ``_metadata`` travel with the
    # value (through ``__finalize__``), so they are part of it.
    names = [n for n in getattr(cls, "_metadata", ()) if isinstance(n, str)]
    enc.write(b"+")
    encode_attrs(enc, {n: getattr(obj, n, None) for n in names})


def _flags(enc: Encoder, obj: pd.DataFrame | pd.Series) -> None:
    """``allows_duplicate_labels=False`` makes operations that would duplicate a label
    raise: written only when set, so other values keep their key."""
    if not obj.flags.allows_duplicate_labels:
        enc.write(b"!")


def encode_dataframe(enc: Encoder, df: pd.DataFrame) -> None:
    _header(enc, b"F", df)
    encode_index(enc, df.columns)
    encode_index(enc, df.index)
    enc.encode(dict(df.attrs))
    _flags(enc, df)
    enc.write(TAG_U64(b"c", df.shape[1]))
    position = 0
    try:
        for position in range(df.shape[1]):
            encode_values(enc, df.iloc[:, position].array)
    except Refusal as refusal:  # name the column: cfg['name'][3]
        refusal.segments.append(f"[{short_repr(df.columns[position])}]")
        raise


def encode_series(enc: Encoder, ser: pd.Series) -> None:
    _header(enc, b"S", ser)
    enc.encode(ser.name)
    encode_index(enc, ser.index)
    enc.encode(dict(ser.attrs))
    _flags(enc, ser)
    encode_values(enc, ser.array)


def encode_index(enc: Encoder, index: pd.Index) -> None:
    _header(enc, b"I", index)
    enc.encode(list(index.names))
    if isinstance(index, pd.RangeIndex):
        enc.encode((index.start, index.stop, index.step))
    elif isinstance(index, pd.MultiIndex):
        enc.write(TAG_U64(b"m", index.nlevels))
        for level, codes in zip(index.levels, index.codes, strict=True):
            encode_index(enc, level)
            encode_ndarray(enc, np.asarray(codes))
    else:
        encode_values(enc, index.array)
        freq = getattr(index, "freq", None)
        if freq is not None and isinstance(index, (pd.DatetimeIndex, pd.TimedeltaIndex)):
            # Observable (``idx.freq``, ``idx.shift(1)``); written only when set, so an
            # index without one keeps the key it always had.
            enc.write(b"Q")
            encode_str(enc, freq.freqstr)


def encode_values(enc: Encoder, values: Any) -> None:
    """One column's values, by their dtype and content (never their memory layout)."""
    enc.write(b"pV")
    encode_str(enc, str(values.dtype))
    if isinstance(values, np.ndarray):
        encode_ndarray(enc, values)
    elif isinstance(values, pd.Categorical):
        encode_index(enc, values.categories)
        encode_ndarray(enc, values.codes)
        enc.encode(bool(values.ordered))
    elif hasattr(values, "__arrow_array__") and hasattr(values, "_pa_array"):
        enc.encode(values.__arrow_array__())
    elif isinstance(values, pd.arrays.NumpyExtensionArray):
        encode_ndarray(enc, np.asarray(values))
    elif hasattr(values, "asi8"):  # datetime, timedelta, period: int64 ticks + dtype
        encode_ndarray(enc, values.asi8)
    elif isinstance(
        values, (pd.arrays.IntegerArray, pd.arrays.FloatingArray, pd.arrays.BooleanArray)
    ):
        # Masked slots hold undefined data: write the mask, then data with them zeroed.
        mask = np.asarray(values.isna())
        data = values.to_numpy(dtype=getattr(values.dtype, "numpy_dtype", None), na_value=0)
        encode_ndarray(enc, mask)
        encode_ndarray(enc, data)
    else:  # any other extension array: its values as Python objects
        encode_ndarray(enc, np.asarray(values, dtype=object))

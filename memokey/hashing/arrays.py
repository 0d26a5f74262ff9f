"""numpy: arrays, masked arrays, scalars and dtypes, hashed in place.

An array is keyed by dtype, shape and its elements in C order; the memory layout (C or
Fortran order, strides, views, offsets) never changes the key. A contiguous array is fed
to the hasher directly, and so is each long contiguous row of a view (`arr[:, :k]`); any
other is copied in bounded chunks through one small reusable buffer, so the extra memory
stays at `CHUNK` bytes whatever the array's size.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from memokey.hashing.core import U64, Encoder, Handler, Refusal, encode_str
from memokey.hashing.objects import encode_class
from memokey.hashing.pickled import MIN_ITEMS, encode_pickled

#: Bytes copied per step when an array is not C-contiguous. Measured on `arr[::2]`: 256 KiB
#: is a third slower (each switch between copying and hashing stalls the prefetcher),
#: 1-4 MiB are equal, so the smaller one. The copy's strided read is most of the time.
CHUNK = 1 << 20
#: Contiguous rows at least this long are hashed where they lie, one `write` each: measured
#: on `arr[:, :k]`, in place wins from 16 KiB rows (0.40x raw vs 0.36x gathered; 64 KiB:
#: 0.66x vs 0.47x), gathering wins below 8 KiB (per-row call overhead).
DIRECT_ROW = 1 << 14
#: Object elements pickled per step (their objects stay in cache between the two passes).
OBJECT_BLOCK = 1 << 16
#: Dtype kinds whose bytes are the value (no pointers, no arena).
_FIXED_KINDS = frozenset("biufcmMSUV")


def numpy_handler(cls: type) -> Handler | None:
    if issubclass(cls, np.ma.MaskedArray):
        return encode_masked
    if cls is np.ndarray or issubclass(cls, np.memmap):
        return encode_ndarray
    if issubclass(cls, np.ndarray):
        return _encode_ndarray_subclass
    if issubclass(cls, np.generic):
        return encode_scalar
    if issubclass(cls, np.dtype):
        return encode_dtype
    return None


def dtype_descriptor(dtype: np.dtype[Any]) -> str:
    if dtype.fields is None and dtype.subdtype is None:
        return str(dtype.str)
    return "struct:" + repr(dtype.descr)


#: x87 extended precision: 10 value bytes per component, padded to 12 or 16 with bytes
#: numpy leaves uninitialised (stack garbage that changes from process to process).
_X87 = np.finfo(np.longdouble).nmant == 63 and np.dtype(np.longdouble).itemsize > 10
_X87_VALUE_BYTES = 10


def _x87_width(dtype: np.dtype[Any]) -> int:
    """The padded width of one x87 component of `dtype`, or 0 if it has no padding."""
    if _X87 and dtype.isnative and dtype.type in (np.longdouble, np.clongdouble):
        return int(np.dtype(np.longdouble).itemsize)
    return 0


def _x87_value_bytes(block: np.ndarray[Any, Any], width: int) -> np.ndarray[Any, Any]:
    """The value bytes of a C-contiguous block of long doubles, padding dropped."""
    raw = block.view(np.uint8).reshape(-1, width)[:, :_X87_VALUE_BYTES]
    return np.ascontiguousarray(raw)


def _feed_x87(enc: Encoder, arr: np.ndarray[Any, Any], width: int) -> None:
    step = max(1, CHUNK // arr.itemsize)
    flat = arr.flat
    for start in range(0, arr.size, step):
        block = np.ascontiguousarray(flat[start : start + step])  # C order, bounded copy
        enc.write(_x87_value_bytes(block, width))


def _packed(dtype: np.dtype[Any]) -> np.dtype[Any] | None:
    """For a structured dtype with padding between or after its fields (``align=True``,
    explicit offsets): the same fields without gaps. Padding bytes are whatever was in
    memory (``np.array(rows, dtype)`` leaves heap garbage there), so they are never hashed."""
    if dtype.fields is None:
        return None
    from numpy.lib.recfunctions import repack_fields

    packed: np.dtype[Any] = repack_fields(dtype, recurse=True)
    return packed if packed.itemsize != dtype.itemsize else None


def _feed_converted(enc: Encoder, arr: np.ndarray[Any, Any], packed: np.dtype[Any]) -> None:
    """Elements in C order, converted to `packed` field by field, in bounded chunks."""
    step = max(1, CHUNK // arr.itemsize)
    flat = arr.flat
    for start in range(0, arr.size, step):
        enc.write(np.ascontiguousarray(flat[start : start + step]).astype(packed).view(np.uint8))


def _is_raw(dtype: np.dtype[Any]) -> bool:
    """True when the element bytes are the value (no object references inside)."""
    if dtype.hasobject:
        return False
    if dtype.fields is not None:
        return all(_is_raw(field[0]) for field in dtype.fields.values())
    if dtype.subdtype is not None:
        return _is_raw(dtype.subdtype[0])
    return dtype.kind in _FIXED_KINDS and type(dtype).__module__.startswith("numpy")


def encode_ndarray(enc: Encoder, arr: np.ndarray[Any, Any]) -> None:
    dtype = arr.dtype
    enc.write(b"n")
    encode_str(enc, dtype_descriptor(dtype))
    enc.write(U64(arr.ndim) + b"".join(U64(n) for n in arr.shape))
    if not _is_raw(dtype):
        encode_object_elements(enc, arr)
        return
    if not arr.nbytes:
        return
    width = _x87_width(dtype)
    packed = _packed(dtype)
    if width:
        _feed_x87(enc, arr, width)
    elif packed is not None:
        _feed_converted(enc, arr, packed)
    else:
        feed_c_order(enc, arr)


def feed_c_order(enc: Encoder, arr: np.ndarray[Any, Any]) -> None:
    """Write a non-empty array's bytes in C order, never copying more than `CHUNK`."""
    if arr.flags.c_contiguous:
        enc.write(arr.reshape(-1).view(np.uint8))
        return
    buffer = np.empty(max(1, CHUNK // arr.itemsize), dtype=arr.dtype)
    _feed_blocks(enc, arr, buffer, buffer.view(np.uint8).data)


def _feed_blocks(
    enc: Encoder, arr: np.ndarray[Any, Any], buffer: np.ndarray[Any, Any], raw: memoryview
) -> None:
    """Contiguous rows of `DIRECT_ROW` bytes or more go to the hasher where they lie;
    shorter rows are gathered, as many as fit, into `buffer` (whose bytes `raw` holds)."""
    row_items = arr.size // arr.shape[0]
    write = enc.write
    if arr.ndim > 1 and row_items * arr.itemsize >= DIRECT_ROW and arr[0].flags.c_contiguous:
        for row in arr.reshape(arr.shape[0], -1).view(np.uint8):  # a view: rows are contiguous
            write(row)
        return
    if row_items > buffer.size:  # one row is too large: descend one axis
        for row in arr:
            _feed_blocks(enc, row, buffer, raw)
        return
    rows = buffer.size // row_items
    out = buffer[: rows * row_items].reshape((rows, *arr.shape[1:]))
    data = raw[: out.nbytes]
    for start in range(0, arr.shape[0], rows):
        block = arr[start : start + rows]
        if len(block) < rows:
            out = out[: len(block)]
            data = data[: out.nbytes]
        np.copyto(out, block)
        write(data)


def encode_object_elements(enc: Encoder, arr: np.ndarray[Any, Any]) -> None:
    """Elements that are Python objects (or of an exotic dtype), in C order, as lists of
    `OBJECT_BLOCK` items: each block's objects are still in cache when they are pickled."""
    flat = np.asarray(arr).ravel(order="C")
    enc.write(U64(flat.size))
    for start in range(0, flat.size, OBJECT_BLOCK):
        block = flat[start : start + OBJECT_BLOCK]
        items = block.tolist()
        try:
            if len(items) >= MIN_ITEMS and _all_str(block):
                encode_pickled(enc, items)  # the bytes `enc.encode(items)` would write
            else:
                enc.encode(items)
        except Refusal as refusal:
            index = int(refusal.segments[-1][1:-1]) + start
            refusal.segments[-1] = f"[{index}]"
            raise


def _all_str(block: np.ndarray[Any, Any]) -> bool:
    """A fast answer to "are these all strings" (then the pickle path surely applies)."""
    if block.dtype != object or "pandas" not in sys.modules:
        return False
    from pandas.api.types import infer_dtype

    return bool(infer_dtype(block, skipna=False) == "string")


def _encode_ndarray_subclass(enc: Encoder, arr: np.ndarray[Any, Any]) -> None:
    encode_class(enc, type(arr))
    encode_ndarray(enc, arr.view(np.ndarray))


def encode_masked(enc: Encoder, arr: np.ma.MaskedArray[Any, Any]) -> None:
    """Data, the full mask (``nomask`` and an all-False mask are the same value) and the
    fill value, which a function can observe through ``filled()``."""
    enc.write(b"k")
    encode_ndarray(enc, np.ma.getdata(arr))
    encode_ndarray(enc, np.ma.getmaskarray(arr))
    enc.encode(arr.fill_value)


def encode_scalar(enc: Encoder, obj: np.generic) -> None:
    dtype = obj.dtype
    enc.write(b"w")
    encode_str(enc, dtype_descriptor(dtype))
    if _is_raw(dtype):
        width = _x87_width(dtype)
        data = obj.tobytes()
        packed = _packed(dtype)
        if width:
            data = _x87_value_bytes(np.frombuffer(data, np.uint8), width).tobytes()
        elif packed is not None:
            data = np.array(obj, dtype=dtype).astype(packed).tobytes()
        enc.write(U64(len(data)) + data)
    else:
        enc.encode(obj.item())


def encode_dtype(enc: Encoder, obj: np.dtype[Any]) -> None:
    enc.write(b"q")
    encode_str(enc, dtype_descriptor(obj))

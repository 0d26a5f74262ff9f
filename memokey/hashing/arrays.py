"""numpy: arrays, masked arrays, scalars and dtypes, hashed in place.

An array is keyed by dtype, shape and its elements in C order; the memory layout (C or
Fortran order, strides, views, offsets) never changes the key. A contiguous array is fed
to the hasher directly, and so is each long contiguous row of a view (`arr[:, :k]`); any
other is copied in bounded chunks through one small reusable buffer, so the extra memory
stays at `CHUNK` bytes whatever the array's size.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import numpy as np

from memokey.hashing.core import TAG_U64, U64, Encoder, Handler, Refusal, encode_str, utf8
from memokey.hashing.naming import qualified_name
from memokey.hashing.objects import encode_attrs, encode_class, encode_name
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
    if issubclass(cls, np.ufunc):
        return encode_ufunc
    if issubclass(cls, np.vectorize):
        return encode_vectorize
    return None


def encode_dtype_of(enc: Encoder, dtype: np.dtype[Any]) -> None:
    """A dtype by what defines it. The common ones (every dtype that numpy rebuilds
    whole from its ``str`` or structured ``descr``) keep that short descriptor; any
    other (an extension dtype such as ml_dtypes' int4 and float8, which both report
    ``<V1``; metadata; a record or aligned struct) is marked and followed by its scalar
    type, dtype class, alignment flag, metadata and, per field, the same again."""
    cached = _PLAIN.get(id(dtype))
    if cached is None or cached[0] is not dtype:
        cached = _remember(dtype)
    if cached[1] is not None:
        enc.write(cached[1])
        return
    encode_str(enc, "x:" + _legacy_descriptor(dtype))
    enc.encode(_dtype_definition(dtype))


def _legacy_descriptor(dtype: np.dtype[Any]) -> str:
    if dtype.fields is None and dtype.subdtype is None:
        return str(dtype.str)
    return "struct:" + repr(dtype.descr)


#: id(dtype) -> (dtype, its encoded short descriptor if it is plain, else None); the
#: dtype is held so that its id is not reused while the entry lives.
_PLAIN: dict[int, tuple[np.dtype[Any], bytes | None]] = {}


def _remember(dtype: np.dtype[Any]) -> tuple[np.dtype[Any], bytes | None]:
    header = None
    if _compute_plain(dtype):
        text = utf8(_legacy_descriptor(dtype))
        header = TAG_U64(b"s", len(_legacy_descriptor(dtype))) + text
    if len(_PLAIN) > 1024:
        _PLAIN.clear()
    entry = _PLAIN[id(dtype)] = (dtype, header)
    return entry


def _is_plain(dtype: np.dtype[Any]) -> bool:
    cached = _PLAIN.get(id(dtype))
    if cached is None or cached[0] is not dtype:
        cached = _remember(dtype)
    return cached[1] is not None


def _compute_plain(dtype: np.dtype[Any]) -> bool:
    if dtype.metadata is not None or dtype.isalignedstruct:
        return False
    if dtype.fields is not None:
        return dtype.type is np.void and all(_is_plain(f[0]) for f in dtype.fields.values())
    if dtype.subdtype is not None:
        return _is_plain(dtype.subdtype[0])
    try:  # an extension dtype (ml_dtypes' int4 is "<V1") rebuilds as another type
        return np.dtype(dtype.str).type is dtype.type
    except TypeError:  # a parametric dtype whose str is its repr (StringDType(...))
        return False


def _dtype_definition(dtype: np.dtype[Any]) -> tuple[Any, ...]:
    fields = None
    if dtype.fields is not None:
        fields = tuple(
            (name, _dtype_definition(f[0]), f[1], f[2] if len(f) > 2 else None)
            for name, f in dtype.fields.items()
        )
    subarray = None
    if dtype.subdtype is not None:
        subarray = (_dtype_definition(dtype.subdtype[0]), dtype.subdtype[1])
    return (
        qualified_name(dtype.type),
        qualified_name(type(dtype)),
        str(dtype.str),
        dtype.itemsize,
        bool(dtype.isalignedstruct),
        None if dtype.metadata is None else dict(dtype.metadata),
        fields,
        subarray,
    )


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


def _x87_positions(dtype: np.dtype[Any]) -> np.ndarray[Any, Any] | None:
    """For a dtype with long doubles anywhere but as its plain native element (a struct
    field, a subarray, a byte-swapped element): the offsets of the value bytes in one
    item, padding left out. None when there is no such long double."""
    if not _X87 or not _holds_x87(dtype):
        return None
    return np.array(_value_offsets(dtype, 0), dtype=np.intp)


def _holds_x87(dtype: np.dtype[Any]) -> bool:
    if dtype.fields is not None:
        return any(_holds_x87(dtype.fields[name][0]) for name in dtype.names or ())
    if dtype.subdtype is not None:
        return _holds_x87(dtype.subdtype[0])
    return dtype.type in (np.longdouble, np.clongdouble)


def _value_offsets(dtype: np.dtype[Any], base: int) -> list[int]:
    """Offsets of `dtype`'s value bytes (fields in order, no gaps) in an item at `base`."""
    if dtype.fields is not None:
        found: list[int] = []
        for name in dtype.names or ():
            field = dtype.fields[name]
            found += _value_offsets(field[0], base + field[1])
        return found
    if dtype.subdtype is not None:
        item, shape = dtype.subdtype
        count = int(np.prod(shape))
        return [o for i in range(count) for o in _value_offsets(item, base + i * item.itemsize)]
    if dtype.type in (np.longdouble, np.clongdouble):
        parts = 2 if dtype.type is np.clongdouble else 1
        width = dtype.itemsize // parts
        lead = 0 if dtype.isnative else width - _X87_VALUE_BYTES  # byte-swapped: pad first
        return [
            base + part * width + lead + i for part in range(parts) for i in range(_X87_VALUE_BYTES)
        ]
    return list(range(base, base + dtype.itemsize))


def _feed_positions(
    enc: Encoder, arr: np.ndarray[Any, Any], positions: np.ndarray[Any, Any]
) -> None:
    """Elements in C order, only the bytes at `positions` of each, in bounded chunks."""
    step = max(1, CHUNK // arr.itemsize)
    flat = arr.flat
    for start in range(0, arr.size, step):
        block = np.ascontiguousarray(flat[start : start + step])
        raw = block.view(np.uint8).reshape(-1, arr.itemsize)
        enc.write(np.ascontiguousarray(raw[:, positions]))


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
    encode_dtype_of(enc, dtype)
    enc.write(U64(arr.ndim) + b"".join(U64(n) for n in arr.shape))
    if not _is_raw(dtype):
        if enc.enter(arr):  # an object array can hold itself: a back-reference, not a loop
            try:
                encode_object_elements(enc, arr)
            finally:
                enc.leave(arr)
        return
    if not arr.nbytes:
        return
    width = _x87_width(dtype)
    positions = None if width else _x87_positions(dtype)
    packed = _packed(dtype)
    if width:
        _feed_x87(enc, arr, width)
    elif positions is not None:
        _feed_positions(enc, arr, positions)
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
            if refusal.segments and refusal.segments[-1][1:-1].isdigit():
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
    """Type, the attributes a subclass carries (numpy's ``InfoArray`` pattern sets them
    in ``__array_finalize__``; written only when there are some) and the elements."""
    encode_class(enc, type(arr))
    attrs = getattr(arr, "__dict__", None)
    if attrs:
        if not enc.enter(arr):
            return
        try:
            enc.write(b"+")
            encode_attrs(enc, dict(attrs))
        finally:
            enc.leave(arr)
    encode_ndarray(enc, arr.view(np.ndarray))


#: What numpy.ma keeps in a MaskedArray's ``__dict__`` itself (keyed through the data,
#: mask, fill value and hardness); anything else was put there by a subclass or a user.
_MASKED_INTERNALS = frozenset(vars(np.ma.masked_array([0]))) | {"_hardmask", "_baseclass"}


def encode_masked(enc: Encoder, arr: np.ma.MaskedArray[Any, Any]) -> None:
    """Data, the full mask (``nomask`` and an all-False mask are the same value) and the
    fill value, which a function can observe through ``filled()``. A subclass, a hard
    mask, a data subclass or extra attributes take a longer form with all of them."""
    data = np.ma.getdata(arr)
    extra = {k: v for k, v in vars(arr).items() if k not in _MASKED_INTERNALS}
    plain = type(arr) is np.ma.MaskedArray and type(data) is np.ndarray
    if plain and not extra and not arr.hardmask:
        enc.write(b"k")
        encode_ndarray(enc, data)
        encode_ndarray(enc, np.ma.getmaskarray(arr))
        enc.encode(arr.fill_value)
        return
    if not enc.enter(arr):
        return
    try:
        enc.write(b"K")
        encode_class(enc, type(arr))
        enc.encode(bool(arr.hardmask))
        encode_attrs(enc, extra)
        enc.encode(data)
        encode_ndarray(enc, np.ma.getmaskarray(arr))
        enc.encode(arr.fill_value)
    finally:
        enc.leave(arr)


def encode_scalar(enc: Encoder, obj: np.generic) -> None:
    dtype = obj.dtype
    enc.write(b"w")
    encode_dtype_of(enc, dtype)
    if _is_raw(dtype):
        width = _x87_width(dtype)
        data = obj.tobytes()
        positions = None if width else _x87_positions(dtype)
        packed = _packed(dtype)
        if width:
            data = _x87_value_bytes(np.frombuffer(data, np.uint8), width).tobytes()
        elif positions is not None:
            data = np.frombuffer(data, np.uint8)[positions].tobytes()
        elif packed is not None:
            data = np.array(obj, dtype=dtype).astype(packed).tobytes()
        enc.write(U64(len(data)) + data)
    else:
        enc.encode(obj.item())


def encode_dtype(enc: Encoder, obj: np.dtype[Any]) -> None:
    enc.write(b"q")
    encode_dtype_of(enc, obj)


def encode_ufunc(enc: Encoder, ufunc: np.ufunc) -> None:
    """By name, only when that name imports back to this very ufunc (``numpy.add``);
    a ufunc from ``np.frompyfunc`` has a name but hides the function it runs."""
    name = ufunc.__name__
    module = getattr(ufunc, "__module__", None) or "numpy"
    try:
        found = getattr(importlib.import_module(module), name, None)
    except ImportError:
        found = None
    if found is not ufunc:
        raise Refusal(
            f"the ufunc {name!r} is not importable as {module}.{name} (made by "
            "np.frompyfunc?), and the function it runs cannot be read; pass that function "
            "itself, or np.vectorize(function)"
        )
    encode_name(enc, b"g", f"{module}:{name}")


#: Caches np.vectorize fills on its first call (the ufunc it builds, the parsed signature).
_VECTORIZE_CACHES = frozenset({"_ufunc", "_in_and_out_core_dims"})


def encode_vectorize(enc: Encoder, obj: np.vectorize) -> None:
    """By the function it wraps and its options; never by the caches filled on a call."""
    if not enc.enter(obj):
        return
    try:
        encode_class(enc, type(obj))
        enc.write(b"V")
        encode_attrs(enc, {k: v for k, v in vars(obj).items() if k not in _VECTORIZE_CACHES})
    finally:
        enc.leave(obj)

"""Pickling large values without a copy where a library's own reduction would copy.

Pickle protocol 5 hands a large buffer out of band only if the object's reduction
exposes the buffer itself. pandas' Arrow-backed arrays (the ``str`` dtype of pandas 3,
``ArrowDtype`` columns) do not: `ArrowExtensionArray.__getstate__` first combines the
column's chunks into one new array, a copy of the whole column (measured: +266 MB for a
16.7 M-row string column of a 1 GiB DataFrame) made only to be pickled. The picklers
here reduce such an array exactly as pandas does (class, then its ``__dict__`` as state,
``_cache`` emptied) except that the state keeps the column's chunks as a list, which
pandas' own `__setstate__` turns back into the same chunked array. So the chunks'
buffers leave the stream uncopied, and the stored value keeps its chunking. What they
write is an ordinary pickle: ``pickle.loads`` reads it back without memokey.

Only classes that use pandas' own `__getstate__`/`__setstate__` pair are reduced this
way; anything else (another pandas version's layout, a subclass with its own state)
gets its library's reduction, unchanged.
"""

from __future__ import annotations

import copyreg
import io
import pickle
import sys
from collections.abc import Callable
from typing import Any

import cloudpickle

__all__ = ["cloudpickle_dumps", "pickle_dumps"]

_PANDAS_ARROW = "pandas.core.arrays.arrow.array"
_REDUCERS = ("__reduce_ex__", "__reduce__")


def _arrow_extension_array(obj: Any) -> Any:
    """pandas' reduction of an Arrow-backed array, minus its copy; NotImplemented for
    anything else."""
    module = sys.modules.get(_PANDAS_ARROW)
    base = getattr(module, "ArrowExtensionArray", None)
    if base is None or not isinstance(obj, base):
        return NotImplemented
    kind = type(obj)
    if kind.__getstate__ is not base.__getstate__ or kind.__setstate__ is not base.__setstate__:
        return NotImplemented
    if any(getattr(kind, name) is not getattr(object, name) for name in _REDUCERS):
        return NotImplemented  # a class that reduces itself its own way
    chunks = getattr(getattr(obj, "_pa_array", None), "chunks", None)
    if not chunks:  # no chunk to keep (pandas' way needs the type): pandas' reduction
        return NotImplemented
    state = dict(obj.__dict__)
    state["_pa_array"] = list(chunks)
    state["_cache"] = {}
    return copyreg.__newobj__, (kind,), state  # type: ignore[attr-defined]


class _Pickler(pickle.Pickler):
    def reducer_override(self, obj: Any) -> Any:
        return _arrow_extension_array(obj)


class _CloudPickler(cloudpickle.Pickler):  # type: ignore[misc]
    def reducer_override(self, obj: Any) -> Any:
        reduced = _arrow_extension_array(obj)
        if reduced is NotImplemented:
            return super().reducer_override(obj)
        return reduced


def _dumps(pickler: type[pickle.Pickler]) -> Callable[..., bytes]:
    def dumps(
        value: Any, protocol: int, buffer_callback: Callable[[pickle.PickleBuffer], Any]
    ) -> bytes:
        with io.BytesIO() as file:
            pickler(file, protocol=protocol, buffer_callback=buffer_callback).dump(value)
            return file.getvalue()

    return dumps


pickle_dumps = _dumps(_Pickler)
"""``pickle.dumps(value, protocol=..., buffer_callback=...)``, minus the copies above."""
cloudpickle_dumps = _dumps(_CloudPickler)
"""``cloudpickle.dumps(value, protocol=..., buffer_callback=...)``, minus the copies above."""

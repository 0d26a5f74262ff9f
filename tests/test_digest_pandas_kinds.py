"""pandas values keep what a subclass or a flag adds: a DataFrame/Series subclass by its
``_metadata`` attributes (pandas' own subclassing pattern), and the
``allows_duplicate_labels`` flag, which changes what operations on the value do."""

from __future__ import annotations

import threading
from typing import Any

import pandas as pd
import pytest

import memokey.keys as keys
from memokey.errors import UnkeyableArgumentError
from memokey.hashing import digest


class UnitFrame(pd.DataFrame):
    _metadata = ["unit"]  # noqa: RUF012  (pandas' documented pattern)

    @property
    def _constructor(self) -> Any:
        return UnitFrame


class UnitSeries(pd.Series):  # type: ignore[type-arg]
    _metadata = ["unit"]  # noqa: RUF012

    @property
    def _constructor(self) -> Any:
        return UnitSeries


def test_dataframe_subclass_metadata_is_part_of_the_key() -> None:
    metres, seconds = UnitFrame({"x": [1]}), UnitFrame({"x": [1]})
    metres.unit = "m"
    seconds.unit = "s"
    assert digest(metres) != digest(seconds)
    assert digest(UnitFrame({"x": [1]})) != digest(pd.DataFrame({"x": [1]}))


def test_series_subclass_metadata_is_part_of_the_key() -> None:
    metres, seconds = UnitSeries([1.0]), UnitSeries([1.0])
    metres.unit = "m"
    seconds.unit = "s"
    assert digest(metres) != digest(seconds)


def test_duplicate_label_flag_is_part_of_the_key() -> None:
    strict = pd.DataFrame({"x": [1]}).set_flags(allows_duplicate_labels=False)
    assert digest(strict) != digest(pd.DataFrame({"x": [1]}))
    series = pd.Series([1]).set_flags(allows_duplicate_labels=False)
    assert digest(series) != digest(pd.Series([1]))


def test_an_unkeyable_cell_is_named_by_column_and_row() -> None:
    frame = pd.DataFrame({"a": [1, 2], "conn": ["ok", threading.Lock()]})
    bound = keys.bind_call(_load, (frame,), {})
    with pytest.raises(UnkeyableArgumentError) as info:
        keys.call_digest(_load, bound)
    assert info.value.path == "frame['conn'][1]"


def _load(frame: Any) -> None:
    pass

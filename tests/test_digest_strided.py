"""Non-contiguous arrays hash as their contiguous copies, whichever way they are fed:
long contiguous rows in place, short or strided rows gathered in chunks, huge rows by
descending an axis. Sizes straddle `DIRECT_ROW` and `CHUNK` so that every path runs."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from memokey.hashing import arrays, digest

ROW_ITEMS = arrays.DIRECT_ROW // 8  # float64 items in a row that is hashed in place


def _matches_copy(view: np.ndarray) -> bool:
    return digest(view) == digest(np.ascontiguousarray(view))


@pytest.fixture(scope="module")
def wide() -> np.ndarray:
    """A C-contiguous matrix whose rows are four times `DIRECT_ROW` long."""
    return np.random.default_rng(7).random((40, 4 * ROW_ITEMS))


def test_view_with_long_contiguous_rows_matches_its_copy(wide: np.ndarray) -> None:
    assert _matches_copy(wide[:, : 2 * ROW_ITEMS])


def test_view_with_rows_just_at_the_in_place_threshold_matches_its_copy(
    wide: np.ndarray,
) -> None:
    assert _matches_copy(wide[:, 1 : ROW_ITEMS + 1])
    assert _matches_copy(wide[:, 1:ROW_ITEMS])


def test_reversed_rows_with_long_contiguous_rows_match_their_copy(wide: np.ndarray) -> None:
    assert _matches_copy(wide[::-1, ROW_ITEMS:])


def test_every_other_long_row_matches_its_copy(wide: np.ndarray) -> None:
    assert _matches_copy(wide[::2])


def test_short_rows_spanning_several_chunks_and_a_partial_one_match_their_copy() -> None:
    rows = 3 * arrays.CHUNK // (37 * 8) + 5  # three full chunks of gathered rows, then some
    base = np.arange(rows * 100, dtype=np.float64).reshape(rows, 100)
    assert _matches_copy(base[:, :37])


def test_strided_view_with_a_final_partial_chunk_matches_its_copy() -> None:
    base = np.arange(2 * (arrays.CHUNK // 8 * 2 + 11), dtype=np.int64)
    assert _matches_copy(base[::2])


def test_three_dimensional_view_with_contiguous_trailing_planes_matches_its_copy() -> None:
    cube = np.arange(6 * 4 * ROW_ITEMS // 2, dtype=np.float64).reshape(6, 4, ROW_ITEMS // 2)
    assert _matches_copy(cube[::2])
    assert _matches_copy(cube[:, 1:3])


def test_view_with_strided_rows_larger_than_a_chunk_matches_its_copy() -> None:
    tall = np.arange(2 * (arrays.CHUNK // 8 + 5) * 3, dtype=np.float64).reshape(3, -1)
    assert _matches_copy(tall[:, ::2])


def test_datetime_view_with_long_rows_matches_its_copy() -> None:
    stamps = np.arange(8 * 2 * ROW_ITEMS).astype("M8[ns]").reshape(8, -1)
    assert _matches_copy(stamps[:, :ROW_ITEMS])


def test_byte_swapped_view_with_long_rows_matches_its_copy(wide: np.ndarray) -> None:
    swapped = wide.astype(">f8")
    assert _matches_copy(swapped[:, : 2 * ROW_ITEMS])
    assert digest(swapped[:, : 2 * ROW_ITEMS]) != digest(wide[:, : 2 * ROW_ITEMS])


def test_structured_view_with_long_rows_matches_its_copy() -> None:
    dtype = np.dtype([("a", "<i4"), ("b", "<f8")])
    records = np.zeros((6, 2 * ROW_ITEMS), dtype=dtype)
    records["a"] = np.arange(records.size).reshape(records.shape)
    assert _matches_copy(records[:, :ROW_ITEMS])


def test_view_whose_rows_are_hashed_in_place_differs_from_a_different_view(
    wide: np.ndarray,
) -> None:
    assert digest(wide[:, : 2 * ROW_ITEMS]) != digest(wide[:, 1 : 2 * ROW_ITEMS + 1])


@pytest.mark.parametrize(
    "pick",
    [lambda a: a.reshape(-1)[::2], lambda a: a[:, :3000], lambda a: a[:, :100], lambda a: a.T],
    ids=["every-other-item", "long-rows", "short-rows", "transposed"],
)
def test_non_contiguous_view_needs_at_most_one_chunk_of_extra_memory(pick: object) -> None:
    base = np.random.default_rng(3).random((1024, 4096))  # 32 MiB
    view = pick(base)  # type: ignore[operator]
    digest(view[:2])  # first call: imports and caches are not the hashing's memory
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        digest(view)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak - before <= arrays.CHUNK + 64 * 1024

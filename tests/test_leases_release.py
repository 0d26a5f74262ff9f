"""A held lease is released on every way out of the block that holds it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from memokey.leases import holding_lease, read_lease
from memokey_backends import Store, open_store

MEMO = "memokey-v2/default/mod--f/feedface"


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return open_store(f"file://{tmp_path}/memo")


def _nothing_published() -> bool:
    return False


def test_lease_is_held_inside_the_block_and_released_after_it(store: Store) -> None:
    with holding_lease(store, MEMO, done=_nothing_published) as lease:
        assert lease is not None
        assert read_lease(store, MEMO) is not None
    assert read_lease(store, MEMO) is None


def test_lease_is_released_when_the_block_raises(store: Store) -> None:
    with (
        pytest.raises(ZeroDivisionError),
        holding_lease(store, MEMO, done=_nothing_published),
    ):
        _ = 1 / 0
    assert read_lease(store, MEMO) is None


def test_lease_is_released_on_keyboard_interrupt(store: Store) -> None:
    with (
        pytest.raises(KeyboardInterrupt),
        holding_lease(store, MEMO, done=_nothing_published),
    ):
        raise KeyboardInterrupt
    assert read_lease(store, MEMO) is None


def test_lease_is_released_when_an_asyncio_task_is_cancelled(store: Store) -> None:
    held = asyncio.Event()

    async def compute() -> None:
        with holding_lease(store, MEMO, done=_nothing_published):
            held.set()
            await asyncio.sleep(3600)

    async def main() -> None:
        task = asyncio.create_task(compute())
        await held.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert read_lease(store, MEMO) is None

"""Outside review of the per-function lifecycle API (issue 9): what `is_cached` and
`explain` answer under ``ttl=``, and what run modes report to `stats` / `on_event`."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import memokey
from memokey import OfflineMissError
from memokey.observe import Event, reset_stats

Location = tuple[str, dict[str, Any]]


@pytest.fixture(autouse=True)
def _fresh_stats() -> None:
    reset_stats()


def _ttl_function(location: Location) -> Any:
    url, options = location

    @memokey.memoize(url, storage_options=options, ttl=60)
    def doubled(x: int) -> int:
        return 2 * x

    return doubled


def test_is_cached_says_no_for_an_entry_older_than_ttl(store_root: Location) -> None:
    from helpers.expiry import age_entry as _age

    doubled = _ttl_function(store_root)
    doubled(1)
    assert doubled.is_cached(1)
    _age(store_root, doubled.key_for(1).uri, 3600)
    # The next call would recompute it: it is not cached in any useful sense.
    assert not doubled.is_cached(1)


def test_explain_calls_an_expired_entry_a_miss_and_says_it_expired(store_root: Location) -> None:
    from helpers.expiry import age_entry as _age

    doubled = _ttl_function(store_root)
    doubled(1)
    _age(store_root, doubled.key_for(1).uri, 3600)
    text = doubled.explain(1)
    assert text.startswith("miss")
    assert "expired" in text


def test_readonly_and_offline_hits_and_misses_reach_stats_and_on_event(
    memory_root: Location,
) -> None:
    url, options = memory_root

    @memokey.memoize(url, storage_options=options)
    def ident(x: int) -> int:
        return x

    ident(1)
    seen: list[Event] = []
    unsubscribe = memokey.on_event(seen.append)
    try:
        for name in ("readonly", "offline"):
            with memokey.mode(name):  # type: ignore[arg-type]
                assert ident(1) == 1
        with memokey.mode("readonly"):
            assert ident(2) == 2
        with memokey.mode("offline"), pytest.raises(OfflineMissError):
            ident(3)
    finally:
        unsubscribe()
    assert [e.kind for e in seen] == ["hit", "hit", "miss", "miss"]
    counted = memokey.stats()[ident.key_for(1).function_id]
    assert (counted.hits, counted.misses, counted.publishes) == (2, 3, 1)


def test_async_readonly_hits_reach_stats(memory_root: Location) -> None:
    url, options = memory_root

    @memokey.memoize(url, storage_options=options)
    async def ident(x: int) -> int:
        return x

    asyncio.run(ident(1))

    async def readonly() -> int:
        with memokey.mode("readonly"):
            return await ident(1)

    assert asyncio.run(readonly()) == 1
    assert memokey.stats()[ident.key_for(1).function_id].hits == 1


def test_clear_all_versions_never_touches_a_namespace_that_shares_its_prefix(
    store_root: Location,
) -> None:
    url, options = store_root

    def make(namespace: str) -> Any:
        @memokey.memoize(url, storage_options=options, namespace=namespace)
        def ident(x: int) -> int:
            return x

        return ident

    short, longer = make("exp"), make("exp2")
    short(1)
    longer(1)
    assert short.clear(all_versions=True) == 1
    assert longer.is_cached(1)
    assert [e.digest for e in longer.entries(all_versions=True)] == [longer.key_for(1).digest]


def test_forget_and_is_cached_on_a_method_key_the_instance(memory_root: Location) -> None:
    url, options = memory_root

    class Scaled:
        def __init__(self, k: int) -> None:
            self.k = k

        def __memokey__(self) -> object:
            return self.k

        @memokey.memoize(url, storage_options=options)
        def times(self, x: int) -> int:
            return self.k * x

    two, three = Scaled(2), Scaled(3)
    assert two.times(5) == 10
    assert two.times.is_cached(5)
    assert not three.times.is_cached(5)
    assert not three.times.forget(5)
    assert two.times.is_cached(5)
    assert two.times.forget(5)
    assert not two.times.is_cached(5)


def test_offline_and_readonly_hold_in_worker_threads_started_inside_the_block(
    memory_root: Location,
) -> None:
    import threading
    from concurrent.futures import ThreadPoolExecutor

    url, options = memory_root

    @memokey.memoize(url, storage_options=options)
    def ident(x: int) -> int:
        return x

    failures: list[BaseException] = []

    def in_thread() -> None:
        try:
            ident(1)
        except BaseException as exc:
            failures.append(exc)

    with memokey.mode("offline"):
        thread = threading.Thread(target=in_thread)
        thread.start()
        thread.join()
        with ThreadPoolExecutor(2) as pool, pytest.raises(OfflineMissError):
            pool.submit(ident, 2).result()
    assert [type(e) for e in failures] == [OfflineMissError]
    with memokey.mode("readonly"), ThreadPoolExecutor(2) as pool:
        assert pool.submit(ident, 3).result() == 3
    assert not ident.is_cached(1)
    assert not ident.is_cached(2)
    assert not ident.is_cached(3)


def test_a_thread_that_entered_its_own_mode_keeps_it(memory_root: Location) -> None:
    import threading

    url, options = memory_root

    @memokey.memoize(url, storage_options=options)
    def ident(x: int) -> int:
        return x

    def normal_here() -> None:
        with memokey.mode("normal"):
            ident(4)

    with memokey.mode("offline"):
        thread = threading.Thread(target=normal_here)
        thread.start()
        thread.join()
    assert ident.is_cached(4)


def test_a_mode_ends_for_worker_threads_when_its_block_ends(memory_root: Location) -> None:
    from concurrent.futures import ThreadPoolExecutor

    url, options = memory_root

    @memokey.memoize(url, storage_options=options)
    def ident(x: int) -> int:
        return x

    with ThreadPoolExecutor(1) as pool:
        with memokey.mode("readonly"):
            pool.submit(ident, 5).result()
        pool.submit(ident, 6).result()
    assert not ident.is_cached(5)
    assert ident.is_cached(6)


def test_offline_names_an_expired_entry_instead_of_calling_it_missing(
    memory_root: Location,
) -> None:
    from helpers.expiry import age_entry as _age

    doubled = _ttl_function(memory_root)
    doubled(1)
    _age(memory_root, doubled.key_for(1).uri, 3600)
    with memokey.mode("offline"), pytest.raises(OfflineMissError) as raised:
        doubled(1)
    message = str(raised.value)
    assert "expired" in message
    assert "no stored result" not in message


def test_an_expired_entry_counts_as_a_miss_in_stats(memory_root: Location) -> None:
    from helpers.expiry import age_entry as _age

    url, options = memory_root

    @memokey.memoize(url, storage_options=options, ttl=60)
    def plain(x: int) -> int:
        return x

    @memokey.memoize(url, storage_options=options, ttl=60)
    async def coroutine(x: int) -> int:
        return x

    for function, call in ((plain, plain), (coroutine, lambda x: asyncio.run(coroutine(x)))):
        call(1)
        _age(memory_root, function.key_for(1).uri, 3600)
        call(1)
        counted = memokey.stats()[function.key_for(1).function_id]
        assert (counted.hits, counted.misses, counted.publishes) == (0, 2, 2)


def test_an_offline_hit_records_use_so_gc_unused_for_keeps_the_entry(
    memory_root: Location,
) -> None:
    from memokey import usage
    from memokey.layout import USED, sibling
    from memokey_backends import open_store

    url, options = memory_root

    @memokey.memoize(url, storage_options=options)
    def ident(x: int) -> int:
        return x

    ident(0)  # a miss: computed and published, no use recorded
    with memokey.mode("offline"):
        assert ident(0) == 0  # CI reruns that only ever hit still use the entry
    usage.wait_for_marks()
    store = open_store(url, **options)
    assert store.exists(sibling(ident.key_for(0).path, USED))

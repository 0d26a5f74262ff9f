"""Behaviour mixins of the store conformance suite; each test states one property.

Mix them into a `StoreFixtures` subclass (``StoreConformance`` has them all but the
server-fault tests, which need a server that can be stopped).
"""

from __future__ import annotations

import os
import threading

import pytest

from memokey.testing.store_base import Location, StoreFixtures, run_together
from memokey_backends import (
    CapabilityError,
    InvalidRootError,
    Store,
    StoreError,
    StoreUnavailableError,
    WriteConflictError,
    open_store,
)

__all__ = [
    "CompareAndSwapBehaviour",
    "ConditionalDeleteBehaviour",
    "DeleteBehaviour",
    "ErrorBehaviour",
    "ListingBehaviour",
    "ReadWriteBehaviour",
    "ServerFaultBehaviour",
    "StoreConformance",
    "WriteOnceBehaviour",
]

ALL_BYTES = bytes(range(256)) * 4


class ReadWriteBehaviour(StoreFixtures):
    def test_read_of_absent_path_is_none(self, store: Store) -> None:
        assert store.read("missing/result") is None

    def test_write_then_read_returns_the_same_bytes(self, store: Store) -> None:
        store.write("a/result", ALL_BYTES)
        assert store.read("a/result") == ALL_BYTES

    def test_write_creates_missing_parent_levels(self, store: Store) -> None:
        store.write("ns/mod--f/0123/result", b"x")
        assert store.read("ns/mod--f/0123/result") == b"x"

    def test_empty_object_round_trips(self, store: Store) -> None:
        store.write("empty", b"")
        assert store.read("empty") == b""

    def test_large_object_round_trips(self, store: Store) -> None:
        data = os.urandom(3 * 2**20 + 17)
        store.write("big/result", data)
        assert store.read("big/result") == data

    def test_plain_write_replaces_existing_object(self, store: Store) -> None:
        store.write("meta.json", b"old")
        store.write("meta.json", b"new")
        assert store.read("meta.json") == b"new"

    def test_exists_is_true_only_for_written_paths(self, store: Store) -> None:
        store.write("d/result", b"x")
        assert (store.exists("d/result"), store.exists("d/other")) == (True, False)

    def test_info_reports_size_and_mtime(self, store: Store) -> None:
        store.write("d/result", b"12345")
        info = store.info("d/result")
        assert info is not None
        assert (info.path, info.size, info.is_dir) == ("d/result", 5, False)
        assert info.mtime is not None

    def test_read_tail_returns_the_last_bytes_or_all_of_a_small_object(self, store: Store) -> None:
        store.write("d/entry", ALL_BYTES)
        assert store.read_tail("d/entry", 10) == ALL_BYTES[-10:]
        assert store.read_tail("d/entry", 10 * len(ALL_BYTES)) == ALL_BYTES
        assert store.read_tail("d/absent", 10) is None

    def test_exists_is_false_for_a_prefix_that_holds_objects(self, store: Store) -> None:
        store.write("d/entry.lease", b"x")
        assert store.exists("d/entry") is False

    def test_info_of_absent_path_is_none(self, store: Store) -> None:
        assert store.info("nothing/here") is None

    def test_uri_is_the_root_url_joined_with_the_path(self, store: Store) -> None:
        assert store.uri("a/b") == store.url + "/a/b"

    def test_opening_the_same_url_again_reuses_the_store(
        self, store: Store, store_location: Location
    ) -> None:
        url, options = store_location
        assert open_store(url, **options) is store

    def test_paths_escaping_the_root_are_refused(self, store: Store) -> None:
        with pytest.raises(InvalidRootError):
            store.read("../outside")

    def test_process_locality_is_as_declared(self, store: Store) -> None:
        assert store.process_local is self.process_local


class WriteOnceBehaviour(StoreFixtures):
    def test_exclusive_write_creates_an_absent_object(self, store: Store) -> None:
        store.write("k/result", b"first", exclusive=True)
        assert store.read("k/result") == b"first"

    def test_exclusive_write_over_an_existing_object_raises_write_conflict(
        self, store: Store
    ) -> None:
        store.write("k/result", b"first", exclusive=True)
        with pytest.raises(WriteConflictError):
            store.write("k/result", b"second", exclusive=True)
        assert store.read("k/result") == b"first"

    def test_exclusive_write_race_has_exactly_one_winner(self, store: Store) -> None:
        self.require("exclusive_create_race_proven")
        n = self.race_threads
        payloads = [bytes([i]) * (64 * 1024) for i in range(n)]
        outcomes = run_together(n, lambda i: store.write("k/result", payloads[i], exclusive=True))
        winners = [i for i, o in enumerate(outcomes) if not isinstance(o, BaseException)]
        assert len(winners) == 1, outcomes
        losers = [o for i, o in enumerate(outcomes) if i not in winners]
        assert all(isinstance(o, WriteConflictError) for o in losers)
        assert store.read("k/result") == payloads[winners[0]]

    def test_an_exclusive_write_reports_the_version_it_created_or_none(self, store: Store) -> None:
        version = store.write("k/entry", b"first", exclusive=True)
        got = store.read_versioned("k/entry")
        assert got is not None
        assert version in (None, got[1])

    def test_readers_never_see_part_of_an_exclusive_write(self, store: Store) -> None:
        self.require("exclusive_create_race_proven")
        n = self.race_threads
        payloads = {bytes([i]) * (512 * 1024) for i in range(n)}
        done = threading.Event()
        seen: list[bytes] = []

        def read_until_done() -> None:
            while not done.is_set():
                data = store.read("k/result")
                if data is not None:
                    seen.append(data)

        readers = [threading.Thread(target=read_until_done) for _ in range(2)]
        for r in readers:
            r.start()
        try:
            ordered = sorted(payloads)
            run_together(n, lambda i: store.write("k/result", ordered[i], exclusive=True))
            seen.append(store.read("k/result") or b"")
        finally:
            done.set()
            for r in readers:
                r.join()
        assert all(data in payloads for data in seen)


class ListingBehaviour(StoreFixtures):
    def test_list_shows_direct_children_and_directories(self, store: Store) -> None:
        store.write("ns/f/d1/result", b"1")
        store.write("ns/f/top", b"22")
        entries = {e.path: e for e in store.list("ns/f")}
        assert sorted(entries) == ["ns/f/d1", "ns/f/top"]
        assert entries["ns/f/d1"].is_dir
        assert not entries["ns/f/top"].is_dir
        assert entries["ns/f/top"].size == 2

    def test_recursive_list_shows_every_object_with_size_and_mtime(self, store: Store) -> None:
        store.write("ns/f/d1/result", b"1")
        store.write("ns/f/d2/result", b"22")
        store.write("ns/g/d3/meta.json", b"333")
        entries = store.list("ns", recursive=True)
        assert [(e.path, e.size) for e in entries] == [
            ("ns/f/d1/result", 1),
            ("ns/f/d2/result", 2),
            ("ns/g/d3/meta.json", 3),
        ]
        assert all(e.mtime is not None and not e.is_dir for e in entries)

    def test_list_of_an_absent_prefix_is_empty(self, store: Store) -> None:
        assert store.list("no/such/prefix") == []
        assert store.list("no/such/prefix", recursive=True) == []

    def test_list_of_the_root_shows_top_level_entries(self, store: Store) -> None:
        store.write("memokey-v2/default/x", b"1")
        assert [e.path for e in store.list("")] == ["memokey-v2"]


class DeleteBehaviour(StoreFixtures):
    def test_delete_removes_the_object(self, store: Store) -> None:
        store.write("k/result", b"x")
        store.delete("k/result")
        assert store.read("k/result") is None

    def test_delete_of_an_absent_path_is_silent(self, store: Store) -> None:
        store.delete("never/written")

    def test_recursive_delete_removes_everything_below_and_nothing_else(self, store: Store) -> None:
        store.write("ns/f/d1/result", b"1")
        store.write("ns/f/d1/meta.json", b"2")
        store.write("ns/f/d2/result", b"3")
        store.delete("ns/f/d1", recursive=True)
        assert store.list("ns/f/d1", recursive=True) == []
        assert store.read("ns/f/d2/result") == b"3"

    def test_a_deleted_object_can_be_written_once_again(self, store: Store) -> None:
        store.write("k/result", b"old", exclusive=True)
        store.delete("k/result")
        store.write("k/result", b"new", exclusive=True)
        assert store.read("k/result") == b"new"


class ConditionalDeleteBehaviour(StoreFixtures):
    def test_delete_with_the_current_version_removes_the_object(self, store: Store) -> None:
        store.write("k/entry.lease", b"mine")
        got = store.read_versioned("k/entry.lease")
        assert got is not None
        store.delete("k/entry.lease", version=got[1])
        assert store.read("k/entry.lease") is None

    def test_delete_with_a_stale_version_keeps_the_object(self, store: Store) -> None:
        self.require("conditional_delete_proven")
        store.write("k/entry.lease", b"mine")
        got = store.read_versioned("k/entry.lease")
        assert got is not None
        store.write("k/entry.lease", b"someone else's")
        with pytest.raises(WriteConflictError):
            store.delete("k/entry.lease", version=got[1])
        assert store.read("k/entry.lease") == b"someone else's"

    def test_delete_with_a_version_of_an_absent_object_is_silent(self, store: Store) -> None:
        store.write("k/entry.lease", b"mine")
        got = store.read_versioned("k/entry.lease")
        assert got is not None
        store.delete("k/entry.lease")
        store.delete("k/entry.lease", version=got[1])


class CompareAndSwapBehaviour(StoreFixtures):
    def test_cas_capability_is_as_declared(self, store: Store) -> None:
        assert store.supports_cas is self.supports_cas

    def test_swap_without_the_capability_raises_capability_error(self, store: Store) -> None:
        if self.supports_cas:
            pytest.skip("this backend supports compare-and-swap")
        store.write("lease", b"a")
        with pytest.raises(CapabilityError):
            store.swap("lease", b"b", version="anything")

    def test_read_versioned_of_an_absent_object_is_none(self, store: Store) -> None:
        assert store.read_versioned("lease") is None

    def test_read_versioned_version_matches_info_version(self, store: Store) -> None:
        self.require("supports_cas")
        store.write("lease", b"a")
        got = store.read_versioned("lease")
        info = store.info("lease")
        assert got is not None
        assert info is not None
        assert (got[0], got[1]) == (b"a", info.version)

    def test_swap_with_the_current_version_replaces_and_returns_the_new_version(
        self, store: Store
    ) -> None:
        self.require("supports_cas")
        store.write("lease", b"a")
        got = store.read_versioned("lease")
        assert got is not None
        new_version = store.swap("lease", b"b", version=got[1])
        assert store.read_versioned("lease") == (b"b", new_version)
        assert new_version != got[1]

    def test_swap_with_a_stale_version_raises_write_conflict(self, store: Store) -> None:
        self.require("supports_cas")
        store.write("lease", b"a")
        got = store.read_versioned("lease")
        assert got is not None
        store.swap("lease", b"b", version=got[1])
        with pytest.raises(WriteConflictError):
            store.swap("lease", b"c", version=got[1])
        assert store.read("lease") == b"b"

    def test_swap_of_an_absent_object_raises_write_conflict(self, store: Store) -> None:
        self.require("supports_cas")
        store.write("lease", b"a")
        got = store.read_versioned("lease")
        assert got is not None
        store.delete("lease")
        with pytest.raises(WriteConflictError):
            store.swap("lease", b"b", version=got[1])

    def test_concurrent_swaps_lose_no_update(self, store: Store) -> None:
        self.require("supports_cas")
        self.require("cas_race_proven")
        per_thread = 3
        store.write("counter", b"0")

        def increment(_: int) -> None:
            done = 0
            while done < per_thread:
                got = store.read_versioned("counter")
                assert got is not None
                try:
                    store.swap("counter", str(int(got[0]) + 1).encode(), version=got[1])
                except WriteConflictError:
                    continue
                done += 1

        outcomes = run_together(self.race_threads, increment)
        assert outcomes == [None] * self.race_threads
        assert store.read("counter") == str(self.race_threads * per_thread).encode()


class ErrorBehaviour(StoreFixtures):
    def test_a_lost_exclusive_write_keeps_the_backend_error_as_cause(self, store: Store) -> None:
        store.write("k/result", b"x")
        with pytest.raises(WriteConflictError) as info:
            store.write("k/result", b"y", exclusive=True)
        assert info.value.__cause__ is not None
        assert store.uri("k/result") in str(info.value)

    def test_store_errors_are_memokey_store_errors(self, store: Store) -> None:
        with pytest.raises(StoreError):
            store.swap("never/written", b"x", version="0-0-0")


class ServerFaultBehaviour(StoreFixtures):
    """Needs a ``stopped_store_location`` fixture: a root whose server was stopped."""

    @pytest.fixture
    def stopped_store_location(self) -> Location:
        raise NotImplementedError("subclasses provide a stopped_store_location fixture")

    @pytest.fixture
    def stopped_store(self, stopped_store_location: Location) -> Store:
        url, options = stopped_store_location
        return open_store(url, **options)

    def test_read_from_a_stopped_server_raises_instead_of_missing(
        self, stopped_store: Store
    ) -> None:
        with pytest.raises(StoreUnavailableError) as info:
            stopped_store.read("k/result")
        assert info.value.__cause__ is not None

    def test_exists_on_a_stopped_server_raises_instead_of_false(self, stopped_store: Store) -> None:
        with pytest.raises(StoreUnavailableError):
            stopped_store.exists("k/result")

    def test_write_to_a_stopped_server_raises(self, stopped_store: Store) -> None:
        with pytest.raises(StoreUnavailableError):
            stopped_store.write("k/result", b"x", exclusive=True)


class StoreConformance(
    ReadWriteBehaviour,
    WriteOnceBehaviour,
    ListingBehaviour,
    DeleteBehaviour,
    ConditionalDeleteBehaviour,
    CompareAndSwapBehaviour,
    ErrorBehaviour,
):
    """Every behaviour a memokey store must have (server faults are separate)."""

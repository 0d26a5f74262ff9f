"""``memokey gc``: entries chosen by age, disuse, count, version and size, debris, and
safety against concurrent writers (live leases, entries replaced since the listing)."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import memokey
from memokey import usage
from memokey.cli import main
from memokey.cli._units import duration, size
from memokey.gc import GcPolicy, collect
from memokey.layout import ERROR, INVOCATION, LEASE, USED, sibling
from memokey.leases import LeaseRecord, try_acquire
from memokey_backends import open_store

Location = tuple[str, dict[str, Any]]
LATER = 10 * 86400.0  # "now" for age rules: ten days after everything here was written


def _word(location: Location, namespace: str = "default", logic_key: str | None = None) -> Any:
    url, options = location

    def word(i: int) -> str:
        return "w" * (100 * (i + 1))

    return memokey.memoize(url, storage_options=options, namespace=namespace, logic_key=logic_key)(
        word
    )


def _store(location: Location) -> Any:
    url, options = location
    return open_store(url, **options)


def test_durations_and_sizes_read_as_people_write_them() -> None:
    assert [duration(t) for t in ("45s", "90m", "12h", "30d", "2w")] == [
        45,
        5400,
        43200,
        2592000,
        1209600,
    ]
    assert [size(t) for t in ("500M", "10G", "800K", "1000", "1.5G")] == [
        500 * 2**20,
        10 * 2**30,
        800 * 2**10,
        1000,
        int(1.5 * 2**30),
    ]


@pytest.mark.parametrize("bad", ["45", "1y", "-3d", "soon"])
def test_a_malformed_duration_is_a_usage_error(
    bad: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as done:
        main(["gc", f"file://{tmp_path}", f"--older-than={bad}"])
    assert done.value.code == 2
    assert "45s, 90m, 12h, 30d" in capsys.readouterr().err


def test_older_than_removes_entries_created_before_and_reports_what_it_freed(
    store_root: Location,
) -> None:
    word = _word(store_root)
    for i in range(3):
        word(i)
    store = _store(store_root)
    kept = collect(store, GcPolicy(older_than=LATER + 60), now=time.time() + LATER)
    assert (kept.entries, kept.kept) == (0, 3)
    report = collect(store, GcPolicy(older_than=86400), now=time.time() + LATER)
    assert (report.entries, report.kept) == (3, 0)
    assert report.entry_bytes >= 100 + 200 + 300
    assert not any(word.is_cached(i) for i in range(3))


def test_dry_run_counts_and_deletes_nothing(store_root: Location) -> None:
    word = _word(store_root)
    word(0), word(1)
    report = collect(
        _store(store_root), GcPolicy(older_than=1, dry_run=True), now=time.time() + LATER
    )
    assert report.entries == 2
    assert word.is_cached(0)
    assert word.is_cached(1)


def test_unused_for_keeps_entries_that_were_hit_recently(store_root: Location) -> None:
    word = _word(store_root)
    word(0), word(1)
    time.sleep(2.1)  # object stores time objects to the second
    word(0)  # a hit: its use is recorded in the background
    usage.wait_for_marks()
    report = collect(_store(store_root), GcPolicy(unused_for=1.5))
    assert report.removed_ids == [word.key_for(1).uri.split("/memokey-v2/", 1)[1]]
    assert word.is_cached(0)


def test_use_tracking_can_be_turned_off(memory_root: Location) -> None:
    word = _word(memory_root)
    word(0)
    usage.set_use_tracking(False)
    try:
        word(0)
        usage.wait_for_marks()
    finally:
        usage.set_use_tracking(True)
    assert not _store(memory_root).exists(sibling(word.key_for(0).path, USED))


def test_keep_last_keeps_that_many_entries_per_function(store_root: Location) -> None:
    word = _word(store_root)
    other = _word(store_root, namespace="other")
    for i in range(5):
        word(i)
    other(0)
    report = collect(_store(store_root), GcPolicy(keep_last=2))
    assert report.entries == 3
    assert sum(word.is_cached(i) for i in range(5)) == 2
    assert other.is_cached(0)


def test_stale_versions_removes_every_version_but_the_newest(store_root: Location) -> None:
    old, new = _word(store_root, logic_key="v1"), _word(store_root, logic_key="v2")
    old(0), old(1)
    time.sleep(1.1)
    new(0)
    report = collect(_store(store_root), GcPolicy(stale_versions=True))
    assert report.entries == 2
    assert not old.is_cached(0)
    assert new.is_cached(0)


def test_max_size_evicts_least_recently_used_until_the_rest_fits(store_root: Location) -> None:
    word = _word(store_root)
    for i in range(4):
        word(i)
    store = _store(store_root)
    sizes = [store.info(word.key_for(i).path).size for i in range(4)]
    report = collect(store, GcPolicy(max_size=sizes[2] + sizes[3] + 10))
    assert report.kept_bytes <= sizes[2] + sizes[3] + 10
    assert report.entries >= 2
    assert report.kept == 4 - report.entries


def test_gc_never_removes_an_entry_whose_key_a_live_lease_holds(store_root: Location) -> None:
    word = _word(store_root)
    word(0)
    store = _store(store_root)
    lease = try_acquire(store, word.key_for(0).path, lease_seconds=60)
    assert lease is not None
    try:
        report = collect(store, GcPolicy(older_than=0.0))
    finally:
        lease.release()
    assert report.live == 1
    assert report.entries == 0
    assert word.is_cached(0)


def test_gc_removes_debris_stale_leases_abandoned_invocations_orphan_markers(
    store_root: Location,
) -> None:
    word = _word(store_root)
    word(0)
    store = _store(store_root)
    pending = word.key_for(1).path  # a key computed elsewhere that never finished
    stale = LeaseRecord.fresh(60)
    stale_body = json.dumps({**stale.__dict__, "expires_at": time.time() - 3600}).encode()
    store.write(sibling(pending, LEASE), stale_body)
    store.write(sibling(pending, INVOCATION), b"pickled call")
    store.write(sibling(word.key_for(2).path, USED), b"")  # a marker whose entry is gone
    report = collect(store, GcPolicy(), now=time.time() + 7200)
    assert report.debris == 3
    assert report.entries == 0
    assert not store.exists(sibling(pending, LEASE))
    assert not store.exists(sibling(pending, INVOCATION))
    assert word.is_cached(0)


def test_gc_removes_orphaned_temp_files_of_local_roots(tmp_path: Path) -> None:
    location = (f"file://{tmp_path}", {})
    word = _word(location)
    word(0)
    directory = Path(word.key_for(0).uri.removeprefix("file://")).parent
    (directory / ".memokey-tmp-0123456789abcdef").write_bytes(b"half a result")
    report = collect(_store(location), GcPolicy(), now=time.time() + 7200)
    assert report.debris == 1
    assert not (directory / ".memokey-tmp-0123456789abcdef").exists()
    assert word.is_cached(0)


@pytest.mark.parametrize("backend", ["file", "s3", "azure"])  # fake-gcs-server ignores
def test_an_entry_replaced_after_the_listing_is_kept(  # ifGenerationMatch on DELETE
    backend: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The delete is conditional on the version gc listed: a refresh between the listing
    and the delete wins, and its new value stays."""
    location = request.getfixturevalue(f"{backend}_root")
    word = _word(location)
    word(0)
    store = _store(location)

    def refresh_while_walking(_n: int) -> None:
        time.sleep(1.1)  # object stores time objects to the second
        word.refresh(0)

    report = collect(
        store, GcPolicy(older_than=0.0), now=time.time() + LATER, progress=refresh_while_walking
    )
    assert report.changed == 1
    assert report.entries == 0
    assert word.is_cached(0)


@pytest.mark.parametrize("backend", ["file", "s3"])
def test_gc_during_a_slow_computation_leaves_it_to_publish(
    backend: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> None:
    location = request.getfixturevalue(f"{backend}_root")
    url, options = location
    signals = tmp_path_factory.mktemp("signals")

    @memokey.memoize(url, storage_options=options)
    def slow(i: int, signals: str) -> int:
        Path(signals, "started").touch()
        for _ in range(3000):  # until the test says go (at most 30 s)
            if Path(signals, "go").exists():
                break
            time.sleep(0.01)
        return i

    done: list[int] = []
    worker = threading.Thread(target=lambda: done.append(slow(7, str(signals))))
    worker.start()
    for _ in range(3000):
        if (signals / "started").exists():
            break
        time.sleep(0.01)
    report = collect(_store(location), GcPolicy(older_than=0.0, unused_for=0.0))
    (signals / "go").touch()
    worker.join(30)
    assert done == [7]
    assert report.entries == 0
    assert slow.is_cached(7, str(signals))


def test_memokey_gc_prints_a_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"file://{tmp_path}"
    word = _word((url, {}))
    word(0), word(1)
    assert main(["gc", url, "--keep-last", "1", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "would free 1 entry" in out
    assert "kept 1 entries" in out
    assert main(["gc", url, "--keep-last", "1"]) == 0
    assert "freed 1 entry" in capsys.readouterr().out
    assert sum(word.is_cached(i) for i in range(2)) == 1


def test_gc_removes_error_records_without_an_entry_once_older_than_a_week(
    store_root: Location,
) -> None:
    word = _word(store_root)
    word(0)
    store = _store(store_root)
    orphan = sibling(word.key_for(1).path, ERROR)  # a failure nobody computed again
    beside = sibling(word.key_for(0).path, ERROR)  # a failure kept beside its entry
    store.write(orphan, b"a remote failure")
    store.write(beside, b"an older failure")
    assert collect(store, GcPolicy(), now=time.time() + 6 * 86400).debris == 0
    report = collect(store, GcPolicy(), now=time.time() + 8 * 86400)
    assert report.debris == 1
    assert not store.exists(orphan)
    assert store.exists(beside)
    assert word.is_cached(0)


def test_gc_older_than_also_bounds_error_records_without_an_entry(store_root: Location) -> None:
    word = _word(store_root)
    store = _store(store_root)
    orphan = sibling(word.key_for(1).path, ERROR)
    store.write(orphan, b"a remote failure")
    report = collect(store, GcPolicy(older_than=3600), now=time.time() + 7200)
    assert report.debris == 1
    assert not store.exists(orphan)


def test_gc_keeps_an_error_record_while_a_live_lease_holds_its_key(store_root: Location) -> None:
    word = _word(store_root)
    store = _store(store_root)
    path = word.key_for(1).path
    store.write(sibling(path, ERROR), b"the last failure")
    lease = try_acquire(store, path, lease_seconds=60)
    assert lease is not None
    try:
        report = collect(store, GcPolicy(error_age=0.0))
    finally:
        lease.release()
    assert store.exists(sibling(path, ERROR))
    assert report.debris == 0


def test_gc_errors_older_than_sets_the_bound_from_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"file://{tmp_path}/cache"
    word = _word((url, {}))
    store = open_store(url)
    orphan = sibling(word.key_for(1).path, ERROR)
    store.write(orphan, b"a remote failure")
    assert main(["gc", url]) == 0
    assert store.exists(orphan)  # younger than the default week
    assert main(["gc", url, "--errors-older-than", "0s"]) == 0
    assert not store.exists(orphan)
    assert "1 debris objects" in capsys.readouterr().out

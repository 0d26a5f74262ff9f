"""Leases share one heartbeat thread per process, and it stops renewing what is released."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from memokey import _heartbeat
from memokey._heartbeat import Heartbeat
from memokey.leases import read_lease, try_acquire
from memokey_backends import Store, open_store

MEMO_A = "memokey-v2/default/mod--f/aaaa"
MEMO_B = "memokey-v2/default/mod--f/bbbb"


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return open_store(f"file://{tmp_path}/memo")


class Counter:
    """A heartbeat member that counts its beats (and can be told to fail)."""

    def __init__(self, fail: bool = False) -> None:
        self.beats = 0
        self.fail = fail
        self.beaten = threading.Event()

    def beat(self) -> bool:
        self.beats += 1
        self.beaten.set()
        if self.fail:
            raise RuntimeError("boom")
        return True


def test_one_heartbeat_thread_serves_every_held_lease(store: Store) -> None:
    with try_acquire(store, MEMO_A) as a, try_acquire(store, MEMO_B) as b:
        assert a is not None
        assert b is not None
        assert a in _heartbeat.heartbeat
        assert b in _heartbeat.heartbeat
        names = [t.name for t in threading.enumerate()]
        assert names.count("memokey-heartbeat") == 1


def test_a_released_lease_is_no_longer_renewed(store: Store) -> None:
    lease = try_acquire(store, MEMO_A)
    assert lease is not None
    lease.release()
    assert lease not in _heartbeat.heartbeat
    assert not lease.renew()


def test_heartbeat_renews_two_short_leases_independently(store: Store) -> None:
    with (
        try_acquire(store, MEMO_A, lease_seconds=0.3) as a,
        try_acquire(store, MEMO_B, lease_seconds=30) as b,
    ):
        assert a is not None
        assert b is not None
        first_b = b.record.heartbeat
        time.sleep(1.0)  # several periods of the short lease
        held = read_lease(store, MEMO_A)
        assert held is not None
        assert not held.is_stale()
        assert b.record.heartbeat == first_b  # the long one is not due yet


def test_heartbeat_thread_exits_after_idling() -> None:
    beats = Heartbeat(idle_seconds=0.05)
    member = Counter()
    beats.add(member, 0.01)
    assert member.beaten.wait(5)
    thread = beats.thread
    assert thread is not None
    beats.discard(member)
    thread.join(5)
    assert not thread.is_alive()
    assert beats.thread is None


def test_heartbeat_starts_again_after_exiting() -> None:
    beats = Heartbeat(idle_seconds=0.01)
    first = Counter()
    beats.add(first, 0.01)
    assert first.beaten.wait(5)
    beats.discard(first)
    old = beats.thread
    assert old is not None
    old.join(5)
    second = Counter()
    beats.add(second, 0.01)
    assert second.beaten.wait(5)
    beats.discard(second)


def test_a_failing_member_is_dropped_and_the_others_keep_beating() -> None:
    beats = Heartbeat(idle_seconds=0.05)
    bad, good = Counter(fail=True), Counter()
    beats.add(bad, 0.01)
    beats.add(good, 0.01)
    assert bad.beaten.wait(5)
    deadline = time.monotonic() + 5
    while good.beats < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert good.beats >= 3
    assert bad.beats == 1
    assert bad not in beats
    beats.discard(good)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_a_forked_child_does_not_renew_its_parents_leases(store: Store) -> None:
    with try_acquire(store, MEMO_A) as lease:
        assert lease is not None
        pid = os.fork()
        if pid == 0:  # the child: report through the exit code only
            os._exit(0 if len(_heartbeat.heartbeat) == 0 else 1)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert lease in _heartbeat.heartbeat


def test_a_fresh_lease_reads_its_version_at_the_first_renewal_then_swaps(store: Store) -> None:
    lease = try_acquire(store, MEMO_A)
    assert lease is not None
    try:
        held = read_lease(store, MEMO_A)
        assert held is not None
        assert held.owner == lease.record.owner
        assert lease.renew()  # reads the version lazily, then swaps
        assert lease.renew()
    finally:
        lease.release()
    assert read_lease(store, MEMO_A) is None


def test_a_member_added_to_an_idle_heartbeat_wakes_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_heartbeat, "IDLE_TICK", 3600.0)  # idle: it would sleep an hour
    beats = Heartbeat(idle_seconds=7200)
    first = Counter()
    beats.add(first, 0.01)
    assert first.beaten.wait(5)
    beats.discard(first)
    second = Counter()
    beats.add(second, 0.01)  # due before the thread's wake-up: it must be woken
    assert second.beaten.wait(5)
    beats.discard(second)


def test_a_member_due_after_the_next_wake_is_beaten_without_waking_the_thread() -> None:
    beats = Heartbeat(idle_seconds=30)
    fast, slow = Counter(), Counter()
    beats.add(fast, 0.02)
    beats.add(slow, 0.1)  # later than the thread's next wake: picked up when it wakes
    assert slow.beaten.wait(5)
    assert fast.beats >= 2
    beats.discard(fast)
    beats.discard(slow)

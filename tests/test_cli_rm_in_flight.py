"""``memokey rm`` leaves a computation in flight alone unless told ``--force``.

A live lease (or, on local roots, a held kernel lock) means someone is computing the key
now. Deleting their lease lets a second caller start the same work; deleting their
invocation leaves a remote worker without the call it was sent. rm deletes the entry and
its error and use records, keeps that lease and invocation, and says so; ``--force``
removes them too. A stale lease (expired, or its holder gone) is removed as before.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import pytest

import memokey
from memokey.cli import main
from memokey.layout import ERROR, INVOCATION, LEASE, sibling
from memokey.leases import LeaseRecord, try_acquire
from memokey_backends import Store, open_store


@pytest.fixture(params=["memory", "file"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "memory":
        return f"memory://rm-in-flight-{tmp_path.name}"
    return f"file://{tmp_path}/cache"


def _word(url: str) -> Any:
    @memokey.memoize(url)
    def word(i: int) -> str:
        return "w" * (i + 1)

    return word


def _computing(store: Store, path: str) -> Any:
    """A live holder of `path`'s key that has also stored its invocation (a remote run)."""
    lease = try_acquire(store, path, lease_seconds=60)
    assert lease is not None
    store.write(sibling(path, INVOCATION), b"the pickled call")
    return lease


def _holder(store: Store, path: str) -> str | None:
    data = store.read(sibling(path, LEASE))
    record = None if data is None else LeaseRecord.decode(data)
    return None if record is None else record.owner


def test_rm_keeps_the_lease_and_invocation_of_a_computation_in_flight(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    word = _word(url)
    word(0)
    store, path = open_store(url), word.key_for(0).path
    store.write(sibling(path, ERROR), b"an old failure")
    lease = _computing(store, path)
    try:
        assert main(["rm", word.key_for(0).uri]) == 0
        out = capsys.readouterr().out
        assert not word.is_cached(0)
        assert not store.exists(sibling(path, ERROR))
        assert _holder(store, path) == lease.record.owner
        assert store.exists(sibling(path, INVOCATION))
        assert "kept the lease and invocation of 1 computation in flight" in out
        assert "--force" in out
    finally:
        lease.release()


def test_rm_force_removes_a_live_lease_and_invocation_too(url: str) -> None:
    word = _word(url)
    word(0)
    store, path = open_store(url), word.key_for(0).path
    lease = _computing(store, path)
    try:
        assert main(["rm", word.key_for(0).uri, "--force"]) == 0
        assert not store.exists(sibling(path, LEASE))
        assert not store.exists(sibling(path, INVOCATION))
        assert not word.is_cached(0)
    finally:
        lease.release()


def test_rm_removes_an_expired_lease_without_force(url: str) -> None:
    word = _word(url)
    word(0)
    store, path = open_store(url), word.key_for(0).path
    expired = dataclasses.replace(LeaseRecord.fresh(60), expires_at=time.time() - 3600)
    store.write(sibling(path, LEASE), json.dumps(dataclasses.asdict(expired)).encode())
    store.write(sibling(path, INVOCATION), b"an abandoned call")
    assert main(["rm", word.key_for(0).uri]) == 0
    assert not store.exists(sibling(path, LEASE))
    assert not store.exists(sibling(path, INVOCATION))


def test_rm_of_a_prefix_keeps_live_leases_and_counts_them(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    word = _word(url)
    for i in range(3):
        word(i)
    store = open_store(url)
    busy = word.key_for(1).path
    lease = _computing(store, busy)
    try:
        assert main(["rm", f"default/{word.key_for(0).function_id}", "--root", url]) == 0
        out = capsys.readouterr().out
        assert "removed 3 entries" in out
        assert "kept the lease and invocation of 1 computation in flight" in out
        assert not any(word.is_cached(i) for i in range(3))
        assert _holder(store, busy) == lease.record.owner
        assert store.exists(sibling(busy, INVOCATION))
    finally:
        lease.release()

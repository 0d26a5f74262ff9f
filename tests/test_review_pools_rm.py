"""Outside review of connection pools, conditional lease release and ``rm``/gc.

``max_connections`` is memokey's own storage option: it must set a store's width whatever
else is open in the process, wherever a caller may write it, and never reach the SDK.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

import memokey
from helpers.proxied_buckets import CLOUDS, Bucket, proxied_bucket
from helpers.servers import Server, s3_options
from memokey.cli import main
from memokey.errors import ConfigurationError
from memokey.layout import INVOCATION, LEASE, sibling
from memokey.leases import LeaseRecord, try_acquire
from memokey.testing.request_counter import CountingProxy
from memokey_backends import Store, open_store


@pytest.fixture(params=CLOUDS)
def bucket(request: pytest.FixtureRequest) -> Iterator[Bucket]:
    with proxied_bucket(request) as found:
        yield found


def _reads_at_once(store: Store, proxy: CountingProxy, count: int) -> int:
    """The most requests `store` had in flight at once while `count` threads read."""
    for i in range(count):
        store.write(f"k/{i}", b"v")
    with ThreadPoolExecutor(count) as pool, proxy.gathering(count, quiet=0.5) as seen:
        assert list(pool.map(lambda i: store.read(f"k/{i}"), range(count))) == [b"v"] * count
    return seen.peak_in_flight


def test_a_second_store_with_another_max_connections_gets_its_own_width(bucket: Bucket) -> None:
    narrow = open_store(bucket.url, max_connections=2, **bucket.options)
    narrow.write("warm", b"up")  # the filesystem's session exists now
    wide = open_store(bucket.url, max_connections=8, **bucket.options)
    assert _reads_at_once(wide, bucket.proxy, 8) == 8
    assert _reads_at_once(narrow, bucket.proxy, 8) == 2


@pytest.mark.cloud
def test_max_connections_in_a_chained_urls_protocol_options_sizes_the_pool(
    moto_server: Server,
) -> None:
    import fsspec

    bucket = f"t-{uuid.uuid4().hex[:12]}"
    fsspec.filesystem("s3", **moto_server.options).mkdir(bucket)
    store = open_store(
        f"simplecache::s3://{bucket}/root", s3={**moto_server.options, "max_connections": 8}
    )
    store.write("x", b"stored")  # the SDK never sees the option (it refused it before)
    assert store.read("x") == b"stored"
    assert store.fs.config_kwargs["max_pool_connections"] == 8  # type: ignore[attr-defined]


def test_max_connections_and_a_different_max_pool_connections_are_refused() -> None:
    with pytest.raises(ConfigurationError, match=r"max_connections.*max_pool_connections"):
        open_store(
            "s3://bucket/root",
            max_connections=8,
            config_kwargs={"max_pool_connections": 50},
            **s3_options("http://127.0.0.1:9"),
        )


# -- memokey rm and a computation in flight ------------------------------------------------

_PROTOCOLS = {"s3": ("s3",), "gs": ("gs", "gcs"), "az": ("az", "abfs")}


def _word(url: str, options: dict[str, Any]) -> Any:
    @memokey.memoize(url, storage_options=options)
    def word(i: int) -> str:
        return "w" * (i + 1)

    return word


@pytest.fixture(params=CLOUDS)
def cloud_root(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> tuple[str, dict[str, Any]]:
    """A root on each cloud emulator that the CLI (which takes no storage options) reaches
    through fsspec's configuration, as a user's config file would."""
    import fsspec.config

    url, options = request.getfixturevalue(f"{request.param}_root")
    scheme = url.split("://", 1)[0]
    for protocol in _PROTOCOLS[scheme]:
        monkeypatch.setitem(fsspec.config.conf, protocol, dict(options))
    return url, options


def test_rm_on_a_cloud_root_keeps_a_live_lease_and_removes_a_stale_one(
    cloud_root: tuple[str, dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    url, options = cloud_root
    word = _word(url, options)
    word(0), word(1)
    store = open_store(url, **options)
    busy, idle = word.key_for(0).path, word.key_for(1).path
    lease = try_acquire(store, busy, lease_seconds=60)
    assert lease is not None
    expired = dataclasses.replace(LeaseRecord.fresh(60), expires_at=time.time() - 3600)
    store.write(sibling(idle, LEASE), json.dumps(dataclasses.asdict(expired)).encode())
    try:
        assert main(["rm", f"default/{word.key_for(0).function_id}", "--root", url]) == 0
        assert "kept the lease and invocation of 1 computation" in capsys.readouterr().out
        assert store.exists(sibling(busy, LEASE))
        assert not store.exists(sibling(idle, LEASE))
        assert not word.is_cached(0)
        assert not word.is_cached(1)
    finally:
        lease.release()
    assert not store.exists(sibling(busy, LEASE))  # its holder still releases it


_HOLD_LOCK = """
import sys
from memokey._local_locks import lock_for
lock = lock_for(sys.argv[1], sys.argv[2])
lock.acquire()
print("held", flush=True)
sys.stdin.read()
"""


def test_rm_keeps_the_invocation_of_a_local_key_another_process_is_computing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"file://{tmp_path}/cache"
    word = _word(url, {})
    word(0)
    store, path = open_store(url), word.key_for(0).path
    store.write(sibling(path, INVOCATION), b"a queued remote run")
    where = store.local_path(path)  # type: ignore[attr-defined]
    digest = path.rsplit("/", 1)[-1]
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD_LOCK, where, digest],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == b"held\n"
        assert main(["rm", word.key_for(0).uri]) == 0
        assert "kept the lease and invocation of 1 computation" in capsys.readouterr().out
        assert store.exists(sibling(path, INVOCATION))
        assert not word.is_cached(0)
    finally:
        holder.communicate(b"")
    assert main(["rm", word.key_for(0).uri]) == 0  # the holder has gone: now it goes
    assert not store.exists(sibling(path, INVOCATION))


@pytest.mark.parametrize("raw", ["sixty-four", "0", "-8", "1e3", "2.5"])
def test_a_malformed_submit_workers_variable_is_refused_with_what_to_write(
    raw: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEMOKEY_SUBMIT_WORKERS", raw)  # it sizes the pools as well
    with pytest.raises(ConfigurationError, match="MEMOKEY_SUBMIT_WORKERS=128"):
        open_store(f"s3://b-{uuid.uuid4().hex[:12]}/root", **s3_options("http://127.0.0.1:9"))


def test_calls_queued_behind_a_narrow_pool_wait_for_it_instead_of_timing_out(
    bucket: Bucket,
) -> None:
    """Waiting for one of the store's connections is not the server failing to answer:
    it must not use up the operation's `timeout` and end as "no answer"."""
    store = open_store(bucket.url, max_connections=1, timeout=1.0, **bucket.options)
    store.write("x", b"stored")
    bucket.proxy.latency = 0.3  # 8 reads one after another take longer than the timeout
    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(lambda _: store.read("x"), range(8))) == [b"stored"] * 8


@pytest.mark.cloud
def test_timeout_in_a_chained_urls_protocol_options_is_memokeys_deadline(
    moto_server: Server,
) -> None:
    import fsspec

    bucket = f"t-{uuid.uuid4().hex[:12]}"
    fsspec.filesystem("s3", **moto_server.options).mkdir(bucket)
    store = open_store(f"simplecache::s3://{bucket}/root", s3={**moto_server.options, "timeout": 7})
    store.write("x", b"stored")  # the SDK never sees the option (it refused it before)
    assert store.read("x") == b"stored"
    assert store.timeout == 7  # type: ignore[attr-defined]

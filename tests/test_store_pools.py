"""Cloud connection pools are as wide as ``.submit()``'s fan-out.

``.submit()`` runs 64 calls at once (``MEMOKEY_SUBMIT_WORKERS``). botocore allows 10
connections per client and the aiohttp session under gcsfs and adlfs 100, so a narrower
pool queued the calls behind each other. Shown on the wire: a counting proxy in front of
each real emulator holds requests until as many as the fan-out are in flight at once (or
no more arrive), and reports the most it saw; a pool of 10 shows 10.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

import memokey
from helpers.servers import Server, azure_options, gcs_options, s3_options
from memokey import usage
from memokey.errors import ConfigurationError
from memokey.shims import ExecutorShim
from memokey.testing.request_counter import CountingProxy
from memokey_backends import open_store

FAN_OUT = 64  # memokey.shims.fanout's default number of calls in flight

_OPTIONS: dict[str, Callable[[str], dict[str, Any]]] = {
    "s3": s3_options,
    "gcs": gcs_options,
    "azure": azure_options,
}
_SCHEME = {"s3": "s3", "gcs": "gs", "azure": "az"}
_SERVER = {"s3": "moto_server", "gcs": "gcs_server", "azure": "azurite_server"}


class Bucket:
    """A fresh bucket on one emulator, reached through a counting proxy."""

    def __init__(self, backend: str, server: Server, proxy: CountingProxy) -> None:
        import fsspec

        self.proxy = proxy
        self.options = _OPTIONS[backend](proxy.endpoint)  # a new endpoint: a new SDK client
        bucket = f"t-{uuid.uuid4().hex[:12]}"
        fsspec.filesystem(_SCHEME[backend], **server.options).mkdir(bucket)
        self.url = f"{_SCHEME[backend]}://{bucket}/root"


@pytest.fixture(params=[pytest.param(name, marks=pytest.mark.cloud) for name in _SERVER])
def bucket(request: pytest.FixtureRequest) -> Iterator[Bucket]:
    server: Server = request.getfixturevalue(_SERVER[request.param])
    proxy = CountingProxy(server.endpoint).start()
    try:
        yield Bucket(request.param, server, proxy)
    finally:
        proxy.stop()


def double(x: int) -> int:
    return 2 * x


def _stored(bucket: Bucket, count: int, shim: Any = None, **options: Any) -> Any:
    """`double` memoized on `bucket` with results for 0..count-1 stored and marked used."""
    memoized = memokey.memoize(
        bucket.url, shim=shim, storage_options={**bucket.options, **options}
    )(double)
    _in_threads(count, memoized)
    _in_threads(count, memoized)  # the day's first hit queues a use mark: written now
    usage.wait_for_marks()
    return memoized


def _in_threads(count: int, call: Callable[[int], Any]) -> list[Any]:
    """`call(i)` for i in 0..count-1, all started together on their own threads."""
    results: list[Any] = [None] * count
    start = threading.Barrier(count)

    def run(i: int) -> None:
        start.wait()
        results[i] = call(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_sixty_four_submitted_hits_are_all_in_flight_at_once(bucket: Bucket) -> None:
    with ThreadPoolExecutor(FAN_OUT) as executor:
        memoized = _stored(bucket, FAN_OUT, shim=ExecutorShim(executor))
        with bucket.proxy.gathering(FAN_OUT) as seen:
            futures = [memoized.submit(x) for x in range(FAN_OUT)]
            assert [f.result() for f in futures] == [2 * x for x in range(FAN_OUT)]
    assert seen.peak_in_flight == FAN_OUT
    assert seen.peak_connections >= FAN_OUT


def test_a_wider_fan_out_widens_the_pool_past_the_sdk_default(
    bucket: Bucket, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEMOKEY_SUBMIT_WORKERS", "128")  # aiohttp's default pool holds 100
    memoized = _stored(bucket, 128)
    with bucket.proxy.gathering(128) as seen:
        assert _in_threads(128, memoized) == [2 * x for x in range(128)]
    assert seen.peak_in_flight == 128


def test_max_connections_sets_how_many_requests_a_store_sends_at_once(bucket: Bucket) -> None:
    memoized = _stored(bucket, 16, max_connections=4)
    with bucket.proxy.gathering(16, quiet=0.5) as seen:
        assert _in_threads(16, memoized) == [2 * x for x in range(16)]
    assert seen.peak_in_flight == 4


def test_an_s3_store_opens_as_many_connections_as_submit_runs_calls() -> None:
    store = open_store("s3://bucket/root", **s3_options("http://127.0.0.1:9"))
    assert store.fs.config_kwargs["max_pool_connections"] >= FAN_OUT  # type: ignore[attr-defined]


def test_an_s3_pool_size_the_user_chose_is_kept() -> None:
    config = {"max_pool_connections": 5}
    store = open_store("s3://bucket/root", config_kwargs=config, **s3_options("http://127.0.0.1:9"))
    assert store.fs.config_kwargs == config  # type: ignore[attr-defined]


def test_an_s3_config_without_a_pool_size_gets_the_fan_out_width() -> None:
    config = {"connect_timeout": 3}
    store = open_store("s3://bucket/root", config_kwargs=config, **s3_options("http://127.0.0.1:9"))
    assert store.fs.config_kwargs == {"connect_timeout": 3, "max_pool_connections": FAN_OUT}  # type: ignore[attr-defined]
    assert config == {"connect_timeout": 3}  # the caller's dict is left alone


@pytest.mark.parametrize("value", [0, -1, 2.5, "64", True, 10**6])
def test_a_max_connections_that_is_not_a_sensible_count_is_refused(value: Any) -> None:
    with pytest.raises(ConfigurationError, match="max_connections"):
        open_store("s3://bucket/root", max_connections=value, **s3_options("http://127.0.0.1:9"))

"""Cloud connection pools are as wide as ``.submit()``'s fan-out.

``.submit()`` runs 64 calls at once (``MEMOKEY_SUBMIT_WORKERS``). botocore allows 10
connections per client and the aiohttp session under gcsfs and adlfs 100, so a narrower
pool queued the calls behind each other. Shown on the wire: a counting proxy in front of
each real emulator holds requests until as many as the fan-out are in flight at once (or
no more arrive), and reports the most it saw; a pool of 10 shows 10.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

import memokey
from helpers.proxied_buckets import CLOUDS, Bucket, proxied_bucket
from helpers.servers import s3_options
from memokey import usage
from memokey.errors import ConfigurationError
from memokey.shims import ExecutorShim
from memokey_backends import open_store

FAN_OUT = 64  # memokey.shims.fanout's default number of calls in flight


@pytest.fixture(params=CLOUDS)
def bucket(request: pytest.FixtureRequest) -> Iterator[Bucket]:
    with proxied_bucket(request) as found:
        yield found


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

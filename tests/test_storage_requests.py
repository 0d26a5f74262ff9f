"""How many requests each operation sends to a cloud store, counted on the wire.

A counting proxy (`memokey.testing.request_counter`) sits between the SDK and the real emulator
(moto, fake-gcs-server, Azurite), so these counts are what S3, GCS or Azure would be
asked, whatever the SDK does inside. The bounds are the issue-10 targets: a hit is one
request, a miss with compute-once at most five, nothing ever lists on the hit or miss
path, and a waiter polls the result alone and writes nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

import memokey
from helpers.servers import (
    EMULATOR_GAP,
    Server,
    azure_options,
    gcs_options,
    ignores_delete_preconditions,
    s3_options,
)
from memokey import usage
from memokey.errors import LeaseError
from memokey.leases import acquire_or_wait, try_acquire
from memokey.testing.request_counter import CountingProxy, Request
from memokey_backends import open_store

pytestmark = pytest.mark.cloud

_OPTIONS = {"s3": s3_options, "gcs": gcs_options, "azure": azure_options}
_SCHEME = {"s3": "s3", "gcs": "gs", "azure": "az"}
_SERVER = {"s3": "moto_server", "gcs": "gcs_server", "azure": "azurite_server"}


class Proxied:
    """A fresh bucket on one emulator, reached directly and through a counting proxy."""

    def __init__(self, backend: str, server: Server, proxy: CountingProxy) -> None:
        import fsspec

        self.backend = backend
        self.proxy = proxy
        self.options: dict[str, Any] = _OPTIONS[backend](proxy.endpoint)
        bucket = f"t-{uuid.uuid4().hex[:12]}"
        scheme = _SCHEME[backend]
        fsspec.filesystem(scheme, **server.options).mkdir(bucket)
        self.url = f"{scheme}://{bucket}/root"
        self.direct = open_store(self.url, **server.options)
        self.store = open_store(self.url, **self.options)


@pytest.fixture(params=["s3", "gcs", "azure"])
def proxied(request: pytest.FixtureRequest) -> Iterator[Proxied]:
    server: Server = request.getfixturevalue(_SERVER[request.param])
    proxy = CountingProxy(server.endpoint).start()
    try:
        yield Proxied(request.param, server, proxy)
    finally:
        proxy.stop()


def _lists(requests: list[Request]) -> list[Request]:
    markers = ("list-type=", "comp=list", "delimiter=", "prefix=", "maxResults=", "maxresults=")
    return [r for r in requests if any(m in r.path for m in markers)]


CALLS: list[int] = []


def double(x: int) -> int:
    CALLS.append(x)
    return 2 * x


def _function(proxied: Proxied) -> Any:
    CALLS.clear()
    return memokey.memoize(proxied.url, storage_options=proxied.options)(double)


def test_a_hit_is_one_request(proxied: Proxied) -> None:
    memoized = _function(proxied)
    memoized(1)
    memoized(1)  # the day's first hit also queues a use mark (background, memokey.usage)
    usage.wait_for_marks()
    with proxied.proxy.counting() as seen:
        assert memoized(1) == 2
    assert [r.method for r in seen] == ["GET"]
    assert CALLS == [1]


def test_use_tracking_writes_one_marker_per_entry_per_day_off_the_hit_path(
    proxied: Proxied,
) -> None:
    memoized = _function(proxied)
    memoized(3)
    with proxied.proxy.counting() as seen:
        for _ in range(5):
            memoized(3)
        usage.wait_for_marks()
    assert [r.method for r in seen].count("GET") == 5
    assert sum(r.is_write for r in seen) == 1  # the one .used marker
    assert _lists(seen) == []


def test_is_cached_is_one_request_and_never_lists(proxied: Proxied) -> None:
    memoized = _function(proxied)
    memoized(4)
    with proxied.proxy.counting() as seen:
        assert memoized.is_cached(4)
        assert not memoized.is_cached(5)
    assert len(seen) == 2
    assert _lists(seen) == []


def test_a_miss_with_compute_once_takes_at_most_five_requests_and_never_lists(
    proxied: Proxied,
) -> None:
    memoized = _function(proxied)
    memoized(0)  # opens the store and warms the SDK's connection
    with proxied.proxy.counting() as seen:
        assert memoized(21) == 42
    assert len(seen) <= 5, [(r.method, r.path) for r in seen]
    assert _lists(seen) == []
    assert sum(r.is_write for r in seen) == 3  # lease create, entry create, lease delete


def test_existence_checks_and_missing_reads_are_one_request_and_never_list(
    proxied: Proxied,
) -> None:
    with proxied.proxy.counting() as seen:
        assert proxied.store.read("nothing/here") is None
        assert proxied.store.exists("nothing/here") is False
    assert len(seen) == 2
    assert _lists(seen) == []


def test_a_lease_release_is_one_conditional_delete(proxied: Proxied) -> None:
    lease = try_acquire(proxied.store, "k/entry")
    assert lease is not None
    with proxied.proxy.counting() as seen:
        lease.release()
    assert [r.method for r in seen] == ["DELETE"]
    assert not proxied.direct.exists("k/entry.lease")


def test_a_release_names_the_version_it_wrote_in_its_delete(proxied: Proxied) -> None:
    """The precondition is on the wire, so the service can refuse the delete (fake-gcs-server
    v1.54 ignores it, so on GCS this is what can be shown; see the next test)."""
    lease = try_acquire(proxied.store, "k/entry")
    assert lease is not None
    current = proxied.direct.read_versioned("k/entry.lease")
    assert current is not None
    with proxied.proxy.counting() as seen:
        lease.release()
    (delete,) = seen
    assert delete.method == "DELETE"
    if proxied.backend == "gcs":
        sent = parse_qs(urlsplit(delete.path).query).get("ifGenerationMatch")
    else:
        sent = [delete.header("If-Match") or ""]
    assert [v.strip('"') for v in sent or []] == [current[1].strip('"')]


def test_a_release_never_deletes_a_lease_that_was_taken_over(proxied: Proxied) -> None:
    if ignores_delete_preconditions(proxied.direct):
        pytest.skip(f"{EMULATOR_GAP}; the test above shows the precondition is sent")
    lease = try_acquire(proxied.store, "k/entry", lease_seconds=30)
    assert lease is not None
    proxied.direct.write("k/entry.lease", b'{"someone": "else"}')  # replaced meanwhile
    lease.release()
    assert proxied.direct.read("k/entry.lease") == b'{"someone": "else"}'


def test_a_waiter_polls_only_the_result_and_writes_nothing(proxied: Proxied) -> None:
    holder = try_acquire(proxied.direct, "k/entry", lease_seconds=60)
    assert holder is not None
    store = proxied.store
    try:
        with proxied.proxy.counting() as seen, pytest.raises(LeaseError):
            acquire_or_wait(
                store, "k/entry", done=lambda: store.read("k/entry") is not None, timeout=3
            )
    finally:
        holder.release()
    writes = [r for r in seen if r.is_write]
    lease_reads = [r for r in seen if not r.is_write and "lease" in r.path]
    assert len(writes) == 1  # the one refused exclusive create, then never again
    assert len(lease_reads) <= 2  # who holds it; once more for the give-up message
    # Capped backoff from 50 ms doubling to 1.5 s: at most 7 result reads in 3 s.
    assert len(seen) <= 10, [(r.method, r.path) for r in seen]

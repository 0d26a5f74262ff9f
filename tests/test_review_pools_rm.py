"""Outside review of connection pools, conditional lease release and ``rm``/gc.

``max_connections`` is memokey's own storage option: it must set a store's width whatever
else is open in the process, wherever a caller may write it, and never reach the SDK.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from helpers.servers import Server, azure_options, gcs_options, s3_options
from memokey.errors import ConfigurationError
from memokey.testing.request_counter import CountingProxy
from memokey_backends import Store, open_store

pytestmark = pytest.mark.cloud

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
        self.options = _OPTIONS[backend](proxy.endpoint)
        bucket = f"t-{uuid.uuid4().hex[:12]}"
        fsspec.filesystem(_SCHEME[backend], **server.options).mkdir(bucket)
        self.url = f"{_SCHEME[backend]}://{bucket}/root"


@pytest.fixture(params=list(_SERVER))
def bucket(request: pytest.FixtureRequest) -> Iterator[Bucket]:
    server: Server = request.getfixturevalue(_SERVER[request.param])
    proxy = CountingProxy(server.endpoint).start()
    try:
        yield Bucket(request.param, server, proxy)
    finally:
        proxy.stop()


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

"""A fresh bucket on one cloud emulator, reached through a counting proxy: what tests of
connection pools and request counts look at on the wire."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from helpers.servers import Server, azure_options, gcs_options, s3_options
from memokey.testing.request_counter import CountingProxy

_OPTIONS: dict[str, Callable[[str], dict[str, Any]]] = {
    "s3": s3_options,
    "gcs": gcs_options,
    "azure": azure_options,
}
_SCHEME = {"s3": "s3", "gcs": "gs", "azure": "az"}
_SERVER = {"s3": "moto_server", "gcs": "gcs_server", "azure": "azurite_server"}
CLOUDS = [pytest.param(name, marks=pytest.mark.cloud) for name in _SERVER]
"""Fixture params: one per cloud backend, each marked ``cloud``."""


class Bucket:
    """A fresh bucket on one emulator, reached through a counting proxy."""

    def __init__(self, backend: str, server: Server, proxy: CountingProxy) -> None:
        import fsspec

        self.proxy = proxy
        self.options = _OPTIONS[backend](proxy.endpoint)  # a new endpoint: a new SDK client
        bucket = f"t-{uuid.uuid4().hex[:12]}"
        fsspec.filesystem(_SCHEME[backend], **server.options).mkdir(bucket)
        self.url = f"{_SCHEME[backend]}://{bucket}/root"


@contextmanager
def proxied_bucket(request: pytest.FixtureRequest) -> Iterator[Bucket]:
    """The bucket for a fixture parametrized by `CLOUDS`; the proxy stops afterwards."""
    server: Server = request.getfixturevalue(_SERVER[request.param])
    proxy = CountingProxy(server.endpoint).start()
    try:
        yield Bucket(request.param, server, proxy)
    finally:
        proxy.stop()

"""Lease release on S3 servers that do not implement conditional deletes.

memokey releases an S3 lease with one ``DeleteObject`` carrying ``If-Match: <ETag>``
(AWS honours it on general purpose buckets since September 2025). An S3-compatible server
that does not implement it may answer 501 NotImplemented; shown here by a proxy in front
of moto that answers so in the server's place. Such a server must neither leave our lease
behind (callers would wait for it to expire) nor make us delete a lease someone else took
over, nor cost a refused request on every release.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator

import pytest

from helpers.servers import Server, s3_options
from memokey.leases import try_acquire
from memokey.testing.request_counter import CountingProxy, Request
from memokey_backends import Store, open_store

pytestmark = pytest.mark.cloud

NOT_IMPLEMENTED = (
    b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>NotImplemented</Code><Message>A '
    b"header you provided implies functionality that is not implemented</Message>"
    b"<Header>If-Match</Header></Error>"
)


def _refuse_conditional_deletes(request: Request) -> tuple[int, bytes] | None:
    if request.method == "DELETE" and request.header("If-Match") is not None:
        return 501, NOT_IMPLEMENTED
    return None


class OldServer:
    """A bucket on moto, reached directly and through a proxy that answers 501 to any
    conditional delete."""

    def __init__(self, server: Server, proxy: CountingProxy) -> None:
        import fsspec

        bucket = f"t-{uuid.uuid4().hex[:12]}"
        fsspec.filesystem("s3", **server.options).mkdir(bucket)
        self.proxy = proxy
        self.direct: Store = open_store(f"s3://{bucket}/root", **server.options)
        self.store: Store = open_store(f"s3://{bucket}/root", **s3_options(proxy.endpoint))


@pytest.fixture
def old_server(moto_server: Server) -> Iterator[OldServer]:
    proxy = CountingProxy(moto_server.endpoint).start()
    proxy.answer = _refuse_conditional_deletes
    try:
        yield OldServer(moto_server, proxy)
    finally:
        proxy.stop()


def test_a_release_still_deletes_our_lease_when_conditional_deletes_are_not_implemented(
    old_server: OldServer, caplog: pytest.LogCaptureFixture
) -> None:
    lease = try_acquire(old_server.store, "k/entry")
    assert lease is not None
    with caplog.at_level(logging.WARNING, "memokey.store"):
        lease.release()
    assert not old_server.direct.exists("k/entry.lease")
    assert "does not implement conditional deletes" in caplog.text


def test_a_release_never_deletes_a_lease_taken_over_on_a_server_without_conditional_deletes(
    old_server: OldServer,
) -> None:
    lease = try_acquire(old_server.store, "k/entry", lease_seconds=30)
    assert lease is not None
    old_server.direct.write("k/entry.lease", b'{"someone": "else"}')  # replaced meanwhile
    lease.release()
    assert old_server.direct.read("k/entry.lease") == b'{"someone": "else"}'


def test_a_server_that_refused_a_conditional_delete_is_not_asked_again(
    old_server: OldServer,
) -> None:
    first = try_acquire(old_server.store, "k/first")
    assert first is not None
    first.release()
    second = try_acquire(old_server.store, "k/second")
    assert second is not None
    with old_server.proxy.counting() as seen:
        second.release()
    assert [r.method for r in seen] == ["HEAD", "DELETE"]
    assert all(r.header("If-Match") is None for r in seen)
    assert not old_server.direct.exists("k/second.lease")

"""A large S3 write that fails leaves no incomplete multipart upload behind.

S3 bills the parts of an upload that is neither completed nor aborted, forever. A write
of 100 MB or more is a multipart upload; it is aborted on every failure path: an error
or deadline in the middle, and KeyboardInterrupt in the writing process. The store can
also list and abort uploads left by processes that died (``kill -9``), for ``memokey gc``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from typing import Any

import boto3
import pytest

from helpers.servers import REPO_ROOT, Server, s3_options
from helpers.tcp import StallingProxy
from memokey_backends import StoreUnavailableError, open_store

pytestmark = [pytest.mark.cloud, pytest.mark.slow, pytest.mark.timeout(180)]

BIG = 110 * 2**20  # above s3fs's multipart threshold (2 x 50 MiB parts)


def _client(server: Server) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=server.endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )


def _uploads(server: Server, bucket: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = (
        _client(server).list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    )
    return found


@pytest.fixture
def bucket(moto_server: Server, s3_root: tuple[str, dict[str, Any]]) -> str:
    return s3_root[0].split("://", 1)[1].split("/", 1)[0]


def test_a_large_write_cut_off_mid_way_aborts_its_multipart_upload(
    moto_server: Server, bucket: str
) -> None:
    with StallingProxy(moto_server.port, stall_after=8 * 2**20) as proxy:
        store = open_store(f"s3://{bucket}/root", timeout=3, **s3_options(proxy.endpoint))
        with pytest.raises(StoreUnavailableError):
            store.write("ns/f/d", b"\0" * BIG, exclusive=True)
        assert proxy.stalled.is_set()  # the failure did happen mid-upload
    assert _uploads(moto_server, bucket) == []
    assert open_store(f"s3://{bucket}/root", **moto_server.options).read("ns/f/d") is None


def test_a_large_write_whose_connection_breaks_mid_way_aborts_its_multipart_upload(
    moto_server: Server, bucket: str
) -> None:
    # s3fs aborted on errors (not on cancellation); memokey's own upload must keep that.
    with StallingProxy(moto_server.port, stall_after=8 * 2**20, reset=True) as proxy:
        store = open_store(f"s3://{bucket}/root", **s3_options(proxy.endpoint))
        with pytest.raises(StoreUnavailableError):
            store.write("ns/f/d", b"\0" * BIG, exclusive=True)
        assert proxy.stalled.is_set()
    assert _uploads(moto_server, bucket) == []


_INTERRUPTED_WRITER = textwrap.dedent(
    """
    import sys
    sys.path[:0] = [{repo!r}, {backends!r}]
    from memokey_backends import open_store
    store = open_store({url!r}, **{options!r})
    print("writing", flush=True)
    try:
        store.write("ns/f/d", b"\\0" * {size}, exclusive=True)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
        raise SystemExit(130)
    print("finished", flush=True)
    """
)


def test_keyboard_interrupt_during_a_large_write_aborts_its_multipart_upload(
    moto_server: Server, bucket: str
) -> None:
    # A proxy that stalls keeps the upload in flight until the interrupt arrives.
    with StallingProxy(moto_server.port, stall_after=8 * 2**20) as proxy:
        script = _INTERRUPTED_WRITER.format(
            repo=str(REPO_ROOT),
            backends=str(REPO_ROOT / "backends"),
            url=f"s3://{bucket}/root",
            options=s3_options(proxy.endpoint),
            size=BIG,
        )
        child = subprocess.Popen(
            [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        try:
            assert child.stdout is not None
            assert child.stdout.readline().strip() == b"writing"
            while not _uploads(moto_server, bucket):  # the upload has begun
                assert child.poll() is None, child.stderr.read() if child.stderr else ""
                time.sleep(0.05)
            assert proxy.stalled.wait(60)
            os.kill(child.pid, signal.SIGINT)
            out, err = child.communicate(timeout=60)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
    assert b"interrupted" in out, err.decode()
    assert _uploads(moto_server, bucket) == []


def test_uploads_left_by_a_killed_process_can_be_listed_and_aborted(
    moto_server: Server, bucket: str
) -> None:
    client = _client(moto_server)
    stale = client.create_multipart_upload(Bucket=bucket, Key="root/ns/f/d")
    client.create_multipart_upload(Bucket=bucket, Key="elsewhere/x")  # not under the root
    store = open_store(f"s3://{bucket}/root", **moto_server.options)

    found = store.incomplete_uploads()  # type: ignore[attr-defined]
    assert [(u.path, u.upload_id) for u in found] == [("ns/f/d", stale["UploadId"])]
    assert found[0].initiated is not None

    age = time.time() - found[0].initiated  # moto reports a fixed date in the past
    assert store.incomplete_uploads(older_than=age + 3600) == []  # type: ignore[attr-defined]
    assert store.abort_incomplete_uploads(older_than=0) == 1  # type: ignore[attr-defined]
    assert [u["Key"] for u in _uploads(moto_server, bucket)] == ["elsewhere/x"]


def test_stores_without_multipart_uploads_report_none(tmp_path: Any) -> None:
    store = open_store(str(tmp_path))
    assert store.incomplete_uploads() == []  # type: ignore[attr-defined]
    assert store.abort_incomplete_uploads(older_than=0) == 0  # type: ignore[attr-defined]

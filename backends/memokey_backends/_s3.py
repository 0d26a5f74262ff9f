"""Publishing on S3 with its conditional writes.

Write-once: ``PutObject`` (or the multipart completion) with ``If-None-Match: *``.
Compare-and-swap: a single ``PutObject`` with ``If-Match: <ETag>``. The ETag returned
by a ``GetObject`` describes exactly the bytes of that response, so `read_versioned`
reads both from one request.
"""

from __future__ import annotations

import errno
from typing import Any

from memokey_backends._primitives import Primitives, stale

__all__ = ["S3Primitives"]


async def _get(fs: Any, bucket: str, key: str) -> tuple[bytes, str] | None:
    try:
        resp = await fs._call_s3("get_object", Bucket=bucket, Key=key)
    except FileNotFoundError:
        return None
    body = resp["Body"]
    try:
        data = await body.read()
    finally:
        body.close()
    return bytes(data), str(resp["ETag"])


async def _put_if_match(fs: Any, bucket: str, key: str, data: bytes, etag: str) -> str:
    try:
        resp = await fs._call_s3("put_object", Bucket=bucket, Key=key, Body=data, IfMatch=etag)
    except FileNotFoundError:
        raise stale(f"{bucket}/{key}", "the object no longer exists") from None
    except OSError as exc:
        if exc.errno == errno.EINVAL:  # how s3fs reports 412 PreconditionFailed
            raise stale(f"{bucket}/{key}") from exc
        raise
    finally:
        fs.invalidate_cache(f"{bucket}/{key}")
    return str(resp["ETag"])


class S3Primitives(Primitives):
    """``If-None-Match`` for write-once, ``If-Match`` on the ETag for compare-and-swap."""

    supports_cas = True

    def write(self, path: str, data: bytes, *, exclusive: bool) -> None:
        self.fs.pipe_file(path, data, mode="create" if exclusive else "overwrite")

    def read_versioned(self, path: str) -> tuple[bytes, str] | None:
        from fsspec.asyn import sync

        bucket, key, _ = self.fs.split_path(path)
        result: tuple[bytes, str] | None = sync(self.fs.loop, _get, self.fs, bucket, key)
        return result

    def swap(self, path: str, data: bytes, *, version: str) -> str:
        from fsspec.asyn import sync

        bucket, key, _ = self.fs.split_path(path)
        result: str = sync(self.fs.loop, _put_if_match, self.fs, bucket, key, data, version)
        return result

    def version_of(self, path: str, info: dict[str, Any]) -> str | None:
        etag = info.get("ETag")
        return None if etag is None else str(etag)

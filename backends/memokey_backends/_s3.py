"""Publishing on S3 with its conditional writes.

Write-once: ``PutObject`` (or the multipart completion) with ``If-None-Match: *``.
Compare-and-swap: a single ``PutObject`` with ``If-Match: <ETag>``. The ETag returned
by a ``GetObject`` describes exactly the bytes of that response, so `read_versioned`
reads both from one request. Reads are one ``GetObject`` (s3fs's ``cat_file`` may ask
for the size first, and an absent object sends it through ``info()``, which lists);
existence is one ``HeadObject``; a lease is released with one ``DeleteObject`` carrying
``If-Match`` (servers that do not implement it get a read and a delete).
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


async def _head(fs: Any, bucket: str, key: str) -> bool:
    try:
        await fs._call_s3("head_object", Bucket=bucket, Key=key)
    except FileNotFoundError:
        return False
    return True


async def _delete_if_match(fs: Any, bucket: str, key: str, etag: str) -> None:
    try:
        await fs._call_s3("delete_object", Bucket=bucket, Key=key, IfMatch=etag)
    except FileNotFoundError:
        return
    except OSError as exc:
        if exc.errno == errno.EINVAL:  # 412: replaced by someone else
            raise stale(f"{bucket}/{key}") from exc
        raise
    finally:
        fs.invalidate_cache(f"{bucket}/{key}")


class S3Primitives(Primitives):
    """``If-None-Match`` for write-once, ``If-Match`` on the ETag for compare-and-swap."""

    supports_cas = True

    def read(self, path: str) -> bytes | None:
        got = self.read_versioned(path)
        return None if got is None else got[0]

    def exists(self, path: str) -> bool:
        from fsspec.asyn import sync

        bucket, key, _ = self.fs.split_path(path)
        return bool(sync(self.fs.loop, _head, self.fs, bucket, key))

    def write(self, path: str, data: bytes, *, exclusive: bool) -> str | None:
        out = self.fs.pipe_file(path, data, mode="create" if exclusive else "overwrite")
        etag = out.get("ETag") if isinstance(out, dict) else None
        return None if etag is None else str(etag)

    def delete_if(self, path: str, version: str) -> None:
        from fsspec.asyn import sync

        bucket, key, _ = self.fs.split_path(path)
        sync(self.fs.loop, _delete_if_match, self.fs, bucket, key, version)

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

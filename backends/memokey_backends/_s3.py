"""Publishing on S3 with its conditional writes.

Write-once: ``PutObject`` (or the multipart completion) with ``If-None-Match: *``.
Compare-and-swap: a single ``PutObject`` with ``If-Match: <ETag>``. The ETag returned
by a ``GetObject`` describes exactly the bytes of that response, so `read_versioned`
reads both from one request. Reads are one ``GetObject`` (s3fs's ``cat_file`` may ask
for the size first, and an absent object sends it through ``info()``, which lists);
existence is one ``HeadObject``; a lease is released with one ``DeleteObject`` carrying
``If-Match`` (AWS honours it on general purpose buckets since September 2025). A server
that answers it with 501 NotImplemented gets a ``HeadObject`` and a plain delete instead,
from then on: the precondition is checked just before the delete, no longer by it.

Objects of 100 MiB or more go up as multipart uploads (50 MiB parts, as s3fs does).
S3 bills the parts of an upload until it is completed or aborted, so the upload is
aborted on every failure path: an error, the operation's deadline, and cancellation by
KeyboardInterrupt in the caller (see `_deadline.run_coroutine`). Uploads left by a
process that was killed outright are found by `incomplete_uploads`.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
from typing import Any

from memokey_backends._deadline import run_coroutine
from memokey_backends._primitives import IncompleteUpload, Primitives, stale

PART_SIZE = 50 * 2**20
STREAM_PART_SIZE = 8 * 2**20  # an entry given in parts: 2 parts of 8 MiB in flight
STREAM_BATCH = 2
_STREAM_FROM = 1 << 23  # bodies this large are read into a preallocated buffer
_CHUNK = 1 << 22
MULTIPART_THRESHOLD = 2 * PART_SIZE
ABORT_TIMEOUT = 10.0

__all__ = ["S3Primitives"]

log = logging.getLogger("memokey.store")


async def _get(fs: Any, bucket: str, key: str) -> tuple[bytes, str] | None:
    try:
        resp = await fs._call_s3("get_object", Bucket=bucket, Key=key)
    except FileNotFoundError:
        return None
    body = resp["Body"]
    try:
        length = resp.get("ContentLength")
        if isinstance(length, int) and length >= _STREAM_FROM:
            # A bytearray where bytes are promised: it reads and compares the same, and
            # its buffers are writable (arrays decoded from it need no copy).
            data: Any = await _read_into(body, length, f"{bucket}/{key}")
        else:
            data = bytes(await body.read())
    finally:
        body.close()
    return data, str(resp["ETag"])


async def _read_into(body: Any, length: int, where: str) -> bytearray:
    """A large body read chunk by chunk into one writable buffer of its size: no second
    copy while it arrives, and arrays decoded from it can be used in place."""
    buffer = bytearray(length)
    view = memoryview(buffer)
    at = 0
    while at < length:
        chunk = await body.read(min(_CHUNK, length - at))
        if not chunk:
            break
        view[at : at + len(chunk)] = chunk
        at += len(chunk)
    if at != length:
        raise ConnectionResetError(f"{where}: the body ended after {at} of {length} bytes")
    return buffer


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


class _NoConditionalDelete(Exception):
    """The server answered ``If-Match`` on ``DeleteObject`` with 501 NotImplemented."""


async def _delete_if_match(fs: Any, bucket: str, key: str, etag: str) -> None:
    try:
        await fs._call_s3("delete_object", Bucket=bucket, Key=key, IfMatch=etag)
    except FileNotFoundError:
        return
    except OSError as exc:
        if exc.errno == errno.EINVAL:  # 412: replaced by someone else
            raise stale(f"{bucket}/{key}") from exc
        if exc.errno == errno.ENOSYS:  # 501 NotImplemented: s3fs's mapping
            raise _NoConditionalDelete from exc
        raise
    finally:
        fs.invalidate_cache(f"{bucket}/{key}")


async def _delete_if_unchanged(fs: Any, bucket: str, key: str, etag: str) -> None:
    """``HeadObject``, then a plain delete if the ETag is still `etag`: for servers without
    conditional deletes (a write between the two requests is not seen)."""
    try:
        head = await fs._call_s3("head_object", Bucket=bucket, Key=key)
    except FileNotFoundError:
        return
    if str(head.get("ETag")) != etag:
        raise stale(f"{bucket}/{key}")
    try:
        await fs._call_s3("delete_object", Bucket=bucket, Key=key)
    except FileNotFoundError:
        return
    finally:
        fs.invalidate_cache(f"{bucket}/{key}")


class Joined:
    """Buffers read as one (length and slices), for a multipart upload of an entry given
    in parts: each part is assembled from them when it is sent, so a large array is never
    copied whole (two parts of 8 MiB in flight per upload)."""

    def __init__(self, parts: list[Any]) -> None:
        self._views = [memoryview(p).cast("B") for p in parts]
        self._starts: list[int] = []
        at = 0
        for view in self._views:
            self._starts.append(at)
            at += view.nbytes
        self._length = at

    def __len__(self) -> int:
        return self._length

    def __getitem__(self, span: slice) -> bytes:
        start, stop, _ = span.indices(self._length)
        pieces = []
        for begin, view in zip(self._starts, self._views, strict=True):
            end = begin + view.nbytes
            if end <= start or begin >= stop:
                continue
            pieces.append(view[max(start, begin) - begin : min(stop, end) - begin])
        return b"".join(pieces)  # the one copy of this part


async def _put(fs: Any, bucket: str, key: str, data: Any, *, exclusive: bool) -> str | None:
    """Upload `data`; the new object's ETag."""
    match = {"IfNoneMatch": "*"} if exclusive else {}
    try:
        if len(data) < MULTIPART_THRESHOLD:
            out = await fs._call_s3("put_object", Bucket=bucket, Key=key, Body=data, **match)
        else:
            out = await _put_multipart(fs, bucket, key, data, match)
    finally:
        fs.invalidate_cache(f"{bucket}/{key}")
    etag = out.get("ETag") if isinstance(out, dict) else None
    return None if etag is None else str(etag)


async def _put_multipart(fs: Any, bucket: str, key: str, data: Any, match: dict[str, str]) -> Any:
    mpu = await fs._call_s3("create_multipart_upload", Bucket=bucket, Key=key)
    upload_id = str(mpu["UploadId"])
    part_size, batch = PART_SIZE, max(1, int(getattr(fs, "max_concurrency", 1) or 1))
    if isinstance(data, Joined):  # parts are assembled as sent: bound what is in flight
        part_size, batch = max(STREAM_PART_SIZE, -(-len(data) // 9000)), STREAM_BATCH
    try:
        starts = list(range(0, len(data), part_size))
        parts: list[dict[str, Any]] = []
        for first in range(0, len(starts), batch):
            numbers = range(first + 1, min(first + batch, len(starts)) + 1)
            out = await asyncio.gather(
                *(
                    fs._call_s3(
                        "upload_part",
                        Bucket=bucket,
                        Key=key,
                        UploadId=upload_id,
                        PartNumber=n,
                        Body=data[starts[n - 1] : starts[n - 1] + part_size],
                    )
                    for n in numbers
                )
            )
            parts.extend(
                {"PartNumber": n, "ETag": o["ETag"]} for n, o in zip(numbers, out, strict=True)
            )
        return await fs._call_s3(
            "complete_multipart_upload",
            Bucket=bucket,
            Key=key,
            UploadId=upload_id,
            MultipartUpload={"Parts": parts},
            **match,
        )
    except BaseException:  # errors, cancellation (deadline, KeyboardInterrupt)
        await _abort(fs, bucket, key, upload_id)
        raise


async def _abort(fs: Any, bucket: str, key: str, upload_id: str) -> None:
    """Abort an upload, best effort and bounded: the caller is already failing."""
    with contextlib.suppress(Exception):
        await asyncio.wait_for(
            fs._call_s3("abort_multipart_upload", Bucket=bucket, Key=key, UploadId=upload_id),
            ABORT_TIMEOUT,
        )


async def _list_uploads(fs: Any, bucket: str, prefix: str) -> list[IncompleteUpload]:
    found: list[IncompleteUpload] = []
    kwargs: dict[str, str] = {"Bucket": bucket, "Prefix": prefix}
    while True:
        resp = await fs._call_s3("list_multipart_uploads", **kwargs)
        for upload in resp.get("Uploads", []):
            initiated = upload.get("Initiated")
            found.append(
                IncompleteUpload(
                    path=f"{bucket}/{upload['Key']}",
                    upload_id=str(upload["UploadId"]),
                    initiated=initiated.timestamp() if hasattr(initiated, "timestamp") else None,
                )
            )
        if not resp.get("IsTruncated"):
            return found
        kwargs["KeyMarker"] = resp.get("NextKeyMarker", "")
        kwargs["UploadIdMarker"] = resp.get("NextUploadIdMarker", "")


class S3Primitives(Primitives):
    """``If-None-Match`` for write-once, ``If-Match`` on the ETag for compare-and-swap."""

    supports_cas = True
    conditional_deletes = True
    """False once the server answered a conditional delete with 501 NotImplemented."""

    def read(self, path: str) -> bytes | None:
        got = self.read_versioned(path)
        return None if got is None else got[0]

    def exists(self, path: str) -> bool:
        bucket, key, _ = self.fs.split_path(path)
        return bool(run_coroutine(self.fs.loop, _head(self.fs, bucket, key)))

    def write(self, path: str, data: bytes, *, exclusive: bool) -> str | None:
        bucket, key, _ = self.fs.split_path(path)
        version: str | None = run_coroutine(
            self.fs.loop, _put(self.fs, bucket, key, data, exclusive=exclusive)
        )
        return version

    def write_parts(self, path: str, parts: list[Any], *, exclusive: bool) -> str | None:
        joined = Joined(parts)
        if len(joined) < MULTIPART_THRESHOLD:  # one PutObject: join once (under 100 MiB)
            return self.write(path, b"".join(parts), exclusive=exclusive)
        bucket, key, _ = self.fs.split_path(path)
        version: str | None = run_coroutine(
            self.fs.loop, _put(self.fs, bucket, key, joined, exclusive=exclusive)
        )
        return version

    def delete_if(self, path: str, version: str) -> None:
        bucket, key, _ = self.fs.split_path(path)
        if self.conditional_deletes:
            try:
                run_coroutine(self.fs.loop, _delete_if_match(self.fs, bucket, key, version))
                return
            except _NoConditionalDelete:
                self.conditional_deletes = False
                log.warning(
                    "the S3 server at %s does not implement conditional deletes (If-Match on "
                    "DeleteObject answered 501); memokey checks a lease's ETag with a "
                    "HeadObject just before deleting it instead",
                    getattr(self.fs, "endpoint_url", None) or "AWS",
                )
        run_coroutine(self.fs.loop, _delete_if_unchanged(self.fs, bucket, key, version))

    def read_versioned(self, path: str) -> tuple[bytes, str] | None:
        bucket, key, _ = self.fs.split_path(path)
        result: tuple[bytes, str] | None = run_coroutine(self.fs.loop, _get(self.fs, bucket, key))
        return result

    def swap(self, path: str, data: bytes, *, version: str) -> str:
        bucket, key, _ = self.fs.split_path(path)
        result: str = run_coroutine(
            self.fs.loop, _put_if_match(self.fs, bucket, key, data, version)
        )
        return result

    def incomplete_uploads(self, root: str) -> list[IncompleteUpload]:
        bucket, key, _ = self.fs.split_path(root)
        prefix = f"{key.rstrip('/')}/" if key else ""
        result: list[IncompleteUpload] = run_coroutine(
            self.fs.loop, _list_uploads(self.fs, bucket, prefix)
        )
        return result

    def abort_upload(self, path: str, upload_id: str) -> None:
        bucket, key, _ = self.fs.split_path(path)
        run_coroutine(
            self.fs.loop,
            self.fs._call_s3("abort_multipart_upload", Bucket=bucket, Key=key, UploadId=upload_id),
        )

    def version_of(self, path: str, info: dict[str, Any]) -> str | None:
        etag = info.get("ETag")
        return None if etag is None else str(etag)

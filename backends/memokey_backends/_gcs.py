"""Publishing on Google Cloud Storage with generation preconditions.

Every write is a single-request (multipart/related) upload: the object appears whole or
not at all, and ``ifGenerationMatch`` is honoured by the request itself. gcsfs switches
to resumable uploads at its `chunksize`; the emulator used in tests silently ignores
preconditions on those, so memokey never uses them (real GCS would honour them).
Write-once is ``ifGenerationMatch=0``; compare-and-swap is ``ifGenerationMatch=<generation>``.
Existence is one metadata ``GET`` (fsspec's ``info()`` lists the prefix when the object
is absent); a lease is released with one ``DELETE`` carrying ``ifGenerationMatch``.
"""

from __future__ import annotations

import errno
import json
import types
from typing import Any
from urllib.parse import quote

from memokey_backends._deadline import run, run_coroutine
from memokey_backends._primitives import Primitives, stale

__all__ = ["GCSPrimitives"]

_MIN_CHUNK = 50 * 2**20
_REQUEST_RETRIES = 1
"""gcsfs retries each request 6 times with up to 32 s pauses (about 30 s before a
stopped server is reported); memokey retries whole operations itself (`_translate.call`)."""


def _bound_retries(fs: Any) -> None:
    """Give this filesystem instance a request method with fewer internal retries."""
    raw = getattr(type(fs)._request, "__wrapped__", None)
    if raw is None or "_request" in vars(fs):
        return
    from gcsfs.retry import retry_request

    fs._request = types.MethodType(retry_request(retries=_REQUEST_RETRIES)(raw), fs)


async def _upload(fs: Any, bucket: str, key: str, data: bytes, generation: str) -> str:
    """One multipart upload conditioned on ``ifGenerationMatch``; the new generation."""
    meta = json.dumps({"name": key})
    head = (
        "--==0==\nContent-Type: application/json; charset=UTF-8\n\n"
        f"{meta}\n--==0==\nContent-Type: application/octet-stream\n\n"
    ).encode()
    body = head + data + b"\n--==0==--"
    try:
        out = await fs._call(
            "POST",
            f"{fs._location}/upload/storage/v1/b/{quote(bucket)}/o",
            uploadType="multipart",
            headers={"Content-Type": 'multipart/related; boundary="==0=="'},
            data=body,
            json_out=True,
            ifGenerationMatch=generation,
        )
    except FileExistsError:  # gcsfs maps every 412 to FileExistsError
        raise stale(f"{bucket}/{key}") from None
    finally:
        fs.invalidate_cache(f"{bucket}/{key}")
    return str(out["generation"])


async def _get(fs: Any, path: str) -> tuple[bytes, str] | None:
    """The object and its generation from one GET (``x-goog-generation`` names exactly
    the generation served); without that header, one exact generation is fetched."""
    try:
        headers, data = await fs._call("GET", fs.url(path))
    except FileNotFoundError:
        return None
    lowered = {str(k).lower(): v for k, v in headers.items()}
    generation = lowered.get("x-goog-generation")
    if generation is not None:
        return bytes(data), str(generation)
    for _ in range(20):  # pragma: no cover - servers that omit the header
        try:
            info = await fs._info(path)
            generation = str(info["generation"])
            _headers, data = await fs._call("GET", fs.url(path, generation=generation))
        except FileNotFoundError:
            if not await fs._exists(path):
                return None
            continue  # that generation was just replaced: look again
        return bytes(data), generation
    raise OSError(f"{path} kept changing while being read; retry later")  # pragma: no cover


async def _exists(fs: Any, bucket: str, key: str) -> bool:
    try:
        await fs._call("GET", "b/{}/o/{}", bucket, key, json_out=True)
    except FileNotFoundError:
        return False
    return True


async def _delete_if_generation(fs: Any, bucket: str, key: str, generation: str) -> None:
    try:
        await fs._call("DELETE", "b/{}/o/{}", bucket, key, ifGenerationMatch=generation)
    except FileNotFoundError:
        return
    except FileExistsError:  # gcsfs maps 412 to FileExistsError
        raise stale(f"{bucket}/{key}") from None
    finally:
        fs.invalidate_cache(f"{bucket}/{key}")


class GCSPrimitives(Primitives):
    """Single-request uploads with ``ifGenerationMatch`` (0 for write-once)."""

    supports_cas = True

    def __init__(self, fs: Any) -> None:
        super().__init__(fs)
        _bound_retries(fs)

    def exists(self, path: str) -> bool:
        bucket, key, _ = self.fs.split_path(path)
        return bool(run_coroutine(self.fs.loop, _exists(self.fs, bucket, key)))

    def write(self, path: str, data: bytes, *, exclusive: bool) -> str | None:
        if exclusive:  # one upload that reports the generation it created
            bucket, key, _ = self.fs.split_path(path)
            try:
                result: str = run_coroutine(self.fs.loop, _upload(self.fs, bucket, key, data, "0"))
            except FileExistsError:
                raise FileExistsError(errno.EEXIST, "the object exists", path) from None
            return result
        run(
            self.fs,
            "pipe_file",
            path,
            data,
            mode="overwrite",
            chunksize=max(len(data) + 1, _MIN_CHUNK),
        )
        return None

    def delete_if(self, path: str, version: str) -> None:
        bucket, key, _ = self.fs.split_path(path)
        run_coroutine(self.fs.loop, _delete_if_generation(self.fs, bucket, key, version))

    def read_versioned(self, path: str) -> tuple[bytes, str] | None:
        result: tuple[bytes, str] | None = run_coroutine(self.fs.loop, _get(self.fs, path))
        return result

    def swap(self, path: str, data: bytes, *, version: str) -> str:
        if version == "0":
            raise stale(path, "generation 0 means 'absent'; use write(exclusive=True)")
        bucket, key, _ = self.fs.split_path(path)
        result: str = run_coroutine(self.fs.loop, _upload(self.fs, bucket, key, data, version))
        return result

    def version_of(self, path: str, info: dict[str, Any]) -> str | None:
        generation = info.get("generation")
        return None if generation in (None, "") else str(generation)

"""Publishing on Azure Blob Storage with ETag conditions.

Write-once: upload with ``overwrite=False`` (``If-None-Match: *``; a block upload is
committed in one request, so readers never see part of it). Compare-and-swap: upload
with ``etag=<ETag>`` and ``match_condition=IfNotModified``. A download reports the ETag
of exactly the bytes it returns. Existence is one ``HEAD`` of the blob (fsspec's
``info()`` lists the prefix when it is absent); a lease is released with one ``DELETE``
carrying ``If-Match``.
"""

from __future__ import annotations

from typing import Any

from memokey_backends._deadline import run, run_coroutine
from memokey_backends._primitives import Primitives, stale

__all__ = ["AzurePrimitives"]


def _bound_retries(fs: Any) -> None:
    """Shorten the SDK's retry policy on this filesystem's client.

    azure-storage's default waits 15 s + 3**n between up to 3 connection retries, so a
    stopped server took minutes to report. memokey retries whole operations itself
    (`_translate.call`), so the SDK is told not to; adlfs offers no option for this, so
    the client's policy object is adjusted in place.
    """
    client = getattr(fs, "service_client", None)
    policy = getattr(getattr(client, "_config", None), "retry_policy", None)
    if policy is None:
        return
    for attr in ("total_retries", "connect_retries", "read_retries", "status_retries"):
        if isinstance(getattr(policy, attr, None), int):
            setattr(policy, attr, 0)


async def _get(fs: Any, container: str, blob: str) -> tuple[bytes, str] | None:
    from azure.core.exceptions import ResourceNotFoundError

    async with fs.service_client.get_blob_client(container=container, blob=blob) as bc:
        try:
            stream = await bc.download_blob(**fs._timeout_kwargs)
        except ResourceNotFoundError:
            return None
        data = await stream.readall()
        return bytes(data), str(stream.properties.etag)


async def _put_if_match(fs: Any, container: str, blob: str, data: bytes, etag: str) -> str:
    from azure.core import MatchConditions
    from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError

    async with fs.service_client.get_blob_client(container=container, blob=blob) as bc:
        try:
            out = await bc.upload_blob(
                data,
                overwrite=True,
                etag=etag,
                match_condition=MatchConditions.IfNotModified,
                metadata={"is_directory": "false"},
                **fs._timeout_kwargs,
            )
        except (ResourceModifiedError, ResourceNotFoundError) as exc:
            raise stale(f"{container}/{blob}") from exc
    fs.invalidate_cache(f"{container}/{blob}")
    return str(out["etag"])


async def _exists(fs: Any, container: str, blob: str) -> bool:
    async with fs.service_client.get_blob_client(container=container, blob=blob) as bc:
        return bool(await bc.exists(**fs._timeout_kwargs))


async def _create(fs: Any, container: str, blob: str, data: bytes) -> str:
    async with fs.service_client.get_blob_client(container=container, blob=blob) as bc:
        out = await bc.upload_blob(
            data, overwrite=False, metadata={"is_directory": "false"}, **fs._timeout_kwargs
        )
    fs.invalidate_cache(f"{container}/{blob}")
    return str(out["etag"])


async def _delete_if_match(fs: Any, container: str, blob: str, etag: str) -> None:
    from azure.core import MatchConditions
    from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError

    async with fs.service_client.get_blob_client(container=container, blob=blob) as bc:
        try:
            await bc.delete_blob(
                etag=etag, match_condition=MatchConditions.IfNotModified, **fs._timeout_kwargs
            )
        except ResourceNotFoundError:
            pass
        except ResourceModifiedError as exc:  # also what Azurite answers for an absent blob
            if await bc.exists(**fs._timeout_kwargs):
                raise stale(f"{container}/{blob}") from exc
    fs.invalidate_cache(f"{container}/{blob}")


class AzurePrimitives(Primitives):
    """``overwrite=False`` for write-once, ETag + ``IfNotModified`` for compare-and-swap."""

    supports_cas = True

    def __init__(self, fs: Any) -> None:
        super().__init__(fs)
        _bound_retries(fs)

    def exists(self, path: str) -> bool:
        container, blob, _ = self.fs.split_path(path)
        return bool(run_coroutine(self.fs.loop, _exists(self.fs, container, blob)))

    def write(self, path: str, data: bytes, *, exclusive: bool) -> str | None:
        if exclusive:  # one upload that reports the ETag it created
            container, blob, _ = self.fs.split_path(path)
            result: str = run_coroutine(self.fs.loop, _create(self.fs, container, blob, data))
            return result
        run(self.fs, "pipe_file", path, data, overwrite=True)
        return None

    def delete_if(self, path: str, version: str) -> None:
        container, blob, _ = self.fs.split_path(path)
        run_coroutine(self.fs.loop, _delete_if_match(self.fs, container, blob, version))

    def read_versioned(self, path: str) -> tuple[bytes, str] | None:
        container, blob, _ = self.fs.split_path(path)
        result: tuple[bytes, str] | None = run_coroutine(
            self.fs.loop, _get(self.fs, container, blob)
        )
        return result

    def swap(self, path: str, data: bytes, *, version: str) -> str:
        container, blob, _ = self.fs.split_path(path)
        result: str = run_coroutine(
            self.fs.loop, _put_if_match(self.fs, container, blob, data, version)
        )
        return result

    def version_of(self, path: str, info: dict[str, Any]) -> str | None:
        etag = info.get("etag")
        return None if etag is None else str(etag)

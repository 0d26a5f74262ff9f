"""Connection pools as wide as ``.submit()``'s fan-out.

``.submit()`` runs up to ``MEMOKEY_SUBMIT_WORKERS`` calls at once (default 64), and each
call's hit, lease or publish is one request. A pool narrower than that queues the calls
behind each other: botocore allows 10 connections per S3 client, and the aiohttp session
under gcsfs and azure-storage-blob allows 100. So every cloud store allows at least the
fan-out width, and never fewer than its SDK would (pools open connections on demand, so
a wide limit costs nothing unused). memokey's storage option ``max_connections`` sets the
width outright; for S3, ``config_kwargs={"max_pool_connections": n}`` is honoured too.

gcsfs and adlfs take no pool option, so a wider pool is a session memokey creates for the
filesystem before its first request. A filesystem whose session already exists (fsspec
shares instances with the same options) keeps it, and so does a session the user
configured (a ``connector`` in gcsfs's ``session_kwargs``, or gcsfs's client certificates).
"""

from __future__ import annotations

import os
import threading
import weakref
from typing import Any

from memokey_backends._deadline import run_coroutine
from memokey_backends.errors import ConfigurationError

__all__ = [
    "AIOHTTP_DEFAULT",
    "BOTOCORE_DEFAULT",
    "fan_out_width",
    "pool_width",
    "s3_pool_width",
    "size_pool",
]

DEFAULT_FAN_OUT = 64
BOTOCORE_DEFAULT = 10
AIOHTTP_DEFAULT = 100
MAX_CONNECTIONS = 4096
_sizing = threading.Lock()  # two stores opened at once on one shared filesystem


def fan_out_width() -> int:
    """How many calls ``.submit()`` runs at once (``MEMOKEY_SUBMIT_WORKERS``, default 64).

    A value that is not a whole number above 0 is refused rather than read as the default:
    it sizes every cloud store's pool as well as the fan-out, and a typo would go unseen."""
    raw = os.environ.get("MEMOKEY_SUBMIT_WORKERS", "").strip()
    if not raw:
        return DEFAULT_FAN_OUT
    if not raw.isdigit() or int(raw) <= 0:
        raise ConfigurationError(
            f"MEMOKEY_SUBMIT_WORKERS={raw!r} is not a number of calls: it says how many "
            "calls .submit() runs at once (and how wide cloud connection pools are); set "
            "a whole number above 0, e.g. MEMOKEY_SUBMIT_WORKERS=128, or unset it for 64.",
            value=raw,
        )
    return int(raw)


def pool_width(options: dict[str, Any]) -> int | None:
    """memokey's ``max_connections`` storage option (removed from `options`), or None."""
    value: Any = options.pop("max_connections", None)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_CONNECTIONS:
        raise ConfigurationError(
            "the storage option 'max_connections' must be a whole number of connections "
            f"between 1 and {MAX_CONNECTIONS} (how many requests a store sends at once), got "
            f"{value!r}; write for example storage_options={{'max_connections': 128}}.",
            value=value,
        )
    return value


def s3_pool_width(chosen: int | None) -> int:
    """``max_pool_connections`` for botocore: the chosen width, else the fan-out's."""
    return chosen if chosen is not None else max(fan_out_width(), BOTOCORE_DEFAULT)


def size_pool(fs: Any, chosen: int | None) -> int | None:
    """Give an aiohttp-based filesystem (gcsfs, adlfs) a pool of the fan-out width, or of
    the `chosen` width (S3's is sized through its options, `s3_pool_width`). Returns the
    width of the pool in force, None where it is not known (a session made elsewhere)."""
    protocols = set(fs.protocol if isinstance(fs.protocol, (tuple, list)) else [fs.protocol])
    if "s3" in protocols:
        config = getattr(fs, "config_kwargs", None)
        width = config.get("max_pool_connections") if isinstance(config, dict) else None
        return width if isinstance(width, int) and width > 0 else BOTOCORE_DEFAULT
    width = chosen if chosen is not None else max(fan_out_width(), AIOHTTP_DEFAULT)
    with _sizing:
        if protocols & {"gs", "gcs"}:
            return _size_gcs(fs, width)
        if protocols & {"abfs", "az"}:
            return _size_azure(fs, width)
    return None


def _size_gcs(fs: Any, width: int) -> int | None:
    if getattr(fs, "_session", True) is not None or getattr(fs, "_use_client_cert", False):
        return None
    if "connector" in getattr(fs, "session_kwargs", {}):
        return None
    if width == AIOHTTP_DEFAULT:
        return width  # gcsfs's own session will have it

    async def new_session() -> Any:
        import aiohttp

        connector = aiohttp.TCPConnector(limit=width)
        return aiohttp.ClientSession(connector=connector, **fs.session_kwargs)

    session = run_coroutine(fs.loop, new_session())
    fs._session = session
    weakref.finalize(fs, type(fs).close_session, fs.loop, session, fs.asynchronous)
    return width


def _size_azure(fs: Any, width: int) -> int | None:
    client = getattr(fs, "service_client", None)
    transport = getattr(getattr(client, "_pipeline", None), "_transport", None)
    if transport is None or getattr(transport, "session", True) is not None:
        return None
    if not getattr(transport, "_session_owner", False):
        return None
    if width == AIOHTTP_DEFAULT:
        return width  # azure-core's own session will have it

    async def new_session() -> Any:
        import aiohttp

        return aiohttp.ClientSession(  # as azure-core's AioHttpTransport.open() makes it
            connector=aiohttp.TCPConnector(limit=width),
            trust_env=getattr(transport, "_use_env_settings", True),
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=False,
        )

    transport.session = run_coroutine(fs.loop, new_session())  # closed with the transport
    return width

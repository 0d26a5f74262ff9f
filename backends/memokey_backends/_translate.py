"""The one place where backend error shapes become memokey's `StoreError` family.

Each SDK reports the same situations differently (a lost exclusive create is
`FileExistsError` everywhere, but a lost compare-and-swap is `OSError(EINVAL)` on S3,
`FileExistsError` on GCS and `ResourceModifiedError` on Azure). Errors are recognised by
class name along the MRO so that this module never imports an optional cloud SDK.
Transient failures are retried here with bounded exponential backoff, then surface as
`StoreUnavailableError`: a stopped server gives an error within seconds, never a hang
and never a cache miss. Throttling (HTTP 429/503, S3 ``SlowDown``, Azure ``ServerBusy``)
is different: the server is up and asks callers to slow down, which a large fan-out
provokes as a matter of course. It gets a longer budget with jittered backoff (about
half a minute in all) so that many workers spread out instead of failing together.
Both budgets live inside the operation's overall deadline (`_deadline`): a retry that
could not finish before it is not started.

Local roots get their own messages: they name the path and the fix (make it writable,
choose another root), never credentials or buckets.
"""

from __future__ import annotations

import errno
import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

from memokey_backends._deadline import DeadlineExceeded, deadline
from memokey_backends.errors import (
    StoreError,
    StorePermissionError,
    StoreUnavailableError,
    WriteConflictError,
)

__all__ = ["RetryPolicy", "call", "is_throttled", "is_transient", "timed_out", "translate"]

T = TypeVar("T")
logger = logging.getLogger("memokey.store")

_CONFLICT_NAMES = frozenset(
    {"ResourceExistsError", "ResourceModifiedError", "PreconditionFailed", "ConditionNotMet"}
)
_PERMISSION_NAMES = frozenset({"ClientAuthenticationError", "NoCredentialsError"})
_TRANSIENT_NAMES = frozenset(
    {
        # aiohttp
        "ClientConnectionError",
        "ClientConnectorError",
        "ServerDisconnectedError",
        "ServerTimeoutError",
        "ClientPayloadError",
        # botocore
        "EndpointConnectionError",
        "ConnectTimeoutError",
        "ReadTimeoutError",
        "ConnectionClosedError",
        # azure-core
        "ServiceRequestError",
        "ServiceResponseError",
        "ServiceRequestTimeoutError",
        "ServiceResponseTimeoutError",
        # requests / urllib3 (gcsfs auth, azure sync transport)
        "NewConnectionError",
        "ProtocolError",
    }
)
_TRANSIENT_ERRNOS = frozenset(
    {
        errno.ECONNREFUSED,
        errno.ECONNRESET,
        errno.ECONNABORTED,
        errno.ETIMEDOUT,
        errno.EPIPE,
        errno.EHOSTUNREACH,
        errno.ENETUNREACH,
    }
)
_THROTTLE_STATUS = frozenset({429, 503})
_THROTTLE_MARKERS = ("SlowDown", "Throttl", "ServerBusy", "TooManyRequests", "RequestLimit")
_PERMISSION_STATUS = frozenset({401, 403})
_CONFLICT_STATUS = frozenset({409, 412})


def _names(exc: BaseException) -> set[str]:
    return {cls.__name__ for cls in type(exc).__mro__}


def _status(exc: BaseException) -> int | None:
    """The HTTP status an SDK attached to its exception, if any."""
    for attr in ("status_code", "code", "status"):
        value = getattr(exc, attr, None)
        if isinstance(value, int) and 100 <= value < 600:
            return value
    response = getattr(exc, "response", None)
    if isinstance(response, dict):  # botocore ClientError
        meta = response.get("ResponseMetadata", {})
        value = meta.get("HTTPStatusCode") if isinstance(meta, dict) else None
        if isinstance(value, int):
            return value
    return None


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception and its causes/contexts: s3fs and gcsfs wrap SDK errors in OSError."""
    seen: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and cur not in seen and len(seen) < 8:
        seen.append(cur)
        cur = cur.__cause__ or cur.__context__
    return seen


def is_transient(exc: BaseException) -> bool:
    """Whether retrying the same request may succeed (network trouble, timeouts, 5xx)."""
    for e in _chain(exc):
        if isinstance(e, (ConnectionError, TimeoutError)):
            return True
        if isinstance(e, OSError) and e.errno in _TRANSIENT_ERRNOS:
            return True
        if _names(e) & _TRANSIENT_NAMES:
            return True
        status = _status(e)
        if status is not None and (status >= 500 or status == 429):
            return True
    return False


def is_throttled(exc: BaseException) -> bool:
    """Whether the server answered "slow down" (it is up; waiting longer will help)."""
    for e in _chain(exc):
        if _status(e) in _THROTTLE_STATUS:
            return True
        text = f"{type(e).__name__} {e}"
        if any(marker in text for marker in _THROTTLE_MARKERS):
            return True
    return False


def translate(exc: BaseException, *, op: str, uri: str) -> StoreError:
    """The memokey error for a backend exception raised while doing `op` on `uri`.

    The caller raises the result ``from exc`` so the original stays as ``__cause__``.
    """
    if isinstance(exc, StoreError):
        return exc
    if uri.startswith("file://") and isinstance(exc, OSError) and exc.errno is not None:
        local = _translate_local(exc, op=op, path=uri[len("file://") :])
        if local is not None:
            return local
    chain = _chain(exc)
    names = set().union(*(_names(e) for e in chain))
    status = next((s for s in map(_status, chain) if s is not None), None)
    if isinstance(exc, FileExistsError) or names & _CONFLICT_NAMES or status in _CONFLICT_STATUS:
        return WriteConflictError(
            f"{op} of {uri} lost to another writer (the object exists or changed): {exc!r}. "
            "Read the current object and decide again.",
            uri=uri,
            op=op,
        )
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return StoreError(
            f"{op} of {uri} failed: the disk is full ({exc!r}). Free space on that volume "
            "(`memokey ls` shows what is stored, `memokey rm URI` deletes an entry) or "
            "point memokey at a larger root.",
            uri=uri,
            op=op,
        )
    if (
        isinstance(exc, PermissionError)
        or (isinstance(exc, OSError) and exc.errno == errno.EROFS)
        or names & _PERMISSION_NAMES
        or status in _PERMISSION_STATUS
    ):
        return StorePermissionError(
            f"the store refused {op} of {uri}: {exc!r}. Check the credentials in "
            "storage_options (or fsspec's configuration / the SDK's environment) and the "
            "bucket's permissions.",
            uri=uri,
            op=op,
        )
    if is_throttled(exc):
        return StoreUnavailableError(
            f"{op} of {uri} was throttled by the store and still was after backing off "
            f"({exc!r}). Lower the number of concurrent calls (workers, submit fan-out) or "
            "raise the bucket's request limits, then retry.",
            uri=uri,
            op=op,
        )
    if is_transient(exc):
        return StoreUnavailableError(
            f"{op} of {uri} failed: the store could not be reached ({exc!r}). Check that "
            "the server or network is up, then retry.",
            uri=uri,
            op=op,
        )
    return StoreError(
        f"{op} of {uri} failed: {exc!r}. The backend reported an unexpected error; check "
        "the root URL and storage_options.",
        uri=uri,
        op=op,
    )


_LOCAL_FIX = (
    "choose another root with memokey.root(...), memoize(root=...) or the MEMOKEY_ROOT "
    "environment variable"
)


def _translate_local(exc: OSError, *, op: str, path: str) -> StoreError | None:
    """The error for an `OSError` on a local root: what is wrong with the path, and the
    fix. None for the errors the general rules describe well (disk full, conflicts)."""
    code = exc.errno
    cause = f"{exc.strerror or exc!r}" + (f" ({exc.filename})" if exc.filename else "")
    if code in (errno.EACCES, errno.EPERM, errno.EROFS):
        return StorePermissionError(
            f"{op} of {path} failed: {cause}. The root directory must be writable by this "
            f"user: make it writable (check its owner, mode and mount), or {_LOCAL_FIX}.",
            uri=f"file://{path}",
            op=op,
        )
    if code == errno.ENOTDIR:
        problem = "a component of the path is a file, not a directory"
    elif code == errno.ENOENT and "write" in op:
        problem = "its directory cannot be created there (a missing or virtual parent)"
    elif code == errno.EISDIR:
        problem = "a directory is in the way"
    elif code in (errno.ENAMETOOLONG, errno.ELOOP):
        problem = "the path is too long or loops through symbolic links"
    elif code in (errno.ENOSPC, errno.EEXIST):
        return None
    else:
        problem = "the local file system refused it"
    return StoreError(
        f"{op} of {path} failed: {problem}: {cause}. Point memokey at a directory it can "
        f"create and write: {_LOCAL_FIX}.",
        uri=f"file://{path}",
        op=op,
    )


def timed_out(op: str, uri: str, timeout: float) -> StoreUnavailableError:
    """The error for an operation that did not finish within its deadline."""
    return StoreUnavailableError(
        f"{op} of {uri} got no answer within {timeout:g} s (the store option 'timeout'). "
        "Check that the server is up and reachable (endpoint_url, proxy, firewall, DNS), "
        "then retry; for very large objects on slow links raise the deadline, e.g. "
        "storage_options={'timeout': 300}.",
        uri=uri,
        op=op,
        timeout=timeout,
    )


class RetryPolicy:
    """Bounded exponential backoff: a few quick tries for network trouble, a longer
    jittered budget for throttling."""

    def __init__(
        self,
        attempts: int = 3,
        base_delay: float = 0.2,
        max_delay: float = 2.0,
        *,
        throttle_attempts: int = 8,
        throttle_max_delay: float = 8.0,
    ) -> None:
        self.attempts = max(1, attempts)
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.throttle_attempts = max(1, throttle_attempts)
        self.throttle_max_delay = throttle_max_delay

    def limit(self, throttled: bool) -> int:
        """How many attempts in all an operation gets."""
        return self.throttle_attempts if throttled else self.attempts

    def delay(self, attempt: int, *, throttled: bool = False) -> float:
        """The pause after failed attempt number `attempt` (0-based)."""
        if not throttled:
            return float(min(self.max_delay, self.base_delay * (2**attempt)))
        # "Full jitter": workers throttled together must not come back together.
        cap = min(self.throttle_max_delay, self.base_delay * (2 ** (attempt + 1)))
        return random.uniform(cap / 2, cap)


DEFAULT_RETRY = RetryPolicy()


def call(
    fn: Callable[[], T],
    *,
    op: str,
    uri: str,
    retry: RetryPolicy = DEFAULT_RETRY,
    timeout: float | None = None,
) -> T:
    """Run `fn`, retrying transient failures, and translate whatever escapes.

    `fn` must be safe to repeat. `FileNotFoundError` is translated too: callers that mean
    "absent is None" catch it inside `fn`. With `timeout`, the whole operation (every
    attempt and pause) has that many seconds; I/O that `fn` runs through `_deadline.run`
    is cancelled when they are spent, and `StoreUnavailableError` says so.
    """
    at = None if timeout is None else time.monotonic() + timeout
    attempt = 0
    while True:
        try:
            with deadline(at):
                return fn()
        except StoreError:
            raise
        except DeadlineExceeded as exc:
            assert timeout is not None
            raise timed_out(op, uri, timeout) from exc
        except Exception as exc:
            throttled = is_throttled(exc)
            if (throttled or is_transient(exc)) and attempt + 1 < retry.limit(throttled):
                pause = retry.delay(attempt, throttled=throttled)
                if at is None or time.monotonic() + pause < at:
                    attempt += 1
                    logger.info(
                        "%s of %s failed (%s); retry %d in %.1f s",
                        op,
                        uri,
                        type(exc).__name__,
                        attempt,
                        pause,
                    )
                    time.sleep(pause)
                    continue
            raise translate(exc, op=op, uri=uri) from exc

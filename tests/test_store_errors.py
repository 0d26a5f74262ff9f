"""Backend error shapes become memokey's StoreError family in one place."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest
from azure.core.exceptions import HttpResponseError, ResourceModifiedError
from botocore.exceptions import ClientError, EndpointConnectionError

from memokey_backends import (
    StoreError,
    StorePermissionError,
    StoreUnavailableError,
    WriteConflictError,
    open_store,
)
from memokey_backends._translate import RetryPolicy, call, is_throttled, translate

NO_WAIT = RetryPolicy(attempts=3, base_delay=0.0, throttle_attempts=6)


def _client_error(status: int, code: str) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "PutObject",
    )


def _chained(outer: BaseException, cause: BaseException) -> BaseException:
    outer.__cause__ = cause
    return outer


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (FileExistsError("k"), WriteConflictError),
        (
            _chained(OSError(errno.EINVAL, "bad"), _client_error(412, "PreconditionFailed")),
            WriteConflictError,
        ),
        (ResourceModifiedError("etag changed"), WriteConflictError),
        (PermissionError("denied"), StorePermissionError),
        (_client_error(403, "AccessDenied"), StorePermissionError),
        (ConnectionRefusedError(errno.ECONNREFUSED, "refused"), StoreUnavailableError),
        (EndpointConnectionError(endpoint_url="http://127.0.0.1:1"), StoreUnavailableError),
        (_client_error(503, "SlowDown"), StoreUnavailableError),
        (ValueError("something else"), StoreError),
    ],
)
def test_backend_errors_translate_to_their_store_error(
    exc: BaseException, expected: type[StoreError]
) -> None:
    err = translate(exc, op="read", uri="s3://b/k")
    assert type(err) is expected
    assert "s3://b/k" in str(err)


def test_azure_server_error_is_transient() -> None:
    exc = HttpResponseError("busy")
    exc.status_code = 503
    assert type(translate(exc, op="read", uri="az://c/k")) is StoreUnavailableError


def test_transient_errors_are_retried_then_reported_unavailable() -> None:
    attempts: list[int] = []

    def fail() -> None:
        attempts.append(1)
        raise ConnectionResetError(errno.ECONNRESET, "reset")

    with pytest.raises(StoreUnavailableError) as info:
        call(fail, op="read", uri="s3://b/k", retry=NO_WAIT)
    assert len(attempts) == 3
    assert isinstance(info.value.__cause__, ConnectionResetError)


def test_a_transient_failure_that_recovers_returns_the_result() -> None:
    attempts: list[int] = []

    def flaky() -> bytes:
        attempts.append(1)
        if len(attempts) == 1:
            raise TimeoutError("slow")
        return b"ok"

    assert call(flaky, op="read", uri="s3://b/k", retry=NO_WAIT) == b"ok"


def test_permanent_errors_are_not_retried() -> None:
    attempts: list[int] = []

    def denied() -> None:
        attempts.append(1)
        raise PermissionError("denied")

    with pytest.raises(StorePermissionError):
        call(denied, op="write", uri="file:///x", retry=NO_WAIT)
    assert attempts == [1]


def test_local_failure_raises_store_error_not_none(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_bytes(b"")
    store = open_store(str(tmp_path / "a-file"))
    with pytest.raises(StoreError) as info:
        store.write("k/result", b"x")
    assert info.value.__cause__ is not None


def test_translated_errors_pickle_with_their_attributes() -> None:
    import pickle

    err = translate(FileExistsError("k"), op="exclusive write", uri="s3://b/k")
    back = pickle.loads(pickle.dumps(err))
    assert (type(back), back.uri, back.op, str(back)) == (type(err), "s3://b/k", err.op, str(err))


def _failing(exc: BaseException) -> tuple[list[int], object]:
    calls: list[int] = []

    def fail() -> bytes:
        calls.append(1)
        raise exc

    return calls, fail


@pytest.mark.parametrize(
    "exc",
    [
        _client_error(503, "SlowDown"),
        _client_error(429, "TooManyRequests"),
        HttpResponseError(message="The server is busy. ErrorCode:ServerBusy"),
    ],
    ids=["s3-slowdown", "http-429", "azure-server-busy"],
)
def test_throttling_is_recognised(exc: BaseException) -> None:
    assert is_throttled(exc)


def test_connection_refused_is_not_throttling() -> None:
    assert not is_throttled(ConnectionRefusedError(errno.ECONNREFUSED, "refused"))


def test_throttled_operations_get_the_longer_retry_budget() -> None:
    calls, fail = _failing(_client_error(503, "SlowDown"))
    with pytest.raises(StoreUnavailableError, match="throttled"):
        call(fail, op="write", uri="s3://b/k", retry=NO_WAIT)  # type: ignore[arg-type]
    assert len(calls) == NO_WAIT.throttle_attempts


def test_unreachable_servers_keep_the_short_retry_budget() -> None:
    calls, fail = _failing(ConnectionRefusedError(errno.ECONNREFUSED, "refused"))
    with pytest.raises(StoreUnavailableError, match="could not be reached"):
        call(fail, op="read", uri="s3://b/k", retry=NO_WAIT)  # type: ignore[arg-type]
    assert len(calls) == NO_WAIT.attempts


def test_throttle_backoff_is_jittered_and_capped() -> None:
    policy = RetryPolicy(base_delay=0.2, throttle_max_delay=8.0)
    pauses = [policy.delay(10, throttled=True) for _ in range(50)]
    assert all(4.0 <= p <= 8.0 for p in pauses)
    assert len(set(pauses)) > 1


def test_a_full_disk_says_so_and_how_to_make_room() -> None:
    err = translate(OSError(errno.ENOSPC, "No space left on device"), op="write", uri="/x")
    assert type(err) is StoreError
    assert "disk is full" in str(err)
    assert "memokey rm" in str(err)


def test_a_read_only_file_system_is_a_permission_error() -> None:
    err = translate(OSError(errno.EROFS, "Read-only file system"), op="write", uri="/x")
    assert type(err) is StorePermissionError

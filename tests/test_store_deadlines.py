"""Every store operation on a cloud root has an overall deadline.

A server that accepts connections and never answers used to hang a call for about
15 minutes on S3, forever on GCS and 180 s on Azure. The `timeout` store option (default
60 s) bounds each operation, retries included, and ends it with `StoreUnavailableError`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from helpers.servers import azure_options, gcs_options, s3_options
from helpers.tcp import SilentServer
from memokey_backends import ConfigurationError, Store, StoreUnavailableError, open_store

pytestmark = [pytest.mark.cloud, pytest.mark.timeout(120)]  # a hang fails, not blocks

OPTIONS: dict[str, Callable[[str], dict[str, Any]]] = {
    "s3": s3_options,
    "gs": gcs_options,
    "az": azure_options,
}
OPERATIONS: dict[str, Callable[[Store], object]] = {
    "read": lambda s: s.read("k/result"),
    "read_versioned": lambda s: s.read_versioned("k/lease"),
    "exclusive write": lambda s: s.write("k/result", b"x", exclusive=True),
    "swap": lambda s: s.swap("k/lease", b"x", version="1"),
    "exists": lambda s: s.exists("k/result"),
    "info": lambda s: s.info("k/result"),
    "list": lambda s: s.list("k"),
    "delete": lambda s: s.delete("k/result"),
}


@pytest.fixture(scope="module")
def silent() -> Iterator[SilentServer]:
    with SilentServer() as server:
        yield server


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
@pytest.mark.parametrize("scheme", sorted(OPTIONS))
def test_a_server_that_never_answers_fails_with_store_unavailable_naming_the_url(
    silent: SilentServer, scheme: str, operation: str
) -> None:
    url = f"{scheme}://bucket-{operation.replace(' ', '-')}/root"
    store = open_store(url, timeout=1.5, **OPTIONS[scheme](silent.endpoint))
    with pytest.raises(StoreUnavailableError) as info:
        OPERATIONS[operation](store)
    message = str(info.value)
    assert url in message
    assert "1.5 s" in message
    assert "timeout" in message


@pytest.mark.parametrize("bad", [0, -1, float("inf"), float("nan"), "10", True])
def test_a_timeout_that_is_not_a_positive_number_of_seconds_is_refused(bad: object) -> None:
    with pytest.raises(ConfigurationError, match="timeout"):
        open_store("s3://bucket/root", timeout=bad, **s3_options("http://127.0.0.1:9"))


def test_the_timeout_option_is_memokeys_and_not_passed_to_the_filesystem() -> None:
    store = open_store("s3://bucket/root", timeout=7, **s3_options("http://127.0.0.1:9"))
    assert store.timeout == 7  # type: ignore[attr-defined]
    assert "timeout" not in store.fs.storage_options  # type: ignore[attr-defined]


def test_cloud_stores_have_a_deadline_of_at_most_a_minute_by_default() -> None:
    store = open_store("s3://bucket/root", **s3_options("http://127.0.0.1:9"))
    assert 0 < store.timeout <= 60  # type: ignore[attr-defined]


def test_the_environment_sets_the_deadline_when_the_options_do_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MEMOKEY_STORE_TIMEOUT", "12.5")
    assert open_store("s3://env-bucket/a", **s3_options("http://127.0.0.1:9")).timeout == 12.5  # type: ignore[attr-defined]
    store = open_store("s3://env-bucket/b", timeout=3, **s3_options("http://127.0.0.1:9"))
    assert store.timeout == 3  # type: ignore[attr-defined]
    monkeypatch.setenv("MEMOKEY_STORE_TIMEOUT", "soon")
    with pytest.raises(ConfigurationError, match="MEMOKEY_STORE_TIMEOUT"):
        open_store("s3://env-bucket/c", **s3_options("http://127.0.0.1:9"))

"""A failing store does not flood the user's terminal with the SDKs' own logs.

One failed Azure upload used to print 10,293 lines (249 tracebacks) to stderr, and a GCS
call printed a traceback per internal retry. The SDKs log through Python's logging
module; with no logging configured, its last-resort handler printed every warning they
logged. The failure itself is reported once, by the exception memokey raises.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator

import pytest

from helpers.servers import (
    REPO_ROOT,
    Server,
    azure_options,
    free_port,
    gcs_options,
    s3_options,
)
from helpers.tcp import ErrorServer, FlakyProxy

pytestmark = [pytest.mark.cloud, pytest.mark.slow, pytest.mark.timeout(300)]

OPTIONS = {"s3": s3_options, "gs": gcs_options, "az": azure_options}
FIXTURES = {
    "s3": ("moto_server", "s3_root"),
    "gs": ("gcs_server", "gcs_root"),
    "az": ("azurite_server", "azure_root"),
}

_FAILING_UPLOAD = textwrap.dedent(
    """
    import json, sys
    sys.path[:0] = [{repo!r}, {backends!r}]
    from memokey_backends import StoreError, open_store
    store = open_store({url!r}, **json.loads({options!r}))
    for size in (1000, 9 * 2**20):  # a small object and a multi-block one
        try:
            store.write("ns/f/d", b"x" * size, exclusive=True)
        except StoreError as exc:
            print(type(exc).__name__)
        else:
            print("written")
    """
)


def _stderr_of_failing_upload(scheme: str, endpoint: str) -> tuple[str, str]:
    script = _FAILING_UPLOAD.format(
        repo=str(REPO_ROOT),
        backends=str(REPO_ROOT / "backends"),
        url=f"{scheme}://bucket/root",
        options=json.dumps({**OPTIONS[scheme](endpoint), "timeout": 20}),
    )
    env = {**os.environ, "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT": "false"}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=240
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout, done.stderr


@pytest.fixture(scope="module")
def erroring() -> Iterator[ErrorServer]:
    with ErrorServer(500) as server:
        yield server


@pytest.mark.parametrize("scheme", sorted(OPTIONS))
def test_an_upload_to_a_server_answering_500_prints_no_sdk_tracebacks(
    scheme: str, erroring: ErrorServer
) -> None:
    out, err = _stderr_of_failing_upload(scheme, erroring.endpoint)
    assert out.split() == ["StoreUnavailableError"] * 2
    assert "Traceback" not in err
    assert err.strip() == "", err[:2000]


@pytest.mark.parametrize("scheme", sorted(OPTIONS))
def test_an_upload_to_a_stopped_server_prints_no_sdk_tracebacks(scheme: str) -> None:
    out, err = _stderr_of_failing_upload(scheme, f"http://127.0.0.1:{free_port()}")
    assert out.split() == ["StoreUnavailableError"] * 2
    assert "Traceback" not in err
    assert err.strip() == "", err[:2000]


_RECOVERING_CALLS = textwrap.dedent(
    """
    import json, sys
    sys.path[:0] = [{repo!r}, {backends!r}]
    from memokey_backends import open_store
    store = open_store({url!r}, **json.loads({options!r}))
    store.write("ns/f/d", b"value", exclusive=True)
    print(store.read("ns/f/d").decode())
    """
)


@pytest.mark.parametrize("scheme", sorted(OPTIONS))
def test_a_call_that_succeeds_after_two_server_errors_prints_nothing(
    scheme: str, request: pytest.FixtureRequest
) -> None:
    server: Server = request.getfixturevalue(FIXTURES[scheme][0])
    root: tuple[str, dict[str, object]] = request.getfixturevalue(FIXTURES[scheme][1])
    with FlakyProxy(server.port, failures=2) as proxy:
        script = _RECOVERING_CALLS.format(
            repo=str(REPO_ROOT),
            backends=str(REPO_ROOT / "backends"),
            url=root[0],
            options=json.dumps(OPTIONS[scheme](proxy.endpoint)),
        )
        env = {**os.environ, "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT": "false"}
        done = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120
        )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "value"
    assert done.stderr.strip() == "", done.stderr[:2000]


def test_sdk_records_still_reach_handlers_the_user_configured() -> None:
    script = textwrap.dedent(
        f"""
        import logging, sys
        sys.path[:0] = [{str(REPO_ROOT)!r}, {str(REPO_ROOT / "backends")!r}]
        logging.basicConfig(level=logging.WARNING, format="%(name)s %(message)s")
        from memokey_backends import open_store
        open_store("gs://bucket/root", token="anon", endpoint_url="http://127.0.0.1:9")
        logging.getLogger("gcsfs").warning("user-visible")
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert "gcsfs user-visible" in done.stderr

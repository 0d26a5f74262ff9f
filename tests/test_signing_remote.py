"""Remote runs with a signing key: invocations and results are signed on both sides, and
`python -m memokey run URI` refuses a planted invocation before unpickling it."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

import memokey
import memokey.shims
from helpers.exploits import Exploit
from memokey.errors import ShimError, SignatureError
from memokey.identity import function_id
from memokey.remote import INVOCATION, Invocation, encode_invocation, execute
from memokey.results import read_header
from memokey.shims import ExecutorShim, subprocess_shim
from memokey.shims.base import Job
from memokey.signing import RUN_KEY_ENV, SEAL_PREFIX, SIGNING_KEY_ENV, Signer, parse_keys
from memokey_backends import open_store

KEY = "correct horse battery staple 42"
OTHER_KEY = "an attacker's own key of 32 bytes"
Location = tuple[str, dict[str, Any]]
MEMO = "memokey-v2/default/victims--f/0123456789abcdef0123456789abcdef"


def add(a: int, b: int = 0) -> int:
    return a + b


@pytest.fixture(
    params=[
        "file",
        pytest.param("s3", marks=pytest.mark.cloud),
        pytest.param("gcs", marks=pytest.mark.cloud),
        pytest.param("azure", marks=pytest.mark.cloud),
    ]
)
def shared_root(request: pytest.FixtureRequest) -> Location:
    """A root another process can reach (memory:// cannot)."""
    location: Location = request.getfixturevalue(f"{request.param}_root")
    return location


def run_far_side(location: Location, memo_uri: str, **env: str) -> subprocess.CompletedProcess[str]:
    _url, options = location
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(sys.path),
        "MEMOKEY_STORAGE_OPTIONS": json.dumps(options),
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "memokey", "run", memo_uri],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
def test_memokey_run_refuses_a_planted_invocation_and_runs_nothing(
    shared_root: Location, tmp_path: Path
) -> None:
    url, options = shared_root
    store = open_store(url, **options)
    marker = tmp_path / "ran"
    store.write(f"{MEMO}.{INVOCATION}", pickle.dumps(Exploit(marker)))
    done = run_far_side(shared_root, f"{url.rstrip('/')}/{MEMO}", **{SIGNING_KEY_ENV: KEY})
    assert done.returncode == 2, done.stderr
    assert "is not signed" in done.stderr
    assert not marker.exists()
    assert store.read(MEMO) is None
    assert store.read(f"{MEMO}.error") is None


@pytest.mark.slow
def test_with_signing_off_memokey_run_unpickles_a_planted_invocation(
    file_root: Location, tmp_path: Path
) -> None:
    """The risk SECURITY.md describes: a worker without a key runs whatever is planted."""
    url, _ = file_root
    marker = tmp_path / "ran"
    open_store(url).write(f"{MEMO}.{INVOCATION}", pickle.dumps(Exploit(marker)))
    run_far_side(file_root, f"{url.rstrip('/')}/{MEMO}", **{SIGNING_KEY_ENV: ""})
    assert marker.exists()


def sealed_invocation(key: str, path: str) -> bytes:
    # The far side checks the function id against the function it runs (remote_check).
    invocation = Invocation(func=add, args=(1, 2), kwargs={}, function_id=function_id(add))
    return encode_invocation(invocation, Signer(parse_keys(key)), path)


def test_an_invocation_signed_with_another_key_is_not_run(
    file_root: Location, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, _ = file_root
    monkeypatch.setenv(SIGNING_KEY_ENV, KEY)
    store = open_store(url)
    store.write(f"{MEMO}.{INVOCATION}", sealed_invocation(OTHER_KEY, f"{MEMO}.{INVOCATION}"))
    with pytest.raises(ShimError, match="key this process does not have"):
        execute(f"{url.rstrip('/')}/{MEMO}")
    assert store.read(MEMO) is None


def test_a_signed_invocation_moved_to_another_memo_directory_is_not_run(
    file_root: Location, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, _ = file_root
    monkeypatch.setenv(SIGNING_KEY_ENV, KEY)
    elsewhere = MEMO[:-4] + "ffff"
    store = open_store(url)
    store.write(f"{elsewhere}.{INVOCATION}", sealed_invocation(KEY, f"{MEMO}.{INVOCATION}"))
    with pytest.raises(ShimError, match="copied from another key's path"):
        execute(f"{url.rstrip('/')}/{elsewhere}")
    assert store.read(elsewhere) is None


def test_a_signed_invocation_runs_and_its_result_is_signed_by_the_far_side(
    file_root: Location, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, _ = file_root
    monkeypatch.setenv(SIGNING_KEY_ENV, KEY)
    store = open_store(url)
    store.write(f"{MEMO}.{INVOCATION}", sealed_invocation(KEY, f"{MEMO}.{INVOCATION}"))
    assert execute(f"{url.rstrip('/')}/{MEMO}") is True
    result = store.read(MEMO)
    assert result is not None
    assert read_header(result, "x").signature


def test_with_pickle_refused_the_far_side_runs_no_invocation(
    file_root: Location, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url, _ = file_root
    monkeypatch.setenv("MEMOKEY_ALLOW_PICKLE", "0")
    marker = tmp_path / "ran"
    open_store(url).write(f"{MEMO}.{INVOCATION}", pickle.dumps(Exploit(marker)))
    with pytest.raises(ShimError, match="pickle is refused"):
        execute(f"{url.rstrip('/')}/{MEMO}")
    assert not marker.exists()


@pytest.mark.slow
def test_subprocess_shim_passes_an_explicit_signing_key_to_its_child(
    shared_root: Location, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(SIGNING_KEY_ENV, raising=False)
    url, options = shared_root
    f = memokey.memoize(url, storage_options=options, shim=subprocess_shim, signing_key=KEY)(add)
    assert f(2, 3) == 5
    key = f.key_for(2, 3)
    store = open_store(url, **options)
    result = store.read(key.path)
    assert result is not None
    assert read_header(result, "x").signature
    assert store.read(key.path + "." + INVOCATION) is None  # deleted after success
    assert f(2, 3) == 5  # a hit, verified


@pytest.mark.slow
def test_subprocess_shim_child_inherits_the_environment_key(
    file_root: Location, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SIGNING_KEY_ENV, f"{KEY},{OTHER_KEY}")
    url, _ = file_root
    f = memokey.memoize(url, shim=subprocess_shim)(add)
    assert f(7) == 7
    monkeypatch.setenv(SIGNING_KEY_ENV, KEY)  # the first key signed it
    assert f(7) == 7


def test_a_stored_invocation_is_sealed_when_a_key_is_configured(
    file_root: Location, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[bytes] = []
    url, _ = file_root

    class Recorder(memokey.shims.Shim):  # runs nothing; keeps what was uploaded
        runs_elsewhere = True

        def start(self, job: Any) -> Any:
            data = open_store(job.memo_uri.rsplit("/", 1)[0]).read(
                job.memo_uri.rsplit("/", 1)[1] + "." + INVOCATION
            )
            seen.append(b"" if data is None else data)
            assert job.environment[RUN_KEY_ENV] == KEY
            return _done()

    f = memokey.memoize(url, shim=Recorder(), signing_key=KEY)(add)
    with pytest.raises(ShimError):
        f(1)
    assert seen
    assert seen[0].startswith(SEAL_PREFIX)


def _done() -> Future[None]:
    future: Future[None] = Future()
    future.set_result(None)
    return future


class LegacyExecutorShim(ExecutorShim):
    """A shim written before `Job.signed`: it does not tell `execute` the call is signed."""

    def start(self, job: Job) -> Future[Any]:
        return self.executor.submit(execute, job.memo_uri, dict(job.storage_options))


def test_a_worker_without_the_key_publishes_a_result_the_caller_refuses_saying_why(
    file_root: Location, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(SIGNING_KEY_ENV, raising=False)
    url, _ = file_root
    with ThreadPoolExecutor(1) as pool:  # runs `execute` here, without the explicit key
        shim = LegacyExecutorShim(pool, runs_elsewhere=True)
        f = memokey.memoize(url, shim=shim, signing_key=KEY)(add)
        with pytest.raises(SignatureError, match=f"Set {SIGNING_KEY_ENV} in the workers'"):
            f(1, 1)

"""Remote runs carry the caller's code version; the far side (``memokey run``, executor
and Dask workers) recomputes what it can and refuses to publish under a key that does
not match (exit 2, nothing published)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

import memokey
from helpers.modules import ModuleWriter
from memokey.errors import ShimError
from memokey.layout import sibling
from memokey.remote import Invocation, encode_invocation, execute
from memokey.results import read_header
from memokey.shims import subprocess_shim
from memokey_backends import Store, open_store

REPO = Path(__file__).resolve().parents[1]


ENTRY = "entry"
RESULT = ENTRY  # the entry is one object; the invocation is its sibling
INVOCATION = sibling(ENTRY, "invocation")


def add(a: int, b: int = 0) -> int:
    return a + b


def _caller_invocation(func: object, *args: int) -> Invocation:
    """The invocation a caller stages, with its function id, digest and fingerprint."""
    memoized = memokey.memoize("file:///unused")(func)  # type: ignore[call-overload]
    key = memoized.key_for(*args)
    fingerprint = memokey.code_fingerprint(func)  # type: ignore[arg-type]
    return Invocation(
        func,  # type: ignore[arg-type]
        tuple(args),
        {},
        function_id=key.function_id,
        digest=key.digest,
        code={"code": fingerprint.digest, "code_parts": dict(fingerprint.parts)},
        code_keyed=True,
    )


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return open_store(f"file://{tmp_path}/memo")  # a function directory


def _memokey_run(store: Store) -> subprocess.CompletedProcess[str]:
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([str(REPO), str(REPO / "backends"), str(REPO / "tests")]),
    )
    return subprocess.run(
        [sys.executable, "-m", "memokey", "run", store.uri(ENTRY)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_a_matching_invocation_runs_and_its_result_records_the_code(store: Store) -> None:
    invocation = _caller_invocation(add, 2, 3)
    store.write(INVOCATION, encode_invocation(invocation))
    assert execute(store.uri(ENTRY)) is True
    data = store.read(RESULT)
    assert data is not None
    assert read_header(data, "r").extra["code"] == invocation.code["code"]  # type: ignore[index]


def test_the_far_side_refuses_code_whose_fingerprint_differs(store: Store) -> None:
    invocation = replace(_caller_invocation(add, 2, 3), code={"code": "0" * 32})
    store.write(INVOCATION, encode_invocation(invocation))
    done = _memokey_run(store)
    assert done.returncode == 2, done.stderr
    assert "code" in done.stderr
    assert "differs" in done.stderr
    assert store.read(RESULT) is None


def test_the_far_side_refuses_arguments_whose_digest_differs(store: Store) -> None:
    invocation = replace(_caller_invocation(add, 2, 3), args=(2, 4))
    store.write(INVOCATION, encode_invocation(invocation))
    with pytest.raises(ShimError, match="digest"):
        execute(store.uri(ENTRY))
    assert store.read(RESULT) is None


def test_the_far_side_refuses_another_function_id(store: Store) -> None:
    invocation = replace(_caller_invocation(add, 2, 3), function_id="elsewhere--add")
    store.write(INVOCATION, encode_invocation(invocation))
    with pytest.raises(ShimError, match="elsewhere--add"):
        execute(store.uri(ENTRY))
    assert store.read(RESULT) is None


def test_an_edited_helper_on_the_far_side_is_refused_through_the_subprocess_shim(
    modules: ModuleWriter, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    helper = modules.write("remote_job", "def job(x):\n    return x + 1\n")
    memoized = memokey.memoize((tmp_path / "memo").as_uri(), shim=subprocess_shim)(helper.job)
    env_path = os.pathsep.join([str(modules.directory), str(REPO), str(REPO / "backends")])
    monkeypatch.setenv("PYTHONPATH", env_path)
    assert memoized(1) == 2
    # The file changes on disk, but this process still runs (and keys) the old code.
    (modules.directory / f"{modules.name('remote_job')}.py").write_text(
        "def job(x):\n    return x + 1000\n"
    )
    with pytest.raises(ShimError, match="code"):
        memoized(2)

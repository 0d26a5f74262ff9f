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
from memokey.keys import bind_call, call_digest
from memokey.layout import sibling
from memokey.remote import INVOCATION, RESULT, Invocation, encode_invocation, execute
from memokey.results import read_header
from memokey.shims import subprocess_shim
from memokey_backends import open_store

REPO = Path(__file__).resolve().parents[1]


class EntryView:
    """An entry's object and siblings by the names the far side uses: `RESULT` is the
    entry itself (one object), `INVOCATION` its ``.invocation`` sibling."""

    def __init__(self, uri: str) -> None:
        parent, _, self.entry = uri.rstrip("/").rpartition("/")
        self.store = open_store(parent)
        self.url = uri

    def _path(self, name: str) -> str:
        return self.entry if name == RESULT else sibling(self.entry, name)

    def write(self, name: str, data: bytes) -> None:
        self.store.write(self._path(name), data)

    def read(self, name: str) -> bytes | None:
        return self.store.read(self._path(name))


def add(a: int, b: int = 0) -> int:
    return a + b


def process(x: int) -> int:
    return x


def Process(x: int) -> int:  # differs from `process` only in case
    return -x


ROOT: list[str] = []  # the test's root URL, set by the `store` fixture


def _caller_invocation(func: object, *args: int) -> Invocation:
    """The invocation a caller stages, with its function id, digest and fingerprint."""
    fingerprint = memokey.code_fingerprint(func)  # type: ignore[arg-type]
    return Invocation(
        func,  # type: ignore[arg-type]
        tuple(args),
        {},
        function_id=memokey.key_for(func, *args).function_id,  # type: ignore[arg-type]
        digest=call_digest(func, bind_call(func, args, {})),  # type: ignore[arg-type]
        code={"code": fingerprint.digest, "code_parts": dict(fingerprint.parts)},
        code_keyed=True,
    )


@pytest.fixture
def store(tmp_path: Path) -> EntryView:
    """The store at the URI of the key of ``add(2, 3)``, where a caller would stage it."""
    memoized = memokey.memoize(f"file://{tmp_path}/memo")(add)
    return EntryView(memoized.key_for(2, 3).uri)


def _memokey_run(store: EntryView) -> subprocess.CompletedProcess[str]:
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([str(REPO), str(REPO / "backends"), str(REPO / "tests")]),
    )
    return subprocess.run(
        [sys.executable, "-m", "memokey", "run", store.url],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_a_matching_invocation_runs_and_its_result_records_the_code(store: EntryView) -> None:
    invocation = _caller_invocation(add, 2, 3)
    store.write(INVOCATION, encode_invocation(invocation))
    assert execute(store.url) is True
    data = store.read(RESULT)
    assert data is not None
    assert read_header(data, "r").extra["code"] == invocation.code["code"]  # type: ignore[index]


def test_the_far_side_refuses_code_whose_fingerprint_differs(store: EntryView) -> None:
    invocation = replace(_caller_invocation(add, 2, 3), code={"code": "0" * 32})
    store.write(INVOCATION, encode_invocation(invocation))
    done = _memokey_run(store)
    assert done.returncode == 2, done.stderr
    assert "another code version" in done.stderr or "differs" in done.stderr
    assert store.read(RESULT) is None


def test_the_far_side_refuses_arguments_whose_digest_differs(store: EntryView) -> None:
    invocation = replace(_caller_invocation(add, 2, 3), args=(2, 4))
    store.write(INVOCATION, encode_invocation(invocation))
    with pytest.raises(ShimError, match="digest"):
        execute(store.url)
    assert store.read(RESULT) is None


def test_an_invocation_moved_to_another_calls_uri_is_refused(tmp_path: Path) -> None:
    memoized = memokey.memoize(f"file://{tmp_path}/memo")(add)
    other = EntryView(memoized.key_for(2, 4).uri)
    other.write(INVOCATION, encode_invocation(_caller_invocation(add, 2, 3)))
    with pytest.raises(ShimError, match="not the key of these arguments"):
        execute(other.url)
    assert other.read(RESULT) is None


def test_an_invocation_moved_to_another_functions_directory_is_refused(tmp_path: Path) -> None:
    def sub(a: int, b: int = 0) -> int:
        return a - b

    elsewhere = EntryView(memokey.memoize(f"file://{tmp_path}/memo")(sub).key_for(2, 3).uri)
    elsewhere.write(INVOCATION, encode_invocation(_caller_invocation(add, 2, 3)))
    with pytest.raises(ShimError, match="is not that of"):
        execute(elsewhere.url)
    assert elsewhere.read(RESULT) is None


def test_the_far_side_refuses_another_function_id(store: EntryView) -> None:
    invocation = replace(_caller_invocation(add, 2, 3), function_id="elsewhere--add")
    store.write(INVOCATION, encode_invocation(invocation))
    with pytest.raises(ShimError, match="elsewhere--add"):
        execute(store.url)
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


def test_functions_whose_names_differ_only_in_case_never_share_an_entry(tmp_path: Path) -> None:
    """One directory on a case-insensitive file system (macOS, Windows): the entry name
    is bound to the exact spelling of its namespace and function directory."""
    root = f"file://{tmp_path}/memo"
    lower = memokey.memoize(root, code="off")(process).key_for(1)
    upper = memokey.memoize(root, code="off")(Process).key_for(1)
    assert lower.path.lower().rsplit("/", 1)[0] == upper.path.lower().rsplit("/", 1)[0]
    assert lower.digest != upper.digest
    assert memokey.memoize(root, namespace="Exp")(add).key_for(1).digest != (
        memokey.memoize(root, namespace="exp")(add).key_for(1).digest
    )

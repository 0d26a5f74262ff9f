"""The far side of a remote call: invocation in, result or error out, errors rebuilt here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from helpers.remote import root_on
from memokey.errors import RemoteError, ShimError
from memokey.layout import sibling
from memokey.remote import (
    STORAGE_OPTIONS_ENV,
    Invocation,
    RemoteFailure,
    decode_invocation,
    encode_invocation,
    execute,
    raise_failure,
    run_invocation,
)
from memokey.results import decode_result, encode_result
from memokey_backends import Store, open_store


def add(a: int, b: int = 0) -> int:
    return a + b


class Boom(Exception):
    pass


def explode(x: int) -> int:
    raise Boom(f"boom {x}")


class LockedError(Exception):
    """Carries a lock, so it cannot be pickled back to the caller."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.lock = threading.Lock()


def explode_unpicklably() -> None:
    raise LockedError("cannot travel")


# The store is rooted at the function directory; the entry is one object in it and the
# invocation and error are its siblings.
ENTRY = "entry"
RESULT = ENTRY
INVOCATION = sibling(ENTRY, "invocation")
ERROR = sibling(ENTRY, "error")


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return open_store(f"file://{tmp_path}/memo")


def _stage(store: Store, func: Any, *args: Any, **kwargs: Any) -> None:
    store.write(INVOCATION, encode_invocation(Invocation(func, args, kwargs)))


def test_invocation_round_trips_function_and_arguments() -> None:
    data = encode_invocation(Invocation(add, (1,), {"b": 2}))
    back = decode_invocation(data, "memory://x/invocation")
    assert back.func(*back.args, **back.kwargs) == 3


def test_far_side_publishes_the_result(store: Store) -> None:
    _stage(store, add, 2, b=3)
    assert run_invocation(store.uri(ENTRY)) == 0
    assert decode_result(store.read(RESULT) or b"", "r") == 5


def test_far_side_publishes_the_error_and_no_result(store: Store) -> None:
    _stage(store, explode, 7)
    assert run_invocation(store.uri(ENTRY)) == 1
    assert not store.exists(RESULT)
    record = json.loads(store.read(ERROR) or b"{}")
    assert record["type"] == f"{__name__}.Boom"
    assert record["message"] == "boom 7"
    assert "explode" in record["traceback"]


def test_error_is_reraised_with_its_type_message_and_remote_traceback(store: Store) -> None:
    _stage(store, explode, 7)
    run_invocation(store.uri(ENTRY))
    with pytest.raises(Boom, match="boom 7") as info:
        raise_failure(store, ENTRY)
    notes = getattr(info.value, "__notes__", [])
    assert any("Remote traceback" in n and "in explode" in n for n in notes)


def test_unpicklable_error_arrives_as_remote_error_carrying_its_text(store: Store) -> None:
    _stage(store, explode_unpicklably)
    run_invocation(store.uri(ENTRY))
    with pytest.raises(RemoteError, match="LockedError: cannot travel") as info:
        raise_failure(store, ENTRY)
    assert "explode_unpicklably" in info.value.remote_traceback  # type: ignore[attr-defined]


def test_error_that_does_not_round_trip_arrives_as_remote_error() -> None:
    class TwoArgs(Exception):
        def __init__(self, a: str, b: str) -> None:
            super().__init__(f"{a}/{b}")

    failure = RemoteFailure.capture(TwoArgs("x", "y"))
    assert isinstance(failure.rebuild("memory://e"), RemoteError)


def test_missing_invocation_is_reported_and_nothing_published(store: Store) -> None:
    with pytest.raises(ShimError, match="no invocation"):
        execute(store.uri(ENTRY))
    assert run_invocation(store.uri(ENTRY)) == 2
    assert not store.exists(RESULT)
    assert not store.exists(ERROR)


def test_published_result_is_not_computed_again(store: Store) -> None:
    store.write(RESULT, encode_result(1), exclusive=True)
    _stage(store, explode, 1)
    assert run_invocation(store.uri(ENTRY)) == 0
    assert not store.exists(ERROR)


def test_success_after_a_failure_removes_the_old_error(store: Store) -> None:
    _stage(store, explode, 1)
    run_invocation(store.uri(ENTRY))
    _stage(store, add, 1)
    assert run_invocation(store.uri(ENTRY)) == 0
    assert not store.exists(ERROR)


def test_raise_failure_without_an_error_does_nothing(store: Store) -> None:
    raise_failure(store, ENTRY)


@pytest.fixture
def s3_root(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    yield from root_on("s3", request, tmp_path)


def test_command_line_reads_storage_options_from_the_environment(s3_root: Any) -> None:
    store = open_store(s3_root.url, **s3_root.options)
    _stage(store, add, 40, b=2)
    env = {
        **os.environ,
        STORAGE_OPTIONS_ENV: json.dumps(s3_root.options),
        "PYTHONPATH": os.pathsep.join(sys.path),  # this test module, for `add`
    }
    done = subprocess.run(
        [sys.executable, "-m", "memokey", "run", store.uri(ENTRY)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, store.read(ERROR)
    assert decode_result(store.read(RESULT) or b"", "r") == 42


@pytest.mark.parametrize("bad", ["not json", "[1, 2]"])
def test_command_line_rejects_storage_options_that_are_not_a_json_object(
    store: Store, bad: str
) -> None:
    env = {**os.environ, STORAGE_OPTIONS_ENV: bad}
    done = subprocess.run(
        [sys.executable, "-m", "memokey", "run", store.uri(ENTRY)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert STORAGE_OPTIONS_ENV in done.stderr

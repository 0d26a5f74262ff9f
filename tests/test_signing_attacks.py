"""An attacker who can write to the bucket, on every backend: what signing and the
decode policy refuse, and (documented as the risk) what happens with both off.

Every refused object must be refused BEFORE it is unpickled: the planted payloads touch a
marker file when they run, and the marker must not exist afterwards.
"""

from __future__ import annotations

import asyncio
import shlex
from pathlib import Path
from typing import Any

import pytest

import memokey
from helpers.exploits import ATTACKER_VALUE, Exploit, crafted_error, crafted_result
from memokey.errors import RemoteError, SerializationError, SignatureError
from memokey.results import encode_result, read_header
from memokey.signing import Signer, parse_keys
from memokey_backends import open_store

KEY = "correct horse battery staple 42"
OTHER_KEY = "an attacker's own key of 32 bytes"
Location = tuple[str, dict[str, Any]]


def add_one(x: int) -> int:
    return x + 1


CALLS: list[int] = []


def counted(x: int) -> int:
    CALLS.append(x)
    return x * 10


@pytest.fixture(autouse=True)
def _no_calls_yet() -> None:
    CALLS.clear()


def fails(x: int) -> int:
    raise ValueError(f"genuine failure {x}")


def plant(location: Location, path: str, data: bytes) -> None:
    url, options = location
    open_store(url, **options).write(path, data)


def stored(location: Location, path: str) -> bytes:
    url, options = location
    data = open_store(url, **options).read(path)
    assert data is not None
    return data


def memoized(location: Location, func: Any = add_one, **settings: Any) -> Any:
    url, options = location
    return memokey.memoize(url, storage_options=options, **settings)(func)


def test_with_signing_off_a_planted_result_runs_its_code_on_the_next_hit(
    store_root: Location, tmp_path: Path
) -> None:
    """The risk SECURITY.md describes: without signing, the bucket is trusted."""
    f = memoized(store_root)
    marker = tmp_path / "ran"
    plant(store_root, f.key_for(1).path, crafted_result(marker))
    assert f(1) == ATTACKER_VALUE
    assert marker.exists()


def test_a_planted_result_with_a_valid_checksum_is_refused_unsigned_and_runs_nothing(
    store_root: Location, tmp_path: Path
) -> None:
    f = memoized(store_root, signing_key=KEY)
    marker = tmp_path / "ran"
    key = f.key_for(1)
    plant(store_root, key.path, crafted_result(marker))
    with pytest.raises(SignatureError, match="is not signed") as raised:
        f(1)
    assert raised.value.uri == key.uri
    # the entry, as `memokey ls` prints it (shell-quoted where needed)
    assert f"`memokey rm {shlex.quote(key.uri)}`" in str(raised.value)
    assert not marker.exists()


def test_a_result_signed_with_another_key_is_refused_and_runs_nothing(
    store_root: Location, tmp_path: Path
) -> None:
    f = memoized(store_root, signing_key=KEY)
    marker = tmp_path / "ran"
    path = f.key_for(1).path
    forged = encode_result(Exploit(marker), signer=Signer(parse_keys(OTHER_KEY)), path=path)
    plant(store_root, path, forged)
    with pytest.raises(SignatureError, match="key this process does not have"):
        f(1)
    assert not marker.exists()


def test_a_signed_result_moved_to_another_keys_path_is_refused(store_root: Location) -> None:
    f = memoized(store_root, signing_key=KEY)
    assert f(2) == 3
    genuine = stored(store_root, f.key_for(2).path)
    plant(store_root, f.key_for(1).path, genuine)
    with pytest.raises(SignatureError, match="copied from another key's path"):
        f(1)


def test_a_signed_result_with_a_rewritten_payload_and_checksum_is_refused(
    store_root: Location, tmp_path: Path
) -> None:
    f = memoized(store_root, signing_key=KEY)
    assert f(1) == 2
    path = f.key_for(1).path
    genuine = stored(store_root, path)
    marker = tmp_path / "ran"
    # The attacker's payload with its own valid checksum, behind the genuine signature.
    plant(store_root, path, crafted_result(marker) + read_header(genuine, "x").signature)
    with pytest.raises(SignatureError, match="does not match its content"):
        f(1)
    assert not marker.exists()


def test_signed_results_hit_and_stay_signed(store_root: Location) -> None:
    f = memoized(store_root, counted, signing_key=KEY)
    assert f(4) == 40
    assert f(4) == 40
    assert CALLS == [4]
    assert len(read_header(stored(store_root, f.key_for(4).path), "x").signature)


def test_serializer_downgrade_to_pickle_is_refused_before_decoding(
    store_root: Location, tmp_path: Path
) -> None:
    f = memoized(store_root, serializer="json")
    marker = tmp_path / "ran"
    for name in ("pickle", "cloudpickle"):
        plant(store_root, f.key_for(1).path, crafted_result(marker, name))
        with pytest.raises(SerializationError, match="configured with 'json'"):
            f(1)
    assert not marker.exists()


def test_with_pickle_refused_a_planted_pickle_result_is_refused(
    store_root: Location, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEMOKEY_ALLOW_PICKLE", "0")
    f = memoized(store_root, serializer="json")
    assert f(5) == 6  # json results are still stored and read
    assert f(5) == 6
    marker = tmp_path / "ran"
    plant(store_root, f.key_for(1).path, crafted_result(marker))
    with pytest.raises(SerializationError):
        f(1)
    assert not marker.exists()


def test_with_signing_off_a_planted_error_record_runs_its_code(
    store_root: Location, tmp_path: Path
) -> None:
    """The risk SECURITY.md describes for `cache_errors=True` without signing."""
    f = memoized(store_root, fails, cache_errors=True)
    marker = tmp_path / "ran"
    plant(store_root, f.key_for(1).path + ".error", crafted_error(marker))
    with pytest.raises(RemoteError, match="planted"):
        f(1)  # the pickle ran (and gave 666, not an exception, so the text is raised)
    assert marker.exists()


def test_a_planted_error_record_is_refused_with_signing_on_and_runs_nothing(
    store_root: Location, tmp_path: Path
) -> None:
    f = memoized(store_root, fails, cache_errors=True, signing_key=KEY)
    marker = tmp_path / "ran"
    plant(store_root, f.key_for(1).path + ".error", crafted_error(marker))
    with pytest.raises(SignatureError, match=r"error at .* is not signed"):
        f(1)
    assert not marker.exists()


def test_a_planted_error_record_is_raised_as_text_when_pickle_is_refused(
    store_root: Location, tmp_path: Path
) -> None:
    f = memoized(store_root, fails, cache_errors=True, serializer="json", allow_pickle=False)
    marker = tmp_path / "ran"
    plant(store_root, f.key_for(1).path + ".error", crafted_error(marker))
    with pytest.raises(RemoteError, match="planted") as raised:
        f(1)
    assert raised.value.remote_type == "builtins.ValueError"
    assert not marker.exists()


def test_a_signed_error_record_is_re_raised_without_computing_again(
    store_root: Location,
) -> None:
    f = memoized(store_root, fails, cache_errors=True, signing_key=KEY)
    with pytest.raises(ValueError, match="genuine failure 3"):
        f(3)
    assert stored(store_root, f.key_for(3).path + ".error").startswith(b"MKSEALED")
    with pytest.raises(ValueError, match="genuine failure 3"):
        f(3)


def test_a_signed_error_record_moved_to_another_key_is_refused(store_root: Location) -> None:
    f = memoized(store_root, fails, cache_errors=True, signing_key=KEY)
    with pytest.raises(ValueError, match="genuine failure 3"):
        f(3)
    plant(
        store_root, f.key_for(4).path + ".error", stored(store_root, f.key_for(3).path + ".error")
    )
    with pytest.raises(SignatureError, match="copied from another key's path"):
        f(4)


async def async_add_one(x: int) -> int:
    return x + 1


def test_coroutine_functions_sign_and_refuse_the_same_way(
    store_root: Location, tmp_path: Path
) -> None:
    f = memoized(store_root, async_add_one, signing_key=KEY)
    assert asyncio.run(f(1)) == 2
    assert asyncio.run(f(1)) == 2
    assert read_header(stored(store_root, f.key_for(1).path), "x").signature
    marker = tmp_path / "ran"
    plant(store_root, f.key_for(2).path, crafted_result(marker))
    with pytest.raises(SignatureError, match="is not signed"):
        asyncio.run(f(2))
    assert not marker.exists()

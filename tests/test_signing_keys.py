"""Signing keys: how they are given, refused, rotated and kept out of sight; and what a
signed hit costs in requests."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import pytest

import memokey
from memokey.errors import ConfigurationError, SignatureError
from memokey.results import decode_result, encode_result, read_header
from memokey.signing import SIGNING_KEY_ENV, Signer, key_text, parse_keys, place_of

OLD = "the old key - retired next week"
NEW = "the new key - signing from today"
PATH = "memokey-v2/default/m--f/00ff"
URI = "s3://bucket/prefix/" + PATH


def double(x: int) -> int:
    return 2 * x


def signer(*keys: str | bytes) -> Signer:
    return Signer(parse_keys(list(keys)))


@pytest.mark.parametrize("bad", ["", "short", b"0123456789abcde", "long enough key,", 12345, []])
def test_empty_short_or_ill_typed_keys_are_refused_saying_how_to_make_one(bad: Any) -> None:
    with pytest.raises(ConfigurationError, match="signing"):
        memokey.memoize("memory://k", signing_key=bad)(double)


def test_str_and_bytes_keys_are_the_same_key() -> None:
    data = encode_result(1, signer=signer(NEW), path=PATH)
    assert decode_result(data, URI, signer=signer(NEW.encode())) == 1


def test_a_binary_key_survives_the_trip_through_an_environment_variable() -> None:
    raw = bytes(range(256))[:40]
    assert parse_keys(key_text(raw)) == (raw,)
    assert parse_keys(signer(raw, NEW).environment_value) == (raw, NEW.encode())


def test_rotation_signs_with_the_first_key_and_accepts_any() -> None:
    by_old = encode_result("old", signer=signer(OLD), path=PATH)
    rotating = signer(NEW, OLD)
    assert decode_result(by_old, URI, signer=rotating) == "old"
    by_new = encode_result("new", signer=rotating, path=PATH)
    assert decode_result(by_new, URI, signer=signer(NEW)) == "new"
    with pytest.raises(SignatureError, match=rotating.key_ids[0].hex()):
        decode_result(by_new, URI, signer=signer(OLD))


def test_the_environment_key_applies_to_functions_decorated_before_it_was_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(SIGNING_KEY_ENV, raising=False)
    f = memokey.memoize(str(tmp_path))(double)
    monkeypatch.setenv(SIGNING_KEY_ENV, f"{NEW},{OLD}")
    assert f(2) == 4
    data = (Path(f.key_for(2).uri.removeprefix("file://"))).read_bytes()
    assert read_header(data, URI).signature
    monkeypatch.setenv(SIGNING_KEY_ENV, OLD)  # the reader no longer has the signing key
    with pytest.raises(SignatureError, match="does not have"):
        f(2)


def test_an_explicit_key_wins_over_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SIGNING_KEY_ENV, OLD)
    f = memokey.memoize(str(tmp_path), signing_key=NEW)(double)
    assert f(3) == 6
    monkeypatch.delenv(SIGNING_KEY_ENV)
    assert memokey.memoize(str(tmp_path), signing_key=NEW)(double)(3) == 6


def test_a_bad_environment_key_is_a_configuration_error_at_the_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    f = memokey.memoize(str(tmp_path))(double)
    monkeypatch.setenv(SIGNING_KEY_ENV, "tiny")
    with pytest.raises(ConfigurationError, match=SIGNING_KEY_ENV):
        f(1)


def test_a_signed_result_is_read_by_a_reader_without_a_key() -> None:
    data = encode_result([1, 2], signer=signer(NEW), path=PATH)
    assert decode_result(data, URI) == [1, 2]


def test_the_signature_binds_the_last_path_components_not_the_root() -> None:
    assert place_of(URI) == PATH
    data = encode_result(7, signer=signer(NEW), path=PATH)
    assert decode_result(data, "gs://other-bucket/copied/" + PATH, signer=signer(NEW)) == 7
    with pytest.raises(SignatureError, match="another key's path"):
        decode_result(data, URI.replace("00ff", "00fe"), signer=signer(NEW))


def test_a_torn_signed_result_is_reported_as_corrupted() -> None:
    data = bytearray(encode_result(b"x" * 1000, signer=signer(NEW), path=PATH))
    data[200] ^= 1
    with pytest.raises(memokey.ResultCorruptedError):
        decode_result(bytes(data), URI, signer=signer(NEW))


def test_keys_never_appear_in_reprs_or_pickled_errors() -> None:
    s = signer(NEW)
    assert NEW not in repr(s)
    runner = memokey.MemoizingRunner("memory://k", signing_key=NEW)
    assert NEW.encode() not in pickle.dumps(repr(runner))


def test_a_signed_hit_is_still_one_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runner = memokey.MemoizingRunner(str(tmp_path), signing_key=NEW)
    assert runner(double, (5,), {}) == 10
    store = runner._roots.store()
    reads: list[str] = []
    for name in ("read", "read_buffer"):  # read_buffer: the hit path's read (may map)
        original = getattr(store, name)

        def counting(path: str, original: Any = original) -> Any:
            reads.append(path)
            return original(path)

        monkeypatch.setattr(store, name, counting)
    assert runner(double, (5,), {}) == 10
    assert len(reads) == 1


def test_the_key_a_child_process_gets_is_not_in_the_jobs_repr() -> None:
    from memokey.shims.base import Job

    job = Job(call=lambda: None, memo_uri="file:///x", environment={SIGNING_KEY_ENV: NEW})
    assert NEW not in repr(job)


@pytest.mark.parametrize("offset", [4, 5, 16, 24, 40, 63], ids=lambda o: f"trailer byte {o}")
def test_any_changed_byte_of_the_signature_is_refused(offset: int) -> None:
    data = bytearray(encode_result("value", signer=signer(NEW), path=PATH))
    data[len(data) - 64 + offset] ^= 1
    with pytest.raises(SignatureError):
        decode_result(bytes(data), URI, signer=signer(NEW))


def test_large_objects_are_signed_with_gmac_and_small_ones_with_hmac() -> None:
    small = encode_result(b"x", signer=signer(NEW), path=PATH)
    large = encode_result(b"x" * (1 << 17), signer=signer(NEW), path=PATH)
    assert read_header(small, URI).signature[4] == 1  # HMAC-SHA256
    assert read_header(large, URI).signature[4] == 2  # AES-GMAC
    assert decode_result(large, URI, signer=signer(NEW)) == b"x" * (1 << 17)


def test_keyed_local_runners_sign_and_verify_too(tmp_path: Path) -> None:
    runner = memokey.KeyedLocalRunner(
        str(tmp_path), keyfunc=memokey.nil_args("unused"), signing_key=NEW
    )

    def scaled(x: int, unused: object = None) -> int:
        return 3 * x

    f = memokey.use_runner(runner)(scaled)
    assert f(2, unused=object()) == 6
    result = Path(f.key_for(2).uri.removeprefix("file://"))
    assert read_header(result.read_bytes(), URI).signature
    unsigned = memokey.use_runner(
        memokey.KeyedLocalRunner(str(tmp_path), keyfunc=memokey.nil_args("unused"))
    )(scaled)
    assert unsigned(2) == 6  # a reader without a key reads it
    result.write_bytes(encode_result(6))
    with pytest.raises(SignatureError, match="is not signed"):
        f(2)


def test_without_a_key_results_carry_no_signature(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(SIGNING_KEY_ENV, raising=False)
    f = memokey.memoize(str(tmp_path))(double)
    f(1)
    data = (Path(f.key_for(1).uri.removeprefix("file://"))).read_bytes()
    assert read_header(data, URI).signature == b""

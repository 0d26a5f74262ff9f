"""The `result` object: header + payload, checked on every read, pluggable serializers."""

from __future__ import annotations

import json
import pickle
import threading
import uuid
from typing import Any

import pytest
import xxhash

from memokey.entry_format import FOOTER_SIZE, trailer_from_tail
from memokey.errors import ResultCorruptedError, SerializationError
from memokey.results import (
    FORMAT_VERSION,
    MAGIC,
    decode_result,
    encode_result,
    get_serializer,
    read_header,
    read_meta,
    register_serializer,
    serializers,
)

URI = "file:///cache/memokey-v2/default/mod--f/0123/result"


def _unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


def test_value_round_trips_through_cloudpickle_by_default() -> None:
    value = {"a": [1, 2.5, "x"], "b": (None, b"raw")}
    data = encode_result(value)
    assert read_header(data, URI).serializer == "cloudpickle"
    assert decode_result(data, URI) == value


def test_lambda_round_trips_because_cloudpickle_is_the_default() -> None:
    data = encode_result(lambda x: x + 1)
    assert decode_result(data, URI)(1) == 2


def test_pickle_serializer_writes_its_name_into_the_header() -> None:
    data = encode_result([1, 2, 3], "pickle")
    assert read_header(data, URI).serializer == "pickle"
    assert decode_result(data, URI) == [1, 2, 3]


def test_header_starts_with_magic_and_format_version() -> None:
    data = encode_result(1)
    assert data[:4] == MAGIC
    assert data[4] == FORMAT_VERSION


def test_footer_carries_payload_length_and_xxh3_128_checksum_of_header_and_payload() -> None:
    data = encode_result("payload")
    header = read_header(data, URI)
    end = header.payload_offset + header.payload_length
    assert header.checksum == xxhash.xxh3_128_digest(data[:end])
    assert header.trailer_offset == end
    assert len(data) == end + header.trailer_length + FOOTER_SIZE


def test_the_metadata_trailer_is_the_one_object_s_tail_and_never_needed_to_decode() -> None:
    data = encode_result([1, 2], meta={"runner": "test"})
    meta = read_meta(data, URI)
    assert (meta["runner"], meta["payload_bytes"], meta["result_type"]) == (
        "test",
        read_header(data, URI).payload_length,
        "builtins.list",
    )
    assert trailer_from_tail(data[-200:], URI) == meta  # a ranged read of the end suffices


def test_a_header_fact_changed_after_writing_fails_the_checksum() -> None:
    data = encode_result(1, extra={"fingerprint": "aaaa"})
    forged = data.replace(b"aaaa", b"bbbb")
    with pytest.raises(ResultCorruptedError, match="checksum"):
        decode_result(forged, URI)


def test_payload_is_pickle_protocol_5() -> None:
    data = encode_result([1, 2], "pickle")
    payload = data[read_header(data, URI).payload_offset :]
    assert payload[:2] == b"\x80\x05"


@pytest.mark.parametrize("cut", [0, 3, 7, 20, -1])
def test_truncated_result_raises_corrupted_naming_the_uri(cut: int) -> None:
    data = encode_result(list(range(100)))
    with pytest.raises(ResultCorruptedError, match="corrupted") as info:
        decode_result(data[:cut], URI)
    assert URI in str(info.value)
    assert info.value.uri == URI


def test_flipped_payload_byte_raises_corrupted() -> None:
    data = bytearray(encode_result(list(range(100))))
    data[read_header(bytes(data), URI).payload_offset + 5] ^= 0xFF
    with pytest.raises(ResultCorruptedError, match="checksum"):
        decode_result(bytes(data), URI)


def test_extra_trailing_bytes_raise_corrupted() -> None:
    with pytest.raises(ResultCorruptedError, match="footer does not describe that size"):
        decode_result(encode_result(1) + b"junk", URI)


def test_foreign_bytes_raise_corrupted() -> None:
    with pytest.raises(ResultCorruptedError, match="marker"):
        decode_result(pickle.dumps([1, 2, 3]), URI)


def test_future_format_version_raises_corrupted_suggesting_an_upgrade() -> None:
    data = bytearray(encode_result(1))
    data[4] = FORMAT_VERSION + 1
    with pytest.raises(ResultCorruptedError, match="upgrade memokey"):
        decode_result(bytes(data), URI)


def test_corrupted_message_says_how_to_recover() -> None:
    with pytest.raises(ResultCorruptedError, match=r"memokey rm"):
        decode_result(b"xx", URI)


def test_unpicklable_value_raises_serialization_error() -> None:
    with pytest.raises(SerializationError, match="could not be serialized") as info:
        encode_result(threading.Lock())
    assert isinstance(info.value.__cause__, TypeError)


def test_unknown_serializer_name_raises_serialization_error_listing_known_ones() -> None:
    with pytest.raises(SerializationError, match="cloudpickle"):
        encode_result(1, "no-such-serializer")


def test_result_written_by_unregistered_serializer_cannot_be_decoded() -> None:
    name = _unique("gone")
    register_serializer(name, lambda v: json.dumps(v).encode(), json.loads)
    data = encode_result([1], name)
    data = data.replace(name.encode(), _unique("gone").encode())
    with pytest.raises(SerializationError, match="register"):
        decode_result(data, URI)


def test_registered_serializer_round_trips_and_is_listed() -> None:
    name = _unique("json")
    register_serializer(name, lambda v: json.dumps(v).encode(), json.loads)
    data = encode_result({"k": [1, 2]}, name)
    assert decode_result(data, URI) == {"k": [1, 2]}
    assert name in serializers


def test_registering_an_existing_name_is_refused_without_clobber() -> None:
    with pytest.raises(ValueError, match="clobber"):
        register_serializer("pickle", pickle.dumps, pickle.loads)


def test_registering_with_clobber_replaces_the_serializer() -> None:
    name = _unique("clob")
    register_serializer(name, lambda v: b"1", lambda b: 1)
    register_serializer(name, lambda v: b"2", lambda b: 2, clobber=True)
    assert decode_result(encode_result(None, name), URI) == 2


def test_serializer_object_is_registered_on_first_use() -> None:
    name = _unique("obj")
    serializer = register_serializer(name, repr_dumps, repr_loads)
    assert get_serializer(serializer) is serializer
    assert decode_result(encode_result(5, serializer), URI) == 5


def test_serializer_returning_non_bytes_raises_serialization_error() -> None:
    name = _unique("bad")
    register_serializer(name, lambda v: "text", lambda b: b)  # type: ignore[arg-type,return-value]
    with pytest.raises(SerializationError, match="not bytes"):
        encode_result(1, name)


def test_intact_but_undecodable_payload_raises_serialization_error_with_uri() -> None:
    name = _unique("fails")
    register_serializer(name, lambda v: b"x", _raise_on_load)
    with pytest.raises(SerializationError, match=URI):
        decode_result(encode_result(1, name), URI)


@pytest.mark.parametrize("bad", ["", "é", "x" * 256])
def test_serializer_names_must_be_short_ascii(bad: str) -> None:
    with pytest.raises(ValueError, match="ASCII"):
        register_serializer(bad, pickle.dumps, pickle.loads)


def repr_dumps(value: Any) -> bytes:
    return repr(value).encode()


def repr_loads(data: bytes) -> Any:
    return int(data)


def _raise_on_load(data: bytes) -> Any:
    raise ValueError("cannot load")

"""Formats that cannot run code (json, numpy, arrow) and `allow_pickle=False` /
``MEMOKEY_ALLOW_PICKLE=0``, which limit decoding to them."""

from __future__ import annotations

import io
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xxhash

import memokey
from helpers.exploits import Exploit
from memokey import entry_format
from memokey.errors import ConfigurationError, SerializationError, ShimError
from memokey.results import decode_result, encode_result, serializers
from memokey.shims import subprocess_shim

URI = "memory://x/memokey-v2/default/m--f/00/result"


def make_rows(n: int) -> list[dict[str, Any]]:
    return [{"i": i, "name": f"row {i}"} for i in range(n)]


def make_array(n: int) -> Any:
    return np.arange(n, dtype=np.float32).reshape(-1, 2)


def make_table(n: int) -> Any:
    import pyarrow as pa

    return pa.table({"i": list(range(n)), "s": [str(i) for i in range(n)]})


@pytest.mark.parametrize("name", ["json", "numpy", "arrow"])
def test_the_safe_formats_are_built_in_and_marked_as_not_running_code(name: str) -> None:
    assert serializers[name].runs_code is False
    assert serializers["cloudpickle"].runs_code is True
    assert serializers["pickle"].runs_code is True


def test_json_results_hit_with_pickle_refused(tmp_path: Path) -> None:
    f = memokey.memoize(str(tmp_path), serializer="json", allow_pickle=False)(make_rows)
    assert f(3) == make_rows(3)
    assert f(3) == make_rows(3)


def test_numpy_results_round_trip_with_pickle_refused(tmp_path: Path) -> None:
    f = memokey.memoize(str(tmp_path), serializer="numpy", allow_pickle=False)(make_array)
    f(6)
    back = f(6)
    assert back.dtype == np.float32
    np.testing.assert_array_equal(back, make_array(6))


def test_numpy_refuses_to_store_object_arrays() -> None:
    with pytest.raises(SerializationError, match="object arrays need pickle"):
        encode_result(np.array([object()], dtype=object), "numpy")


def test_a_planted_object_npy_is_refused_without_running_code(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    out = io.BytesIO()
    np.save(out, np.array([Exploit(marker)], dtype=object), allow_pickle=True)
    # The attacker's bytes under a header naming "numpy" (valid lengths and checksum).
    payload = out.getvalue()
    header, _ = entry_format.pack_header("numpy", None)
    checksum = xxhash.xxh3_128_digest(header + payload)
    trailer = b"{}"
    planted = header + payload + trailer + entry_format.pack_footer(len(payload), checksum, trailer)
    with pytest.raises(SerializationError, match="could not be deserialized"):
        decode_result(planted, URI, allow_pickle=False)
    assert not marker.exists()


def test_arrow_results_round_trip_with_pickle_refused(tmp_path: Path) -> None:
    f = memokey.memoize(str(tmp_path), serializer="arrow", allow_pickle=False)(make_table)
    f(4)
    assert f(4).equals(make_table(4))


def test_allow_pickle_false_with_a_pickle_serializer_fails_at_decoration() -> None:
    with pytest.raises(ConfigurationError, match="serializer='json'"):
        memokey.memoize("memory://p", allow_pickle=False)(make_rows)


@pytest.mark.parametrize("value", ["0", "false", "No", "off"])
def test_the_environment_switch_refuses_pickle_formats_at_the_call(
    value: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    f = memokey.memoize(str(tmp_path))(make_rows)
    monkeypatch.setenv("MEMOKEY_ALLOW_PICKLE", value)
    with pytest.raises(ConfigurationError, match="MEMOKEY_ALLOW_PICKLE=0"):
        f(1)


def test_the_stricter_of_setting_and_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEMOKEY_ALLOW_PICKLE", "0")
    f = memokey.memoize(str(tmp_path), allow_pickle=True)(make_rows)
    with pytest.raises(ConfigurationError):
        f(1)


def test_an_unreadable_environment_switch_is_a_configuration_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    f = memokey.memoize(str(tmp_path), serializer="json")(make_rows)
    monkeypatch.setenv("MEMOKEY_ALLOW_PICKLE", "maybe")
    with pytest.raises(ConfigurationError, match="set it to 0"):
        f(1)


def test_a_registered_serializer_runs_code_unless_it_says_otherwise(tmp_path: Path) -> None:
    name = "lines-" + uuid.uuid4().hex
    memokey.register_serializer(name, lambda v: "\n".join(v).encode(), lambda b: b.decode())
    with pytest.raises(ConfigurationError):
        memokey.memoize(str(tmp_path), serializer=name, allow_pickle=False)(make_rows)
    safe = "safe-lines-" + uuid.uuid4().hex
    memokey.register_serializer(
        safe, lambda v: "\n".join(v).encode(), lambda b: b.decode().split("\n"), runs_code=False
    )
    f = memokey.memoize(str(tmp_path), serializer=safe, allow_pickle=False)(lambda n: ["a"] * n)
    assert f(2) == ["a", "a"]
    assert f(2) == ["a", "a"]


def test_a_remote_shim_with_pickle_refused_says_why(tmp_path: Path) -> None:
    f = memokey.memoize(str(tmp_path), serializer="json", allow_pickle=False, shim=subprocess_shim)(
        make_rows
    )
    with pytest.raises(ShimError, match="pickle is refused"):
        f(1)

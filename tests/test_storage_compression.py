"""Optional zstd compression of stored results (``compress=``, ``MEMOKEY_COMPRESS``): a
storage choice declared in the entry's header, never part of a key, verified before it is
decompressed and never inflated beyond what the header declares."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xxhash
import zstandard

import memokey
from helpers.compressible import RUNS, noise, ramp, report
from memokey import entry_format
from memokey.cli import main
from memokey.compression import OFF, Compression, check_compress
from memokey.errors import (
    CompressionError,
    ConfigurationError,
    ResultCorruptedError,
    SerializationError,
    SignatureError,
)
from memokey.results import decode_result, encode_result, get_serializer, register_serializer
from memokey.shims import subprocess_shim
from memokey_backends import open_store

Location = tuple[str, dict[str, Any]]
KEY = "a signing key of at least sixteen bytes"
REPO = Path(__file__).resolve().parents[1]


def _codec(store_url: str, options: dict[str, Any], path: str) -> str:
    """The format name in an entry's header: ``cloudpickle`` or ``cloudpickle+zstd``."""
    data = open_store(store_url, **options).read(path)
    assert data is not None
    return entry_format.parse(data, "x").serializer


@pytest.fixture(autouse=True)
def _fresh(monkeypatch: pytest.MonkeyPatch) -> None:
    RUNS.clear()
    monkeypatch.delenv("MEMOKEY_COMPRESS", raising=False)


# -- compression is storage, never key ----------------------------------------------------


def test_a_compressed_entry_is_read_by_a_reader_configured_without_compression(
    store_root: Location,
) -> None:
    url, options = store_root
    writer = memokey.memoize(url, storage_options=options, compress="zstd")(ramp)
    reader = memokey.memoize(url, storage_options=options)(ramp)
    assert writer.key_for(1 << 18) == reader.key_for(1 << 18)
    written = writer(1 << 18)
    assert _codec(url, options, writer.key_for(1 << 18).path) == "cloudpickle+zstd"
    read = reader(1 << 18)
    assert RUNS["ramp"] == 1  # a hit, not a recompute
    np.testing.assert_array_equal(read, written)
    assert read.flags.writeable  # the caller's to change, as any hit's array


def test_an_uncompressed_entry_is_read_by_a_reader_configured_with_compression(
    store_root: Location,
) -> None:
    url, options = store_root
    plain = memokey.memoize(url, storage_options=options)(report)
    zipped = memokey.memoize(url, storage_options=options, compress=("zstd", 9))(report)
    assert plain(2000) == zipped(2000)
    assert RUNS["report"] == 1
    assert _codec(url, options, plain.key_for(2000).path) == "cloudpickle"


def test_compression_never_changes_a_key_whatever_the_level_or_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path.as_uri()
    keys = {memokey.memoize(root, compress=c)(ramp).key_for(7) for c in (None, False, "zstd")}
    keys.add(memokey.memoize(root, compress=("zstd", 19))(ramp).key_for(7))
    monkeypatch.setenv("MEMOKEY_COMPRESS", "zstd:5")
    keys.add(memokey.memoize(root)(ramp).key_for(7))
    assert len(keys) == 1


def test_a_compressed_stream_result_is_smaller_and_round_trips(tmp_path: Path) -> None:
    root = tmp_path.as_uri()
    plain = memokey.memoize(root, namespace="plain")(report)
    zipped = memokey.memoize(root, namespace="zipped", compress="zstd")(report)
    assert zipped(5000) == plain(5000) == zipped(5000)
    size = {
        f: Path(f.key_for(5000).uri.removeprefix("file://")).stat().st_size for f in (plain, zipped)
    }
    assert size[zipped] * 3 < size[plain]
    assert RUNS["report"] == 2


def test_out_of_band_arrays_of_several_dtypes_round_trip_compressed(tmp_path: Path) -> None:
    value = {
        "f": np.arange(1 << 16, dtype=np.float32).reshape(256, 256),
        "i": np.arange(1 << 17, dtype=np.int64)[::-1].copy(),
        "c": np.zeros(1 << 14, dtype=np.complex128),
        "text": "tail",
    }
    data = encode_result(value, compress=Compression("zstd"))
    assert entry_format.parse(data, "x").serializer == "cloudpickle+zstd"
    back = decode_result(data, "x")
    for name in ("f", "i", "c"):
        assert back[name].dtype == value[name].dtype
        assert back[name].shape == value[name].shape
        np.testing.assert_array_equal(back[name], value[name])
    assert back["text"] == "tail"


def test_incompressible_and_tiny_results_are_stored_uncompressed(tmp_path: Path) -> None:
    f = memokey.memoize(tmp_path.as_uri(), compress="zstd")(noise)
    assert f(1 << 20) == f(1 << 20)
    assert _codec(tmp_path.as_uri(), {}, f.key_for(1 << 20).path) == "cloudpickle"
    assert f(40) == f(40)
    assert _codec(tmp_path.as_uri(), {}, f.key_for(40).path) == "cloudpickle"
    assert RUNS["noise"] == 2


# -- settings ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["gzip", "zstd:0", "zstd:23", "zstd:x", ("zstd", 0), ("zstd", True), ("zstd",), 3, 1.5, True],
)
def test_a_bad_compress_setting_fails_at_decoration_saying_what_to_write(value: object) -> None:
    with pytest.raises(ConfigurationError, match="compress='zstd'"):
        memokey.memoize("memory://x", compress=value)(ramp)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("zstd", Compression("zstd", 3)),
        ("ZSTD:7", Compression("zstd", 7)),
        (("zstd", 22), Compression("zstd", 22)),
        (False, OFF),
        ("off", OFF),
        (None, None),
    ],
)
def test_compress_settings_that_are_understood(value: object, expected: object) -> None:
    assert check_compress(value) == expected


def test_keyed_local_runner_and_memoizing_runner_take_compress(tmp_path: Path) -> None:
    root = tmp_path.as_uri()
    keyed = memokey.use_runner(
        memokey.KeyedLocalRunner(root, keyfunc=memokey.nil_args("n"), compress="zstd")
    )(report)
    keyed(3000)
    assert _codec(root, {}, keyed.key_for(3000).path) == "cloudpickle+zstd"
    runner = memokey.MemoizingRunner(root, compress=("zstd", 1))
    assert runner.compress == Compression("zstd", 1)


def test_the_environment_turns_compression_on_and_an_explicit_false_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path.as_uri()
    monkeypatch.setenv("MEMOKEY_COMPRESS", "zstd")
    by_env = memokey.memoize(root, namespace="env")(report)
    never = memokey.memoize(root, namespace="never", compress=False)(report)
    by_env(3000)
    never(3000)
    assert _codec(root, {}, by_env.key_for(3000).path) == "cloudpickle+zstd"
    assert _codec(root, {}, never.key_for(3000).path) == "cloudpickle"


def test_a_bad_environment_value_fails_at_decoration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMOKEY_COMPRESS", "brotli")
    with pytest.raises(ConfigurationError, match="set MEMOKEY_COMPRESS to zstd"):
        memokey.memoize("memory://x")(ramp)


def test_a_numpy_integer_is_a_level() -> None:
    assert check_compress(("zstd", np.int64(9))) == Compression("zstd", 9)


def test_a_serializer_name_may_not_contain_the_codec_separator() -> None:
    with pytest.raises(ConfigurationError, match="'\\+'"):
        register_serializer("my+format", json.dumps, json.loads)


# -- safe formats, signing --------------------------------------------------------------


@pytest.mark.parametrize("serializer", ["json", "numpy", "arrow"])
def test_safe_formats_compress_and_decode_with_pickle_refused(
    tmp_path: Path, serializer: str
) -> None:
    if serializer == "json":
        make: Any = report
    elif serializer == "numpy":
        make = ramp
    else:
        import pyarrow as pa

        def make(n: int) -> Any:
            return pa.table({"i": list(range(n)), "s": ["same text"] * n})

    f = memokey.memoize(
        tmp_path.as_uri(), serializer=serializer, allow_pickle=False, compress="zstd", code="off"
    )(make)
    first = f(20000)
    assert _codec(tmp_path.as_uri(), {}, f.key_for(20000).path) == f"{serializer}+zstd"
    again = f(20000)
    if serializer == "numpy":
        np.testing.assert_array_equal(again, first)
    else:
        assert again == first


def test_a_signed_compressed_entry_round_trips_and_a_flipped_byte_is_refused_before_decompressing(
    tmp_path: Path,
) -> None:
    f = memokey.memoize(tmp_path.as_uri(), signing_key=KEY, compress="zstd")(ramp)
    np.testing.assert_array_equal(f(1 << 18), f(1 << 18))
    assert RUNS["ramp"] == 1
    entry = Path(f.key_for(1 << 18).uri.removeprefix("file://"))
    data = bytearray(entry.read_bytes())
    layout = entry_format.parse(bytes(data), "x", prefer_signed=True)
    assert layout.serializer == "cloudpickle+zstd"
    assert layout.signature
    data[layout.payload_offset + layout.payload_length // 2] ^= 0xFF
    entry.write_bytes(bytes(data))
    with pytest.raises((SignatureError, ResultCorruptedError)):
        f(1 << 18)


def test_an_unsigned_compressed_entry_is_refused_under_a_signing_key(tmp_path: Path) -> None:
    memokey.memoize(tmp_path.as_uri(), compress="zstd")(ramp)(1 << 18)
    with pytest.raises(SignatureError):
        memokey.memoize(tmp_path.as_uri(), signing_key=KEY)(ramp)(1 << 18)


# -- planted entries: bombs, unknown codecs ---------------------------------------------


def _plant(name: str, facts: dict[str, Any], payload: bytes) -> bytes:
    """An unsigned entry with a valid checksum, as anyone with write access could make."""
    header, _ = entry_format.pack_header(name, facts)
    body = header + payload
    trailer = b"{}"
    checksum = xxhash.xxh3_128_digest(body)
    return body + trailer + entry_format.pack_footer(len(payload), checksum, trailer)


def test_a_planted_bomb_is_refused_beyond_its_declared_size() -> None:
    import pickle

    bomb = zstandard.ZstdCompressor().compress(pickle.dumps(bytes(64 << 20)))  # 64 MiB
    assert len(bomb) < 64 << 10
    data = _plant("pickle+zstd", {"codec": "zstd", "raw_size": 1000}, bomb)
    with pytest.raises(ResultCorruptedError, match="declares"):
        decode_result(data, "memory://x/planted")


def test_a_planted_bomb_without_a_declared_frame_size_is_refused() -> None:
    import pickle

    raw = pickle.dumps(bytes(64 << 20))
    bomb = zstandard.ZstdCompressor(write_content_size=False).compressobj().compress(raw)
    bomb += zstandard.ZstdCompressor(write_content_size=False).compressobj().flush()
    data = _plant("pickle+zstd", {"codec": "zstd", "raw_size": 1000}, bomb)
    with pytest.raises(ResultCorruptedError):
        decode_result(data, "memory://x/planted")


def test_a_planted_bomb_in_out_of_band_parts_stops_at_the_declared_size() -> None:
    payload = zstandard.ZstdCompressor(write_content_size=False).compress(bytes(64 << 20))
    facts = {"codec": "zstd", "raw_size": 4096, "raw_parts": [[0, 64], [64, 4032]]}
    with pytest.raises(ResultCorruptedError):
        decode_result(_plant("pickle+zstd", facts, payload), "memory://x/planted")


def test_an_absurd_declared_size_is_refused_before_any_memory_is_taken() -> None:
    payload = zstandard.ZstdCompressor().compress(b"x" * 100)
    data = _plant("pickle+zstd", {"codec": "zstd", "raw_size": 1 << 50}, payload)
    with pytest.raises(ResultCorruptedError, match="more than"):
        decode_result(data, "memory://x/planted")


def test_buffers_declared_outside_the_uncompressed_payload_are_refused() -> None:
    payload = zstandard.ZstdCompressor().compress(bytes(4096))
    facts = {"codec": "zstd", "raw_size": 4096, "raw_parts": [[0, 64], [64, 9000]]}
    with pytest.raises(ResultCorruptedError, match="outside"):
        decode_result(_plant("pickle+zstd", facts, payload), "memory://x/planted")


def test_an_unknown_codec_is_refused_before_decoding() -> None:
    data = _plant("pickle+lz9", {"codec": "lz9", "raw_size": 4}, b"\0" * 8)
    with pytest.raises(CompressionError, match="lz9") as caught:
        decode_result(data, "memory://x/planted")
    assert "memokey rm" in str(caught.value)
    assert isinstance(caught.value, SerializationError)


def test_a_compressed_entry_of_another_serializer_is_refused_like_an_uncompressed_one() -> None:
    data = encode_result(report(3000), "pickle", compress=Compression("zstd"))
    assert entry_format.parse(data, "x").serializer == "pickle+zstd"
    with pytest.raises(SerializationError, match="configured with 'cloudpickle'"):
        decode_result(data, "x", expect=get_serializer("cloudpickle"))
    with pytest.raises(SerializationError, match="allow_pickle"):
        decode_result(data, "x", allow_pickle=False)


# -- without zstandard ------------------------------------------------------------------

WITHOUT_ZSTANDARD = """
import sys
sys.modules["zstandard"] = None  # as if the extra were not installed
import memokey, helpers.compressible as t
{body}
"""


def _without_zstandard(body: str) -> subprocess.CompletedProcess[str]:
    path = os.pathsep.join([str(REPO / "tests"), str(REPO), str(REPO / "backends")])
    return subprocess.run(
        [sys.executable, "-c", WITHOUT_ZSTANDARD.format(body=body)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": path},
        timeout=120,
    )


def test_a_reader_without_zstandard_gets_a_clear_error_never_a_miss(tmp_path: Path) -> None:
    root = tmp_path.as_uri()
    memokey.memoize(root, compress="zstd", code="off")(ramp)(1 << 18)
    done = _without_zstandard(
        f"f = memokey.memoize({root!r}, code='off')(t.ramp)\n"
        "try:\n    f(1 << 18)\n"
        "except memokey.CompressionError as exc:\n    print('REFUSED', exc)\n"
        "print('RUNS', t.RUNS['ramp'])"
    )
    assert done.returncode == 0, done.stderr
    assert "REFUSED" in done.stdout
    assert "RUNS 0" in done.stdout
    assert "pip install 'memokey[zstd]'" in done.stdout
    assert "memokey rm" in done.stdout


def test_asking_for_zstd_without_zstandard_names_the_extra(tmp_path: Path) -> None:
    done = _without_zstandard(
        f"try:\n    memokey.memoize({tmp_path.as_uri()!r}, compress='zstd')(t.ramp)\n"
        "except memokey.ConfigurationError as exc:\n    print('REFUSED', exc)\n"
        "g = memokey.memoize(" + repr(tmp_path.as_uri()) + ")(t.report)\n"
        "print('PLAIN', len(g(50)['rows']))"
    )
    assert done.returncode == 0, done.stderr
    assert "REFUSED" in done.stdout
    assert "pip install 'memokey[zstd]'" in done.stdout
    assert "PLAIN 50" in done.stdout  # everything else works without the extra


# -- remote shims, CLI ------------------------------------------------------------------


def test_the_far_side_of_a_subprocess_shim_stores_compressed_as_the_caller_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join([str(REPO / "tests"), str(REPO), str(REPO / "backends")])
    )
    root = (tmp_path / "memo").as_uri()
    f = memokey.memoize(root, shim=subprocess_shim, compress="zstd")(report)
    assert f(3000) == report(3000)
    assert _codec(root, {}, f.key_for(3000).path) == "cloudpickle+zstd"
    plain = memokey.memoize(root)(report)
    before = RUNS["report"]
    assert plain(3000) == report(3000)
    assert RUNS["report"] == before + 1  # the hit itself did not run it (report() above did)


def test_show_gives_the_codec_and_the_stored_and_raw_sizes_and_du_counts_stored_bytes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path.as_uri()
    f = memokey.memoize(root, compress="zstd")(ramp)
    f(1 << 18)
    uri = f.key_for(1 << 18).uri
    assert main(["show", uri]) == 0
    meta = json.loads(capsys.readouterr().out)
    assert meta["codec"] == "zstd"
    assert meta["raw_bytes"] > 4 * meta["payload_bytes"]
    assert meta["raw_bytes"] >= (1 << 18) * 8
    stored = Path(uri.removeprefix("file://")).stat().st_size
    assert main(["du", root]) == 0
    out = capsys.readouterr().out
    assert f"{stored / 1024:.1f} KiB" in out


# -- every way a result is published or read --------------------------------------------


def test_the_environment_is_read_at_each_publish_not_only_at_decoration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    f = memokey.memoize(tmp_path.as_uri())(report)
    f(3000)
    monkeypatch.setenv("MEMOKEY_COMPRESS", "zstd:1")
    f(3001)
    assert _codec(tmp_path.as_uri(), {}, f.key_for(3000).path) == "cloudpickle"
    assert _codec(tmp_path.as_uri(), {}, f.key_for(3001).path) == "cloudpickle+zstd"


def test_refresh_and_async_functions_store_compressed(tmp_path: Path) -> None:
    import asyncio

    root = tmp_path.as_uri()
    f = memokey.memoize(root, compress="zstd")(report)
    f.refresh(3000)
    assert _codec(root, {}, f.key_for(3000).path) == "cloudpickle+zstd"

    async def areport(n: int) -> dict[str, Any]:
        return report(n)

    g = memokey.memoize(root, compress="zstd")(areport)
    assert asyncio.run(g(3000)) == asyncio.run(g(3000)) == report(3000)
    assert _codec(root, {}, g.key_for(3000).path) == "cloudpickle+zstd"


def test_show_value_decodes_a_compressed_entry(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = memokey.memoize(tmp_path.as_uri(), compress="zstd")(report)
    f(3000)
    assert main(["show", f.key_for(3000).uri, "--value"]) == 0
    assert "{'rows': [{'i': 0, 'name': 'row 0'}" in capsys.readouterr().out


def test_code_warn_and_ttl_read_a_compressed_entrys_header(tmp_path: Path) -> None:
    root = tmp_path.as_uri()
    f = memokey.memoize(root, compress="zstd", logic_key="v1", ttl=3600)(report)
    f(3000)
    f(3000)
    assert RUNS["report"] == 1


def test_a_serializer_object_whose_name_holds_the_separator_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="'\\+'"):
        memokey.memoize("memory://x", serializer=memokey.Serializer("a+b", repr, eval))(ramp)


PEAK = """
import gc, sys
import memokey
from helpers.compressible import ramp
def status(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
f = memokey.memoize(sys.argv[1], compress="zstd")(ramp)
f(1 << 17); f(1 << 17)
gc.collect()
open("/proc/self/clear_refs", "w").write("5")
base = status("VmRSS")
value = f(int(sys.argv[2]))
print(status("VmHWM") - base - value.nbytes)
"""


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="Linux peak-RSS reset")
def test_a_large_compressed_local_hit_never_holds_its_compressed_bytes_beside_the_value(
    tmp_path: Path,
) -> None:
    n = 1 << 26  # 512 MiB of float64, about 52 MB compressed
    path = os.pathsep.join([str(REPO / "tests"), str(REPO), str(REPO / "backends")])
    extra = []
    for _ in ("write", "read"):
        done = subprocess.run(
            [sys.executable, "-c", PEAK, tmp_path.as_uri(), str(n)],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONPATH": path},
        )
        extra.append(int(done.stdout.strip()))
    stored = max(p.stat().st_size for p in tmp_path.rglob("*") if p.is_file())
    assert stored < n * 8 // 4  # it was stored compressed
    assert extra[0] <= stored + 32 * 2**20, extra  # writing holds the compressed output
    assert extra[1] <= stored // 2, extra  # reading gives mapped pages back as it goes

"""An outside review of signed entries and the decode policy (issue 11, items 1-3): an
attacker with write access to the store (and read access to all of it) but without the
signing key, and a careful reading of the construction. Each test is a problem found.
"""

from __future__ import annotations

import json
import os
import pickle
import struct
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import xxhash

import memokey
import memokey.shims
from helpers.exploits import Exploit
from memokey.entry_format import pack_footer
from memokey.errors import MemokeyError, RemoteError, ResultCorruptedError, ShimError
from memokey.remote import INVOCATION, Invocation, encode_invocation
from memokey.results import FORMAT_VERSION, MAGIC, decode_result
from memokey.shims import ExecutorShim, subprocess_shim
from memokey.shims.base import Job, Shim
from memokey.signing import SIGNING_KEY_ENV, Signer, env_signer, key_text, parse_keys
from memokey_backends import open_store

KEY = "correct horse battery staple 42"
Location = tuple[str, dict[str, Any]]
URI = "file:///r/memokey-v2/default/m--f/00ff"


def add(a: int, b: int = 0) -> int:
    return a + b


def fails(x: int) -> int:
    raise ValueError(f"genuine failure {x}")


def result_with_header(
    extra: bytes, payload: bytes, claimed_length: int, name: bytes = b"cloudpickle"
) -> bytes:
    """An entry object (`memokey.entry_format`) built by hand, as an attacker would."""
    header = b"".join(
        [
            MAGIC,
            bytes([FORMAT_VERSION, len(name)]),
            name,
            struct.pack(">I", len(extra)),
            extra,
            struct.pack(">I", 0),  # no out-of-band buffers
        ]
    )
    trailer = b"{}"
    checksum = xxhash.xxh3_128_digest(header + payload)
    return header + payload + trailer + pack_footer(claimed_length, checksum, trailer)


# -- raw exceptions from objects an attacker planted ----------------------------------------

DEEP = b"[" * 100_000


def test_a_result_header_nested_too_deep_is_refused_as_corrupted_with_signing_on() -> None:
    planted = result_with_header(DEEP, b"x", claimed_length=5)
    with pytest.raises(ResultCorruptedError):
        decode_result(planted, URI, signer=Signer(parse_keys(KEY)))


def test_a_memoized_call_meeting_a_too_deeply_nested_header_raises_a_memokey_error(
    tmp_path: Path,
) -> None:
    f = memokey.memoize(str(tmp_path), signing_key=KEY)(add)
    result = Path(f.key_for(1).uri.removeprefix("file://"))
    result.parent.mkdir(parents=True)
    result.write_bytes(result_with_header(DEEP, b"x", claimed_length=5))
    with pytest.raises(ResultCorruptedError, match="memokey rm"):
        f(1)


def _record(**fields: Any) -> bytes:
    body = {"format": 1, "type": "builtins.ValueError", "message": "m", "traceback": "t"}
    body.update(fields)
    return json.dumps(body).encode()


@pytest.mark.parametrize(
    "planted",
    [
        b"[]",
        b'"just a string"',
        DEEP,
        _record(pid=1.5e300).replace(b"1.5e+300", b"1e400"),  # JSON's infinity
        _record(at=10**400),
        _record(pickled=["not", "base64"]),
    ],
    ids=["list", "string", "deeply nested", "infinite pid", "huge time", "pickled not text"],
)
def test_a_malformed_error_record_is_a_remote_error_not_a_raw_python_error(
    planted: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(SIGNING_KEY_ENV, raising=False)
    f = memokey.memoize(
        "memory://review-error-records",
        serializer="json",
        allow_pickle=False,  # a shared bucket the user does not fully trust
        cache_errors=True,
    )(fails)
    store = open_store("memory://review-error-records")
    store.write(f.key_for(1).path + ".error", planted)
    with pytest.raises(RemoteError, match="unreadable"):
        f(1)


# -- keys that cannot travel to a child process ---------------------------------------------


@pytest.mark.parametrize(
    "key",
    [b"\x00" * 31 + b"k", "a text key with a \x00 inside it"],
    ids=["binary", "text"],
)
def test_a_key_with_nul_bytes_survives_the_trip_through_a_child_environment(
    key: str | bytes,
) -> None:
    (raw,) = parse_keys([key])
    text = key_text(raw)
    assert "\x00" not in text  # an environment variable cannot hold one
    assert parse_keys(text) == (raw,)


@pytest.mark.slow
def test_a_binary_key_with_nul_bytes_signs_a_subprocess_run(
    file_root: Location, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(SIGNING_KEY_ENV, raising=False)
    url, _ = file_root
    f = memokey.memoize(url, shim=subprocess_shim, signing_key=b"\x00" * 31 + b"k")(add)
    assert f(20, 22) == 42


def test_a_non_utf8_key_in_the_environment_is_used_as_its_bytes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    raw = b"\xff\xfe binary key from a shell \xfa"
    monkeypatch.setenv(SIGNING_KEY_ENV, os.fsdecode(raw))
    assert env_signer() == Signer((raw,))


# -- the environment, read through a shortcut ---------------------------------------------


def test_a_replaced_os_environ_is_what_the_signing_key_is_read_from(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(SIGNING_KEY_ENV, raising=False)
    monkeypatch.setattr(os, "environ", {**os.environ, SIGNING_KEY_ENV: KEY})
    assert env_signer() == Signer(parse_keys(KEY))


# -- workers that cannot verify ------------------------------------------------------------


class RacingAttacker(Shim):
    """Overwrites the caller's signed invocation with a pickle that runs code, then lets
    `inner` run it: an attacker watching the bucket who is faster than the worker."""

    runs_elsewhere = True

    def __init__(self, inner: Shim, location: Location, marker: Path) -> None:
        self.inner = inner
        self.location = location
        self.marker = marker

    def start(self, job: Job) -> Future[Any]:
        _url, options = self.location
        parent, _, entry = job.memo_uri.rpartition("/")
        store = open_store(parent, **options)
        planted = Invocation(func=eval, args=(), kwargs={})
        planted.args = (Exploit(self.marker),)  # type: ignore[assignment]
        store.write(f"{entry}.{INVOCATION}", pickle.dumps(planted))
        return self.inner.start(job)


def test_a_worker_without_the_key_refuses_a_signed_callers_invocation_and_runs_nothing(
    file_root: Location, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(SIGNING_KEY_ENV, raising=False)
    url, _ = file_root
    marker = tmp_path / "ran"
    with ThreadPoolExecutor(1) as pool:  # runs `execute` here, without the explicit key
        shim = RacingAttacker(ExecutorShim(pool, runs_elsewhere=True), file_root, marker)
        f = memokey.memoize(url, shim=shim, signing_key=KEY)(add)
        with pytest.raises(ShimError, match=f"set {SIGNING_KEY_ENV} in the workers'"):
            f(1, 1)
    assert not marker.exists()


def test_an_unsigned_callers_invocation_still_runs_on_a_worker_without_a_key(
    file_root: Location, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(SIGNING_KEY_ENV, raising=False)
    url, _ = file_root
    with ThreadPoolExecutor(1) as pool:
        f = memokey.memoize(url, shim=ExecutorShim(pool, runs_elsewhere=True))(add)
        assert f(2, 3) == 5


# -- the key itself ------------------------------------------------------------------------


def test_a_signer_refuses_to_be_pickled_so_its_key_cannot_reach_the_store() -> None:
    signer = Signer(parse_keys(KEY))
    with pytest.raises(MemokeyError, match=SIGNING_KEY_ENV):
        pickle.dumps(signer)
    with pytest.raises(MemokeyError):
        encode_invocation(Invocation(func=add, args=(signer,), kwargs={}))


RAN: list[int] = []


def recorded(x: int) -> int:
    RAN.append(x)
    return x


@pytest.mark.slow
def test_dask_workers_without_the_key_refuse_a_signed_callers_call(
    file_root: Location, monkeypatch: pytest.MonkeyPatch
) -> None:
    distributed = pytest.importorskip("distributed")
    monkeypatch.delenv(SIGNING_KEY_ENV, raising=False)
    url, _ = file_root
    RAN.clear()
    with (
        distributed.LocalCluster(
            n_workers=1, processes=False, dashboard_address=None, worker_dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        f = memokey.memoize(url, shim=memokey.shims.DaskShim(client), signing_key=KEY)(recorded)
        with pytest.raises(ShimError, match=f"set {SIGNING_KEY_ENV} in the workers'"):
            f(7)
    assert RAN == []


# -- formats that cannot run code ----------------------------------------------------------


def test_a_planted_npz_archive_is_refused_not_returned_as_an_archive() -> None:
    np = pytest.importorskip("numpy")
    import io

    out = io.BytesIO()
    np.savez(out, a=np.arange(3))
    planted = _result_named(b"numpy", out.getvalue())
    with pytest.raises(memokey.SerializationError, match="could not be deserialized"):
        decode_result(planted, URI, allow_pickle=False)


def _result_named(name: bytes, payload: bytes) -> bytes:
    return result_with_header(b"", payload, len(payload), name)


DECODE_IN_A_CHILD = """
import sys
import memokey
from memokey.results import decode_result
try:
    table = decode_result(open(sys.argv[1], "rb").read(), sys.argv[2], allow_pickle=False)
except memokey.SerializationError:
    print("refused")
else:
    print("returned", table.to_pylist())
"""


def test_a_planted_arrow_stream_with_out_of_range_offsets_is_refused_not_read_out_of_bounds(
    tmp_path: Path,
) -> None:
    pa = pytest.importorskip("pyarrow")
    import subprocess
    import sys

    from memokey.safe_formats import arrow_dumps

    stream = arrow_dumps(pa.table({"s": ["ab", "cd"]}))
    offsets = struct.pack("<3i", 0, 2, 4)
    assert stream.count(offsets) == 1
    planted = tmp_path / "result"
    planted.write_bytes(
        _result_named(b"arrow", stream.replace(offsets, struct.pack("<3i", 0, 2, 1 << 30)))
    )
    child = subprocess.run(  # reading the planted table crashed the whole process
        [sys.executable, "-c", DECODE_IN_A_CHILD, str(planted), URI],
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (child.returncode, child.stdout.strip()) == (0, "refused"), child.stderr[-2000:]


def test_memokey_show_of_a_planted_deeply_nested_metadata_trailer_says_it_is_not_valid(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from memokey.cli import main

    f = memokey.memoize(str(tmp_path))(add)
    entry = Path(f.key_for(1).uri.removeprefix("file://"))
    nested = b'{"a":' * 100_000 + b"1" + b"}" * 100_000
    header = MAGIC + bytes([FORMAT_VERSION, 11]) + b"cloudpickle" + struct.pack(">II", 0, 0)
    payload = pickle.dumps(2)
    checksum = xxhash.xxh3_128_digest(header + payload)
    entry.parent.mkdir(parents=True)
    entry.write_bytes(header + payload + nested + pack_footer(len(payload), checksum, nested))
    assert main(["show", f.key_for(1).uri]) == 1
    assert "nested too deeply" in capsys.readouterr().err


# -- a shared disk: what sits where a result should be -------------------------------------


@pytest.mark.timeout(60)
def test_a_fifo_planted_as_a_result_on_a_shared_disk_is_refused_not_waited_on(
    tmp_path: Path,
) -> None:
    f = memokey.memoize(str(tmp_path), signing_key=KEY)(add)
    result = Path(f.key_for(1).uri.removeprefix("file://"))
    result.parent.mkdir(parents=True)
    os.mkfifo(result)  # reading it blocks until someone writes: forever
    with pytest.raises(memokey.MemokeyError, match="not a regular file"):
        f(1)


def test_a_symlink_planted_as_a_result_is_refused_not_followed(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"  # e.g. /dev/zero: reading it never ends
    elsewhere.write_bytes(memokey.results.encode_result(666))
    f = memokey.memoize(str(tmp_path / "root"))(add)
    result = Path(f.key_for(1).uri.removeprefix("file://"))
    result.parent.mkdir(parents=True)
    result.symlink_to(elsewhere)
    with pytest.raises(memokey.MemokeyError, match="not a regular file"):
        f(1)


@pytest.mark.timeout(60)
def test_a_fifo_planted_as_a_lease_on_a_shared_disk_is_never_opened(
    tmp_path: Path,
) -> None:
    # Local roots take kernel byte-range locks, not lease files: nothing reads it.
    f = memokey.memoize(str(tmp_path), signing_key=KEY)(add)
    entry = Path(f.key_for(1).uri.removeprefix("file://"))
    entry.parent.mkdir(parents=True)
    os.mkfifo(f"{entry}.lease")
    assert f(1) == 1


@pytest.mark.parametrize(
    "planted",
    [
        DEEP,
        b'{"owner":"o","host":"h","pid":1e400,"acquired_at":0,"heartbeat":0,'
        b'"expires_at":0,"lease_seconds":1}',
    ],
    ids=["deeply nested", "infinite pid"],
)
def test_a_malformed_planted_lease_is_treated_as_stale_not_a_raw_python_error(
    planted: bytes, tmp_path: Path
) -> None:
    f = memokey.memoize(str(tmp_path), signing_key=KEY)(add)
    entry = Path(f.key_for(1).uri.removeprefix("file://"))
    entry.parent.mkdir(parents=True)
    Path(f"{entry}.lease").write_bytes(planted)
    assert f(1) == 1


# -- what a subprocess child does with the caller's explicit key ---------------------------


@memokey.memoize  # no key of its own: unsigned, in the caller as in any child
def inner_doubled(x: int) -> int:
    return 2 * x


@memokey.memoize(shim=subprocess_shim, signing_key=KEY)
def outer_plus_one(x: int) -> int:
    return inner_doubled(x) + 1


@pytest.mark.slow
def test_an_explicit_key_signs_only_the_remote_call_not_the_childs_other_memoized_calls(
    file_root: Location, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(SIGNING_KEY_ENV, raising=False)
    url, _ = file_root
    with memokey.root(url):
        assert inner_doubled(20) == 40  # stored unsigned, as this function always does
        assert outer_plus_one(20) == 41  # locally it would read that; so must the child

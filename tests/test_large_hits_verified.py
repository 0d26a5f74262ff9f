"""Large local hits and verification records (`memokey.verified`).

A memory-mapped local hit does not re-read bytes that were verified before and have not
changed since; anything that changes the file (a byte flipped in place, with or without
its mtime put back; a replaced file; a record planted, forged or left by another entry)
makes the next hit verify every byte, so a corrupt result is still never returned.
Each hit runs in a fresh process; whether it read the payload is seen in how much of
the entry's map it brought into memory (/proc/self/smaps), never in a timing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import memokey
from helpers.mapped_hits import ramp
from memokey import usage, verified
from memokey.entry_format import parse
from memokey.errors import ConfigurationError, ResultCorruptedError
from memokey.signing import Signer, parse_keys, place_of

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/smaps").exists() or os.name != "posix",
    reason="needs Linux /proc/self/smaps and POSIX files",
)

N = 1 << 21  # 16 MiB of float64: memory-mapped on a hit
PAYLOAD = N * 8
SKIPPED = 2 << 20  # a hit that skips the byte check maps in a few pages, far below this
KEY = "a signing key of at least sixteen bytes"
OTHER_KEY = "another signing key, also long enough"
REFUSED = ("ResultCorruptedError", "SignatureError")  # a torn signed entry: the former


def _hit(root: str, *, key: str | None = None, **env: str) -> dict[str, Any]:
    """Hit ``ramp(N)`` in a fresh process; what it mapped in, and whether it was right."""
    environ = {
        k: v for k, v in os.environ.items() if k not in ("MEMOKEY_SIGNING_KEY", "MEMOKEY_VERIFY")
    }
    environ.update(env, PYTHONPATH=os.pathsep.join(sys.path))
    if key is not None:
        environ["MEMOKEY_SIGNING_KEY"] = key
    done = subprocess.run(
        [sys.executable, "-m", "helpers.mapped_hits", root, str(N)],
        capture_output=True,
        text=True,
        check=True,
        env=environ,
    )
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return result


def _skipped(result: dict[str, Any]) -> bool:
    assert result["error"] is None, result
    assert result["correct"], result
    return int(result["mapped"]) < SKIPPED


def _verified_in_full(result: dict[str, Any]) -> bool:
    assert result["error"] is None, result
    assert result["correct"], result
    return int(result["mapped"]) >= PAYLOAD


def _recorded(entry: Path, key: str | None) -> bool:
    """Whether a record vouching for `entry` as it is now (read with `key`) is in place."""
    signer = None if key is None else Signer(parse_keys(key))
    signature = b"" if key is None else entry.read_bytes()[-64:]
    place = place_of(f"file://{entry}")
    expected = verified._record(place, signature, entry.stat(), signer)
    records = entry.parent / verified.RECORDS_FILE
    if not records.exists():
        return False
    with open(records, "rb") as f:
        f.seek(verified._offset(place))
        return f.read(verified.SLOT) == expected


def _publish(tmp_path: Path, key: str | None = None) -> tuple[str, Path]:
    """A large entry written by this process, with a record vouching for it: the
    writer's own where change times are fine-grained, else (the writer does not vouch
    there) that of a first fresh-process hit, which verifies it in full."""
    root = f"file://{tmp_path}"
    f = memokey.memoize(root, signing_key=key)(ramp)
    f(N)
    entry = Path(f.key_for(N).uri.removeprefix("file://"))
    if not _recorded(entry, key):
        assert _verified_in_full(_hit(root, key=key))
    assert _recorded(entry, key)
    return root, entry


def _fine_grained_here(directory: Path) -> bool:
    probe = directory / "probe"
    fd = os.open(probe, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        return verified._fine_grained(fd)
    finally:
        os.close(fd)
        probe.unlink()


@pytest.mark.parametrize("key", [None, KEY], ids=["unsigned", "signed"])
def test_the_writer_vouches_for_what_it_published_where_change_times_are_fine_grained(
    tmp_path: Path, key: str | None
) -> None:
    if not _fine_grained_here(tmp_path):
        pytest.skip("coarse change times here: a first reader verifies, then vouches")
    f = memokey.memoize(f"file://{tmp_path}", signing_key=key)(ramp)
    f(N)
    assert _recorded(Path(f.key_for(N).uri.removeprefix("file://")), key)


def _flip_in_place(entry: Path, *, signed: bool, restore_mtime: bool) -> None:
    """One payload byte changed in the file itself (same inode), optionally with its
    access and modification times put back as they were."""
    before = entry.stat()
    layout = parse(entry.read_bytes(), "x", prefer_signed=signed)
    (_stream, _), (offset, _length) = layout.parts
    with open(entry, "r+b") as f:
        f.seek(offset + 4096)
        byte = f.read(1)
        f.seek(offset + 4096)
        f.write(bytes([byte[0] ^ 0xFF]))
    if restore_mtime:
        os.utime(entry, ns=(before.st_atime_ns, before.st_mtime_ns))
        assert entry.stat().st_mtime_ns == before.st_mtime_ns


def _plant(entry: Path, signer: Signer | None, *, for_entry: Path | None = None) -> None:
    """Write the record a reader holding `signer` would accept for `entry` as it is now
    (an attacker's forgery when `signer` is theirs), into `for_entry`'s slot if given."""
    uri = f"file://{entry}"
    signature = b"" if signer is None else entry.read_bytes()[-64:]
    record = verified._record(place_of(uri), signature, entry.stat(), signer)
    slot_of = place_of(f"file://{for_entry or entry}")
    with open(entry.parent / verified.RECORDS_FILE, "r+b") as f:
        f.seek(verified._offset(slot_of))
        f.write(record)


@pytest.mark.slow
@pytest.mark.parametrize("key", [None, KEY], ids=["unsigned", "signed"])
def test_a_second_process_hit_of_a_large_entry_does_not_read_its_payload(
    tmp_path: Path, key: str | None
) -> None:
    root, _entry = _publish(tmp_path, key)
    assert _skipped(_hit(root, key=key))
    assert _skipped(_hit(root, key=key))


@pytest.mark.slow
def test_memokey_verify_always_reads_every_byte_of_every_large_hit(tmp_path: Path) -> None:
    root, _entry = _publish(tmp_path)
    assert _verified_in_full(_hit(root, MEMOKEY_VERIFY="always"))
    assert _verified_in_full(_hit(root, MEMOKEY_VERIFY="always"))
    assert _skipped(_hit(root, MEMOKEY_VERIFY="auto"))


@pytest.mark.slow
def test_an_entry_without_a_record_is_verified_in_full_once_then_vouched_for(
    tmp_path: Path,
) -> None:
    root, entry = _publish(tmp_path)
    (entry.parent / verified.RECORDS_FILE).unlink()
    assert _verified_in_full(_hit(root))
    assert _skipped(_hit(root))


@pytest.mark.slow
@pytest.mark.parametrize("restore_mtime", [False, True], ids=["mtime-changed", "mtime-restored"])
@pytest.mark.parametrize("key", [None, KEY], ids=["unsigned", "signed"])
def test_a_payload_byte_flipped_in_place_is_reported_never_returned(
    tmp_path: Path, key: str | None, restore_mtime: bool
) -> None:
    root, entry = _publish(tmp_path, key)
    assert _skipped(_hit(root, key=key))  # the record vouches for the file as written
    _flip_in_place(entry, signed=key is not None, restore_mtime=restore_mtime)
    assert _hit(root, key=key)["error"] in REFUSED
    assert _hit(root, key=key)["error"] in REFUSED  # and stays reported


@pytest.mark.slow
def test_an_unsigned_record_planted_for_the_unchanged_file_changes_nothing(
    tmp_path: Path,
) -> None:
    root, entry = _publish(tmp_path)
    (entry.parent / verified.RECORDS_FILE).write_bytes(b"")
    _plant(entry, None)
    assert _skipped(_hit(root))  # it says what is true: the value is the one written


@pytest.mark.slow
def test_an_unsigned_record_planted_before_a_change_no_longer_vouches(tmp_path: Path) -> None:
    root, entry = _publish(tmp_path)
    _plant(entry, None)
    _flip_in_place(entry, signed=False, restore_mtime=True)
    assert _hit(root)["error"] == "ResultCorruptedError"


@pytest.mark.slow
@pytest.mark.parametrize("forger", [None, OTHER_KEY], ids=["checksum-record", "other-key"])
def test_a_record_forged_without_the_signing_key_is_refused(
    tmp_path: Path, forger: str | None
) -> None:
    root, entry = _publish(tmp_path, KEY)
    _flip_in_place(entry, signed=True, restore_mtime=True)
    signer = None if forger is None else Signer(parse_keys(forger))
    _plant(entry, signer)  # vouches for the tampered file, but not with KEY
    assert _hit(root, key=KEY)["error"] in REFUSED


@pytest.mark.slow
def test_a_forged_record_for_an_intact_signed_entry_only_costs_a_full_verification(
    tmp_path: Path,
) -> None:
    root, entry = _publish(tmp_path, KEY)
    _plant(entry, Signer(parse_keys(OTHER_KEY)))
    assert _verified_in_full(_hit(root, key=KEY))
    assert _skipped(_hit(root, key=KEY))


@pytest.mark.slow
def test_a_record_of_another_entry_in_the_same_slot_falls_back_to_full_verification(
    tmp_path: Path,
) -> None:
    root = f"file://{tmp_path}"
    f = memokey.memoize(root)(ramp)
    f(N), f(N + 1)  # two large entries in one function directory, both recorded
    entry = Path(f.key_for(N).uri.removeprefix("file://"))
    other = Path(f.key_for(N + 1).uri.removeprefix("file://"))
    _plant(other, None, for_entry=entry)  # the other entry's (valid) record in our slot
    assert _verified_in_full(_hit(root))
    assert _skipped(_hit(root))


@pytest.mark.slow
def test_a_file_replaced_by_another_inode_is_verified_again(tmp_path: Path) -> None:
    root, entry = _publish(tmp_path)
    assert _skipped(_hit(root))
    before = entry.stat()
    data = bytearray(entry.read_bytes())
    (_stream, _), (offset, _length) = parse(bytes(data), "x").parts
    data[offset + 8] ^= 0xFF
    copy = entry.with_name("copy")
    copy.write_bytes(bytes(data))
    os.utime(copy, ns=(before.st_atime_ns, before.st_mtime_ns))
    os.replace(copy, entry)  # same name, size and mtime; another inode
    assert _hit(root)["error"] == "ResultCorruptedError"


@pytest.mark.slow
def test_a_record_stops_vouching_when_the_key_that_signed_the_entry_is_removed(
    tmp_path: Path,
) -> None:
    root, _entry = _publish(tmp_path, OTHER_KEY)  # signed with the old key
    rotated = f"{KEY},{OTHER_KEY}"  # the new key signs, the old one still verifies
    assert _verified_in_full(_hit(root, key=rotated))
    assert _skipped(_hit(root, key=rotated))  # recorded under the new key
    assert _hit(root, key=KEY)["error"] == "SignatureError"  # the old key is gone


@pytest.mark.slow
def test_use_tracking_does_not_make_every_new_process_verify_again(tmp_path: Path) -> None:
    root, _entry = _publish(tmp_path)
    assert _skipped(_hit(root, MEMOKEY_TRACK_USE="1"))  # marks its use in the background
    assert _skipped(_hit(root, MEMOKEY_TRACK_USE="1"))
    assert _skipped(_hit(root, MEMOKEY_TRACK_USE="1"))


def test_a_large_entry_unused_for_a_day_is_still_marked_used(tmp_path: Path) -> None:
    from memokey_backends import open_store

    root, entry = _publish(tmp_path)
    status = entry.stat()
    two_days_ago = status.st_atime_ns - 2 * 86_400 * 10**9
    os.utime(entry, ns=(two_days_ago, status.st_mtime_ns))
    store = open_store(root)
    relative = str(entry.relative_to(tmp_path))
    usage._mark(store, relative)
    assert entry.stat().st_atime_ns > two_days_ago
    assert entry.stat().st_mtime_ns == status.st_mtime_ns


def test_large_entries_can_be_changed_in_place_by_their_owner_only(tmp_path: Path) -> None:
    old = os.umask(0o002)  # a shared-group setup: new files group-writable
    try:
        _root, entry = _publish(tmp_path)
    finally:
        os.umask(old)
    assert entry.stat().st_mode & 0o022 == 0


def test_a_bad_memokey_verify_value_is_refused_naming_the_choices(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, _entry = _publish(tmp_path)
    monkeypatch.setenv("MEMOKEY_VERIFY", "sometimes")
    with pytest.raises(ConfigurationError, match="'always'"):
        memokey.memoize(root)(ramp)
    monkeypatch.setenv("MEMOKEY_VERIFY", "auto")
    g = memokey.memoize(root, namespace="other")(ramp)
    g(N)
    monkeypatch.setenv("MEMOKEY_VERIFY", "never")  # set after decoration: the hit says so
    with pytest.raises(ConfigurationError, match="MEMOKEY_VERIFY"):
        g(N)


def test_in_one_process_a_flipped_byte_is_reported_after_a_vouched_hit(tmp_path: Path) -> None:
    root, entry = _publish(tmp_path)
    f = memokey.memoize(root)(ramp)
    assert np.array_equal(f(N), ramp(N))  # vouched for by the writer's record
    _flip_in_place(entry, signed=False, restore_mtime=True)
    with pytest.raises(ResultCorruptedError):
        f(N)


def test_records_are_kept_only_on_file_systems_whose_change_time_moves_on_every_write(
    tmp_path: Path,
) -> None:
    assert verified._filesystem_magic(str(tmp_path)) is not None  # statfs answers on Linux
    for elsewhere in ("/proc/self/stat", "/sys/kernel"):  # procfs, sysfs: not on the list
        if Path(elsewhere).exists():
            assert not verified._local_timestamps(elsewhere, os.stat(elsewhere).st_dev)
    ours = verified._filesystem_magic(str(tmp_path)) in verified._LOCAL_FILESYSTEMS
    assert verified._local_timestamps(str(tmp_path), tmp_path.stat().st_dev) is ours


def test_on_a_file_system_not_known_to_move_change_times_nothing_is_vouched_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """vfat reports the creation time as ctime; FUSE or SMB mounts may keep ctime on a
    write: there a record could vouch for a rewritten file, so none is written."""
    monkeypatch.setattr(verified, "_LOCAL_FILESYSTEMS", frozenset())
    monkeypatch.setattr(verified, "_FILESYSTEM_OK", {})
    f = memokey.memoize(f"file://{tmp_path}")(ramp)
    f(N)  # the writer
    np.testing.assert_array_equal(f(N), ramp(N))  # a hit, verified in full
    entry = Path(f.key_for(N).uri.removeprefix("file://"))
    assert not _recorded(entry, None)
    monkeypatch.setattr(verified, "_FILESYSTEM_OK", {})
    monkeypatch.undo()
    f(N)  # the same hit where the file system is known: it verifies, then vouches
    assert _recorded(entry, None) or not _fine_grained_here(tmp_path)

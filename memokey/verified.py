"""Verification records: a large local hit skips re-reading bytes already verified.

A memory-mapped local hit (an entry of 8 MiB or more, `memokey_backends.MAP_FROM`) would
otherwise read every byte to check its checksum (or signature) before returning: ~0.1-0.3 s
for 1 GiB, where the map alone takes microseconds. So once an entry's bytes have been
verified, a *record* says so, and later readers skip the byte check while the file is
provably the one that was verified. The structural checks (header, footer, lengths,
serializer, allow_pickle, an unsigned object under a key) always run.

Records live in one file per function directory, ``.memokey-verified``, one fixed
128-byte slot per entry at an offset derived from the entry's place (a sparse file: an
unused slot costs no disk). A slot holds a tag of the entry's place (namespace, function,
digest) and signature trailer, the entry file's st_dev, st_ino, st_size, st_mtime_ns and
st_ctime_ns, and an authenticator: without a signing key a checksum of the record (a torn
or stale slot never matches); with one, an HMAC under a key derived from the signing key,
so someone who can write the directory but lacks the key cannot forge one. Two entries
sharing a slot overwrite each other's record: the loser is verified in full again.

A reader fstat()s the very descriptor it mapped (no gap between the stat and the map),
reads its slot (one pread) and compares it byte for byte with the record it would write
itself. Any write, truncate, utime, chmod, link or rename-over changes the file's ctime,
which no unprivileged process can set back (a replaced file has another inode and a new
ctime). Records are written:

- by the writer, right after publishing (it checksummed the bytes it wrote): its status
  taken on its own descriptor after the link, and only for files nobody but their owner
  may write (`memokey_backends._local.OWNER_WRITES`; a filesystem that ignores
  permissions shows group/other write bits, and then the first reader verifies) on a
  filesystem with fine-grained change times (`_fine_grained`; else the first reader
  verifies);
- by a reader, after a full verification succeeded, and only when the file's timestamps
  are older than the filesystem's clock read before the verification started (`clock`,
  from the records file itself: same filesystem, same clock, same granularity). A change
  made in the same clock tick as the file's last one would leave its timestamps as they
  were; requiring them to be older than "now" means any later change shows, and a change
  before "now" was in the bytes the verification read. This is git's "racy clean" rule.

What a record cannot see: bytes that change without a write (silent media corruption
after the first verification), and root setting the clock back. ``MEMOKEY_VERIFY=always``
verifies every read instead (see README, Storage layout, and SECURITY.md). Nothing here
ever fails a call: an unreadable or unwritable records file means a full verification.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import stat
import struct
from collections.abc import Callable

import xxhash

from memokey.errors import ConfigurationError
from memokey.signing import Signer, env_value
from memokey_backends.mapped import MappedFile, PublishedFile

__all__ = [
    "RECORDS_FILE",
    "VERIFY_ENV",
    "check_mode",
    "clock",
    "record_published",
    "remember",
    "vouched",
]

VERIFY_ENV = "MEMOKEY_VERIFY"
RECORDS_FILE = ".memokey-verified"
SLOT = 128
SLOTS = 1 << 16  # 8 MiB of address space per function directory, sparse
_BODY = struct.Struct(">4sB3x16sQQQqq")
_MAGIC = b"MKV\x01"
_CHECKSUM, _HMAC = 1, 2
_RECORD_LABEL = b"verification-record-v1"
_FLAGS = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0)
_AVAILABLE = os.name == "posix" and hasattr(os, "pread") and os.utime in os.supports_fd
"""Records need POSIX positioned I/O and futimens; elsewhere every hit verifies in full."""
_MODES = ("auto", "always")


def check_mode(raw: str | None) -> bool:
    """Whether `raw` (a ``MEMOKEY_VERIFY`` value) asks to verify every read; raises
    `ConfigurationError` for a value that is not ``auto`` or ``always``."""
    value = (raw or "auto").strip().lower()
    if value not in _MODES:
        raise ConfigurationError(
            f"{VERIFY_ENV}={raw!r} is not understood; set it to 'always' (verify every "
            "byte of every large local hit) or 'auto' (the default: skip bytes a "
            "verification record vouches for), or unset it"
        )
    return value == "always"


def _records(os_path: str) -> str:
    return os.path.join(os.path.dirname(os_path), RECORDS_FILE)


def _record(place: str, signature: bytes, status: os.stat_result, signer: Signer | None) -> bytes:
    """The slot's bytes for an entry at `place` (with its signature trailer) whose file
    has `status`, as this reader or writer would write it."""
    tag = hashlib.blake2b(place.encode() + b"\0" + signature, digest_size=16).digest()
    body = _BODY.pack(
        _MAGIC,
        _CHECKSUM if signer is None else _HMAC,
        tag,
        status.st_dev,
        status.st_ino,
        status.st_size,
        status.st_mtime_ns,
        status.st_ctime_ns,
    )
    if signer is None:
        auth = xxhash.xxh3_128_digest(body) + bytes(16)
    else:
        auth = hmac.digest(signer.derived_key(_RECORD_LABEL), body, "sha256")
    return (body + auth).ljust(SLOT, b"\0")


def _offset(place: str) -> int:
    slot = hashlib.blake2b(place.encode(), digest_size=4).digest()
    return int.from_bytes(slot, "big") % SLOTS * SLOT


def _signed_by_known_key(signature: bytes, signer: Signer | None) -> bool:
    """A signed reader trusts a record only for an entry signed with a key it still has
    (a key removed from its list must stop vouching for what it signed)."""
    return signer is None or (len(signature) >= 16 and signer.knows(signature[8:16]))


def vouched(mapped: MappedFile, place: str, signature: bytes, signer: Signer | None) -> bool:
    """Whether a valid record says the bytes of `mapped` were verified and the file has
    not changed since; False means "verify in full" (also under ``MEMOKEY_VERIFY=always``)."""
    if check_mode(env_value(VERIFY_ENV)) or not _AVAILABLE:
        return False
    if not _signed_by_known_key(signature, signer):
        return False
    try:
        fd = os.open(_records(mapped.os_path), os.O_RDONLY | _FLAGS)
    except OSError:
        return False
    try:
        found = os.pread(fd, SLOT, _offset(place))
    except OSError:
        return False
    finally:
        os.close(fd)
    return hmac.compare_digest(found, _record(place, signature, mapped.status, signer))


def clock(mapped: MappedFile) -> int | None:
    """The filesystem's clock now (ns), read BEFORE a full verification of `mapped`
    starts, by touching its records file; None when records are off or cannot be kept
    here (a read-only directory): then nothing is remembered."""
    if check_mode(env_value(VERIFY_ENV)) or not _AVAILABLE:
        return None
    try:
        fd = os.open(_records(mapped.os_path), os.O_RDWR | os.O_CREAT | _FLAGS, 0o666)
    except OSError:
        return None
    try:
        os.utime(fd)  # now, as this filesystem stamps it
        status = os.fstat(fd)
    except OSError:
        return None
    finally:
        os.close(fd)
    return status.st_mtime_ns if stat.S_ISREG(status.st_mode) else None


def remember(
    mapped: MappedFile, place: str, signature: bytes, signer: Signer | None, now: int
) -> None:
    """Record that `mapped` was verified in full, if it is settled: unchanged since it
    was mapped and last changed before `now` (`clock`, read before verifying)."""
    seen = mapped.status
    try:
        current = os.lstat(mapped.os_path)
    except OSError:
        return
    if _identity(current) != _identity(seen):
        return  # changed (or replaced) while it was being verified
    if seen.st_ctime_ns >= now or seen.st_mtime_ns >= now:
        return  # changed in the current tick: a further change might not show
    _write(mapped.os_path, place, _record(place, signature, seen, signer))


def record_published(
    published: PublishedFile, place: str, signature: bytes, signer: Signer | None
) -> None:
    """The writer's record: the bytes it just published are the ones it checksummed
    (or signed). Only for a file nobody but its owner can change in place, on a
    filesystem whose change times are fine-grained (`_fine_grained`)."""
    status = published.status
    if not _AVAILABLE or status.st_mode & 0o022 or not stat.S_ISREG(status.st_mode):
        return
    try:
        if check_mode(env_value(VERIFY_ENV)):
            return
    except ConfigurationError:
        return  # the reader reports it
    _write(published.os_path, place, _record(place, signature, status, signer), _fine_grained)


def _fine_grained(fd: int) -> bool:
    """Whether changes made right after one another on this filesystem get distinct
    timestamps (fine-grained or multigrain timestamps: Linux 6.13+ on ext4, xfs, btrfs,
    tmpfs). Only then does every change after the writer's fstat show in the file's
    ctime; with coarse timestamps a change within the same clock tick would not, and the
    writer does not vouch (the first reader verifies in full, under `remember`'s rule).
    Three stamps in a row must all differ: one tick boundary between two of them is
    possible on a coarse clock, two within microseconds are not."""
    stamps = []
    for _ in range(3):
        os.utime(fd)
        stamps.append(os.fstat(fd).st_mtime_ns)
    return stamps[0] < stamps[1] < stamps[2]


def _identity(status: os.stat_result) -> tuple[int, ...]:
    return (
        status.st_dev,
        status.st_ino,
        status.st_size,
        status.st_mtime_ns,
        status.st_ctime_ns,
        status.st_mode,
    )


def _write(
    os_path: str, place: str, record: bytes, check: Callable[[int], bool] | None = None
) -> None:
    """Put `record` in its slot (if `check`, given the records file, allows it)."""
    try:
        fd = os.open(_records(os_path), os.O_RDWR | os.O_CREAT | _FLAGS, 0o666)
    except OSError:
        return
    try:
        if stat.S_ISREG(os.fstat(fd).st_mode) and (check is None or check(fd)):
            os.pwrite(fd, record, _offset(place))
    except OSError:
        pass  # a full disk or a planted file: the next reader verifies in full
    finally:
        os.close(fd)

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
ctime). A record is neither written nor trusted while anyone holds the file open for writing
(`_unwritten`, a Linux read lease probe): a writable shared map changes bytes without
changing timestamps once a page is dirty. Records are written:

- by the writer, right after publishing, once the published file passes the reader's
  byte check (the checksum was taken over the value's memory, which another thread may
  have changed before the write; ~75 ms per GiB from the page cache): its status
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

import ctypes
import hashlib
import hmac
import os
import signal
import stat
import struct
import sys
from collections.abc import Callable

import xxhash

from memokey.errors import ConfigurationError
from memokey.signing import Signer, env_value
from memokey_backends.mapped import MappedFile, PublishedFile

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "RECORDS_FILE",
    "VERIFY_ENV",
    "check_mode",
    "clock",
    "record_published",
    "remember",
    "unchanged",
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
_SETLEASE: int | None = getattr(fcntl, "F_SETLEASE", None)
_SETSIG: int = getattr(fcntl, "F_SETSIG", 10)
_LOCAL_FILESYSTEMS = frozenset(
    {
        0xEF53,  # ext2, ext3, ext4
        0x58465342,  # xfs
        0x9123683E,  # btrfs
        0x01021994,  # tmpfs
        0xF2F52010,  # f2fs
        0x2FC12FC1,  # zfs
        0xCA451A4E,  # bcachefs
        0x794C7630,  # overlayfs (containers): a write copies the file up, a new ctime
    }
)
"""File systems whose ctime changes on every write to a file (`_local_timestamps`)."""


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
    if not hmac.compare_digest(found, _record(place, signature, mapped.status, signer)):
        return False
    return _unwritten(mapped.os_path, mapped.status)


def clock(mapped: MappedFile) -> int | None:
    """The filesystem's clock now (ns), read BEFORE a full verification of `mapped`
    starts, by touching its records file; None when records are off or cannot be kept
    here (a read-only directory), or when someone holds the file open for writing
    (`_unwritten`): then nothing is remembered."""
    if check_mode(env_value(VERIFY_ENV)) or not _AVAILABLE:
        return None
    if not _unwritten(mapped.os_path, mapped.status):
        return None  # a writable shared map could change verified bytes unseen
    try:
        fd = os.open(_records(mapped.os_path), os.O_RDWR | os.O_CREAT | _FLAGS, 0o666)
    except OSError:
        return None
    try:
        if not _own_file(os.fstat(fd)):
            return None
        os.utime(fd)  # now, as this filesystem stamps it
        return os.fstat(fd).st_mtime_ns
    except OSError:
        return None
    finally:
        os.close(fd)


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
    published: PublishedFile,
    place: str,
    signature: bytes,
    signer: Signer | None,
    intact: Callable[[], bool],
) -> None:
    """The writer's record, once `intact()` (the published file read back, unchanged
    since `published.status`) passes the check a reader would make: the checksum (or
    signature) was taken over the value's own memory, which another thread may have
    changed before it was written. Only for a file nobody but its owner can change in
    place, on a filesystem whose change times are fine-grained (`_fine_grained`)."""
    status = published.status
    if not _AVAILABLE or status.st_mode & 0o022 or not stat.S_ISREG(status.st_mode):
        return
    try:
        if check_mode(env_value(VERIFY_ENV)):
            return
    except ConfigurationError:
        return  # the reader reports it
    if not _unwritten(published.os_path, status):  # the writer's descriptor is closed
        return
    if not intact():
        return  # torn: the first reader reports it
    _write(published.os_path, place, _record(place, signature, status, signer), _fine_grained)


def _local_timestamps(os_path: str, device: int) -> bool:
    """Whether the file system holding `os_path` is a local one whose ctime changes on
    every write (`_LOCAL_FILESYSTEMS`, by statfs f_type, cached per device). vfat and exFAT
    report the creation time as ctime, and FUSE, sshfs or SMB mounts may keep ctime on a
    write: a same-size rewrite with mtime set back would then leave every recorded field
    as it was, so records are off there and each hit verifies in full."""
    known = _FILESYSTEM_OK.get(device)
    if known is None:
        known = _filesystem_magic(os_path) in _LOCAL_FILESYSTEMS
        _FILESYSTEM_OK[device] = known
    return known


def _filesystem_magic(os_path: str) -> int | None:
    """statfs(2)'s f_type for `os_path` (the file system's magic number); None if unknown."""
    if _statfs is None:
        return None
    buffer = ctypes.create_string_buffer(512)  # struct statfs is 120 bytes on 64-bit Linux
    if _statfs(os.fsencode(os_path), buffer) != 0:
        return None
    return ctypes.c_long.from_buffer(buffer).value & 0xFFFFFFFF


def _load_statfs() -> Callable[[bytes, ctypes.Array[ctypes.c_char]], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        function = ctypes.CDLL(None, use_errno=True).statfs
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    function.restype = ctypes.c_int
    return function


_statfs = _load_statfs()
_FILESYSTEM_OK: dict[int, bool] = {}


def _unwritten(os_path: str, status: os.stat_result) -> bool:
    """Whether nobody holds the file `status` describes open for writing (a Linux read
    lease is granted only then). An open for writing includes a writable shared map
    (``mmap(MAP_SHARED)``), and its writes change the file's timestamps only on the
    first write to a page since the page was last written back: later writes to that
    page change bytes and no timestamp, so a record must never vouch while one may exist.
    False where it cannot be told (no leases on this system or filesystem, or a file
    another user owns, without CAP_LEASE), and on a file system whose ctime may stay put
    across a write (`_local_timestamps`): then every hit verifies in full. Every use of
    a record asks this first, so both rules live here.

    The probe holds the lease for two system calls; an open for writing in between
    breaks it with SIGURG (ignored unless handled) rather than the default SIGIO, which
    would end the process."""
    if _SETLEASE is None or not _local_timestamps(os_path, status.st_dev):
        return False
    try:
        fd = os.open(os_path, os.O_RDONLY | _FLAGS)
    except OSError:
        return False
    try:
        now = os.fstat(fd)
        if (now.st_dev, now.st_ino) != (status.st_dev, status.st_ino):
            return False  # the path names another file now
        fcntl.fcntl(fd, _SETSIG, signal.SIGURG)
        fcntl.fcntl(fd, _SETLEASE, fcntl.F_RDLCK)  # EAGAIN: open for writing somewhere
        fcntl.fcntl(fd, _SETLEASE, fcntl.F_UNLCK)
    except OSError:
        return False
    finally:
        os.close(fd)
    return True


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


def _own_file(status: os.stat_result) -> bool:
    """Whether an opened records file may be stamped and written: a regular file with no
    other name. A FIFO or a hard link to someone's file planted under the records name
    (by anyone who can write the directory) is left alone: writing there would change a
    file that is not memokey's."""
    return stat.S_ISREG(status.st_mode) and status.st_nlink == 1


def unchanged(now: os.stat_result, then: os.stat_result) -> bool:
    """Whether two statuses describe the same file with the same content and metadata."""
    return _identity(now) == _identity(then)


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
        if _own_file(os.fstat(fd)) and (check is None or check(fd)):
            os.pwrite(fd, record, _offset(place))
    except OSError:
        pass  # a full disk or a planted file: the next reader verifies in full
    finally:
        os.close(fd)

"""Is a lease holder on this machine still running? Process identity without psutil.

A lease records its holder's host name, pid, a *machine* token and the process's start
time. On Linux the machine token is the kernel's boot id plus the pid namespace, so two
containers that share a host name (or a kernel) are never taken for one machine, and the
start time is ``/proc/<pid>/stat``'s ``starttime``: a pid the kernel gave to a new process
after the holder died is recognised as someone else.

`holder_is_gone` answers True only when it is sure: same host, same machine token, and the
pid does not exist (asked of the kernel: ``hidepid`` may hide a live process from
``/proc``), is a zombie (all of it: a main thread that ended while others run is
not), or belongs to a process that started at another time.
Anything it cannot see (another machine, another pid namespace, no ``/proc``) is "not
gone", and the caller falls back to waiting for the lease to expire.
"""

from __future__ import annotations

import functools
import os
import socket

__all__ = ["ProcessIdentity", "holder_is_gone", "this_process"]


class ProcessIdentity:
    """Who a lease holder is: host, machine token (None if unknown), pid, start time."""

    __slots__ = ("host", "machine", "pid", "started")

    def __init__(self, host: str, machine: str | None, pid: int, started: int | None) -> None:
        self.host = host
        self.machine = machine
        self.pid = pid
        self.started = started


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="ascii", errors="replace") as fh:
            return fh.read().strip()
    except OSError:
        return None


@functools.lru_cache(maxsize=1)
def _machine() -> str | None:
    """Boot id + pid namespace (Linux), or None where they cannot be read."""
    boot = _read("/proc/sys/kernel/random/boot_id")
    try:
        namespace = os.readlink("/proc/self/ns/pid")
        # A /proc of another pid namespace (``unshare --pid`` without remounting it) names
        # other processes by our pids: nothing read there would be about our holders.
        if os.readlink("/proc/self") != str(os.getpid()):
            return None
    except OSError:
        return None
    return None if not boot else f"{boot}/{namespace}"


def _stat(pid: int) -> tuple[str, int] | None:
    """(state, starttime in clock ticks since boot) of `pid`, or None if it does not exist."""
    raw = _read(f"/proc/{pid}/stat")
    if raw is None:
        return None
    fields = raw[raw.rfind(")") + 2 :].split()  # the command name may hold spaces and ')'
    try:
        return fields[0], int(fields[19])
    except (IndexError, ValueError):
        return None


def _exists(pid: int) -> bool:
    """Whether `pid` exists, asked of the kernel rather than of ``/proc``: a /proc mounted
    with ``hidepid=2`` hides other users' processes, which are alive all the same."""
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):  # OverflowError: no kernel has that pid
        return False
    except OSError:  # PermissionError: someone else's process, alive
        return True
    return True


_mine: ProcessIdentity | None = None


def this_process() -> ProcessIdentity:
    """The identity this process records in the leases it takes (computed once per pid:
    a forked child is another process)."""
    global _mine
    pid = os.getpid()
    mine = _mine
    if mine is None or mine.pid != pid:
        stat = _stat(pid) if _machine() is not None else None
        started = None if stat is None else stat[1]
        mine = _mine = ProcessIdentity(socket.gethostname(), _machine(), pid, started)
    return mine


def holder_is_gone(host: str, machine: str | None, pid: int, started: int | None) -> bool:
    """True only when the holder was on this machine and its process no longer runs."""
    here = _machine()
    if here is None or machine != here or host != socket.gethostname() or started is None:
        return False
    if pid <= 0:
        return False
    stat = _stat(pid)
    if stat is None:
        return not _exists(pid)
    state, start = stat
    if start != started:
        return True
    return state in ("Z", "X") and not _other_threads_run(pid)


def _other_threads_run(pid: int) -> bool:
    """Whether threads of `pid` other than its main one still run: a process whose main
    thread ended shows state Z while the rest of it (perhaps the computing thread) runs."""
    try:
        return len(os.listdir(f"/proc/{pid}/task")) > 1
    except OSError:
        return False

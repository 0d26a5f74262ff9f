"""Outside review of issue 11's core hardening: names, settings, crash recovery, CLI.

Each test is a problem the review found on main (it failed there) and now pins the fix.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import pytest

from helpers.crash_jobs import SLOW_MODULE
from memokey.cli import main, split_memo_uri
from memokey.results import encode_result

DIGEST = "0123456789abcdef0123456789abcdef"
OTHER = "fedcba9876543210fedcba9876543210"


def _entries(root: Path, function: str, *digests: str) -> None:
    for digest in digests:
        entry = root / "memokey-v2" / "default" / function / digest  # one object
        entry.parent.mkdir(parents=True, exist_ok=True)
        entry.write_bytes(encode_result(1))


# -- memokey rm / show: which entry a URI names ---------------------------------------------


def test_rm_under_a_root_named_like_the_scheme_directory_deletes_only_that_entry(
    tmp_path: Path,
) -> None:
    root = tmp_path / "memokey-v2"  # e.g. someone pointed MEMOKEY_ROOT at the scheme dir
    _entries(root, "m--f", DIGEST, OTHER)
    assert main(["rm", f"file://{root}/memokey-v2/default/m--f/{DIGEST}"]) == 0
    function_dir = root / "memokey-v2" / "default" / "m--f"
    assert sorted(p.name for p in function_dir.iterdir()) == [OTHER]


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        (
            f"file:///d/memokey-v2/memokey-v2/default/m--f/{DIGEST}",
            ("file:///d/memokey-v2", f"memokey-v2/default/m--f/{DIGEST}"),
        ),
        (
            f"file:///d/memokey-v2/memokey-v2/default/m--f/{DIGEST}.lease",
            ("file:///d/memokey-v2", f"memokey-v2/default/m--f/{DIGEST}"),
        ),
        (  # a namespace may be called like the scheme directory
            f"s3://b/memokey-v2/memokey-v2/m--f/{DIGEST}",
            ("s3://b", f"memokey-v2/memokey-v2/m--f/{DIGEST}"),
        ),
        (
            f"s3://b/memokey-v2/x/memokey-v2/ns/m--f/{DIGEST}.error",
            ("s3://b/memokey-v2/x", f"memokey-v2/ns/m--f/{DIGEST}"),
        ),
    ],
)
def test_an_entry_uri_is_read_from_its_end_so_the_root_may_contain_the_scheme_name(
    uri: str, expected: tuple[str, str]
) -> None:
    assert split_memo_uri(uri) == expected


def test_rm_refuses_a_uri_with_an_unknown_file_after_the_digest(tmp_path: Path) -> None:
    _entries(tmp_path, "m--f", DIGEST)
    assert main(["rm", f"file://{tmp_path}/memokey-v2/default/m--f/{DIGEST}.notes"]) == 1
    assert (tmp_path / "memokey-v2" / "default" / "m--f" / DIGEST).exists()


def _function_dir_linked_outside(tmp_path: Path) -> tuple[Path, Path]:
    root, outside = tmp_path / "root", tmp_path / "precious"
    outside.mkdir(parents=True)
    (outside / DIGEST).write_bytes(b"keep me")
    (root / "memokey-v2" / "default").mkdir(parents=True)
    (root / "memokey-v2" / "default" / "m--f").symlink_to(outside)
    return root, outside


@pytest.mark.parametrize(
    "spelling", ["local://{root}", "simplecache::file://{root}", "dir::file://{root}"]
)
def test_rm_follows_no_symlink_out_of_a_local_root_however_the_root_url_is_spelled(
    tmp_path: Path, spelling: str, capsys: pytest.CaptureFixture[str]
) -> None:
    root, outside = _function_dir_linked_outside(tmp_path)
    uri = spelling.format(root=root) + f"/memokey-v2/default/m--f/{DIGEST}"
    assert main(["rm", uri]) == 1
    assert "symbolic link" in capsys.readouterr().err
    assert (outside / DIGEST).read_bytes() == b"keep me"


def test_rm_follows_no_symlink_out_of_a_root_given_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, outside = _function_dir_linked_outside(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert main(["rm", f"file://{root.name}/memokey-v2/default/m--f/{DIGEST}"]) == 1
    assert main(["rm", f"{root.name}/memokey-v2/default/m--f/{DIGEST}"]) == 1
    assert (outside / DIGEST).read_bytes() == b"keep me"


# -- settings ---------------------------------------------------------------------------------


def _decorate(**settings: object) -> object:
    import memokey

    def f(x: int) -> int:
        return x

    return memokey.memoize("memory://review", **settings)(f)  # type: ignore[call-overload]


@pytest.mark.parametrize(
    "seconds", [10**400, -(10**400), 2**1024], ids=["1e400", "-1e400", "2^1024"]
)
def test_a_lease_too_large_for_a_float_is_a_configuration_error(seconds: int) -> None:
    from memokey.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="lease_seconds=60"):
        _decorate(lease_seconds=seconds)


def test_numpy_and_fraction_lease_seconds_are_numbers_of_seconds() -> None:
    from fractions import Fraction

    np = pytest.importorskip("numpy")
    for seconds in (np.int64(30), np.float32(30), Fraction(30)):
        runner = _decorate(lease_seconds=seconds).runner  # type: ignore[attr-defined]
        assert runner.lease_seconds == 30.0
        assert type(runner.lease_seconds) is float


def test_a_numpy_bool_is_not_a_number_of_seconds() -> None:
    from memokey.errors import ConfigurationError

    np = pytest.importorskip("numpy")
    with pytest.raises(ConfigurationError, match="lease_seconds"):
        _decorate(lease_seconds=np.bool_(True))


# -- crash recovery: a holder this caller cannot see is not a dead holder ----------------------

_HOLDERS = Path(__file__).resolve().parents[1] / "memokey" / "_holders.py"
_CHECK = """
import importlib.util, sys
spec = importlib.util.spec_from_file_location("holders", sys.argv[1])
holders = importlib.util.module_from_spec(spec)
spec.loader.exec_module(holders)
host, machine, pid, started = sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
print(holders.holder_is_gone(host, machine, pid, started))
"""


def _as_nobody_with_hidden_processes(argv: list[str]) -> list[str]:
    """`argv` run as user nobody in a mount namespace whose /proc hides other users'
    processes (``hidepid=2``, a common hardening of shared machines)."""
    import shlex
    import shutil

    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("setpriv"):
        pytest.skip("needs root, unshare and setpriv to mount a hidepid=2 /proc")
    inner = " ".join(shlex.quote(a) for a in argv)
    script = (
        "mount -t proc -o hidepid=2 proc /proc && exec setpriv --reuid=65534 "
        f"--regid=65534 --clear-groups {inner}"
    )
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script]


def test_a_live_holder_of_another_user_hidden_by_hidepid_is_not_taken_for_dead() -> None:
    import shutil
    import subprocess

    from memokey._holders import this_process

    me = this_process()
    python = shutil.which("python3", path="/usr/bin:/bin")
    if me.machine is None or me.started is None or python is None:
        pytest.skip("needs Linux /proc and a system python3 that user nobody can run")
    # User nobody reads its copy of the module: the checkout may sit in a directory only
    # its owner can enter (a clone into `mktemp -d`).
    readable = Path(tempfile.mkdtemp(prefix="memokey-holders-"))
    try:
        readable.chmod(0o755)
        holders = readable / "_holders.py"
        shutil.copyfile(_HOLDERS, holders)
        holders.chmod(0o644)
        argv = [python, "-c", _CHECK, str(holders), me.host, me.machine, str(me.pid)]
        done = subprocess.run(
            _as_nobody_with_hidden_processes([*argv, str(me.started)]),
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        shutil.rmtree(readable, ignore_errors=True)
    if done.returncode != 0 and "mount" in done.stderr:
        pytest.skip(f"cannot mount a hidepid=2 /proc here: {done.stderr.strip()}")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"  # this process is alive: its lease stays


def test_a_process_whose_proc_belongs_to_another_pid_namespace_claims_no_machine() -> None:
    """In ``unshare --pid`` without a fresh /proc, /proc/<our pid> is some other process:
    its start time must not be recorded as ours, nor its liveness taken for a holder's."""
    import shutil
    import subprocess
    import sys

    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("needs root and unshare to make a pid namespace")
    code = _CHECK.split("host, machine")[0] + "print(holders.this_process().machine)\n"
    done = subprocess.run(
        ["unshare", "--pid", "--fork", sys.executable, "-c", code, str(_HOLDERS)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0 and "unshare" in done.stderr:
        pytest.skip(f"cannot make a pid namespace here: {done.stderr.strip()}")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "None"


_LEADER_EXITS = """
import ctypes, sys, threading
threading.Thread(target=sys.stdin.read).start()  # the computing thread, alive until told
ctypes.CDLL(None).pthread_exit(None)  # the main thread ends: /proc shows the process as Z
"""


def test_a_holder_whose_main_thread_ended_but_whose_other_threads_run_is_alive() -> None:
    """A process whose main thread ended (an embedding host, a C extension) shows state Z
    in /proc/<pid>/stat while its other threads, the computing one among them, still run."""
    import subprocess
    import sys
    import time

    from memokey._holders import _stat, holder_is_gone, this_process

    me = this_process()
    if me.machine is None:
        pytest.skip("needs Linux /proc")
    holder = subprocess.Popen([sys.executable, "-c", _LEADER_EXITS], stdin=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while (stat := _stat(holder.pid)) is None or stat[0] != "Z":
            assert time.monotonic() < deadline, stat
            time.sleep(0.02)
        assert not holder_is_gone(me.host, me.machine, holder.pid, stat[1])
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)
    assert holder_is_gone(me.host, me.machine, holder.pid, stat[1])


def test_the_waiting_log_line_escapes_a_hostile_holder_host_name(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The lease is written by whoever can write the store; its host name reaches the
    user's terminal through the one WARNING line a waiting caller logs."""
    import logging
    from dataclasses import replace

    from memokey import leases
    from memokey.errors import LeaseError
    from memokey_backends import open_store

    store = open_store("memory://review-hostile-lease")
    memo = f"memokey-v2/default/m--f/{DIGEST}"
    evil = replace(leases.LeaseRecord.fresh(600.0), host="box\x1b]0;pwned\x07\x1b[2J\u202e")
    store.write(f"{memo}.lease", evil.encode())
    monkeypatch.setattr(leases, "REPORT_AFTER", 0.0)
    with caplog.at_level(logging.WARNING, logger="memokey.leases"), pytest.raises(LeaseError):
        leases.acquire_or_wait(store, memo, done=lambda: False, timeout=0.2)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "box" in logged
    assert not {"\x1b", "\x07", "\u202e"} & set(logged)


def test_memokey_run_escapes_its_error_line(capsys: pytest.CaptureFixture[str]) -> None:
    """`memokey run` prints its failure like every other subcommand: nothing in it (the
    URI, or what the store answered) can drive the terminal."""
    from memokey.cli import main as cli_main

    uri = f"memory://review-run/memokey-v2/default/m--\x1b]0;pwned\x07\x1b[2J\u202e/{DIGEST}"
    assert cli_main(["run", uri]) != 0
    err = capsys.readouterr().err
    # "no invocation at ...", or (review-store: memory roots with such characters are
    # refused) "could not read the invocation at ...: the root ... contains '\x1b'"
    assert "invocation at memory://review-run/" in err
    assert not {"\x1b", "\x07", "\u202e"} & set(err)


# -- names ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["CON", "nul", "Aux", "prn.v2", "COM1", "lpt9.x", "com0"])
def test_a_name_windows_reserves_for_a_device_is_refused_with_a_usable_one(name: str) -> None:
    """On a Windows local root a directory named NUL or CON is a device: writes would
    vanish or fail. Namespaces are the same on every backend, so refused everywhere."""
    from memokey.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="reserved") as info:
        _decorate(namespace=name)
    assert "namespace=" in str(info.value)
    _decorate(logic_key=name)  # the tail of a segment (`m--f@CON`), not a whole one


@pytest.mark.parametrize("name", ["CONFIG", "nullable", "com10", "aux-data", "console"])
def test_names_that_merely_start_like_a_windows_device_are_fine(name: str) -> None:
    assert _decorate(namespace=name, logic_key=name).runner.namespace == name  # type: ignore[attr-defined]


# -- crash recovery with real processes ---------------------------------------------------------

_CALL = """
import importlib, json, sys
import memokey
mod = importlib.import_module(sys.argv[1])
with memokey.root(sys.argv[2], **json.loads(sys.argv[3])):
    print(json.dumps(mod.slow(21)))
"""


@pytest.fixture(params=["file", "s3", "gcs", "azure"])
def proc_root(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    from helpers.remote import root_on

    yield from root_on(request.param, request, tmp_path)


def _start_caller(code: Path, module: str, root: Any) -> Any:
    import json
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(code), *sys.path])}
    argv = [sys.executable, "-c", _CALL, module, root.url, json.dumps(root.options)]
    return subprocess.Popen(
        argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _holder_computing(tmp_path: Path, root: Any) -> tuple[Any, Path, Path, str]:
    """A real caller of `slow` that has the lease and hangs inside the call."""
    import time

    from helpers.core import write_module

    marks, code = tmp_path / "marks", tmp_path / "code"
    marks.mkdir()
    code.mkdir()
    module = write_module(code, SLOW_MODULE.format(marks=str(marks)))
    (marks / "hang").touch()
    holder = _start_caller(code, module, root)
    deadline = time.monotonic() + 60
    while not list(marks.glob("ran-*")):
        assert holder.poll() is None, holder.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.02)
    return holder, marks, code, module


@pytest.mark.slow
def test_waiters_racing_to_take_over_a_killed_holders_lease_compute_once(
    proc_root: Any, tmp_path: Path
) -> None:
    import json
    import signal
    import time

    holder, marks, code, module = _holder_computing(tmp_path, proc_root)
    waiters = [_start_caller(code, module, proc_root) for _ in range(4)]
    time.sleep(1.5)  # all of them polling the live holder's lease
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    (marks / "hang").unlink()
    for waiter in waiters:
        out, err = waiter.communicate(timeout=120)
        assert waiter.returncode == 0, err
        assert json.loads(out) == 42
    ran = sorted(p.name for p in marks.glob("ran-*"))
    assert len(ran) == 2, ran  # the killed holder and exactly one of the four waiters


@pytest.mark.slow
def test_a_stopped_holder_is_alive_and_keeps_its_lease(tmp_path: Path) -> None:
    """SIGSTOP (a debugger, ^Z, a cgroup freeze) is not death: the next caller waits."""
    import signal
    import time

    from helpers.remote import Root

    root = Root(f"file://{tmp_path}/root")
    holder, marks, code, module = _holder_computing(tmp_path, root)
    os.kill(holder.pid, signal.SIGSTOP)
    try:
        waiter = _start_caller(code, module, root)
        time.sleep(3.0)  # several polls, each of which sees the stopped holder's lease
        assert waiter.poll() is None
        assert len(list(marks.glob("ran-*"))) == 1  # the waiter has not taken over
        waiter.kill()
        waiter.wait()
    finally:
        os.kill(holder.pid, signal.SIGCONT)
        (marks / "hang").unlink()
        holder.communicate(timeout=60)
    assert holder.returncode == 0


def test_an_async_caller_takes_over_the_lease_of_a_holder_that_ended(tmp_path: Path) -> None:
    import asyncio
    import subprocess
    import sys
    from dataclasses import replace

    import memokey
    from memokey.leases import LeaseRecord

    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    if LeaseRecord.fresh(1.0).machine is None:
        pytest.skip("needs Linux /proc")

    @memokey.memoize(f"file://{tmp_path}", lease_seconds=600)
    async def double(x: int) -> int:
        return 2 * x

    key = double.key_for(21)
    dead = replace(LeaseRecord.fresh(600.0), pid=ended.pid)  # expires in 10 minutes
    (tmp_path / key.path).parent.mkdir(parents=True)  # planted: local roots use kernel
    Path(f"{tmp_path / key.path}.lease").write_bytes(dead.encode())  # locks, never read it
    assert asyncio.run(asyncio.wait_for(double(21), timeout=120)) == 42


def test_a_function_whose_storage_name_is_too_long_for_a_file_system_is_still_memoized(
    tmp_path: Path,
) -> None:
    """`{module}--{qualname}[@{logic_key}]` is one directory name; past 255 bytes a local
    root failed every call with an opaque 'File name too long' store error. The stored
    name of a long function id is shortened (`names.function_segment`, review-store)."""
    import memokey

    def f(x: int) -> int:
        return x

    f.__qualname__ = "make.<locals>." + "\u8ba1\u7b97" * 45  # 270 bytes of UTF-8
    memoized = memokey.memoize(tmp_path.as_uri(), logic_key="v" * 100)(f)
    assert memoized(3) == 3
    assert memoized(3) == 3
    assert len(memoized.key_for(3).path.split("/")[2].encode()) <= 255
    f.__qualname__ = "make.<locals>." + "g" * 200
    assert memokey.memoize("memory://review-long", logic_key="v2")(f)(3) == 3


@pytest.mark.parametrize("value", ["no", 0, 1.0])
def test_a_bad_allow_pickle_says_what_to_write(value: object) -> None:
    from memokey.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match=r"write allow_pickle=False") as info:
        _decorate(allow_pickle=value)
    assert repr(value) in str(info.value)


@pytest.mark.parametrize("pid", [2**31, 2**40, 2**63 + 5])
def test_a_lease_naming_an_impossible_pid_on_this_machine_is_taken_over(pid: int) -> None:
    """A lease is whatever its writer put there: a pid no kernel can have names no
    process, so the lease is stale, not a raw error."""
    from dataclasses import replace

    from memokey.leases import LeaseRecord, try_acquire
    from memokey_backends import open_store

    if LeaseRecord.fresh(1.0).machine is None:
        pytest.skip("needs Linux /proc")
    store = open_store(f"memory://review-pid-{pid}")
    memo = f"memokey-v2/default/m--f/{DIGEST}"
    store.write(f"{memo}.lease", replace(LeaseRecord.fresh(600.0), pid=pid).encode())
    lease = try_acquire(store, memo, lease_seconds=60.0)
    assert lease is not None
    lease.release()


def test_a_lease_written_by_an_older_memokey_without_a_start_time_is_waited_out() -> None:
    """Without the holder's start time a pid proves nothing (it may have been reused):
    such a lease is only taken over when it expires."""
    import subprocess
    import sys
    from dataclasses import replace

    from memokey.leases import LeaseRecord, try_acquire
    from memokey_backends import open_store

    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    store = open_store("memory://review-old-lease")
    memo = f"memokey-v2/default/m--f/{DIGEST}"
    old = replace(LeaseRecord.fresh(600.0), pid=ended.pid, started=None)
    store.write(f"{memo}.lease", old.encode())
    assert try_acquire(store, memo, lease_seconds=60.0) is None


def test_rm_deletes_only_what_looks_like_a_memokey_entry(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The root is whatever precedes ``memokey-v2`` in the URI, so a mistyped or pasted
    path can name a directory of the user's own: rm deletes it only if it holds nothing
    but an entry's files under a digest's name."""
    mine = tmp_path / "memokey-v2" / "papers" / "thesis"
    (mine / "chapter-1").mkdir(parents=True)
    (mine / "chapter-1" / "draft.tex").write_text("years of work")
    assert main(["rm", f"file://{tmp_path}/memokey-v2/papers/thesis/chapter-1"]) == 1
    assert "digest" in capsys.readouterr().err
    squatter = mine / DIGEST
    squatter.mkdir()
    (squatter / "result").write_bytes(encode_result(1))
    (squatter / "notes.txt").write_text("mine")
    assert main(["rm", f"file://{tmp_path}/memokey-v2/papers/thesis/{DIGEST}"]) == 1
    assert "notes.txt" in capsys.readouterr().err
    assert (mine / "chapter-1" / "draft.tex").read_text() == "years of work"
    assert (squatter / "notes.txt").exists()


@pytest.mark.parametrize("url", ["s3://", "s3:///memo", "gs://", "gcs:///memo", "az://"])
def test_a_bucket_less_cloud_root_is_refused_when_the_function_is_decorated(url: str) -> None:
    """Settings are checked at decoration; the root's URL needs no network to judge."""
    from memokey.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="names no"):
        _decorate_at(url)
    with pytest.raises(ConfigurationError, match="names no"):
        _decorate_at(url, keyed=True)


def _decorate_at(root: str, *, keyed: bool = False) -> object:
    import memokey

    def f(conn: object, x: int) -> int:
        return x

    if keyed:
        runner = memokey.KeyedLocalRunner(root, keyfunc=memokey.nil_args("conn"))
        return memokey.use_runner(runner)(f)
    return memokey.memoize(root)(f)

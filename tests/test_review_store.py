"""An outside review of the storage hardening (issue 11), on the real emulators.

Each test names a behaviour that was seen going wrong, or that a reviewer tried to break
and that must keep holding.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import textwrap
import threading
import time
import types
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import fsspec
import pytest

import memokey
from helpers.servers import azure_options, gcs_options, s3_options
from helpers.tcp import _Listener
from memokey.leases import try_acquire
from memokey_backends import StoreUnavailableError, WriteConflictError, open_store

Location = tuple[str, dict[str, Any]]

# Module names a script's file name gives (the stem becomes the module part of the
# function id): every one of them must be memoizable, on every backend.
SCRIPT_MODULES = [
    "run[1]",
    "a?b",
    "100%",
    "x%3F",  # must not collide with "x?"
    "x?",
    "notes#2",
    "star*",
    "back\\slash",
    "tab\tname",
    "café_ünïcode",
    "with space",
    "not_utf8_\udcff",  # a file name that is not UTF-8 (surrogateescape)
]


CALLS: list[int] = []


def _job(x: int) -> int:
    CALLS.append(x)
    return x * 2


def _function_in(module: str) -> Callable[[int], int]:
    """`_job` as the function `job` of the module `module` (what a script of that name
    defines); it records its calls in `CALLS` (a global: not part of the key)."""
    job = types.FunctionType(_job.__code__, globals(), "job")
    job.__module__ = module
    job.__qualname__ = "job"
    return job


@pytest.mark.parametrize("module", SCRIPT_MODULES)
def test_functions_of_scripts_with_any_file_name_can_be_memoized(
    store_root: Location, module: str
) -> None:
    url, options = store_root
    CALLS.clear()
    job = memokey.memoize(url, storage_options=options, namespace="review")(_function_in(module))
    assert job(21) == 42
    assert job(21) == 42
    assert CALLS == [21]
    key = job.key_for(21)
    assert key.function_id == f"{module}--job"  # the id keeps the real name


def test_function_ids_that_differ_never_share_a_store_path(memory_root: Location) -> None:
    url, _ = memory_root
    paths = {
        memokey.memoize(url)(_function_in(module)).key_for(1).path for module in SCRIPT_MODULES
    }
    assert len(paths) == len(SCRIPT_MODULES)


def test_a_module_name_with_a_slash_stays_one_path_segment(memory_root: Location) -> None:
    url, _ = memory_root
    key = memokey.memoize(url)(_function_in("a/../../b")).key_for(1)
    assert key.path.split("/")[2] != "a"
    assert len(key.path.split("/")) == 4


def test_a_script_named_like_a_glob_pattern_is_memoized_across_processes(tmp_path: Path) -> None:
    script = tmp_path / "run[1].py"
    script.write_text(
        textwrap.dedent(
            f"""
            import memokey

            @memokey.memoize({(tmp_path / "root").as_uri()!r})
            def job(x):
                print("computed")
                return x + 1

            print(job(1))
            """
        )
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    outputs = []
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=120
        )
        assert done.returncode == 0, done.stderr
        outputs.append(done.stdout.split())
    assert outputs == [["computed", "2"], ["2"]]


def test_a_script_name_with_an_at_sign_never_reaches_another_functions_logic_key(
    memory_root: Location,
) -> None:
    url, _ = memory_root
    plain = memokey.memoize(url)(_function_in("m--job@v2"))  # script "m--job@v2.py"
    versioned = memokey.memoize(url, logic_key="v2--job")(_function_in("m"))
    assert plain.key_for(1).path != versioned.key_for(1).path


# -- deadlines against servers that answer, then stall --------------------------------------

SERVERS = {"s3": "moto_server", "gs": "gcs_server", "az": "azurite_server"}
OPTIONS_FOR = {"s3": s3_options, "gs": gcs_options, "az": azure_options}


class TricklingProxy(_Listener):
    """Forwards to 127.0.0.1:`upstream`; while `trickle` is set, a response that has
    passed `after` bytes (its headers and the start of its body) continues at one byte
    every 0.2 s (a slowloris server: each read makes progress, none ends)."""

    def __init__(self, upstream: int, after: int = 4096) -> None:
        self.upstream = upstream
        self.after = after
        self.trickle = threading.Event()
        self.trickled = threading.Event()
        super().__init__()

    def handle(self, conn: socket.socket) -> None:
        try:
            up = socket.create_connection(("127.0.0.1", self.upstream))
        except OSError:
            conn.close()
            return
        self.track(up)
        threading.Thread(target=self._down, args=(up, conn), daemon=True).start()
        with contextlib.suppress(OSError):
            while chunk := conn.recv(1 << 16):
                up.sendall(chunk)

    def _down(self, up: socket.socket, conn: socket.socket) -> None:
        sent = 0
        with contextlib.suppress(OSError):
            while chunk := up.recv(1 << 16):
                for i in range(len(chunk)):
                    if not (self.trickle.is_set() and sent + i > self.after):
                        continue
                    conn.sendall(chunk[:i])
                    chunk = chunk[i:]
                    sent += i
                    self.trickled.set()
                    while chunk and self.trickle.is_set():
                        conn.sendall(chunk[:1])
                        chunk = chunk[1:]
                        sent += 1
                        time.sleep(0.2)
                    break
                conn.sendall(chunk)
                sent += len(chunk)


@pytest.mark.cloud
@pytest.mark.timeout(180)
@pytest.mark.parametrize("scheme", sorted(SERVERS))
def test_a_server_that_trickles_a_body_hits_the_deadline_and_the_store_still_works_after(
    request: pytest.FixtureRequest, scheme: str
) -> None:
    server = request.getfixturevalue(SERVERS[scheme])
    bucket = f"t-{uuid.uuid4().hex[:12]}"
    fsspec.filesystem(scheme, **server.options).mkdir(bucket)
    data = os.urandom(1 << 20)
    open_store(f"{scheme}://{bucket}/root", **server.options).write("k/result", data)
    with TricklingProxy(server.port) as proxy:
        store = open_store(
            f"{scheme}://{bucket}/root", timeout=3, **OPTIONS_FOR[scheme](proxy.endpoint)
        )
        proxy.trickle.set()
        with pytest.raises(StoreUnavailableError) as info:
            store.read("k/result")
        assert proxy.trickled.is_set()
        assert "3 s" in str(info.value)
        proxy.trickle.clear()
        assert store.read("k/result") == data  # fsspec's shared I/O loop is not wedged
        assert store.exists("k/result")


@pytest.mark.cloud
@pytest.mark.timeout(180)
@pytest.mark.parametrize("scheme", sorted(SERVERS))
def test_a_lease_renewal_whose_answer_never_came_does_not_lose_the_lease(
    request: pytest.FixtureRequest, scheme: str
) -> None:
    """The server applied the renewal but its answer stalled past the deadline: our
    version token is stale, yet the lease is still ours; the next renewal must see that
    instead of declaring the lease lost (which lets another caller compute it again)."""
    server = request.getfixturevalue(SERVERS[scheme])
    bucket = f"t-{uuid.uuid4().hex[:12]}"
    fsspec.filesystem(scheme, **server.options).mkdir(bucket)
    with TricklingProxy(server.port, after=0) as proxy:
        store = open_store(
            f"{scheme}://{bucket}/root", timeout=2, **OPTIONS_FOR[scheme](proxy.endpoint)
        )
        lease = try_acquire(store, "memokey-v2/ns/m--f/d")
        assert lease is not None
        with lease:
            assert lease.renew()  # reads the version token
            proxy.trickle.set()
            with pytest.raises(StoreUnavailableError):
                lease.renew()
            assert proxy.trickled.is_set()
            proxy.trickle.clear()
            assert lease.renew()
            assert not lease.lost


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


STOPPED_CHECK = """
import sys
from helpers.servers import azure_options, gcs_options, s3_options
from memokey_backends import StoreUnavailableError, WriteConflictError, open_store

scheme, port = sys.argv[1], sys.argv[2]
options = {"s3": s3_options, "gs": gcs_options, "az": azure_options}[scheme]
store = open_store(f"{scheme}://stopped-bucket/root", timeout=30,
                   **options(f"http://127.0.0.1:{port}"))
for operation in (lambda: store.read("k/result"), lambda: store.write("k/r", b"x")):
    try:
        operation()
    except StoreUnavailableError as exc:
        print(str(exc).replace(chr(10), " "))
"""


@pytest.mark.cloud
@pytest.mark.timeout(120)
@pytest.mark.parametrize("scheme", sorted(SERVERS))
def test_a_stopped_server_is_reported_unreachable_not_waited_on_until_the_deadline(
    scheme: str,
) -> None:
    """Connection refused is a transient error with 3 attempts, not a silent server.
    With gcsfs's default (experimental bucket-layout support, which the rest of the
    suite turns off), its gRPC layout lookup retried for the whole deadline and the
    error said "got no answer"."""
    env = {k: v for k, v in os.environ.items() if k != "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT"}
    here = Path(__file__).parent
    env["PYTHONPATH"] = os.pathsep.join([str(here), *sys.path])
    done = subprocess.run(
        [sys.executable, "-c", STOPPED_CHECK, scheme, str(_closed_port())],
        capture_output=True,
        text=True,
        env=env,
        timeout=100,
    )
    lines = done.stdout.splitlines()
    assert len(lines) == 2, done.stdout + done.stderr
    for line in lines:
        assert "could not be reached" in line
        assert "got no answer" not in line


# -- multipart uploads under a write-once condition -----------------------------------------


@pytest.fixture
def small_multipart(monkeypatch: pytest.MonkeyPatch) -> int:
    """Multipart uploads from 10 MiB on, in 5 MiB parts (S3's smallest): the same code
    path as 100 MiB results, faster. Returns a size that takes three parts."""
    from memokey_backends import _s3

    monkeypatch.setattr(_s3, "PART_SIZE", 5 * 2**20)
    monkeypatch.setattr(_s3, "MULTIPART_THRESHOLD", 10 * 2**20)
    return 12 * 2**20


def _s3_uploads(store: Any) -> list[Any]:
    return list(store.incomplete_uploads())


@pytest.mark.cloud
@pytest.mark.timeout(180)
def test_racing_multipart_writers_of_one_result_leave_it_whole_and_no_upload_behind(
    s3_root: Location, small_multipart: int
) -> None:
    """Every loser gets `WriteConflictError` and its upload is aborted; a reader sees no
    result or a whole one. (Real S3 evaluates ``If-None-Match`` on the completion
    atomically, so exactly one writer wins there; moto checks, then completes, so two
    racing completions can both succeed against it: this test cannot ask for exactly one.)
    """
    url, options = s3_root
    store = open_store(url, **options)
    payloads = [os.urandom(small_multipart) for _ in range(3)]
    outcomes: list[object] = [None] * len(payloads)
    seen: list[bytes | None] = []
    start = threading.Barrier(len(payloads) + 1)
    done = threading.Event()

    def write(i: int) -> None:
        start.wait()
        try:
            store.write("ns/f/d/result", payloads[i], exclusive=True)
            outcomes[i] = "won"
        except Exception as exc:
            outcomes[i] = exc

    def read() -> None:
        start.wait()
        while not done.is_set():
            seen.append(store.read("ns/f/d/result"))

    threads = [threading.Thread(target=write, args=(i,)) for i in range(len(payloads))]
    reader = threading.Thread(target=read)
    for thread in [*threads, reader]:
        thread.start()
    for thread in threads:
        thread.join()
    done.set()
    reader.join()
    assert "won" in outcomes
    assert all(o == "won" or isinstance(o, WriteConflictError) for o in outcomes), outcomes
    assert store.read("ns/f/d/result") in [
        p for p, o in zip(payloads, outcomes, strict=True) if o == "won"
    ]
    assert all(data is None or data in payloads for data in seen)
    assert _s3_uploads(store) == []


@pytest.mark.cloud
@pytest.mark.timeout(180)
def test_a_multipart_write_over_an_existing_result_is_refused_and_leaves_no_upload(
    s3_root: Location, small_multipart: int
) -> None:
    url, options = s3_root
    store = open_store(url, **options)
    first = os.urandom(small_multipart)
    store.write("ns/f/d/result", first, exclusive=True)
    with pytest.raises(WriteConflictError):
        store.write("ns/f/d/result", os.urandom(small_multipart), exclusive=True)
    assert store.read("ns/f/d/result") == first
    assert _s3_uploads(store) == []


# -- roots named like glob patterns ---------------------------------------------------------


@pytest.mark.parametrize("pattern", ["a[1]", "a*", "a?"])
def test_a_memory_root_named_like_a_glob_is_refused_so_no_delete_reaches_another_root(
    pattern: str,
) -> None:
    """fsspec expands glob patterns in ``rm``: deleting an entry under
    ``memory://a[1]/memo`` deleted the same entry under ``memory://a1/memo`` instead
    (and kept its own). Such a root is refused, like a cloud root."""
    from memokey_backends import InvalidRootError

    tag = uuid.uuid4().hex[:8]
    victim = open_store(f"memory://{tag}a1/memo")
    victim.write("ns/f/d/result", b"victim")
    with pytest.raises(InvalidRootError, match=re.escape(repr(pattern[1]))):
        open_store(f"memory://{tag}{pattern}/memo")
    assert victim.read("ns/f/d/result") == b"victim"


LONG_MODULE = "pkg." + "sub_module_name." * 16 + "end"  # 263 characters


def test_a_function_with_a_very_long_id_can_be_memoized_on_local_disk(file_root: Location) -> None:
    """A path segment is at most 255 bytes on local disks: a function id longer than
    that could not be stored at all (the error suggested another root, which cannot
    help)."""
    url, _ = file_root
    CALLS.clear()
    job = memokey.memoize(url, logic_key="v" * 100)(_function_in(LONG_MODULE))
    assert job(3) == 6
    assert job(3) == 6
    assert CALLS == [3]
    assert job.key_for(3).function_id == f"{LONG_MODULE}--job"


def test_long_function_ids_with_a_common_prefix_never_share_a_path(memory_root: Location) -> None:
    url, _ = memory_root
    first = memokey.memoize(url)(_function_in(LONG_MODULE + "_a")).key_for(1).path
    second = memokey.memoize(url)(_function_in(LONG_MODULE + "_b")).key_for(1).path
    assert first != second

"""Concern (e): requests per operation on each cloud backend, and a local entry's footprint.

Requests are counted on the wire by `memokey.testing.request_counter`, a proxy in front of the
real emulators (moto for S3, fake-gcs-server for GCS, Azurite for Azure), so the counts
are what the real services would be asked. Timings against emulators would say nothing
about the clouds; request counts do. The waiting row is a caller blocked on another
holder's lease for `WAIT_S[profile]` seconds. A missing emulator is recorded as skipped.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import memokey
from benchmarks.conftest import Records
from memokey import usage
from memokey.entry_reader import read_entry_meta
from memokey.errors import LeaseError
from memokey.leases import acquire_or_wait, try_acquire
from memokey.testing.request_counter import CountingProxy, Request
from memokey_backends import Store, open_store

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")  # before gcsfs loads

from helpers import servers

WAIT_S = {"full": 10.0, "smoke": 1.0}
_START: dict[str, tuple[Callable[[], servers.Server], Callable[[str], dict[str, Any]], str]] = {
    "s3": (servers.start_moto, servers.s3_options, "s3"),
    "gcs": (servers.start_fake_gcs, servers.gcs_options, "gs"),
    "azure": (servers.start_azurite, servers.azure_options, "az"),
}


def _double(x: int) -> int:
    return 2 * x


@pytest.fixture(scope="module", params=sorted(_START))
def backend(request: pytest.FixtureRequest, records: Records) -> Iterator[tuple[str, Any]]:
    start, options_for, scheme = _START[request.param]
    try:
        server = start()
    except (servers.ServerMissingError, RuntimeError) as exc:
        records.skip("requests", request.param, "memokey", str(exc))
    proxy = CountingProxy(server.endpoint).start()
    try:
        import fsspec

        bucket = f"b-{uuid.uuid4().hex[:12]}"
        fsspec.filesystem(scheme, **server.options).mkdir(bucket)
        url = f"{scheme}://{bucket}/root"
        yield request.param, (proxy, url, options_for(proxy.endpoint), server.options)
    finally:
        proxy.stop()
        server.stop()


def _count(proxy: CountingProxy, action: Callable[[], object]) -> list[Request]:
    with proxy.counting() as seen:
        action()
    return seen


def _record(records: Records, backend: str, operation: str, seen: list[Request]) -> None:
    records.requests.append(
        {
            "backend": backend,
            "operation": operation,
            "requests": len(seen),
            "writes": sum(r.is_write for r in seen),
            "methods": [r.method for r in seen],
        }
    )


def test_request_counts_per_operation(
    backend: tuple[str, Any], records: Records, profile: str
) -> None:
    name, (proxy, url, options, direct_options) = backend
    f = memokey.memoize(url, storage_options=options)(_double)
    f(0)  # open the store, warm the SDK
    _record(records, name, "miss (compute once)", _count(proxy, lambda: f(1)))
    # A hit is one read; the day's first hit of an entry in a process also leaves one
    # use mark (`memokey.usage`, in the background): waited for here, so that it is
    # counted where it belongs and not in the next operation's window.
    first_hit = _count(proxy, lambda: (f(1), usage.wait_for_marks()))
    _record(records, name, "hit, the day's first (+ its use mark)", first_hit)
    _record(records, name, "hit", _count(proxy, lambda: (f(1), usage.wait_for_marks())))
    store: Store = open_store(url, **options)
    path = f.key_for(1).path
    _record(records, name, "read of an absent object", _count(proxy, lambda: store.read("no/such")))
    _record(records, name, "existence check", _count(proxy, lambda: store.exists("no/such")))
    _record(
        records, name, "metadata only (`memokey show`)",
        _count(proxy, lambda: read_entry_meta(store, path)),
    )  # fmt: skip
    holder = try_acquire(open_store(url, **direct_options), "w/entry", lease_seconds=60)
    assert holder is not None
    wait = WAIT_S[profile]

    def wait_on_holder() -> None:
        with pytest.raises(LeaseError):
            acquire_or_wait(
                store, "w/entry", done=lambda: store.read("w/entry") is not None, timeout=wait
            )

    try:
        _record(records, name, f"waiting {wait:g} s on a lease", _count(proxy, wait_on_holder))
    finally:
        holder.release()


def test_local_entry_footprint(tmp_path: Path, records: Records, profile: str) -> None:
    """Files and disk blocks per tiny local entry, the directory's share included."""
    count = 2000 if profile == "full" else 200
    f = memokey.memoize(f"file://{tmp_path}")(_double)
    for x in range(count):
        f(x)
    function_dir = tmp_path / f.key_for(0).path.rsplit("/", 1)[0]
    files = list(function_dir.iterdir())
    blocks = sum(p.stat().st_blocks for p in files) + function_dir.stat().st_blocks
    records.local_entries.update(
        {
            "entries": count,
            "files_per_entry": (len(files) - 1) / count,  # minus the one lock file
            "disk_bytes_per_entry": blocks * 512 / count,
            "entry_bytes": (function_dir / f.key_for(0).digest).stat().st_size,
        }
    )
    assert len(files) == count + 1


LARGE = {"full": 1 << 30, "smoke": 32 << 20}


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="Linux peak RSS")
@pytest.mark.parametrize(("where", "compress"), [("file", ""), ("s3", ""), ("file", "zstd")])
def test_large_result_time_and_memory(
    where: str, compress: str, tmp_path: Path, records: Records, profile: str
) -> None:
    """One ndarray result written then read, in a fresh process (`benchmarks.largeprobe`)."""
    import json
    import subprocess

    server = None
    if where == "s3":
        try:
            server = servers.start_moto()
        except (servers.ServerMissingError, RuntimeError) as exc:
            records.skip("large", where, "memokey", str(exc))
        import fsspec

        bucket = f"b-{uuid.uuid4().hex[:12]}"
        fsspec.filesystem("s3", **server.options).mkdir(bucket)
        url, options = f"s3://{bucket}/root", dict(server.options)
    else:
        url, options = f"file://{tmp_path}", {}
    repo = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(repo), str(repo / "backends")])}
    # A miss then a hit in one process; on file://, hits by fresh processes too: the
    # first and second after the writer (verification records: no byte re-read) and one
    # verifying every byte as before them (MEMOKEY_VERIFY=always).
    runs: list[tuple[list[str], dict[str, str]]] = [([], {})]
    if where == "file" and not compress:
        runs += [
            (["read", "read, fresh process 1"], {}),
            (["read", "read, fresh process 2"], {}),
            (["read", "read, fresh process, MEMOKEY_VERIFY=always"], {"MEMOKEY_VERIFY": "always"}),
        ]
    lines: list[str] = []
    try:
        for extra_args, extra_env in runs:
            done = subprocess.run(
                [sys.executable, "-m", "benchmarks.largeprobe", url, json.dumps(options),
                 str(LARGE[profile]), compress or "none", *extra_args],
                cwd=repo, capture_output=True, text=True, check=True, timeout=900,
                env={**env, **extra_env},
            )  # fmt: skip
            lines += done.stdout.splitlines()
    finally:
        if server is not None:
            server.stop()
    for line in lines:
        row = json.loads(line)
        records.large.append({"backend": where, "bytes": LARGE[profile], **row})


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="Linux peak RSS")
@pytest.mark.parametrize("kind", ["frame", "frame-str", "table", "table-safe"])
def test_large_frame_time_memory_and_zero_copy(
    kind: str, tmp_path: Path, records: Records, profile: str
) -> None:
    """One DataFrame / Arrow Table result on file://: written, hit in the same process,
    hit in a fresh one (`benchmarks.frameprobe`: time, extra peak RSS, share mapped)."""
    import json
    import subprocess

    repo = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(repo), str(repo / "backends")])}
    url, size = f"file://{tmp_path}", str(LARGE[profile])
    lines: list[str] = []
    for extra_args in ([], ["read", "read, fresh process"]):
        done = subprocess.run(
            [sys.executable, "-m", "benchmarks.frameprobe", url, size, kind, *extra_args],
            cwd=repo, capture_output=True, text=True, check=True, timeout=900, env=env,
        )  # fmt: skip
        lines += done.stdout.splitlines()
    for line in lines:
        row = json.loads(line)
        row["operation"] = f"{row.pop('kind')}: {row['operation']}"
        records.large.append({"backend": "file", "bytes": LARGE[profile], **row})

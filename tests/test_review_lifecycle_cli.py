"""Outside review of the lifecycle CLI (issue 9): what `memokey explain` prints, and what
`memokey gc` may abort among a bucket's unfinished uploads."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import boto3
import pytest

import memokey
from helpers.servers import EMULATOR_GAP, Server, ignores_delete_preconditions
from memokey.cli import main
from memokey.gc import GcPolicy, collect
from memokey.layout import INVOCATION, LEASE, sibling
from memokey.leases import LeaseRecord, try_acquire
from memokey_backends import open_store


def _train(url: str) -> Any:
    @memokey.memoize(url)
    def train(cfg: dict[str, float], seed: int) -> float:
        return cfg["lr"] * seed

    return train


def test_memokey_explain_prints_one_difference_per_line_not_escaped_newlines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"file://{tmp_path}"
    train = _train(url)
    train({"lr": 0.1}, seed=1)
    train({"lr": 0.2}, seed=1)
    first, second = (train.key_for({"lr": lr}, seed=1).uri for lr in (0.1, 0.2))
    for argv in (
        ["explain", first, second],
        ["explain", first.split("/memokey-v2/")[1], "--root", url],
    ):
        assert main(argv) == 0
        out = capsys.readouterr().out
        assert "\\x0a" not in out
        lines = out.splitlines()
        assert any(line.startswith(("to ", "nearest:")) for line in lines), out
        assert any(
            line.strip() == "cfg['lr']: 0.1 → 0.2" or line.strip() == "cfg['lr']: 0.2 → 0.1"
            for line in lines
        ), out


def test_memokey_explain_still_escapes_terminal_sequences_from_the_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"file://{tmp_path}"
    train = _train(url)
    train({"lr": 0.1, "\x1b[2Jname": 1.0}, seed=1)
    train({"lr": 0.1, "\x1b[2Jname": 2.0}, seed=1)
    first, second = (train.key_for({"lr": 0.1, "\x1b[2Jname": v}, seed=1).uri for v in (1.0, 2.0))
    assert main(["explain", first, second]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out
    assert "\\x1b[2Jname" in out


def _client(server: Server) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=server.endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )


def _open_uploads(server: Server, bucket: str) -> list[str]:
    listed = _client(server).list_multipart_uploads(Bucket=bucket)
    return sorted(u["Key"] for u in listed.get("Uploads", []))


def test_gc_aborts_only_memokeys_own_unfinished_uploads_under_a_shared_root(
    moto_server: Server, s3_root: tuple[str, dict[str, Any]]
) -> None:
    """A root may be a whole bucket (or a prefix other tools also write to): another
    program's multipart upload in progress there is not memokey's debris."""
    url, options = s3_root
    bucket = url.split("://", 1)[1].split("/", 1)[0]
    client = _client(moto_server)
    client.create_multipart_upload(Bucket=bucket, Key="root/backups/nightly.tar")
    client.create_multipart_upload(Bucket=bucket, Key="root/memokey-v2/ns/m--f/0123")
    client.create_multipart_upload(Bucket=bucket, Key="root/memokey-v2/other/m--g/4567")
    store = open_store(url, **options)

    dry = collect(store, GcPolicy(dry_run=True, debris_age=0.0))
    assert dry.uploads == 2
    scoped = collect(store, GcPolicy(namespace="ns", debris_age=0.0))
    assert scoped.uploads == 1
    assert _open_uploads(moto_server, bucket) == [
        "root/backups/nightly.tar",
        "root/memokey-v2/other/m--g/4567",
    ]
    assert collect(store, GcPolicy(debris_age=0.0)).uploads == 1
    assert _open_uploads(moto_server, bucket) == ["root/backups/nightly.tar"]


class _TakeoverDuringGc:
    """A real store through which gc works; right after gc reads a lease, another caller
    takes that (stale) lease over, as could happen between gc's read and its delete."""

    def __init__(self, store: Any, memo_dir: str) -> None:
        self._store, self._memo_dir = store, memo_dir
        self.taken: Any = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def _after_read(self, path: str) -> None:
        if self.taken is None and path == sibling(self._memo_dir, LEASE):
            self.taken = try_acquire(self._store, self._memo_dir, lease_seconds=600)
            assert self.taken is not None

    def read(self, path: str) -> Any:
        data = self._store.read(path)
        self._after_read(path)
        return data

    def read_versioned(self, path: str) -> Any:
        found = self._store.read_versioned(path)
        self._after_read(path)
        return found


def test_gc_never_deletes_a_lease_taken_over_after_gc_judged_it_stale(
    store_root: tuple[str, dict[str, Any]],
) -> None:
    url, options = store_root
    if ignores_delete_preconditions(open_store(url, **options)):
        pytest.skip(EMULATOR_GAP)

    @memokey.memoize(url, storage_options=options)
    def word(i: int) -> str:
        return "w" * i

    store = open_store(url, **options)
    pending = word.key_for(1).path
    stale = LeaseRecord.fresh(60)
    body = json.dumps({**stale.__dict__, "expires_at": time.time() - 3600}).encode()
    store.write(sibling(pending, LEASE), body)
    racing = _TakeoverDuringGc(store, pending)
    collect(racing, GcPolicy())  # type: ignore[arg-type]
    assert racing.taken is not None
    try:
        held = store.read(sibling(pending, LEASE))
        assert held is not None, "gc deleted the lease of a caller computing the key now"
        record = LeaseRecord.decode(held)
        assert record is not None
        assert not record.is_stale()
    finally:
        racing.taken.release()


@pytest.mark.parametrize(
    "argv",
    [
        ["gc", "--function", "default/word", "--older-than", "0s"],
        ["gc", "--namespace", "default/word", "--older-than", "0s"],
        ["ls", "--function", "default/word"],
        ["du", "--namespace", "default/word"],
    ],
)
def test_a_path_given_as_one_namespace_or_function_is_a_usage_error_not_zero_entries(
    tmp_path: Path, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"file://{tmp_path}"
    _train(url)({"lr": 0.1}, seed=1)
    with pytest.raises(SystemExit) as done:
        main([argv[0], url, *argv[1:]])
    assert done.value.code == 2
    assert "--namespace" in capsys.readouterr().err


_HOLDER = """
import sys, time
from memokey._local_locks import lock_for
lock = lock_for(sys.argv[1], sys.argv[2])
lock.acquire()
print("holding", flush=True)
sys.stdin.readline()
"""


def test_gc_keeps_the_invocation_of_a_remote_run_whose_caller_holds_the_local_lock(
    tmp_path: Path,
) -> None:
    """Local roots mark a key being computed with a kernel lock, not a lease file: a
    remote run queued for hours (a batch scheduler) still has a live caller, and its
    invocation must be there when the run starts."""
    url = f"file://{tmp_path}"

    @memokey.memoize(url)
    def word(i: int) -> str:
        return "w" * i

    store = open_store(url)
    pending = word.key_for(1).path
    store.write(sibling(pending, INVOCATION), b"pickled call")
    os_path = store.local_path(pending)  # type: ignore[attr-defined]
    digest = pending.rsplit("/", 1)[1]
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, os_path, digest],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "holding"
        report = collect(store, GcPolicy(), now=time.time() + 7200)
        assert store.exists(sibling(pending, INVOCATION))
        assert report.debris == 0
    finally:
        holder.communicate("done\n", timeout=60)
    collect(store, GcPolicy(), now=time.time() + 7200)  # the caller has ended: debris now
    assert not store.exists(sibling(pending, INVOCATION))

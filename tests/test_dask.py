"""DaskShim on a real dask.distributed LocalCluster (worker processes): fan-out over a
shared root, errors back from workers, and process-local roots refused."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import memokey
from helpers.core import memory_root
from helpers.remote import Root, root_on
from memokey.errors import ShimError
from memokey.layout import is_entry
from memokey.shims import DaskShim
from memokey_backends import open_store

try:
    import distributed
except ImportError:  # pragma: no cover - the dask extra is part of every CI install
    if os.environ.get("CI") == "true":
        raise
    pytest.skip(
        "dask.distributed is not installed (pip install 'memokey[dask]')", allow_module_level=True
    )

pytestmark = pytest.mark.slow


class Boom(Exception):
    pass


def where(x: int) -> tuple[int, int]:
    return x * x, os.getpid()


def explode(x: int) -> int:
    raise Boom(f"worker boom {x}")


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            worker_dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


@pytest.fixture(params=["file", "s3"])
def root(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Root]:
    yield from root_on(request.param, request, tmp_path)


def test_fan_out_runs_every_call_on_the_workers_and_stores_each_result(
    client: Any, root: Root
) -> None:
    f = memokey.memoize(root.url, storage_options=root.options, shim=DaskShim(client))(where)
    futures = [f.submit(i) for i in range(8)]
    results = [fut.result(timeout=120) for fut in futures]
    assert [value for value, _ in results] == [i * i for i in range(8)]
    assert os.getpid() not in {pid for _, pid in results}
    stored = open_store(root.url, **root.options).list("", recursive=True)
    assert sum(is_entry(e.path) for e in stored) == 8


def test_a_call_made_again_after_the_cluster_ran_it_is_a_local_hit(client: Any, root: Root) -> None:
    remote = memokey.memoize(root.url, storage_options=root.options, shim=DaskShim(client))
    value, pid = remote(where)(3)
    assert memokey.memoize(root.url, storage_options=root.options)(where)(3) == (value, pid)


def test_worker_exception_is_reraised_with_its_type_and_remote_traceback(
    client: Any, tmp_path: Path
) -> None:
    f = memokey.memoize(f"file://{tmp_path}", shim=DaskShim(client))(explode)
    with pytest.raises(Boom, match="worker boom 5") as info:
        f(5)
    assert any("Remote traceback" in n for n in getattr(info.value, "__notes__", []))


def test_dask_shim_refuses_a_memory_root(client: Any) -> None:
    f = memokey.memoize(memory_root(), shim=DaskShim(client))(where)
    with pytest.raises(ShimError, match="process-local root memory://"):
        f(1)


def test_dask_shim_needs_a_client() -> None:
    with pytest.raises(ShimError, match=r"distributed\.Client"):
        DaskShim(object())

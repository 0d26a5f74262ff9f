"""Developer and CI entry points; CI runs these same sessions through `.ci/run`.

Every session installs what it needs into its own virtualenv (uv when available), so
`python3 -m venv .venv && .venv/bin/pip install 'nox[uv]' && .venv/bin/nox -s NAME` works on a
fresh machine, also where the system Python is externally managed (PEP 668).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nox

nox.needs_version = ">=2024.4.15"
nox.options.default_venv_backend = "uv|virtualenv"
nox.options.sessions = ["lint", "typecheck", "tests"]
nox.options.reuse_existing_virtualenvs = True

ROOT = Path(__file__).parent
PYPROJECT = nox.project.load_toml("pyproject.toml")
AZURITE_VERSION = "3.35.0"
SERVERS = ROOT / ".servers"


def _install(session: nox.Session, *groups: str, extras: str = "all") -> None:
    """Install memokey as users get it (a built wheel, not the source tree) plus groups."""
    target = f".[{extras}]" if extras else "."
    session.install(target, *nox.project.dependency_groups(PYPROJECT, *groups))


def _install_azurite(session: nox.Session) -> None:
    """Azurite is an npm package; keep it in a git-ignored project-local folder."""
    if (SERVERS / "node_modules" / ".bin" / "azurite-blob").exists():
        return
    if shutil.which("npm") is None:
        session.warn("npm not found: Azure tests will be skipped (and fail under CI=true)")
        return
    SERVERS.mkdir(exist_ok=True)
    session.run(
        "npm",
        "install",
        "--prefix",
        str(SERVERS),
        "--no-audit",
        "--no-fund",
        "--loglevel=error",
        f"azurite@{AZURITE_VERSION}",
        external=True,
    )


@nox.session
def tests(session: nox.Session) -> None:
    """The whole test suite, cloud backends included (moto, fake-gcs-server, Azurite)."""
    _install(session, "test")
    _install_azurite(session)
    session.run("pytest", *session.posargs)


@nox.session(name="tests-versions", python=["3.10", "3.12", "3.13"])
def tests_versions(session: nox.Session) -> None:
    """The suite on the other supported Pythons (CI runs the machine's default one)."""
    _install(session, "test")
    _install_azurite(session)
    session.run("pytest", "-p", "no:cacheprovider", *session.posargs)


@nox.session
def tests_cloud(session: nox.Session) -> None:
    """Only the tests that need a storage server: S3, GCS and Azure."""
    _install(session, "test")
    _install_azurite(session)
    session.run("pytest", "-m", "cloud", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff: lint rules and formatting."""
    session.install(*nox.project.dependency_groups(PYPROJECT, "lint"))
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict on both packages."""
    _install(session, "typecheck")
    session.run("mypy")


@nox.session
def bench(session: nox.Session) -> None:
    """The benchmark suite; writes results.json, results.md and throughput.png."""
    _install(session, "bench")
    _install_azurite(session)
    raw = ROOT / "benchmarks" / "results" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    session.run(
        "pytest",
        "benchmarks",
        "-p",
        "no:cacheprovider",
        f"--benchmark-json={raw / 'bench.json'}",
        *session.posargs,
    )
    session.run(
        "python",
        "-m",
        "benchmarks.report",
        str(raw / "bench.json"),
        str(ROOT / "benchmarks" / "results"),
    )


@nox.session
def demo(session: nox.Session) -> None:
    """The main job: a real pipeline on the default local-disk root; run twice to see hits."""
    _install(session, extras="")
    session.run("memokey", "demo", *session.posargs, env={"PYTHONUNBUFFERED": "1"})
    if os.environ.get("CI") == "true":
        session.log("CI: second run shows the hits")
        session.run("memokey", "demo", *session.posargs)

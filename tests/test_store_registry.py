"""The store registry: which factory serves a URL, and how packages add their own."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import memokey_backends
from memokey_backends import BackendNotInstalledError, Store, open_store, register, registry
from memokey_backends.fsspec_open import open_fsspec_store


def _run(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**__import__("os").environ, **env},
        check=False,
    )


def test_registry_view_is_read_only() -> None:
    with pytest.raises(TypeError):
        registry["s3"] = open_fsspec_store  # type: ignore[index]


def test_registry_lists_the_builtin_schemes() -> None:
    assert {"file", "memory", "s3", "gs", "gcs", "az", "abfs", "abfss"} <= set(registry)


def test_register_refuses_to_replace_an_existing_scheme_silently() -> None:
    with pytest.raises(ValueError, match="clobber=True"):
        register("s3", open_fsspec_store)


def test_registered_factory_serves_its_scheme() -> None:
    made: list[str] = []

    def factory(url: str, **options: Any) -> Store:
        made.append(url)
        return open_fsspec_store("memory://" + url.split("://", 1)[1], **options)

    register("memokeytest", factory)
    store = open_store("memokeytest://reg/one")
    store.write("x", b"1")
    assert made == ["memokeytest://reg/one"]
    assert open_store("memory://reg/one").read("x") == b"1"


def test_clobber_replaces_a_registered_factory() -> None:
    register("memokeyclobber", open_fsspec_store)
    register("memokeyclobber", "memokey_backends.fsspec_open:open_fsspec_store", clobber=True)
    assert registry["memokeyclobber"] == "memokey_backends.fsspec_open:open_fsspec_store"


def test_entry_point_group_registers_third_party_stores(tmp_path: Path) -> None:
    (tmp_path / "thirdparty_store.py").write_text(
        "from memokey_backends.fsspec_open import open_fsspec_store\n"
        "def factory(url, **options):\n"
        "    return open_fsspec_store('memory://tp/' + url.split('://', 1)[1], **options)\n"
    )
    dist = tmp_path / "thirdparty_store-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: thirdparty-store\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[memokey.backends]\ntp = thirdparty_store:factory\n")
    out = _run(
        f"""
        import sys; sys.path.insert(0, {str(tmp_path)!r})
        from memokey_backends import open_store
        print(open_store("tp://x").url)
        """
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "memory:///tp/x"


def test_local_and_memory_roots_import_no_cloud_sdk() -> None:
    out = _run(
        """
        import sys, tempfile
        from memokey_backends import open_store
        open_store(tempfile.mkdtemp()).write("a", b"1")
        open_store("memory://x").write("a", b"1")
        print(sorted(m for m in ("s3fs", "gcsfs", "adlfs", "botocore") if m in sys.modules))
        """
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("url", "package", "extra"),
    [("s3://b/p", "s3fs", "s3"), ("gs://b/p", "gcsfs", "gcs"), ("az://c/p", "adlfs", "azure")],
)
def test_missing_cloud_package_names_the_extra_to_install(
    url: str, package: str, extra: str
) -> None:
    out = _run(
        f"""
        import sys
        sys.modules[{package!r}] = None  # as if the package were not installed
        from memokey_backends import open_store, BackendNotInstalledError
        try:
            open_store({url!r})
        except BackendNotInstalledError as exc:
            print(exc.extra)
            print(exc)
        """
    )
    assert out.returncode == 0, out.stderr
    extra_line, message = out.stdout.split("\n", 1)
    assert extra_line == extra
    assert f"pip install 'memokey[{extra}]'" in message


def test_backend_not_installed_is_a_store_error() -> None:
    assert issubclass(BackendNotInstalledError, memokey_backends.StoreError)

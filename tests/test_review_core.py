"""Outside review of issue 11's core hardening: names, settings, crash recovery, CLI.

Each test is a problem the review found on main (it failed there) and now pins the fix.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from memokey.cli import main, split_memo_uri
from memokey.results import encode_result

DIGEST = "0123456789abcdef0123456789abcdef"
OTHER = "fedcba9876543210fedcba9876543210"


def _entries(root: Path, function: str, *digests: str) -> None:
    for digest in digests:
        entry = root / "memokey-v2" / "default" / function / digest
        entry.mkdir(parents=True)
        (entry / "result").write_bytes(encode_result(1))


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
            f"file:///d/memokey-v2/memokey-v2/default/m--f/{DIGEST}/result",
            ("file:///d/memokey-v2", f"memokey-v2/default/m--f/{DIGEST}"),
        ),
        (  # a namespace may be called like the scheme directory
            f"s3://b/memokey-v2/memokey-v2/m--f/{DIGEST}",
            ("s3://b", f"memokey-v2/memokey-v2/m--f/{DIGEST}"),
        ),
        (
            f"s3://b/memokey-v2/x/memokey-v2/ns/m--f/{DIGEST}/meta.json",
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
    assert main(["rm", f"file://{tmp_path}/memokey-v2/default/m--f/{DIGEST}/notes"]) == 1
    assert (tmp_path / "memokey-v2" / "default" / "m--f" / DIGEST / "result").exists()


def _function_dir_linked_outside(tmp_path: Path) -> tuple[Path, Path]:
    root, outside = tmp_path / "root", tmp_path / "precious"
    (outside / DIGEST).mkdir(parents=True)
    (outside / DIGEST / "result").write_bytes(b"keep me")
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
    assert (outside / DIGEST / "result").read_bytes() == b"keep me"


def test_rm_follows_no_symlink_out_of_a_root_given_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, outside = _function_dir_linked_outside(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert main(["rm", f"file://{root.name}/memokey-v2/default/m--f/{DIGEST}"]) == 1
    assert main(["rm", f"{root.name}/memokey-v2/default/m--f/{DIGEST}"]) == 1
    assert (outside / DIGEST / "result").read_bytes() == b"keep me"


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

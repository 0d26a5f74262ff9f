"""``memokey.memoize(f, **options)`` honours every option, exactly as
``memokey.memoize(**options)(f)`` does."""

from __future__ import annotations

from pathlib import Path

import memokey
from memokey.shims import same_thread


def _double(x: int) -> int:
    return 2 * x


def test_memoize_with_the_function_and_options_honours_every_option(tmp_path: Path) -> None:
    root = (tmp_path / "memo").as_uri()
    direct = memokey.memoize(
        _double,
        root=root,
        namespace="exp",
        logic_key="v2",
        storage_options={},
        serializer="pickle",
        shim=same_thread,
        lease_seconds=5,
        cache_errors=True,
        code="key",
    )
    runner = direct.runner
    assert isinstance(runner, memokey.MemoizingRunner)
    assert (runner.root, runner.namespace, runner.logic_key) == (root, "exp", "v2")
    assert runner.serializer.name == "pickle"
    assert runner.lease_seconds == 5
    assert runner.cache_errors
    assert runner.code == "key"
    key = direct.key_for(3)
    assert key.uri.startswith(f"{root}/memokey-v2/exp/")
    assert key.logic_key == "v2"
    assert key.code_version is not None
    assert direct(3) == 6
    assert (tmp_path / "memo" / key.path).is_file()


def test_memoize_with_the_function_keys_like_the_decorator_form(tmp_path: Path) -> None:
    root = (tmp_path / "memo").as_uri()
    direct = memokey.memoize(_double, root=root, namespace="exp", logic_key="v2")
    decorated = memokey.memoize(root, namespace="exp", logic_key="v2")(_double)
    assert direct.key_for(3) == decorated.key_for(3)

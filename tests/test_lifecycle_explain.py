""" "Why did this miss?": each entry's trailer holds a key manifest; f.explain(...) and
``memokey explain`` name exactly what differs from the nearest stored entries."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import memokey
from memokey.cli import main

Location = tuple[str, dict[str, Any]]


def _train(location: Location) -> Any:
    url, options = location

    @memokey.memoize(url, storage_options=options)
    def train(cfg: dict[str, Any], seed: int = 0) -> float:
        return float(cfg["lr"]) * (seed + 1)

    return train


def test_the_trailer_holds_a_key_manifest_one_level_into_containers(
    store_root: Location,
) -> None:
    train = _train(store_root)
    train({"lr": 0.1, "layers": [64, 64]}, seed=3)
    (entry,) = list(train.entries())
    manifest = entry.meta["manifest"]
    assert manifest["seed"]["type"] == "builtins.int"
    assert manifest["seed"]["digest"] == memokey.digest(3)
    assert manifest["seed"]["hasher"] == "memokey"
    cfg = manifest["cfg"]
    assert cfg["digest"] == memokey.digest({"lr": 0.1, "layers": [64, 64]})
    assert cfg["children"]["'lr'"] == {
        "type": "builtins.float",
        "digest": memokey.digest(0.1),
        "repr": "0.1",
    }
    assert cfg["length"] == 2


def test_explain_names_the_changed_value_inside_an_argument(store_root: Location) -> None:
    train = _train(store_root)
    train({"lr": 0.1, "layers": 2})
    text = train.explain({"lr": 0.1000001, "layers": 2})
    assert text.startswith("miss:")
    assert "cfg['lr']: 0.1 → 0.1000001" in text
    assert "layers" not in text  # equal values are not named
    assert "(1 difference)" in text


def test_explain_of_a_stored_call_says_hit(memory_root: Location) -> None:
    train = _train(memory_root)
    train({"lr": 0.5})
    assert train.explain({"lr": 0.5}).startswith("hit:")


def test_explain_names_dataframe_columns_whose_dtype_changed(memory_root: Location) -> None:
    url, options = memory_root

    @memokey.memoize(url, storage_options=options)
    def total(df: pd.DataFrame) -> int:
        return int(df["x"].sum())

    total(pd.DataFrame({"x": [1, 2, 3], "y": [0.5, 0.5, 0.5]}))
    text = total.explain(
        pd.DataFrame({"x": pd.array([1, 2, 3], dtype="Int64"), "y": [0.5, 0.5, 0.5]})
    )
    assert "df['x']: int64 → Int64" in text
    assert "df['y']" not in text


def test_explain_names_added_arguments_and_type_changes(memory_root: Location) -> None:
    url, options = memory_root

    @memokey.memoize(url, storage_options=options)
    def scale(x: Any, **extra: Any) -> Any:
        return x

    scale(1)
    text = scale.explain(1.0)
    assert "x: int → float" in text


def test_explain_names_the_code_change_between_versions(tmp_path: Path) -> None:
    """Two code versions of one function: the nearest entry is the old version's, and
    the report names what changed in the code."""
    import importlib
    import sys

    url = f"file://{tmp_path}/root"
    module = tmp_path / "explain_mod_v.py"
    module.write_text(
        "import memokey\n"
        "def clean_text(s):\n    return s.strip()\n"
        f"@memokey.memoize({url!r})\n"
        "def prep(s):\n    return clean_text(s)\n"
    )
    sys.path.insert(0, str(tmp_path))
    try:
        mod = importlib.import_module("explain_mod_v")
        mod.prep(" a ")
        module.write_text(module.read_text().replace("s.strip()", "s.strip().lower()"))
        sys.modules.pop("explain_mod_v")
        importlib.invalidate_caches()
        mod = importlib.import_module("explain_mod_v")
        text = mod.prep.explain(" a ")
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("explain_mod_v", None)
    assert text.startswith("miss:")
    assert "code: " in text
    assert "clean_text changed" in text


def test_memokey_explain_compares_two_entries_or_one_with_its_nearest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"file://{tmp_path}"
    train = _train((url, {}))
    train({"lr": 0.1}, seed=1)
    train({"lr": 0.2}, seed=1)
    first, second = (train.key_for({"lr": lr}, seed=1).uri for lr in (0.1, 0.2))
    assert main(["explain", first, second]) == 0
    assert "cfg['lr']: 0.1 → 0.2" in capsys.readouterr().out
    entry_id = first.split("/memokey-v2/", 1)[1]
    assert main(["explain", entry_id, "--root", url]) == 0
    out = capsys.readouterr().out
    assert "nearest:" in out
    assert "cfg['lr']: 0.2 → 0.1" in out


def test_the_manifest_is_not_built_on_a_hit(
    memory_root: Location, monkeypatch: pytest.MonkeyPatch
) -> None:
    train = _train(memory_root)
    train({"lr": 0.1})
    import memokey._targets

    def refuse(*_: object) -> None:
        raise AssertionError("a hit built a key manifest")

    monkeypatch.setattr(memokey._targets, "key_manifest", refuse)
    assert train({"lr": 0.1}) == 0.1

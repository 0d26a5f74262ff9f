"""Digests are stable across processes: the same under every PYTHONHASHSEED, and for
classes defined in a script's ``__main__``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SCRIPT = """
import dataclasses, json
from memokey.hashing import digest

@dataclasses.dataclass
class Job:
    name: str
    tags: frozenset

words = [f"word{i}" for i in range(200)]
values = {
    "set_of_str": set(words),
    "frozenset_of_str": frozenset(words),
    "set_of_tuples": {(w, i) for i, w in enumerate(words)},
    "dict": {w: i for i, w in enumerate(words)},
    "nested": [{"tags": set(words[:20])} for _ in range(30)],
    "main_dataclass": Job("etl", frozenset(words[:10])),
    "main_class": Job,
}
print(json.dumps({name: digest(value) for name, value in values.items()}))
"""


def _digests(tmp_path: Path, seed: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONHASHSEED": seed}
    result = subprocess.run(
        [sys.executable, "job_script.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout)  # type: ignore[no-any-return]


@pytest.mark.slow
def test_digests_are_identical_under_different_hash_seeds(tmp_path: Path) -> None:
    (tmp_path / "job_script.py").write_text(textwrap.dedent(SCRIPT))
    runs = [_digests(tmp_path, seed) for seed in ("0", "1", "12345", "random")]
    assert all(run == runs[0] for run in runs[1:])
    assert len(set(runs[0].values())) == len(runs[0])

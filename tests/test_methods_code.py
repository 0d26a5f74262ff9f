"""A memoized method's code fingerprint covers its class: editing a helper method it calls
through ``self`` re-keys it (the helper is not a global name the code walk would find),
and reverting the edit finds the old entries again."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

MODULE = """
import memokey

class Model:
    scale = {scale}

    def __init__(self, k):
        self.k = k

    def helper(self, x):
        return x + {offset}

    @memokey.memoize("memory://code")
    def predict(self, x):
        return self.helper(x) * self.k * self.scale + self.tidied(x)

    @memokey.memoize("memory://code")
    def tidied(self, x):
        return tidy(x)

    @memokey.memoize("memory://code")
    @classmethod
    def build(cls, k):
        return cls(k)

def tidy(x):
    return x * {tidy}
"""

PRINT_KEYS = (
    "import modelcode; m = modelcode.Model(2); "
    "print(m.predict.key_for(3).path.split('/')[2]); "
    "print(modelcode.Model.build.key_for(1).path.split('/')[2])"
)


def _keys(tmp_path: Path, *, scale: int = 1, offset: int = 1, tidy: int = 1) -> list[str]:
    (tmp_path / "modelcode.py").write_text(MODULE.format(scale=scale, offset=offset, tidy=tidy))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])}
    result = subprocess.run(
        [sys.executable, "-B", "-c", PRINT_KEYS],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.split()


@pytest.mark.slow
def test_editing_a_helper_method_re_keys_the_memoized_methods_of_its_class(
    tmp_path: Path,
) -> None:
    before = _keys(tmp_path)
    helper_edited = _keys(tmp_path, offset=2)
    attribute_edited = _keys(tmp_path, scale=3)
    sibling_helper_edited = _keys(tmp_path, tidy=2)
    reverted = _keys(tmp_path)
    assert helper_edited[0] != before[0]
    assert helper_edited[1] != before[1]
    assert attribute_edited[0] not in (before[0], helper_edited[0])
    assert sibling_helper_edited[0] not in (before[0], helper_edited[0], attribute_edited[0])
    assert reverted == before

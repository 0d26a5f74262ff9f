"""Editing code re-keys: a function's key names the code that computes it.

Each test writes real modules to a temporary directory, imports them, edits and reloads
them (as a user edits a file between runs or re-runs a notebook cell), and checks which
code's result comes back. Counting modules (``PREFIX_counter``) are never reloaded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import memokey
from helpers.modules import ModuleWriter

COUNTER = """
RUNS = []
"""

TRAIN = """
import memokey
import PREFIX_counter

THRESHOLD = 0.5


def clean_text(text):
    return text.strip().lower()


@memokey.memoize("ROOT")
def train(text):
    PREFIX_counter.RUNS.append(text)
    return (clean_text(text), THRESHOLD)
"""


@pytest.fixture
def root(tmp_path: Path) -> str:
    return (tmp_path / "memo").as_uri()


def _write(modules: ModuleWriter, root: str, source: str = TRAIN) -> Any:
    return modules.write("train", source.replace("ROOT", root))


def test_editing_the_body_rekeys_and_reverting_hits_again(modules: ModuleWriter, root: str) -> None:
    counter = modules.write("counter", COUNTER)
    first = _write(modules, root)
    assert first.train(" A ") == ("a", 0.5)
    edited_body = TRAIN.replace("(clean_text(text), THRESHOLD)", "(clean_text(text), -1)")
    edited = _write(modules, root, edited_body)
    assert edited.train(" A ") == ("a", -1)  # the new body's result, not the stored one
    reverted = _write(modules, root)
    assert reverted.train(" A ") == ("a", 0.5)
    assert counter.RUNS == [" A ", " A "]  # the revert was a hit


def test_editing_a_helper_rekeys(modules: ModuleWriter, root: str) -> None:
    modules.write("counter", COUNTER)
    assert _write(modules, root).train(" A ") == ("a", 0.5)
    edited = _write(modules, root, TRAIN.replace("text.strip().lower()", "text.upper()"))
    assert edited.train(" A ") == (" A ", 0.5)


def test_comments_docstrings_and_formatting_do_not_rekey(modules: ModuleWriter, root: str) -> None:
    counter = modules.write("counter", COUNTER)
    first = _write(modules, root)
    key = first.train.key_for("x")
    restyled = TRAIN.replace(
        "def clean_text(text):\n    return text.strip().lower()",
        'def clean_text(text):  # lowercase it\n    """Normalize."""\n\n'
        "    return (text.strip()\n            .lower())",
    )
    assert restyled != TRAIN
    again = _write(modules, root, restyled)
    assert again.train.key_for("x") == key
    first.train("x")
    again.train("x")
    assert counter.RUNS == ["x"]


def test_a_global_constant_rebound_rekeys_the_next_call(modules: ModuleWriter, root: str) -> None:
    modules.write("counter", COUNTER)
    module = _write(modules, root)
    assert module.train("a") == ("a", 0.5)
    module.THRESHOLD = 0.7  # a notebook user re-runs the cell `THRESHOLD = 0.7`
    assert module.train("a") == ("a", 0.7)


def test_a_helper_reassigned_rekeys_the_next_call(modules: ModuleWriter, root: str) -> None:
    modules.write("counter", COUNTER)
    module = _write(modules, root)
    assert module.train(" A ") == ("a", 0.5)
    module.clean_text = lambda text: "replaced"
    assert module.train(" A ") == ("replaced", 0.5)


def test_a_mutable_constant_changed_in_place_rekeys(modules: ModuleWriter, root: str) -> None:
    modules.write("counter", COUNTER)
    module = _write(
        modules,
        root,
        TRAIN.replace("THRESHOLD = 0.5", "CONFIG = {'threshold': 0.5}").replace(
            "THRESHOLD)", "CONFIG['threshold'])"
        ),
    )
    assert module.train("a") == ("a", 0.5)
    module.CONFIG["threshold"] = 0.9
    assert module.train("a") == ("a", 0.9)


def test_reassigning_code_or_defaults_of_a_helper_rekeys(modules: ModuleWriter, root: str) -> None:
    modules.write("counter", COUNTER)
    module = _write(
        modules,
        root,
        TRAIN.replace("def clean_text(text):", "def clean_text(text, upper=False):").replace(
            "return text.strip().lower()",
            "return text.strip().upper() if upper else text.strip().lower()",
        ),
    )
    assert module.train(" A ") == ("a", 0.5)
    module.clean_text.__defaults__ = (True,)
    assert module.train(" A ") == ("A", 0.5)
    module.clean_text.__code__ = (lambda text, upper=False: "code").__code__
    assert module.train(" A ") == ("code", 0.5)


def test_a_helper_reached_through_a_first_party_module_rekeys_when_edited(
    modules: ModuleWriter, root: str
) -> None:
    modules.write("counter", COUNTER)
    modules.write("utils", "def clean_text(text):\n    return text.lower()\n")
    source = """
import memokey
import PREFIX_utils as utils


@memokey.memoize("ROOT")
def train(text):
    return utils.clean_text(text)
"""
    module = _write(modules, root, source)
    assert module.train("A") == "a"
    modules.write("utils", "def clean_text(text):\n    return text + '!'\n")
    assert module.train("A") == "A!"


def test_a_counter_the_function_updates_is_its_state_not_an_input(
    modules: ModuleWriter, root: str
) -> None:
    source = """
import memokey

SEEN = {}


@memokey.memoize("ROOT")
def count(x):
    SEEN[x] = SEEN.get(x, 0) + 1
    return SEEN[x]
"""
    module = _write(modules, root, source)
    assert module.count(1) == 1
    assert module.count(1) == 1  # a hit: its own write to SEEN did not re-key it
    assert module.SEEN == {1: 1}


def test_recursive_and_mutually_recursive_helpers_terminate_and_key_deterministically(
    modules: ModuleWriter, root: str
) -> None:
    source = """
import memokey


def is_even(n):
    return True if n == 0 else is_odd(n - 1)


def is_odd(n):
    return False if n == 0 else is_even(n - 1)


@memokey.memoize("ROOT")
def parity(n):
    return is_even(n)
"""
    module = _write(modules, root, source)
    key = module.parity.key_for(4)
    assert module.parity(4) is True
    reloaded = _write(modules, root, source)
    assert reloaded.parity.key_for(4) == key
    edited = _write(modules, root, source.replace("False if n == 0", "None if n == 0"))
    assert edited.parity.key_for(4) != key


def test_library_code_is_named_not_walked(modules: ModuleWriter, root: str) -> None:
    source = """
import json
import memokey


@memokey.memoize("ROOT")
def dump(x):
    return json.dumps(x)
"""
    module = _write(modules, root, source)
    parts = memokey.code_fingerprint(module.dump.__wrapped__).parts
    assert list(parts) == ["body of dump"]


def test_a_global_that_cannot_be_inspected_counts_by_its_type(
    modules: ModuleWriter, root: str
) -> None:
    source = """
import memokey


class Proxy:
    def __getattr__(self, name):
        raise RuntimeError("no context bound")

    def __reduce_ex__(self, protocol):
        raise RuntimeError("no context bound")


CURRENT = Proxy()


@memokey.memoize("ROOT")
def uses_proxy(x):
    return (x, CURRENT is not None)
"""
    module = _write(modules, root, source)
    assert module.uses_proxy(1) == (1, True)
    fingerprint = memokey.code_fingerprint(module.uses_proxy)
    assert module.uses_proxy.key_for(1).code_version == fingerprint.digest

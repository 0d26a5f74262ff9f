"""``code=``: "key" (the fingerprint is in the path), "warn" (keyed by the logic key; a
hit made by other code logs one warning naming what changed), "off". Default: "key"
without a logic key, "warn" with one."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

import memokey
from helpers.modules import ModuleWriter
from memokey.errors import ConfigurationError

SOURCE = """
import memokey

THRESHOLD = 0.5


def clean_text(text):
    return text.lower()


@memokey.memoize("ROOT", OPTIONS)
def train(text):
    return (clean_text(text), THRESHOLD)
"""


@pytest.fixture
def root(tmp_path: Path) -> str:
    return (tmp_path / "memo").as_uri()


def _write(modules: ModuleWriter, root: str, options: str, source: str = SOURCE) -> Any:
    return modules.write("train", source.replace("ROOT", root).replace("OPTIONS", options))


def test_without_a_logic_key_the_default_is_key(modules: ModuleWriter, root: str) -> None:
    module = _write(modules, root, "namespace='n'")
    key = module.train.key_for("A")
    assert key.code_version == memokey.code_fingerprint(module.train).digest
    assert f"/{key.function_id}={key.code_version}/" in key.uri


def test_with_a_logic_key_the_default_is_warn(modules: ModuleWriter, root: str) -> None:
    module = _write(modules, root, "logic_key='v1'")
    key = module.train.key_for("A")
    assert key.code_version is None
    assert f"/{key.function_id}@v1/" in key.uri


def test_a_docstring_logic_key_also_makes_warn_the_default(
    modules: ModuleWriter, root: str
) -> None:
    source = SOURCE.replace(
        "def train(text):\n", 'def train(text):\n    """function-logic-key: v7"""\n'
    )
    module = _write(modules, root, "namespace='n'", source)
    assert module.train.key_for("A").code_version is None


def test_code_key_with_a_logic_key_puts_both_in_the_path(modules: ModuleWriter, root: str) -> None:
    module = _write(modules, root, "logic_key='v1', code='key'")
    key = module.train.key_for("A")
    assert key.code_version is not None
    assert f"/{key.function_id}@v1={key.code_version}/" in key.uri


def test_warn_mode_logs_exactly_one_warning_naming_the_changed_helper(
    modules: ModuleWriter, root: str, caplog: pytest.LogCaptureFixture
) -> None:
    first = _write(modules, root, "logic_key='v1'")
    assert first.train("A") == ("a", 0.5)
    edited = _write(modules, root, "logic_key='v1'", SOURCE.replace("text.lower()", "text.upper()"))
    with caplog.at_level(logging.WARNING, logger="memokey"):
        assert edited.train("A") == ("a", 0.5)  # served: the user owns invalidation
        assert edited.train("A") == ("a", 0.5)
        edited.train.key_for("A")
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, warnings
    assert "helper clean_text changed" in warnings[0]
    assert "body of train" not in warnings[0]
    assert "bump its logic key" in warnings[0]
    assert "code='key'" in warnings[0]


def test_warn_mode_names_a_changed_constant_and_a_changed_body(
    modules: ModuleWriter, root: str, caplog: pytest.LogCaptureFixture
) -> None:
    _write(modules, root, "logic_key='v1'").train("A")
    edited = _write(
        modules,
        root,
        "logic_key='v1'",
        SOURCE.replace("THRESHOLD = 0.5", "THRESHOLD = 0.7").replace(
            "return (clean_text", "return tuple(clean_text"
        ),
    )
    with caplog.at_level(logging.WARNING, logger="memokey"):
        edited.train("A")
    (message,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "constant THRESHOLD changed" in message
    assert "body of train changed" in message


def test_warn_mode_is_silent_when_the_code_is_the_same(
    modules: ModuleWriter, root: str, caplog: pytest.LogCaptureFixture
) -> None:
    _write(modules, root, "logic_key='v1'").train("A")
    with caplog.at_level(logging.WARNING, logger="memokey"):
        _write(modules, root, "logic_key='v1'").train("A")
    assert not [r for r in caplog.records if r.levelno == logging.WARNING]


def test_code_off_keys_by_name_and_never_warns(
    modules: ModuleWriter, root: str, caplog: pytest.LogCaptureFixture
) -> None:
    first = _write(modules, root, "code='off'")
    assert first.train.key_for("A").code_version is None
    first.train("A")
    edited = _write(modules, root, "code='off'", SOURCE.replace("text.lower()", "text"))
    with caplog.at_level(logging.WARNING, logger="memokey"):
        assert edited.train("A") == ("a", 0.5)  # what "off" means: the user's choice
    assert not [r for r in caplog.records if r.levelno == logging.WARNING]


def test_an_unknown_code_mode_is_refused_at_decoration(root: str) -> None:
    with pytest.raises(ConfigurationError, match="'key'"):
        memokey.memoize(root, code="yes")  # type: ignore[call-overload]
    with pytest.raises(ConfigurationError, match="'warn'"):
        memokey.MemoizingRunner(root, code="always")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        memokey.use_runner(memokey.MemoizingRunner(root), code="on")  # type: ignore[arg-type]


def test_use_runner_code_overrides_the_runner_for_that_function(
    modules: ModuleWriter, root: str
) -> None:
    module = _write(modules, root, "code='off'")
    runner = memokey.MemoizingRunner(root, code="off")
    keyed = memokey.use_runner(runner, code="key")(module.clean_text)
    plain = memokey.use_runner(runner)(module.train.__wrapped__)
    assert keyed.key_for("A").code_version is not None
    assert plain.key_for("A").code_version is None


def test_keyed_local_runner_uses_the_fingerprint_of_the_function_its_keyfunc_returns(
    modules: ModuleWriter, root: str
) -> None:
    module = modules.write(
        "keyfunc",
        """
def canonical(text):
    return text.lower()


def other(text):
    return text.upper()


def to_canonical(c, args, kwargs):
    return canonical, args, kwargs
""",
    )
    runner = memokey.KeyedLocalRunner(root, keyfunc=module.to_canonical)
    run = memokey.use_runner(runner)(module.other)
    key = run.key_for("A")
    assert key.function_id.endswith("--canonical")
    assert key.code_version == memokey.code_fingerprint(module.canonical).digest


class CountingStore:
    """A real memory:// store that records the paths it is asked to read."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.reads: list[str] = []

    def read(self, path: str, *args: Any, **kwargs: Any) -> Any:
        self.reads.append(path)
        return self._inner.read(path, *args, **kwargs)

    def read_buffer(self, path: str) -> Any:  # the hit path's read (may memory-map)
        self.reads.append(path)
        return self._inner.read_buffer(path)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def test_a_warn_mode_hit_made_by_other_code_is_still_one_read(
    modules: ModuleWriter, caplog: pytest.LogCaptureFixture
) -> None:
    from memokey_backends import open_store
    from memokey_backends.registry import register

    register(
        "countingmem",
        lambda url, **options: CountingStore(
            open_store(url.replace("countingmem://", "memory://"), **options)
        ),
        clobber=True,
    )
    root = f"countingmem://{modules.prefix}"
    _write(modules, root, "logic_key='v1'").train("A")
    edited = _write(modules, root, "logic_key='v1'", SOURCE.replace("text.lower()", "text.upper()"))
    store = open_store(root)
    assert isinstance(store, CountingStore)
    store.reads.clear()
    with caplog.at_level(logging.WARNING, logger="memokey"):
        assert edited.train("A") == ("a", 0.5)
    assert len(store.reads) == 1  # the result; its header carries the fingerprint
    assert [r for r in caplog.records if r.levelno == logging.WARNING]

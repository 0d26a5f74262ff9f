"""The ``__memokey__(self)`` hook: a class says what identifies its instances (a model's
config, say); the key is its type plus the canonical encoding of what the hook returns.
It wins over ``__reduce_ex__``; a user's `register_hasher` wins over it. And the advice an
unkeyable ``self`` gets points at the hook, never at dropping ``self`` from the key."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import pytest

import memokey
from helpers.core import memory_root
from memokey import UnkeyableArgumentError, digest, memoize
from memokey.hashing import registry
from memokey.hashing.core import reset_handler_cache
from memokey.roots import ENV_VAR

RUNS: Counter[str] = Counter()


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch) -> None:
    RUNS.clear()
    monkeypatch.setenv(ENV_VAR, memory_root())


class Model:
    """Holds a live resource next to its config; only the config decides results."""

    def __init__(self, width: int, depth: int = 2) -> None:
        self.config = {"width": width, "depth": depth}
        self.lock = threading.Lock()  # cannot be keyed, does not change any result
        self.calls = 0

    def __memokey__(self) -> object:
        return self.config

    @memoize
    def predict(self, x: int) -> int:
        RUNS["predict"] += 1
        return self.config["width"] * x


class OtherModel:
    def __init__(self, width: int, depth: int = 2) -> None:
        self.config = {"width": width, "depth": depth}

    def __memokey__(self) -> object:
        return self.config


def test_an_object_with_memokey_is_keyed_by_what_the_hook_returns() -> None:
    a, b = Model(3), Model(3)
    b.calls = 99  # not part of what identifies it
    assert digest(a) == digest(b)
    assert digest(Model(3)) != digest(Model(4))
    assert digest(Model(3, depth=2)) != digest(Model(3, depth=3))


def test_the_memokey_hook_lets_methods_of_models_with_live_resources_be_memoized() -> None:
    assert Model(2).predict(5) == 10
    assert Model(2).predict(5) == 10
    assert Model(3).predict(5) == 15
    assert RUNS["predict"] == 2


def test_the_type_of_an_object_with_memokey_is_part_of_its_key() -> None:
    assert digest(Model(3)) != digest(OtherModel(3))
    assert digest(Model(3)) != digest({"width": 3, "depth": 2})


def test_memokey_wins_over_reduce_ex() -> None:
    class Reduces:
        def __init__(self, n: int) -> None:
            self.n = n

        def __reduce_ex__(self, protocol: Any) -> Any:
            return (Reduces, (0,))  # claims every instance is Reduces(0)

        def __memokey__(self) -> object:
            return self.n

    assert digest(Reduces(1)) != digest(Reduces(2))


def test_register_hasher_wins_over_memokey() -> None:
    class Configured:
        def __init__(self, n: int, tag: str) -> None:
            self.n, self.tag = n, tag

        def __memokey__(self) -> object:
            return self.n

    try:
        memokey.register_hasher(Configured, lambda obj: obj.tag)
        assert digest(Configured(1, "a")) == digest(Configured(2, "a"))
        assert digest(Configured(1, "a")) != digest(Configured(1, "b"))
    finally:
        registry._REDUCERS.pop(Configured, None)
        reset_handler_cache()


def test_a_subclass_inherits_memokey_and_keys_its_own_type() -> None:
    class Sub(Model):
        pass

    assert digest(Sub(3)) == digest(Sub(3))
    assert digest(Sub(3)) != digest(Model(3))


def test_an_error_inside_memokey_is_an_unkeyable_argument_error_naming_the_path() -> None:
    class Broken:
        def __memokey__(self) -> object:
            raise RuntimeError("config not loaded")

    @memoize
    def use(cfg: dict[str, Any]) -> int:
        return 1

    with pytest.raises(UnkeyableArgumentError) as info:
        use({"model": Broken()})
    message = str(info.value)
    assert info.value.path == "cfg['model']"
    assert "__memokey__" in message
    assert "config not loaded" in message


def test_what_memokey_returns_is_checked_like_any_argument() -> None:
    class HoldsLock:
        def __memokey__(self) -> object:
            return {"lock": threading.Lock()}

    with pytest.raises(UnkeyableArgumentError) as info:
        digest([HoldsLock()])
    assert info.value.path.startswith("value[0]")
    assert "['lock']" in info.value.path


def test_memokey_returning_the_object_itself_is_refused() -> None:
    class Selfish:
        def __memokey__(self) -> object:
            return self

    with pytest.raises(UnkeyableArgumentError, match="__memokey__"):
        digest(Selfish())


# -- advice for an unkeyable self --------------------------------------------------------


class Unkeyable:
    def __init__(self, n: int) -> None:
        self.n = n
        self.lock = threading.Lock()

    @memoize
    def run(self, x: int) -> int:
        return self.n * x


def test_advice_for_an_unkeyable_self_points_at_memokey_and_register_hasher() -> None:
    with pytest.raises(UnkeyableArgumentError) as info:
        Unkeyable(2).run(1)
    message = str(info.value)
    assert info.value.parameter == "self"
    assert "__memokey__" in message
    assert "register_hasher" in message
    assert "nil_args('self')" not in message


def test_advice_to_drop_an_argument_says_it_must_not_change_the_result() -> None:
    @memoize
    def query(conn: object, table: str) -> int:
        return 1

    with pytest.raises(UnkeyableArgumentError) as info:
        query(threading.Lock(), "t")
    message = str(info.value)
    assert "nil_args('conn')" in message
    assert "cannot change the result" in message

"""Every setting of `memoize` and the runners is checked when a function is decorated,
with a `ConfigurationError` that shows what to write instead."""

from __future__ import annotations

import math
from typing import Any

import pytest

import memokey
from memokey.errors import ConfigurationError
from memokey.runners import KeyedLocalRunner, MemoizingRunner
from memokey.shims import SubprocessShim

BAD_SETTINGS: list[tuple[dict[str, Any], str]] = [
    ({"storage_options": "notadict"}, "storage_options={'profile': 'dev'}"),
    ({"storage_options": {1: "x"}}, "storage_options={'profile': 'dev'}"),
    ({"lease_seconds": "10"}, "lease_seconds=60"),
    ({"lease_seconds": math.inf}, "lease_seconds=60"),
    ({"lease_seconds": math.nan}, "lease_seconds=60"),
    ({"lease_seconds": 1e-4}, "lease_seconds=60"),
    ({"lease_seconds": 0}, "lease_seconds=60"),
    ({"lease_seconds": -5}, "lease_seconds=60"),
    ({"lease_seconds": 86_401}, "lease_seconds=60"),
    ({"lease_seconds": True}, "lease_seconds=60"),
    ({"cache_errors": "no"}, "cache_errors=True"),
    ({"cache_errors": 0}, "cache_errors=True"),
    ({"namespace": 3}, "namespace="),
    ({"serializer": 42}, "'cloudpickle'"),
    ({"serializer": "no-such-format"}, "register_serializer"),
    ({"shim": ...}, "shim=memokey.shims.same_thread"),
    ({"shim": SubprocessShim}, "an instance"),
    ({"root": 42}, "root='s3://my-bucket/memo'"),
    ({"root": ""}, "root='s3://my-bucket/memo'"),
    ({"root": "/tmp/a\x00b"}, "root='s3://my-bucket/memo'"),
    ({"logic_key": 2}, "logic_key="),
]


@pytest.mark.parametrize(("setting", "fix"), BAD_SETTINGS)
def test_bad_setting_is_refused_at_decoration_saying_what_to_write(
    setting: dict[str, Any], fix: str
) -> None:
    name = next(iter(setting))
    options = {"root": "memory://settings", **setting}
    with pytest.raises(ConfigurationError) as info:
        memokey.memoize(**options)
    assert name.replace("_", " ") in str(info.value).replace("_", " ")
    assert fix in str(info.value)


@pytest.mark.parametrize(("setting", "fix"), [s for s in BAD_SETTINGS if "shim" not in s[0]])
def test_keyed_runner_refuses_the_same_settings(setting: dict[str, Any], fix: str) -> None:
    options = {"root": "memory://settings", **setting}
    with pytest.raises(ConfigurationError, match=fix.replace("(", r"\(").replace("[", r"\[")):
        KeyedLocalRunner(keyfunc=memokey.nil_args("x"), **options)


@pytest.mark.parametrize("seconds", [1, 1.0, 60, 86_400])
def test_lease_seconds_in_range_is_accepted(seconds: float) -> None:
    assert MemoizingRunner("memory://settings", lease_seconds=seconds).lease_seconds == seconds


def test_storage_options_are_copied_and_read_only() -> None:
    options = {"profile": "dev"}
    runner = MemoizingRunner("memory://settings", storage_options=options)
    options["profile"] = "prod"
    assert runner.storage_options == {"profile": "dev"}
    with pytest.raises(TypeError):
        runner.storage_options["x"] = 1  # type: ignore[index]


def test_keyfunc_that_is_not_callable_says_what_to_write() -> None:
    bad: Any = "conn"
    with pytest.raises(ConfigurationError, match=r"keyfunc=memokey.nil_args\('conn'\)"):
        KeyedLocalRunner("memory://settings", keyfunc=bad)

"""Every memokey exception pickles with its message and attributes (they cross processes)."""

from __future__ import annotations

import pickle

import cloudpickle
import pytest

import memokey
from memokey import errors

ERROR_CLASSES = [
    getattr(errors, name)
    for name in errors.__all__
    if isinstance(getattr(errors, name), type) and issubclass(getattr(errors, name), BaseException)
]


def test_the_error_list_is_not_empty() -> None:
    assert len(ERROR_CLASSES) >= 10


@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=lambda c: c.__name__)
def test_error_is_a_memokey_error(cls: type[Exception]) -> None:
    assert issubclass(cls, memokey.MemokeyError)


@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=lambda c: c.__name__)
def test_error_is_exported_from_memokey(cls: type[Exception]) -> None:
    assert getattr(memokey, cls.__name__) is cls


@pytest.mark.parametrize("dumps", [pickle.dumps, cloudpickle.dumps], ids=["pickle", "cloudpickle"])
@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=lambda c: c.__name__)
def test_error_pickles_with_message_and_attributes(cls: type[Exception], dumps: object) -> None:
    err = cls("what happened; what to do next", uri="memory://x/result", parameter="conn")
    again = pickle.loads(dumps(err))  # type: ignore[operator]
    assert type(again) is cls
    assert str(again) == str(err)
    assert again.uri == "memory://x/result"
    assert again.parameter == "conn"

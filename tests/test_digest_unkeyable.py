"""Values that cannot be keyed are refused with UnkeyableArgumentError naming the
parameter and the path; cycles are keyed, deep nesting is refused, never RecursionError."""

from __future__ import annotations

import socket
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import memokey.keys as keys
from memokey.errors import UnkeyableArgumentError
from memokey.hashing import digest


def query(conn: Any, table: str, cfg: Any = None) -> None:
    pass


class Holder:
    def __init__(self, conn: Any) -> None:
        self.conn = conn


def _refusal(value: object, parameter: str = "cfg") -> UnkeyableArgumentError:
    bound = keys.bind_call(query, (None, "t"), {parameter: value})
    with pytest.raises(UnkeyableArgumentError) as info:
        keys.call_digest(query, bound)
    return info.value


@pytest.fixture
def connection() -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(":memory:")
    yield conn
    conn.close()


def test_lock_is_refused_with_parameter_and_path() -> None:
    error = _refusal({"db": threading.Lock()})
    assert error.parameter == "cfg"
    assert error.path == "cfg['db']"
    assert "nil_args('cfg')" in str(error)


def test_sqlite_connection_is_refused(connection: sqlite3.Connection) -> None:
    bound = keys.bind_call(query, (connection, "t"), {})
    with pytest.raises(UnkeyableArgumentError, match=r"sqlite3\.Connection") as info:
        keys.call_digest(query, bound)
    assert info.value.parameter == "conn"
    assert info.value.path == "conn"


def test_path_names_attribute_inside_list_items(connection: sqlite3.Connection) -> None:
    error = _refusal([1, 2, 3, Holder(connection)])
    assert error.path == "cfg[3].conn"


def test_path_is_exact_inside_a_large_list(connection: sqlite3.Connection) -> None:
    error = _refusal([{"i": i} for i in range(40)] + [{"db": connection}])
    assert error.path == "cfg[40]['db']"


def test_path_is_exact_inside_an_object_array() -> None:
    values = np.array([1] * 30 + [threading.RLock()], dtype=object)
    assert _refusal(values).path == "cfg[30]"


def test_open_file_is_refused(tmp_path: Path) -> None:
    with (tmp_path / "f.txt").open("w") as handle:
        assert _refusal(handle).path == "cfg"


def test_generator_is_refused() -> None:
    assert "generator" in str(_refusal(x for x in range(3)))


def test_socket_is_refused() -> None:
    with socket.socket() as sock:
        assert "socket" in str(_refusal({"s": sock}))


def test_object_whose_reduction_fails_is_refused() -> None:
    class NoPickle:
        def __reduce_ex__(self, protocol: object) -> Any:
            raise TypeError("not today")

    assert "not today" in str(_refusal(NoPickle()))


def test_set_member_path_is_named() -> None:
    class Unhashed:
        def __hash__(self) -> int:
            return 1

        def __reduce_ex__(self, protocol: object) -> Any:
            raise TypeError("no")

    assert _refusal({Unhashed()}).path.startswith("cfg{")


def test_closure_over_a_lock_is_refused_with_advice() -> None:
    lock = threading.Lock()

    def guarded(x: int) -> int:
        with lock:
            return x

    with pytest.raises(UnkeyableArgumentError, match="closure variable 'lock'") as info:
        keys.call_digest(guarded, keys.bind_call(guarded, (1,), {}))
    assert "module level" in str(info.value)


def test_digest_of_unkeyable_value_names_the_path() -> None:
    with pytest.raises(UnkeyableArgumentError) as info:
        digest({"a": [threading.Lock()]})
    assert info.value.path == "value['a'][0]"


def test_unkeyable_error_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        digest(threading.Lock())


# --- cycles and depth ------------------------------------------------------------------------


def test_self_referencing_list_is_keyed() -> None:
    first: list[Any] = [1]
    first.append(first)
    second: list[Any] = [1]
    second.append(second)
    assert digest(first) == digest(second)
    assert digest(first) != digest([1, [1]])


def test_large_cyclic_list_is_keyed() -> None:
    value: list[Any] = list(range(40))
    value.append(value)
    assert digest(value) == digest(value)
    other: list[Any] = list(range(40))
    other.append(other)
    assert digest(value) == digest(other)


def test_self_referencing_dict_is_keyed() -> None:
    value: dict[str, Any] = {}
    value["self"] = value
    assert digest(value) != digest({"self": {}})


def test_cycle_through_an_object_is_keyed() -> None:
    holder = Holder(None)
    holder.conn = [holder] * 20
    assert digest(holder) == digest(holder)


def test_deep_nesting_is_refused_clearly() -> None:
    value: list[Any] = []
    for _ in range(5000):
        value = [value]
    with pytest.raises(UnkeyableArgumentError, match="nested"):
        digest(value)


def test_moderate_nesting_is_keyed() -> None:
    value: list[Any] = []
    for _ in range(100):
        value = [value]
    assert len(digest(value)) == 32

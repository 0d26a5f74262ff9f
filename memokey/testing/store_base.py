"""The fixture base of the store conformance suite: capabilities and the `store` fixture."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, ClassVar

import pytest

from memokey_backends import Store, open_store

__all__ = ["Location", "StoreFixtures", "run_together"]

Location = tuple[str, dict[str, Any]]
"""A root URL and its storage options."""


class StoreFixtures:
    """Base of every behaviour mixin.

    Subclasses provide a ``store_location`` fixture (a fresh, empty root for each test)
    and declare what the backend (or its emulator) can prove. A capability declared
    False makes the tests that need it skip with the reason, never pass.
    """

    supports_cas: ClassVar[bool] = True
    """`Store.swap` works; checked against the store's own `supports_cas`."""
    process_local: ClassVar[bool] = False
    """Other processes cannot see the store (``memory://``)."""
    exclusive_create_race_proven: ClassVar[bool] = True
    """The server enforces exclusive create under a race (some emulators do not)."""
    conditional_delete_proven: ClassVar[bool] = True
    """The server honours a version condition on delete (lease release)."""
    cas_race_proven: ClassVar[bool] = True
    """The server applies compare-and-swap atomically under a race."""
    race_threads: ClassVar[int] = 8
    """Threads racing in the concurrency tests."""
    limitation: ClassVar[str] = ""
    """Why a capability is declared False (shown as the skip reason)."""

    @pytest.fixture
    def store_location(self) -> Location:
        raise NotImplementedError("subclasses provide a store_location fixture")

    @pytest.fixture
    def store(self, store_location: Location) -> Store:
        url, options = store_location
        return open_store(url, **options)

    def require(self, capability: str) -> None:
        """Skip the calling test unless the class declares `capability` True."""
        if not getattr(self, capability):
            pytest.skip(f"{type(self).__name__} cannot prove {capability}: {self.limitation}")


def run_together(n: int, work: Callable[[int], Any]) -> list[Any]:
    """Run ``work(i)`` for i in range(n) on n threads released at once; results or errors."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except BaseException as exc:  # collected, asserted on by the caller
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results

"""The store conformance suite, shipped so that third-party backends can prove themselves.

Subclass `StoreConformance` (or pick individual behaviour mixins plus `StoreFixtures`),
provide a ``store_location`` fixture returning ``(url, storage_options)`` of a fresh,
empty root, and declare the backend's capabilities as class attributes::

    class TestMyStore(StoreConformance):
        supports_cas = False

        @pytest.fixture
        def store_location(self, tmp_path):
            return f"mystore://{tmp_path}", {}

Requires pytest (install the ``test`` dependency group).
"""

from __future__ import annotations

from memokey.testing.store_base import StoreFixtures
from memokey.testing.store_behaviours import (
    CompareAndSwapBehaviour,
    ConditionalDeleteBehaviour,
    DeleteBehaviour,
    ErrorBehaviour,
    ListingBehaviour,
    ReadWriteBehaviour,
    ServerFaultBehaviour,
    StoreConformance,
    WriteOnceBehaviour,
)

__all__ = [
    "CompareAndSwapBehaviour",
    "ConditionalDeleteBehaviour",
    "DeleteBehaviour",
    "ErrorBehaviour",
    "ListingBehaviour",
    "ReadWriteBehaviour",
    "ServerFaultBehaviour",
    "StoreConformance",
    "StoreFixtures",
    "WriteOnceBehaviour",
]

"""The store conformance suite on memory:// (process-local, check-and-set under a lock)."""

import pytest

from memokey.testing import StoreConformance


class TestMemoryStore(StoreConformance):
    process_local = True

    @pytest.fixture
    def store_location(self, memory_root):
        return memory_root

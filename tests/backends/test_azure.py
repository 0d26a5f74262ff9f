"""The store conformance suite on Azure Blob, served by Azurite 3.35.0."""

import pytest

from memokey.testing import ServerFaultBehaviour, StoreConformance

pytestmark = pytest.mark.cloud


class TestAzureStore(StoreConformance, ServerFaultBehaviour):
    @pytest.fixture
    def store_location(self, azure_root):
        return azure_root

    @pytest.fixture
    def stopped_store_location(self, azure_stopped_root):
        return azure_stopped_root

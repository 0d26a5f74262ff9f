"""The store conformance suite on GCS, served by fake-gcs-server."""

import pytest

from memokey.testing import ServerFaultBehaviour, StoreConformance

pytestmark = pytest.mark.cloud


class TestGCSStore(StoreConformance, ServerFaultBehaviour):
    conditional_delete_proven = False
    limitation = "fake-gcs-server ignores ifGenerationMatch on DELETE (real GCS honours it)"

    @pytest.fixture
    def store_location(self, gcs_root):
        return gcs_root

    @pytest.fixture
    def stopped_store_location(self, gcs_stopped_root):
        return gcs_stopped_root

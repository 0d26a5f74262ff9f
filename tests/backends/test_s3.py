"""The store conformance suite on S3, served by moto_server."""

import pytest

from memokey.testing import ServerFaultBehaviour, StoreConformance

pytestmark = pytest.mark.cloud


class TestS3Store(StoreConformance, ServerFaultBehaviour):
    @pytest.fixture
    def store_location(self, s3_root):
        return s3_root

    @pytest.fixture
    def stopped_store_location(self, s3_stopped_root):
        return s3_stopped_root

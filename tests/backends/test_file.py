"""The store conformance suite on file:// and plain local paths."""

import pytest

from memokey.testing import StoreConformance


class TestFileStore(StoreConformance):
    @pytest.fixture
    def store_location(self, file_root):
        return file_root


class TestPlainPathStore(StoreConformance):
    @pytest.fixture
    def store_location(self, tmp_path):
        return str(tmp_path / "plain"), {}

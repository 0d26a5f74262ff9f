"""Roots that would write somewhere the user did not ask for are refused at open time.

``s3://`` used to write into a bucket named after the first path segment
(``memokey-v2``), and ``s3:///memo`` (an unset ``$BUCKET``) into a bucket ``memo``.
"""

from __future__ import annotations

from typing import Any

import pytest

from helpers.servers import azure_options, gcs_options, s3_options
from memokey_backends import ConfigurationError, InvalidRootError, open_store

OPTIONS: dict[str, dict[str, Any]] = {
    "s3": s3_options("http://127.0.0.1:9"),
    "gs": gcs_options("http://127.0.0.1:9"),
    "az": azure_options("http://127.0.0.1:9"),
}


@pytest.mark.parametrize("scheme", sorted(OPTIONS))
@pytest.mark.parametrize("rest", ["", "/", "/memo", "//memo", "/memo/prefix"])
def test_a_cloud_root_without_a_bucket_is_refused_saying_what_to_write(
    scheme: str, rest: str
) -> None:
    url = f"{scheme}://{rest}"
    with pytest.raises(InvalidRootError) as info:
        open_store(url, **OPTIONS[scheme])
    message = str(info.value)
    assert "bucket" in message or "container" in message
    assert f"{scheme}://my-" in message  # an example of what to write instead


def test_a_refused_root_is_also_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        open_store("s3://", **OPTIONS["s3"])


def test_a_bucket_less_root_inside_a_chain_is_refused() -> None:
    with pytest.raises(InvalidRootError, match="bucket"):
        open_store("simplecache::s3:///memo", s3=OPTIONS["s3"])


@pytest.mark.parametrize("scheme", sorted(OPTIONS))
def test_a_root_with_a_bucket_and_no_prefix_is_accepted(scheme: str) -> None:
    store = open_store(f"{scheme}://my-bucket", **OPTIONS[scheme])
    assert store.uri("k") == f"{scheme}://my-bucket/k"


@pytest.mark.parametrize("root", ["s3://bucket/a?versionId=1", "s3://bucket/a#b", "gs://b/x\x00y"])
def test_a_cloud_root_with_characters_the_sdk_would_parse_is_refused(root: str) -> None:
    scheme = root.split(":", 1)[0]
    with pytest.raises(InvalidRootError):
        open_store(root, **OPTIONS[scheme])

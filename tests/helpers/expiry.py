"""Test helper for expiry: make a stored entry look older than it is."""

from __future__ import annotations

from typing import Any

from memokey import entry_format
from memokey.results import encode_result, get_serializer, read_header
from memokey_backends import open_store

Location = tuple[str, dict[str, Any]]


def age_entry(location: Location, uri: str, seconds: float) -> None:
    """Make the stored entry at `uri` look `seconds` older: rewrite it with an earlier
    creation time (the header's, which is what expiry reads), checksum intact."""
    url, options = location
    store = open_store(url, **options)
    path = uri[len(store.url.rstrip("/")) + 1 :]
    data = store.read(path)
    assert data is not None
    header = read_header(data, uri)
    extra = dict(header.extra)
    extra["created"] -= seconds
    layout = entry_format.parse(data, uri)
    payload = data[layout.payload_offset : layout.payload_offset + layout.payload_length]
    trailer = entry_format.decode_trailer(
        data[layout.trailer_offset : layout.trailer_offset + layout.trailer_length], uri
    )
    value = get_serializer(layout.serializer).loads(payload)
    store.write(path, encode_result(value, layout.serializer, extra=extra, meta=trailer))

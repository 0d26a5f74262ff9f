"""S3 connection pools are as wide as ``.submit()``'s fan-out.

botocore allows 10 connections per client by default, so 64 calls in flight queued for
a connection (and logged "Connection pool is full" warnings).
"""

from __future__ import annotations

from helpers.servers import s3_options
from memokey_backends import open_store

FAN_OUT = 64  # memokey.shims.fanout's default number of calls in flight


def test_an_s3_store_opens_as_many_connections_as_submit_runs_calls() -> None:
    store = open_store("s3://bucket/root", **s3_options("http://127.0.0.1:9"))
    assert store.fs.config_kwargs["max_pool_connections"] >= FAN_OUT  # type: ignore[attr-defined]


def test_a_pool_size_the_user_chose_is_kept() -> None:
    config = {"max_pool_connections": 5}
    store = open_store("s3://bucket/root", config_kwargs=config, **s3_options("http://127.0.0.1:9"))
    assert store.fs.config_kwargs == config  # type: ignore[attr-defined]

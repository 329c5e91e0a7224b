"""Fixtures of the sync tests: broker URLs and names of each test's own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.sync.brokers import AMQP_URL, NATS_URL, REDIS_URL, require
from tests.sync.models import unique


@pytest.fixture
def redis_url() -> str:
    return require(REDIS_URL, 6379, "Redis")


@pytest.fixture
def amqp_url() -> str:
    return require(AMQP_URL, 5672, "RabbitMQ")


@pytest.fixture
def nats_url() -> str:
    return require(NATS_URL, 4222, "NATS")


@pytest.fixture
def stream(redis_url: str) -> Iterator[str]:
    """A Redis stream name of this test's own (deleted afterwards)."""
    import redis

    name = unique("occtest")
    yield name + ":{entity}"
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(f"{name}:*"):
        client.delete(key)
    client.close()

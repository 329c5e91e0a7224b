"""The broker client libraries, imported on first use with a clear error when missing.

Each broker is an optional extra: ``occ[redis]``, ``occ[rabbitmq]``, ``occ[nats]``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["AsyncRedis", "Redis", "require"]

_EXTRAS = {"redis": "redis", "aio_pika": "rabbitmq", "nats": "nats"}


def require(module: str) -> Any:
    """Import ``module`` (a broker client), or raise an ImportError naming the extra."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        top = module.split(".")[0]
        raise ImportError(
            f"{top} is not installed: pip install 'occ[{_EXTRAS.get(top, top)}]'"
        ) from exc


def AsyncRedis(url_or_client: Any) -> Any:
    """A ``redis.asyncio.Redis`` client from a URL (a client is returned as it is)."""
    if not isinstance(url_or_client, str):
        return url_or_client
    return require("redis.asyncio").Redis.from_url(url_or_client)


def Redis(url_or_client: Any) -> Any:
    """A ``redis.Redis`` client from a URL (a client is returned as it is)."""
    if not isinstance(url_or_client, str):
        return url_or_client
    return require("redis").Redis.from_url(url_or_client)

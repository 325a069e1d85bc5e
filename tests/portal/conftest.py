"""Fixtures of the live-announcement tests (`portal.live`, `portal.watchers`)."""

from __future__ import annotations

import os
import uuid

import pytest
from channels.layers import channel_layers, get_channel_layer


def redis_url() -> str:
    url = os.environ.get("REDIS_URL")
    if not url:
        pytest.skip("needs Redis (REDIS_URL, as in CI)")
    return url


@pytest.fixture
def layer_of(settings):
    """Switch the default channel layer to `config` (the layer objects are cached per alias)."""

    def use(config: dict):
        settings.CHANNEL_LAYERS = {"default": config}
        channel_layers.backends.pop("default", None)
        return get_channel_layer()

    yield use
    channel_layers.backends.pop("default", None)


@pytest.fixture
def redis_layer(layer_of):
    """A Redis layer of the test's own (its keys under a prefix nobody else uses)."""
    return layer_of(
        {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [redis_url()],
                "prefix": f"test-live-{uuid.uuid4().hex[:8]}",
                "capacity": 1000,
            },
        }
    )

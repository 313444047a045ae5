from __future__ import annotations

import pytest

from tests.support.peers import Mosquitto, Platform


@pytest.fixture
def mosquitto(tmp_path):
    broker = Mosquitto(tmp_path / "mosquitto")
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture
async def platform(mosquitto):
    """A subscriber to everything the test station publishes."""
    subscriber = Platform(mosquitto.url, "outpost/v1/cs-test/#")
    await subscriber.start()
    yield subscriber
    await subscriber.stop()

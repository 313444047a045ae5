from __future__ import annotations

import pytest

from tests.support.peers import Mosquitto, Platform
from tests.support.slow_fsync import ShimUnavailable, build_slow_fsync


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


@pytest.fixture(scope="session")
def slow_fsync(tmp_path_factory):
    """The slow-disk shim (tests/support/slow_fsync.c), built once per session."""
    try:
        return build_slow_fsync(tmp_path_factory.mktemp("slow-fsync"))
    except ShimUnavailable as exc:
        pytest.skip(str(exc))

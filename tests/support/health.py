"""The gateway's ``/healthz`` as a monitoring system reads it: a report whether healthy (200) or not (503)."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable


def read_health(url: str) -> dict | None:
    """The health report at ``url``; None while nothing answers there."""
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            return json.load(answer)
    except urllib.error.HTTPError as answer:  # 503: not healthy, still a report
        return json.load(answer)
    except OSError:
        return None


async def until_health(url: str, predicate: Callable[[dict], bool], timeout: float = 15.0) -> dict:
    """Until the report satisfies ``predicate`` (health has no push to wait on, so it is polled)."""
    deadline = time.monotonic() + timeout
    while True:
        health = await asyncio.to_thread(read_health, url)
        if health is not None and predicate(health):
            return health
        if time.monotonic() > deadline:
            raise TimeoutError(f"/healthz never satisfied the test; last report: {health}")
        await asyncio.sleep(0.2)

"""When a gateway under simulation is ready for radio traffic: every radio bridge connected.

A TNC passes on what it hears only to connected KISS clients, and a pty drops
what nobody reads: a press sent before the gateway has opened its bridge is
lost, as on a real air with the gateway's cable unplugged. The gateway's own
``/healthz`` says when each bridge is connected, so a scenario asks it rather
than guessing with a delay.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
import urllib.request


def free_listen() -> str:
    """A loopback ``host:port`` free right now, for the gateway's health endpoint."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{sock.getsockname()[1]}"


async def radio_bridges_connected(listen: str, timeout: float = 30.0, every: float = 0.1) -> dict:
    """Until the gateway at ``listen`` reports every radio bridge connected; its health.

    Raises TimeoutError after ``timeout``. Polled: the health endpoint has no push.
    """
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(OSError, ValueError):
            health = await asyncio.to_thread(get_json, f"http://{listen}/healthz")
            radios = health.get("radios", {})
            if radios and all(bridge["connected"] for bridge in radios.values()):
                return health
        if time.monotonic() > deadline:
            raise TimeoutError(f"the gateway's radio bridges were not all connected within {timeout:g}s")
        await asyncio.sleep(every)


def get_json(url: str) -> dict:
    """A JSON document from a local HTTP endpoint (the gateway's /healthz)."""
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())

"""The web page of a running ``outpost sim``: its devices, controls, what the gateway switched and
called out (actuators, handhelds), and the alarms raised.

A tester at a station bench wants to see at a glance what every simulated
device reads and how it misbehaves, turn a knob, and see what the platform
gets back, without a terminal per command. The page is one static file
(``page.html``, vanilla JS, no build step, no external assets) served by the
control endpoint next to two JSON routes it polls; its buttons call the same
``POST /set`` and ``POST /fault`` routes as ``outpost sim set|fault``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from importlib import resources
from typing import Any

from gateway.service.local_http import Response
from simulators.scenarios.platform import Platform
from simulators.station.controls import Fault, StationControls, fault_problem

Page = Callable[[], Awaitable[Response]]

MAX_ALARMS = 200  # the newest ones; a long session must not make every poll heavier


def device_table(controls: StationControls) -> list[dict[str, Any]]:
    """Every simulated device, its points' current values, how it answers and what it could do."""
    config, station = controls.config, controls.station
    return [
        {
            "name": name,
            "bus": device.bus,
            "behaviour": str(station.units[name].behaviour),
            "points": {
                point: controls.get(name, point) for point in sorted(config.profile_of(name).point_names())
            },
            "faults": [str(f) for f in Fault if fault_problem(config, name, f) is None],
        }
        for name, device in config.station.devices.items()
    ]


def alarm_list(platform: Platform | None) -> dict[str, Any]:
    """What the platform received on the alarm topic, newest first (or why nothing can arrive)."""
    if platform is None:
        return {"subscribed": False, "topic": None, "alarms": []}
    newest = reversed(platform.messages[-MAX_ALARMS:])
    return {
        "subscribed": True,
        "topic": platform.topic,
        "alarms": [
            {**message.payload, "received_at": datetime.fromtimestamp(message.at, UTC).isoformat()}
            for message in newest
        ],
    }


def _json(body: Any) -> Response:
    return Response("200 OK", "application/json", json.dumps(body).encode() + b"\n")


def web_pages(controls: StationControls, platform: Platform | None) -> dict[str, Page]:
    """The GET routes the control endpoint adds for the page, by path without slashes."""
    html = resources.files("simulators.station").joinpath("page.html").read_bytes()

    async def page() -> Response:
        return Response("200 OK", "text/html; charset=utf-8", html)

    async def devices() -> Response:
        return _json(
            {
                "station": controls.config.station.station.id,
                "devices": device_table(controls),
                "actuators": controls.actuators(),
                "handhelds": controls.handhelds(),
            }
        )

    async def alarms() -> Response:
        return _json(alarm_list(platform))

    return {"": page, "devices": devices, "alarms": alarms}


async def start_web(stack: AsyncExitStack, controls: StationControls, broker: str | None) -> dict[str, Page]:
    """The page's routes, with an alarm subscription (stopped by ``stack``) when there is a broker.

    The subscription is to the station's alarm topic on the broker the written
    gateway file points at, as the platform would subscribe. It keeps
    retrying in the background when the broker is not up yet (a tester may
    start it second), so the simulation starts either way.
    """
    platform = None
    if broker is not None:
        platform = Platform(broker, f"{controls.config.station.topic_prefix}/alarm")
        stack.push_async_callback(platform.stop)
        try:
            await platform.start(timeout=5)
            print(f"alarms: subscribed to {platform.topic} on {broker}")
        except TimeoutError:
            print(f"alarms: {broker} does not answer yet; the page shows alarms once it does")
    return web_pages(controls, platform)

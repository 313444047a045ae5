"""The loopback control endpoint of a running ``outpost sim``, and its client.

``outpost sim`` listens on 127.0.0.1 (a free port unless told), prints the URL
and writes it to a small state file; ``outpost sim set/fault/unplug/replug/press/message``
read that file and POST one JSON request each. Loopback only: whoever can
reach it can make the simulated station misbehave, which is its purpose.
"""

from __future__ import annotations

import json
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from gateway.service.local_http import HttpRequest, Response, start_local_server
from simulators.station.controls import ControlError, StationControls

Action = Callable[[StationControls, dict[str, Any]], Awaitable[str]]


def default_state_file() -> Path:
    """Where a running simulation says where its control endpoint is (one per user)."""
    runtime = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    return Path(runtime) / f"outpost-sim-{os.getuid()}.json"


async def _set(controls: StationControls, body: dict[str, Any]) -> str:
    value = body["value"]
    if not isinstance(value, bool | int | float):
        raise ControlError(f"value must be a number or true/false, got {value!r}")
    controls.set(body["device"], body["point"], value)
    return f"{body['device']} {body['point']} -> {controls.get(body['device'], body['point'])}"


async def _fault(controls: StationControls, body: dict[str, Any]) -> str:
    controls.fault(body["device"], body["fault"])
    return f"{body['device']} now answers: {body['fault']}"


async def _unplug(controls: StationControls, body: dict[str, Any]) -> str:
    await controls.unplug(body["bus"])
    return f"bus {body['bus']} unplugged"


async def _replug(controls: StationControls, body: dict[str, Any]) -> str:
    await controls.replug(body["bus"])
    return f"bus {body['bus']} plugged back in"


async def _press(controls: StationControls, body: dict[str, Any]) -> str:
    return await controls.press(body["radio"], mic_e=bool(body.get("mic_e", False)))


async def _message(controls: StationControls, body: dict[str, Any]) -> str:
    if not isinstance(body["text"], str) or not body["text"]:
        raise ControlError("text must be a non-empty string")
    return await controls.message(body["radio"], body["text"])


# One entry per action.
ACTIONS: dict[str, Action] = {
    "set": _set,
    "fault": _fault,
    "unplug": _unplug,
    "replug": _replug,
    "press": _press,
    "message": _message,
}


def _answer(status: str, body: dict[str, Any]) -> Response:
    return Response(status, "application/json", json.dumps(body).encode() + b"\n")


async def start_control_server(
    controls: StationControls,
    host: str = "127.0.0.1",
    port: int = 0,
    pages: Mapping[str, Callable[[], Awaitable[Response]]] | None = None,
):
    """Serve ``POST /<action>`` (JSON) and ``GET /status``, and ``GET`` of each of ``pages``
    (the web page, :mod:`simulators.station.web`); returns the asyncio server."""

    async def handle(request: HttpRequest) -> Response:
        name = request.path.strip("/")
        if request.method == "GET" and pages and name in pages:
            return await pages[name]()
        if request.method == "GET" and name == "status":
            return _answer("200 OK", status(controls))
        action = ACTIONS.get(name)
        if request.method != "POST" or action is None:
            return _answer("404 Not Found", {"ok": False, "error": f"actions: {', '.join(ACTIONS)}"})
        try:
            body = json.loads(request.body or b"{}")
            message = await action(controls, body)
        except (ValueError, ControlError) as exc:
            return _answer("400 Bad Request", {"ok": False, "error": str(exc)})
        except (KeyError, TypeError) as exc:
            return _answer("400 Bad Request", {"ok": False, "error": f"missing or wrong field {exc}"})
        return _answer("200 OK", {"ok": True, "message": message})

    return await start_local_server(host, port, handle)


def status(controls: StationControls) -> dict[str, Any]:
    """``outpost sim status``: the simulators, and what the gateway did to them (actuators, handhelds)."""
    station = controls.station
    return {
        "station": controls.config.station.station.id,
        "buses": {name: station.describe(name) for name in station.servers},
        "devices": {name: str(unit.behaviour) for name, unit in station.units.items()},
        "radios": {name: station.radios.describe(name) for name in station.radios.channels}
        if station.radios
        else {},
        "actuators": controls.actuators(),
        "handhelds": controls.handhelds(),
    }


def write_state_file(path: Path, url: str, **extra: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"url": url, "pid": os.getpid(), **extra}, indent=2) + "\n")


def request(state_file: Path, action: str, body: dict[str, Any] | None = None, timeout: float = 10) -> dict:
    """Ask the running simulation named in ``state_file``; raises ConnectionError if none runs."""
    try:
        url = json.loads(state_file.read_text())["url"]
    except (OSError, ValueError, KeyError):
        raise ConnectionError(f"no running simulation: {state_file} is missing or unreadable") from None
    data = None if body is None else json.dumps(body).encode()
    call = urllib.request.Request(f"{url}/{action}", data=data, method="GET" if body is None else "POST")
    call.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(call, timeout=timeout) as response:
            return json.load(response)
    except urllib.error.HTTPError as exc:
        return json.load(exc)
    except OSError as exc:
        raise ConnectionError(f"no simulation answers at {url}: {exc}") from None

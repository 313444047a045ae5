"""``outpost probe``: read every configured point once — the technician's commissioning check.

A serial port the running service holds is never opened a second time: two
masters on one line garble each other's requests (real device faults in the
field). The probe says so, and takes that bus's values from the service's
local endpoint (``/values`` on ``service.metrics_listen``) instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime

from drivers.modbus.poller import ModbusPoller
from drivers.observation import BusPoller, DeviceFault, FaultCategory, Observation, PollOutcome
from drivers.port_lock import PortLock
from gateway.buses import build_poller
from gateway.config import LoadedConfig
from gateway.config.models import SERIAL_BUSES


@dataclass
class ProbeReport:
    """One outcome per device, and what a technician must know about how they were got."""

    outcomes: list[PollOutcome] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


async def probe(config: LoadedConfig) -> ProbeReport:
    """One poll of every device, bus by bus, in configuration order."""
    report = ProbeReport()
    outcomes = report.outcomes
    for name, bus in config.station.buses.items():
        if isinstance(bus, SERIAL_BUSES) and (holder := PortLock(bus.port).holder()) is not None:
            in_use = f"serial port {bus.port} is in use by {holder}"
            devices = [d for d, device in config.station.devices.items() if device.bus == name]
            outcomes.extend(await _from_service(config, devices, in_use))
            report.notes.append(f"bus {name}: {in_use}: not opened; values are the service's latest")
            continue
        poller = build_poller(config, name, bus)
        if isinstance(poller, ModbusPoller):
            try:
                outcomes.extend([await poller.poll_once(device) for device in poller.devices])
            finally:
                poller.close()
        else:
            devices = [d for d, device in config.station.devices.items() if device.bus == name]
            outcomes.extend(await _first_outcomes(poller, devices, wait=2 * bus.timeout + 1.0))
    return report


async def _from_service(config: LoadedConfig, devices: list[str], in_use: str) -> list[PollOutcome]:
    """The latest readings the running service has of ``devices``, each as if just polled."""
    listen = config.station.service.metrics_listen
    if listen is None:
        return _all_failed(devices, f"{in_use}; no service endpoint to ask (metrics_listen is off)")
    url = f"http://{listen}/values"
    try:
        latest = await asyncio.to_thread(_get_json, url)
    except (OSError, ValueError) as exc:
        return _all_failed(devices, f"{in_use}; no service answers at {url}: {exc}")
    outcomes = []
    for device in devices:
        readings = latest.get(device) or {}
        if not readings:
            fault = DeviceFault(FaultCategory.TIMEOUT, f"{in_use}; the service has no reading of it yet")
            outcomes.append(PollOutcome.failed(device, fault))
            continue
        observations = tuple(
            Observation(device, point, r["value"], r["unit"], datetime.fromisoformat(r["observed_at"]))
            for point, r in readings.items()
        )
        newest = max(o.observed_at for o in observations)
        outcomes.append(PollOutcome(device, newest, time.monotonic(), observations=observations))
    return outcomes


def _get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.load(response)


def _all_failed(devices: list[str], reason: str) -> list[PollOutcome]:
    return [PollOutcome.failed(device, DeviceFault(FaultCategory.CONNECTION, reason)) for device in devices]


async def _first_outcomes(poller: BusPoller, devices: list[str], wait: float) -> list[PollOutcome]:
    """Run a poller that only knows how to run forever until each device has said something."""
    first: dict[str, PollOutcome] = {}
    done = asyncio.Event()

    async def keep_first(outcome: PollOutcome) -> None:
        first.setdefault(outcome.device, outcome)
        if first.keys() >= set(devices):
            done.set()

    task = asyncio.create_task(poller.run(keep_first))
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(wait):
            await done.wait()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    silent = DeviceFault(FaultCategory.TIMEOUT, f"nothing within {wait:g}s")
    return [first.get(device) or PollOutcome.failed(device, silent) for device in devices]


def table(config: LoadedConfig, report: ProbeReport) -> str:
    outcomes = report.outcomes
    lines = [f"{'device':<20} {'point':<16} {'value':>12} {'unit':<6} location"]
    for outcome in outcomes:
        location = config.station.devices[outcome.device].location
        if outcome.fault is not None:
            lines.append(
                f"{outcome.device:<20} {'-':<16} {'FAILED':>12} {'':<6} {location}: {outcome.fault.reason}"
            )
            continue
        for reading in outcome.observations:
            value = f"{reading.value:g}" if isinstance(reading.value, float) else str(reading.value)
            lines.append(
                f"{outcome.device:<20} {reading.point:<16} {value:>12} {reading.unit or '':<6} {location}"
            )
    answered = sum(1 for o in outcomes if o.ok)
    lines.append(f"{answered} of {len(outcomes)} device(s) answered")
    lines.extend(report.notes)
    return "\n".join(lines)

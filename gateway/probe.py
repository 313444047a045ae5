"""``outpost probe``: read every configured point once — the technician's commissioning check."""

from __future__ import annotations

import asyncio
import contextlib

from drivers.modbus.poller import ModbusPoller
from drivers.observation import BusPoller, DeviceFault, FaultCategory, PollOutcome
from gateway.buses import build_poller
from gateway.config import LoadedConfig


async def probe(config: LoadedConfig) -> list[PollOutcome]:
    """One poll of every device, bus by bus, in configuration order."""
    outcomes: list[PollOutcome] = []
    for name, bus in config.station.buses.items():
        poller = build_poller(config, name, bus)
        if isinstance(poller, ModbusPoller):
            try:
                outcomes.extend([await poller.poll_once(device) for device in poller.devices])
            finally:
                poller.close()
        else:
            devices = [d for d, device in config.station.devices.items() if device.bus == name]
            outcomes.extend(await _first_outcomes(poller, devices, wait=2 * bus.timeout + 1.0))
    return outcomes


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


def table(config: LoadedConfig, outcomes: list[PollOutcome]) -> str:
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
    return "\n".join(lines)

"""``outpost probe``: read every configured point once — the technician's commissioning check."""

from __future__ import annotations

from drivers.observation import PollOutcome
from gateway.config import LoadedConfig
from gateway.runtime import build_poller


async def probe(config: LoadedConfig) -> list[PollOutcome]:
    """One poll of every device, bus by bus, in configuration order."""
    outcomes: list[PollOutcome] = []
    for name, bus in config.station.buses.items():
        poller = build_poller(config, name, bus)
        try:
            outcomes.extend([await poller.poll_once(device) for device in poller.devices])
        finally:
            poller.close()
    return outcomes


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

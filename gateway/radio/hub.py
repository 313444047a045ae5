"""The station's radio bridges as one: their tasks, and every message the gateway sends to radios.

Answers go out on the bridge a radio was last heard on (the first APRS bridge
for a radio not heard yet). ``broadcast`` without a group sends a bulletin on
every APRS bridge and the outbound line on every line bridge; with a group
(``all``: every registered radio) it sends each member a directed message,
retransmitted until acknowledged. Each radio's (or bridge's) outcome is
reported as soon as it settles, and counted by bridge and outcome.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from drivers.backoff import Backoff
from drivers.radio.aprs_tnc import AprsTnc
from drivers.radio.delivery import Delivery, Outcome, RetrySchedule
from drivers.radio.events import RadioEmit, RadioEventKind
from drivers.radio.line_radio import LineRadio, LineRadioProtocol, LineRule
from drivers.radio.link import SerialEndpoint, StreamLink, TcpEndpoint
from drivers.shown import shown
from gateway.buses import serial_settings
from gateway.commands.processor import CommandFailed
from gateway.config.radios import (
    KissSerialBridge,
    KissTcpBridge,
    LineRadioBridge,
    LineRadioProtocolConfig,
    RadiosConfig,
)
from gateway.radio.registry import RadioRegistry

log = logging.getLogger(__name__)

Driver = AprsTnc | LineRadio


def line_protocol(config: LineRadioProtocolConfig) -> LineRadioProtocol:
    rules = tuple(
        LineRule(None if r.event == "heartbeat" else RadioEventKind(r.event), re.compile(r.match))
        for r in config.rules
    )
    return LineRadioProtocol(
        end=config.end,
        start=config.start,
        max_length=config.max_length,
        rules=rules,
        levels={code: grade.value for code, grade in config.levels.items()},
        ack=config.ack,
        outbound=config.outbound,
    )


def build_driver(name: str, config: RadiosConfig, protocols: dict[str, LineRadioProtocolConfig]) -> Driver:
    bridge = config.bridges[name]
    backoff = Backoff(0.5, bridge.reconnect_max)
    if isinstance(bridge, KissTcpBridge | KissSerialBridge):
        endpoint = (
            TcpEndpoint(bridge.host, bridge.port)
            if isinstance(bridge, KissTcpBridge)
            else SerialEndpoint(serial_settings(bridge))
        )
        assert config.callsign is not None  # the loader insists
        retry = config.retry
        return AprsTnc(
            name=name,
            link=StreamLink(endpoint, backoff),
            mycall=config.callsign,
            keywords=tuple(config.keywords),
            schedule=RetrySchedule(Backoff(retry.initial, retry.maximum), retry.attempts),
            path=tuple(bridge.path),
            kiss_port=bridge.kiss_port,
        )
    assert isinstance(bridge, LineRadioBridge)
    if bridge.tcp is not None:
        line_endpoint: TcpEndpoint | SerialEndpoint = TcpEndpoint(bridge.tcp.host, bridge.tcp.port)
    else:
        assert bridge.serial is not None
        line_endpoint = SerialEndpoint(serial_settings(bridge.serial))
    return LineRadio(
        name=name,
        link=StreamLink(line_endpoint, backoff),
        protocol=line_protocol(protocols[name]),
        heartbeat_timeout=bridge.heartbeat_timeout,
    )


class RadioHub:
    """Every radio bridge of the station; what the gateway sends to radios goes through here."""

    def __init__(
        self,
        config: RadiosConfig,
        registry: RadioRegistry,
        protocols: dict[str, LineRadioProtocolConfig],
    ) -> None:
        self.config = config
        self.registry = registry
        self.drivers: dict[str, Driver] = {
            name: build_driver(name, config, protocols) for name in config.bridges
        }
        self.deliveries: Counter[tuple[str, str]] = Counter()  # (bridge, outcome) -> messages

    def jobs(self, emit: RadioEmit) -> dict[str, Any]:
        """One long-running job per bridge, for the supervisor."""
        return {name: (lambda d=driver: d.run(emit)) for name, driver in self.drivers.items()}

    def health(self) -> dict[str, Any]:
        """Per bridge: connected or not, and what became of the frames it heard (rejections counted)."""
        return {
            name: {"connected": driver.link.connected, "frames": dict(driver.counts)}
            for name, driver in self.drivers.items()
        }

    def _bridge_for(self, radio: str) -> Driver | None:
        name = self.registry.last_bridge.get(radio.upper())
        if name in self.drivers:
            return self.drivers[name]
        return next((d for d in self.drivers.values() if isinstance(d, AprsTnc)), None)

    def _delivered(self, bridge: str, delivery: Delivery) -> Delivery:
        self.deliveries[(bridge, delivery.outcome.value)] += 1
        return delivery

    async def send(self, radio: str, text: str, bridge: str | None = None) -> Delivery:
        """A message to one radio, on ``bridge`` or where it was last heard."""
        driver = self.drivers.get(bridge) if bridge else self._bridge_for(radio)
        if driver is None:
            return Delivery(radio, Outcome.NOT_SUPPORTED, 0, 0.0)
        return self._delivered(driver.name, await driver.send_message(radio, text))

    def recipients(self, group: str | None) -> list[str]:
        """Whom a broadcast goes to: the group's radios, or every bridge for a bulletin.

        Raises :class:`CommandFailed` for a group nobody configured, before anything is sent.
        """
        if group is None:
            return list(self.drivers)
        radios = self.registry.group(group)
        if radios is None:
            known = ", ".join(self.config.groups) or "none"
            raise CommandFailed(f"no radio group {group!r} (groups: {known})")
        return radios

    async def _bulletin(self, bridge: str, text: str) -> Delivery:
        driver = self.drivers[bridge]
        sent = await (
            driver.send_bulletin(text) if isinstance(driver, AprsTnc) else driver.send_message("ALL", text)
        )
        return self._delivered(bridge, sent)

    async def broadcast(
        self, text: str, group: str | None, settled: Callable[[str, Delivery], Awaitable[None]]
    ) -> dict[str, Delivery]:
        """``text`` to every recipient at once; ``settled`` hears each outcome as it comes."""
        recipients = self.recipients(group)

        async def one(recipient: str) -> Delivery:
            if group is None:
                delivery = await self._bulletin(recipient, text)
            else:
                delivery = await self.send(recipient, text)
            await settled(recipient, delivery)
            return delivery

        deliveries = dict(zip(recipients, await asyncio.gather(*map(one, recipients)), strict=True))
        if group is None:
            log.warning("warning broadcast to all radios: %s", shown(text))
        else:
            acknowledged = sum(d.outcome is Outcome.ACKNOWLEDGED for d in deliveries.values())
            log.warning(
                "warning to group %s: %d of %d radios acknowledged", group, acknowledged, len(recipients)
            )
        return deliveries

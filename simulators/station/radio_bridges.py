"""The radio side of a simulated station: a simulator behind every radio bridge.

A KISS bridge (``kiss-tcp`` or ``kiss-serial``) gets a
:class:`simulators.radios.kiss_tnc.KissTnc` channel, on a loopback TCP port or a pty,
carrying one simulated APRS handheld per callsign in the radio registry. A
``line-radio`` bridge gets the line-radio simulator (a receiver's automation
port) on a loopback TCP port or a pty, speaking for the registry's other ids
(pendant or panel accounts). The gateway is pointed at them as at the buses,
so it runs exactly as in service; :meth:`SimulatedRadios.press` and
:meth:`SimulatedRadios.message` are what a person with a radio does.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import re
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path

from drivers.radio import aprs
from gateway.config.radios import (
    KISS_BRIDGES,
    KissTcpBridge,
    LineRadioBridge,
    LineRadioProtocolConfig,
    RadiosConfig,
    TcpEndpointConfig,
)
from simulators.devices.null_modem import NullModem
from simulators.radios.aprs_radio import AprsRadio, Heard
from simulators.radios.kiss_tnc import KissTnc
from simulators.radios.line_radio import LineRadioPeer, contact_id, surgard_heartbeat

_CALLSIGN = re.compile(r"^[A-Z0-9]{1,6}(-(1[0-5]|[0-9]))?$")
PANIC = 120  # Contact ID "panic": what a pendant's button sends
HEARTBEAT = surgard_heartbeat()  # a Sur-Gard receiver's link test


class RadioError(ValueError):
    """A radio that does not exist here, or cannot do what was asked; the message says why."""


@dataclass
class KissChannel:
    """One simulated KISS bridge: the TNC emulator and the handhelds on its air."""

    tnc: KissTnc
    handhelds: dict[str, AprsRadio]
    pty: NullModem | None = None

    def describe(self) -> str:
        where = f"pty {self.pty.port}" if self.pty else f"127.0.0.1:{self.tnc.port}"
        return f"KISS TNC emulator on {where}, handhelds {sorted(self.handhelds)}"


@dataclass
class LineChannel:
    """One simulated line-radio bridge: a receiver reporting for the ``accounts``."""

    peer: LineRadioPeer
    protocol: LineRadioProtocolConfig
    accounts: list[str]
    pty: NullModem | None = None
    tasks: set[asyncio.Task] = field(default_factory=set)

    def describe(self) -> str:
        where = f"pty {self.pty.port}" if self.pty else f"127.0.0.1:{self.peer.port}"
        return f"line-radio receiver on {where}, accounts {self.accounts}"

    def emergency_record(self, account: str) -> str:
        """A Contact ID panic record, if the profile's emergency rule takes one."""
        record = contact_id(account, 1, PANIC)
        emergency = [r for r in self.protocol.rules if r.event == "emergency"]
        if not any(re.match(rule.match, record) for rule in emergency):
            raise RadioError("this receiver's profile takes no Contact ID emergency: cannot press")
        return record


Channel = KissChannel | LineChannel


@dataclass
class SimulatedRadios:
    """Every simulated radio bridge of a station, by bridge name."""

    config: RadiosConfig
    channels: dict[str, Channel]
    _numbers: itertools.count = field(default_factory=lambda: itertools.count(1))

    def describe(self, bridge: str) -> str:
        return self.channels[bridge].describe()

    def radios(self) -> dict[str, str]:
        """Every simulated radio and the bridge it transmits on (the first that carries it)."""
        found: dict[str, str] = {}
        for name, channel in self.channels.items():
            ids = channel.handhelds if isinstance(channel, KissChannel) else channel.accounts
            for radio in ids:
                found.setdefault(radio, name)
        return found

    def problem(self, radio: str) -> str | None:
        """Why ``radio`` cannot be pressed, or None."""
        if radio.upper() not in self.radios():
            return f"no simulated radio {radio!r} (radios: {', '.join(self.radios()) or 'none'})"
        return None

    def _channel(self, radio: str) -> Channel:
        if problem := self.problem(radio):
            raise RadioError(problem)
        return self.channels[self.radios()[radio.upper()]]

    async def press(self, radio: str, *, mic_e: bool = False) -> str:
        """The radio's emergency: an APRS message with a keyword and a number (or a Mic-E
        Emergency report) to the gateway, or the receiver's panic record for a pendant."""
        radio = radio.upper()
        channel = self._channel(radio)
        if isinstance(channel, LineChannel):
            record = channel.emergency_record(radio)
            task = asyncio.create_task(channel.peer.send_until_acked(record))  # resent until acked
            channel.tasks.add(task)
            task.add_done_callback(channel.tasks.discard)
            return f"{radio} pressed: {record!r}"
        handheld = channel.handhelds[radio]
        if mic_e:
            await handheld.mic_e_emergency(31.2304, 121.4737, "EMERGENCY")
            return f"{radio} pressed: Mic-E Emergency"
        keyword = self.config.keywords[0] if self.config.keywords else "SOS"
        number = str(next(self._numbers))
        assert self.config.callsign is not None  # a KISS bridge needs one (checked by the loader)
        await handheld.message(self.config.callsign, f"{keyword} simulated press", number)
        return f"{radio} pressed: message {number} {keyword!r} to {self.config.callsign}"

    async def message(self, radio: str, text: str) -> str:
        """A text from the radio to the gateway (a numbered APRS message)."""
        radio = radio.upper()
        channel = self._channel(radio)
        if isinstance(channel, LineChannel):
            raise RadioError(f"{radio} is on line-radio bridge: a receiver sends no free text")
        number = str(next(self._numbers))
        assert self.config.callsign is not None
        await channel.handhelds[radio].message(self.config.callsign, text, number)
        return f"{radio} sent message {number}: {text}"

    def heard(self, radio: str) -> list[Heard]:
        """What ``radio`` has heard from the gateway, on every air it is on."""
        radio = radio.upper()
        return [
            heard
            for channel in self.channels.values()
            if isinstance(channel, KissChannel) and radio in channel.handhelds
            for heard in channel.handhelds[radio].heard
        ]

    def handhelds(self) -> list[str]:
        """The simulated APRS handhelds' callsigns, on whichever KISS bridges."""
        return sorted(
            {call for c in self.channels.values() if isinstance(c, KissChannel) for call in c.handhelds}
        )

    def received(self, radio: str) -> list[Heard]:
        """The messages ``radio`` received, oldest first: addressed to it, or a bulletin to all."""
        radio = radio.upper()
        return [
            heard
            for heard in self.heard(radio)
            if isinstance(heard.packet, aprs.AprsMessage)
            and (heard.packet.bulletin or heard.packet.addressee.strip().upper() == radio)
        ]

    async def wait_heard(self, radio: str, text: str, since: float, timeout: float) -> Heard:
        """The first message addressed to ``radio`` containing ``text`` heard after ``since``
        (monotonic); each handheld acknowledges it as a radio does."""
        radio = radio.upper()

        def wanted(heard: Heard) -> bool:
            packet = heard.packet
            return (
                heard.at >= since
                and isinstance(packet, aprs.AprsMessage)
                and packet.addressee.strip().upper() == radio
                and text in packet.text
            )

        channels = [c for c in self.channels.values() if isinstance(c, KissChannel) and radio in c.handhelds]
        if not channels:
            raise RadioError(f"no simulated handheld {radio!r}")
        waits = [asyncio.ensure_future(c.handhelds[radio].wait_for(wanted, timeout)) for c in channels]
        try:
            done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task.exception() is None:
                    return task.result()
            raise TimeoutError
        finally:
            for task in waits:
                task.cancel()


def handheld_calls(config: RadiosConfig) -> list[str]:
    """The registry's callsigns: each is a simulated handheld on every KISS bridge.

    A callsign has letters as well as digits; an id of digits only (``1234``) is an
    alarm receiver's account (a pendant), not something that speaks APRS.
    """
    return [
        radio.upper()
        for radio in config.registry
        if _CALLSIGN.match(radio.upper()) and re.search("[A-Z]", radio.upper())
    ]


def accounts(config: RadiosConfig) -> list[str]:
    """The registry's other ids (pendant or panel accounts): on the line-radio bridges."""
    calls = set(handheld_calls(config))
    return [radio.upper() for radio in config.registry if radio.upper() not in calls]


async def start_simulated_radios(
    config: RadiosConfig, protocols: dict[str, LineRadioProtocolConfig], ptys: Path, stack: AsyncExitStack
) -> tuple[SimulatedRadios, RadiosConfig]:
    """Simulators for every bridge; and ``config`` pointed at them. Stopped when ``stack`` closes."""
    channels: dict[str, Channel] = {}
    bridges = dict(config.bridges)
    for name, bridge in config.bridges.items():
        pty: NullModem | None = None
        if isinstance(bridge, KISS_BRIDGES):
            tnc = await stack.enter_async_context(KissTnc())
            await tnc.serve_tcp()
            if isinstance(bridge, KissTcpBridge):
                bridges[name] = bridge.model_copy(update={"host": tnc.host, "port": tnc.port})
            else:
                pty = _pty(stack, ptys, name)
                await tnc.open_serial(pty.device_port)
                bridges[name] = bridge.model_copy(update={"port": pty.port})
            handhelds = {}
            for call in handheld_calls(config):
                handhelds[call] = await stack.enter_async_context(AprsRadio(call, tnc.host, tnc.port))
            channels[name] = KissChannel(tnc, handhelds, pty)
            continue
        assert isinstance(bridge, LineRadioBridge)
        protocol = protocols[name]
        ack = protocol.ack if protocol.ack and "{" not in protocol.ack else None
        peer = await stack.enter_async_context(
            LineRadioPeer(start=protocol.start, end=protocol.end, ack=ack.encode("latin-1") if ack else None)
        )
        if bridge.tcp is not None:
            await peer.serve_tcp()
            tcp = TcpEndpointConfig(host="127.0.0.1", port=peer.port)
            bridges[name] = bridge.model_copy(update={"tcp": tcp})
        else:
            assert bridge.serial is not None
            pty = _pty(stack, ptys, name)
            await peer.open_serial(pty.device_port)
            bridges[name] = bridge.model_copy(
                update={"serial": bridge.serial.model_copy(update={"port": pty.port})}
            )
        channel = LineChannel(peer, protocol, accounts(config), pty)
        if bridge.heartbeat_timeout and any(
            r.event == "heartbeat" and re.match(r.match, HEARTBEAT) for r in protocol.rules
        ):
            beating = asyncio.create_task(_heartbeat(peer, bridge.heartbeat_timeout / 3))
            channel.tasks.add(beating)
            stack.push_async_callback(_cancelled, beating)
        channels[name] = channel
    return SimulatedRadios(config, channels), config.model_copy(update={"bridges": bridges})


async def _heartbeat(peer: LineRadioPeer, every: float) -> None:
    """The receiver's link test, as often as a real one: a simulated station at rest
    raises no radio-link fault, however long it runs."""
    while True:
        with contextlib.suppress(TimeoutError, OSError):  # not connected yet, or gone
            await peer.connected(timeout=every)
            await peer.send(HEARTBEAT)
        await asyncio.sleep(every)


async def _cancelled(task: asyncio.Task) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def _pty(stack: AsyncExitStack, ptys: Path, name: str) -> NullModem:
    modem = NullModem(ptys, f"radio-{name}")
    modem.plug()
    stack.callback(modem.unplug)
    return modem

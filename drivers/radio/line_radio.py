"""Control stations and alarm receivers that speak text lines: presses in, messages out.

A profile says how lines are framed (CR/LF, a terminator byte, or start and
end bytes: :mod:`drivers.serial_line.framing`), which regular expressions
turn a line into an event (named groups ``radio`` or ``account``, ``code``,
``text``, ``channel``, ``zone``, ``user``, ``partition``, ``rssi``, ``snr``,
``lat``, ``lon``), which level each event
code means, what acknowledgement the far end expects, and how to phrase an
outgoing message. The acknowledgement goes out only after the gateway has
durably queued the event; a receiver that gets none sends the event again.
A receiver resends a record it got no acknowledgement for: the line itself
is the event's fingerprint, so only such copies are merged upstream.
A line the profile does not know is counted and logged, never fatal. No
frame (of any kind, heartbeats included) for ``heartbeat_timeout`` is a
radio-link fault.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections import Counter
from dataclasses import dataclass, field

from drivers.radio.delivery import Delivery, Outcome
from drivers.radio.events import RadioEmit, RadioEvent, RadioEventKind, kept
from drivers.radio.link import LinkDown, StreamLink
from drivers.radio.position import Position
from drivers.serial_line.framing import DelimitedFramer, Frame
from drivers.shown import shown

log = logging.getLogger(__name__)

SIGNAL_GROUPS = ("rssi", "snr")
ID_GROUPS = ("account", "zone", "user", "partition")


@dataclass(frozen=True, slots=True)
class LineRule:
    """Lines matching ``pattern`` are ``kind`` events (``None``: a heartbeat, no event)."""

    kind: RadioEventKind | None
    pattern: re.Pattern[str]


@dataclass(frozen=True, slots=True)
class LineRadioProtocol:
    end: bytes
    start: bytes = b""
    max_length: int = 256
    rules: tuple[LineRule, ...] = ()
    levels: dict[str, str] = field(default_factory=dict)  # event code -> level name
    ack: str | None = None  # template; the line's named groups fill it
    outbound: str | None = None  # template with {radio} and {text}
    encoding: str = "latin-1"

    def framer(self) -> DelimitedFramer:
        return DelimitedFramer(end=self.end, start=self.start, max_length=self.max_length)

    def match(self, line: str) -> tuple[LineRule, dict[str, str]] | None:
        for rule in self.rules:
            if (found := rule.pattern.search(line)) is not None:
                return rule, {k: v for k, v in found.groupdict().items() if v is not None}
        return None

    def fill(self, template: str, values: dict[str, str]) -> bytes:
        """A template with ``{name}`` fields and backslash escapes (``\\r``, ``\\x06``)."""
        return template.format_map(_Blank(values)).encode(self.encoding, "replace")


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return ""


class LineRadio:
    """One text-speaking radio link."""

    def __init__(
        self, *, name: str, link: StreamLink, protocol: LineRadioProtocol, heartbeat_timeout: float | None
    ) -> None:
        self.name = name
        self.link = link
        self.protocol = protocol
        self._heartbeat_timeout = heartbeat_timeout
        self.counts: Counter[str] = Counter()
        self._link_ok: bool | None = None  # what was last reported (None: nothing yet)

    async def _report_link(self, emit: RadioEmit, ok: bool, reason: str) -> None:
        """Say it when the link changes: down on loss or silence, up on the first line heard.

        The first line after a start reports the link up too, so a fault saved
        before a restart is cleared once the receiver is heard again.
        """
        if ok == self._link_ok:
            return
        self._link_ok = ok
        if not ok:
            log.warning("%s: %s", self.name, reason)
        await kept(emit, self._event(RadioEventKind.LINK, self.name, text=reason, link_ok=ok), log)

    async def run(self, emit: RadioEmit) -> None:
        heard = asyncio.Event()
        watchdog = asyncio.create_task(self._watch_heartbeat(heard, emit))
        try:

            async def serve(reader: asyncio.StreamReader) -> None:
                framer = self.protocol.framer()
                while data := await reader.read(4096):
                    for piece in framer.feed(data):
                        if isinstance(piece, Frame):
                            heard.set()
                            await self._line(piece, emit)
                        else:
                            self._reject(piece.reason, piece.data)

            async def state(ok: bool, reason: str) -> None:
                if not ok:  # up again only once lines are heard
                    await self._report_link(emit, False, reason)

            await self.link.run(serve, state)
        finally:
            watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watchdog

    async def _watch_heartbeat(self, heard: asyncio.Event, emit: RadioEmit) -> None:
        """A link fault when nothing is heard for the timeout; the all-clear when lines come."""
        while True:
            try:
                async with asyncio.timeout(self._heartbeat_timeout):
                    await heard.wait()
            except TimeoutError:
                reason = f"nothing heard for {self._heartbeat_timeout:g}s (heartbeat timeout)"
                await self._report_link(emit, False, reason)
                continue
            heard.clear()
            await self._report_link(emit, True, "lines heard")

    def _reject(self, reason: str, data: bytes) -> None:
        self.counts["rejected"] += 1
        self.counts[f"rejected {reason.split(':', 1)[0]}"] += 1
        log.info("%s: rejected %s: %s", self.name, shown(data), shown(reason))

    def _event(self, kind: RadioEventKind, radio: str, **fields) -> RadioEvent:
        return RadioEvent(kind, self.name, radio, fields.pop("channel", None) or self.name, **fields)

    async def _line(self, frame: Frame, emit: RadioEmit) -> None:
        line = frame.body.decode(self.protocol.encoding, "replace")
        matched = self.protocol.match(line)
        if matched is None:
            self._reject("unknown line", frame.raw)
            return
        rule, values = matched
        if rule.kind is None:
            self.counts["heartbeat"] += 1
        else:
            self.counts[rule.kind.value] += 1
            try:
                event = self._event(
                    rule.kind,
                    values.get("radio") or values.get("account", ""),
                    channel=values.get("channel"),
                    text=values.get("text", line),
                    code=values.get("code"),
                    level=self.protocol.levels.get(values.get("code", "")),
                    position=_position(values),
                    signal={k: float(values[k]) for k in SIGNAL_GROUPS if k in values},
                    raw=frame.raw,
                    fingerprint=line,
                    **{k: values.get(k) for k in ID_GROUPS},
                )
            except ValueError as exc:
                self._reject(f"bad field: {exc}", frame.raw)
                return
            if not await kept(emit, event, log):  # no acknowledgement: the far end sends it again
                self.counts["not kept"] += 1
                return
        if self.protocol.ack is not None:
            with contextlib.suppress(LinkDown):
                await self.link.send(self.protocol.fill(self.protocol.ack, values))
                self.counts["ack sent"] += 1

    async def send_message(self, radio: str, text: str) -> Delivery:
        """The outbound template, once: a line protocol has no acknowledgement of its own."""
        if self.protocol.outbound is None:
            return Delivery(radio, Outcome.NOT_SUPPORTED, 0, 0.0)
        try:
            await self.link.send(self.protocol.fill(self.protocol.outbound, {"radio": radio, "text": text}))
        except LinkDown:
            return Delivery(radio, Outcome.LINK_DOWN, 0, 0.0)
        return Delivery(radio, Outcome.SENT, 1, 0.0)


def _position(values: dict[str, str]) -> Position | None:
    if "lat" in values and "lon" in values:
        return Position(float(values["lat"]), float(values["lon"]))
    return None

"""An APRS station behind a KISS TNC (direwolf, a hardware TNC): presses in, messages out.

Incoming, for the gateway's callsign: Mic-E reports with the Emergency
status and messages containing an emergency keyword become ``emergency``
events; other messages ``text``; position reports ``position``. A message
with a number is acknowledged (``ackNN``) every time a copy arrives, as APRS
requires, and only after the gateway has durably queued what it said: a
press the gateway could not keep is not acknowledged, so the radio repeats it.

Outgoing: directed messages retransmitted until acknowledged
(:mod:`drivers.radio.delivery`) and bulletins.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import re
import secrets
import time
from collections import Counter

from drivers.radio import aprs
from drivers.radio.ax25 import Address, Ax25Error, UiFrame
from drivers.radio.delivery import Delivery, Outcome, RetrySchedule, deliver
from drivers.radio.events import RadioEmit, RadioEvent, RadioEventKind, kept
from drivers.radio.kiss import KissDecoder, KissFrame, encode
from drivers.radio.link import LinkDown, StreamLink
from drivers.shown import shown

log = logging.getLogger(__name__)

TOCALL = "APZOUT"  # APZxxx: experimental software, per the APRS tocall registry


def keyword_matcher(keywords: tuple[str, ...]) -> re.Pattern[str] | None:
    """Whole words for Latin keywords (SOS, HELP), any occurrence for others (救命)."""
    parts = [rf"\b{re.escape(k)}\b" if k.isascii() else re.escape(k) for k in keywords if k]
    return re.compile("|".join(parts), re.IGNORECASE) if parts else None


class AprsTnc:
    """One KISS TNC link and the APRS station the gateway runs on it."""

    def __init__(
        self,
        *,
        name: str,
        link: StreamLink,
        mycall: str,
        keywords: tuple[str, ...],
        schedule: RetrySchedule,
        path: tuple[str, ...] = (),
        kiss_port: int = 0,
    ) -> None:
        self.name = name
        self.link = link
        self.mycall = Address.parse(mycall)
        self._keywords = keyword_matcher(keywords)
        self._schedule = schedule
        self._path = tuple(Address.parse(p) for p in path)
        self._kiss_port = kiss_port
        # Radios drop a message number they have just seen from the same sender: a restarted
        # gateway must not start again at 1.
        self._numbers = itertools.count(secrets.randbelow(90000) + 1)
        self._waiting: dict[tuple[str, str], asyncio.Future[bool]] = {}
        self.counts: Counter[str] = Counter()  # frames by what became of them

    # -- receiving ----------------------------------------------------------------
    async def run(self, emit: RadioEmit) -> None:
        async def serve(reader: asyncio.StreamReader) -> None:
            decoder = KissDecoder()
            while data := await reader.read(4096):
                for piece in decoder.feed(data):
                    if isinstance(piece, KissFrame):
                        await self._frame(piece, emit)
                    else:
                        self._reject("kiss", piece.reason, piece.data)

        async def state(ok: bool, reason: str) -> None:
            await kept(emit, self._event(RadioEventKind.LINK, self.name, text=reason, link_ok=ok), log)

        await self.link.run(serve, state)

    def _reject(self, layer: str, reason: str, data: bytes) -> None:
        """Garbage is counted by layer and logged, never fatal."""
        self.counts["rejected"] += 1
        self.counts[f"rejected {layer}"] += 1
        log.info("%s: rejected frame (%s: %s): %s", self.name, layer, shown(reason), shown(data))

    def _event(self, kind: RadioEventKind, radio: str, **fields) -> RadioEvent:
        return RadioEvent(kind, self.name, radio, f"{self.name}:{self._kiss_port}", **fields)

    async def _frame(self, piece: KissFrame, emit: RadioEmit) -> None:
        try:
            frame = UiFrame.decode(piece.data)
            packet = aprs.parse(frame.destination.call, frame.info)
        except (Ax25Error, aprs.AprsError) as exc:
            self._reject("aprs", str(exc), piece.data)
            return
        except Exception as exc:  # a frame the decoders did not foresee: counted, never fatal to the link
            self._reject("undecodable", f"{type(exc).__name__}: {exc}", piece.data)
            return
        source = str(frame.source)
        if frame.source == self.mycall:
            self.counts["own"] += 1  # our own transmission, digipeated back
            return
        via = tuple(str(a) for a in frame.path if a.repeated)
        # A digipeated copy or a retransmission carries the same information field; a new
        # message (a new number or text) does not.
        common = {"raw": piece.data, "via": via, "fingerprint": frame.info.decode("latin-1")}
        match packet:
            case aprs.Ack(addressee=to, number=number, rejected=rejected) if self._for_me(to):
                self.counts["ack"] += 1
                answer = self._waiting.get((source, number))
                if answer is not None and not answer.done():
                    answer.set_result(not rejected)
            case aprs.AprsMessage(addressee=to, text=text, number=number) if self._for_me(to):
                self.counts["message"] += 1
                kind = RadioEventKind.TEXT
                if self._keywords is not None and self._keywords.search(text):
                    kind = RadioEventKind.EMERGENCY
                if not await kept(emit, self._event(kind, source, text=text, **common), log):
                    self.counts["not kept"] += 1
                    return
                if number is not None:
                    await self._send(aprs.ack(source, number))
                    self.counts["ack sent"] += 1
            case aprs.PositionReport(position=position, status=status):
                self.counts["position"] += 1
                kind = RadioEventKind.EMERGENCY if status == "Emergency" else RadioEventKind.POSITION
                text = f"Mic-E {status}" if status else position.comment
                if not await kept(
                    emit, self._event(kind, source, text=text, position=position, **common), log
                ):
                    self.counts["not kept"] += 1
            case _:
                self.counts["not for this station"] += 1

    def _for_me(self, addressee: str) -> bool:
        try:
            return Address.parse(addressee) == self.mycall
        except Ax25Error:
            return False

    # -- sending ------------------------------------------------------------------
    async def _send(self, info: bytes) -> None:
        frame = UiFrame(Address(TOCALL), self.mycall, self._path, info)
        await self.link.send(encode(frame.encode(), self._kiss_port))
        log.info("%s: sent %s", self.name, frame.tnc2())

    async def send_message(self, to: str, text: str) -> Delivery:
        """A directed message to ``to``, retransmitted until acknowledged; the outcome."""
        to = str(Address.parse(to))
        number = str(next(self._numbers) % 100000)
        answer: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting[(to, number)] = answer
        try:
            info = aprs.message(to, text, number)
            delivery = await deliver(to, number, lambda: self._send(info), answer, self._schedule)
        finally:
            del self._waiting[(to, number)]
        level = logging.INFO if delivery.outcome is Outcome.ACKNOWLEDGED else logging.WARNING
        log.log(level, "%s: message %s to %s: %s", self.name, number, to, delivery.outcome.value)
        return delivery

    async def send_bulletin(self, text: str, ident: str = "0") -> Delivery:
        """A bulletin (``BLN0``) every radio shows; not acknowledged, so it goes out ``attempts``
        times on the retry schedule (a radio that missed one copy hears the next)."""
        started = time.monotonic()
        info = aprs.message(f"BLN{ident}", text)
        sent = 0
        delays = self._schedule.backoff.delays()
        for attempt in range(self._schedule.attempts):
            if attempt:
                await asyncio.sleep(next(delays))
            with contextlib.suppress(LinkDown):
                await self._send(info)
                sent += 1
        outcome = Outcome.SENT if sent else Outcome.LINK_DOWN
        return Delivery(f"BLN{ident}", outcome, sent, time.monotonic() - started)

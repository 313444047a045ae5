"""The APRS station driver against a TNC stand-in on a real TCP socket: acks after the commit,
garbage counted, retransmission until acknowledged or given up."""

from __future__ import annotations

import asyncio
import contextlib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drivers.backoff import Backoff
from drivers.radio import aprs
from drivers.radio.aprs_tnc import AprsTnc
from drivers.radio.ax25 import UiFrame
from drivers.radio.delivery import Outcome, RetrySchedule
from drivers.radio.events import RadioEvent, RadioEventKind
from drivers.radio.kiss import KissDecoder, KissFrame, encode
from drivers.radio.link import StreamLink, TcpEndpoint

MYCALL = "N0GW-10"


class Tnc:
    """A KISS TCP server standing in for direwolf: frames to the gateway, frames from it."""

    def __init__(self) -> None:
        self.writer: asyncio.StreamWriter | None = None
        self.frames: list[UiFrame] = []
        self.changed = asyncio.Condition()
        self.attached = asyncio.Event()

    async def serve(self) -> int:
        self.server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    async def _client(self, reader, writer) -> None:
        self.writer = writer
        self.attached.set()
        decoder = KissDecoder()
        while data := await reader.read(4096):
            for piece in decoder.feed(data):
                if isinstance(piece, KissFrame):
                    async with self.changed:
                        self.frames.append(UiFrame.decode(piece.data))
                        self.changed.notify_all()

    async def hear(self, tnc2: str) -> None:
        await self.raw(encode(UiFrame.from_tnc2(tnc2).encode()))

    async def raw(self, data: bytes) -> None:
        assert self.writer is not None
        self.writer.write(data)
        await self.writer.drain()

    async def wait(self, predicate, timeout: float = 10.0) -> UiFrame:
        def found():
            return next((f for f in self.frames if predicate(f)), None)

        async with self.changed:
            await asyncio.wait_for(self.changed.wait_for(found), timeout)
        return found()


def is_ack(number: str):
    return lambda f: aprs.parse(f.destination.call, f.info) == aprs.Ack("N0RAD-9", number)


@contextlib.asynccontextmanager
async def station(emit, schedule=None):
    tnc = Tnc()
    port = await tnc.serve()
    driver = AprsTnc(
        name="vhf",
        link=StreamLink(TcpEndpoint("127.0.0.1", port), Backoff(0.1, 0.5)),
        mycall=MYCALL,
        keywords=("SOS", "HELP", "救命"),
        schedule=schedule or RetrySchedule(Backoff(0.3, 0.6), 3),
    )
    task = asyncio.create_task(driver.run(emit))
    await asyncio.wait_for(tnc.attached.wait(), 10)
    try:
        yield tnc, driver
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        tnc.server.close()


async def test_a_press_is_acknowledged_only_after_the_gateway_has_it():
    events: list[RadioEvent] = []
    committed = asyncio.Event()
    arrived = asyncio.Event()

    async def emit(event: RadioEvent) -> None:
        if event.kind is RadioEventKind.LINK:
            return
        events.append(event)
        arrived.set()
        await committed.wait()

    async with station(emit) as (tnc, _driver):
        await tnc.hear("N0RAD-9>APZRAD,WIDE1-1*::N0GW-10  :救命 trapped{7")
        await asyncio.wait_for(arrived.wait(), 10)
        assert events[0].kind is RadioEventKind.EMERGENCY
        assert events[0].via == ("WIDE1-1",)
        assert tnc.frames == []
        committed.set()
        await tnc.wait(is_ack("7"))


async def test_a_press_the_gateway_could_not_keep_is_not_acknowledged():
    refuse = [True]

    async def emit(event: RadioEvent) -> None:
        if event.kind is not RadioEventKind.LINK and refuse:
            refuse.pop()
            raise OSError("disk full")

    async with station(emit) as (tnc, driver):
        await tnc.hear("N0RAD-9>APZRAD::N0GW-10  :SOS{8")
        await tnc.hear("N0RAD-9>APZRAD::N0GW-10  :SOS again{9")
        await tnc.wait(is_ack("9"))  # frames are handled in order: 8 was refused before 9 was kept
        assert not any(is_ack("8")(f) for f in tnc.frames)
        assert driver.counts["not kept"] == 1


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(garbage=st.lists(st.binary(min_size=1, max_size=80), min_size=1, max_size=5))
async def test_garbage_from_the_tnc_is_counted_and_the_station_carries_on(garbage):
    events: list[RadioEvent] = []

    async def emit(event: RadioEvent) -> None:
        events.append(event)

    async with station(emit) as (tnc, driver):
        for junk in garbage:
            await tnc.raw(b"\xc0\x00" + junk.replace(b"\xc0", b"") + b"\xc0")
        await tnc.hear("N0RAD-9>APZRAD::N0GW-10  :HELP{9")
        await tnc.wait(is_ack("9"))
        heard = sum(driver.counts[k] for k in ("message", "position", "ack", "not for this station", "own"))
        assert driver.counts["rejected"] + heard == len(garbage) + 1
    assert any(e.kind is RadioEventKind.EMERGENCY for e in events)


async def test_messages_are_repeated_until_acknowledged_or_given_up():
    async def emit(event: RadioEvent) -> None:
        pass

    async with station(emit) as (tnc, driver):
        silent = await driver.send_message("N0AWAY-1", "Flood warning")
        assert silent.outcome is Outcome.GAVE_UP
        assert silent.attempts == 3
        sending = asyncio.create_task(driver.send_message("N0RAD-9", "Help is coming"))
        first = await tnc.wait(lambda f: str(f.destination) == "APZOUT" and b"Help" in f.info)
        number = aprs.parse("APZOUT", first.info).number
        await tnc.wait(lambda f: len([x for x in tnc.frames if b"Help" in x.info]) >= 2)  # repeated
        await tnc.hear(f"N0RAD-9>APZRAD::N0GW-10  :ack{number}")
        answered = await sending
        assert answered.outcome is Outcome.ACKNOWLEDGED
        assert answered.attempts >= 2

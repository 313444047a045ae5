"""An APRS handheld with a TNC, spoken to over KISS: what a person with a radio does.

It sends what the stations' radios send (a Mic-E report with the Emergency
status, a message with a number, a position), acknowledges the messages it
receives as a real radio does, and remembers every frame it hears so a test
can wait for the gateway's answer. Connect it to a direwolf's KISS port to
put real AFSK on the air.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass

from drivers.radio import aprs, mic_e
from drivers.radio.ax25 import Address, Ax25Error, UiFrame
from drivers.radio.kiss import KissDecoder, KissFrame, encode


@dataclass(frozen=True)
class Heard:
    frame: UiFrame
    packet: aprs.Packet | None
    at: float  # monotonic


class AprsRadio:
    def __init__(self, callsign: str, host: str, port: int, *, auto_ack: bool = True) -> None:
        self.callsign = Address.parse(callsign)
        self._host, self._port = host, port
        self.auto_ack = auto_ack
        self.heard: list[Heard] = []
        self._changed = asyncio.Condition()
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task | None = None

    async def __aenter__(self) -> AprsRadio:
        reader, self._writer = await asyncio.open_connection(self._host, self._port)
        self._task = asyncio.create_task(self._listen(reader))
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._writer is not None:
            self._writer.close()

    async def _listen(self, reader: asyncio.StreamReader) -> None:
        decoder = KissDecoder()
        while data := await reader.read(4096):
            for piece in decoder.feed(data):
                if isinstance(piece, KissFrame):
                    await self._heard(piece.data)

    async def _heard(self, data: bytes) -> None:
        try:
            frame = UiFrame.decode(data)
            packet: aprs.Packet | None = aprs.parse(frame.destination.call, frame.info)
        except (Ax25Error, aprs.AprsError):
            return
        if (
            self.auto_ack
            and isinstance(packet, aprs.AprsMessage)
            and packet.number
            and Address.parse(packet.addressee) == self.callsign
        ):
            await self.send_info(aprs.ack(str(frame.source), packet.number))
        async with self._changed:
            self.heard.append(Heard(frame, packet, time.monotonic()))
            self._changed.notify_all()

    async def send_info(self, info: bytes, destination: str = "APZRAD", path: tuple[str, ...] = ()) -> float:
        """Transmit one frame; returns the monotonic time it was handed to the TNC."""
        assert self._writer is not None
        frame = UiFrame(Address.parse(destination), self.callsign, tuple(map(Address.parse, path)), info)
        self._writer.write(encode(frame.encode()))
        await self._writer.drain()
        return time.monotonic()

    async def message(self, to: str, text: str, number: str | None = None) -> float:
        return await self.send_info(aprs.message(to, text, number), path=("WIDE1-1",))

    async def mic_e_emergency(self, lat: float, lon: float, comment: str = "") -> float:
        """The report a radio's emergency key sends: Mic-E with message bits 000."""
        longitude, offset, west = mic_e.encode_longitude(lon)
        destination = mic_e.encode_destination(lat, 0b000, lon_offset=offset, west=west)
        info = b"`" + longitude
        info += bytes([28, 28, 28]) + b">/" + comment.encode()
        return await self.send_info(info, destination=destination, path=("WIDE1-1",))

    async def wait_for(self, predicate: Callable[[Heard], bool], timeout: float = 30.0) -> Heard:
        def found() -> Heard | None:
            return next((h for h in self.heard if predicate(h)), None)

        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(found), timeout)
        result = found()
        assert result is not None
        return result

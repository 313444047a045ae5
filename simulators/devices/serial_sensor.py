"""A simulated ASCII or binary serial sensor at the device end of a null modem.

Built from the driver's :class:`~drivers.serial_line.protocol.LineProtocol`,
so one profile drives both sides: a polled sensor answers each query it
receives, a streaming one sends a sentence every ``period`` seconds. Values
are set in engineering units, as on a Modbus unit.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from pathlib import Path

from serial_asyncio_fast import open_serial_connection

from drivers.serial_line.binary import BinaryLayout
from drivers.serial_line.protocol import LineProtocol
from simulators.devices.behaviour import Behaviour, Misbehaving
from simulators.devices.null_modem import NullModem


class SerialSensorSimulator(Misbehaving):
    def __init__(
        self,
        protocol: LineProtocol,
        directory: Path,
        *,
        name: str = "sensor",
        period: float = 1.0,
        baudrate: int = 9600,
        paced: bool = True,
        seed: int = 0,
    ) -> None:
        self.protocol = protocol
        self.name = name
        self.period = period
        self.line = NullModem(directory, name, baudrate=baudrate if paced else None)
        self.port = self.line.port
        self.points = {point.name: point for point in protocol.layout.points}
        self.behaviour = Behaviour.NORMAL
        self.sent = 0  # sentences sent, good or not
        self._binary = isinstance(protocol.layout, BinaryLayout)
        self._frame = protocol.blank_frame() if self._binary else bytearray()
        self._fields: dict[str, float] = {}
        self._random = random.Random(seed)
        self._task: asyncio.Task | None = None

    # -- what a tester changes -------------------------------------------------
    def set(self, point_name: str, value: float | bool) -> None:
        point = self._point(point_name)
        if self._binary:
            point.write(self._frame, value)
        else:
            point.write(self._fields, value)

    def get(self, point_name: str) -> float | bool:
        self._point(point_name)
        body = self.protocol.sentence(self._content())
        (reading,) = self.protocol.reader().feed(body)
        return reading.values[point_name]  # type: ignore[union-attr]

    def _point(self, name: str):
        try:
            return self.points[name]
        except KeyError:
            known = ", ".join(sorted(self.points))
            raise KeyError(f"{self.name} has no point {name!r} (known: {known})") from None

    def _content(self) -> dict[str, float] | bytearray:
        return self._frame if self._binary else self._fields

    # -- the line ------------------------------------------------------------------
    async def start(self) -> None:
        self.line.plug()
        reader, writer = await open_serial_connection(url=self.line.device_port)
        self._task = asyncio.create_task(self._serve(reader, writer))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self.line.unplug()

    async def unplug(self) -> None:
        await self.stop()

    async def replug(self) -> None:
        await self.start()

    async def __aenter__(self) -> SerialSensorSimulator:
        await self.start()
        return self

    async def __aexit__(self, *_exc) -> None:
        await self.stop()

    async def _serve(self, reader: asyncio.StreamReader, writer) -> None:
        try:
            if self.protocol.query is None:
                while True:
                    self._send(writer)
                    await asyncio.sleep(self.period)
            else:
                await self._answer_queries(reader, writer, self.protocol.query)
        except OSError:
            pass  # unplugged
        finally:
            writer.close()

    async def _answer_queries(self, reader: asyncio.StreamReader, writer, query: bytes) -> None:
        heard = b""
        while data := await reader.read(256):
            heard += data
            while (at := heard.find(query)) >= 0:
                heard = heard[at + len(query) :]
                self._send(writer)
            heard = heard[-len(query) :]

    def _send(self, writer) -> None:
        if self.behaviour is Behaviour.SILENT:
            return
        sentence = self.protocol.sentence(
            self._content(), bad_checksum=self.behaviour is Behaviour.BAD_CHECKSUM
        )
        if self.behaviour is Behaviour.NOISE:
            sentence = self._random.randbytes(len(sentence))
        writer.write(sentence)
        self.sent += 1

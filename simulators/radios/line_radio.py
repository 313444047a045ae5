"""A text-speaking radio peer: an alarm receiver's automation port or a radio control station.

It serves TCP (the gateway connects, as to a receiver's TCP automation
output) or talks over a serial port path (a pty of
:class:`simulators.devices.null_modem.NullModem`). It sends records in the profile's
framing, waits for the gateway's acknowledgement and sends the record again
if none comes, as receivers do, and keeps every byte the gateway sent.
Records in the formats the manufacturers document (Sur-Gard Contact ID and
SIA Protocol 2, the receiver's heartbeat) come from the helpers below, or
verbatim from a manual through :meth:`LineRadioPeer.send`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from serial_asyncio_fast import open_serial_connection


def contact_id(
    account: str,
    qualifier: int | str,
    code: int,
    *,
    group: int = 1,
    zone: int = 1,
    receiver: int = 1,
    line: int = 1,
    separator: str = " ",
) -> str:
    """A Contact ID record as a Sur-Gard receiver prints it: ``5RRLs18AAAAQXYZGGCCC``.

    ``qualifier`` as the phone line sends it (1, 3, 6) or as the MLR2 manuals
    print it (E new event, R restore, P previous event); ``separator`` is the
    manual's ``s``: a space.
    """
    return f"5{receiver:02d}{line}{separator}18{account}{qualifier}{code:03d}{group:02d}{zone:03d}"


def sia_block(account: str, code: str, zone: int, *, area: int = 1, receiver: int = 1, line: int = 1) -> str:
    """A SIA event as a Sur-Gard receiver prints it (SIA Protocol 2): ``SRRL[#AAAA|Nri1BA01]``."""
    return f"S{receiver:02d}{line}[#{account}|Nri{area}{code}{zone:02d}]"


def surgard_heartbeat(receiver: int = 1, line: int = 1) -> str:
    """The receiver's supervisory heartbeat: ``1011sssssssssss@ssss`` (s: a space)."""
    return f"1{receiver:02d}{line}{' ' * 11}@{' ' * 4}"


class LineRadioPeer:
    def __init__(self, *, start: bytes = b"", end: bytes = b"\r\n", ack: bytes | None = None) -> None:
        self._start, self._end, self._ack = start, end, ack
        self.received = bytearray()
        self.sent_records = 0
        self._changed = asyncio.Condition()
        self._writer: asyncio.StreamWriter | None = None
        self._connected = asyncio.Event()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task] = set()
        self.port = 0

    # -- connecting ---------------------------------------------------------------
    async def serve_tcp(self) -> int:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def open_serial(self, path: str) -> None:
        reader, writer = await open_serial_connection(url=path, baudrate=9600)
        await self._accept(reader, writer)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._writer is not None:
            self._writer.close()
        self._writer = writer
        self._connected.set()
        task = asyncio.create_task(self._listen(reader))
        self._tasks.add(task)

    async def _listen(self, reader: asyncio.StreamReader) -> None:
        while data := await reader.read(4096):
            async with self._changed:
                self.received += data
                self._changed.notify_all()

    async def connected(self, timeout: float = 20.0) -> None:
        await asyncio.wait_for(self._connected.wait(), timeout)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._writer is not None:
            self._writer.close()
        if self._server is not None:
            self._server.close()

    async def __aenter__(self) -> LineRadioPeer:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- talking --------------------------------------------------------------------
    async def send_raw(self, data: bytes) -> None:
        assert self._writer is not None
        self._writer.write(data)
        await self._writer.drain()

    async def send(self, record: str) -> None:
        self.sent_records += 1
        await self.send_raw(self._start + record.encode("latin-1") + self._end)

    async def wait_received(self, text: bytes, count: int = 1, timeout: float = 20.0) -> float:
        """Until ``text`` has come from the gateway ``count`` times; the monotonic time it did."""
        async with self._changed:
            await asyncio.wait_for(
                self._changed.wait_for(lambda: self.received.count(text) >= count), timeout
            )
        return time.monotonic()

    async def send_until_acked(self, record: str, *, resend_after: float = 3.0, attempts: int = 5) -> int:
        """Send ``record`` and again until one more acknowledgement arrives; the sends it took."""
        assert self._ack is not None
        before = self.received.count(self._ack)
        for attempt in range(1, attempts + 1):
            await self.send(record)
            with contextlib.suppress(TimeoutError):
                await self.wait_received(self._ack, before + 1, timeout=resend_after)
                return attempt
        raise TimeoutError(f"no acknowledgement for {record!r} after {attempts} sends")

"""A KISS TNC emulator: one shared channel that every attached party transmits on and hears.

A real base station is a radio with a TNC (direwolf, a hardware TNC) whose
KISS port the gateway opens; handhelds reach it over the air. Here the "air"
is this process: the gateway attaches over TCP (as to direwolf's KISSPORT) or
over a serial port path (a pty of :class:`simulators.devices.null_modem.NullModem`,
as a USB TNC), simulated handhelds (:class:`simulators.radios.aprs_radio.AprsRadio`)
attach over TCP, and every KISS data frame one party sends is heard by all
the others, unchanged. No audio and no modem: what a simulated station needs
is the gateway's KISS traffic, not 1200-baud AFSK (``tests/system/test_radio_direwolf``
covers the real modem). Frames are decoded with the gateway's own codec only
to keep the noise out, so a garbled frame reaches nobody, as on the air.
"""

from __future__ import annotations

import asyncio
import contextlib

from serial_asyncio_fast import open_serial_connection

from drivers.radio.kiss import KissDecoder, KissFrame, encode


class KissTnc:
    """The channel; :meth:`serve_tcp` and :meth:`open_serial` attach parties to it."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = 0  # the TCP KISS port, once served
        self.frames = 0  # data frames carried, for a person asking how busy the air is
        self._parties: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task] = set()

    async def serve_tcp(self) -> int:
        """Listen on a free loopback port; returns it."""
        self._server = await asyncio.start_server(self._attach, self.host, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def open_serial(self, path: str) -> None:
        """Attach the far end of a serial line (the gateway opens the other end)."""
        reader, writer = await open_serial_connection(url=path, baudrate=9600)
        task = asyncio.create_task(self._attach(reader, writer))
        self._tasks.add(task)

    async def _attach(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._parties.add(writer)
        decoder = KissDecoder()
        try:
            while data := await reader.read(4096):
                for piece in decoder.feed(data):
                    if isinstance(piece, KissFrame):
                        self._transmit(writer, encode(piece.data, piece.port))
        except OSError:
            pass  # the party went away (a pty closed): it is simply off the air
        finally:
            self._parties.discard(writer)
            writer.close()

    def _transmit(self, sender: asyncio.StreamWriter, frame: bytes) -> None:
        self.frames += 1
        for party in list(self._parties):
            if party is not sender and not party.is_closing():
                party.write(frame)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._parties):
            writer.close()
        for task in self._tasks:
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def __aenter__(self) -> KissTnc:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

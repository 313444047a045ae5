"""A byte stream to a TNC or receiver over TCP or a serial port, reconnected with backoff.

Both radio drivers need the same thing: keep a connection open whatever
happens to the far end, say when it is lost and when it is back, and let
the sending side write frames while it is up.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from serial_asyncio_fast import open_serial_connection

from drivers.backoff import Backoff
from drivers.serial_port import SerialSettings

log = logging.getLogger(__name__)


class LinkDown(ConnectionError):
    """The link is not connected: nothing can be sent right now."""


@dataclass(frozen=True, slots=True)
class TcpEndpoint:
    host: str
    port: int

    def describe(self) -> str:
        return f"tcp {self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class SerialEndpoint:
    settings: SerialSettings

    def describe(self) -> str:
        return f"serial {self.settings.describe()}"


Endpoint = TcpEndpoint | SerialEndpoint
Serve = Callable[[asyncio.StreamReader], Awaitable[None]]
LinkState = Callable[[bool, str], Awaitable[None]]


async def _open(endpoint: Endpoint) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    if isinstance(endpoint, TcpEndpoint):
        return await asyncio.open_connection(endpoint.host, endpoint.port)
    return await open_serial_connection(url=endpoint.settings.port, **endpoint.settings.pyserial_options())


class StreamLink:
    """One connection, kept open forever; ``send`` writes while it is up."""

    def __init__(self, endpoint: Endpoint, backoff: Backoff | None = None) -> None:
        self.endpoint = endpoint
        self._backoff = backoff or Backoff(0.5, 10.0)
        self._writer: asyncio.StreamWriter | None = None
        self._send_lock = asyncio.Lock()
        self.up = asyncio.Event()  # set while connected

    @property
    def connected(self) -> bool:
        return self._writer is not None

    async def run(self, serve: Serve, on_state: LinkState) -> None:
        """Connect, hand the reader to ``serve`` until it ends, reconnect; never returns.

        ``on_state(False, reason)`` is called when the link is lost (or cannot be
        opened), once per outage; ``on_state(True, ...)`` when it is up again.
        """
        delays = self._backoff.delays()
        down_reported = False
        while True:
            try:
                reader, writer = await _open(self.endpoint)
            except OSError as exc:
                if not down_reported:
                    log.warning("radio link %s unavailable: %s", self.endpoint.describe(), exc)
                    await on_state(False, f"cannot open {self.endpoint.describe()}: {exc}")
                    down_reported = True
                await asyncio.sleep(next(delays))
                continue
            log.info("radio link %s connected", self.endpoint.describe())
            delays = self._backoff.delays()
            self._writer = writer
            self.up.set()
            await on_state(True, f"{self.endpoint.describe()} connected")
            down_reported = False
            try:
                await serve(reader)
                reason = "closed by the far end"
            except OSError as exc:
                reason = str(exc) or type(exc).__name__
            finally:
                self._writer = None
                self.up.clear()
                writer.close()
            log.warning("radio link %s lost: %s", self.endpoint.describe(), reason)
            await on_state(False, f"{self.endpoint.describe()} lost: {reason}")
            down_reported = True
            await asyncio.sleep(next(delays))

    async def send(self, data: bytes) -> None:
        writer = self._writer
        if writer is None:
            raise LinkDown(f"{self.endpoint.describe()} is not connected")
        async with self._send_lock:
            try:
                writer.write(data)
                await writer.drain()
            except OSError as exc:
                raise LinkDown(f"{self.endpoint.describe()}: {exc}") from None

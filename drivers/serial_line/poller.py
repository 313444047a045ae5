"""One task per serial sensor: owns its port, polls or listens, and outlives the port going away.

A *window* is the time in which a valid frame must arrive: from sending the
query to ``timeout`` later for a polled sensor, ``timeout`` since the last
valid frame for a streaming one. A valid frame gives a reading at once, or a
``decode`` fault at once if it holds an implausible value (NaN, infinite). A
window that closes without one is a fault: ``decode`` naming the last
rejection when bytes came but none made a valid frame, ``timeout`` when the
line stayed silent. Stray noise between readings is counted and logged (in a
:class:`~drivers.rejections.RejectionLog`) but is no fault as long as valid
frames keep coming: a missed reading only costs latency, a false fault would
page someone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

from serial_asyncio_fast import open_serial_connection

from drivers.backoff import Backoff
from drivers.observation import DeviceFault, Emit, FaultCategory, Observation, PollOutcome
from drivers.port_lock import PortLock, keep_others_out
from drivers.rejections import Refusal, RejectionLog
from drivers.serial_line.framing import Rejection
from drivers.serial_line.protocol import Implausible, LineProtocol, LineReader, LineReading, rejection_kind
from drivers.serial_port import SerialSettings

log = logging.getLogger(__name__)

# Rejections that say only that bytes were out of place: a fault names a more telling one if any.
_UNSPECIFIC = frozenset({"noise outside a frame", "incomplete frame"})


class _Lost(Exception):
    """The port failed under us (adapter unplugged, pty closed)."""


class SerialLinePoller:
    """Reads one sensor on one serial port, forever; one outcome per window."""

    def __init__(
        self,
        *,
        settings: SerialSettings,
        device: str,
        protocol: LineProtocol,
        poll_interval: float,
        timeout: float,
        backoff: Backoff | None = None,
    ) -> None:
        self.settings = settings
        self.device = device
        self._protocol = protocol
        self._interval = poll_interval
        self._timeout = timeout
        self._backoff = backoff or Backoff(0.5, 5.0)
        self._units = protocol.units()
        self.rejections = RejectionLog(f"serial port {settings.describe()}")  # over every connection

    async def run(self, emit: Emit) -> None:
        """Read until cancelled. Never raises for the sensor's or the port's failure."""
        delays = self._backoff.delays()
        reported = False
        lock = PortLock(self.settings.port)
        while True:
            try:
                lock.acquire()
                stream, writer = await open_serial_connection(
                    url=self.settings.port, **self.settings.pyserial_options()
                )
            except OSError:  # pyserial's SerialException is one, and so is PortInUse
                lock.release()
                reason = self.settings.why_unavailable()
                if not reported:
                    log.warning("bus fault on %s: %s", self.settings.describe(), reason)
                    reported = True
                await emit(self._failed(FaultCategory.CONNECTION, f"bus fault: {reason}"))
                await asyncio.sleep(next(delays))
                continue
            keep_others_out(writer.transport.get_extra_info("serial"))
            log.info("opened %s for %s", self.settings.describe(), self.device)
            delays, reported = self._backoff.delays(), False
            try:
                await self._serve(stream, writer, emit)
            except _Lost as exc:
                reason = f"serial port {self.settings.port} lost: {exc}"
                log.warning("bus fault on %s: %s", self.settings.describe(), reason)
                reported = True
                await emit(self._failed(FaultCategory.CONNECTION, f"bus fault: {reason}"))
            finally:
                writer.close()
                lock.release()

    async def _serve(self, stream: asyncio.StreamReader, writer, emit: Emit) -> None:
        reader = self._protocol.reader()
        queue: asyncio.Queue[LineReading | Rejection | _Lost] = asyncio.Queue()
        receiver = asyncio.create_task(_receive(stream, reader, queue, self._judged))
        loop = asyncio.get_running_loop()
        try:
            next_at = loop.time()
            while True:
                if self._protocol.query is not None:
                    await asyncio.sleep(max(0.0, next_at - loop.time()))
                    self._judged(reader.flush())
                    _discard_stale(queue)
                    writer.write(self._protocol.query)
                await emit(await self._window(queue, reader, loop.time() + self._timeout))
                next_at = max(next_at + self._interval, loop.time())
        finally:
            receiver.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await receiver

    async def _window(self, queue: asyncio.Queue, reader: LineReader, deadline: float) -> PollOutcome:
        rejected: list[Rejection] = []
        while True:
            try:
                async with asyncio.timeout_at(deadline):
                    item = await queue.get()
            except TimeoutError:
                rejected.extend(r for r in self._judged(reader.flush()) if isinstance(r, Rejection))
                return self._window_failed(rejected)
            if isinstance(item, _Lost):
                raise item
            if isinstance(item, LineReading):
                return self._reading(item)
            if isinstance(item, Implausible):
                return self._failed(FaultCategory.DECODE, item.reason)
            rejected.append(item)

    def _judged(self, items: list[LineReading | Rejection]) -> list[LineReading | Rejection]:
        """``items`` as the reader judged them; every rejection is recorded on the way."""
        for item in items:
            if isinstance(item, Rejection):
                refusal = Refusal(rejection_kind(item.reason), item.reason, item.data)
                self.rejections.record(self.device, refusal)
        return items

    def _reading(self, reading: LineReading) -> PollOutcome:
        now = datetime.now(UTC)
        observations = tuple(
            Observation(self.device, name, value, self._units.get(name), now)
            for name, value in reading.values.items()
        )
        return PollOutcome(self.device, now, time.monotonic(), observations=observations)

    def _window_failed(self, rejected: list[Rejection]) -> PollOutcome:
        if rejected:
            telling = [r for r in rejected if rejection_kind(r.reason) not in _UNSPECIFIC]
            reason = (telling or rejected)[-1].reason
            more = f" ({len(rejected)} rejected in this window)" if len(rejected) > 1 else ""
            return self._failed(FaultCategory.DECODE, f"no valid frame: {reason}{more}")
        if self._protocol.query is not None:
            return self._failed(FaultCategory.TIMEOUT, "no response (timeout)")
        return self._failed(FaultCategory.TIMEOUT, f"silent for {self._timeout:g}s")

    def _failed(self, category: FaultCategory, reason: str) -> PollOutcome:
        return PollOutcome.failed(self.device, DeviceFault(category, reason))


async def _receive(
    stream: asyncio.StreamReader,
    reader: LineReader,
    queue: asyncio.Queue,
    judged: Callable[[list[LineReading | Rejection]], list[LineReading | Rejection]],
) -> None:
    while True:
        try:
            data = await stream.read(4096)
        except OSError as exc:
            queue.put_nowait(_Lost(str(exc) or type(exc).__name__))
            return
        if not data:
            queue.put_nowait(_Lost("end of file"))
            return
        for item in judged(reader.feed(data)):
            queue.put_nowait(item)


def _discard_stale(queue: asyncio.Queue) -> None:
    """Before a query: whatever arrived since the last window answers no question of ours."""
    while not queue.empty():
        item = queue.get_nowait()
        if isinstance(item, _Lost):
            raise item

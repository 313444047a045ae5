"""Two pseudo-terminals joined back to back: a serial cable without hardware.

Each end is a real serial port that a program opens by path, as it would open
``/dev/ttyUSB0``: the gateway opens ``port``, a simulated device (pymodbus'
serial server, a sensor simulator) opens ``device_port``. The bridge copies
bytes between the two pty masters. With ``baudrate`` it delivers them no
faster than that line would (a pty has no speed of its own), so what the
gateway sees through it takes the time a real 9600-baud line takes.

``unplug`` closes both ptys, as pulling a USB adapter removes its device node:
both programs see their port fail, and the paths disappear. ``plug`` makes
fresh ptys behind the same paths.

socat would join two ptys as well; this bridge is a few lines of asyncio,
paces the line, and keeps ``outpost demo`` free of anything but Python.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tty
from pathlib import Path


class _End:
    """One pty. The bridge keeps its slave open too, so the master never sees a hang-up
    while the program at that end has the port closed."""

    def __init__(self) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        os.set_blocking(self.master, False)
        self.path = os.ttyname(self.slave)
        self.free_at = 0.0  # when the bytes already on their way will have arrived
        self.dropped = 0  # bytes lost because nobody read this end

    def close(self) -> None:
        for fd in (self.master, self.slave):
            with contextlib.suppress(OSError):
                os.close(fd)


def _link(target: str, link: str) -> None:
    """Point ``link`` at ``target`` atomically: a reader never sees it missing mid-way."""
    temporary = f"{link}.new"
    with contextlib.suppress(FileNotFoundError):
        os.unlink(temporary)
    os.symlink(target, temporary)
    os.replace(temporary, link)


class NullModem:
    def __init__(
        self, directory: Path, name: str, *, baudrate: int | None = None, char_bits: int = 10
    ) -> None:
        self.port = str(directory / name)
        self.device_port = str(directory / f"{name}.device")
        self._char_time = char_bits / baudrate if baudrate else 0.0
        self._ends: tuple[_End, _End] | None = None
        self._deliveries: set[asyncio.TimerHandle] = set()

    @property
    def plugged(self) -> bool:
        return self._ends is not None

    def plug(self) -> None:
        if self._ends is not None:
            return
        loop = asyncio.get_running_loop()
        gateway, device = _End(), _End()
        _link(gateway.path, self.port)
        _link(device.path, self.device_port)
        loop.add_reader(gateway.master, self._pump, gateway, device)
        loop.add_reader(device.master, self._pump, device, gateway)
        self._ends = (gateway, device)

    def unplug(self) -> None:
        if self._ends is None:
            return
        loop = asyncio.get_running_loop()
        for handle in self._deliveries:
            handle.cancel()
        self._deliveries.clear()
        for end in self._ends:
            loop.remove_reader(end.master)
            end.close()
        for link in (self.port, self.device_port):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(link)
        self._ends = None

    def send_to_gateway(self, data: bytes, after: float) -> None:
        """Bytes the device end sends ``after`` seconds from now (a slow slave's late answer)."""
        if self._ends is None:
            return
        gateway = self._ends[0]
        handle = asyncio.get_running_loop().call_later(after, self._carry, gateway, data)
        self._deliveries.add(handle)

    def _pump(self, source: _End, target: _End) -> None:
        try:
            data = os.read(source.master, 4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            asyncio.get_running_loop().remove_reader(source.master)
            return
        self._carry(target, data)

    def _carry(self, target: _End, data: bytes) -> None:
        """Deliver ``data`` at the far end, as fast as the line's baud rate allows."""
        if not self._char_time:
            self._deliver(target, data)
            return
        loop = asyncio.get_running_loop()
        target.free_at = max(loop.time(), target.free_at) + len(data) * self._char_time
        handle = loop.call_at(target.free_at, self._deliver, target, data)
        self._deliveries.add(handle)
        loop.call_at(target.free_at, self._deliveries.discard, handle)

    @staticmethod
    def _deliver(target: _End, data: bytes) -> None:
        """Write what the far end's buffer takes; the rest is lost, as on a real line."""
        try:
            written = os.write(target.master, data)
        except (BlockingIOError, OSError):
            written = 0
        target.dropped += len(data) - written

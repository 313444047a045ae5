"""A serial port owned by one process: a UUCP lock file, pyserial's exclusive open and TIOCEXCL.

Two masters on one RS-485 line garble each other's requests and take each
other's answers: ``outpost probe`` (or a second gateway, or minicom) on the
running service's port caused real device faults. So the gateway

- holds ``/run/lock/LCK..<device>`` with its PID (the UUCP convention that
  minicom, picocom and ``outpost probe`` honour); a lock left by a process
  that no longer runs is taken over;
- opens the port with pyserial's ``exclusive=True`` (an ``flock``: a second
  pyserial user is refused even without looking at lock files);
- sets ``TIOCEXCL`` on the open port, so the kernel refuses any further open
  (except to root).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import termios
from pathlib import Path

log = logging.getLogger(__name__)

LOCK_DIR = Path("/run/lock")


class PortInUse(OSError):
    """The port's lock file names another live process; the message says which."""


class PortLock:
    """The lock file of one serial port (re-entrant within this process)."""

    def __init__(self, port: str, directory: Path = LOCK_DIR) -> None:
        self.port = port
        self.path = directory / f"LCK..{Path(os.path.realpath(port)).name}"
        self._held = False

    def holder(self) -> str | None:
        """Another live process holding the port, described (``process 812 (outpost run ...)``), or None."""
        pid = self._pid()
        if pid is None or pid == os.getpid() or not _alive(pid):
            return None
        return f"process {pid}{_command_of(pid)}"

    def acquire(self) -> None:
        """Take the lock, or raise :class:`PortInUse`; without a writable lock directory, go without."""
        while not self._held:
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                if (holder := self.holder()) is not None:
                    raise PortInUse(f"serial port {self.port} is in use by {holder}") from None
                if self._pid() == os.getpid():
                    self._held = True
                    break
                with contextlib.suppress(FileNotFoundError):  # stale: its process is gone
                    self.path.unlink()
                continue
            except OSError as exc:  # no lock directory, or not ours to write
                log.debug("no lock file for %s: %s", self.port, exc)
                return
            with os.fdopen(fd, "w") as file:
                file.write(f"{os.getpid():>10}\n")
            self._held = True

    def release(self) -> None:
        if self._held and self._pid() == os.getpid():
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
        self._held = False

    def _pid(self) -> int | None:
        try:
            return int(self.path.read_text(encoding="ascii", errors="replace").split()[0])
        except (OSError, ValueError, IndexError):
            return None


def keep_others_out(serial: object) -> None:
    """TIOCEXCL on an open pyserial port: no further open of it but by root."""
    fd = getattr(serial, "fd", None)
    if fd is not None:
        with contextlib.suppress(OSError):  # not a tty (a test's socket): nothing to set
            fcntl.ioctl(fd, termios.TIOCEXCL)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def _command_of(pid: int) -> str:
    try:
        words = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return ""
    command = " ".join(
        Path(w.decode(errors="replace")).name if i == 0 else w.decode(errors="replace")
        for i, w in enumerate(words)
        if w
    )
    return f" ({command[:120]})" if command else ""

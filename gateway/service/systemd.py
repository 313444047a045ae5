"""Life under systemd: the notify protocol and a watchdog fed only by real progress.

``READY=1`` is sent once the configuration is loaded and every part is
started. ``WATCHDOG=1`` is sent only while the event loop turns, every bus
poller delivers poll outcomes, and the uplink gets acknowledgements for what
it has in flight; a hung poller or a stuck uplink stops the pings, and
systemd restarts the service. ``STATUS=`` carries a one-line summary.

The protocol is a datagram to the unix socket named by ``$NOTIFY_SOCKET``
(sd_notify(3)); a few lines here spare a C dependency.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


class Notifier:
    """Sends sd_notify datagrams; does nothing when not started by systemd."""

    def __init__(self, environ: dict[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET", "")
        if address.startswith("@"):
            address = "\0" + address[1:]  # abstract namespace
        self._address = address or None
        usec = env.get("WATCHDOG_USEC")
        pid = env.get("WATCHDOG_PID")
        wanted = usec is not None and (pid is None or pid == str(os.getpid()))
        self.watchdog_interval: float | None = int(usec) / 1_000_000 if wanted and usec else None

    @property
    def active(self) -> bool:
        return self._address is not None

    def send(self, *lines: str) -> None:
        if self._address is None:
            return
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            try:
                sock.sendto("\n".join(lines).encode(), self._address)
            except OSError as exc:  # systemd gone: nothing to tell, nothing to fail over
                log.debug("sd_notify failed: %s", exc)


class Progress:
    """When each part that must keep moving last moved."""

    def __init__(self) -> None:
        self._last: dict[str, float] = {}

    def beat(self, part: str) -> None:
        self._last[part] = time.monotonic()

    def watch(self, part: str) -> None:
        """Start watching ``part`` from now (it gets a full grace period)."""
        self._last.setdefault(part, time.monotonic())

    def stalled(self, limit: float, now: float | None = None) -> list[str]:
        now = time.monotonic() if now is None else now
        return sorted(part for part, last in self._last.items() if now - last > limit)


async def feed_watchdog(
    notifier: Notifier,
    progress: Progress,
    *,
    stall_after: float,
    status: Callable[[], str],
    also_stalled: Callable[[], list[str]],
) -> None:
    """Ping systemd at half its watchdog interval while everything makes progress.

    ``also_stalled`` names what is stuck besides the watched parts: a stuck uplink, a task that ended.
    """
    interval = (notifier.watchdog_interval or 20.0) / 2
    reported: tuple[str, ...] = ()
    while True:
        scheduled = time.monotonic() + interval
        await asyncio.sleep(interval)
        lag = time.monotonic() - scheduled
        stalled = progress.stalled(stall_after) + also_stalled()
        if lag > stall_after:
            stalled.append(f"event loop (late by {lag:.1f} s)")
        if stalled:
            if tuple(stalled) != reported:
                log.error("no progress from %s: withholding the watchdog keep-alive", ", ".join(stalled))
                reported = tuple(stalled)
            notifier.send(f"STATUS=STALLED: {', '.join(stalled)}")
            continue
        if reported:
            log.warning("progress again from every part; watchdog keep-alive resumes")
            reported = ()
        notifier.send("WATCHDOG=1", f"STATUS={status()}")

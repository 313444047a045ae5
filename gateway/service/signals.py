"""Stopping cleanly on SIGTERM (``systemctl stop``) and SIGINT (Ctrl-C)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Coroutine


async def run_until_signalled(job: Coroutine[None, None, None], *, grace: float = 0.0) -> None:
    """Run ``job`` until SIGTERM (systemd stop) or SIGINT (Ctrl-C), then cancel it cleanly.

    A job that signs off when cancelled (the gateway says ``offline``) has ``grace``
    seconds for it; a second signal cuts that short.
    """
    task = asyncio.ensure_future(job)
    loop = asyncio.get_running_loop()
    signalled = False

    def insist() -> None:
        # Python 3.11's asyncio.wait_for (which aiomqtt uses) can swallow a cancellation
        # that arrives as the awaited operation completes, leaving a task running that was
        # told to stop. Repeating the cancellation of every such task makes a stop reliable.
        if task.done():
            return
        task.cancel()
        for other in asyncio.all_tasks(loop):
            if other.cancelling() and not other.done():
                other.cancel()
        loop.call_later(1.0, insist)

    def stop() -> None:
        nonlocal signalled
        if signalled:
            insist()
            return
        signalled = True
        task.cancel()
        loop.call_later(grace + 1.0, insist)

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop)
    with contextlib.suppress(asyncio.CancelledError):
        await task

"""``outpost sim`` as a process of its own, and its control commands as a person types them."""

from __future__ import annotations

import asyncio
import subprocess
import sys

from tests.support.peers import REPO, outpost


async def start_sim(*args: str) -> tuple[asyncio.subprocess.Process, list[str]]:
    """``outpost sim ...`` until it says it is running; its output so far."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway.cli", "sim", *args, stdout=asyncio.subprocess.PIPE, cwd=REPO
    )
    assert process.stdout is not None
    lines: list[str] = []
    while not lines or "simulation running" not in lines[-1]:
        line = await asyncio.wait_for(process.stdout.readline(), 60)
        assert line, f"outpost sim exited: {lines}"
        lines.append(line.decode().strip())
    return process, lines


async def sim(*args: str) -> subprocess.CompletedProcess:
    """``outpost sim ACTION ...`` to completion, without blocking the event loop."""
    return await asyncio.to_thread(outpost, "sim", *args)

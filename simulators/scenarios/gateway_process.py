"""``outpost run`` as a process of its own, exactly as systemd starts it.

The scenario runner and the tests both need a gateway they can kill with
SIGKILL (a power cut) and start again on the same state directory.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path


class GatewayProcess:
    def __init__(
        self, config: Path, log: Path, env: dict[str, str] | None = None, cwd: Path | None = None
    ) -> None:
        self.config = config
        self.log = log
        self.env = env or {}
        self.cwd = cwd
        self.process: subprocess.Popen | None = None

    def start(self, *options: str) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **self.env}
        command = [sys.executable, "-m", "gateway.cli", "run", str(self.config), "--log-level", "INFO"]
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [*command, *options], stdout=log, stderr=subprocess.STDOUT, env=env, cwd=self.cwd
            )

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.process is None:
            return 0
        self.process.send_signal(sig)
        try:
            code = self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()  # never leak a gateway; the caller still sees the failure
            self.process.wait()
            raise
        finally:
            self.process = None
        return code

    async def stop_async(self, sig: int = signal.SIGTERM) -> int:
        """:meth:`stop` without blocking the event loop while the process exits."""
        return await asyncio.to_thread(self.stop, sig)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

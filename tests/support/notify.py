"""What systemd listens on for a service of ``Type=notify``: the sd_notify socket, for the tests to read."""

from __future__ import annotations

import asyncio
import socket


class NotifySocket:
    """What systemd listens on: a unix datagram socket collecting sd_notify messages."""

    def __init__(self, path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.setblocking(False)
        self.messages: list[str] = []

    async def receive(self, timeout: float = 10.0) -> str:
        loop = asyncio.get_running_loop()
        data = await asyncio.wait_for(loop.sock_recv(self.sock, 4096), timeout)
        message = data.decode()
        self.messages.append(message)
        return message

    async def wait_for(self, text: str, timeout: float = 10.0) -> str:
        async with asyncio.timeout(timeout):
            while True:
                message = await self.receive(timeout)
                if text in message:
                    return message

    def close(self) -> None:
        self.sock.close()

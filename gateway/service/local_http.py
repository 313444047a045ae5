"""A tiny HTTP/1.1 responder for loopback endpoints: one request per connection.

The gateway's ``/metrics`` and ``/healthz`` and the simulator's control
endpoint are a handful of routes each, served in the program's own event
loop; a web framework on a Pi for that is weight without benefit.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

MAX_BODY = 64 * 1024


@dataclass(frozen=True)
class HttpRequest:
    method: str
    path: str
    body: bytes


@dataclass(frozen=True)
class Response:
    status: str  # e.g. "200 OK"
    content_type: str
    body: bytes


Handler = Callable[[HttpRequest], Awaitable[Response]]


async def start_local_server(host: str, port: int, handle: Handler) -> asyncio.Server:
    """Listen on ``host:port`` (0: a free port) and answer every request with ``handle``."""

    async def respond(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await _read_request(reader)
            response = (
                await handle(request)
                if request is not None
                else Response("400 Bad Request", "text/plain", b"bad request\n")
            )
            head = (
                f"HTTP/1.1 {response.status}\r\nContent-Type: {response.content_type}\r\n"
                f"Content-Length: {len(response.body)}\r\nConnection: close\r\n\r\n"
            )
            writer.write(head.encode() + response.body)
            await writer.drain()
        except (TimeoutError, ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    return await asyncio.start_server(respond, host, port)


async def _read_request(reader: asyncio.StreamReader) -> HttpRequest | None:
    line = await asyncio.wait_for(reader.readline(), 5)
    parts = line.decode("latin-1").split(" ")
    if len(parts) < 3:
        return None
    length = 0
    while (header := await asyncio.wait_for(reader.readline(), 5)) not in (b"\r\n", b"\n", b""):
        name, _, value = header.decode("latin-1").partition(":")
        if name.strip().lower() == "content-length" and value.strip().isdigit():
            length = int(value.strip())
    if length > MAX_BODY:
        return None
    body = await asyncio.wait_for(reader.readexactly(length), 5) if length else b""
    return HttpRequest(parts[0], parts[1], body)

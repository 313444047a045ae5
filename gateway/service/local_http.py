"""A tiny HTTP/1.1 responder for loopback endpoints: one request per connection.

The gateway's ``/metrics`` and ``/healthz`` and the simulator's control
endpoint are a handful of routes each, served in the program's own event
loop; a web framework on a Pi for that is weight without benefit.

Whoever can reach the port can send anything, so every request is bounded:
the request line and each header (:data:`MAX_LINE`), the number of headers,
the body, the time to send it all, and the connections at once. A request
outside a bound gets its 4xx status and is counted with the reason; nothing
else notices.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from drivers.shown import shown

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024
MAX_LINE = 8 * 1024  # bytes of the request line or of one header line
MAX_HEADERS = 64
READ_WITHIN = 10.0  # seconds for the whole request, however slowly it trickles in
MAX_CONNECTIONS = 32


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
    headers: tuple[tuple[str, str], ...] = ()  # e.g. a redirect's Location


Handler = Callable[[HttpRequest], Awaitable[Response]]


class _Refused(Exception):
    """A request outside the bounds: the status to answer with, and the reason (a metric label)."""

    def __init__(self, status: str, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


async def start_local_server(
    host: str, port: int, handle: Handler, refused: Callable[[str], None] = lambda reason: None
) -> asyncio.Server:
    """Listen on ``host:port`` (0: a free port) and answer every request with ``handle``.

    ``refused`` is told the reason of each request refused before it reached ``handle``.
    """
    open_connections = 0

    async def answer(reader: asyncio.StreamReader) -> Response:
        try:
            if open_connections > MAX_CONNECTIONS:
                raise _Refused("503 Service Unavailable", "too many connections")
            async with asyncio.timeout(READ_WITHIN):
                request = await _read_request(reader)
        except _Refused as exc:
            refused(exc.reason)
            return Response(exc.status, "text/plain", f"{exc.reason}\n".encode())
        except TimeoutError:
            refused("too slow")
            return Response("408 Request Timeout", "text/plain", b"too slow\n")
        try:
            return await handle(request)
        except Exception:  # a bug answering one request must not reach the server
            log.exception("local HTTP request for %s failed", shown(request.path))
            return Response("500 Internal Server Error", "text/plain", b"internal error\n")

    async def respond(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal open_connections
        open_connections += 1
        try:
            response = await answer(reader)
            extra = "".join(f"{name}: {value}\r\n" for name, value in response.headers)
            head = (
                f"HTTP/1.1 {response.status}\r\nContent-Type: {response.content_type}\r\n"
                f"Content-Length: {len(response.body)}\r\n{extra}Connection: close\r\n\r\n"
            )
            writer.write(head.encode() + response.body)
            async with asyncio.timeout(READ_WITHIN):
                await writer.drain()
        except (TimeoutError, ConnectionError, asyncio.IncompleteReadError):
            pass  # the client went away or stopped reading: nothing to answer
        finally:
            open_connections -= 1
            writer.close()

    return await asyncio.start_server(respond, host, port, limit=MAX_LINE)


async def _line(reader: asyncio.StreamReader, too_long: _Refused) -> bytes:
    try:
        return await reader.readline()
    except ValueError:  # asyncio's LimitOverrunError, as readline reports it
        raise too_long from None


async def _read_request(reader: asyncio.StreamReader) -> HttpRequest:
    line = await _line(reader, _Refused("414 URI Too Long", "request line too long"))
    parts = line.decode("latin-1").split(" ")
    if len(parts) < 3:
        raise _Refused("400 Bad Request", "malformed request line")
    length = 0
    for _ in range(MAX_HEADERS + 1):
        header = await _line(reader, _Refused("431 Request Header Fields Too Large", "header too large"))
        if header in (b"\r\n", b"\n", b""):
            break
        name, _, value = header.decode("latin-1").partition(":")
        if name.strip().lower() == "content-length":
            if not value.strip().isdigit():
                raise _Refused("400 Bad Request", "malformed content-length")
            length = int(value.strip())
    else:
        raise _Refused("431 Request Header Fields Too Large", "too many headers")
    if length > MAX_BODY:
        raise _Refused("413 Content Too Large", "body too large")
    body = await reader.readexactly(length) if length else b""
    return HttpRequest(parts[0], parts[1], body)

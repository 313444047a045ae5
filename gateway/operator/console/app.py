"""``outpost console``: watch one station (or all) as the platform sees it, and answer its alarms.

Subscribes to the station's topics, prints the board (status, devices,
active alarms) once the retained state has arrived, then one line per event
as it comes, and takes commands typed on standard input (``ack``,
``broadcast``, ``exercise``), which it signs and sends with the same client
as ``outpost cmd``. ``--once`` prints the board and exits; ``--for SECONDS``
runs that long and prints the board at the end: both make it usable from
scripts and tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import stat
import sys
from collections.abc import Callable
from pathlib import Path

import aiomqtt

from gateway.commands.auth import read_key
from gateway.operator.cmd import send_command
from gateway.operator.console.board import Board
from gateway.operator.console.commands import HELP, Request, parse
from gateway.operator.console.render import log_line, render
from gateway.operator.target import OperatorTarget
from gateway.uplink.mqtt import BrokerAddress

RETAINED_QUIET = 0.5  # the retained state has arrived when the broker has been quiet this long
RETAINED_MAX = 5.0


class Console:
    def __init__(
        self,
        target: OperatorTarget,
        *,
        operator: str,
        key_dir: Path | None = None,
        out: Callable[[str], None] = print,
        command_timeout: float = 10.0,
    ) -> None:
        self.target = target
        self.board = Board()
        self._operator = operator
        self._key_dir = key_dir
        self._out = out
        self._command_timeout = command_timeout
        self._stop = asyncio.Event()

    def _client(self) -> aiomqtt.Client:
        broker = BrokerAddress.parse(self.target.broker)
        return aiomqtt.Client(
            broker.host,
            broker.port,
            username=self.target.username,
            password=self.target.password,
            protocol=aiomqtt.ProtocolVersion.V5,
            tls_params=aiomqtt.TLSParameters() if broker.tls else None,
        )

    async def run(self, *, once: bool = False, duration: float | None = None) -> None:
        async with self._client() as client:
            await client.subscribe(self.target.prefix() + "/#", qos=1)
            messages = client.messages
            await self._take_retained(messages)
            self._out(render(self.board))
            if once:
                return
            self._out(f"watching {self.target.station or 'every station'}; {HELP}")
            try:
                async with asyncio.TaskGroup() as group:
                    group.create_task(self._follow(messages))
                    group.create_task(self._read_commands())
                    if duration is not None:
                        group.create_task(self._stop_after(duration))
                    await self._stop.wait()
                    raise _Done
            except* _Done:
                pass
            finally:
                self._out(render(self.board))

    async def _take_retained(self, messages) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + RETAINED_MAX
        while loop.time() < deadline:
            try:
                async with asyncio.timeout(RETAINED_QUIET):
                    message = await anext(messages)
            except TimeoutError:
                return
            self._apply(message, quiet=True)

    def _apply(self, message: aiomqtt.Message, quiet: bool = False) -> None:
        topic = str(message.topic)
        station = self.target.station_of(topic)
        if station is None or not isinstance(message.payload, bytes | bytearray):
            return
        line = self.board.apply(
            station, topic, bytes(message.payload), self.target.prefix(station), message.retain or quiet
        )
        if line is not None:
            self._out(log_line(line))

    async def _follow(self, messages) -> None:
        async for message in messages:
            self._apply(message)

    async def _stop_after(self, duration: float) -> None:
        await asyncio.sleep(duration)
        self._stop.set()

    async def _read_commands(self) -> None:
        if not _interactive(sys.stdin):
            return  # standard input is a file, /dev/null or closed: watch only
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        while line := await reader.readline():
            await self.handle(line.decode(errors="replace"))

    async def handle(self, line: str) -> None:
        """One typed line: a command to a station, or the console's own ``show``/``help``/``quit``."""
        try:
            request = parse(line, default_station=self.target.station, operator=self._operator)
        except ValueError as exc:
            self._out(f"? {exc}")
            return
        if request == "show":
            self._out(render(self.board))
        elif request == "help":
            self._out(HELP)
        elif request == "quit":
            self._stop.set()
        elif isinstance(request, Request):
            await self._send(request)

    def _key(self, station: str) -> bytes | None:
        """``--key-dir``'s STATION.key, else the one key file when it is this station's (or all there is)."""
        if self._key_dir is not None and (self._key_dir / f"{station}.key").exists():
            return read_key(self._key_dir / f"{station}.key")
        if self.target.key_file is not None and self.target.station in (station, None):
            return read_key(self.target.key_file)
        return None

    async def _send(self, request: Request) -> None:
        described = f"{request.name} {' '.join(f'{k}={v}' for k, v in request.args.items())}"
        self._out(f"-> {request.station}: {described}")
        try:
            result = await send_command(
                broker_url=self.target.broker,
                prefix=self.target.prefix(request.station),
                station=request.station,
                name=request.name,
                args=request.args,
                key=self._key(request.station),
                username=self.target.username,
                password=self.target.password,
                timeout=self._command_timeout,
            )
        except TimeoutError:
            self._out(f"<- {request.station}: no answer within {self._command_timeout:g} s")
            return
        except aiomqtt.MqttError as exc:
            self._out(f"<- {request.station}: not sent ({exc})")
            return
        outcome = "ok" if result.get("ok") else f"REFUSED: {result.get('error')}"
        self._out(f"<- {request.station}: {request.name} {outcome}")


def _interactive(stream) -> bool:
    """A terminal, a pipe or a socket: what the event loop can wait on for typed commands."""
    try:
        fileno = stream.fileno()
        mode = os.fstat(fileno).st_mode
    except (AttributeError, OSError, ValueError):
        return False
    return os.isatty(fileno) or stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


class _Done(Exception):
    """Ends the console's task group."""


async def run_console(
    target: OperatorTarget,
    *,
    operator: str,
    key_dir: Path | None = None,
    once: bool = False,
    duration: float | None = None,
) -> None:
    def out(text: str) -> None:
        print(text, flush=True)

    console = Console(target, operator=operator, key_dir=key_dir, out=out)
    with contextlib.suppress(asyncio.CancelledError):
        await console.run(once=once, duration=duration)

"""``outpost console``: watch one station (or all) as the platform sees it, and answer its alarms.

Subscribes to the station's topics, prints the board (status, devices,
numbered alarms) once the retained state has arrived, then one line per event
as it comes, and takes downlink commands typed on standard input (``ack``,
``broadcast``, ``exercise`` and the others), which it signs and sends with the
same client as ``outpost cmd``. A command runs in the background and reports
back when the station answers: the officer can type the next one at once.
Everything it says is in the station's language (``station.locale``, or
``--lang``) and the station's time zone. ``--once`` prints the board and
exits; ``--for SECONDS`` runs that long and prints the board at the end: both
make it usable from scripts and tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import stat
import sys
from collections.abc import Callable
from datetime import tzinfo
from pathlib import Path

import aiomqtt

from gateway.commands.auth import read_key
from gateway.i18n import Translator
from gateway.operator.cmd import send_command
from gateway.operator.console.board import Board, Listed
from gateway.operator.console.commands import Refusal, Request, help_text, parse, requests
from gateway.operator.console.render import log_line, render
from gateway.operator.mqtt import connect
from gateway.operator.target import OperatorTarget

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
        t: Translator | None = None,
        zone: tzinfo | None = None,
        debug: bool = False,
        command_timeout: float = 10.0,
    ) -> None:
        self.target = target
        self.board = Board(protocol=debug)
        self._operator = operator
        self._key_dir = key_dir
        self._out = out
        self._t = t or target.translator()
        self._zone = zone or target.zone
        self._command_timeout = command_timeout
        self._stop = asyncio.Event()
        self._shown: list[Listed] = []  # the alarms as last listed: what ``ack 2`` refers to
        self._sending: set[asyncio.Task[None]] = set()

    async def run(self, *, once: bool = False, duration: float | None = None) -> None:
        async with connect(self.target.mqtt) as client:
            await client.subscribe(self.target.prefix() + "/#", qos=1)
            messages = client.messages
            await self._take_retained(messages)
            self._show()
            if once:
                return
            watched = self.target.station or self._t("console.every_station")
            self._out(self._t("console.watching", station=watched))
            try:
                async with asyncio.TaskGroup() as group:
                    group.create_task(self._follow(messages))
                    group.create_task(self._read_commands())
                    if duration is not None:
                        group.create_task(self._stop_after(duration))
                    await self._stop.wait()
                    await asyncio.gather(*self._sending)  # the answers to commands still on their way
                    raise _Done
            except* _Done:
                pass
            finally:
                self._show()

    def _show(self) -> None:
        """Print the board; its numbers are what ``ack NUMBER`` means from now on."""
        self._shown = self.board.listed()
        full_keys = self.target.station is None
        self._out(render(self.board, self._shown, self._t, self._zone, full_keys=full_keys))

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
            self._out(log_line(line, self._t, self._zone))

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
        """One typed line: commands, sent in the background, or the console's own show, help, quit."""
        try:
            typed = parse(line, default_station=self.target.station, operator=self._operator)
            if isinstance(typed, str):
                self._own(typed)
                return
            for request in requests(typed, shown=self._shown, board=self.board):
                described = " ".join([request.name, *(f"{k}={v}" for k, v in request.args.items())])
                self._out(self._t("console.sent", station=request.station, command=described))
                task = asyncio.create_task(self._send(request))
                self._sending.add(task)
                task.add_done_callback(self._sending.discard)
        except Refusal as refusal:
            self._out(f"? {refusal.text(self._t)}")

    def _own(self, word: str) -> None:
        if word == "show":
            self._show()
        elif word == "help":
            self._out(help_text(self._t))
        elif word == "quit":
            self._stop.set()

    def _key(self, station: str) -> bytes | None:
        """``--key-dir``'s STATION.key, else the one key file when it is this station's (or all there is)."""
        if self._key_dir is not None and (self._key_dir / f"{station}.key").exists():
            return read_key(self._key_dir / f"{station}.key")
        if self.target.key_file is not None and self.target.station in (station, None):
            return read_key(self.target.key_file)
        return None

    async def _send(self, request: Request) -> None:
        t, station, name = self._t, request.station, request.name
        try:
            result = await send_command(
                self.target.mqtt,
                prefix=self.target.prefix(request.station),
                station=request.station,
                name=request.name,
                args=request.args,
                key=self._key(request.station),
                timeout=self._command_timeout,
            )
        except TimeoutError:
            self._out(
                t("console.no_answer", station=station, command=name, seconds=f"{self._command_timeout:g}")
            )
            return
        except aiomqtt.MqttError as exc:
            self._out(t("console.not_sent", station=station, command=name, error=exc))
            return
        if result.ok:
            self._out(t("console.ok", station=station, command=name))
        else:
            self._out(t("console.refused", station=station, command=name, error=result.error))


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
    t: Translator | None = None,
    debug: bool = False,
    once: bool = False,
    duration: float | None = None,
) -> None:
    def out(text: str) -> None:
        print(text, flush=True)

    console = Console(target, operator=operator, key_dir=key_dir, out=out, t=t, debug=debug)
    with contextlib.suppress(asyncio.CancelledError):
        await console.run(once=once, duration=duration)

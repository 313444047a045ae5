"""What a downlink command is: a name, an argument model, a one-line help and a handler.

The commands themselves are registered in :mod:`gateway.commands.handlers`,
one decorated function each. Everything that knows command names reads them
from there: the gateway's processor, ``outpost cmd --help`` and the console's
vocabulary. Every ``outpost`` invocation builds the ``cmd`` help, so these two
modules import only what is light at module level. A handler gets the
gateway's parts through a :class:`CommandContext` and returns its own result,
which goes back to the platform as the answer's ``result``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

if TYPE_CHECKING:
    from drivers.radio.delivery import Delivery
    from gateway.alarms.engine import AlarmEngine
    from gateway.contract.events import Envelope, StationReport
    from gateway.contract.stamp import Stamper
    from gateway.radio.hub import RadioHub
    from gateway.service.boot import Boot


class Arguments(BaseModel):
    """A command's arguments: unknown ones are refused, not ignored.

    Each command's validator is built when the command first comes, not at every start.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


def problems(error: ValidationError) -> str:
    """What is wrong with some arguments, on one line: ``minutes: Input should be greater than 0``."""
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'args'}: {e['msg']}" for e in error.errors())


class CommandFailed(Exception):
    """A valid, authentic command that could not be carried out; the message says why."""


class RadioBroadcaster(Protocol):
    """What a radio bridge offers the ``broadcast`` command."""

    def recipients(self, group: str | None) -> list[str]:
        """Whom it would go to; raise :class:`CommandFailed` for an unknown group."""
        ...

    async def broadcast(
        self, text: str, group: str | None, settled: Callable[[str, Delivery], Awaitable[None]]
    ) -> dict[str, Delivery]:
        """Send it; ``settled`` hears each recipient's outcome as it comes; all of them at the end."""
        ...


class Actuators(Protocol):
    """The station's declared actuators: what ``actuate`` may switch."""

    async def set(self, name: str, value: str) -> None:
        """Switch ``name`` to ``value``; raise :class:`CommandFailed` saying why not."""
        ...


@dataclass(frozen=True)
class Pushed:
    """A pushed station file, checked and written: the job that applies it, to run after the answer."""

    sha256: str
    previous_sha256: str
    confirm_within: float
    apply: Coroutine[Any, Any, None]


class ConfigPusher(Protocol):
    """What takes a station file pushed by the platform (:mod:`gateway.service.config_push`)."""

    async def push(self, text: str) -> Pushed:
        """Check and write it; raise :class:`CommandFailed` saying why the file is refused."""
        ...


@dataclass(frozen=True)
class CommandContext:
    """The gateway's parts a handler may use; the wiring builds one per configuration."""

    boot: Boot
    engine: AlarmEngine
    publish: Callable[[Sequence[Envelope]], Awaitable[None]]
    report: Callable[[], StationReport]
    stamp: Stamper
    radio: RadioBroadcaster | None
    radio_hub: RadioHub | None
    actuators: Actuators
    in_background: Callable[[Coroutine[Any, Any, None]], None]
    config_push: ConfigPusher
    # Work to start once the command's answer is sent (applying new MQTT settings ends the session).
    after_answer: Callable[[Coroutine[Any, Any, None]], None]


A = TypeVar("A", bound=Arguments)
Handler = Callable[[CommandContext, A], Awaitable[Mapping[str, Any]]]


@dataclass(frozen=True)
class Command:
    name: str
    arguments: type[Arguments]
    help: str
    handler: Handler[Any]
    background: bool = False  # runs beside other commands instead of before them (it waits on radios)


class Registry(Mapping[str, Command]):
    """The commands by name, in the order they were registered."""

    def __init__(self) -> None:
        self._commands: dict[str, Command] = {}

    def __getitem__(self, name: str) -> Command:
        return self._commands[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._commands)

    def __len__(self) -> int:
        return len(self._commands)

    def add(
        self, name: str, arguments: type[A], help: str, *, background: bool = False
    ) -> Callable[[Handler[A]], Handler[A]]:
        """Register the decorated function as the handler of ``name``."""

        def register(handler: Handler[A]) -> Handler[A]:
            if name in self._commands:
                raise ValueError(f"command {name!r} is registered twice")
            self._commands[name] = Command(name, arguments, help, handler, background)
            return handler

        return register


@dataclass(frozen=True)
class Executor:
    """The registry's handlers bound to one configuration's parts: what the processor executes with."""

    commands: Registry
    context: CommandContext

    async def execute(self, name: str, args: Arguments) -> dict[str, Any]:
        """Run a validated command's handler."""
        return dict(await self.commands[name].handler(self.context, args))

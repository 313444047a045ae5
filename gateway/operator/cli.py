"""The platform-side tools on the ``outpost`` command line: ``cmd``, ``console``, ``walktest``."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import TYPE_CHECKING

from gateway.commands.handlers import COMMANDS
from gateway.config import ConfigError
from gateway.i18n import LOCALES
from gateway.service.signals import run_until_signalled

if TYPE_CHECKING:
    from gateway.operator.target import OperatorTarget


def _target(args: argparse.Namespace, tool: str) -> OperatorTarget | None:
    """The station an operator's tool talks to, or None after saying what is wrong."""
    from gateway.operator.target import resolve_target

    try:
        return resolve_target(
            config_path=args.config,
            broker=args.broker,
            station=args.station,
            prefix=args.prefix,
            key_file=args.key_file,
        )
    except ConfigError as exc:
        print(exc, file=sys.stderr)
    except ValueError as exc:
        print(f"outpost {tool}: {exc}", file=sys.stderr)
    return None


def _cmd_command(args: argparse.Namespace) -> int:
    from gateway.operator.cmd import parse_arguments

    target = _target(args, "cmd")
    if target is None:
        return 1 if args.config is not None else 2
    if target.station is None:
        print("outpost cmd: give --config, or --broker and --station", file=sys.stderr)
        return 2
    try:
        arguments = parse_arguments(args.args)
    except ValueError as exc:
        print(f"outpost cmd: {exc}", file=sys.stderr)
        return 2
    return _send(target, "cmd", args.name, arguments, timeout=args.timeout, follow=args.follow)


def _cmd_config_push(args: argparse.Namespace) -> int:
    from gateway.config.files import MAX_CONFIG_BYTES, UnreadableFile, read_bounded

    try:
        text = read_bounded(args.file, MAX_CONFIG_BYTES).decode("utf-8")
    except UnreadableFile as exc:
        print(f"outpost config push: {args.file}: {exc}", file=sys.stderr)
        return 2
    except UnicodeDecodeError:
        print(f"outpost config push: {args.file}: is not UTF-8 text; save it as UTF-8", file=sys.stderr)
        return 2
    if args.config is None and args.broker is None:
        args.config = args.file  # the station and its broker as the pushed file names them
    target = _target(args, "config push")
    if target is None:
        return 2
    if target.station is None:
        print("outpost config push: give --broker and --station with --key-file", file=sys.stderr)
        return 2
    return _send(target, "config push", "config_push", {"yaml": text}, timeout=args.timeout, follow=False)


def _send(
    target: OperatorTarget, tool: str, name: str, arguments: dict, *, timeout: float, follow: bool
) -> int:
    """Sign and send one command, print its answer: exit 0 done, 1 refused, 2 too large, 3 no answer."""
    import aiomqtt

    from gateway.commands.auth import read_key
    from gateway.contract.events import CommandResult, RadioTraffic
    from gateway.operator.cmd import send_command

    assert target.station is not None

    def show(item: CommandResult | RadioTraffic) -> None:
        """The answer, then each step of what it started: one JSON document per line."""
        print(item.model_dump_json(by_alias=True, exclude_none=True), flush=True)

    try:
        result = asyncio.run(
            send_command(
                target.mqtt,
                prefix=target.prefix(),
                station=target.station,
                name=name,
                args=arguments,
                key=read_key(target.key_file) if target.key_file else None,
                timeout=timeout,
                follow=show if follow else None,
            )
        )
    except ValueError as exc:  # larger than a station takes
        print(f"outpost {tool}: {exc}", file=sys.stderr)
        return 2
    except TimeoutError:
        print(
            f"outpost {tool}: no answer from station {target.station} within {timeout:g} s", file=sys.stderr
        )
        return 3
    except aiomqtt.MqttError as exc:
        print(f"outpost {tool}: broker {target.broker}: {exc}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:  # Ctrl-C while following: the broadcast goes on at the station
        return 130
    if not follow:
        print(result.model_dump_json(by_alias=True, indent=2))
    return 0 if result.ok else 1


def _cmd_console(args: argparse.Namespace) -> int:
    import getpass

    from gateway.operator.console.app import run_console

    target = _target(args, "console")
    if target is None:
        return 2
    job = run_console(
        target,
        operator=args.operator or getpass.getuser(),
        key_dir=args.key_dir,
        t=target.translator(args.lang),
        debug=args.debug,
        once=args.once,
        duration=args.duration,
    )
    return _run_operator_tool(job, "console", target.broker)


def _cmd_walktest(args: argparse.Namespace) -> int:
    from gateway.operator.walktest.app import run_walktest
    from gateway.operator.walktest.tracker import WalkTest

    target = _target(args, "walktest")
    if target is None or target.config is None:
        return 2
    walk = WalkTest(target.config)

    def out(text: str) -> None:
        print(text, flush=True)

    job = run_walktest(
        target,
        walk,
        t=target.translator(args.lang),
        report_dir=args.report_dir,
        duration=args.duration,
        out=out,
    )
    return _run_operator_tool(job, "walktest", target.broker) or (1 if walk.missing else 0)


def _run_operator_tool(job: Coroutine[None, None, None], tool: str, broker: str) -> int:
    """Run until done or signalled; a broker that cannot be reached is one line, exit status 3."""
    import aiomqtt

    try:
        asyncio.run(run_until_signalled(job))
    except aiomqtt.MqttError as exc:
        print(f"outpost {tool}: broker {broker}: {exc}", file=sys.stderr)
        return 3
    return 0


def _station_options(parser: argparse.ArgumentParser, station_help: str = "station id") -> None:
    """How an operator's tool finds the station: a station file, or broker, station and key."""
    parser.add_argument("--config", type=Path, help="take broker, station and key from this station file")
    parser.add_argument("--broker", help="broker URL, e.g. mqtt://127.0.0.1:1883")
    parser.add_argument("--station", help=station_help)
    parser.add_argument("--prefix", help="topic prefix (default outpost/v1/STATION)")
    parser.add_argument("--key-file", type=Path, help="the station's command key")


def _language_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--lang", choices=LOCALES, help="the language to speak (default: the station's locale)"
    )


def command_list() -> str:
    """The downlink commands for ``outpost cmd --help``: name, arguments, what it does."""
    lines = ["commands:"]
    for name, spec in COMMANDS.items():
        fields = spec.arguments.model_fields
        arguments = " ".join(
            f"{k}={k.upper()}" if f.is_required() else f"[{k}={k.upper()}]" for k, f in fields.items()
        )
        lines.append(f"  {' '.join(filter(None, (name, arguments)))}\n      {spec.help}")
    return "\n".join(lines)


def add_operator_commands(commands: argparse._SubParsersAction) -> None:
    """The platform-side tools: cmd, console, walk test."""
    command = commands.add_parser(
        "cmd",
        help="sign and send a downlink command, print the answer",
        epilog=command_list(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    command.add_argument("name", help=", ".join(COMMANDS))
    command.add_argument(
        "args", nargs="*", help="key=value arguments, e.g. alarm_key=cs-0427.kitchen-gas.gas"
    )
    _station_options(command)
    command.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for the answer")
    command.add_argument(
        "--follow",
        action="store_true",
        help="after the answer, print each step of the broadcast it started until it finishes "
        "(one JSON document per line)",
    )
    command.set_defaults(handler=_cmd_command)

    config = commands.add_parser("config", help="fleet configuration: push a station file to a station")
    config_commands = config.add_subparsers(dest="config_command", required=True)
    push = config_commands.add_parser(
        "push",
        help="send a station file as a signed command; the station checks it, applies it like a reload "
        "and rolls it back if it cannot reach the broker with it",
        description="Prints the station's answer (the file's sha256) and exits 0 if it took the file, "
        "1 with the reason if it refused it. Whether the file stays shows in the station's status "
        "(config.sha256, config.push) and /healthz.",
    )
    push.add_argument("file", type=Path, help="the new station file (YAML, UTF-8)")
    _station_options(push)
    push.set_defaults(handler=_cmd_config_push)
    push.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for the answer")

    console = commands.add_parser(
        "console", help="watch a station (or all) live: status, active alarms, events; ack and more"
    )
    _station_options(console, station_help="station id, or + for every station")
    console.add_argument("--key-dir", type=Path, help="command keys as DIR/STATION.key (for --station +)")
    console.add_argument("--operator", help="name recorded with acknowledgements (default: your login)")
    console.add_argument("--once", action="store_true", help="print the board from the retained state, exit")
    console.add_argument(
        "--for", dest="duration", type=float, metavar="SECONDS", help="run this long, print the board, exit"
    )
    console.add_argument(
        "--debug", action="store_true", help="show the command path's own traffic (commands, their answers)"
    )
    _language_option(console)
    console.set_defaults(handler=_cmd_console)

    walktest = commands.add_parser(
        "walktest", help="commissioning: which devices' alarms reach the platform; JSON and HTML report"
    )
    walktest.add_argument("--config", type=Path, required=True, help="the station file: its devices")
    walktest.add_argument("--broker", help="broker URL (default: the station file's first)")
    walktest.add_argument(
        "--for", dest="duration", type=float, metavar="SECONDS", help="end after this long (default: Ctrl-C)"
    )
    walktest.add_argument("--report-dir", type=Path, default=Path(), help="where the report goes (default .)")
    _language_option(walktest)
    walktest.set_defaults(handler=_cmd_walktest, station=None, prefix=None, key_file=None)

"""The ``outpost`` command line."""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path

from gateway import __version__
from gateway.service.logs import setup_logging
from gateway.service.signals import run_until_signalled

# A command that parses its own argument list (``sim``: a file or an action word first).
RawCommand = Callable[[list[str]], int]
# Commands other distributions add: ``simulators`` adds demo, sim and fleet this way,
# since the daemon's package never imports the simulators.
PLUGIN_GROUP = "outpost.commands"

# The daemon's own commands: parsed without the operator tools and the plugins, so
# ``outpost run`` (what systemd starts) loads neither.
DAEMON_COMMANDS = frozenset({"run", "check", "schema", "status", "probe"})

DEFAULT_CONFIG = Path("/etc/outpost/station.yaml")
EX_CONFIG = 78  # sysexits.h: a configuration error (systemd does not restart on it)


def _cmd_check(args: argparse.Namespace) -> int:
    from gateway.config import ConfigError, load_config

    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        if len(exc.issues) > 1:
            print(f"{len(exc.issues)} problem(s) in {args.config}", file=sys.stderr)
        return 1
    for warning in config.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(config.summary())
    print("configuration is valid")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    setup_logging(args.log_level, args.log_format)
    # The first model pydantic builds would look for its plugins in the metadata of every
    # installed distribution; a station uses none. A PYDANTIC_DISABLE_PLUGINS set outside stays.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    # What start-up builds (modules, models, validators, the configuration) lives as long as the
    # process: the collector would scan it again and again while it grows (a tenth of the time to
    # the birth) and free next to nothing. Off until it is built, then frozen: kept out of the
    # collector's sight, no full collection scans it again, at start nor while running.
    gc.disable()
    try:
        from gateway.config import ConfigError, load_config

        try:
            config = load_config(args.config)
        except ConfigError as exc:
            print(exc, file=sys.stderr)
            # The unit's RestartPreventExitStatus: restarting cannot mend a file a person must fix.
            return EX_CONFIG
        from gateway.service.runtime import STOP_GRACE, run_gateway

        gc.freeze()
    finally:
        gc.enable()
    for warning in config.warnings:  # what ``check`` warns about, in the service's log
        logging.getLogger("gateway.config").warning("%s", warning)
    asyncio.run(run_until_signalled(run_gateway(config), grace=STOP_GRACE))
    return 0


def _cmd_schema(args: argparse.Namespace) -> int:
    from gateway.contract.events import json_schemas

    schemas = json_schemas()
    if args.output is None:
        json.dump(schemas, sys.stdout, indent=2)
        print()
        return 0
    args.output.mkdir(parents=True, exist_ok=True)
    for name, schema in schemas.items():
        file = args.output / (name.replace("/", ".v") + ".schema.json")
        file.write_text(json.dumps(schema, indent=2) + "\n", encoding="utf-8")
        print(file)
    return 0


def _cmd_probe(args: argparse.Namespace) -> int:
    from gateway.config import ConfigError, load_config
    from gateway.probe import probe, table

    setup_logging("ERROR")
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    report = asyncio.run(probe(config))
    print(table(config, report))
    return 0 if all(o.ok for o in report.outcomes) else 1


def _cmd_status(args: argparse.Namespace) -> int:
    import urllib.error
    import urllib.request

    from gateway.config import ConfigError, load_config

    url = args.url
    if url is None:
        try:
            listen = load_config(args.config).station.service.metrics_listen
        except ConfigError as exc:
            print(exc, file=sys.stderr)
            return 2
        if listen is None:
            print("metrics_listen is off in this configuration: no status to ask", file=sys.stderr)
            return 2
        url = f"http://{listen}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            health = json.load(response)
    except urllib.error.HTTPError as exc:
        health = json.load(exc)
    except (OSError, ValueError) as exc:
        print(f"no gateway answers at {url}: {exc}", file=sys.stderr)
        return 2
    print(_describe_health(health))
    return 0 if health.get("healthy") else 1


def _describe_health(health: dict) -> str:
    mqtt = health["mqtt"]
    outbox = health["outbox"]
    headroom = outbox.get("headroom_hours")
    problems = list(health["stalled"])
    if outbox.get("storage_error"):
        problems.append(f"STORAGE FAULT ({outbox['storage_error']}; {outbox['memory_only']} held in memory)")
    lines = [
        f"station {health['station']}  outpost {health['version']}  up {health['uptime_s']:.0f} s  "
        f"{'HEALTHY' if health['healthy'] else 'NOT HEALTHY: ' + ', '.join(problems)}",
        f"mqtt: {'connected' if mqtt['connected'] else 'DISCONNECTED'}, {mqtt['published']} published"
        + (f", {mqtt['refused']} REFUSED by the broker" if mqtt.get("refused") else "")
        + (f", last error: {mqtt['last_error']}" if mqtt.get("last_error") else ""),
        f"outbox: {outbox['backlog']} waiting ({outbox['backlog_alarms']} alarms), "
        f"{outbox['bytes_used']} of {outbox['max_bytes']} bytes, "
        f"headroom {'unlimited' if headroom is None else f'{headroom} h'}",
        f"alarms active: {', '.join(health['alarms_active']) or 'none'}"
        + ("  (EXERCISE MODE)" if health.get("exercise") else ""),
        "devices:",
    ]
    for name, device in health["devices"].items():
        reason = f" ({device['reason']})" if device.get("reason") else ""
        lines.append(f"  {name:<20} {device['status']}{reason}")
        if last := device.get("last_rejected"):
            rejected = ", ".join(f"{count} {kind}" for kind, count in device["rejected"].items())
            lines.append(f"  {'':<20} frames rejected: {rejected}; last: {last['reason']}")
    return "\n".join(lines)


def plugin_commands() -> list[Callable[[argparse._SubParsersAction], dict[str, RawCommand] | None]]:
    """The ``add_commands`` functions registered under :data:`PLUGIN_GROUP`."""
    from importlib.metadata import entry_points

    return [entry.load() for entry in sorted(entry_points(group=PLUGIN_GROUP), key=lambda e: e.name)]


def build_parser(
    raw_commands: dict[str, RawCommand] | None = None, *, everything: bool = True
) -> argparse.ArgumentParser:
    """The whole command line; ``raw_commands`` collects those that parse their own arguments.

    ``everything=False``: only the :data:`DAEMON_COMMANDS`, for a command line that names one.
    """
    raw_commands = {} if raw_commands is None else raw_commands
    parser = argparse.ArgumentParser(prog="outpost", description="Station edge gateway.")
    parser.add_argument("--version", action="version", version=f"outpost {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run the gateway (what systemd starts)")
    run.add_argument("config", nargs="?", type=Path, default=DEFAULT_CONFIG)
    run.add_argument("--log-level", default="INFO")
    run.add_argument("--log-format", choices=["text", "json"], help="default: $OUTPOST_LOG_FORMAT or text")
    run.set_defaults(handler=_cmd_run)

    check = commands.add_parser("check", help="validate a configuration without touching hardware")
    check.add_argument("config", type=Path)
    check.set_defaults(handler=_cmd_check)

    schema = commands.add_parser("schema", help="write the JSON Schema of every published payload")
    schema.add_argument("-o", "--output", type=Path, help="directory (default: print to stdout)")
    schema.set_defaults(handler=_cmd_schema)

    status = commands.add_parser("status", help="summary of a running gateway (from its /healthz)")
    status.add_argument("config", nargs="?", type=Path, default=DEFAULT_CONFIG)
    status.add_argument("--url", help="health URL (default: from the config's service.metrics_listen)")
    status.set_defaults(handler=_cmd_status)

    probe = commands.add_parser("probe", help="read every configured point once and print a table")
    probe.add_argument("config", type=Path)
    probe.set_defaults(handler=_cmd_probe)

    if not everything:
        return parser
    from gateway.operator.cli import add_operator_commands
    from gateway.service.rollback import add_rollback_command

    add_rollback_command(commands)
    add_operator_commands(commands)
    for add in plugin_commands():
        raw_commands.update(add(commands) or {})
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    raw_commands: dict[str, RawCommand] = {}
    parser = build_parser(raw_commands, everything=not argv or argv[0] not in DAEMON_COMMANDS)
    if argv and argv[0] in raw_commands:
        # argparse's REMAINDER would not pass such a command a leading option such as -h.
        return raw_commands[argv[0]](argv[1:])
    args = parser.parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())

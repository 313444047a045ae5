"""The ``outpost`` command line."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import TYPE_CHECKING

from gateway import __version__
from gateway.config import ConfigError, load_config
from gateway.logs import setup_logging

if TYPE_CHECKING:
    from gateway.operator import OperatorTarget

DEFAULT_CONFIG = Path("/etc/outpost/station.yaml")


def _cmd_check(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        print(f"{len(exc.issues)} problem(s) in {args.config}", file=sys.stderr)
        return 1
    print(config.summary())
    print("configuration is valid")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    setup_logging(args.log_level, args.log_format)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    from gateway.runtime import run_gateway

    asyncio.run(run_until_signalled(run_gateway(config)))
    return 0


async def run_until_signalled(job: Coroutine[None, None, None]) -> None:
    """Run ``job`` until SIGTERM (systemd stop) or SIGINT (Ctrl-C), then cancel it cleanly."""
    task = asyncio.ensure_future(job)
    loop = asyncio.get_running_loop()

    def stop() -> None:
        # Python 3.11's asyncio.wait_for (which aiomqtt uses) can swallow a cancellation
        # that arrives as the awaited operation completes, leaving a task running that was
        # told to stop. Repeating the cancellation of every such task makes a stop reliable.
        if task.done():
            return
        task.cancel()
        for other in asyncio.all_tasks(loop):
            if other.cancelling() and not other.done():
                other.cancel()
        loop.call_later(1.0, stop)

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop)
    with contextlib.suppress(asyncio.CancelledError):
        await task


def _cmd_schema(args: argparse.Namespace) -> int:
    from gateway.events import json_schemas

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


def _cmd_demo(args: argparse.Namespace) -> int:
    from gateway.demo import run_demo

    setup_logging(args.log_level)
    asyncio.run(run_until_signalled(run_demo(broker=args.broker, once=args.once)))
    return 0


def _cmd_sim(args: argparse.Namespace) -> int:
    from gateway.sim.cli import main as sim_main

    return sim_main(args.args)


def _target(args: argparse.Namespace, tool: str) -> OperatorTarget | None:
    """The station an operator's tool talks to, or None after saying what is wrong."""
    from gateway.operator import resolve_target

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
    from gateway.commands.auth import read_key
    from gateway.commands.client import parse_arguments, send_command

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
    try:
        result = asyncio.run(
            send_command(
                broker_url=target.broker,
                prefix=target.prefix(),
                station=target.station,
                name=args.name,
                args=arguments,
                key=read_key(target.key_file) if target.key_file else None,
                username=target.username,
                password=target.password,
                timeout=args.timeout,
            )
        )
    except TimeoutError:
        print(
            f"outpost cmd: no answer from station {target.station} within {args.timeout:g} s", file=sys.stderr
        )
        return 3
    print(json.dumps(result, indent=2))
    return 0 if result.get("ok") else 1


def _cmd_console(args: argparse.Namespace) -> int:
    import getpass

    from gateway.console.app import run_console

    target = _target(args, "console")
    if target is None:
        return 2
    job = run_console(
        target,
        operator=args.operator or getpass.getuser(),
        key_dir=args.key_dir,
        once=args.once,
        duration=args.duration,
    )
    return _run_operator_tool(job, "console", target.broker)


def _cmd_walktest(args: argparse.Namespace) -> int:
    from gateway.walktest.app import run_walktest
    from gateway.walktest.tracker import WalkTest

    target = _target(args, "walktest")
    if target is None or target.config is None:
        return 2
    walk = WalkTest(target.config)

    def out(text: str) -> None:
        print(text, flush=True)

    job = run_walktest(target, walk, report_dir=args.report_dir, duration=args.duration, out=out)
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


def _cmd_probe(args: argparse.Namespace) -> int:
    from gateway.probe import probe, table

    setup_logging("ERROR")
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    outcomes = asyncio.run(probe(config))
    print(table(config, outcomes))
    return 0 if all(o.ok for o in outcomes) else 1


def _cmd_status(args: argparse.Namespace) -> int:
    import urllib.error
    import urllib.request

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
    lines = [
        f"station {health['station']}  outpost {health['version']}  up {health['uptime_s']:.0f} s  "
        f"{'HEALTHY' if health['healthy'] else 'STALLED: ' + ', '.join(health['stalled'])}",
        f"mqtt: {'connected' if mqtt['connected'] else 'DISCONNECTED'}, {mqtt['published']} published"
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
    return "\n".join(lines)


def _cmd_fleet(args: argparse.Namespace) -> int:
    from gateway.fleet.link import LinkError
    from gateway.fleet.run import FleetSettings, describe, run_fleet

    setup_logging(args.log_level)
    settings = FleetSettings(
        broker=args.broker,
        stations=args.stations,
        duration=args.duration,
        telemetry_interval=args.telemetry_interval,
        report_interval=args.report_interval,
        alarm_burst=args.alarm_burst,
        reconnect_storm=args.reconnect_storm,
        template=args.config,
        connect_rate=args.connect_rate,
        station_id=args.station_id,
    )
    try:
        report = asyncio.run(run_fleet(settings, keep_retained=args.keep_retained))
    except ValueError as exc:
        print(f"outpost fleet: {exc}", file=sys.stderr)
        return 2
    except (LinkError, RuntimeError, TimeoutError) as exc:
        print(f"outpost fleet: {exc or type(exc).__name__}", file=sys.stderr)
        return 3
    print(describe(report))
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        print(f"JSON: {args.json}")
    delivery = report["delivery"]
    return 0 if delivery["alarms_received"] == delivery["alarms_sent"] else 1


def _add_operator_tools(commands) -> None:
    """The platform-side tools: console, fleet, walk test."""
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
    walktest.set_defaults(handler=_cmd_walktest, station=None, prefix=None, key_file=None)

    fleet = commands.add_parser("fleet", help="simulate many stations' MQTT traffic and measure the broker")
    fleet.add_argument("--stations", type=int, default=100)
    fleet.add_argument("--duration", type=float, default=60.0, help="seconds of traffic (default 60)")
    fleet.add_argument("--telemetry-interval", type=float, default=60.0, help="per device (default 60 s)")
    fleet.add_argument("--report-interval", type=float, default=300.0, help="station reports (default 300 s)")
    fleet.add_argument("--alarm-burst", type=int, default=0, help="alarms every station raises at once")
    fleet.add_argument(
        "--reconnect-storm", type=float, default=0.0, help="share of stations whose link drops at once (0..1)"
    )
    fleet.add_argument(
        "--connect-rate", type=float, default=200.0, help="stations coming online per second (0: at once)"
    )
    fleet.add_argument(
        "--station-id", default="fleet-{n:04d}", help="station ids, n counting from 1 (default fleet-{n:04d})"
    )
    fleet.add_argument("--broker", default="mqtt://127.0.0.1:1883", help="default mqtt://127.0.0.1:1883")
    fleet.add_argument("--config", type=Path, help="template station file (default: the example station)")
    fleet.add_argument("--json", type=Path, help="also write the figures to this file")
    fleet.add_argument("--keep-retained", action="store_true", help="leave the stations' retained state")
    fleet.add_argument("--log-level", default="WARNING")
    fleet.set_defaults(handler=_cmd_fleet)


def build_parser() -> argparse.ArgumentParser:
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

    command = commands.add_parser("cmd", help="sign and send a downlink command, print the answer")
    command.add_argument(
        "name", help="ping, ack, shelve, unshelve, reset, exercise, report, broadcast, actuate"
    )
    command.add_argument(
        "args", nargs="*", help="key=value arguments, e.g. alarm_key=cs-0427.kitchen-gas.gas"
    )
    _station_options(command)
    command.add_argument("--timeout", type=float, default=10.0)
    command.set_defaults(handler=_cmd_command)

    _add_operator_tools(commands)

    demo = commands.add_parser("demo", help="a simulated station, broker and platform view in one")
    demo.add_argument("--broker", help="external broker URL (default: an embedded broker)")
    demo.add_argument("--once", action="store_true", help="exit after one scripted gas leak")
    demo.add_argument("--log-level", default="WARNING")
    demo.set_defaults(handler=_cmd_demo)

    sim = commands.add_parser(
        "sim",
        add_help=False,
        help="simulate a station (sim CONFIG), control it (sim set|fault|unplug|replug), "
        "play a scenario (sim scenario FILE --expect); sim -h for details",
    )
    sim.add_argument("args", nargs=argparse.REMAINDER)
    sim.set_defaults(handler=_cmd_sim)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["sim"]:
        # `sim` parses its own arguments (a file or an action word first); argparse's
        # REMAINDER would not pass it a leading option such as -h.
        return _cmd_sim(argparse.Namespace(args=argv[1:]))
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())

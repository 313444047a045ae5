"""The simulators' commands on the ``outpost`` command line: ``demo``, ``sim``, ``fleet``.

``gateway`` never imports ``simulators``: these commands reach ``outpost`` through
the ``outpost.commands`` entry point group (``pyproject.toml``), so a station
could be installed without the simulators at all.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable
from pathlib import Path

from gateway.i18n import LOCALES
from gateway.service.logs import setup_logging
from gateway.service.signals import run_until_signalled


def _cmd_demo(args: argparse.Namespace) -> int:
    from simulators.demo import run_demo

    setup_logging(args.log_level)
    asyncio.run(run_until_signalled(run_demo(broker=args.broker, once=args.once, lang=args.lang)))
    return 0


def _cmd_sim(args: argparse.Namespace) -> int:
    from simulators.station.cli import main as sim_main

    return sim_main(args.args)


def _cmd_fleet(args: argparse.Namespace) -> int:
    from simulators.fleet.link import LinkError
    from simulators.fleet.run import FleetSettings, describe, run_fleet

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


def add_commands(commands: argparse._SubParsersAction) -> dict[str, Callable[[list[str]], int]]:
    """Add ``demo``, ``sim`` and ``fleet``; return the commands that parse their own arguments."""
    demo = commands.add_parser("demo", help="a simulated station, broker and platform view in one")
    demo.add_argument("--broker", help="external broker URL (default: an embedded broker)")
    demo.add_argument("--once", action="store_true", help="exit after one scripted gas leak")
    demo.add_argument("--log-level", default="WARNING")
    demo.add_argument("--lang", choices=LOCALES, help="the language to speak (default: the station's locale)")
    demo.set_defaults(handler=_cmd_demo)

    sim = commands.add_parser(
        "sim",
        add_help=False,
        help="simulate a station (sim CONFIG), control it (sim set|fault|unplug|replug), "
        "play a scenario (sim scenario FILE --expect); sim -h for details",
    )
    sim.add_argument("args", nargs=argparse.REMAINDER)
    sim.set_defaults(handler=_cmd_sim)
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
    return {"sim": lambda argv: _cmd_sim(argparse.Namespace(args=argv))}

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

from gateway import __version__
from gateway.config import ConfigError, load_config
from gateway.logs import setup_logging

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
    setup_logging(args.log_level)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    from gateway.runtime import run_gateway

    asyncio.run(_until_signalled(run_gateway(config)))
    return 0


async def _until_signalled(job: Coroutine[None, None, None]) -> None:
    """Run ``job`` until SIGTERM (systemd stop) or SIGINT (Ctrl-C), then cancel it cleanly."""
    task = asyncio.ensure_future(job)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)
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
    asyncio.run(_until_signalled(run_demo(broker=args.broker, once=args.once)))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="outpost", description="Station edge gateway.")
    parser.add_argument("--version", action="version", version=f"outpost {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run the gateway (what systemd starts)")
    run.add_argument("config", nargs="?", type=Path, default=DEFAULT_CONFIG)
    run.add_argument("--log-level", default="INFO")
    run.set_defaults(handler=_cmd_run)

    check = commands.add_parser("check", help="validate a configuration without touching hardware")
    check.add_argument("config", type=Path)
    check.set_defaults(handler=_cmd_check)

    schema = commands.add_parser("schema", help="write the JSON Schema of every published payload")
    schema.add_argument("-o", "--output", type=Path, help="directory (default: print to stdout)")
    schema.set_defaults(handler=_cmd_schema)

    demo = commands.add_parser("demo", help="a simulated station, broker and platform view in one")
    demo.add_argument("--broker", help="external broker URL (default: an embedded broker)")
    demo.add_argument("--once", action="store_true", help="exit after one scripted gas leak")
    demo.add_argument("--log-level", default="WARNING")
    demo.set_defaults(handler=_cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())

"""``outpost sim``: run a simulated station, control it, or play a scenario against it.

The forms are in :data:`USAGE`. ``outpost sim CONFIG`` takes a positional file
where the other forms take an action word, so the first word chooses the parser.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import tempfile
from contextlib import AsyncExitStack
from pathlib import Path

from gateway.config import ConfigError, load_config
from gateway.config.yaml_source import load_yaml
from gateway.service.logs import setup_logging
from simulators.station import control_server
from simulators.station.controls import Fault, StationControls, bring_to_rest

USAGE = """
    outpost sim CONFIG [--write-config OUT.yaml] [--broker URL | --embedded-broker] [--state-dir DIR]
    outpost sim set DEVICE POINT VALUE
    outpost sim fault DEVICE silent|bad-checksum|noise|exception|wrong-length|normal
    outpost sim unplug BUS  |  outpost sim replug BUS  |  outpost sim status
    outpost sim press RADIO [--mic-e]  |  outpost sim message RADIO TEXT
    outpost sim scenario FILE [--expect] [--json] [--broker URL] [--work-dir DIR]
"""
ACTIONS = ("set", "fault", "unplug", "replug", "status", "press", "message", "scenario")


def _state_file_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--state-file",
        type=Path,
        default=control_server.default_state_file(),
        help="where the running simulation's control endpoint is written (default: %(default)s)",
    )


def _run_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="outpost sim",
        usage="\n       ".join(line.strip() for line in USAGE.strip().splitlines()),
        description="Simulate every device of a station file until Ctrl-C.",
        epilog="Control a running simulation: outpost sim set|fault|unplug|replug|press|message|status ...; "
        "play a scenario: outpost sim scenario FILE --expect",
    )
    parser.add_argument("config", type=Path, help="the station YAML")
    parser.add_argument("--write-config", type=Path, metavar="OUT", help="write the gateway's station file")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--broker", help="broker URL to put in the written file")
    where.add_argument("--embedded-broker", action="store_true", help="run an amqtt broker and use it")
    parser.add_argument("--state-dir", type=Path, help="state_dir to put in the written file")
    parser.add_argument("--control-port", type=int, default=0, help="control endpoint port (0: free)")
    parser.add_argument("--log-level", default="WARNING")
    _state_file_option(parser)
    return parser


def _action_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="outpost sim", description="Control a running simulation.")
    actions = parser.add_subparsers(dest="action", required=True)
    set_ = actions.add_parser("set", help="set a point of a simulated device")
    set_.add_argument("device")
    set_.add_argument("point")
    set_.add_argument("value", help="a number, or true/false")
    fault = actions.add_parser("fault", help="make a simulated device misbehave (normal: stop)")
    fault.add_argument("device")
    fault.add_argument("fault", choices=[str(f) for f in Fault])
    for name, text in (("unplug", "pull a serial bus's adapter"), ("replug", "plug it back in")):
        actions.add_parser(name, help=text).add_argument("bus")
    actions.add_parser(
        "status", help="what is simulated, where, how each device answers, actuators, handhelds' messages"
    )
    press = actions.add_parser("press", help="a simulated radio's emergency key")
    press.add_argument("radio", help="a callsign (handheld) or an account (pendant) of the registry")
    press.add_argument("--mic-e", action="store_true", help="a Mic-E Emergency report, not a message")
    message = actions.add_parser("message", help="a text from a simulated handheld to the gateway")
    message.add_argument("radio")
    message.add_argument("text")
    for sub in actions.choices.values():
        _state_file_option(sub)
    scenario = actions.add_parser("scenario", help="play a scenario file and judge its expectations")
    scenario.add_argument("file", type=Path)
    scenario.add_argument("--expect", action="store_true", help="exit 1 when any expectation fails")
    scenario.add_argument("--json", action="store_true", help="print the report as JSON")
    scenario.add_argument("--broker", help="broker URL (default: an embedded amqtt broker)")
    scenario.add_argument("--work-dir", type=Path, help="keep the gateway's files and log here")
    scenario.add_argument("--log-level", default="WARNING")
    return parser


def main(argv: list[str]) -> int:
    if argv and argv[0] in ACTIONS:
        args = _action_parser().parse_args(argv)
        if args.action == "scenario":
            return _scenario(args)
        return _control(args)
    args = _run_parser().parse_args(argv)
    return _simulate(args)


def _value(text: str) -> float | bool:
    lowered = text.lower()
    if lowered in ("true", "on", "yes"):
        return True
    if lowered in ("false", "off", "no"):
        return False
    return float(text)


def _control(args: argparse.Namespace) -> int:
    body: dict | None
    if args.action == "set":
        try:
            body = {"device": args.device, "point": args.point, "value": _value(args.value)}
        except ValueError:
            print(f"outpost sim set: {args.value!r} is not a number or true/false", file=sys.stderr)
            return 2
    elif args.action == "fault":
        body = {"device": args.device, "fault": args.fault}
    elif args.action in ("unplug", "replug"):
        body = {"bus": args.bus}
    elif args.action == "press":
        body = {"radio": args.radio, "mic_e": args.mic_e}
    elif args.action == "message":
        body = {"radio": args.radio, "text": args.text}
    else:
        body = None
    try:
        answer = control_server.request(args.state_file, args.action, body)
    except ConnectionError as exc:
        print(f"outpost sim: {exc}", file=sys.stderr)
        return 3
    if body is None:
        print(json.dumps(answer, indent=2))
        return 0
    if not answer.get("ok"):
        print(f"outpost sim {args.action}: {answer.get('error')}", file=sys.stderr)
        return 1
    print(answer["message"])
    return 0


def _simulate(args: argparse.Namespace) -> int:
    from gateway.service.signals import run_until_signalled

    setup_logging(args.log_level)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    asyncio.run(run_until_signalled(_serve(config, args)))
    return 0


async def _serve(config, args: argparse.Namespace) -> None:
    from simulators.demo import embedded_broker
    from simulators.station.buses import start_simulated_station
    from simulators.station.gateway_config import gateway_config, write_yaml
    from simulators.station.web import start_web

    async with AsyncExitStack() as stack:
        broker, protocol = args.broker, "mqtt5"
        if args.embedded_broker:
            broker, protocol = await stack.enter_async_context(embedded_broker()), "mqtt311"
            print(f"broker: {broker}")
        station = await start_simulated_station(config, stack)
        controls = StationControls(station)
        bring_to_rest(controls)
        for name in station.servers:
            print(f"simulated bus {name}: {station.describe(name)}")
        if station.radios is not None:
            for name in station.radios.channels:
                print(f"simulated radio bridge {name}: {station.radios.describe(name)}")
        if args.write_config is not None:
            data, _ = load_yaml(args.config)
            written = gateway_config(
                data, args.config, station, broker=broker, protocol=protocol, state_dir=args.state_dir
            )
            write_yaml(written, args.write_config, comment=f"{args.config} pointed at `outpost sim`")
            print(f"gateway config: {args.write_config} (outpost run {args.write_config})")
        pages = await start_web(stack, controls, broker)
        server = await control_server.start_control_server(controls, port=args.control_port, pages=pages)
        stack.push_async_callback(server.wait_closed)
        stack.callback(server.close)
        url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        control_server.write_state_file(
            args.state_file, url, station=config.station.station.id, config=str(args.write_config or "")
        )
        stack.callback(args.state_file.unlink, missing_ok=True)
        print(f"control: {url} (state file {args.state_file})")
        print(f"web page: {url}/")
        print("simulation running; press Ctrl-C to stop", flush=True)
        await asyncio.Event().wait()


def _scenario(args: argparse.Namespace) -> int:
    from simulators.scenarios.scenario import load_scenario

    setup_logging(args.log_level)
    work_dir = args.work_dir or Path(tempfile.mkdtemp(prefix="outpost-scenario-"))
    work_dir.mkdir(parents=True, exist_ok=True)
    try:
        loaded = load_scenario(args.file, work_dir)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        print(f"{len(exc.issues)} problem(s) in {args.file}", file=sys.stderr)
        return 1
    announce = (lambda _line: None) if args.json else (lambda line: print(line, flush=True))
    report = asyncio.run(_play(loaded, args.broker, work_dir, announce))
    if report.passed and args.work_dir is None:
        report.gateway_log = ""
    print(json.dumps(report.as_dict(), indent=2) if args.json else report.text())
    if report.passed and args.work_dir is None:
        shutil.rmtree(work_dir, ignore_errors=True)  # a failed run keeps its files for a look
    return 1 if args.expect and not report.passed else 0


async def _play(loaded, broker_url: str | None, work_dir: Path, announce):
    from simulators.demo import EmbeddedBroker
    from simulators.scenarios.runner import Broker, run_scenario

    if broker_url is not None:
        return await run_scenario(loaded, Broker(broker_url), work_dir, announce=announce)
    embedded = EmbeddedBroker()
    await embedded.start()
    try:
        # amqtt speaks MQTT 3.1.1 only.
        broker = Broker(embedded.url, "mqtt311", stop=embedded.stop, start=embedded.start)
        return await run_scenario(loaded, broker, work_dir, announce=announce)
    finally:
        await embedded.stop()

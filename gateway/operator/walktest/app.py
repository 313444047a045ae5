"""``outpost walktest``: listen as the platform while a technician triggers every device of a station.

One line per device as its first alarm or test event reaches the platform;
at the end (``--for SECONDS`` or Ctrl-C) the commissioning report, JSON and
HTML, lists every configured device, when it was heard and which were not.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import aiomqtt

from gateway.operator.target import OperatorTarget
from gateway.operator.walktest.report import write_reports
from gateway.operator.walktest.tracker import DeviceCheck, WalkTest
from gateway.uplink.mqtt import BrokerAddress


def reached_line(walk: WalkTest, check: DeviceCheck) -> str:
    event = check.event or {}
    at = check.reached_at.astimezone().strftime("%H:%M:%S") if check.reached_at else ""
    return (
        f"REACHED {len(walk.reached)}/{len(walk.devices)}  {check.device:<20} {at}  "
        f"{event.get('kind')} {event.get('transition')} ({event.get('status')}, {event.get('level')})  "
        f"{check.location}"
    )


async def _listen(target: OperatorTarget, walk: WalkTest, out: Callable[[str], None]) -> None:
    broker = BrokerAddress.parse(target.broker)
    async with aiomqtt.Client(
        broker.host,
        broker.port,
        username=target.username,
        password=target.password,
        tls_params=aiomqtt.TLSParameters() if broker.tls else None,
    ) as client:
        await client.subscribe(f"{target.prefix()}/alarm", qos=1)
        walk.started_at = datetime.now(UTC)
        walk.listening = True
        out(
            f"walk test of station {walk.station}: {len(walk.devices)} devices; "
            "trigger each sensor and button now (Ctrl-C ends and writes the report)"
        )
        for check in walk.devices.values():
            out(f"  waiting  {check.device:<20} {check.location}")
        async for message in client.messages:
            try:
                body = json.loads(message.payload)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                continue
            if isinstance(body, dict) and (check := walk.observe(body, message.retain)) is not None:
                out(reached_line(walk, check))


async def run_walktest(
    target: OperatorTarget,
    walk: WalkTest,
    *,
    report_dir: Path,
    duration: float | None = None,
    out: Callable[[str], None] = print,
) -> None:
    """Listen until ``duration`` is over or the task is cancelled (Ctrl-C).

    The report is written whenever listening had begun, also when a lost
    broker ends the walk test early: what was heard until then is on record.
    """
    try:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(duration):
                await _listen(target, walk, out)
    finally:
        if walk.listening:
            _finish(walk, report_dir, out)


def _finish(walk: WalkTest, report_dir: Path, out: Callable[[str], None]) -> None:
    walk.ended_at = datetime.now(UTC)
    json_path, html_path = write_reports(walk, report_dir)
    out(f"{len(walk.reached)} of {len(walk.devices)} devices reached the platform")
    for check in walk.missing:
        out(f"NOT REACHED  {check.device:<20} {check.location}")
    out(f"report: {json_path}")
    out(f"report: {html_path}")

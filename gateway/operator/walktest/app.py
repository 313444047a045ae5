"""``outpost walktest``: listen as the platform while a technician triggers every device of a station.

One line per device as its first alarm or test event reaches the platform;
at the end (``--for SECONDS`` or Ctrl-C) the commissioning report, JSON and
HTML, lists every configured device, when it was heard and which were not.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from gateway.contract.decode import decode
from gateway.operator.mqtt import connect
from gateway.operator.target import OperatorTarget
from gateway.operator.walktest.report import write_reports
from gateway.operator.walktest.tracker import DeviceCheck, WalkTest


def reached_line(walk: WalkTest, check: DeviceCheck) -> str:
    event = check.event
    at = check.reached_at.astimezone().strftime("%H:%M:%S") if check.reached_at else ""
    what = f"{event.kind} {event.transition} ({event.status}, {event.level})" if event else ""
    return (
        f"REACHED {len(walk.reached)}/{len(walk.devices)}  {check.device:<20} {at}  {what}  {check.location}"
    )


async def _listen(target: OperatorTarget, walk: WalkTest, out: Callable[[str], None]) -> None:
    async with connect(target.mqtt) as client:
        await client.subscribe(f"{target.prefix()}/alarm", qos=1)
        walk.started_at = datetime.now(UTC)
        walk.listening = True
        out(
            f"walk test of station {walk.station}: {len(walk.devices)} devices; "
            "trigger each sensor and button now (Ctrl-C ends and writes the report)"
        )
        for waiting in walk.devices.values():
            out(f"  waiting  {waiting.device:<20} {waiting.location}")
        async for message in client.messages:
            if not isinstance(message.payload, bytes | bytearray):
                continue
            if (reached := walk.observe(decode(bytes(message.payload)), message.retain)) is not None:
                out(reached_line(walk, reached))


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

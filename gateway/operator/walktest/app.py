"""``outpost walktest``: listen as the platform while a technician triggers every device of a station.

One line per device as its first alarm or test event reaches the platform;
at the end (``--for SECONDS`` or Ctrl-C) the commissioning report, JSON and
HTML, lists every configured device, when it was heard and which were not.
Lines and the HTML speak the chosen language and show the station's local
time, each device's value and its latency to the platform.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from gateway.contract.decode import decode
from gateway.i18n import Translator
from gateway.operator.describe import after, reading
from gateway.operator.mqtt import connect
from gateway.operator.target import OperatorTarget
from gateway.operator.walktest.report import event_words, write_reports
from gateway.operator.walktest.tracker import DeviceCheck, WalkTest


def reached_line(walk: WalkTest, check: DeviceCheck, t: Translator) -> str:
    event = check.event
    at = check.reached_at.astimezone(walk.zone).strftime("%H:%M:%S") if check.reached_at else ""
    what = ""
    if event is not None:
        what = event_words(event.model_dump(mode="json"), t)
        what += after(reading(event.value, event.unit, event.threshold, t), t)
    if check.latency is not None:
        what += t("walk.latency", seconds=f"{check.latency:.2f}")
    return t(
        "walk.reached",
        count=len(walk.reached),
        total=len(walk.devices),
        device=f"{check.device:<20}",
        time=at,
        event=what,
        location=check.location,
    )


async def _listen(target: OperatorTarget, walk: WalkTest, t: Translator, out: Callable[[str], None]) -> None:
    async with connect(target.mqtt) as client:
        await client.subscribe(f"{target.prefix()}/alarm", qos=1)
        walk.started_at = datetime.now(UTC)
        walk.listening = True
        out(t("walk.start", station=walk.station, count=len(walk.devices)))
        for waiting in walk.devices.values():
            out(t("walk.waiting", device=f"{waiting.device:<20}", location=waiting.location))
        async for message in client.messages:
            if not isinstance(message.payload, bytes | bytearray):
                continue
            if (reached := walk.observe(decode(bytes(message.payload)), message.retain)) is not None:
                out(reached_line(walk, reached, t))


async def run_walktest(
    target: OperatorTarget,
    walk: WalkTest,
    *,
    t: Translator,
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
                await _listen(target, walk, t, out)
    finally:
        if walk.listening:
            _finish(walk, report_dir, t, out)


def _finish(walk: WalkTest, report_dir: Path, t: Translator, out: Callable[[str], None]) -> None:
    walk.ended_at = datetime.now(UTC)
    json_path, html_path = write_reports(walk, report_dir, t)
    out(t("walk.summary", count=len(walk.reached), total=len(walk.devices)))
    for check in walk.missing:
        out(t("walk.not_reached", device=f"{check.device:<20}", location=check.location))
    out(t("walk.report", path=json_path))
    out(t("walk.report", path=html_path))

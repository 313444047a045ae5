"""The commissioning report of a walk test: JSON for records, HTML to print and sign.

The JSON is the language-neutral record (UTC times, structured fields); the
HTML is for the people on site: their language, their station's local time,
each device's value and how long its event took to reach the platform.
"""

from __future__ import annotations

import json
from datetime import datetime, tzinfo
from html import escape
from pathlib import Path

from gateway.i18n import Translator
from gateway.operator.describe import reading
from gateway.operator.walktest.tracker import WalkTest

_STYLE = """
body { font-family: sans-serif; margin: 2em; }
table { border-collapse: collapse; }
th, td { border: 1px solid #999; padding: 0.3em 0.6em; text-align: left; }
.ok { background: #d9f2d9; } .missing { background: #f9d6d5; font-weight: bold; }
"""
COLUMNS = (
    "walk.col_device",
    "walk.col_location",
    "walk.col_profile",
    "walk.col_result",
    "walk.col_reached_at",
    "walk.col_event",
    "walk.col_value",
    "walk.col_latency",
    "walk.col_faults",
)


def write_reports(walk: WalkTest, directory: Path, t: Translator) -> tuple[Path, Path]:
    """``walktest-STATION-YYYYmmdd-HHMMSS.json`` and ``.html`` in ``directory`` (the station's local time)."""
    directory.mkdir(parents=True, exist_ok=True)
    stem = f"walktest-{walk.station}-{walk.started_at.astimezone(walk.zone).strftime('%Y%m%d-%H%M%S')}"
    data = walk.as_dict()
    json_path, html_path = directory / f"{stem}.json", directory / f"{stem}.html"
    json_path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    html_path.write_text(html(data, t, walk.zone), encoding="utf-8")
    return json_path, html_path


def local(moment: str | datetime | None, zone: tzinfo) -> str:
    """An RFC 3339 time (or a datetime) as the station's wall clock shows it."""
    if moment is None:
        return ""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")


def event_words(event: dict, t: Translator) -> str:
    """``gas raised (actual, orange)`` in the chosen language, from the record's structured fields."""
    return t(
        "walk.event",
        kind=event["kind"],
        transition=t.word("transition", event["transition"]),
        status=t.word("status", event["status"]),
        colour=t.word("colour", event["level"]),
    )


def html(data: dict, t: Translator, zone: tzinfo) -> str:
    rows = []
    for device in data["devices"]:
        event = device["event"]
        latency = device["latency_s"]
        cells = [
            device["device"],
            device["location"],
            device["profile"],
            t("walk.result_reached" if device["reached"] else "walk.result_missing"),
            local(device["reached_at"], zone),
            event_words(event, t) if event else "",
            reading(event["value"], event["unit"], event["threshold"], t) if event else "",
            t("walk.seconds", seconds=f"{latency:.2f}") if latency is not None else "",
            "; ".join(device["faults"]),
        ]
        css = "ok" if device["reached"] else "missing"
        rows.append(f'<tr class="{css}">' + "".join(f"<td>{escape(str(c))}</td>" for c in cells) + "</tr>")
    summary = t("walk.summary", count=len(data["reached"]), total=len(data["devices"])) + (
        "" if data["complete"] else t("walk.missing", devices=", ".join(data["missing"]))
    )
    period = t(
        "walk.period",
        start=local(data["started_at"], zone),
        end=local(data["ended_at"], zone),
        zone=data["timezone"],
    )
    head = "".join(f"<th>{t(column)}</th>" for column in COLUMNS)
    heading = t("walk.heading", name=data["name"] or data["station"], station=data["station"])
    return f"""<!doctype html>
<html lang="{t.locale}"><head><meta charset="utf-8">
<title>{escape(t("walk.title", station=data["station"]))}</title><style>{_STYLE}</style></head>
<body>
<h1>{escape(heading)}</h1>
<p>{escape(period)}</p>
<p><strong>{escape(summary)}</strong></p>
<table>
<tr>{head}</tr>
{chr(10).join(rows)}
</table>
<p>{t("walk.sign")}</p>
</body></html>
"""

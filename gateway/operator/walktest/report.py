"""The commissioning report of a walk test: JSON for records, HTML to print and sign."""

from __future__ import annotations

import json
from html import escape
from pathlib import Path

from gateway.operator.walktest.tracker import WalkTest

_STYLE = """
body { font-family: sans-serif; margin: 2em; }
table { border-collapse: collapse; }
th, td { border: 1px solid #999; padding: 0.3em 0.6em; text-align: left; }
.ok { background: #d9f2d9; } .missing { background: #f9d6d5; font-weight: bold; }
"""


def write_reports(walk: WalkTest, directory: Path) -> tuple[Path, Path]:
    """``walktest-STATION-YYYYmmdd-HHMMSS.json`` and ``.html`` in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    stem = f"walktest-{walk.station}-{walk.started_at.strftime('%Y%m%d-%H%M%S')}"
    data = walk.as_dict()
    json_path, html_path = directory / f"{stem}.json", directory / f"{stem}.html"
    json_path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    html_path.write_text(html(data), encoding="utf-8")
    return json_path, html_path


def html(data: dict) -> str:
    rows = []
    for device in data["devices"]:
        event = device["event"] or {}
        outcome = "reached" if device["reached"] else "NOT REACHED"
        what = (
            f"{event.get('kind', '')} {event.get('transition', '')} ({event.get('status', '')})"
            if event
            else ""
        )
        cells = [
            device["device"],
            device["location"],
            device["profile"],
            outcome,
            device["reached_at"] or "",
            what,
            "; ".join(device["faults"]),
        ]
        css = "ok" if device["reached"] else "missing"
        rows.append(f'<tr class="{css}">' + "".join(f"<td>{escape(str(c))}</td>" for c in cells) + "</tr>")
    summary = f"{len(data['reached'])} of {len(data['devices'])} devices reached the platform" + (
        "" if data["complete"] else f"; not reached: {', '.join(data['missing'])}"
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Walk test {escape(data["station"])}</title><style>{_STYLE}</style></head>
<body>
<h1>Walk test: {escape(data["name"] or data["station"])} ({escape(data["station"])})</h1>
<p>From {escape(data["started_at"])} to {escape(data["ended_at"] or "")} (UTC).</p>
<p><strong>{escape(summary)}</strong></p>
<table>
<tr><th>device</th><th>location</th><th>profile</th><th>result</th><th>reached at</th><th>event</th>
<th>faults</th></tr>
{chr(10).join(rows)}
</table>
<p>Technician: ______________________ &nbsp; Signature: ______________________</p>
</body></html>
"""

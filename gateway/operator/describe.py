"""One readable line per message the district platform receives."""

from __future__ import annotations

import json


def describe(topic: str, payload: bytes, prefix: str) -> str:
    """``topic`` relative to ``prefix`` and the gist of the payload."""
    where = topic.removeprefix(prefix + "/")
    try:
        body = json.loads(payload)
    except ValueError:
        return f"{where}: (not JSON, {len(payload)} bytes)"
    if not isinstance(body, dict):
        return f"{where}: {body!r}"
    schema = body.get("schema", "")
    seq = body.get("seq", "?")
    if schema.startswith("outpost.alarm/"):
        return (
            f"#{seq} ALARM {body['transition'].upper():<13} {body['level']:<6} {body['alarm_key']}"
            f"  {body['message']}"
        )
    if schema.startswith("outpost.device_status/"):
        reason = f" ({body['reason']})" if body.get("reason") else ""
        return f"#{seq} device {body['device']}: {body['status']}{reason}"
    if schema.startswith("outpost.status/"):
        return f"#{seq} station {body['station']} {body['state']} (version {body['version']})"
    return f"#{seq} {where}: {schema or 'unknown payload'}"

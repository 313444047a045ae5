"""A telemetry message's JSON, written directly: the bytes :class:`TelemetryEvent` would give.

Why not the model: telemetry is most of what a station publishes (every
changed reading of every device), and building the pydantic model, validating
it and dumping it costs several times what the JSON takes to write. The model
stays the contract (and the JSON Schema's source): a unit test holds this
writer to it, field for field, value for value.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from json.encoder import encode_basestring
from typing import Any, Protocol

from gateway.contract.events import TelemetryEvent, rfc3339

_SCHEMA = TelemetryEvent.model_fields["schema_"].default


class Point(Protocol):
    """What telemetry tells of one point: its latest value, unit and when it was read."""

    @property
    def value(self) -> float | bool: ...
    @property
    def unit(self) -> str | None: ...
    @property
    def observed_at(self) -> datetime: ...


def telemetry_json(
    stamp: Mapping[str, Any], device: str, points: Mapping[str, Point], polled_at: datetime
) -> bytes:
    """The JSON of the telemetry message of ``device``, stamped with ``stamp`` (a :class:`Stamper`'s).

    Its ``observed_at`` is the newest point's (``polled_at`` while no point
    has been read), and each reading's ``age_s`` how much older it is, in
    seconds to the millisecond.
    """
    newest = max((point.observed_at for point in points.values()), default=polled_at)
    readings = ",".join(
        f"{encode_basestring(name)}:{{"
        f'"value":{_number(point.value)},'
        f'"unit":{"null" if point.unit is None else encode_basestring(point.unit)},'
        f'"age_s":{round((newest - point.observed_at).total_seconds(), 3)!r}}}'
        for name, point in points.items()
    )
    return (
        f'{{"schema":"{_SCHEMA}","id":{encode_basestring(stamp["id"])},'
        f'"station":{encode_basestring(stamp["station"])},"seq":{stamp["seq"]:d},'
        f'"created_at":"{rfc3339(stamp["created_at"])}","historical":false,'
        f'"time_quality":"{stamp["time_quality"].value}","device":{encode_basestring(device)},'
        f'"observed_at":"{rfc3339(newest)}","readings":{{{readings}}}}}'
    ).encode()


def _number(value: float | bool) -> str:
    """A reading's value as the model writes it: a boolean, or a float (NaN and infinity as null)."""
    if value is True or value is False:
        return "true" if value else "false"
    number = float(value)
    return repr(number) if math.isfinite(number) else "null"

"""Turn a received payload back into its typed model: the platform side of the contract.

Whatever arrives on a station's topics may be anything: an older or newer
gateway, a test tool, garbage, a hostile publisher. :func:`decode` never
raises; it answers with the model its ``schema`` names, validated, or with
:class:`Unknown` saying why not. The size is checked before any parsing, and
the JSON parser (pydantic's) bounds nesting depth without recursing in Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from pydantic import Field, TypeAdapter, ValidationError

from gateway.contract.events import (
    ActiveAlarmsSnapshot,
    AlarmEvent,
    CommandResult,
    DeviceStatusEvent,
    RadioTraffic,
    ResponseEvent,
    StationReport,
    StationStatusEvent,
    TelemetryEvent,
)

MAX_PAYLOAD = 1024 * 1024  # far above any report a station sends; anything bigger is not ours

Payload = (
    AlarmEvent
    | DeviceStatusEvent
    | StationStatusEvent
    | ActiveAlarmsSnapshot
    | CommandResult
    | StationReport
    | TelemetryEvent
    | RadioTraffic
    | ResponseEvent
)

# The ``schema`` field picks the model: one validation, and errors name that model's fields only.
_PAYLOAD: TypeAdapter[Payload] = TypeAdapter(Annotated[Payload, Field(discriminator="schema_")])


@dataclass(frozen=True, slots=True)
class Unknown:
    """A payload that is none of the contract's, and why (for a person reading a log)."""

    reason: str
    size: int


def decode(payload: bytes) -> Payload | Unknown:
    """The typed payload, or :class:`Unknown` (too large, not JSON, an unknown schema, invalid)."""
    if len(payload) > MAX_PAYLOAD:
        return Unknown(f"larger than {MAX_PAYLOAD} bytes", len(payload))
    try:
        return _PAYLOAD.validate_json(payload)
    except ValidationError as exc:
        return Unknown(_reason(exc), len(payload))


_REASONS = {
    "json_invalid": "not JSON",
    "dict_type": "not a JSON object",
    "union_tag_not_found": "no schema",
    "union_tag_invalid": "unknown schema",
}


def _reason(exc: ValidationError) -> str:
    """The first problem only: enough to recognise it, and bounded however bad the payload."""
    first = exc.errors(include_url=False, include_input=False)[0]
    if first["type"] in _REASONS or not first["loc"]:
        return _REASONS.get(first["type"], first["msg"])
    schema, *field = first["loc"]  # a known schema: its model's first complaint
    reason = f"invalid {schema}: {'.'.join(map(str, field))}: {first['msg']}"
    return reason if len(reason) <= 200 else reason[:199] + "…"  # a field name may be the payload's

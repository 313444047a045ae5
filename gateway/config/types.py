"""Small validated value types shared by the configuration models."""

from __future__ import annotations

import re
from typing import Annotated, get_args

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError


class Strict(BaseModel):
    """Base of every config model: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def rejected(kind: str, expected: str, got: object) -> PydanticCustomError:
    """A validation error that says what is expected and quotes what was given."""
    return PydanticCustomError(kind, "{expected}, got {got}", {"expected": expected, "got": got})


def in_range(low: float, high: float):
    def check(value: float) -> float:
        if not low <= value <= high:
            raise rejected("out_of_range", f"must be {low}..{high}", value)
        return value

    return AfterValidator(check)


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_SECONDS_PER = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


def _parse_duration(value: object) -> object:
    if isinstance(value, bool):
        return value  # rejected by the float validator with a clear message
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and (match := _DURATION.match(value)):
        return float(match.group(1)) * _SECONDS_PER[match.group(2)]
    raise rejected("duration", "must be a duration such as 500ms, 2s, 5m or seconds", repr(value))


def _non_negative(value: float) -> float:
    if value < 0:
        raise rejected("duration", "must not be negative", value)
    return value


Seconds = Annotated[float, BeforeValidator(_parse_duration), AfterValidator(_non_negative)]


class _Short:
    """Marks a duration usually well under a second or two, where a bare number is likely a slip."""


ShortSeconds = Annotated[Seconds, _Short()]
"""A duration (a timeout, a gap) where a bare number is taken as seconds only with a warning."""


def is_duration(field: FieldInfo) -> bool:
    """Whether ``field`` is a plain :data:`Seconds` field (not an optional one)."""
    return any(isinstance(m, BeforeValidator) and m.func is _parse_duration for m in field.metadata)


def is_short_duration(field: FieldInfo) -> bool:
    """Whether ``field`` is a :data:`ShortSeconds` field, optional or not."""
    if any(isinstance(m, _Short) for m in field.metadata):
        return True
    return any(
        isinstance(m, _Short)
        for member in get_args(field.annotation)
        for m in getattr(member, "__metadata__", ())
    )


PollInterval = Annotated[Seconds, in_range(0.05, 3600)]
Port = Annotated[int, in_range(1, 65535)]
UnitId = Annotated[int, in_range(1, 247)]
Address = Annotated[int, in_range(0, 65535)]
Bit = Annotated[int, in_range(0, 15)]

_IDENTIFIER = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


def _identifier(value: str) -> str:
    if not _IDENTIFIER.match(value):
        expected = "must be lower-case letters, digits, '-' or '_' (at most 63)"
        raise rejected("identifier", expected, repr(value))
    return value


Identifier = Annotated[str, AfterValidator(_identifier)]


def _hex_bytes(value: object) -> bytes:
    if isinstance(value, str):
        try:
            parsed = bytes.fromhex(value)
        except ValueError:
            parsed = b""
        if parsed:
            return parsed
    raise rejected("hex", "must be hex bytes such as 'FF 01 86'", repr(value))


def _ascii_bytes(value: object) -> bytes:
    if isinstance(value, str) and value.isascii():
        return value.encode("ascii")
    expected = "must be ASCII text (write control characters as \\r, \\n, \\x02 in double quotes)"
    raise rejected("ascii", expected, repr(value))


HexBytes = Annotated[bytes, BeforeValidator(_hex_bytes)]
AsciiBytes = Annotated[bytes, BeforeValidator(_ascii_bytes)]

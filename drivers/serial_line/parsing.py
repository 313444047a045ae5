"""Text frames: split a sentence into named fields, then turn fields into point values.

Fields come from a regular expression's named groups or from a delimited
list; numbers are accepted only in plain decimal, integer or hex notation
(Python's own ``float`` would also take ``nan``, ``inf`` and ``1_000``, which
no sensor means).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from string import Formatter

from drivers.serial_line.framing import Unparsable
from drivers.values import engineering, raw_of, with_bit


class TextFormat(StrEnum):
    DECIMAL = "decimal"
    INTEGER = "integer"
    HEX = "hex"

    @property
    def is_integer(self) -> bool:
        return self is not TextFormat.DECIMAL


_NUMBER = {
    TextFormat.DECIMAL: re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d{1,3})?"),
    TextFormat.INTEGER: re.compile(r"[+-]?\d{1,18}"),
    TextFormat.HEX: re.compile(r"[0-9A-Fa-f]{1,16}"),
}


@dataclass(frozen=True, slots=True)
class TextPoint:
    """One named value taken from one field; ``bit`` makes it a flag of an integer field."""

    name: str
    field: str
    format: TextFormat = TextFormat.DECIMAL
    scale: float = 1.0
    offset: float = 0.0
    unit: str | None = None
    bit: int | None = None

    def value(self, text: str) -> float | bool:
        text = text.strip()
        if not _NUMBER[self.format].fullmatch(text):
            raise Unparsable(f"field {self.field}: {text[:20]!r} is not a {self.format} number")
        if self.format is TextFormat.DECIMAL:
            raw: float = float(text)
        else:
            raw = int(text, 16 if self.format is TextFormat.HEX else 10)
        return engineering(self.name, raw, scale=self.scale, offset=self.offset, bit=self.bit)

    def write(self, fields: dict[str, float], value: float | bool) -> None:
        """Put ``value`` into ``fields`` as the sensor would send it (the simulator's side)."""
        if self.bit is not None:
            fields[self.field] = with_bit(int(fields.get(self.field, 0)), self.bit, bool(value))
            return
        raw = raw_of(float(value), scale=self.scale, offset=self.offset)
        fields[self.field] = round(raw) if self.format.is_integer else raw


@dataclass(frozen=True, slots=True)
class RegexFields:
    """Fields are the named groups of ``pattern``, which must match the whole sentence."""

    pattern: re.Pattern[str]

    def names(self) -> set[str]:
        return set(self.pattern.groupindex)

    def split(self, text: str) -> dict[str, str]:
        match = self.pattern.fullmatch(text)
        if match is None:
            raise Unparsable(f"sentence does not match the expected pattern: {text[:40]!r}")
        return {name: value for name, value in match.groupdict().items() if value is not None}


@dataclass(frozen=True, slots=True)
class DelimitedFields:
    """Fields separated by ``delimiter``, named by position (``None`` skips one)."""

    delimiter: str
    positions: tuple[str | None, ...]

    def names(self) -> set[str]:
        return {name for name in self.positions if name is not None}

    def split(self, text: str) -> dict[str, str]:
        parts = text.split(self.delimiter)
        if len(parts) != len(self.positions):
            raise Unparsable(f"{len(parts)} fields instead of {len(self.positions)}")
        return {name: part for name, part in zip(self.positions, parts, strict=True) if name}


@dataclass(frozen=True, slots=True)
class TextLayout:
    """How a text sensor's sentence maps onto points.

    ``template`` is the sentence as a Python format string over the raw field
    values (``PGAS,{gas:.1f},{status:02X}``): it documents what the sensor
    sends and lets a simulator send it.
    """

    fields: RegexFields | DelimitedFields
    points: tuple[TextPoint, ...]
    template: str | None = None

    def decode(self, body: bytes) -> dict[str, float | bool]:
        try:
            text = body.decode("ascii")
        except UnicodeDecodeError:
            raise Unparsable("not ASCII text") from None
        found = self.fields.split(text)
        values: dict[str, float | bool] = {}
        for point in self.points:
            if point.field not in found:
                raise Unparsable(f"sentence lacks field {point.field}")
            values[point.name] = point.value(found[point.field])
        return values

    def template_fields(self) -> set[str]:
        if self.template is None:
            return set()
        return {name for _, name, _, _ in Formatter().parse(self.template) if name}

    def encode(self, fields: Mapping[str, float]) -> bytes:
        """The sentence for raw ``fields`` (missing ones are 0), without checksum or markers."""
        if self.template is None:
            raise ValueError("this layout has no template to build sentences from")
        values = {name: fields.get(name, 0) for name in self.template_fields()}
        return self.template.format_map(values).encode("ascii")

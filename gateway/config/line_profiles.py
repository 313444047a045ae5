"""Profiles of simple serial sensors (``protocol: serial-line``): a parse spec, not a register map.

A text sensor's profile says how its sentences are framed (``start``/``end``
markers), checked (``checksum``) and split into fields (``parse``: a regular
expression with named groups, or a delimiter and field names); its points
name a field. A binary sensor's profile gives the frame's ``header_hex`` and
``length``; its points give a ``byte`` offset and a ``type``. A polled sensor
has a ``query`` (text) or ``query_hex``; a streaming one has neither.

Single keys are checked by the models; how keys fit together (a point's field
exists in the sentence, a binary point fits in the frame, the ``template``
gives a sentence the parser accepts) by :meth:`SerialLineProfile.problems`,
so every problem is reported at its own key and line.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Literal, Self

from pydantic import Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from drivers.serial_line.binary import BinaryLayout, BinaryPoint, BinaryType, ByteOrder
from drivers.serial_line.checksums import Algorithm, ByteChecksum, TextChecksum
from drivers.serial_line.parsing import (
    DelimitedFields,
    RegexFields,
    TextFormat,
    TextLayout,
    TextPoint,
)
from drivers.serial_line.protocol import DelimitedFraming, FixedFraming, LineProtocol, LineReading
from gateway.config.profiles import PointBase, Problem, ProfileBase
from gateway.config.types import AsciiBytes, HexBytes, Identifier, Strict


class FramingSpec(Strict):
    """Text: ``end`` (and ``start``) markers. Binary: ``header_hex`` and ``length``."""

    start: AsciiBytes = b""
    end: AsciiBytes = b""
    max_length: int = Field(default=256, ge=4, le=4096)
    header_hex: HexBytes = b""
    length: int | None = Field(default=None, ge=2, le=1024)

    @model_validator(mode="after")
    def _one_style(self) -> Self:
        text, binary = bool(self.end), bool(self.header_hex)
        if text == binary:
            raise PydanticCustomError(
                "framing", "give 'end' (text frames) or 'header_hex' and 'length' (binary frames)"
            )
        if binary and self.length is None:
            raise PydanticCustomError("framing", "binary frames need 'length' (bytes per frame)")
        if binary and self.start:
            raise PydanticCustomError("framing", "'start' is for text frames (binary: header_hex)")
        return self

    @property
    def binary(self) -> bool:
        return bool(self.header_hex)


class ChecksumSpec(Strict):
    """Text frames: two hex digits at the end, after ``separator``. Binary: the last byte."""

    algorithm: Algorithm
    separator: AsciiBytes = b""
    skip: int = Field(default=0, ge=0, le=64)


class ParseSpec(Strict):
    """How a text sentence splits into fields: ``regex`` or ``delimiter`` and ``fields``."""

    regex: str | None = None
    delimiter: str | None = Field(default=None, min_length=1)
    fields: list[Identifier | None] | None = None

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            pattern = re.compile(value)
        except re.error as exc:
            why = {"why": str(exc)}
            raise PydanticCustomError("regex", "not a valid regular expression: {why}", why) from None
        if not pattern.groupindex:
            raise PydanticCustomError("regex", "needs named groups, such as (?P<gas>[0-9.]+)")
        return value

    @model_validator(mode="after")
    def _one_way(self) -> Self:
        delimited = self.delimiter is not None or self.fields is not None
        if (self.regex is not None) == delimited:
            raise PydanticCustomError("parse", "give 'regex', or 'delimiter' and 'fields'")
        if delimited and (self.delimiter is None or not self.fields):
            raise PydanticCustomError("parse", "'delimiter' and 'fields' go together")
        return self

    def splitter(self) -> RegexFields | DelimitedFields:
        if self.regex is not None:
            return RegexFields(re.compile(self.regex))
        assert self.delimiter is not None
        assert self.fields is not None
        return DelimitedFields(self.delimiter, tuple(self.fields))


class LinePointSpec(PointBase):
    """One value: text points name a ``field``, binary points give ``byte`` and ``type``."""

    field: Identifier | None = None
    format: TextFormat = TextFormat.DECIMAL
    byte: int | None = Field(default=None, ge=0, le=1023)
    type: BinaryType = BinaryType.U16
    byte_order: ByteOrder = ByteOrder.BIG


_TEXT_ONLY = ("field", "format")
_BINARY_ONLY = ("byte", "type", "byte_order")


class SerialLineProfile(ProfileBase):
    """A sensor on its own serial port that sends text sentences or fixed binary frames."""

    protocol: Literal["serial-line"]
    mode: Literal["poll", "stream"]
    query: AsciiBytes | None = None
    query_hex: HexBytes | None = None
    framing: FramingSpec
    checksum: ChecksumSpec | None = None
    parse: ParseSpec | None = None
    template: str | None = None
    points: dict[Identifier, LinePointSpec]

    # -- the driver's view -----------------------------------------------------
    def line_protocol(self) -> LineProtocol:
        """The driver-level protocol; only meaningful once :meth:`problems` found none."""
        if self.framing.binary:
            assert self.framing.length is not None
            framing: DelimitedFraming | FixedFraming = FixedFraming(
                self.framing.header_hex, self.framing.length
            )
            layout: TextLayout | BinaryLayout = BinaryLayout(tuple(self._binary_points()))
            checksum: ByteChecksum | TextChecksum | None = (
                ByteChecksum(self.checksum.algorithm, self.checksum.skip) if self.checksum else None
            )
        else:
            spec = self.framing
            framing = DelimitedFraming(spec.end, spec.start, spec.max_length)
            assert self.parse is not None
            layout = TextLayout(self.parse.splitter(), tuple(self._text_points()), self.template)
            checksum = (
                TextChecksum(self.checksum.algorithm, self.checksum.separator, self.checksum.skip)
                if self.checksum
                else None
            )
        query = self.query if self.query is not None else self.query_hex
        return LineProtocol(framing, layout, checksum, query if self.mode == "poll" else None)

    def _text_points(self) -> Iterator[TextPoint]:
        for name, spec in self.points.items():
            field = spec.field or name
            yield TextPoint(name, field, spec.format, spec.scale, spec.offset, spec.unit)
            for flag, bit in spec.flags.items():
                yield TextPoint(flag, field, spec.format, bit=bit)

    def _binary_points(self) -> Iterator[BinaryPoint]:
        for name, spec in self.points.items():
            at = spec.byte or 0
            order = spec.byte_order
            yield BinaryPoint(name, at, spec.type, order, spec.scale, spec.offset, spec.unit)
            for flag, bit in spec.flags.items():
                yield BinaryPoint(flag, at, spec.type, order, bit=bit)

    def point_names(self) -> set[str]:
        return set(self.points) | self.flag_names()

    def flag_names(self) -> set[str]:
        return {flag for spec in self.points.values() for flag in spec.flags}

    # -- how the keys fit together ---------------------------------------------------
    def problems(self) -> Iterator[Problem]:
        yield from self._query_problems()
        if self.framing.binary:
            yield from self._binary_problems()
        else:
            yield from self._text_problems()

    def _query_problems(self) -> Iterator[Problem]:
        given = [key for key in ("query", "query_hex") if getattr(self, key) is not None]
        if self.mode == "poll" and not given:
            yield ("mode",), "a polled sensor needs 'query' (text) or 'query_hex' (bytes)"
        if self.mode == "poll" and len(given) == 2:
            yield ("query_hex",), "give 'query' or 'query_hex', not both"
        if self.mode == "stream":
            for key in given:
                yield (key,), "a streaming sensor sends on its own: no query"

    def _text_problems(self) -> Iterator[Problem]:
        if self.parse is None:
            yield ("framing",), "text frames need 'parse' (regex, or delimiter and fields)"
            return
        fields = self.parse.splitter().names()
        for name, spec in self.points.items():
            for key in _BINARY_ONLY:
                if key in spec.model_fields_set:
                    yield ("points", name, key), "is for binary frames; text points name a field"
            field = spec.field or name
            if field not in fields:
                known = ", ".join(sorted(fields))
                yield ("points", name), f"no field {field!r} in the sentence (fields: {known})"
            if spec.flags and not spec.format.is_integer:
                yield ("points", name, "flags"), "flags need 'format: integer' or 'format: hex'"
        if self.template is not None:
            yield from self._template_problems(fields)

    def _template_problems(self, fields: set[str]) -> Iterator[Problem]:
        protocol = self.line_protocol()
        assert isinstance(protocol.layout, TextLayout)
        unknown = protocol.layout.template_fields() - fields
        if unknown:
            yield ("template",), f"names fields the sentence lacks: {', '.join(sorted(unknown))}"
            return
        zeros: dict[str, float] = {}
        for point in protocol.layout.points:
            zeros.setdefault(point.field, 0 if point.format.is_integer else 0.0)
        try:
            sentence = protocol.sentence(zeros)
        except (ValueError, KeyError, IndexError) as exc:
            yield ("template",), f"cannot be filled in: {exc}"
            return
        pieces = protocol.reader().feed(sentence)
        if not (len(pieces) == 1 and isinstance(pieces[0], LineReading)):
            why = "; ".join(getattr(p, "reason", "") for p in pieces) or "no complete frame"
            yield ("template",), f"gives {sentence!r}, which this profile rejects: {why}"

    def _binary_problems(self) -> Iterator[Problem]:
        for key in ("parse", "template"):
            if getattr(self, key) is not None:
                yield (key,), "binary frames have no text: points give 'byte' and 'type'"
        if self.checksum is not None and self.checksum.separator:
            yield ("checksum", "separator"), "binary frames carry the checksum in the last byte"
        length = self.framing.length or 0
        first = len(self.framing.header_hex)
        last = length - (1 if self.checksum else 0)
        for name, spec in self.points.items():
            for key in _TEXT_ONLY:
                if key in spec.model_fields_set:
                    yield ("points", name, key), "is for text frames; binary points give a byte"
            if spec.byte is None:
                yield ("points", name), "needs 'byte': where the value starts in the frame"
                continue
            end = spec.byte + spec.type.size
            if spec.byte < first or end > last:
                yield (
                    ("points", name, "byte"),
                    f"bytes {spec.byte}..{end - 1} must lie within bytes {first}..{last - 1} "
                    "(after the header, before the checksum)",
                )
            if spec.flags and spec.type is BinaryType.F32:
                yield ("points", name, "flags"), "flags need an integer type"

"""APRS information fields: messages, acknowledgements, bulletins and position reports.

Only what the stations' radios use is decoded; anything else is
:class:`Unsupported` (counted by the caller, not an error). Hand-written: the
formats are fixed-width text, and aprslib, the one maintained parser, has no
encoder for messages and acknowledgements.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from drivers.radio import mic_e
from drivers.radio.position import Position

ADDRESSEE_WIDTH = 9
MAX_MESSAGE_TEXT = 67
_MSGNO = re.compile(r"^[A-Za-z0-9]{1,5}$")
_UNCOMPRESSED = re.compile(
    r"^(\d{2})([0-9 ]{2}\.[0-9 ]{2})([NS])(.)(\d{3})([0-9 ]{2}\.[0-9 ]{2})([EW])(.)(.*)$", re.DOTALL
)
_COMPRESSED = re.compile(r"^([/\\A-Za-j])([!-{]{4})([!-{]{4})(.)(.{3})(.*)$", re.DOTALL)
_SPEED_COURSE = re.compile(r"^(\d{3})/(\d{3})")


class AprsError(ValueError):
    """A packet of a known type that is malformed; the message says why."""


@dataclass(frozen=True, slots=True)
class AprsMessage:
    addressee: str
    text: str
    number: str | None  # the sender wants ``ack<number>`` back

    @property
    def bulletin(self) -> bool:
        return self.addressee.startswith("BLN")


@dataclass(frozen=True, slots=True)
class Ack:
    addressee: str
    number: str
    rejected: bool = False  # ``rej``: the station received it but will not take it


@dataclass(frozen=True, slots=True)
class PositionReport:
    position: Position
    status: str | None = None  # Mic-E message status ("Emergency", "En Route", ...)

    @property
    def emergency(self) -> bool:
        return self.status == "Emergency"


@dataclass(frozen=True, slots=True)
class Unsupported:
    data_type: str


Packet = AprsMessage | Ack | PositionReport | Unsupported


def parse(destination: str, info: bytes) -> Packet:
    """The APRS packet in a UI frame's information field (``destination`` matters for Mic-E)."""
    if not info:
        raise AprsError("empty information field")
    kind = info[0]
    if kind in mic_e.MIC_E_TYPES:
        try:
            report = mic_e.decode(destination, info)
        except mic_e.MicEError as exc:
            raise AprsError(f"Mic-E: {exc}") from None
        return PositionReport(report.position, report.message)
    text = info.decode("utf-8", "replace")
    if text[0] == ":":
        return _message(text)
    if text[0] in "!=":
        return PositionReport(_position(text[1:]))
    if text[0] in "/@":
        if len(text) < 8:
            raise AprsError("position with timestamp too short")
        return PositionReport(_position(text[8:]))
    return Unsupported(text[0])


def _message(text: str) -> AprsMessage | Ack:
    if len(text) < ADDRESSEE_WIDTH + 2 or text[ADDRESSEE_WIDTH + 1] != ":":
        raise AprsError("message without a 9-character addressee")
    addressee = text[1 : ADDRESSEE_WIDTH + 1].strip().upper()
    if not addressee:
        raise AprsError("message without an addressee")
    body = text[ADDRESSEE_WIDTH + 2 :].rstrip("\r\n")
    for prefix, rejected in (("ack", False), ("rej", True)):
        if body.startswith(prefix) and _MSGNO.match(acked := body[3:].split("}", 1)[0].strip()):
            return Ack(addressee, acked, rejected)
    number: str | None = None
    if "{" in body:
        head, _, tail = body.rpartition("{")
        candidate = tail.split("}", 1)[0]  # "{NN}AA": the reply-ack form
        if _MSGNO.match(candidate):
            body, number = head, candidate
    return AprsMessage(addressee, body, number)


def _position(text: str) -> Position:
    if (match := _UNCOMPRESSED.match(text)) is not None:
        lat_deg, lat_min, ns, table, lon_deg, lon_min, ew, code, comment = match.groups()
        lat = int(lat_deg) + float(lat_min.replace(" ", "0")) / 60
        lon = int(lon_deg) + float(lon_min.replace(" ", "0")) / 60
        if lat > 90 or lon > 180:
            raise AprsError("position out of range")
        speed = course = None
        if (extension := _SPEED_COURSE.match(comment)) is not None:
            course, knots = int(extension.group(1)), int(extension.group(2))
            speed = round(knots * mic_e.KNOTS_TO_KMH, 1)
            comment = comment[7:]
        return Position(
            lat=round(-lat if ns == "S" else lat, 6),
            lon=round(-lon if ew == "W" else lon, 6),
            speed_kmh=speed,
            course=course,
            symbol=table + code,
            comment=comment.strip(),
        )
    if (match := _COMPRESSED.match(text)) is not None:
        table, lat91, lon91, code, _, comment = match.groups()
        lat = 90 - _base91(lat91) / 380926
        lon = -180 + _base91(lon91) / 190463
        return Position(round(lat, 6), round(lon, 6), symbol=table + code, comment=comment.strip())
    raise AprsError("unreadable position")


def _base91(text: str) -> int:
    value = 0
    for char in text:
        value = value * 91 + ord(char) - 33
    return value


def addressee_field(call: str) -> str:
    return call.upper().ljust(ADDRESSEE_WIDTH)[:ADDRESSEE_WIDTH]


def message(addressee: str, text: str, number: str | None = None) -> bytes:
    """A message (or, to ``BLNx``, a bulletin) as an information field."""
    text = "".join(" " if ord(c) < 32 or c == "\x7f" else c for c in text)  # one line on the air
    text = text.replace("{", "(").replace("|", "/").replace("~", "-")[:MAX_MESSAGE_TEXT]
    suffix = f"{{{number}" if number else ""
    return f":{addressee_field(addressee)}:{text}{suffix}".encode()


def ack(addressee: str, number: str) -> bytes:
    return f":{addressee_field(addressee)}:ack{number}".encode()


def position(lat: float, lon: float, symbol: str = "/[", comment: str = "") -> bytes:
    """An uncompressed position without timestamp (``!``): what a simulated radio sends."""
    lat_deg, lat_min = divmod(abs(lat) * 60, 60)
    lon_deg, lon_min = divmod(abs(lon) * 60, 60)
    lat_text = f"{int(lat_deg):02d}{lat_min:05.2f}{'N' if lat >= 0 else 'S'}"
    lon_text = f"{int(lon_deg):03d}{lon_min:05.2f}{'E' if lon >= 0 else 'W'}"
    return f"!{lat_text}{symbol[0]}{lon_text}{symbol[1]}{comment}".encode()

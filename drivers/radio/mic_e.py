"""Mic-E: the compact position report radios send with one key press, and its status bits.

Handhelds with a built-in TNC (Kenwood TH-D7x, Yaesu VX-8/FTM) send Mic-E:
latitude and three message bits ride in the AX.25 destination address,
longitude, speed and course in the first bytes of the information field.
Message bits 000 are the Emergency status a radio's emergency key sets.
Decoded per the APRS 1.0.1 specification, chapter 10.
"""

from __future__ import annotations

from dataclasses import dataclass

from drivers.radio.position import Position

KNOTS_TO_KMH = 1.852
MIC_E_TYPES = frozenset(b"`'\x1c\x1d")

STANDARD_MESSAGES = {
    0b111: "Off Duty",
    0b110: "En Route",
    0b101: "In Service",
    0b100: "Returning",
    0b011: "Committed",
    0b010: "Special",
    0b001: "Priority",
    0b000: "Emergency",
}


class MicEError(ValueError):
    """Not a valid Mic-E report; the message says why."""


@dataclass(frozen=True, slots=True)
class MicE:
    position: Position
    message: str  # "Emergency", "En Route", ..., "Custom-3", "Unknown"

    @property
    def emergency(self) -> bool:
        return self.message == "Emergency"


def _destination_char(char: str) -> tuple[int, str, bool]:
    """(digit, message bit kind, high) of one destination character.

    Bit kind is ``"0"`` (bit 0), ``"std"`` or ``"custom"`` (bit 1); ``high`` is
    the North / +100 / West flag of characters 4 to 6.
    """
    if "0" <= char <= "9":
        return ord(char) - ord("0"), "0", False
    if "A" <= char <= "J":
        return ord(char) - ord("A"), "custom", False
    if char == "K":
        return 0, "custom", False
    if char == "L":
        return 0, "0", False
    if "P" <= char <= "Y":
        return ord(char) - ord("P"), "std", True
    if char == "Z":
        return 0, "std", True
    raise MicEError(f"{char!r} cannot appear in a Mic-E destination")


def _message(kinds: list[str]) -> str:
    bits = sum((kind != "0") << (2 - i) for i, kind in enumerate(kinds))
    if bits == 0:
        return "Emergency"
    ones = {kind for kind in kinds if kind != "0"}
    if ones == {"std"}:
        return STANDARD_MESSAGES[bits]
    if ones == {"custom"}:
        return f"Custom-{7 - bits}"
    return "Unknown"


def decode(destination: str, info: bytes) -> MicE:
    """A Mic-E report from its AX.25 destination callsign (no SSID) and information field."""
    if len(destination) != 6:
        raise MicEError("a Mic-E destination has 6 characters")
    if len(info) < 9 or info[0] not in MIC_E_TYPES:
        raise MicEError("information field too short for Mic-E")
    decoded = [_destination_char(c) for c in destination]
    digits = [d for d, _, _ in decoded]
    lat = digits[0] * 10 + digits[1] + (digits[2] * 10 + digits[3] + (digits[4] * 10 + digits[5]) / 100) / 60
    north, hundred, west = decoded[3][2], decoded[4][2], decoded[5][2]
    lon_deg = info[1] - 28 + (100 if hundred else 0)
    if 180 <= lon_deg <= 189:
        lon_deg -= 80
    elif 190 <= lon_deg <= 199:
        lon_deg -= 190
    lon_min = info[2] - 28
    if lon_min >= 60:
        lon_min -= 60
    lon_hundredths = info[3] - 28
    if not (0 <= lon_deg <= 179 and 0 <= lon_min <= 59 and 0 <= lon_hundredths <= 99):
        raise MicEError("longitude out of range")
    if lat > 90:
        raise MicEError("latitude out of range")
    lon = lon_deg + (lon_min + lon_hundredths / 100) / 60
    sp, dc, se = info[4] - 28, info[5] - 28, info[6] - 28
    if min(sp, dc, se) < 0:
        raise MicEError("speed and course bytes out of range")
    knots = sp * 10 + dc // 10
    course = (dc % 10) * 100 + se
    if knots >= 800:
        knots -= 800
    if course >= 400:
        course -= 400
    symbol = chr(info[8]) + chr(info[7])
    comment = info[9:].decode("utf-8", "replace").strip()
    position = Position(
        lat=round(lat if north else -lat, 6),
        lon=round(-lon if west else lon, 6),
        speed_kmh=round(knots * KNOTS_TO_KMH, 1),
        course=course,
        symbol=symbol,
        comment=comment,
    )
    return MicE(position, _message([kind for _, kind, _ in decoded[:3]]))


def encode_destination(lat: float, message_bits: int = 0b000, *, lon_offset: bool, west: bool) -> str:
    """The destination for ``lat`` with standard message bits: what a simulated radio sends."""
    north = lat >= 0
    minutes_total = round(abs(lat) * 60 * 100)
    degrees, hundredths = divmod(minutes_total, 6000)
    text = f"{degrees:02d}{hundredths:04d}"
    chars = []
    for index, digit in enumerate(text):
        high = (
            (index < 3 and message_bits >> (2 - index) & 1)
            or (index == 3 and north)
            or (index == 4 and lon_offset)
            or (index == 5 and west)
        )
        chars.append(chr(ord("P") + int(digit)) if high else digit)
    return "".join(chars)


def encode_longitude(lon: float) -> tuple[bytes, bool, bool]:
    """The three longitude bytes of the information field, the +100 offset flag and the West flag."""
    hundredths_total = round(abs(lon) * 60 * 100)
    degrees, hundredths = divmod(hundredths_total, 6000)
    minutes, hundredths = divmod(hundredths, 100)
    if degrees < 10:
        d, offset = degrees + 90, True
    elif degrees < 100:
        d, offset = degrees, False
    elif degrees < 110:
        d, offset = degrees - 20, True
    else:
        d, offset = degrees - 100, True
    return bytes([d + 28, minutes + 28, hundredths + 28]), offset, lon < 0

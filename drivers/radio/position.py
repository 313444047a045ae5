"""Where a radio is: a position report's coordinates and what came with them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Position:
    lat: float  # degrees, north positive
    lon: float  # degrees, east positive
    speed_kmh: float | None = None
    course: int | None = None  # degrees, 0 when unknown in Mic-E
    symbol: str = ""  # APRS symbol table and code, e.g. "/>" (a car)
    comment: str = ""

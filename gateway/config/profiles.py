"""Device profiles: how to read a device model, its fault bits and its default alarm rules.

A profile lives in ``profiles/NAME.yaml``; a device names it and overrides
only what differs on site (usually thresholds). ``protocol`` says how the
model is read: ``modbus`` (the default: a register map) or ``serial-line``
(a sensor that sends text sentences or binary frames, see
:mod:`gateway.config.line_profiles`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal, Self

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from drivers.modbus.plan import AddressRange
from drivers.modbus.registers import DataType, RegisterPoint, RegisterType, WordOrder
from gateway.config.types import Address, Bit, Identifier, Seconds, Strict
from gateway.levels import Grade

Problem = tuple[tuple[str | int, ...], str]
"""A key path inside a profile file and what is wrong there."""


class PointSpec(Strict):
    """One value in the register map; ``flags`` names single bits of it as boolean points."""

    register_type: RegisterType = Field(alias="register")
    address: Address
    type: DataType = DataType.U16
    word_order: WordOrder = WordOrder.BIG
    scale: float = 1.0
    offset: float = 0.0
    unit: str | None = None
    flags: dict[Identifier, Bit] = Field(default_factory=dict)
    description: str = ""


class Rung(Strict):
    """One step of a threshold ladder: at ``at`` (or beyond), the alarm has ``level``."""

    level: Grade
    at: float


class AlarmRule(Strict):
    """When a device's point is an alarm, and how serious.

    The value thresholds (``high``/``low`` ladders with deadband and delays) are
    the gateway's own judgement; ``device_bits`` are the device's, and take
    precedence: they raise at once, whatever the value and delays say.
    """

    kind: Identifier
    point: Identifier | None = None
    high: list[Rung] = Field(default_factory=list)
    low: list[Rung] = Field(default_factory=list)
    deadband: float = Field(default=0.0, ge=0)
    on_delay: Seconds = 0.0
    off_delay: Seconds = 0.0
    device_bits: dict[Identifier, Grade] = Field(default_factory=dict)
    enabled: bool = True

    @model_validator(mode="after")
    def _ladders_ordered(self) -> Self:
        if (self.high or self.low) and self.point is None:
            raise PydanticCustomError("rule", "thresholds need 'point': the value they apply to")
        if not (self.high or self.low or self.device_bits):
            raise PydanticCustomError("rule", "needs thresholds ('high'/'low') or 'device_bits'")
        for name, rungs, ascending in (("high", self.high, True), ("low", self.low, False)):
            ranks = [r.level.rank for r in rungs]
            values = [r.at for r in rungs]
            ordered = values == sorted(values, reverse=not ascending)
            if ranks != sorted(set(ranks)) or not ordered:
                direction = "rising" if ascending else "falling"
                raise PydanticCustomError(
                    "rule", f"'{name}' rungs must go up in level with {direction} 'at' values"
                )
        return self


class AlarmOverride(Strict):
    """What a device may change of a profile's rule."""

    high: list[Rung] | None = None
    low: list[Rung] | None = None
    deadband: float | None = Field(default=None, ge=0)
    on_delay: Seconds | None = None
    off_delay: Seconds | None = None
    device_bits: dict[Identifier, Grade] | None = None
    enabled: bool | None = None


class ProfileBase(Strict):
    """What every profile has, whatever the protocol."""

    description: str
    manufacturer: str = ""
    model: str = ""
    faults: dict[Identifier, str] = Field(default_factory=dict)
    alarms: dict[Identifier, AlarmRule] = Field(default_factory=dict)

    def point_names(self) -> set[str]:
        """Every point a poll of this model yields, flags included."""
        raise NotImplementedError

    def flag_names(self) -> set[str]:
        raise NotImplementedError

    def units(self) -> dict[str, str | None]:
        raise NotImplementedError

    def problems(self) -> Iterator[Problem]:
        """Consistency problems between keys, which single-key validation cannot see."""
        return iter(())


class UnreadableRange(Strict):
    """Registers the device refuses to read (``from``..``to`` inclusive); reads never span them."""

    register_type: RegisterType = Field(alias="register")
    first: Address = Field(alias="from")
    last: Address = Field(alias="to")

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.first > self.last:
            raise PydanticCustomError("range", "'from' must not be above 'to'")
        return self

    def address_range(self) -> AddressRange:
        return AddressRange(self.register_type, self.first, self.last)


class Profile(ProfileBase):
    """A Modbus device model: its register map."""

    protocol: Literal["modbus"] = "modbus"
    coalesce: bool = True
    max_gap: int = Field(default=8, ge=0, le=124)
    unreadable: list[UnreadableRange] = Field(default_factory=list)
    points: dict[Identifier, PointSpec]

    def register_points(self) -> list[RegisterPoint]:
        """The driver's view: value points and one boolean point per flag."""
        points: list[RegisterPoint] = []
        for name, spec in self.points.items():
            common = {"register": spec.register_type, "address": spec.address}
            points.append(
                RegisterPoint(
                    name,
                    data_type=spec.type,
                    word_order=spec.word_order,
                    scale=spec.scale,
                    offset=spec.offset,
                    unit=spec.unit,
                    **common,
                )
            )
            points.extend(
                RegisterPoint(flag, bit=bit, **common) for flag, bit in spec.flags.items()
            )
        return points

    def unreadable_ranges(self) -> list[AddressRange]:
        return [span.address_range() for span in self.unreadable]

    def point_names(self) -> set[str]:
        return {point.name for point in self.register_points()}

    def flag_names(self) -> set[str]:
        return {flag for spec in self.points.values() for flag in spec.flags} | {
            name for name, spec in self.points.items() if spec.register_type.is_bit
        }

    def units(self) -> dict[str, str | None]:
        return {name: spec.unit for name, spec in self.points.items()}

    def problems(self) -> Iterator[Problem]:
        for point in self.register_points():
            if point.name not in self.points:
                continue  # a flag: its register is checked as the value point
            end = point.address + point.width
            for index, span in enumerate(self.unreadable_ranges()):
                if span.overlaps(point.register, point.address, end):
                    yield (
                        ("points", point.name),
                        f"lies in unreadable range {index + 1} "
                        f"({span.register.value} {span.first}..{span.last})",
                    )

"""Device profiles: how to read a device model, its fault bits and its default alarm rules.

A profile lives in ``profiles/NAME.yaml``; a device names it and overrides
only what differs on site (usually thresholds). ``protocol`` says how the
model is read: ``modbus`` (the default: a register map) or ``serial-line``
(a sensor that sends text sentences or binary frames, see
:mod:`gateway.config.line_profiles`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Literal, Self

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from drivers.modbus.plan import AddressRange
from drivers.modbus.registers import DataType, RegisterPoint, RegisterType, WordOrder
from gateway.config.types import Address, Bit, Identifier, Seconds, Strict
from gateway.contract.levels import CapCategory, Grade

Problem = tuple[tuple[str | int, ...], str]
"""A key path inside a profile file and what is wrong there."""


class PointBase(Strict):
    """What every point has, whatever the protocol; ``flags`` names single bits as boolean points."""

    scale: float = 1.0
    offset: float = 0.0
    unit: str | None = None
    flags: dict[Identifier, Bit] = Field(default_factory=dict)
    deadband: float | None = Field(default=None, ge=0, description="telemetry reports a change beyond this")
    description: str = ""


class PointSpec(PointBase):
    """One value in the register map."""

    register_type: RegisterType = Field(alias="register")
    address: Address
    type: DataType = DataType.U16
    word_order: WordOrder = WordOrder.BIG


class Rung(Strict):
    """One step of a threshold ladder: at ``at`` (or beyond), the alarm has ``level``."""

    level: Grade
    at: float


class RateOfRise(Strict):
    """A rise of ``rise`` or more within ``window`` is an alarm, once the value is at least ``above``.

    Rising water gives warning before any level is reached; below ``above`` a
    fast rise (a dry culvert filling a little) is not an alarm.
    """

    rise: float = Field(gt=0)
    window: Seconds = Field(gt=0)
    above: float | None = None
    level: Grade = Grade.FIRST_STAGE


class Plausibility(Strict):
    """What this point can physically read; anything else is a sensor fault, not an alarm.

    ``min``/``max``: outside is a fault and the reading is ignored.
    ``max_step``: a change larger than this between two polls is believed
    only when the next poll confirms it (a one-poll spike is dropped).
    ``stuck_after``: a value that does not change at all for this long is a fault.
    """

    min: float | None = None
    max: float | None = None
    max_step: float | None = Field(default=None, gt=0)
    stuck_after: Seconds | None = None


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
    rate_of_rise: RateOfRise | None = None
    plausible: Plausibility | None = None
    warmup: Seconds = Field(default=0.0, description="the gateway's thresholds wait this long after start")
    category: CapCategory | None = None
    latched: bool = False
    enabled: bool = True

    @model_validator(mode="after")
    def _ladders_ordered(self) -> Self:
        if (self.high or self.low or self.rate_of_rise) and self.point is None:
            raise PydanticCustomError("rule", "thresholds need 'point': the value they apply to")
        if not (self.high or self.low or self.rate_of_rise or self.device_bits):
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

    def inputs(self) -> set[str]:
        """The points this rule reads: its value point and the device's alarm bits."""
        return set(self.device_bits) | ({self.point} if self.point else set())


class AlarmOverride(Strict):
    """What a device may change of a profile's rule."""

    high: list[Rung] | None = None
    low: list[Rung] | None = None
    deadband: float | None = Field(default=None, ge=0)
    on_delay: Seconds | None = None
    off_delay: Seconds | None = None
    device_bits: dict[Identifier, Grade] | None = None
    rate_of_rise: RateOfRise | None = None
    plausible: Plausibility | None = None
    warmup: Seconds | None = None
    latched: bool | None = None
    enabled: bool | None = None


class ProfileBase(Strict):
    """What every profile has, whatever the protocol."""

    description: str
    manufacturer: str = ""
    model: str = ""
    faults: dict[Identifier, str] = Field(default_factory=dict)
    test_flag: Identifier | None = Field(
        default=None, description="the device's test bit: a detector test while set (a 'test' event)"
    )
    test_alarm_within: Seconds = Field(
        default=10.0,
        description="a test in which none of the device's alarm bits follows within this long failed",
    )
    alarms: dict[Identifier, AlarmRule] = Field(default_factory=dict)
    points: Mapping[Identifier, PointBase]  # each protocol narrows the type

    def point_names(self) -> set[str]:
        """Every point a poll of this model yields, flags included."""
        raise NotImplementedError

    def flag_names(self) -> set[str]:
        raise NotImplementedError

    def deadbands(self) -> dict[str, float]:
        return {name: spec.deadband for name, spec in self.points.items() if spec.deadband is not None}

    def units(self) -> dict[str, str | None]:
        return {name: spec.unit for name, spec in self.points.items()}

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
            register, address = spec.register_type, spec.address
            points.append(
                RegisterPoint(
                    name,
                    register,
                    address,
                    data_type=spec.type,
                    word_order=spec.word_order,
                    scale=spec.scale,
                    offset=spec.offset,
                    unit=spec.unit,
                )
            )
            points.extend(RegisterPoint(flag, register, address, bit=bit) for flag, bit in spec.flags.items())
        return points

    def unreadable_ranges(self) -> list[AddressRange]:
        return [span.address_range() for span in self.unreadable]

    def point_names(self) -> set[str]:
        return {point.name for point in self.register_points()}

    def flag_names(self) -> set[str]:
        return {flag for spec in self.points.values() for flag in spec.flags} | {
            name for name, spec in self.points.items() if spec.register_type.is_bit
        }

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

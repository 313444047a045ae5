"""Station-wide alarm handling: re-alarm, nuisance control, colours, zones and reports.

These are the station file's ``alarm_policy``, ``zones`` and ``reports``
sections. Every default follows the issue's figures (chatter: 3 in 60 s;
flood: more than 10 in 10 minutes; hourly report).
"""

from __future__ import annotations

import re
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, Field

from gateway.config.types import Identifier, Seconds, Strict, in_range, rejected
from gateway.contract.levels import DEFAULT_COLOURS, Colour, Grade


class ChatterPolicy(Strict):
    """An alarm that activates ``count`` times within ``window`` is chattering.

    It is flagged and must then stay normal for ``off_delay`` before it clears;
    it is never dropped.
    """

    count: Annotated[int, in_range(2, 100)] = 3
    window: Seconds = 60.0
    off_delay: Seconds = 60.0


class FloodPolicy(Strict):
    """More than ``count`` raised alarms within ``window`` is a flood.

    During a flood, alarms of ``summarise_up_to`` and below are held back and
    summarised in one flood alarm; higher grades still go out at once.
    """

    count: Annotated[int, in_range(1, 10_000)] = 10
    window: Seconds = 600.0
    summarise_up_to: Grade = Grade.FIRST_STAGE


class AlarmPolicy(Strict):
    realarm_after: Seconds = Field(default=900.0, description="0 turns re-alarming off")
    realarm_from: Grade = Grade.SECOND_STAGE
    chatter: ChatterPolicy = ChatterPolicy()
    flood: FloodPolicy = FloodPolicy()
    colours: dict[Grade, Colour] = Field(default_factory=lambda: dict(DEFAULT_COLOURS))

    def colour(self, grade: Grade) -> Colour:
        return self.colours.get(grade, DEFAULT_COLOURS[grade])


class Zone(Strict):
    """Detectors that watch one space: ``confirm`` of them in alarm at once is a confirmed event."""

    devices: list[Identifier] = Field(min_length=2)
    confirm: Annotated[int, in_range(2, 64)] = 2
    grade: Grade = Grade.LIFE_SAFETY
    description: str = ""


_LOCAL_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def _local_time(value: str) -> str:
    if not _LOCAL_TIME.match(value):
        raise rejected("time", "must be a local time HH:MM", repr(value))
    return value


def _time_zone(value: str) -> str:
    """A name the reports can turn into a zone: checked here, so a typo never stops the gateway."""
    if not value:
        return value  # the system's zone, as when it is not given
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise rejected("timezone", "must be a time zone name such as Asia/Shanghai", repr(value)) from None
    return value


class ReportsConfig(Strict):
    """The periodic all-clear/situation report and the daily summary."""

    interval: Seconds = Field(default=3600.0, description="0 turns the periodic report off")
    daily_at: Annotated[str, AfterValidator(_local_time)] | None = "08:00"
    timezone: Annotated[str, AfterValidator(_time_zone)] | None = Field(
        default=None, description="IANA name; default: the system's zone"
    )
    untested_after: Seconds = Field(
        default=31 * 86400.0, description="a detector with a test bit not tested for this long is listed"
    )

"""Every payload the gateway publishes, as typed and versioned models.

Each carries ``schema`` (name/version), a UUIDv7 ``id`` the platform dedupes
on, the ``station``, its per-station ``seq`` and RFC 3339 UTC timestamps with
milliseconds. ``outpost schema`` writes the JSON Schema of each.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

from gateway.contract.levels import CapCategory, CapCertainty, CapSeverity, CapUrgency, Colour, Grade
from gateway.contract.time_quality import TimeQuality


def rfc3339(moment: datetime) -> str:
    """``2026-11-23T10:05:21.123Z``: UTC, milliseconds, ``Z`` suffix."""
    if moment.tzinfo is not UTC:  # every moment the gateway makes is UTC already: no conversion
        moment = moment.astimezone(UTC)
    return moment.isoformat(timespec="milliseconds")[:-6] + "Z"  # without its "+00:00"


def utc_now() -> datetime:
    return datetime.now(UTC)


Timestamp = Annotated[datetime, PlainSerializer(rfc3339, return_type=str, when_used="json")]

# Payloads that a plain station sends only when asked (a command's answer, a report) or
# never (radios, response rules): their validators and serialisers are built at first use,
# not at every start before the birth. Alarms, statuses and telemetry keep theirs ready.
ON_DEMAND = ConfigDict(frozen=True, defer_build=True)


class Envelope(BaseModel):
    """The fields every published message shares."""

    model_config = ConfigDict(
        populate_by_name=True, frozen=True, json_schema_serialization_defaults_required=True
    )

    schema_: str = Field(alias="schema", description="payload name and major version")
    id: str = Field(description="UUIDv7, time-ordered; the platform deduplicates on it")
    station: str
    seq: int = Field(ge=1, description="per-station, strictly increasing across restarts")
    created_at: Timestamp = Field(description="when the gateway made this message")
    historical: bool = Field(
        default=False, description="true when delivered late, after an outage or a restart"
    )
    time_quality: TimeQuality = Field(
        default=TimeQuality.UNKNOWN,
        description="whether the gateway's wall clock was synchronised; order by seq, not by time",
    )

    def to_json(self) -> bytes:
        return self.model_dump_json(by_alias=True).encode()


class Transition(StrEnum):
    RAISED = "raised"
    LEVEL_CHANGED = "level_changed"
    CLEARED = "cleared"
    ACKNOWLEDGED = "acknowledged"
    SHELVED = "shelved"
    UNSHELVED = "unshelved"
    RESET = "reset"
    REALARMED = "realarmed"
    UPDATED = "updated"  # its source said more (a new text, a restore of a latched alarm): state unchanged
    SUPPRESSED = "suppressed"  # its device was suppressed by a command (maintenance, out of service)
    UNSUPPRESSED = "unsuppressed"


class AlarmState(StrEnum):
    """ISA-18.2 alarm states."""

    ACTIVE_UNACK = "active_unack"
    ACTIVE_ACK = "active_ack"
    CLEARED_UNACK = "cleared_unack"
    CLEARED = "cleared"


class EventStatus(StrEnum):
    """CAP-style status: only ``actual`` events are real emergencies."""

    ACTUAL = "actual"
    EXERCISE = "exercise"
    TEST = "test"


class AlarmSource(BaseModel):
    model_config = ConfigDict(frozen=True)

    device: str
    point: str | None
    bus: str
    unit: int | None = None
    profile: str
    location: str


class RadioPosition(BaseModel):
    """A radio's last known position and how old it is at the time of the event."""

    model_config = ON_DEMAND

    lat: float
    lon: float
    at: Timestamp = Field(description="when the radio reported it")
    age_s: float = Field(description="seconds between the report and this event")
    speed_kmh: float | None = None
    course: int | None = None


class RadioDetails(BaseModel):
    """Who pressed, through which bridge, and what the radio sent (radio alarms only)."""

    model_config = ON_DEMAND

    radio: str = Field(description="callsign or radio id as the wire gives it")
    known: bool = Field(description="false when the radio is not in the station's registry")
    member: str | None = None
    team: str | None = None
    role: str | None = None
    bridge: str
    channel: str
    text: str = ""
    code: str | None = None
    position: RadioPosition | None = None
    signal: dict[str, float] = Field(default_factory=dict, description="e.g. rssi, snr, when given")
    via: list[str] = Field(default_factory=list, description="digipeaters the frame came through")
    raw_hex: str = Field(default="", description="the frame as received, hex")
    presses: int = Field(default=1, description="presses in this occurrence, merged copies included")
    account: str | None = Field(default=None, description="the alarm receiver's account (panel, pendant)")
    zone: str | None = Field(default=None, description="the zone the receiver reported; one alarm per zone")
    user: str | None = Field(default=None, description="the user number the receiver reported")
    partition: str | None = Field(default=None, description="the group or partition the receiver reported")
    restored: bool = Field(
        default=False, description="the source reported normal again; a latched alarm waits for a reset"
    )


class CapFields(BaseModel):
    """What a platform needs to emit a CAP 1.2 alert without guessing."""

    model_config = ConfigDict(frozen=True)

    category: CapCategory
    severity: CapSeverity
    urgency: CapUrgency
    certainty: CapCertainty


class AlarmEvent(Envelope):
    schema_: Literal["outpost.alarm/1"] = Field(default="outpost.alarm/1", alias="schema")
    alarm_key: str = Field(description="stable name of the alarm condition: station.device.alarm")
    first_id: str = Field(description="id of the event that raised this alarm")
    transition: Transition
    kind: str = Field(description="smoke | gas | water_level | radio_sos | device_fault | ...")
    level: Colour
    grade: Grade
    condition: str = Field(
        description="HI, HIHI, LO, LOLO, RATE (rate of rise), DEVICE (the device's own alarm bit), "
        "COMM, IMPLAUSIBLE, CONFIRMED (zone), FLOOD, RADIO (a radio's emergency), NORMAL"
    )
    state: AlarmState
    status: EventStatus = EventStatus.ACTUAL
    shelved: bool = False
    shelved_until: Timestamp | None = None
    suppressed: bool = False
    suppressed_by: str | None = Field(default=None, description="maintenance | out_of_service")
    chattering: bool = False
    warming_up: bool = Field(
        default=False, description="the device's sensor is warming up: the gateway's own thresholds wait"
    )
    latched: bool = False
    acknowledged_by: str | None = None
    source: AlarmSource
    value: float | bool | None = None
    unit: str | None = None
    threshold: float | None = None
    observed_at: Timestamp
    raised_at: Timestamp
    message: str = Field(description="one line for a person")
    realarm_count: int = Field(
        default=0, description="re-alarms of this occurrence so far (on a realarmed event: this one included)"
    )
    cap: CapFields
    radio: RadioDetails | None = None


class DeviceHealth(StrEnum):
    OK = "ok"
    DEGRADED = "degraded"  # answers, but some of its reads fail (the reason names them)
    FAULT = "fault"
    OFFLINE = "offline"


class DeviceStatusEvent(Envelope):
    schema_: Literal["outpost.device_status/1"] = Field(default="outpost.device_status/1", alias="schema")
    device: str
    status: DeviceHealth
    reason: str | None = None
    since: Timestamp


class DeviceSummary(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    profile: str
    bus: str
    location: str


class ConfigPushOutcome(BaseModel):
    """What became of the last station file pushed to the station (``outpost config push``)."""

    model_config = ConfigDict(frozen=True)

    sha256: str = Field(description="of the pushed file")
    outcome: Literal["confirming", "applied", "rolled back"] = Field(
        description="confirming: applied, waiting for the broker; applied: the station reconnected "
        "with it; rolled back: it did not, and the previous file is in force again"
    )
    reason: str | None = None
    at: Timestamp = Field(description="when the outcome was reached")


class RunningConfig(BaseModel):
    """Which station file is in force, so a district sees which stations run which configuration."""

    model_config = ConfigDict(frozen=True)

    sha256: str = Field(description="SHA-256 of the station file in force, as hex")
    push: ConfigPushOutcome | None = None


class StationStatusEvent(Envelope):
    """Birth (``online``, retained) and Last Will (``offline``); ``offline`` with the reason
    ``stopped`` when the gateway was stopped cleanly (the Will has none: the link died)."""

    schema_: Literal["outpost.status/1"] = Field(default="outpost.status/1", alias="schema")
    state: Literal["online", "offline"]
    reason: str | None = None
    version: str
    boot_id: str
    started_at: Timestamp
    boot_count: int = 0
    name: str = ""
    district: str = ""
    devices: list[DeviceSummary] = Field(default_factory=list)
    config: RunningConfig | None = None  # in the birth (``online``); absent from the Will


class Reading(BaseModel):
    """One point's latest value; ``age_s`` is how much older it is than the message's ``observed_at``
    (a device's points are read at different intervals, so not every value is from the latest poll)."""

    model_config = ConfigDict(frozen=True)

    value: float | bool
    unit: str | None = None
    age_s: float | None = None


class TelemetryEvent(Envelope):
    """The latest reading of every point of one device, sent every ``telemetry_interval`` or on a change.

    ``observed_at`` is when the newest of them was read."""

    schema_: Literal["outpost.telemetry/1"] = Field(default="outpost.telemetry/1", alias="schema")
    device: str
    observed_at: Timestamp
    readings: dict[str, Reading]


class ActiveAlarm(BaseModel):
    model_config = ConfigDict(frozen=True)

    alarm_key: str
    first_id: str
    kind: str
    level: Colour
    grade: Grade
    state: AlarmState
    status: EventStatus
    shelved: bool
    suppressed: bool = False
    chattering: bool = False
    raised_at: Timestamp
    device: str
    location: str
    message: str

    @classmethod
    def from_event(cls, event: AlarmEvent, **now: Any) -> ActiveAlarm:
        """The alarm as its latest event tells it; ``now`` overrides what has moved on since."""
        told: dict[str, Any] = {
            "alarm_key": event.alarm_key,
            "first_id": event.first_id,
            "kind": event.kind,
            "level": event.level,
            "grade": event.grade,
            "state": event.state,
            "status": event.status,
            "shelved": event.shelved,
            "suppressed": event.suppressed,
            "chattering": event.chattering,
            "raised_at": event.raised_at,
            "device": event.source.device,
            "location": event.source.location,
            "message": event.message,
        }
        return cls(**(told | now))


class ActiveAlarmsSnapshot(Envelope):
    """Retained on ``{prefix}/alarms/active``: what a platform needs to resync."""

    schema_: Literal["outpost.alarms_active/1"] = Field(default="outpost.alarms_active/1", alias="schema")
    alarms: list[ActiveAlarm]


class CommandResult(Envelope):
    """The answer to one downlink command."""

    model_config = ON_DEMAND

    schema_: Literal["outpost.cmd_result/1"] = Field(default="outpost.cmd_result/1", alias="schema")
    command: str
    command_id: str | None
    ok: bool
    error: str | None = None
    result: dict[str, Any] = Field(default_factory=dict)


class RadioTraffic(Envelope):
    """A radio's message, a restore with no alarm to clear, or how a message to radios went.

    A broadcast is told in steps with one ``broadcast_id``: ``accepted`` (and to whom),
    a ``progress`` for each radio or bridge as it settles, then ``finished`` with all.
    """

    model_config = ON_DEMAND

    schema_: Literal["outpost.radio/1"] = Field(default="outpost.radio/1", alias="schema")
    event: Literal["message", "restore", "delivery", "broadcast"]
    radio: RadioDetails | None = Field(default=None, description="the sender of a message or restore")
    text: str
    deliveries: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="per radio: outcome, attempts, seconds"
    )
    broadcast_id: str | None = Field(default=None, description="the broadcast this step belongs to")
    state: Literal["accepted", "progress", "finished"] | None = Field(
        default=None, description="the broadcast's step"
    )
    group: str | None = Field(default=None, description="the radio group of a directed broadcast")
    recipients: list[str] = Field(
        default_factory=list, description="accepted: the radios (or bridges, for a bulletin) it goes to"
    )
    acknowledged: int | None = Field(default=None, description="finished: radios that acknowledged")


class ResponseEvent(Envelope):
    """What the station did by itself about an alarm (a response rule's step), and how the chain ended.

    Sent through the outbox like an alarm, so a platform that was cut off learns
    afterwards which sirens sounded and whom the station called, when.
    """

    model_config = ON_DEMAND

    schema_: Literal["outpost.response/1"] = Field(default="outpost.response/1", alias="schema")
    rule: str = Field(description="the response rule")
    alarm_key: str
    alarm_id: str = Field(description="first_id of the alarm occurrence the chain answers")
    action: Literal["actuate", "call", "reset", "acknowledged", "ended"] = Field(
        description="actuate: an actuator switched; call: a radio call-out; reset: an actuator switched "
        "back after its maximum on-time; acknowledged / ended: the chain stopped"
    )
    outcome: Literal["done", "failed", "skipped"] = "done"
    step: int | None = Field(default=None, description="the rule's step, from 0")
    reason: str | None = Field(default=None, description="why it failed, was skipped, or ended")
    actuator: str | None = None
    value: str | None = None
    group: str | None = Field(default=None, description="the radio group called; null: a bulletin")
    text: str | None = None
    deliveries: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="call: per radio (or bridge), outcome, attempts, seconds"
    )
    by: str | None = Field(default=None, description="acknowledged: who")
    via: str | None = Field(
        default=None, description="acknowledged: radio, or operator (platform, page, console)"
    )
    status: EventStatus = Field(default=EventStatus.ACTUAL, description="the alarm's: a drill is 'exercise'")


class DeviceReport(BaseModel):
    model_config = ON_DEMAND

    device: str
    status: DeviceHealth | None
    reason: str | None
    bus: str = ""


class BusReport(BaseModel):
    """A bus is ``ok`` while any of its devices answers, ``offline`` when none does."""

    model_config = ON_DEMAND

    bus: str
    status: DeviceHealth | None
    devices_ok: int
    devices: int


class DetectorTestReport(BaseModel):
    """A detector's last test, in a report."""

    model_config = ON_DEMAND

    device: str
    at: Timestamp | None = Field(description="when its last test ended; null: not tested yet")
    passed: bool | None = Field(description="whether its alarm followed the test button in time")


class StationReport(Envelope):
    """The station's situation report: all-clear when nothing is active."""

    model_config = ON_DEMAND

    schema_: Literal["outpost.report/1"] = Field(default="outpost.report/1", alias="schema")
    period: Literal["periodic", "daily", "requested"] = "requested"
    since: Timestamp | None = Field(default=None, description="the previous report of this period")
    all_clear: bool
    exercise: bool
    buses: list[BusReport] = Field(default_factory=list)
    devices: list[DeviceReport]
    active_alarms: list[ActiveAlarm]
    counts: dict[str, int] = Field(
        default_factory=dict, description="alarm transitions since 'since', by transition and grade"
    )
    outbox: dict[str, Any]
    detectors_tested: list[DetectorTestReport] = Field(
        default_factory=list, description="detectors whose test ended since 'since'"
    )
    detectors_untested: list[DetectorTestReport] = Field(
        default_factory=list,
        description="detectors with a test bit not tested for more than reports.untested_after",
    )


PAYLOADS: dict[str, type[Envelope]] = {
    "outpost.alarm/1": AlarmEvent,
    "outpost.device_status/1": DeviceStatusEvent,
    "outpost.status/1": StationStatusEvent,
    "outpost.alarms_active/1": ActiveAlarmsSnapshot,
    "outpost.cmd_result/1": CommandResult,
    "outpost.report/1": StationReport,
    "outpost.telemetry/1": TelemetryEvent,
    "outpost.radio/1": RadioTraffic,
    "outpost.response/1": ResponseEvent,
}


def json_schemas() -> dict[str, dict[str, Any]]:
    """JSON Schema (draft 2020-12) of every payload, keyed by schema name."""
    return {
        name: model.model_json_schema(by_alias=True, mode="serialization") for name, model in PAYLOADS.items()
    }

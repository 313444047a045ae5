"""The platform's decoder: each payload back to its model, anything else an explicit Unknown, no crash."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.contract.decode import MAX_PAYLOAD, Unknown, decode
from gateway.contract.events import (
    PAYLOADS,
    ActiveAlarm,
    ActiveAlarmsSnapshot,
    AlarmEvent,
    AlarmSource,
    AlarmState,
    BusReport,
    CapFields,
    CommandResult,
    DeviceHealth,
    DeviceReport,
    DeviceStatusEvent,
    DeviceSummary,
    Envelope,
    EventStatus,
    RadioDetails,
    RadioTraffic,
    Reading,
    ResponseEvent,
    StationReport,
    StationStatusEvent,
    TelemetryEvent,
    Transition,
)
from gateway.contract.levels import CapCategory, CapCertainty, CapSeverity, CapUrgency, Colour, Grade

AT = datetime(2026, 11, 23, 10, 5, 21, 123000, tzinfo=UTC)  # milliseconds: what the wire carries
KEY = "cs-0427.kitchen-gas.gas"


def stamp(seq: int) -> dict:
    return {"id": f"0190f5c2-0000-7000-8000-{seq:012d}", "station": "cs-0427", "seq": seq, "created_at": AT}


ACTIVE = ActiveAlarm(
    alarm_key=KEY,
    first_id="0190f5c2-0000-7000-8000-000000000001",
    kind="gas",
    level=Colour.ORANGE,
    grade=Grade.FIRST_STAGE,
    state=AlarmState.ACTIVE_UNACK,
    status=EventStatus.ACTUAL,
    shelved=False,
    raised_at=AT,
    device="kitchen-gas",
    location="Kitchen",
    message="Gas 27.5 %LEL in the kitchen",
)

EXAMPLES: list[Envelope] = [
    AlarmEvent(
        **stamp(1),
        alarm_key=KEY,
        first_id="0190f5c2-0000-7000-8000-000000000001",
        transition=Transition.RAISED,
        kind="gas",
        level=Colour.ORANGE,
        grade=Grade.FIRST_STAGE,
        condition="HI",
        state=AlarmState.ACTIVE_UNACK,
        source=AlarmSource(
            device="kitchen-gas", point="gas", bus="rs485", unit=1, profile="gas-detector", location="Kitchen"
        ),
        value=27.5,
        unit="%LEL",
        threshold=25.0,
        observed_at=AT,
        raised_at=AT,
        message="Gas 27.5 %LEL in the kitchen",
        cap=CapFields(
            category=CapCategory.SAFETY,
            severity=CapSeverity.SEVERE,
            urgency=CapUrgency.IMMEDIATE,
            certainty=CapCertainty.OBSERVED,
        ),
    ),
    DeviceStatusEvent(
        **stamp(2), device="kitchen-gas", status=DeviceHealth.FAULT, reason="no answer", since=AT
    ),
    StationStatusEvent(
        **stamp(3),
        state="online",
        version="1.0.0",
        boot_id="b1",
        started_at=AT,
        boot_count=4,
        devices=[DeviceSummary(id="kitchen-gas", profile="gas-detector", bus="rs485", location="Kitchen")],
    ),
    ActiveAlarmsSnapshot(**stamp(4), alarms=[ACTIVE]),
    CommandResult(**stamp(5), command="ping", command_id="c1", ok=True, result={"pong": True}),
    StationReport(
        **stamp(6),
        all_clear=False,
        exercise=True,
        buses=[BusReport(bus="rs485", status=DeviceHealth.OK, devices_ok=1, devices=1)],
        devices=[DeviceReport(device="kitchen-gas", status=DeviceHealth.OK, reason=None, bus="rs485")],
        active_alarms=[ACTIVE],
        outbox={"pending": 0},
    ),
    TelemetryEvent(
        **stamp(7), device="kitchen-gas", observed_at=AT, readings={"gas": Reading(value=1.5, unit="%LEL")}
    ),
    RadioTraffic(
        **stamp(8),
        event="message",
        radio=RadioDetails(radio="BA1ABC-7", known=True, bridge="aprs", channel="144.640"),
        text="all well at the river gauge",
    ),
    ResponseEvent(
        **stamp(9),
        rule="kitchen-gas",
        alarm_key="cs-0427.kitchen-gas.gas",
        alarm_id="0190b2a4-0000-7000-8000-000000000001",
        action="actuate",
        step=0,
        actuator="yard-siren",
        value="on",
    ),
]


def test_the_examples_cover_every_payload_of_the_contract():
    assert {example.schema_ for example in EXAMPLES} == set(PAYLOADS)


@pytest.mark.parametrize("payload", EXAMPLES, ids=lambda p: p.schema_)
def test_every_payload_comes_back_as_its_own_model(payload: Envelope):
    decoded = decode(payload.to_json())
    assert type(decoded) is PAYLOADS[payload.schema_]
    assert decoded == payload


def test_a_late_delivery_keeps_its_historical_mark():
    body = json.loads(EXAMPLES[0].to_json()) | {"historical": True}
    decoded = decode(json.dumps(body).encode())
    assert isinstance(decoded, AlarmEvent)
    assert decoded.historical


DEPTH = 100_000
TEN_MB = 10 * 1024 * 1024


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"", "not JSON"),
        (b"\x00\xff\xfe garbage", "not JSON"),
        (b'{"schema": "outpost.alarm/1"', "not JSON"),
        (b"null", "not a JSON object"),
        (b"[1, 2]", "not a JSON object"),
        (b"{}", "no schema"),
        (b'{"schema": "outpost.alarm/2"}', "unknown schema"),
        (b'{"schema": "outpost.walktest/1"}', "unknown schema"),
        (b'{"schema": 7}', "unknown schema"),
        (b'{"schema": "outpost.alarm/1", "id": "x"}', "invalid outpost.alarm/1: station: Field required"),
        (b"[" * DEPTH + b"]" * DEPTH, "not JSON"),
        (b'{"a":' * DEPTH + b"1" + b"}" * DEPTH, "not JSON"),
        (b'{"schema": "outpost.alarm/1", "x": ' + b"[" * DEPTH + b"]" * DEPTH + b"}", "not JSON"),
        (
            b'{"schema": "outpost.alarm/1", "message": "' + b"x" * TEN_MB + b'"}',
            f"larger than {MAX_PAYLOAD} bytes",
        ),
    ],
    ids=[
        "empty",
        "binary",
        "truncated",
        "null",
        "array",
        "no-schema",
        "newer-version",
        "not-a-station-payload",
        "schema-not-text",
        "missing-fields",
        "arrays-100000-deep",
        "objects-100000-deep",
        "deep-inside-an-alarm",
        "10-MB",
    ],
)
def test_anything_else_is_unknown_with_a_reason(payload: bytes, reason: str):
    decoded = decode(payload)
    assert decoded == Unknown(reason, len(payload))


def test_the_reason_stays_short_whatever_the_payload_names():
    readings = {"x" * 100_000: {"value": "not a number"}}
    body = json.loads(EXAMPLES[6].to_json()) | {"readings": readings}
    decoded = decode(json.dumps(body).encode())
    assert isinstance(decoded, Unknown)
    assert decoded.reason.startswith("invalid outpost.telemetry/1: readings.xxx")
    assert len(decoded.reason) <= 200


@given(
    st.binary(max_size=2000)
    | st.from_regex(r'\{"schema": ?"outpost\.[a-z_]+/1".*', fullmatch=True).map(str.encode)
)
def test_no_bytes_make_the_decoder_raise(payload: bytes):
    assert isinstance(decode(payload), Unknown | Envelope)

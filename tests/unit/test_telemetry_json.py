"""Telemetry written without the model is the model's message: same fields, same values, same bytes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from gateway.contract.events import Reading, TelemetryEvent
from gateway.contract.telemetry_json import telemetry_json
from gateway.contract.time_quality import TimeQuality
from gateway.uplink.freshness import Freshness
from gateway.uplink.telemetry import Latest

POLLED = datetime(2026, 11, 23, 10, 5, 21, 123456, tzinfo=UTC)


def stamp(seq: int = 42, station: str = "cs-0427") -> dict:
    return {
        "id": "0190b2a4-0000-7000-8000-000000000001",
        "station": station,
        "seq": seq,
        "created_at": POLLED + timedelta(milliseconds=3),
        "time_quality": TimeQuality.SYNCHRONIZED,
    }


def as_the_model_writes_it(made: dict, device: str, points: dict[str, Latest]) -> bytes:
    """What the publisher sent before it wrote telemetry itself: the model, dumped."""
    newest = max((p.observed_at for p in points.values()), default=POLLED)
    readings = {
        name: Reading(value=p.value, unit=p.unit, age_s=round((newest - p.observed_at).total_seconds(), 3))
        for name, p in points.items()
    }
    return TelemetryEvent(device=device, observed_at=newest, readings=readings, **made).to_json()


def test_a_gas_detectors_telemetry_is_byte_for_byte_what_the_model_writes():
    points = {
        "gas": Latest(4.5, "%LEL", POLLED),
        "status": Latest(0, None, POLLED - timedelta(seconds=9, microseconds=123456)),
        "relay": Latest(True, None, POLLED - timedelta(seconds=1)),
    }
    assert telemetry_json(stamp(), "kitchen-gas", points, POLLED) == as_the_model_writes_it(
        stamp(), "kitchen-gas", points
    )


def test_telemetry_that_waited_too_long_is_marked_historical_as_it_leaves():
    payload = telemetry_json(stamp(seq=7), "kitchen-gas", {"gas": Latest(4.5, "%LEL", POLLED)}, POLLED)
    freshness = Freshness(historical_after=30.0)
    freshness.made(8)  # this boot's first message: 7 is from an earlier boot
    assert json.loads(freshness.mark(payload))["historical"] is True


def test_a_device_with_no_point_read_yet_reports_when_it_was_polled():
    payload = telemetry_json(stamp(), "kitchen-gas", {}, POLLED)
    assert payload == as_the_model_writes_it(stamp(), "kitchen-gas", {})


names = st.text(min_size=1, max_size=12)
values = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**31), max_value=2**32),
    st.floats(allow_nan=False, allow_infinity=False),
)
points = st.builds(
    Latest,
    value=values,
    unit=st.none() | names,
    observed_at=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=2)).map(
        lambda age: POLLED - age
    ),
)


@given(
    station=names,
    device=names,
    seq=st.integers(min_value=1, max_value=2**53),
    points=st.dictionaries(names, points, max_size=6),
)
def test_any_telemetry_parses_to_the_models_message_and_validates_against_it(station, device, seq, points):
    made = stamp(seq, station)
    written = telemetry_json(made, device, points, POLLED)
    expected = as_the_model_writes_it(made, device, points)
    assert json.loads(written) == json.loads(expected)
    assert TelemetryEvent.model_validate_json(written) == TelemetryEvent.model_validate_json(expected)

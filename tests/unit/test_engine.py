"""The alarm engine: from poll outcomes to alarm and device-status events."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from drivers.observation import DeviceFault, FaultCategory, Observation, PollOutcome
from gateway.alarms.clock import ManualClock
from gateway.alarms.engine import AlarmEngine
from gateway.config import load_config
from gateway.contract.events import AlarmEvent, DeviceHealth, DeviceStatusEvent
from tests.support.station_text import VALID, write

GAS = "kitchen-gas"


@pytest.fixture
def engine(tmp_path):
    text = VALID + "    alarms:\n      gas:\n        on_delay: 10s\n"
    config = load_config(write(tmp_path, text))
    counter = itertools.count(1)

    def stamp():
        n = next(counter)
        return {"id": f"id-{n}", "station": "cs-0001", "seq": n, "created_at": datetime.now(UTC)}

    return AlarmEngine(config, stamp, clock=ManualClock(datetime.now(UTC)))


def poll(at: float, **values) -> PollOutcome:
    now = datetime.now(UTC)
    defaults = {
        "gas": 0.0,
        "low_alarm": False,
        "high_alarm": False,
        "sensor_fault": False,
        "status": 0.0,
    }
    observations = tuple(
        Observation(GAS, name, value, None, now) for name, value in (defaults | values).items()
    )
    return PollOutcome(GAS, now, at, observations=observations)


def failed(at: float, category=FaultCategory.TIMEOUT) -> PollOutcome:
    return PollOutcome(GAS, datetime.now(UTC), at, fault=DeviceFault(category, "no response (timeout)"))


def alarms(events) -> list[tuple[str, str, str]]:
    return [(e.transition.value, e.level.value, e.condition) for e in events if isinstance(e, AlarmEvent)]


def active(engine: AlarmEngine) -> dict[str, str]:
    return {a.alarm_key: a.state.value for a in engine.active_alarms()}


def test_first_poll_publishes_device_ok_and_nothing_else(engine):
    events = engine.handle(poll(0))
    assert [(type(e), e.status.value) for e in events] == [(DeviceStatusEvent, "ok")]
    assert engine.handle(poll(1)) == []


def test_on_delay_applies_to_thresholds_but_not_to_the_devices_own_alarm_bit(engine):
    engine.handle(poll(0))
    assert alarms(engine.handle(poll(1, gas=60.0))) == []  # waiting out the 10 s on-delay
    assert alarms(engine.handle(poll(2, gas=60.0, high_alarm=True))) == [("raised", "orange", "DEVICE")]
    assert alarms(engine.handle(poll(12, gas=60.0, high_alarm=True))) == []  # same grade: no event


def test_threshold_alarm_after_its_on_delay_and_one_event_per_change(engine):
    engine.handle(poll(0))
    engine.handle(poll(1, gas=30.0))
    assert alarms(engine.handle(poll(11, gas=30.0))) == [("raised", "yellow", "HI")]
    engine.handle(poll(12, gas=60.0))
    assert alarms(engine.handle(poll(22, gas=60.0))) == [("level_changed", "orange", "HIHI")]
    assert alarms(engine.handle(poll(30, gas=1.0))) == []  # waiting out the 2 s off-delay
    events = engine.handle(poll(32, gas=1.0))
    assert alarms(events) == [("cleared", "orange", "NORMAL")]
    assert events[0].first_id == "id-2"


def test_device_fault_bit_freezes_thresholds_and_reports_the_fault(engine):
    engine.handle(poll(0))
    engine.handle(poll(1, low_alarm=True))
    events = engine.handle(poll(2, low_alarm=True, sensor_fault=True, gas=0.0))
    status = [e for e in events if isinstance(e, DeviceStatusEvent)]
    assert [(s.status.value, s.reason) for s in status] == [
        ("fault", "sensor fault reported by the detector")
    ]
    assert alarms(events) == [("raised", "blue", "DEVICE")]  # the device_fault alarm
    # A faulty reading never raises from the value...
    assert alarms(engine.handle(poll(30, sensor_fault=True, low_alarm=True, gas=90.0))) == []
    # ...and the device's own bit still counts.
    assert ("level_changed", "orange", "DEVICE") in alarms(
        engine.handle(poll(31, sensor_fault=True, high_alarm=True, gas=90.0))
    )


def test_communication_loss_after_two_missed_polls_keeps_active_alarms(engine):
    engine.handle(poll(0))
    engine.handle(poll(1, high_alarm=True))
    assert engine.handle(failed(2)) == []  # one missed poll is not yet a fault
    events = engine.handle(failed(3))
    assert [(e.status.value, e.reason) for e in events if isinstance(e, DeviceStatusEvent)] == [
        ("offline", "no response (timeout)")
    ]
    assert alarms(events) == [("raised", "blue", "COMM")]
    assert "cs-0001.kitchen-gas.gas" in active(engine)  # no data is not an all-clear
    events = engine.handle(poll(4, high_alarm=True))
    assert alarms(events) == [("cleared", "blue", "NORMAL")]
    # The fault is over but stays listed until someone acknowledges it (ISA-18.2).
    assert active(engine) == {
        "cs-0001.kitchen-gas.gas": "active_unack",
        "cs-0001.kitchen-gas.fault": "cleared_unack",
    }


def test_exception_answers_are_a_fault_not_offline(engine):
    engine.handle(poll(0))
    engine.handle(failed(1, FaultCategory.EXCEPTION))
    events = engine.handle(failed(2, FaultCategory.EXCEPTION))
    assert [e.status.value for e in events if isinstance(e, DeviceStatusEvent)] == ["fault"]


def test_a_poll_of_only_some_points_neither_clears_alarms_nor_device_faults(engine):
    """Routine telemetry is read in polls of its own: they carry no alarm points."""
    engine.handle(poll(0))
    raised = engine.handle(poll(1, high_alarm=True, sensor_fault=True))
    assert ("raised", "orange", "DEVICE") in alarms(raised)
    now = datetime.now(UTC)
    telemetry = PollOutcome(GAS, now, 2, observations=(Observation(GAS, "status", 6.0, None, now),))
    assert engine.handle(telemetry) == []
    assert {a.alarm_key for a in engine.active_alarms()} == {
        "cs-0001.kitchen-gas.gas",
        "cs-0001.kitchen-gas.fault",
    }
    cleared = engine.handle(poll(3))
    assert ("cleared", "orange", "NORMAL") in alarms(cleared)


# -- device status: Device status: degraded while some reads fail, and no flapping of the retained status.

DIAGNOSTICS_FAIL = DeviceFault(FaultCategory.TIMEOUT, "holding 20..21 fails: no response (timeout)")


def statuses(events) -> list[tuple[DeviceHealth, str | None]]:
    return [(e.status, e.reason) for e in events if isinstance(e, DeviceStatusEvent)]


def test_a_unit_whose_diagnostics_read_fails_is_degraded_with_the_block_named_once(engine):
    assert statuses(engine.handle(poll(0))) == [(DeviceHealth.OK, None)]
    degraded = [engine.handle(replace(poll(t), degraded=DIAGNOSTICS_FAIL)) for t in (1, 2, 3, 4)]
    assert statuses(degraded[0]) == [(DeviceHealth.DEGRADED, DIAGNOSTICS_FAIL.reason)]
    assert all(statuses(events) == [] for events in degraded[1:])
    assert statuses(engine.handle(poll(5))) == [(DeviceHealth.OK, None)]


def test_a_wavering_outage_publishes_a_change_of_reason_at_most_once_per_poll_interval(engine):
    engine.handle(poll(0))
    published = []
    for step in range(20):  # 2 s of outcomes every 0.1 s, alternating reasons; poll interval 1 s
        at = 1 + step / 10
        reason = "no response (timeout)" if step % 2 else "bus fault: connection lost"
        category = FaultCategory.TIMEOUT if step % 2 else FaultCategory.CONNECTION
        outcome = PollOutcome(GAS, datetime.now(UTC), at, fault=DeviceFault(category, reason))
        published += [(at, *s) for s in statuses(engine.handle(outcome))]
    assert {health for _at, health, _reason in published} == {DeviceHealth.OFFLINE}
    assert len(published) <= 3, published
    assert all(b[0] - a[0] >= 1 for a, b in itertools.pairwise(published))


def test_active_alarms_taken_before_a_step_and_built_after_it_show_them_as_they_stood(engine):
    engine.handle(poll(0))
    engine.handle(poll(1, gas=60.0, high_alarm=True))
    taken = engine.active_alarms_as_now()  # a step's snapshot, built once the step is committed
    assert alarms(engine.handle(poll(2))) == [("cleared", "orange", "NORMAL")]  # the next step, first
    assert {a.alarm_key: a.state.value for a in taken()} == {"cs-0001.kitchen-gas.gas": "active_unack"}
    assert active(engine) == {"cs-0001.kitchen-gas.gas": "cleared_unack"}

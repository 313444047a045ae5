"""Device status: degraded while some reads fail, and no flapping of the retained status."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime

from drivers.observation import Fault, FaultCategory, PollOutcome
from gateway.contract.events import DeviceHealth, DeviceStatusEvent
from tests.unit.test_engine import GAS, engine, poll  # noqa: F401 (engine is a fixture)

DIAGNOSTICS_FAIL = Fault(FaultCategory.TIMEOUT, "holding 20..21 fails: no response (timeout)")


def statuses(events) -> list[tuple[DeviceHealth, str | None]]:
    return [(e.status, e.reason) for e in events if isinstance(e, DeviceStatusEvent)]


def test_a_unit_whose_diagnostics_read_fails_is_degraded_with_the_block_named_once(engine):  # noqa: F811
    assert statuses(engine.handle(poll(0))) == [(DeviceHealth.OK, None)]
    degraded = [engine.handle(replace(poll(t), degraded=DIAGNOSTICS_FAIL)) for t in (1, 2, 3, 4)]
    assert statuses(degraded[0]) == [(DeviceHealth.DEGRADED, DIAGNOSTICS_FAIL.reason)]
    assert all(statuses(events) == [] for events in degraded[1:])
    assert statuses(engine.handle(poll(5))) == [(DeviceHealth.OK, None)]


def test_a_wavering_outage_publishes_a_change_of_reason_at_most_once_per_poll_interval(engine):  # noqa: F811
    engine.handle(poll(0))
    published = []
    for step in range(20):  # 2 s of outcomes every 0.1 s, alternating reasons; poll interval 1 s
        at = 1 + step / 10
        reason = "no response (timeout)" if step % 2 else "bus fault: connection lost"
        category = FaultCategory.TIMEOUT if step % 2 else FaultCategory.CONNECTION
        outcome = PollOutcome(GAS, datetime.now(UTC), at, fault=Fault(category, reason))
        published += [(at, *s) for s in statuses(engine.handle(outcome))]
    assert {health for _at, health, _reason in published} == {DeviceHealth.OFFLINE}
    assert len(published) <= 3, published
    assert all(b[0] - a[0] >= 1 for a, b in itertools.pairwise(published))

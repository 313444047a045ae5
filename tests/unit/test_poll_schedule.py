"""The order in which a bus's reads go on the line: alarm reads first, then the longest overdue,
cadence kept without bursts, and a silent unit held back while it backs off."""

from __future__ import annotations

import asyncio

from drivers.modbus.registers import ReadPriority
from drivers.modbus.schedule import Schedule

URGENT, ROUTINE = int(ReadPriority.URGENT), int(ReadPriority.ROUTINE)


def run_order(schedule: Schedule[str], now: float) -> list[str]:
    """What runs at ``now``, one after the other, each put back after its run."""
    taken = []
    while (slot := schedule.take(now)) is not None:
        taken.append(slot)
    for slot in taken:
        schedule.done(slot, now)
    return [slot.job for slot in taken]


def test_urgent_reads_go_before_routine_ones_that_are_longer_overdue() -> None:
    schedule: Schedule[str] = Schedule()
    schedule.add("a routine", priority=ROUTINE, interval=10, due=0.0, group=1)
    schedule.add("b urgent", priority=URGENT, interval=1, due=0.5, group=2)
    schedule.add("a urgent", priority=URGENT, interval=1, due=0.2, group=1)
    assert run_order(schedule, 1.0) == ["a urgent", "b urgent", "a routine"]


def test_ties_go_to_the_job_added_first() -> None:
    schedule: Schedule[str] = Schedule()
    for name in ("first", "second", "third"):
        schedule.add(name, priority=URGENT, interval=1, due=0.0, group=name)
    assert run_order(schedule, 0.0) == ["first", "second", "third"]


def test_nothing_runs_before_it_is_due_and_the_wake_up_is_the_earliest_due() -> None:
    schedule: Schedule[str] = Schedule()
    schedule.add("later", priority=URGENT, interval=1, due=5.0, group=1)
    schedule.add("sooner", priority=ROUTINE, interval=1, due=3.0, group=2)
    assert schedule.take(2.9) is None
    assert schedule.wake_at() == 3.0
    assert run_order(schedule, 3.0) == ["sooner"]


def test_cadence_is_kept_but_missed_polls_are_not_caught_up_in_a_burst() -> None:
    schedule: Schedule[str] = Schedule()
    slot = schedule.add("poll", priority=URGENT, interval=1, due=0.0, group=1)
    schedule.done(schedule.take(0.3) or slot, 0.3)
    assert slot.due == 1.0  # a late start keeps the 1 s grid
    schedule.done(schedule.take(7.5) or slot, 7.5)
    assert slot.due == 7.5  # six missed polls become one, now
    assert run_order(schedule, 7.5) == ["poll"]


def test_a_held_unit_waits_for_its_probe_while_the_others_go_on() -> None:
    schedule: Schedule[str] = Schedule()
    schedule.add("silent urgent", priority=URGENT, interval=1, due=0.0, group="silent")
    schedule.add("silent routine", priority=ROUTINE, interval=10, due=0.0, group="silent")
    schedule.add("other", priority=URGENT, interval=1, due=0.0, group="other")
    schedule.hold("silent", 4.0)
    assert run_order(schedule, 0.0) == ["other"]
    assert run_order(schedule, 1.0) == ["other"]
    assert schedule.wake_at() == 2.0  # the other unit's next poll, not the silent one's old time
    assert run_order(schedule, 4.0) == ["other", "silent urgent", "silent routine"]


def test_a_hold_also_applies_to_jobs_already_due() -> None:
    schedule: Schedule[str] = Schedule()
    first = schedule.add("first", priority=URGENT, interval=1, due=0.0, group="other")
    schedule.add("silent", priority=ROUTINE, interval=1, due=0.0, group="silent")
    assert schedule.take(0.0) is first  # both fell due: "silent" waits its turn, ranked
    schedule.done(first, 0.0)
    schedule.hold("silent", 2.0)
    assert run_order(schedule, 1.0) == ["first"]
    assert run_order(schedule, 2.0) == ["first", "silent"]


def test_the_held_due_time_is_where_the_cadence_resumes() -> None:
    schedule: Schedule[str] = Schedule()
    slot = schedule.add("silent", priority=URGENT, interval=1, due=0.0, group=1)
    schedule.hold(1, 4.0)
    assert schedule.take(3.9) is None
    schedule.done(schedule.take(4.2) or slot, 4.2)
    assert slot.due == 5.0


def test_next_waits_for_the_first_due_job() -> None:
    async def scenario() -> tuple[str, float]:
        loop = asyncio.get_running_loop()
        schedule: Schedule[str] = Schedule()
        schedule.add("later", priority=URGENT, interval=1, due=loop.time() + 0.05, group=1)
        schedule.add("sooner", priority=ROUTINE, interval=1, due=loop.time() + 0.02, group=2)
        slot = await schedule.next()
        return slot.job, loop.time() - slot.due

    job, late = asyncio.run(scenario())
    assert job == "sooner"
    assert late >= 0

"""The RTU poller against a hostile slave (tests/support/hostile_rtu.py) on a pty pair.

RTU answers carry no request id. A unit with several reads of the same
function and size answers at random 0.5x-10x the timeout late, twice, or in
pieces: no value may ever be published under another block's point. And a
read that never answers must not slow the unit's alarm reads.
"""

from __future__ import annotations

import asyncio
from collections import Counter

from tests.support.hostile_rtu import POINTS, TIMEOUT, UNITS, HostileRtuSlave, device, poller
from tests.support.outcomes import running


async def test_no_late_duplicated_or_split_answer_is_ever_published_under_another_point():
    devices = [device(unit, 0.1, None) for unit in UNITS]  # every block read at every poll
    async with (
        HostileRtuSlave(UNITS, timeout=TIMEOUT, late_probability=0.2, seed=15) as slave,
        running(poller(slave, devices)) as outcomes,
    ):
        # At least 300 requests, and on until every point has been read often (a loaded
        # machine stretches the backoffs, not the verdict), within a bound.
        while slave.stats.requests < 300 or (
            min(reads(outcomes).values()) < 10 and slave.stats.requests < 3000
        ):
            await outcomes.next_where(lambda _o: True)
    read = [(o.device, obs.point, obs.value) for o in outcomes.items for obs in o.observations]
    wrong = [(d, p, v) for d, p, v in read if v != UNITS[int(d[3:])][POINTS[p]]]
    assert wrong == [], wrong[:10]
    assert slave.stats.late >= 30, slave.stats
    assert slave.stats.duplicated, slave.stats
    assert slave.stats.split, slave.stats
    # Misattribution is not avoided by reading nothing: every point keeps being read.
    for name in ("dev1", "dev2"):
        for point in POINTS:
            assert sum(1 for d, p, _v in read if (d, p) == (name, point)) >= 10, (name, point)


def reads(outcomes) -> Counter[tuple[str, str]]:
    """How often each (device, point) has been read so far."""
    seen = Counter((o.device, obs.point) for o in outcomes.items for obs in o.observations)
    return Counter({(d, p): seen[(d, p)] for d in ("dev1", "dev2") for p in POINTS})


async def test_a_block_that_never_answers_leaves_the_alarm_reads_their_rate_and_degrades_the_unit():
    interval, window = 0.25, 4.0
    devices = [device(1, interval, 0.5)]
    async with (
        HostileRtuSlave(
            UNITS,
            timeout=TIMEOUT,
            late_probability=0,
            duplicate_probability=0,
            split_probability=0,
            silent_blocks=frozenset({(1, 20)}),
        ) as slave,
        running(poller(slave, devices)) as outcomes,
    ):
        first = await outcomes.next_where(lambda o: o.degraded is not None)
        start = asyncio.get_running_loop().time()
        await outcomes.wait_until(start + window)
    assert first.ok
    assert "holding 20..21 fails: no response (timeout)" in first.degraded.reason
    later = [o for o in outcomes.items if o.received_monotonic >= start]
    assert all(o.ok and o.degraded is not None for o in later)  # degraded throughout, never a fault
    gas = sum(1 for o in later if any(obs.point == "gas" for obs in o.observations))
    assert gas >= 0.85 * window / interval, gas
    assert any(obs.point == "supply" for o in later for obs in o.observations)  # the other block still read
    assert slave.stats.by_block[(1, 20)] <= 2 * (window / 0.5) + 2  # the silent block backs off alone

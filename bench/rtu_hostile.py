"""RTU against a hostile slave: no misattributed value, and alarm reads on time while telemetry fails.

Why: RTU answers carry no request id. A unit that answers late, twice or in
pieces could have one block's values published under another block's points
(a false gas alarm in the field). Two runs against the tests' own hostile
slave (``tests.support.hostile_rtu``) on a pty pair, with the test's units
(three two-register blocks each, same function and size, distinct values):

- hostile: answers late by 0.5x-10x the timeout at random (20 %), duplicated
  (5 %) or split (10 %); figures: requests heard, late answers injected,
  values read, misattributions (must be 0), faults;
- alarm latency, twice: with the unit's telemetry blocks due at every poll
  (they answer; urgent reads go first, so an alarm read waits at most for the
  one read on the wire), and with its diagnostics block never answering;
  figures: the time between successive alarm-block answers, p50/p99, against
  the poll interval, how much later than the interval (p50/p99), and how often
  the telemetry blocks were read.

Run: ``make bench`` (or ``python -m bench.rtu_hostile``, about a minute and a half
with the defaults; ``--requests 10000 --window 60`` for a soak of about 15 minutes).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
from pathlib import Path

from bench.common import RESULTS, percentiles, publish
from tests.support.hostile_rtu import POINTS, TIMEOUT, UNITS, HostileRtuSlave, device, poller
from tests.support.outcomes import running


async def hostile(requests: int, seed: int) -> dict:
    devices = [device(unit, 0.1, None) for unit in UNITS]
    async with (
        HostileRtuSlave(UNITS, timeout=TIMEOUT, late_probability=0.2, seed=seed) as slave,
        running(poller(slave, devices)) as outcomes,
    ):
        while slave.stats.requests < requests:
            await outcomes.next_where(lambda _o: True, timeout=30)
    read = [(o.device, obs.point, obs.value) for o in outcomes.items for obs in o.observations]
    wrong = [r for r in read if r[2] != UNITS[int(r[0][3:])][POINTS[r[1]]]]
    stats = slave.stats
    return {
        "timeout_s": TIMEOUT,
        "requests": stats.requests,
        "late_answers_injected": stats.late,
        "duplicated": stats.duplicated,
        "split": stats.split,
        "dropped_while_busy": stats.dropped,
        "values_read": len(read),
        "misattributions": len(wrong),
        "first_misattributed": [list(r) for r in wrong[:5]],
        "failed_polls": sum(1 for o in outcomes.items if not o.ok),
    }


async def alarm_latency(window: float, interval: float, *, telemetry_fails: bool) -> dict:
    async with (
        HostileRtuSlave(
            UNITS,
            timeout=TIMEOUT,
            late_probability=0,
            duplicate_probability=0,
            split_probability=0,
            silent_blocks=frozenset({(1, 20)}) if telemetry_fails else frozenset(),
        ) as slave,
        running(poller(slave, [device(1, interval, interval)])) as outcomes,
    ):
        await outcomes.wait_until(asyncio.get_running_loop().time() + window)
    alarm = [
        o.received_monotonic for o in outcomes.items if any(obs.point == "gas" for obs in o.observations)
    ]
    gaps = [later - earlier for earlier, later in itertools.pairwise(alarm)]
    return {
        "window_s": window,
        "poll_interval_s": interval,
        "telemetry_interval_s": interval,
        "alarm_reads": len(alarm),
        "alarm_read_gap": percentiles(gaps),
        "alarm_read_late": percentiles([max(0.0, gap - interval) for gap in gaps]),
        "telemetry_block_requests": slave.stats.by_block[(1, 20)] + slave.stats.by_block[(1, 40)],
        "failing_block_requests": slave.stats.by_block[(1, 20)] if telemetry_fails else 0,
        "faults": sum(1 for o in outcomes.items if not o.ok),
        "degraded_outcomes": sum(1 for o in outcomes.items if o.degraded is not None),
    }


async def measure(requests: int, window: float, seed: int) -> dict:
    return {
        "hostile": await hostile(requests, seed),
        "alarm_latency_telemetry_due": await alarm_latency(window, 0.25, telemetry_fails=False),
        "alarm_latency": await alarm_latency(window, 0.25, telemetry_fails=True),
    }


def print_table(result: dict) -> None:
    h = result["hostile"]
    print(f"hostile slave (timeout {h['timeout_s']} s)")
    for key in ("requests", "late_answers_injected", "duplicated", "split", "dropped_while_busy"):
        print(f"  {key.replace('_', ' '):<28}{h[key]:>8}")
    print(f"  {'values read':<28}{h['values_read']:>8}")
    print(f"  {'misattributions':<28}{h['misattributions']:>8}")
    print(f"  {'failed polls':<28}{h['failed_polls']:>8}")
    for key, what in (
        ("alarm_latency_telemetry_due", "with telemetry due at every poll"),
        ("alarm_latency", "with a telemetry block that never answers"),
    ):
        a = result[key]
        gap, late = a["alarm_read_gap"], a["alarm_read_late"]
        print(f"alarm reads {what} ({a['window_s']:g} s)")
        print(f"  poll interval {a['poll_interval_s']} s, alarm reads {a['alarm_reads']}")
        print(f"  gap between alarm answers p50/p99 (ms): {gap.get('p50_ms')}/{gap.get('p99_ms')}")
        print(f"  later than the interval p50/p99 (ms): {late.get('p50_ms')}/{late.get('p99_ms')}")
        print(f"  telemetry blocks read {a['telemetry_block_requests']} times, faults {a['faults']}")
        if gap.get("p50_ms") is not None:
            ratio = gap["p50_ms"] / (1000 * a["poll_interval_s"])
            print(f"  vs floor (same run): alarm answers {ratio:.2f}x the poll interval apart (p50)")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=500, help="requests in the hostile run")
    parser.add_argument("--window", type=float, default=15.0, help="seconds of the latency run")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, default=RESULTS / "rtu_hostile.json")
    args = parser.parse_args()
    publish(asyncio.run(measure(args.requests, args.window, args.seed)), args.json, print_table)


if __name__ == "__main__":
    main()

"""The one backoff: capped, doubling, and jittered so that peers do not reconnect in step."""

from __future__ import annotations

from itertools import islice

from drivers.backoff import Backoff


def test_delays_double_up_to_the_cap_and_are_never_longer_than_nominal():
    nominal = [0.5, 1.0, 2.0, 4.0, 5.0, 5.0, 5.0]
    for _ in range(200):
        delays = list(islice(Backoff(0.5, 5.0).delays(), len(nominal)))
        assert all(n / 2 <= d <= n for d, n in zip(delays, nominal, strict=True)), delays


def test_two_runs_that_start_together_do_not_wait_in_step():
    first = list(islice(Backoff(1.0, 60.0).delays(), 6))
    second = list(islice(Backoff(1.0, 60.0).delays(), 6))
    assert first != second

"""Every benchmark in bench/ runs as shipped: a broken benchmark fails here, not on the day it is needed.

Each runs with tiny parameters in its own process and must finish, print its
table with the line comparing it with its floor, and write its JSON. No speed
is asserted: the figures belong to the benchmark's own report.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]

TINY = {
    "alarm_latency": ["--changes", "4", "--devices", "2", "--batch", "2", "--breakdown"],
    "delivery": ["--backlog", "200", "--commits", "50", "--latency-samples", "10"],
    "durability": ["--alarms", "20", "--slow-alarms", "4"],
    "fleet": ["--stations", "5", "--duration", "3"],
    "peer": ["--devices", "2", "--seconds", "2", "--flat-devices", "3", "--flat-seconds", "2"],
    "response": ["--rounds", "3", "--poll", "0.3"],
    "rtu_hostile": ["--requests", "30", "--window", "2"],
    "serial_bus": ["--window", "2", "--cycles", "2"],
}

# Benchmarks with more than one run say so for each (the rest print one comparison line).
RUNS_REPORTED = {"peer": ("vs floor (same run), outpost / floor-paho", "vs floor (same run), flat out")}


def test_every_benchmark_is_covered() -> None:
    helpers = {
        "__init__",
        "answers",
        "common",
        "trace",
        "floor",
        "simulator",
        "subscriber",
    }  # used by the benchmarks
    shipped = {p.stem for p in (ROOT / "bench").glob("*.py")} - helpers
    assert shipped == set(TINY)


@pytest.mark.parametrize("name", sorted(TINY))
def test_benchmark_completes_and_reports(name: str, tmp_path: Path) -> None:
    figures = tmp_path / f"{name}.json"
    done = subprocess.run(
        [sys.executable, "-m", f"bench.{name}", *TINY[name], "--json", str(figures)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,  # the output says why it failed
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "vs floor (same run)" in done.stdout
    for line in RUNS_REPORTED.get(name, ()):
        assert line in done.stdout
    assert json.loads(figures.read_text())

"""``outpost demo``: the self-contained demo, an embedded broker, simulators and the gateway, run once."""

from __future__ import annotations

from tests.support.peers import outpost


def test_demo_runs_a_gas_leak_through_an_embedded_broker_and_stops():
    result = outpost("demo", "--once", timeout=90)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = [line for line in result.stdout.splitlines() if line.startswith("platform <- ")]
    assert any("station cs-0427 online" in line for line in lines)
    raised = [line for line in lines if "RAISED" in line and "kitchen-gas.gas" in line]
    cleared = [line for line in lines if "CLEARED" in line and "kitchen-gas.gas" in line]
    assert len(raised) == 1
    assert len(cleared) == 1
    assert lines.index(raised[0]) < lines.index(cleared[0])
    assert "demo stopped" in result.stdout

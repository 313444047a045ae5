"""The command line a person uses: schema and the self-contained demo."""

from __future__ import annotations

import json

from tests.support.peers import outpost


def test_schema_command_writes_one_file_per_payload(tmp_path):
    result = outpost("schema", "-o", str(tmp_path))
    assert result.returncode == 0, result.stderr
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == [
        "outpost.alarm.v1.schema.json",
        "outpost.alarms_active.v1.schema.json",
        "outpost.cmd_result.v1.schema.json",
        "outpost.device_status.v1.schema.json",
        "outpost.radio.v1.schema.json",
        "outpost.report.v1.schema.json",
        "outpost.status.v1.schema.json",
        "outpost.telemetry.v1.schema.json",
    ]
    alarm = json.loads((tmp_path / "outpost.alarm.v1.schema.json").read_text())
    assert "level" in alarm["properties"]


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

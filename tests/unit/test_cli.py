"""The command line a person uses: the payload schemas."""

from __future__ import annotations

import json

from gateway.cli import main


def test_schema_command_writes_one_file_per_payload(tmp_path):
    assert main(["schema", "-o", str(tmp_path)]) == 0
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == [
        "outpost.alarm.v1.schema.json",
        "outpost.alarms_active.v1.schema.json",
        "outpost.cmd_result.v1.schema.json",
        "outpost.device_status.v1.schema.json",
        "outpost.radio.v1.schema.json",
        "outpost.report.v1.schema.json",
        "outpost.response.v1.schema.json",
        "outpost.status.v1.schema.json",
        "outpost.telemetry.v1.schema.json",
    ]
    alarm = json.loads((tmp_path / "outpost.alarm.v1.schema.json").read_text())
    assert "level" in alarm["properties"]


def test_rollback_without_a_kept_version_says_how_to_go_back(tmp_path, capsys):
    assert main(["rollback", "--root", str(tmp_path)]) == 1
    assert "no previous version is kept" in capsys.readouterr().err

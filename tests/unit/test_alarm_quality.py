"""The alarm-quality corpus: every true event within its budget, no extra alarm; and the reports' clock."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta

from gateway.alarms.reports import CountBook, ReportClock, bus_reports
from gateway.config.alarm_policy import ReportsConfig
from gateway.contract.events import DeviceHealth, DeviceReport
from simulators.corpus.replay import DEFAULT_DIR, main, run_corpus, summary


def test_the_corpus_has_every_true_event_in_time_and_no_nuisance_alarm():
    results = run_corpus()
    assert len(results) >= 15
    failures = {r.name: r.nuisance + r.problems for r in results if not r.passed}
    assert failures == {}
    figures = summary(results)
    assert figures["detection_rate"] == 1.0
    assert figures["nuisance_alarms"] == 0
    # The corpus covers quiet traces (no alarm may come) as well as incidents.
    assert any(r.expected == 0 for r in results)
    assert sum(r.expected for r in results) >= 15


def test_the_corpus_catches_a_missing_alarm_and_a_nuisance_one(tmp_path):
    (tmp_path / "station.yaml").write_text((DEFAULT_DIR / "station.yaml").read_text())
    leak = (DEFAULT_DIR / "gas-kitchen-leak.yaml").read_text()
    (tmp_path / "silent.yaml").write_text(leak.split("expect:")[0] + "expect: []\n")
    (tmp_path / "late.yaml").write_text(leak.replace("onset: 161, within: 3", "onset: 100, within: 3"))
    results = {r.name: r for r in run_corpus(tmp_path)}
    assert len(results["silent"].nuisance) == 2
    assert results["late"].problems == ["kitchen-gas.gas second-stage after 61s, budget 3s"]


def test_the_corpus_command_prints_figures_and_writes_json(tmp_path, capsys):
    out = tmp_path / "quality.json"
    assert main(["--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "detection rate 100.0%" in printed
    assert "nuisance alarms 0" in printed
    figures = json.loads(out.read_text())
    assert figures["traces"] == figures["passed"] >= 15
    assert figures["time_to_alarm_s"]["max"] is not None


def test_periodic_and_daily_reports_are_due_on_time():
    start = datetime(2026, 6, 1, 5, 30, tzinfo=UTC)  # 13:30 in Shanghai
    clock = ReportClock(ReportsConfig(interval=3600, daily_at="14:00", timezone="Asia/Shanghai"), start)
    assert clock.due(start + timedelta(minutes=29)) == []
    assert clock.due(start + timedelta(minutes=30)) == ["daily"]
    assert clock.due(start + timedelta(minutes=60)) == ["periodic"]
    assert clock.due(start + timedelta(minutes=61)) == []
    assert clock.due(start + timedelta(hours=24, minutes=30)) == ["periodic", "daily"]


def test_counts_are_since_the_last_report_of_the_same_period():
    book, totals = CountBook(), Counter({"raised": 2})
    assert book.since_last("periodic", totals) == {"raised": 2}
    totals.update({"raised": 1, "cleared": 1})
    assert book.since_last("periodic", totals) == {"cleared": 1, "raised": 1}
    assert book.since_last("daily", totals) == {"cleared": 1, "raised": 3}


def test_a_bus_is_offline_only_when_none_of_its_devices_answers():
    devices = [
        DeviceReport(device="a", status=DeviceHealth.OFFLINE, reason="timeout", bus="lan"),
        DeviceReport(device="b", status=DeviceHealth.OK, reason=None, bus="lan"),
        DeviceReport(device="c", status=DeviceHealth.OFFLINE, reason="timeout", bus="rs485"),
    ]
    assert [(b.bus, b.status, b.devices_ok, b.devices) for b in bus_reports(devices)] == [
        ("lan", DeviceHealth.OK, 1, 2),
        ("rs485", DeviceHealth.OFFLINE, 0, 1),
    ]

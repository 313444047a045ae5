"""A station with one serial sensor, written as a technician would write it (serial integration tests)."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.support.peers import free_port


def serial_station(tmp_path: Path, broker_url: str, port: str) -> Path:
    """A station with the methane detector alone, on ``port``, as a technician would write it."""
    config = {
        "station": {"id": "cs-test", "name": "Test Station", "district": "310104"},
        "mqtt": {"brokers": [broker_url]},
        "state_dir": str(tmp_path / "state"),
        "service": {"metrics_listen": f"127.0.0.1:{free_port()}"},
        "buses": {"meter-port": {"type": "serial-line", "port": port, "timeout": "1s"}},
        "devices": {"meter": {"bus": "meter-port", "profile": "methane-laser-ascii", "poll_interval": 0.2}},
    }
    path = tmp_path / "station.yaml"
    path.write_text(yaml.safe_dump(config))
    return path

"""Station files written from YAML text, and the problems loading one reports (config unit tests)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config import ConfigError, load_config
from tests.support.peers import PROFILES

# The smallest valid station: one gas detector on one Modbus TCP bus.
VALID = """\
station:
  id: cs-0001
  name: Test
  district: "310104"
mqtt:
  brokers: ["mqtt://127.0.0.1:1883"]
profiles_dir: {profiles}
buses:
  lan:
    type: modbus-tcp
    host: 127.0.0.1
devices:
  kitchen-gas:
    bus: lan
    unit: 1
    profile: gas-detector
"""


def write(tmp_path: Path, text: str, name: str = "station.yaml") -> Path:
    """``text`` as a station file, ``{profiles}`` standing for the shipped profiles."""
    path = tmp_path / name
    path.write_text(text.replace("{profiles}", str(PROFILES)))
    return path


def problems(path: Path) -> list[str]:
    """The lines of the error a technician sees for a broken file (which must not load)."""
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return str(caught.value).splitlines()

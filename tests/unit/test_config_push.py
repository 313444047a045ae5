"""A pushed station file is refused, untouched on disk, when a reload could not apply it."""

from __future__ import annotations

import pytest

from gateway.commands.registry import CommandFailed
from gateway.config import load_config
from gateway.service.runtime import Gateway
from tests.support.engine_harness import STATION
from tests.support.station_text import write


@pytest.fixture
async def gateway(tmp_path):
    key = tmp_path / "command.key"
    key.write_text("c0ffee\n")
    extra = f"state_dir: {tmp_path / 'state'}\ncommands:\n  key_file: {key}\n"
    return Gateway(load_config(write(tmp_path, STATION + extra)))


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (("id: cs-0001", "id: cs-0002"), "station cannot change while running; restart the service"),
        (("state_dir: ", "state_dir: /elsewhere"), "state_dir cannot change while running"),
        (("unit: 1,", "unit: 999,"), "devices.kitchen-gas.unit: must be 1..247, got 999"),
    ],
    ids=["station id", "state_dir", "invalid"],
)
async def test_a_file_a_reload_cannot_apply_is_refused_and_the_file_stays(gateway, change, reason):
    path = gateway.config.path
    original = path.read_text()
    with pytest.raises(CommandFailed, match=reason):
        await gateway.config_push.push(original.replace(*change))
    assert path.read_text() == original
    assert sorted(p.name for p in path.parent.iterdir() if p.name.startswith(path.name)) == [path.name]


async def test_a_station_without_a_command_key_takes_no_pushed_file(tmp_path):
    gateway = Gateway(load_config(write(tmp_path, STATION + f"state_dir: {tmp_path / 'state'}\n")))
    with pytest.raises(CommandFailed, match="without a command key"):
        await gateway.config_push.push(gateway.config.path.read_text())

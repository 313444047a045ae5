"""``outpost check`` and ``outpost run`` on a hostile or mis-saved file: one line, at once.

``check`` exits 1; ``run`` exits 78 (EX_CONFIG), which the unit does not restart.
"""

from __future__ import annotations

import time

import pytest

from tests.support.abuse_files import (
    billion_laughs,
    binary,
    deep_block_nesting,
    deep_flow_nesting,
    dev_zero,
    directory,
    fifo,
    fifty_megabytes,
    gbk,
    recursive_alias,
)
from tests.support.peers import REPO, outpost

ABUSES = {
    "bomb": billion_laughs,
    "recursive alias": recursive_alias,
    "deep flow nesting": deep_flow_nesting,
    "deep block nesting": deep_block_nesting,
    "binary": binary,
    "gbk": gbk,
    "fifo": fifo,
    "/dev/zero": dev_zero,
    "50 MB": fifty_megabytes,
    "directory": directory,
}
SECONDS = 5.0  # the interpreter's start and imports included; the file itself is refused in milliseconds


@pytest.mark.parametrize("make", [billion_laughs, gbk], ids=["bomb", "gbk"])
def test_check_prints_one_line_and_exits_1(tmp_path, make):
    path = make(tmp_path / "station.yaml")
    result = outpost("check", str(path), timeout=30)
    assert result.returncode == 1
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith("station.yaml:")
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("abuse", ABUSES)
def test_run_ends_with_one_clean_line_and_exit_78(tmp_path, abuse):
    path = ABUSES[abuse](tmp_path / "station.yaml")
    started = time.monotonic()
    result = outpost("run", str(path), timeout=30)
    elapsed = time.monotonic() - started
    assert result.returncode == 78  # EX_CONFIG: the unit's RestartPreventExitStatus
    assert "Traceback" not in result.stderr
    [line] = result.stderr.splitlines()
    assert line.startswith(f"{path.name}:")
    assert elapsed < SECONDS


def test_the_unit_does_not_restart_on_the_configuration_exit_status():
    unit = (REPO / "systemd" / "outpost.service").read_text()
    assert "RestartPreventExitStatus=78" in unit.splitlines()

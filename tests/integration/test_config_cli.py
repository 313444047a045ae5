"""``outpost check`` as a technician runs it on a hostile or mis-saved file: one line, exit 1."""

from __future__ import annotations

import pytest

from tests.support.abuse_files import billion_laughs, gbk
from tests.support.peers import outpost


@pytest.mark.parametrize("make", [billion_laughs, gbk], ids=["bomb", "gbk"])
def test_check_prints_one_line_and_exits_1(tmp_path, make):
    path = make(tmp_path / "station.yaml")
    result = outpost("check", str(path), timeout=30)
    assert result.returncode == 1
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith("station.yaml:")
    assert "Traceback" not in result.stderr

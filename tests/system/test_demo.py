"""``outpost demo``: the self-contained demo, an embedded broker, simulators and the gateway, run once.

What it prints is for a duty officer: one line per event in ``seq`` order,
each with its time, the stage in words, the location, value and threshold;
telemetry as values; every line in one shape; in the language asked for.
"""

from __future__ import annotations

import re

import pytest

from tests.support.peers import outpost

LINE = re.compile(r"^\d\d:\d\d:\d\d (demo|simulator|platform|gateway) +\S")
PLATFORM = re.compile(r"^\d\d:\d\d:\d\d platform  #(\d+) (.*)$")
WHERE = "Kitchen, ground floor, above the stove"
WORDS = {
    "en": {
        "online": "station cs-0427 online",
        "raised": f"RAISED first stage (yellow) kitchen-gas.gas, {WHERE}: 27.5 %LEL, threshold 20 %LEL",
        "second": f"LEVEL CHANGED second stage (orange) kitchen-gas.gas, {WHERE}: 61 %LEL, threshold 50 %LEL",
        "cleared": "CLEARED second stage (orange) kitchen-gas.gas",
        "readings": "readings kitchen-gas: gas 61 %LEL",
    },
    "zh-CN": {
        "online": "站点 cs-0427 上线",
        "raised": f"报警 一级报警（黄色） kitchen-gas.gas，{WHERE}：27.5 %LEL，阈值 20 %LEL",
        "second": f"级别变化 二级报警（橙色） kitchen-gas.gas，{WHERE}：61 %LEL，阈值 50 %LEL",
        "cleared": "已恢复 二级报警（橙色） kitchen-gas.gas",
        "readings": "读数 kitchen-gas：gas 61 %LEL",
    },
}


@pytest.mark.parametrize("lang", sorted(WORDS))
def test_demo_tells_a_gas_leak_as_a_duty_officer_reads_it(lang):
    result = outpost("demo", "--once", "--lang", lang, timeout=90)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines() + result.stderr.splitlines()
    assert [line for line in lines if not LINE.match(line)] == []
    platform = [match.groups() for line in result.stdout.splitlines() if (match := PLATFORM.match(line))]
    seqs = [int(seq) for seq, _ in platform]
    assert seqs == sorted(seqs)
    texts = [text for _, text in platform]
    words = WORDS[lang]
    assert any(words["online"] in text for text in texts)
    assert any(words["readings"] in text for text in texts)
    assert not any("outpost." in text for text in texts)  # no schema names, no protocol lines
    [raised] = [i for i, text in enumerate(texts) if words["raised"] in text]
    [second] = [i for i, text in enumerate(texts) if words["second"] in text]
    [cleared] = [i for i, text in enumerate(texts) if words["cleared"] in text]
    assert raised < second < cleared
    assert "stopped" in result.stdout.splitlines()[-1]

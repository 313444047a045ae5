"""The message catalogue: every key the code uses exists, in both languages, with the same fields."""

from __future__ import annotations

import ast
from pathlib import Path
from string import Formatter

import pytest

from gateway.commands.handlers import COMMANDS
from gateway.contract.events import AlarmState, DeviceHealth, EventStatus, Transition
from gateway.contract.levels import Colour, Grade
from gateway.contract.time_quality import TimeQuality
from gateway.i18n import CATALOGUE, LOCALES, Translator

GATEWAY = Path(__file__).resolve().parents[2] / "gateway"
GROUPS = (
    "page.",
    "grade.",
    "state.",
    "health.",
    "time.",
    "transition.",
    "colour.",
    "status.",
    "link.",
    "value.",
    "event.",
    "alarm.",
    "console.",
    "walk.",
    "help.",
)


def _used_keys() -> set[str]:
    """Every string literal in the gateway's code that looks like a catalogue key."""
    keys = set()
    for path in GATEWAY.rglob("*.py"):
        if path.name == "i18n.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            text = node.value if isinstance(node, ast.Constant) else None
            if isinstance(text, str) and " " not in text and text.startswith(GROUPS) and text not in GROUPS:
                keys.add(text)
    return keys


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in Formatter().parse(text) if name is not None}


def test_every_key_the_code_uses_is_in_the_catalogue():
    used = _used_keys()
    assert used, "no catalogue key found in the code: the scan is broken"
    assert sorted(used - set(CATALOGUE)) == []


@pytest.mark.parametrize("key", sorted(CATALOGUE))
def test_every_entry_has_both_languages_with_the_same_fields(key):
    text = CATALOGUE[key]
    assert text.en.strip()
    assert text.zh.strip()
    assert _fields(text.en) == _fields(text.zh)


@pytest.mark.parametrize(
    ("group", "values"),
    [
        ("grade", Grade),
        ("state", AlarmState),
        ("health", DeviceHealth),
        ("time", TimeQuality),
        ("transition", Transition),
        ("colour", Colour),
        ("status", EventStatus),
    ],
)
def test_every_value_of_a_structured_field_has_words_in_both_languages(group, values):
    for value in values:
        for locale in LOCALES:
            assert f"{group}.{value.value}" in CATALOGUE
            assert Translator(locale).word(group, value.value)


def test_a_sentence_comes_in_the_chosen_language_and_names_pass_through():
    assert Translator("zh-CN")("page.backlog", count=3) == "3 条消息待发送"
    assert Translator("en")("page.backlog", count=3) == "3 message(s) waiting"
    assert Translator("zh-CN").word("grade", "second-stage") == "二级报警"
    assert Translator("zh-CN").word("kind", "gas") == "gas"  # no entry: shown as written


def test_every_downlink_command_has_its_help_in_both_languages():
    assert sorted(f"help.{name}" for name in COMMANDS) == sorted(
        k for k in CATALOGUE if k.startswith("help.")
    )

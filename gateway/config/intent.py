"""Values YAML read differently from what the writer most likely meant.

YAML 1.1 reads ``on``, ``off``, ``yes`` and ``no`` as booleans: where text or a
number is meant (pydantic would turn ``true`` into 1), that is an error naming
the word. A bare number in a duration is seconds; where the usual value is a
second or so, ``timeout: 400`` was probably meant as milliseconds: that is a
warning, which a unit (``400ms`` or ``400s``) answers. Where a short duration
is expected (a bus's timeout, a gap between requests), any bare number is.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel

from gateway.config.errors import ConfigIssue
from gateway.config.types import is_duration, is_short_duration
from gateway.config.yaml_source import LineMap, Path_

_ABSENT = object()
_TRUE_WORDS = {"true", "yes", "on"}
SUSPECT_SECONDS = 100  # a bare number from here up ...
SUSPECT_FACTOR = 10  # ... and this many times the field's default is suspect


def boolean_message(word: str) -> str:
    """Why a value the writer typed as ``word`` is not the text or number it looks like."""
    value = "true" if word.lower() in _TRUE_WORDS else "false"
    if word.lower() == value:
        return f"{word} is a boolean, but text or a number is expected here"
    return f"YAML reads {word} as the boolean {value}; write '{word}' in quotes if you mean the word"


def misread_booleans(model: BaseModel, lines: LineMap) -> list[ConfigIssue]:
    """Every boolean of the file that the validated ``model`` holds as something else."""
    issues = []
    for path, word in lines.booleans.items():
        value = _value_at(model, path)
        if value is not _ABSENT and not isinstance(value, bool):
            dotted = ".".join(str(p) for p in path)
            issues.append(ConfigIssue(lines.file, lines.lines[path], dotted, boolean_message(word)))
    return issues


def bare_durations(model: BaseModel, data: Any, lines: LineMap) -> list[ConfigIssue]:
    """Warnings for durations given as a bare number far above their usual value, or where short."""
    warnings = []
    for path, given in _durations(model, data, ()):
        if given < 1:  # not milliseconds, but still say which unit it is
            message = (
                f"{given:g} means {given:g} seconds; "
                f"write {given:g}s or {given * 1000:g}ms to silence this warning"
            )
        else:
            message = (
                f"{given:g} means {given:g} seconds; write {given:g}ms if milliseconds are meant "
                f"({given:g}s keeps seconds and silences this warning)"
            )
        dotted = ".".join(str(p) for p in path)
        warnings.append(ConfigIssue(lines.file, lines.line_of(path)[1], dotted, message))
    return warnings


def _value_at(value: Any, path: Path_) -> Any:
    for element in path:
        if isinstance(value, BaseModel):
            names = {field.alias or name: name for name, field in type(value).model_fields.items()}
            value = getattr(value, names[element]) if element in names else _ABSENT
        elif isinstance(value, dict):
            value = value.get(element, _ABSENT)
        elif isinstance(value, list | tuple) and isinstance(element, int) and element < len(value):
            value = value[element]
        else:
            return _ABSENT
    return value


def _durations(value: Any, given: Any, path: Path_) -> Iterator[tuple[Path_, float]]:
    """(path, number) of every suspect bare duration, walking the model and the file's data."""
    if isinstance(value, BaseModel) and isinstance(given, dict):
        for name, field in type(value).model_fields.items():
            key = field.alias or name
            if key not in given:
                continue
            bare = type(given[key]) in (int, float)
            if (bare and is_short_duration(field)) or (
                is_duration(field) and _suspect(given[key], field.default)
            ):
                yield (*path, key), given[key]
            yield from _durations(getattr(value, name), given[key], (*path, key))
    elif isinstance(value, dict) and isinstance(given, dict):
        for key, item in given.items():
            if key in value:
                yield from _durations(value[key], item, (*path, key))
    elif isinstance(value, list | tuple) and isinstance(given, list):
        for index, (item, written) in enumerate(zip(value, given, strict=False)):
            yield from _durations(item, written, (*path, index))


def _suspect(given: Any, default: Any) -> bool:
    number = type(given) in (int, float)
    usual = type(default) in (int, float) and default > 0
    return number and usual and given >= max(SUSPECT_SECONDS, SUSPECT_FACTOR * default)

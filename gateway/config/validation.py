"""Turning pydantic's validation errors into file:line: key: message issues."""

from __future__ import annotations

import types
import typing
from typing import Any, TypeVar, get_args, get_origin

from pydantic import BaseModel, ValidationError

from gateway.config.errors import ConfigIssue, unknown_key_message
from gateway.config.intent import boolean_message
from gateway.config.yaml_source import LineMap

M = TypeVar("M", bound=BaseModel)


def validate(
    model: type[M], data: Any, lines: LineMap, issues: list[ConfigIssue], base: tuple = ()
) -> M | None:
    """Validate ``data``; on failure add one issue per error and return None.

    ``base`` is the position of ``data`` in its file, for models validated from
    a part of it (a device's override of a profile's rule).
    """
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            issue = _issue(model, data, lines, base, error)
            if issue not in issues:  # a union reports one error per member
                issues.append(issue)
        return None


def _issue(model: type[BaseModel], data: Any, lines: LineMap, base: tuple, error) -> ConfigIssue:
    path = base + _yaml_path(data, error["loc"])
    if error["type"] == "union_tag_invalid":
        path = (*path, "type")
    _, line = lines.line_of(path)
    word = lines.booleans.get(path)
    if word is not None and error["type"] != "extra_forbidden":
        message = boolean_message(word)  # the word, not pydantic's "got True"
    else:
        message = _message(model, error)
    return ConfigIssue(lines.file, line, ".".join(str(p) for p in path), message)


def _yaml_path(data: Any, loc: tuple) -> tuple:
    """The part of a pydantic location that names YAML keys (union tags dropped)."""
    path: list[str | int] = []
    node = data
    for element in loc:
        in_mapping = isinstance(node, dict) and element in node
        in_list = isinstance(node, list) and isinstance(element, int) and element < len(node)
        if in_mapping or in_list:
            node = node[element]
        elif isinstance(node, dict) and node.get("type") == element:
            continue  # discriminator tag, not a key in the file
        else:
            node = None
        path.append(element)
    return tuple(path)


def _message(model: type[BaseModel], error) -> str:
    kind = error["type"]
    given = error.get("input")
    if kind == "extra_forbidden":
        return unknown_key_message(str(error["loc"][-1]), _allowed_keys(model, error["loc"][:-1]))
    if kind == "missing":
        return "required key is missing"
    if kind == "union_tag_invalid":
        return f"unknown type {error['ctx']['tag']!r} (expected {error['ctx']['expected_tags']})"
    if kind == "union_tag_not_found":
        return f"'type' is missing (expected {error['ctx']['discriminator']})"
    message = error["msg"].removeprefix("Value error, ")
    if "got" in (error.get("ctx") or {}):
        return message  # our own messages already quote the value
    if isinstance(given, str | int | float | bool) or given is None:
        return f"{message[0].lower()}{message[1:]}, got {given!r}"
    return f"{message[0].lower()}{message[1:]}"


def _allowed_keys(model: type[BaseModel], loc: tuple) -> list[str]:
    """Field names of the model found at ``loc`` below ``model`` (empty if not a model)."""
    annotation: Any = model
    for element in loc:
        annotation = _descend(annotation, element)
        if annotation is None:
            return []
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [field.alias or name for name, field in annotation.model_fields.items()]
    return []


def _unwrap(annotation: Any) -> Any:
    while True:
        origin = get_origin(annotation)
        if origin is typing.Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            members = [a for a in get_args(annotation) if a is not type(None)]
            if len(members) != 1:
                return annotation
            annotation = members[0]
        else:
            return annotation


def _descend(annotation: Any, element: Any) -> Any:
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        fields = {f.alias or name: f for name, f in annotation.model_fields.items()}
        field = fields.get(str(element))
        return field.annotation if field else None
    origin = get_origin(annotation)
    if origin is dict:
        return get_args(annotation)[1]
    if origin is list:
        return get_args(annotation)[0]
    if origin in (typing.Union, types.UnionType):
        for member in get_args(annotation):
            tag = getattr(member, "model_fields", {}).get("type")
            if tag is not None and element in get_args(tag.annotation):
                return member
    return None

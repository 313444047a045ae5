"""YAML loading that remembers where every key and value stands in the file.

PyYAML's composed node tree carries line numbers; the plain ``safe_load``
result does not. We compose once, keep a map from key path to line, and
construct plain Python data from the same tree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gateway.config.errors import ConfigError, ConfigIssue

Path_ = tuple[str | int, ...]


@dataclass
class LineMap:
    """Key path -> 1-based line of that key's value (or of the key, for mappings)."""

    file: Path
    lines: dict[Path_, int] = field(default_factory=dict)

    def line_of(self, path: Path_) -> tuple[Path_, int]:
        """The longest known prefix of ``path`` and its line.

        Pydantic locations may contain extra elements (union tags) or point at
        keys that are missing; both resolve to the nearest existing ancestor.
        """
        known: Path_ = ()
        for element in path:
            candidate = (*known, element)
            if candidate in self.lines:
                known = candidate
        return known, self.lines.get(known, 1)


def load_yaml(path: Path) -> tuple[Any, LineMap]:
    """Parse ``path``; syntax errors and duplicate keys raise :class:`ConfigError`."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([ConfigIssue(path, 0, "", f"cannot read: {exc.strerror}")]) from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else 0
        message = f"invalid YAML: {exc.problem}"
        raise ConfigError([ConfigIssue(path, line, "", message)]) from None
    line_map = LineMap(path)
    if node is None:
        return {}, line_map
    issues: list[ConfigIssue] = []
    _index(node, (), line_map, issues)
    if issues:
        raise ConfigError(issues)
    return yaml.SafeLoader(text).construct_document(node), line_map


def _index(node: yaml.Node, path: Path_, line_map: LineMap, issues: list[ConfigIssue]) -> None:
    line_map.lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value
            line = key_node.start_mark.line + 1
            if key in seen:
                dotted = ".".join(str(p) for p in (*path, key))
                message = f"duplicate key (first given on line {seen[key]})"
                issues.append(ConfigIssue(line_map.file, line, dotted, message))
            seen[key] = line
            _index(value_node, (*path, key), line_map, issues)
            # A key's own line is the better pointer when its value spans lines.
            if isinstance(value_node, yaml.MappingNode | yaml.SequenceNode):
                line_map.lines[(*path, key)] = line
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _index(item, (*path, index), line_map, issues)

"""YAML loading that remembers where every key and value stands in the file.

PyYAML's composed node tree carries line numbers; the plain ``safe_load``
result does not. We compose once, keep a map from key path to line, and
construct plain Python data from the same tree. libyaml scans and parses
(every start reads the files); a file it finds a problem in is read again by
PyYAML's own scanner and parser, whose messages the writer is shown.

A file is read by a running gateway on every reload, so loading is bounded:
the file's size (:mod:`gateway.config.files`), how deep it nests and how much
its aliases expand (a "billion laughs" file is a few lines that expand to
gigabytes). Whatever is wrong, the result is one :class:`ConfigError` line
with the file and, where there is one, the line.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor

from gateway.config.errors import ConfigError, ConfigIssue
from gateway.config.files import MAX_CONFIG_BYTES, UnreadableFile, read_bounded

Path_ = tuple[str | int, ...]

MAX_DEPTH = 32  # a station file nests about 8 levels deep
MAX_ALIAS_EXPANSION = 10_000  # values aliases may add beyond those written out

_BOOL_TAG = "tag:yaml.org,2002:bool"
_STR_TAG = "tag:yaml.org,2002:str"


@dataclass
class LineMap:
    """Key path -> 1-based line of that key's value (or of the key, for mappings).

    ``booleans`` keeps the word of every value YAML read as a boolean
    (``on``, ``no``, ``true`` ...), to tell the writer what happened when such a
    value lands where text or a number is meant.
    """

    file: Path
    lines: dict[Path_, int] = field(default_factory=dict)
    booleans: dict[Path_, str] = field(default_factory=dict)

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


class _Refused(yaml.MarkedYAMLError):
    """A file that parses but is refused for its shape (too deep, a bomb), not its syntax."""


class _Bounded(Composer, SafeConstructor):
    """Composing with limits on nesting and alias expansion, whichever parser gives the events.

    Mapping keys that YAML 1.1 would read as booleans are read as the words
    written: every key in a station file or profile is a name, so
    ``values: {on: 1, off: 0}`` means the words ``on`` and ``off``.
    """

    if TYPE_CHECKING:  # the parser's, which the loaders below pair with this

        def peek_event(self) -> yaml.Event: ...

    def _bound(self) -> None:
        self._depth = 0
        self._open_anchors: set[str] = set()
        self._sizes: dict[int, int] = {}
        self._expansion = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            self._count_alias(event)
            return super().compose_node(parent, index)
        if self._depth >= MAX_DEPTH:
            raise _Refused(problem=_too_deep(), problem_mark=event.start_mark)  # type: ignore[arg-type]
        anchor = getattr(event, "anchor", None)
        self._depth += 1
        if anchor is not None:
            self._open_anchors.add(anchor)
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1
            self._open_anchors.discard(anchor)

    def compose_mapping_node(self, anchor: Any) -> yaml.MappingNode:
        node = super().compose_mapping_node(anchor)
        for key, _ in node.value:
            # Written plain (not quoted): PyYAML's style is None, libyaml's "".
            if isinstance(key, yaml.ScalarNode) and key.tag == _BOOL_TAG and not key.style:
                key.tag = _STR_TAG
        return node

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        """Values Python cannot hold (``2024-13-01``, a 5000-digit number) are errors at their line."""
        try:
            return super().construct_object(node, deep)
        except (ValueError, OverflowError) as exc:
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read {node.value!r}: {exc}", node.start_mark
            ) from None

    def _count_alias(self, event: yaml.AliasEvent) -> None:
        if event.anchor in self._open_anchors:
            message = f"alias *{event.anchor} is inside its own anchor &{event.anchor} (a loop)"
            raise _Refused(problem=message, problem_mark=event.start_mark)  # type: ignore[arg-type]
        target = self.anchors.get(event.anchor)
        if target is None:
            return  # PyYAML reports the unknown alias
        self._expansion += self._size(target)
        if self._expansion > MAX_ALIAS_EXPANSION:
            message = (
                f"aliases expand the file to more than {MAX_ALIAS_EXPANSION} values beyond "
                f"those written out (an alias bomb?); refused at *{event.anchor}"
            )
            raise _Refused(problem=message, problem_mark=event.start_mark)  # type: ignore[arg-type]

    def _size(self, node: yaml.Node) -> int:
        """How many values ``node`` stands for once every alias in it is expanded."""
        size = self._sizes.get(id(node))
        if size is None:
            if isinstance(node, yaml.MappingNode):
                children = [child for pair in node.value for child in pair]
            elif isinstance(node, yaml.SequenceNode):
                children = node.value
            else:
                children = []
            size = 1 + sum(self._size(child) for child in children)
            self._sizes[id(node)] = size
        return size


class _BoundedLoader(_Bounded, yaml.SafeLoader):
    """PyYAML's own safe loader, bounded: what tells a writer what is wrong with a file."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self._bound()

    def fetch_flow_collection_start(self, TokenClass: type) -> None:
        """Stop ``[[[[...`` at the scanner, which slows down with each open bracket on a line."""
        if self.flow_level >= MAX_DEPTH:
            raise _Refused(problem=_too_deep(), problem_mark=self.get_mark())
        super().fetch_flow_collection_start(TokenClass)


_FastLoader: type[_Bounded] | None = None
if yaml.__with_libyaml__:  # PyYAML built with libyaml, as its wheels and Debian's package are

    class _FastLoader(_Bounded, yaml.CSafeLoader):  # type: ignore[no-redef]
        """libyaml's scanner and parser under the same composer and limits.

        Every start reads the station file and its profiles: PyYAML's own scanner took
        15 ms of a 20-detector station's start, libyaml's takes 3. A file with a problem
        is read again by :class:`_BoundedLoader`, whose words the writer is told.
        """

        def __init__(self, text: str) -> None:
            yaml.CSafeLoader.__init__(self, text)
            Composer.__init__(self)
            self._bound()


def _too_deep() -> str:
    return f"nested more than {MAX_DEPTH} levels deep; a configuration needs far fewer"


def load_yaml(path: Path) -> tuple[Any, LineMap]:
    """Parse ``path``; every problem with the file raises :class:`ConfigError`, nothing else."""
    text = _read_text(path)
    if _FastLoader is not None:
        try:
            return _parse(_FastLoader, text, path)
        except yaml.YAMLError:
            pass  # said below, as PyYAML's own scanner and parser find it
    try:
        return _parse(_BoundedLoader, text, path)  # this already rejects control characters
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        message = exc.problem if isinstance(exc, _Refused) else f"invalid YAML: {exc.problem}"
        raise ConfigError([ConfigIssue(path, line, "", str(message))]) from None
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        message = f"contains the control character #x{exc.character:04x}, which YAML does not allow"
        raise ConfigError([ConfigIssue(path, line, "", message)]) from None


def _parse(loader_class: type[_Bounded], text: str, path: Path) -> tuple[Any, LineMap]:
    """The data of ``text`` and where each key stands; a YAML problem raises ``yaml.YAMLError``."""
    loader = loader_class(text)  # type: ignore[call-arg]
    try:
        node = loader.get_single_node()
        line_map = LineMap(path)
        if node is None:
            return {}, line_map
        issues: list[ConfigIssue] = []
        _index(node, (), line_map, issues)
        if issues:
            raise ConfigError(issues)
        return loader.construct_document(node), line_map
    finally:
        loader.dispose()  # type: ignore[attr-defined]


def _read_text(path: Path) -> str:
    try:
        data = read_bounded(path, MAX_CONFIG_BYTES)
    except UnreadableFile as exc:
        raise ConfigError([ConfigIssue(path, 0, "", str(exc))]) from None
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise ConfigError([ConfigIssue(path, 1, "", "is UTF-16 text; save it as UTF-8")])
    if (nul := data.find(b"\0")) >= 0:
        line = data.count(b"\n", 0, nul) + 1
        message = f"is a binary file, not YAML text (a NUL byte at byte offset {nul})"
        raise ConfigError([ConfigIssue(path, line, "", message)])
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        message = (
            f"is not UTF-8 text (byte 0x{data[exc.start]:02x} at byte offset {exc.start}); "
            "save it as UTF-8 (a file saved as GBK, as Notepad on Chinese Windows does, "
            "must be saved again as UTF-8)"
        )
        raise ConfigError([ConfigIssue(path, line, "", message)]) from None


def _index(node: yaml.Node, path: Path_, line_map: LineMap, issues: list[ConfigIssue]) -> None:
    line_map.lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                dotted = ".".join(str(p) for p in path)
                issues.append(ConfigIssue(line_map.file, line, dotted, "a key must be a plain word"))
                continue
            key = key_node.value
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
    elif node.tag == _BOOL_TAG:
        line_map.booleans[path] = node.value

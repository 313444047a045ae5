"""The station file's two parsers: libyaml (every start) and PyYAML's own (what a writer is told).

libyaml reads every station file and profile at start because it is five
times faster; a file it finds a problem in is read again by PyYAML's own
parser. Both must give the same data and the same line for every key, and
refuse the same files, or a station would behave (or be told) differently
from what ``outpost check`` says.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from gateway.config.errors import ConfigError
from gateway.config.yaml_source import _BoundedLoader, _FastLoader, _parse, load_yaml

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted(
    path
    for folder in ("config", "simulators", "tests", "packaging", "docs")
    if (ROOT / folder).is_dir()
    for path in (ROOT / folder).rglob("*.yaml")
)

pytestmark = pytest.mark.skipif(_FastLoader is None, reason="PyYAML without libyaml: one parser only")


def both(text: str, path: Path) -> tuple[tuple, tuple]:
    fast = _parse(_FastLoader, text, path)  # type: ignore[arg-type]
    own = _parse(_BoundedLoader, text, path)
    return (fast[0], fast[1].lines, fast[1].booleans), (own[0], own[1].lines, own[1].booleans)


def test_the_repository_has_yaml_files_to_compare():
    assert any(path.parent.name == "profiles" for path in SHIPPED)
    assert len(SHIPPED) >= 20


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_shipped_file_reads_the_same_with_both_parsers(path):
    fast, own = both(path.read_text(encoding="utf-8"), path)
    assert fast == own


@pytest.mark.parametrize(
    "text",
    [
        "values: {on: 1, off: 0}\nflags: {yes: a, 'no': b}\n",  # YAML 1.1 booleans as keys: words
        "base: &b {unit: 3, scale: 0.1}\none: *b\ntwo: {<<: *b, unit: 4}\n",  # anchors, merge keys
        "text: |\n  line one\n  line two\nfolded: >\n  a\n  b\nempty:\nlist: [1, 2.5, -3, 0x1f, 1e3]\n",
        "devices:\n  kitchen-gas:\n    unit: 1\n    enabled: off\n    note: 'on'\n",
        "# only a comment\n",
        "",
    ],
)
def test_tricky_documents_read_the_same_with_both_parsers(tmp_path, text):
    fast, own = both(text, tmp_path / "station.yaml")
    assert fast == own


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("a: [1, 2\nb: 3\n", "invalid YAML"),  # an unclosed flow sequence
        ("a: 1\n a: 2\n", "invalid YAML"),  # a bad indentation
        ("[" * 2000 + "]" * 2000 + "\n", "nested more than"),
        (
            "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
            + "".join(
                f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
                for p, c in zip("abcdefgh", "bcdefghi", strict=True)
            )
            + "z: *i\n",
            "alias",
        ),  # a billion laughs
    ],
    ids=["unclosed", "indentation", "deep", "laughs"],
)
def test_a_file_with_a_problem_is_refused_with_pyyamls_words(tmp_path, text, said):
    path = tmp_path / "station.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(yaml.YAMLError):
        _parse(_FastLoader, text, path)  # type: ignore[arg-type]
    with pytest.raises(ConfigError) as refused:
        load_yaml(path)
    assert said in str(refused.value)
    assert str(refused.value).startswith("station.yaml:")

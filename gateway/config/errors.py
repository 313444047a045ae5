"""Configuration errors a technician can act on: file, line, key path, what is expected."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    file: Path
    line: int
    key: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file.name}:{self.line}" if self.line else self.file.name
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


class ConfigError(Exception):
    """One or more problems in the configuration; ``str()`` lists them one per line."""

    def __init__(self, issues: Iterable[ConfigIssue]) -> None:
        self.issues = sorted(issues, key=lambda i: (str(i.file), i.line, i.key))
        super().__init__("\n".join(str(issue) for issue in self.issues))


def unknown_key_message(key: str, allowed: Iterable[str]) -> str:
    import difflib  # only a configuration with a mistake needs it

    allowed = sorted(allowed)
    close = difflib.get_close_matches(key, allowed, n=1)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    return f"unknown key{hint} (allowed: {', '.join(allowed)})" if allowed else "unknown key"

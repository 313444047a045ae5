"""Where the files shipped with outpost are, installed or in a source checkout."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parents[1]


def bundled_config_dir() -> Path:
    """The example station and device profiles.

    A wheel carries them as ``gateway/bundled_config``; in a source checkout
    (and an editable install) they are the repository's ``config/``.
    """
    installed = _PACKAGE / "bundled_config"
    return installed if installed.is_dir() else _PACKAGE.parent / "config"


def example_station() -> Path:
    return bundled_config_dir() / "station.example.yaml"

"""What a station file names outside itself: secret and TLS files, environment variables.

The gateway reads these only when it connects, and again on every reconnect;
checked while loading, a missing file or an unset variable stops ``outpost
check`` and ``outpost run`` with one line instead of a traceback on every
reconnect, or a connection made without a password and without a word.
Relative paths are taken from the working directory, as the gateway does.
"""

from __future__ import annotations

import os
import ssl
from pathlib import Path

from gateway.config.errors import ConfigIssue
from gateway.config.files import MAX_SECRET_BYTES, UnreadableFile, read_bounded
from gateway.config.models import StationConfig, TlsConfig
from gateway.config.yaml_source import LineMap

MAX_CERTIFICATE_BYTES = 4 * 1024 * 1024  # a CA bundle may hold every public root


def check_environment(station: StationConfig, lines: LineMap) -> list[ConfigIssue]:
    """One issue per file that cannot be used and per variable that is not set."""
    issues: list[ConfigIssue] = []

    def issue(path: tuple[str, ...], message: str) -> None:
        issues.append(ConfigIssue(lines.file, lines.line_of(path)[1], ".".join(path), message))

    mqtt = station.mqtt
    secrets: dict[tuple[str, ...], Path | None] = {
        ("mqtt", "password_file"): mqtt.password_file,
        ("commands", "key_file"): station.commands.key_file,
        ("influx", "token_file"): station.influx.token_file if station.influx else None,
    }
    for path, file in secrets.items():
        if file is not None and (problem := _secret_problem(file)):
            issue(path, f"{file} {problem}")
    if mqtt.tls is not None:
        problems = {path: _certificate_problem(file) for path, file in _tls_files(mqtt.tls).items()}
        for path, problem in problems.items():
            if problem:
                issue(path, problem)
        if not any(problems.values()) and (problem := _tls_problem(mqtt.tls)):
            issue(("mqtt", "tls"), problem)
    if mqtt.password_env and mqtt.password_env not in os.environ and not mqtt.allow_missing_env:
        issue(
            ("mqtt", "password_env"),
            f"the environment variable {mqtt.password_env} is not set, so the gateway would "
            "connect without a password; set it (systemd: Environment= or EnvironmentFile=), "
            "or add 'allow_missing_env: true' if no password is intended",
        )
    return issues


def _secret_problem(file: Path) -> str | None:
    """A password, key or token is read as UTF-8 text; an empty one is never meant."""
    try:
        text = read_bounded(file, MAX_SECRET_BYTES).decode("utf-8")
    except UnreadableFile as exc:
        return str(exc)
    except UnicodeDecodeError:
        return "is not UTF-8 text"
    return None if text.strip() else "is empty"


def _tls_files(tls: TlsConfig) -> dict[tuple[str, ...], Path]:
    named = {"ca_file": tls.ca_file, "cert_file": tls.cert_file, "key_file": tls.key_file}
    return {("mqtt", "tls", key): file for key, file in named.items() if file is not None}


def _certificate_problem(file: Path) -> str | None:
    try:
        read_bounded(file, MAX_CERTIFICATE_BYTES)
    except UnreadableFile as exc:
        return f"{file} {exc}"
    return None


def _tls_problem(tls: TlsConfig) -> str | None:
    """Load the files as the MQTT link will, so a wrong or protected file shows now."""
    try:
        context = ssl.create_default_context(cafile=str(tls.ca_file) if tls.ca_file else None)
        if tls.cert_file and tls.key_file:
            # A key behind a passphrase would make OpenSSL ask for it on a terminal.
            context.load_cert_chain(str(tls.cert_file), str(tls.key_file), password=b"")
    except (ssl.SSLError, OSError, ValueError) as exc:
        return f"the TLS files cannot be loaded ({exc})"
    return None

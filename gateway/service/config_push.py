"""A station file pushed from the platform (``outpost config push``): checked, kept, applied, confirmed.

A thousand stations are configured from the district, not by a technician at
each one, so a pushed file must never strand a station: it is validated with
the loader ``outpost check`` uses and refused if a reload could not apply it
(what SIGHUP refuses too). Accepted, it replaces the station file atomically,
the file it replaces kept beside it as ``station.yaml.previous``, and it is
applied as SIGHUP applies a file. Then the station must be connected to the
broker within ``commands.config_confirm_within`` (of the configuration in
force when the push arrived); if it is not (a wrong broker address, a
password the broker refuses), the station writes the previous file back and
applies it by itself. The SHA-256 of the file in force and what became of
the last push are in the birth message and ``/healthz``.

Not covered: a restart (power cut) inside the confirmation window starts the
station on the pushed file; ``station.yaml.previous`` is there to restore by hand.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
from pathlib import Path
from typing import Literal, Protocol

from gateway.commands.registry import CommandFailed, Pushed
from gateway.config import ConfigError, LoadedConfig, load_config
from gateway.config.files import MAX_CONFIG_BYTES, UnreadableFile, read_bounded
from gateway.config.models import StationConfig
from gateway.contract.events import ConfigPushOutcome, RunningConfig, utc_now
from gateway.durable import write_durably
from gateway.uplink.mqtt import MqttUplink

log = logging.getLogger(__name__)

RESTART_ONLY = ("station", "state_dir", "outbox", "service")  # sections a reload cannot change
PREVIOUS_SUFFIX = ".previous"  # the file a push replaced, beside the station file
CANDIDATE_SUFFIX = ".pushed"  # a pushed file while it is validated (beside it: relative paths hold)


def needs_restart(old: StationConfig, new: StationConfig) -> list[str]:
    """The sections that differ and only a restart can change: a reload refuses these."""
    return [key for key in RESTART_ONLY if getattr(new, key) != getattr(old, key)]


class Station(Protocol):
    """What a push needs of the running gateway."""

    config: LoadedConfig
    uplink: MqttUplink
    reloading: asyncio.Lock  # held while a configuration is checked and applied

    async def apply(self, new: LoadedConfig) -> None:
        """Apply a validated, reloadable configuration, as SIGHUP does (the caller holds the lock)."""
        ...

    async def announce(self) -> None:
        """Publish the station status again (retained), if connected: the district sees the change."""
        ...


@dataclasses.dataclass(frozen=True)
class _File:
    text: str
    sha256: str

    @classmethod
    def of(cls, text: str) -> _File:
        return cls(text, hashlib.sha256(text.encode()).hexdigest())


class ConfigPush:
    """The station file in force, and pushes of new ones; lives as long as the gateway."""

    def __init__(self, path: Path, station: Station) -> None:
        self._path = path
        self._station = station
        self._running = self._read()
        self._last: ConfigPushOutcome | None = None
        self._confirmed: asyncio.Event | None = None  # while a pushed file awaits the broker

    def state(self) -> RunningConfig:
        """What the birth message and ``/healthz`` say about the configuration."""
        return RunningConfig(sha256=self._running.sha256, push=self._last)

    def reloaded(self) -> None:
        """The file was re-read by a SIGHUP reload: it is the one in force now."""
        self._running = self._read()

    def connected(self) -> None:
        """A session with the broker has started: a pushed file waiting for one is confirmed."""
        if self._confirmed is not None and not self._confirmed.is_set():
            self._settle("applied")
            self._confirmed.set()

    async def push(self, text: str) -> Pushed:
        """Validate ``text`` and make it the station file; with the job that applies it.

        The job is to run once the answer is sent: applying new MQTT settings ends
        the session the answer goes through. Raises :class:`CommandFailed` saying why not.
        """
        commands = self._station.config.station.commands
        if commands.key_file is None:
            raise CommandFailed("a station without a command key (commands.key_file) takes no pushed file")
        if self._confirmed is not None:
            raise CommandFailed("the file pushed before is still waiting for the broker; push again after")
        pushed = _File.of(text)
        async with self._station.reloading:
            new = self._validated(pushed)
            try:
                write_durably(self._path.with_name(self._path.name + PREVIOUS_SUFFIX), self._running.text)
                write_durably(self._path, pushed.text)
            except OSError as exc:
                raise CommandFailed(f"cannot write {self._path}: {exc.strerror}") from None
        within = commands.config_confirm_within
        self._confirmed = asyncio.Event()  # from now on a second push waits for this one
        log.warning(
            "station file %s pushed (was %s): applying", pushed.sha256[:12], self._running.sha256[:12]
        )
        return Pushed(pushed.sha256, self._running.sha256, within, self._apply(new, pushed, within))

    def _validated(self, pushed: _File) -> LoadedConfig:
        """The pushed file loaded as the station file would be, or CommandFailed with the loader's words."""
        candidate = self._path.with_name(self._path.name + CANDIDATE_SUFFIX)
        try:
            candidate.write_text(pushed.text, encoding="utf-8")
            new = load_config(candidate)
        except OSError as exc:
            raise CommandFailed(f"cannot write {candidate}: {exc.strerror}") from None
        except ConfigError as exc:
            issues = [
                dataclasses.replace(i, file=self._path) if i.file == candidate else i for i in exc.issues
            ]
            raise CommandFailed(str(ConfigError(issues))) from None
        finally:
            candidate.unlink(missing_ok=True)
        if fixed := needs_restart(self._station.config.station, new.station):
            raise CommandFailed(f"{', '.join(fixed)} cannot change while running; restart the service")
        return dataclasses.replace(new, path=self._path)

    async def _apply(self, new: LoadedConfig, pushed: _File, within: float) -> None:
        """Apply the pushed file, wait for the broker, roll back if it does not answer in time."""
        assert self._confirmed is not None
        previous, self._running = self._running, pushed
        self._settle("confirming")
        try:
            async with self._station.reloading:
                await self._station.apply(new)
            if self._station.uplink.connected:  # the session was kept: nothing to wait for
                self.connected()
                await self._station.announce()
            async with asyncio.timeout(within):
                await self._confirmed.wait()
            log.warning("pushed station file %s applied: the broker is reached", pushed.sha256[:12])
        except TimeoutError:
            await self._roll_back(previous, within)
        finally:
            self._confirmed = None

    async def _roll_back(self, previous: _File, within: float) -> None:
        error = self._station.uplink.last_error
        reason = f"no broker connection within {within:g} s" + (f" ({error})" if error else "")
        log.error("pushed station file %s rolled back: %s", self._running.sha256[:12], reason)
        self._confirmed = None  # the previous file's session must not confirm the pushed one
        self._settle("rolled back", reason)
        async with self._station.reloading:
            write_durably(self._path, previous.text)
            try:
                old = load_config(self._path)
            except ConfigError as exc:  # it ran until just now: only a changed profile does this
                log.error("the previous station file no longer loads; the pushed one stays:\n%s", exc)
                return
            await self._station.apply(old)
            self._running = previous  # before the next await: the reconnecting birth names it

    def _settle(
        self, outcome: Literal["confirming", "applied", "rolled back"], reason: str | None = None
    ) -> None:
        self._last = ConfigPushOutcome(
            sha256=self._running.sha256, outcome=outcome, reason=reason, at=utc_now()
        )

    def _read(self) -> _File:
        """The station file as it is on disk (it was just loaded, so it is bounded UTF-8 text)."""
        try:
            data = read_bounded(self._path, MAX_CONFIG_BYTES)
        except UnreadableFile as exc:
            log.error("station file %s: %s; its hash is of nothing", self._path, exc)
            data = b""
        return _File.of(data.decode("utf-8", errors="replace"))

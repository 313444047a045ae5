"""The data path, in the order an alarm travels: driver -> alarm engine -> outbox -> uplink.

A bus poller hands every poll outcome to :meth:`Publisher.on_poll`, a radio
bridge every radio event to :meth:`Publisher.on_radio`. The engine turns them
into events; :meth:`Publisher.publish` submits those, with the alarm state
the step left, as one commit request, right after the step and without an
await in between: commits follow the engine's steps (and ``seq``) whatever
the number of buses, and a crash drops a suffix of both events and state,
never one without the other. Nothing here waits for the disk but a radio
press, whose acknowledgement means "committed", and a bus whose poll raised
an alarm transition: its next poll waits (briefly, bounded) for that commit,
so the alarm goes out from an idle event loop. The transition log line and
the retained active-alarms snapshot follow the commit; the uplink drains
the outbox. The retained station status is built here too. Whoever acts on
events at the station (the local response) hears them through ``committed``,
once they are committed or held, whether the uplink is up or not.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from drivers.observation import PollOutcome
from gateway import __version__
from gateway.alarms.engine import AlarmEngine
from gateway.alarms.storage_fault import storage_fault
from gateway.config import LoadedConfig
from gateway.contract.events import (
    ActiveAlarmsSnapshot,
    AlarmEvent,
    DeviceSummary,
    Envelope,
    StationStatusEvent,
)
from gateway.contract.stamp import Stamper
from gateway.contract.telemetry_json import telemetry_json
from gateway.outbox import Message, Outbox
from gateway.service.boot import Boot
from gateway.service.metrics import Metrics
from gateway.service.systemd import Progress
from gateway.uplink.mqtt import MqttUplink
from gateway.uplink.telemetry import Latest, ReportOnChange
from gateway.uplink.topics import message_for, telemetry_message

if TYPE_CHECKING:
    from drivers.radio.events import RadioEvent
    from gateway.radio.alarms import RadioAlarms
    from gateway.uplink.influx import InfluxWriter

log = logging.getLogger(__name__)

ALARM_COMMIT_WAIT = 0.05  # seconds a bus waits at most, after an alarm, for the alarm's commit


class Publisher:
    """One configuration's data path; a reload builds a new one around the same outbox."""

    def __init__(
        self,
        config: LoadedConfig,
        *,
        engine: AlarmEngine,
        radio_alarms: RadioAlarms | None,
        stamp: Stamper,
        boot: Boot,
        outbox: Outbox,
        uplink: MqttUplink,
        metrics: Metrics,
        progress: Progress,
        committed: Callable[[Sequence[Envelope]], None] | None = None,
    ) -> None:
        station = config.station
        self._committed = committed
        self._config = config
        self._engine = engine
        self._radio_alarms = radio_alarms
        self._stamp = stamp
        self._boot = boot
        self._outbox = outbox
        self._uplink = uplink
        self._metrics = metrics
        self._progress = progress
        self._prefix = station.topic_prefix
        self._snapshots: set[asyncio.Future[bool]] = set()  # retained snapshots being published
        # To build and publish on the next turn of the loop.
        self._newest_snapshot: Callable[[], ActiveAlarmsSnapshot] | None = None
        self.influx: InfluxWriter | None = None
        if station.influx:  # only then the InfluxDB client: a station without it never imports it
            from gateway.uplink.influx import InfluxWriter

            self.influx = InfluxWriter(station.influx, station.station.id)
        self._telemetry = ReportOnChange(
            {name: config.profile_of(name).deadbands() for name in station.devices},
            station.telemetry_interval,
        )
        # Per poll, the device's metric children and bus beat: looked up once, not on every poll.
        self._poll_counters: dict[tuple[str, str], Any] = {}
        self._bus_of: dict[str, tuple[str, Any]] = {}  # device -> its bus's beat and busy counter

    # -- 1. inputs: a driver's poll outcome, a radio's event -----------------------------
    async def on_poll(self, outcome: PollOutcome) -> None:
        """Every poll outcome of every bus goes through here, in arrival order."""
        bus = self._bus_of.get(outcome.device)
        if bus is None:
            name = self._config.station.devices[outcome.device].bus
            bus = self._bus_of[outcome.device] = (f"bus {name}", self._metrics.bus_busy.labels(name))
        beat, busy = bus
        self._progress.beat(beat)
        result = outcome.fault.category.value if outcome.fault is not None else "ok"
        polls = self._poll_counters.get((outcome.device, result))
        if polls is None:
            polls = self._poll_counters[outcome.device, result] = self._metrics.polls.labels(
                outcome.device, result
            )
        polls.inc()
        busy.inc(outcome.busy_seconds)
        events = self._engine.handle(outcome)
        committed = self.publish(events)
        if any(isinstance(event, AlarmEvent) for event in events):
            # Alarm first out: the rest of this poll (its telemetry, the bus's next poll) waits
            # for the alarm's commit, so the event loop is free when it lands and hands the alarm
            # to the MQTT client at once, and the writer has the interpreter to itself meanwhile.
            # Bounded: a disk slower than that delays the bus no further.
            await asyncio.wait([committed], timeout=ALARM_COMMIT_WAIT)
        # The telemetry after the step's submit: an alarm's commit does not wait for it to be built.
        if outcome.ok:
            if self.influx is not None:
                self.influx.add(outcome)
            if self._telemetry.due(outcome.device, outcome.observations):
                self.publish((), [self._telemetry_message(outcome)])

    async def on_radio(self, event: RadioEvent) -> None:
        """Every radio event; returns once what it caused is committed, raises if it is not.

        The bridge acknowledges a press to the radio only after this returns, so an
        acknowledged press is on disk, and a press the disk refused is not
        acknowledged (the radio repeats it; the alarm, held in memory, still goes out).
        An alarm the outbox refused outright (its hard cap reached) is not held:
        the press is forgotten as a copy, so its repeat is announced once it fits.
        """
        assert self._radio_alarms is not None
        refused = self._outbox.refused_alarms
        committed = self.publish(self._radio_alarms.handle(event))
        if self._outbox.refused_alarms > refused:
            self._radio_alarms.forget(event)
            self.publish([])  # the forgetting, stored right behind the step
        if not await committed:
            from drivers.radio.events import NotKept  # a station without radios never loads them

            raise NotKept(f"not stored: {self._outbox.storage_error or 'refused'}")

    def storage_changed(self, error: str | None) -> None:
        """The disk refuses writes (``error``) or takes them again (None): the storage fault alarm."""
        self.publish(storage_fault(self._engine, self._config.station.station.location, error))

    # -- 2. into the outbox, then the uplink ----------------------------------------------
    def publish(self, events: Sequence[Envelope], made: Sequence[Message] = ()) -> asyncio.Future[bool]:
        """Submit one engine step's events with the alarm state it left; call right after the step.

        ``made`` are messages of the step made without a model (telemetry),
        stamped after ``events``. The future is True once committed, False if
        held in memory (the disk refuses writes). Once it is settled, each
        alarm transition is logged and the retained snapshot (taken now,
        matching the committed state; built only then, and only the newest of
        a commit) goes out.
        """
        state = self._engine.take_state()
        if not events and not made and state is None:  # nothing to store: settled at once
            done = asyncio.get_running_loop().create_future()
            done.set_result(True)
            return done
        messages = [message_for(event, self._prefix) for event in events]
        committed = self._outbox.submit([*messages, *made] if made else messages, state)
        # Taken after the submit, so the alarm's commit is not kept waiting for it; nothing has
        # run in between, so it is still the state this step left.
        alarms = [event for event in events if isinstance(event, AlarmEvent)]
        # A raise a flood holds back has no event, yet the snapshot lists every alarm throughout.
        listed_changed = bool(alarms) or self._engine.take_unannounced()
        snapshot = self._snapshot_as_now() if listed_changed else None
        for event in alarms:
            self._metrics.alarm_events.labels(event.level.value, event.transition.value).inc()
        if snapshot is not None:
            committed.add_done_callback(lambda done: self._announce(alarms, snapshot, done.result()))
        if self._committed is not None and events:
            hook, step = self._committed, tuple(events)
            committed.add_done_callback(lambda _done: hook(step))
        return committed

    async def publish_committed(self, events: Sequence[Envelope]) -> None:
        """:meth:`publish`, returning once committed or held (an operator's command answers then)."""
        await self.publish(events)

    def _announce(
        self, alarms: list[AlarmEvent], snapshot: Callable[[], ActiveAlarmsSnapshot], stored: bool
    ) -> None:
        """After the commit: the transitions in the log, the new snapshot to the platform."""
        note = "" if stored else " (not yet stored)"
        for event in alarms:
            log.warning(
                "%s [%s/%s] %s%s",
                event.transition.value.upper(),
                event.level,
                event.grade,
                event.message,
                note,
            )
        # Steps committed together settle in one turn: only the last one's snapshot goes out, so a
        # subscriber is not shown the older ones after the events that outdate them.
        if self._newest_snapshot is None:
            asyncio.get_running_loop().call_soon(self._publish_snapshot)
        self._newest_snapshot = snapshot

    def _publish_snapshot(self) -> None:
        snapshot, self._newest_snapshot = self._newest_snapshot, None
        assert snapshot is not None
        task = asyncio.ensure_future(self._uplink.publish_now(message_for(snapshot(), self._prefix)))
        self._snapshots.add(task)
        task.add_done_callback(self._snapshots.discard)

    # -- 3. the retained state the uplink publishes on every connect ----------------------
    def station_status(self, state: str) -> Message:
        """The birth (``online``) or Last Will (``offline``) message: who this station is, which boot."""
        info = self._config.station.station
        devices = [
            DeviceSummary(id=name, profile=d.profile, bus=d.bus, location=d.location)
            for name, d in self._config.station.devices.items()
        ]
        event = StationStatusEvent(
            state=state,  # type: ignore[arg-type]
            version=__version__,
            boot_id=self._boot.id,
            boot_count=self._boot.count,
            started_at=self._boot.started_at,
            name=info.name,
            district=info.district,
            devices=devices,
            **self._stamp(),
        )
        return message_for(event, self._prefix)

    def snapshot(self) -> Message:
        """The active alarms as they stand: what a platform that just connected needs first."""
        return message_for(self._snapshot_as_now()(), self._prefix)

    def _snapshot_as_now(self) -> Callable[[], ActiveAlarmsSnapshot]:
        """The snapshot stamped now (its ``seq`` places it among the events), built when called."""
        alarms, stamp = self._engine.active_alarms_as_now(), self._stamp()
        return lambda: ActiveAlarmsSnapshot(alarms=alarms(), **stamp)

    def latest_readings(self, device: str) -> dict[str, Latest]:
        """Every point's latest value, as telemetry would send it (``/values`` serves them)."""
        return self._telemetry.latest(device)

    def _telemetry_message(self, outcome: PollOutcome) -> Message:
        """Every point's latest value, each with its age: not only what this poll read.

        Written as ``TelemetryEvent`` would be, without building one (:mod:`gateway.contract.telemetry_json`).
        """
        device = outcome.device
        payload = telemetry_json(self._stamp(), device, self._telemetry.latest(device), outcome.observed_at)
        return telemetry_message(self._prefix, device, payload)

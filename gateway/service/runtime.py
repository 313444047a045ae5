"""Wires a loaded configuration into running parts: buses, alarm engine, outbox, uplink, commands."""

from __future__ import annotations

import asyncio
import logging
import signal
import time
import uuid
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, Protocol

from drivers.modbus.poller import ModbusPoller, WriteFailed
from drivers.modbus.registers import RegisterType
from drivers.observation import BusPoller, PollOutcome
from drivers.radio.events import RadioEvent
from gateway import __version__
from gateway.alarms.engine import AlarmEngine, CommandRefused
from gateway.alarms.reports import CountBook, ReportClock, bus_reports
from gateway.alarms.store import AlarmStore
from gateway.buses import build_poller
from gateway.commands.auth import Verifier, read_key
from gateway.commands.processor import (
    ActuateArgs,
    AlarmArgs,
    BroadcastArgs,
    CommandFailed,
    CommandProcessor,
    ExerciseArgs,
    ShelveArgs,
)
from gateway.config import ConfigError, LoadedConfig, load_config
from gateway.contract.events import (
    ActiveAlarmsSnapshot,
    AlarmEvent,
    CommandResult,
    DeviceReport,
    DeviceSummary,
    Envelope,
    RadioDetails,
    RadioTraffic,
    Reading,
    StationReport,
    StationStatusEvent,
    TelemetryEvent,
    utc_now,
)
from gateway.contract.ids import SequenceStore
from gateway.contract.stamp import Stamper
from gateway.durable import write_durably
from gateway.outbox import Message, Outbox
from gateway.radio.alarms import SOS_KIND, RadioAlarms
from gateway.radio.hub import RadioHub
from gateway.radio.registry import RadioRegistry
from gateway.service.metrics import Metrics, serve
from gateway.service.supervisor import supervise
from gateway.service.systemd import Notifier, Progress, feed_watchdog
from gateway.uplink.influx import InfluxWriter
from gateway.uplink.mqtt import Incoming, MqttUplink
from gateway.uplink.telemetry import ReportOnChange
from gateway.uplink.topics import command_topics, message_for, result_topic

log = logging.getLogger(__name__)


class RadioBroadcaster(Protocol):
    """What a radio bridge offers the ``broadcast`` command."""

    async def broadcast(self, text: str, group: str | None) -> dict[str, Any]: ...


def next_boot_count(path: Path) -> int:
    """How many times the gateway has started here, this start included."""
    try:
        count = int(path.read_text().strip()) + 1
    except (FileNotFoundError, ValueError):
        count = 1
    write_durably(path, f"{count}\n")
    return count


class Gateway:
    """One station's gateway: everything ``outpost run`` starts. Build it inside the event loop."""

    def __init__(self, config: LoadedConfig, radio: RadioBroadcaster | None = None) -> None:
        self.config = config
        self._radio_given = radio
        self.radio: RadioBroadcaster | None = radio
        self.radio_hub: RadioHub | None = None
        self.radio_alarms: RadioAlarms | None = None
        self._background: set[asyncio.Task] = set()
        station = config.station
        station.state_dir.mkdir(parents=True, exist_ok=True)
        self.boot_id = str(uuid.uuid4())
        self.boot_count = next_boot_count(station.state_dir / "boot_count")
        self.started_at = utc_now()
        self.started_monotonic = time.monotonic()
        self.prefix = station.topic_prefix
        self.stamp = Stamper(station.station.id, SequenceStore(station.state_dir / "seq"))
        self.outbox = Outbox(
            station.state_dir / "outbox.sqlite3",
            max_bytes=int(station.outbox.max_bytes),
            alarm_hard_cap_bytes=int(station.outbox.alarm_hard_cap_bytes),
        )
        self.metrics = Metrics()
        self.progress = Progress()
        self.notifier = Notifier()
        self._counts = CountBook()
        self._configure(config)
        self.uplink = self._make_uplink()
        self._group: asyncio.TaskGroup | None = None
        self._field_tasks: list[asyncio.Task] = []
        self._uplink_task: asyncio.Task | None = None

    def _configure(self, config: LoadedConfig) -> None:
        """Build the parts a reload replaces: alarm engine, buses, telemetry, command checks.

        The engine restores its alarms from ``state_dir``, so a reload neither
        forgets an active alarm nor raises it again.
        """
        station = config.station
        self.config = config
        self.engine = AlarmEngine(config, self.stamp, store=AlarmStore(station.state_dir / "alarms.json"))
        self.report_clock = ReportClock(station.reports, self.started_at)
        self.pollers: dict[str, BusPoller] = {
            name: build_poller(config, name, bus) for name, bus in station.buses.items()
        }
        self.influx = InfluxWriter(station.influx, station.station.id) if station.influx else None
        self.telemetry = ReportOnChange(
            {name: config.profile_of(name).deadbands() for name in station.devices},
            station.telemetry_interval,
        )
        verifier = None
        if station.commands.key_file is not None:
            verifier = Verifier(
                read_key(station.commands.key_file), station.station.id, station.commands.max_clock_skew
            )
        self.commands = CommandProcessor(
            verifier=verifier, allow_unsigned=station.commands.allow_unsigned, target=self
        )
        self._configure_radios(config)

    def _configure_radios(self, config: LoadedConfig) -> None:
        """Radio bridges, the registry and press handling, when the station has a ``radios`` section."""
        radios = config.station.radios
        if radios is None:
            self.radio_hub = self.radio_alarms = None
            self.radio = self._radio_given
            return
        registry = RadioRegistry(radios)
        self.radio_hub = RadioHub(radios, registry, config.radio_protocols)
        self.radio_alarms = RadioAlarms(radios, self.engine, registry, self.stamp)
        self.radio = self._radio_given or self.radio_hub

    def _make_uplink(self) -> MqttUplink:
        station = self.config.station
        return MqttUplink(
            station.mqtt,
            client_id=station.mqtt.client_id or f"outpost-{station.station.id}",
            outbox=self.outbox,
            retained_state=lambda: [self._station_status("online"), self._snapshot()],
            will=lambda: self._station_status("offline"),
            command_topic=command_topics(self.prefix),
            on_command=self._on_command,
            window=station.outbox.window,
        )

    # -- what gets published ------------------------------------------------------
    def _station_status(self, state: str) -> Message:
        info = self.config.station.station
        devices = [
            DeviceSummary(id=name, profile=d.profile, bus=d.bus, location=d.location)
            for name, d in self.config.station.devices.items()
        ]
        event = StationStatusEvent(
            state=state,  # type: ignore[arg-type]
            version=__version__,
            boot_id=self.boot_id,
            boot_count=self.boot_count,
            started_at=self.started_at,
            name=info.name,
            district=info.district,
            devices=devices,
            **self.stamp(),
        )
        return message_for(event, self.prefix)

    def _snapshot(self) -> Message:
        snapshot = ActiveAlarmsSnapshot(alarms=self.engine.active_alarms(), **self.stamp())
        return message_for(snapshot, self.prefix)

    def report(self, period: str = "requested") -> StationReport:
        """The situation now; for ``periodic``/``daily``, with the counts since the last one of its kind."""
        active = self.engine.active_alarms()
        devices = [
            DeviceReport(device=name, status=status, reason=reason, bus=self.config.station.devices[name].bus)
            for name, (status, reason) in self.engine.device_health().items()
        ]
        since = self.report_clock.last.get(period, self.started_at)
        counts = self._counts.since_last(period, self.engine.counts)
        report = StationReport(
            period=period,  # type: ignore[arg-type]
            since=since,
            all_clear=not active,
            exercise=self.engine.exercise,
            buses=bus_reports(devices),
            devices=devices,
            active_alarms=active,
            counts=counts,
            outbox=self.outbox.stats().as_dict(),
            **self.stamp(),
        )
        self.report_clock.last[period] = report.created_at
        return report

    async def publish(self, events: list[Envelope]) -> None:
        """Into the outbox, in order; a changed alarm picture also refreshes the retained snapshot."""
        alarms_changed = False
        for event in events:
            if isinstance(event, AlarmEvent):
                alarms_changed = True
                self.metrics.alarm_events.labels(event.level.value, event.transition.value).inc()
                log.warning(
                    "%s [%s/%s] %s", event.transition.value.upper(), event.level, event.grade, event.message
                )
            await self.outbox.put(message_for(event, self.prefix))
        if alarms_changed:
            self.engine.save()  # only once the events are committed: a crash between re-raises, never loses
            await self.uplink.publish_now(self._snapshot())

    # -- inputs -----------------------------------------------------------------------
    async def on_poll(self, outcome: PollOutcome) -> None:
        """Every poll outcome of every bus goes through here, in arrival order."""
        bus = self.config.station.devices[outcome.device].bus
        self.progress.beat(f"bus {bus}")
        self.metrics.polls.labels(outcome.device, "ok" if outcome.ok else outcome.fault.category.value).inc()
        self.metrics.bus_busy.labels(bus).inc(outcome.busy_seconds)
        events = self.engine.handle(outcome)
        if outcome.ok:
            if self.influx is not None:
                self.influx.add(outcome)
            if self.telemetry.due(outcome.device, {o.point: o.value for o in outcome.observations}):
                events.append(self._telemetry(outcome))
        await self.publish(events)

    async def on_radio(self, event: RadioEvent) -> None:
        """Every radio event; returns once what it caused is in the outbox.

        The bridge acknowledges a press to the radio only after this returns, so a
        press the gateway could not keep is never acknowledged (the radio repeats it).
        """
        assert self.radio_alarms is not None
        await self.publish(self.radio_alarms.handle(event))

    def _in_background(self, job: Coroutine[Any, Any, None]) -> None:
        """Work that outlives the command that started it (answers to radios wait for their acks)."""

        async def logged() -> None:
            try:
                await job
            except Exception:
                log.exception("background work failed")

        task = asyncio.ensure_future(logged())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _answer_radio(self, radio: RadioDetails) -> None:
        """The acknowledgement text to the radio that pressed; the outcome goes to the platform."""
        assert self.radio_hub is not None
        text = self.radio_hub.config.ack_text
        delivery = await self.radio_hub.send(radio.radio, text, bridge=radio.bridge)
        traffic = RadioTraffic(
            event="delivery", text=text, deliveries={delivery.radio: delivery.as_dict()}, **self.stamp()
        )
        await self.publish([traffic])

    async def _on_command(self, incoming: Incoming) -> None:
        name = incoming.topic.rsplit("/", 1)[-1]
        if name == "result":
            return  # our own answers share the command topic level
        if name == "broadcast":  # waits for radios' acknowledgements: never hold up other commands
            self._in_background(self._answer_command(name, incoming))
            return
        await self._answer_command(name, incoming)

    async def _answer_command(self, name: str, incoming: Incoming) -> None:
        command_id, (ok, detail) = await self.commands.process(name, incoming.payload)
        self.metrics.commands.labels("done" if ok else "refused").inc()
        result = CommandResult(
            command=name[:64],
            command_id=command_id,
            ok=ok,
            error=None if ok else str(detail),
            result=detail if ok else {},  # type: ignore[arg-type]
            **self.stamp(),
        )
        await self.uplink.reply(incoming, result_topic(self.prefix), result.to_json())

    async def execute(self, name: str, args: Any) -> dict[str, Any]:
        """Carry out an authenticated, validated command."""
        try:
            return await self._execute(name, args)
        except CommandRefused as exc:
            raise CommandFailed(str(exc)) from None

    async def _execute(self, name: str, args: Any) -> dict[str, Any]:
        match name, args:
            case "ping", _:
                uptime = round(time.monotonic() - self.started_monotonic, 1)
                return {"pong": True, "version": __version__, "boot_id": self.boot_id, "uptime_s": uptime}
            case "ack", AlarmArgs(alarm_key=key, by=by):
                events = self.engine.acknowledge(key, by)
                await self.publish(events)
                pressed = [e.radio for e in events if isinstance(e, AlarmEvent) and e.kind == SOS_KIND]
                for radio in filter(None, pressed):
                    self._in_background(self._answer_radio(radio))
                if pressed:
                    return {"answering_radios": [r.radio for r in pressed if r]}
            case "shelve", ShelveArgs(alarm_key=key, by=by, minutes=minutes):
                await self.publish(self.engine.shelve(key, minutes * 60, by))
            case "unshelve", AlarmArgs(alarm_key=key, by=by):
                await self.publish(self.engine.unshelve(key, by))
            case "reset", AlarmArgs(alarm_key=key, by=by):
                await self.publish(self.engine.reset(key, by))
            case "exercise", ExerciseArgs(on=on, device=device):
                self.engine.set_exercise(on, device)
                self.engine.save()
                log.warning("exercise mode %s for %s", "ON" if on else "off", device or "the whole station")
                return {"exercise": on, "device": device}
            case "report", _:
                report = self.report()
                await self.publish([report])
                return {"report_id": report.id, "all_clear": report.all_clear}
            case "broadcast", BroadcastArgs(text=text, group=group):
                if self.radio is None:
                    raise CommandFailed("no radio bridge is configured at this station")
                return await self.radio.broadcast(text, group)
            case "actuate", ActuateArgs(actuator=actuator, value=value):
                return await self._actuate(actuator, value)
        return {"alarms": [a.model_dump(mode="json") for a in self.engine.active_alarms()]}

    async def _actuate(self, name: str, value: str) -> dict[str, Any]:
        actuator = self.config.station.actuators.get(name)
        if actuator is None:
            known = ", ".join(self.config.station.actuators) or "none"
            raise CommandFailed(f"no actuator {name!r} (declared: {known})")
        if value not in actuator.values:
            raise CommandFailed(f"{name} accepts only {', '.join(actuator.values)}")
        device = self.config.station.devices[actuator.device]
        poller = self.pollers[device.bus]
        if not isinstance(poller, ModbusPoller):
            raise CommandFailed(f"{name}: device {actuator.device} is not on a Modbus bus")
        register = RegisterType.COIL if actuator.register_type == "coil" else RegisterType.HOLDING
        try:
            await poller.write(device.unit, register, actuator.address, actuator.values[value])
        except WriteFailed as exc:
            raise CommandFailed(f"{name}: {exc}") from None
        log.warning("actuator %s set to %s", name, value)
        return {"actuator": name, "value": value}

    # -- health -------------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        """What ``/healthz`` and ``outpost status`` show."""
        devices = {
            name: {"status": status.value if status else "unknown", "reason": reason}
            for name, (status, reason) in self.engine.device_health().items()
        }
        stalled = self.progress.stalled(self.config.station.service.stall_after)
        if self._uplink_stuck():
            stalled.append("mqtt uplink")
        outbox = self.outbox.stats().as_dict()
        return {
            "healthy": not stalled,
            "station": self.config.station.station.id,
            "version": __version__,
            "boot_id": self.boot_id,
            "uptime_s": round(time.monotonic() - self.started_monotonic, 1),
            "mqtt": {
                "connected": self.uplink.connected,
                "published": self.uplink.published,
                "last_error": self.uplink.last_error,
            },
            "stalled": stalled,
            "devices": devices,
            "alarms_active": [a.alarm_key for a in self.engine.active_alarms()],
            "exercise": self.engine.exercise,
            "outbox": outbox,
            "radios": self.radio_hub.health() if self.radio_hub is not None else {},
        }

    def status_line(self) -> str:
        health = self.engine.device_health().values()
        ok = sum(1 for status, _ in health if status is not None and status.value == "ok")
        stats = self.outbox.stats()
        return (
            f"{ok}/{len(health)} devices ok, {len(self.engine.active_alarms())} alarm(s) active, "
            f"backlog {stats.backlog}, mqtt {'up' if self.uplink.connected else 'down'}"
        )

    def _uplink_stuck(self) -> bool:
        since = self.uplink.waiting_since
        return since is not None and time.monotonic() - since > self.config.station.service.stall_after

    def _update_gauges(self) -> None:
        stats = self.outbox.stats()
        self.metrics.outbox_depth.set(stats.backlog)
        self.metrics.outbox_bytes.set(stats.bytes_used)
        self.metrics.outbox_headroom.set(
            stats.headroom_hours if stats.headroom_hours is not None else float("inf")
        )
        self.metrics.mqtt_connected.set(1 if self.uplink.connected else 0)
        self.metrics.alarms_active.set(len(self.engine.active_alarms()))
        if self.uplink.last_publish_monotonic is not None:
            age = time.monotonic() - self.uplink.last_publish_monotonic
            self.metrics.last_publish.set(time.time() - age)

    # -- periodic work ------------------------------------------------------------------
    async def _every_second(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            await self.publish(self.engine.tick())
            await self.publish([self.report(period) for period in self.report_clock.due(utc_now())])

    def _telemetry(self, outcome: PollOutcome) -> TelemetryEvent:
        readings = {o.point: Reading(value=o.value, unit=o.unit) for o in outcome.observations}
        return TelemetryEvent(
            device=outcome.device, observed_at=outcome.observed_at, readings=readings, **self.stamp()
        )

    def _start_field(self, group: asyncio.TaskGroup) -> None:
        """One task per bus (and the InfluxDB writer): what a reload restarts."""
        self._field_tasks = []
        for name, poller in self.pollers.items():
            self.progress.watch(f"bus {name}")
            self._field_tasks.append(
                group.create_task(supervise(f"bus {name}", lambda p=poller: p.run(self.on_poll)))
            )
        if self.influx is not None:
            self._field_tasks.append(group.create_task(supervise("influxdb", self.influx.run)))
        if self.radio_hub is not None:
            for name, job in self.radio_hub.jobs(self.on_radio).items():
                self._field_tasks.append(group.create_task(supervise(f"radio {name}", job)))

    async def reload(self) -> None:
        """Re-read the configuration; apply it if valid, keep the running one if not.

        Queued messages stay in the outbox; the MQTT session is kept unless the
        ``mqtt`` section changed. Alarm states are the engine's to restore.
        """
        try:
            new = load_config(self.config.path)
        except ConfigError as exc:
            log.error("reload refused, the running configuration stays:\n%s", exc)
            return
        old = self.config.station
        needs_restart = [
            key
            for key in ("station", "state_dir", "outbox", "service")
            if getattr(new.station, key) != getattr(old, key)
        ]
        if needs_restart:
            log.error(
                "reload refused: %s cannot change while running; restart the service",
                ", ".join(needs_restart),
            )
            return
        group = self._group
        assert group is not None
        for task in self._field_tasks:
            task.cancel()
        await asyncio.gather(*self._field_tasks, return_exceptions=True)
        self._configure(new)
        self._start_field(group)
        if new.station.mqtt != old.mqtt and self._uplink_task is not None:
            self._uplink_task.cancel()
            await asyncio.gather(self._uplink_task, return_exceptions=True)
            self.uplink = self._make_uplink()
            self._uplink_task = group.create_task(supervise("mqtt uplink", self.uplink.run))
            log.warning("configuration reloaded; new MQTT settings: reconnecting")
        else:
            log.warning("configuration reloaded; MQTT session kept")
        self.notifier.send(f"STATUS=reloaded: {self.status_line()}")

    async def run(self) -> None:
        """Run until cancelled."""
        await self.outbox.open()
        log.info(
            "outpost %s starting for station %s (boot %d): %d bus(es), %d device(s), %d queued message(s)",
            __version__,
            self.config.station.station.id,
            self.boot_count,
            len(self.pollers),
            len(self.config.station.devices),
            len(self.outbox),
        )
        service = self.config.station.service
        try:
            async with asyncio.TaskGroup() as group:
                self._group = group
                self._uplink_task = group.create_task(supervise("mqtt uplink", self.uplink.run))
                group.create_task(supervise("timers", self._every_second))
                self._start_field(group)
                if service.metrics_listen:
                    listen = service.metrics_listen
                    group.create_task(
                        supervise(
                            "metrics", lambda: serve(listen, self.metrics, self.health, self._update_gauges)
                        )
                    )
                group.create_task(
                    feed_watchdog(
                        self.notifier,
                        self.progress,
                        stall_after=service.stall_after,
                        status=self.status_line,
                        uplink_stuck=self._uplink_stuck,
                    )
                )
                self.notifier.send("READY=1", f"STATUS={self.status_line()}")
        finally:
            self.notifier.send("STOPPING=1")
            for task in list(self._background):
                task.cancel()
            await asyncio.gather(*self._background, return_exceptions=True)
            await self.outbox.close()


async def run_gateway(config: LoadedConfig) -> None:
    """Build the gateway inside the running event loop (pymodbus clients need one) and run it.

    SIGHUP (``systemctl reload``) re-reads the configuration.
    """
    gateway = Gateway(config)
    loop = asyncio.get_running_loop()
    reloading: set[asyncio.Task] = set()

    def reload() -> None:
        task = loop.create_task(gateway.reload())
        reloading.add(task)
        task.add_done_callback(reloading.discard)

    loop.add_signal_handler(signal.SIGHUP, reload)
    await gateway.run()

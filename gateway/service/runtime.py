"""Wires a loaded configuration into running parts, runs them, and applies a reload.

What the parts do lives with them: the data path in ``gateway/publisher.py``,
commands in ``gateway/commands/``, health and reports in ``gateway/service/health.py``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import signal
from collections.abc import Coroutine, Iterator
from typing import TYPE_CHECKING, Any

from drivers.observation import BusPoller, PollOutcome
from gateway import __version__
from gateway.alarms.clock import SystemClock
from gateway.alarms.engine import AlarmEngine
from gateway.alarms.reports import CountBook
from gateway.alarms.store import read_legacy_state
from gateway.buses import build_poller
from gateway.commands.actuators import ModbusActuators
from gateway.commands.auth import Verifier, read_key
from gateway.commands.downlink import Downlink, after_answer
from gateway.commands.handlers import COMMANDS
from gateway.commands.processor import CommandProcessor
from gateway.commands.registry import CommandContext, Executor, RadioBroadcaster
from gateway.config import ConfigError, LoadedConfig, load_config
from gateway.contract.events import StationStatusEvent, utc_now
from gateway.contract.ids import SequenceStore
from gateway.contract.stamp import Stamper
from gateway.outbox import Outbox
from gateway.publisher import Publisher
from gateway.response.responder import Responder, ResponseParts
from gateway.service.boot import Boot
from gateway.service.config_push import ConfigPush, needs_restart
from gateway.service.health import Health
from gateway.service.metrics import Metrics, PageHandler, serve
from gateway.service.supervisor import TaskFaults, supervise
from gateway.service.systemd import Notifier, Progress, feed_watchdog
from gateway.uplink.freshness import Freshness
from gateway.uplink.mqtt import SIGN_OFF_TIMEOUT, Message, MqttUplink
from gateway.uplink.topics import command_topics

if TYPE_CHECKING:
    from gateway.radio.alarms import RadioAlarms
    from gateway.radio.hub import RadioHub
    from gateway.service.local_http import HttpRequest, Response
    from gateway.station_page.actions import Operator
    from gateway.station_page.server import StationPage
    from gateway.station_page.trend import Trends
    from gateway.station_page.walk import WalkMode

log = logging.getLogger(__name__)

STOP_FLUSH = 3.0  # seconds a clean stop spends delivering the outbox before saying offline
STOP_GRACE = STOP_FLUSH + SIGN_OFF_TIMEOUT + 1.0  # what a clean stop may take in all
OUTBOX_FILE = "outbox.sqlite3"  # the outbox and the alarm state: one database
LEGACY_STATE_FILE = "alarms.json"  # where earlier versions kept the alarm state


class Gateway:
    """One station's gateway: everything ``outpost run`` starts. Build it inside the event loop."""

    def __init__(self, config: LoadedConfig, radio: RadioBroadcaster | None = None) -> None:
        self._radio_given = radio
        self._background: set[asyncio.Task] = set()
        station = config.station
        station.state_dir.mkdir(parents=True, exist_ok=True)
        self.boot = Boot.begin(station.state_dir)
        self.prefix = station.topic_prefix
        self.freshness = Freshness(station.outbox.historical_after)
        self.stamp = Stamper(
            station.station.id, SequenceStore(station.state_dir / "seq"), made=self.freshness.made
        )
        self.outbox = Outbox(
            station.state_dir / OUTBOX_FILE,
            max_bytes=int(station.outbox.max_bytes),
            alarm_hard_cap_bytes=int(station.outbox.alarm_hard_cap_bytes),
        )
        self.metrics = Metrics(exported=bool(station.service.metrics_listen))
        self.metrics.rejected.read_from(self._radio_rejections)
        self.metrics.bus_rejected.read_from(self._bus_rejections)
        self.metrics.radio.read_from(self._radio_counts)
        self.faults = TaskFaults()
        self.progress = Progress()
        self.notifier = Notifier()
        self._counts = CountBook()
        self.reloading = asyncio.Lock()  # one reload (SIGHUP or a pushed file) at a time
        self.config_push = ConfigPush(config.path, self)
        self.uplink = self._make_uplink(config)
        self.trends: Trends | None = None
        self.walk: WalkMode | None = None
        if station.service.metrics_listen:  # the station page is served: keep its trends
            from gateway.station_page.trend import Trends  # only then: a station without it pays nothing
            from gateway.station_page.walk import WalkMode

            self.trends = Trends(station.service.page.trend_hours)
            self.walk = WalkMode(lambda: self.config)
            self.outbox.on_delivered = self.walk.delivered
        self._configure(config)
        self._group: asyncio.TaskGroup | None = None
        self._field_tasks: list[asyncio.Task] = []
        self._uplink_task: asyncio.Task | None = None

    def _configure(self, config: LoadedConfig, saved: dict | None = None) -> None:
        """Build the parts a reload replaces: alarm engine, buses, radios, data path, health, commands.

        A reload's engine takes over the running engine's state (``saved``), so
        it neither forgets an active alarm nor raises it again; the responder is
        kept and given the new rules (``saved`` is None only for the first one).
        """
        station = config.station
        self.config = config
        self.engine = AlarmEngine(config, self.stamp, clock=SystemClock(), saved=saved)
        self.pollers: dict[str, BusPoller] = {
            name: build_poller(config, name, bus) for name, bus in station.buses.items()
        }
        self._configure_radios(config)
        self.publisher = Publisher(
            config,
            engine=self.engine,
            radio_alarms=self.radio_alarms,
            stamp=self.stamp,
            boot=self.boot,
            outbox=self.outbox,
            uplink=self.uplink,
            metrics=self.metrics,
            progress=self.progress,
            committed=lambda events: self.responder.committed(events),  # noqa: PLW0108 (late-bound)
        )
        actuators = ModbusActuators(config, self.pollers)
        parts = ResponseParts(self.engine, actuators, self.radio, self.publisher.publish)
        if saved is None:
            self.responder: Responder = Responder(
                station, parts, stamp=self.stamp, clock=SystemClock(), uplink_up=lambda: self.uplink.connected
            )
        else:  # a reload: running chains and a siren's pending switch-back carry on under the new rules
            self.responder.reconfigure(station, parts)
        self.health = Health(
            config,
            boot=self.boot,
            engine=self.engine,
            stamp=self.stamp,
            outbox=self.outbox,
            uplink=self.uplink,
            radio_hub=self.radio_hub,
            pollers=self.pollers,
            latest=self.publisher.latest_readings,
            progress=self.progress,
            metrics=self.metrics,
            counts=self._counts,
            faults=self.faults,
        )
        self.command_context = CommandContext(
            boot=self.boot,
            engine=self.engine,
            publish=self.publisher.publish_committed,
            report=self.health.report,
            stamp=self.stamp,
            radio=self.radio,
            radio_hub=self.radio_hub,
            actuators=actuators,
            in_background=self._in_background,
            config_push=self.config_push,
            after_answer=after_answer,
        )
        self.downlink = Downlink(
            self._command_processor(config),
            uplink=self.uplink,
            stamp=self.stamp,
            prefix=self.prefix,
            metrics=self.metrics,
            in_background=self._in_background,
        )
        self.page_operator = self._page_operator(config) if self.trends is not None else None

    def _page_operator(self, config: LoadedConfig) -> Operator:
        """What the station page may do with this configuration's keys (read-only without one)."""
        from gateway.station_page.actions import Operator

        station = config.station
        key_file = station.service.page.operator_key_file
        return Operator(
            operator_key=key_file.read_text(encoding="utf-8").strip().encode() if key_file else None,
            command_key=read_key(station.commands.key_file) if station.commands.key_file else None,
            station=station.station.id,
            refused=lambda reason: self.metrics.rejected.count("station page", reason),
        )

    def _station_page(self) -> PageHandler:
        """The station page's routes, reading whichever parts are current at each request.

        Its rendering (HTML, SVG chart, walk test) is imported at the first request for a
        page path, not at start: the birth does not wait for a page seldom opened.
        """
        trends, walk = self.trends, self.walk
        assert trends is not None
        assert walk is not None

        @functools.cache
        def page() -> StationPage:
            from gateway.station_page.server import StationPage

            return StationPage(
                lambda: self,
                trends,
                self._current_operator,
                lambda name, payload: self.downlink.from_station(name, payload),  # noqa: PLW0108 (late-bound)
                walk,
            )

        async def respond(request: HttpRequest) -> Response | None:
            return await page().respond(request)

        return respond

    def _current_operator(self) -> Operator:
        assert self.page_operator is not None  # built with the trends, by every configuration
        return self.page_operator

    async def _on_poll(self, outcome: PollOutcome) -> None:
        """Every poll outcome: the data path first (an alarm in it goes out first), then the page's trends."""
        await self.publisher.on_poll(outcome)
        if self.trends is not None:
            self.trends.record(outcome)

    def _configure_radios(self, config: LoadedConfig) -> None:
        """Radio bridges, the registry and press handling, when the station has a ``radios`` section."""
        radios = config.station.radios
        self.radio_hub: RadioHub | None = None
        self.radio_alarms: RadioAlarms | None = None
        self.radio = self._radio_given
        if radios is None:
            return
        # Only a station with radios imports their stacks (APRS, AX.25, KISS, line radios).
        from gateway.radio.alarms import RadioAlarms
        from gateway.radio.hub import RadioHub
        from gateway.radio.registry import RadioRegistry

        registry = RadioRegistry(radios)
        self.radio_hub = RadioHub(radios, registry, config.radio_protocols)
        self.radio_alarms = RadioAlarms(radios, self.engine, registry, self.stamp)
        self.radio = self._radio_given or self.radio_hub

    def _command_processor(self, config: LoadedConfig) -> CommandProcessor:
        """The command checks of this configuration, executing with this configuration's parts."""
        commands = config.station.commands
        verifier = None
        if commands.key_file is not None:
            verifier = Verifier(
                read_key(commands.key_file), config.station.station.id, commands.max_clock_skew
            )
        target = Executor(COMMANDS, self.command_context)
        return CommandProcessor(
            verifier=verifier,
            allow_unsigned=commands.allow_unsigned,
            target=target,
            rejected=lambda kind: self.metrics.rejected.count("mqtt command", kind),
        )

    def _radio_rejections(self) -> Iterator[tuple[str, str, int]]:
        """What the radio bridges of the running configuration refused, by reason."""
        if self.radio_hub is not None:
            for name, driver in self.radio_hub.drivers.items():
                for key, count in driver.counts.items():
                    if key.startswith("rejected "):
                        yield f"radio {name}", key.removeprefix("rejected "), count

    def _bus_rejections(self) -> Iterator[tuple[str, str, str, int]]:
        """What the buses of the running configuration refused, by device and reason."""
        for bus, poller in self.pollers.items():
            for (device, kind), count in poller.rejections.counts.items():
                yield bus, device, kind, count

    def _radio_counts(self) -> Iterator[tuple[str, tuple[str, ...], int]]:
        """The running radio bridges' counters, for ``/metrics``."""
        if self.radio_hub is None or self.radio_alarms is None:
            return
        pressed = self.radio_alarms.counts
        for name, driver in self.radio_hub.drivers.items():
            yield "presses", (name,), pressed[(name, "presses")]
            yield "merged", (name,), pressed[(name, "merged")]
            yield "acks", (name,), driver.counts["ack sent"]
        for (bridge, outcome), count in sorted(self.radio_hub.deliveries.items()):
            yield "deliveries", (bridge, outcome), count

    def _make_uplink(self, config: LoadedConfig) -> MqttUplink:
        """The MQTT session; its callbacks reach whichever data path and commands are current.

        Here and in :meth:`run`, callbacks are lambdas, not bound methods: a reload
        replaces the publisher, the health view and the downlink, and they must follow.
        """
        station = config.station
        return MqttUplink(
            station.mqtt,
            client_id=station.mqtt.client_id or f"outpost-{station.station.id}",
            station=station.station.id,
            outbox=self.outbox,
            freshness=self.freshness,
            retained_state=self._birth,
            will=lambda: self.publisher.station_status("offline"),
            command_topic=command_topics(self.prefix),
            on_command=lambda incoming: self.downlink.on_command(incoming),  # noqa: PLW0108 (late-bound)
            window=station.outbox.window,
        )

    def _birth(self) -> list[Message]:
        """What a new session publishes first; that it started confirms a pushed station file."""
        self.config_push.connected()
        return [self.status("online"), self.publisher.snapshot()]

    def status(self, state: str) -> Message:
        """The station status (birth or Will); the birth names the station file in force."""
        message = self.publisher.station_status(state)
        if state != "online":
            return message
        event = StationStatusEvent.model_validate_json(message.payload)
        online = event.model_copy(update={"config": self.config_push.state()})
        return dataclasses.replace(message, payload=online.to_json())

    async def announce(self) -> None:
        """The status again, retained, on the session there is: the station file in force changed."""
        if self.uplink.connected:
            await self.uplink.publish_now(self.status("online"))

    def healthz(self) -> dict[str, Any]:
        """``/healthz``: the health of the running configuration's parts, and which station file it is."""
        return self.health.snapshot() | {"config": self.config_push.state().model_dump(mode="json")}

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

    # -- periodic work ------------------------------------------------------------------
    async def _every_second(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            self.publisher.publish(self.engine.tick())
            self.publisher.publish(self.health.due_reports(utc_now()))

    def _start_field(self, group: asyncio.TaskGroup) -> None:
        """One task per bus (and the InfluxDB writer): what a reload restarts."""
        self._field_tasks = []
        for name, poller in self.pollers.items():
            self.progress.watch(f"bus {name}")
            job = functools.partial(poller.run, self._on_poll)
            self._field_tasks.append(group.create_task(supervise(f"bus {name}", job, faults=self.faults)))
        influx = self.publisher.influx
        if influx is not None:
            self._field_tasks.append(group.create_task(supervise("influxdb", influx.run, faults=self.faults)))
        if self.radio_hub is not None:
            for name, job in self.radio_hub.jobs(self.publisher.on_radio).items():
                self._field_tasks.append(
                    group.create_task(supervise(f"radio {name}", job, faults=self.faults))
                )

    async def reload(self) -> None:
        """Re-read the configuration (SIGHUP); apply it if valid, keep the running one if not.

        Queued messages stay in the outbox; the MQTT session is kept unless the
        ``mqtt`` section changed. Alarm states are the engine's to restore.
        """
        async with self.reloading:
            try:
                new = load_config(self.config.path)
            except ConfigError as exc:
                log.error("reload refused, the running configuration stays:\n%s", exc)
                return
            fixed = needs_restart(self.config.station, new.station)
            if fixed:
                log.error(
                    "reload refused: %s cannot change while running; restart the service", ", ".join(fixed)
                )
                return
            await self.apply(new)
            self.config_push.reloaded()
        await self.announce()

    async def apply(self, new: LoadedConfig) -> None:
        """Apply a valid configuration that needs no restart; the caller holds :attr:`reloading`."""
        old = self.config.station
        group = self._group
        assert group is not None
        for task in self._field_tasks:
            task.cancel()
        await asyncio.gather(*self._field_tasks, return_exceptions=True)
        reconnect = new.station.mqtt != old.mqtt and self._uplink_task is not None
        if reconnect:
            assert self._uplink_task is not None
            self._uplink_task.cancel()
            await asyncio.gather(self._uplink_task, return_exceptions=True)
            self.uplink = self._make_uplink(new)  # before _configure: the new parts publish through it
        self._configure(new, saved=self.engine.state())
        self._start_field(group)
        if reconnect:
            self._uplink_task = group.create_task(
                supervise("mqtt uplink", self.uplink.run, faults=self.faults)
            )
            log.warning("configuration reloaded; new MQTT settings: reconnecting")
        else:
            log.warning("configuration reloaded; MQTT session kept")
        self.notifier.send(f"STATUS=reloaded: {self.health.status_line()}")

    async def _sign_off(self) -> None:
        """A clean stop: the outbox flushed for up to :data:`STOP_FLUSH` seconds, then the retained
        status ``offline`` with the reason ``stopped``, so the platform knows it was meant."""
        self.notifier.send("STOPPING=1")
        will = self.publisher.station_status("offline")
        stopped = StationStatusEvent.model_validate_json(will.payload).model_copy(
            update={"reason": "stopped"}
        )
        await self.uplink.sign_off(
            dataclasses.replace(will, payload=stopped.to_json()), flush_within=STOP_FLUSH
        )

    async def _restore(self) -> None:
        """Open the outbox and take the alarm state back, before the first poll.

        An ``alarms.json`` of an earlier version is migrated once: stored in
        the database, then renamed. If the disk refuses, the gateway runs all
        the same, the storage fault raised.
        """
        await self.outbox.open()
        legacy = self.config.station.state_dir / LEGACY_STATE_FILE
        saved = self.outbox.saved_state or read_legacy_state(legacy)
        self.engine.restore(saved)
        self.outbox.on_storage = lambda error: self._storage_changed(error)  # noqa: PLW0108 (late-bound)
        if self.outbox.storage_error is not None or not self.outbox.saved_state:
            # Stored whole once the disk takes it: a late database holds nothing newer.
            stored = await self.outbox.submit([], self.engine.state())
            if stored and legacy.exists():
                legacy.rename(legacy.with_name(legacy.name + ".migrated"))
                log.warning("alarm state migrated from %s into the outbox database", legacy)
        self._storage_changed(self.outbox.storage_error)

    def _storage_changed(self, error: str | None) -> None:
        """The storage fault alarm follows the disk; a boot count it refused is written once it works."""
        self.publisher.storage_changed(error)
        if error is None:
            self.boot.store(self.config.station.state_dir)

    async def run(self) -> None:
        """Run until cancelled; a cancellation signs off first (see :meth:`_sign_off`)."""
        await self._restore()
        log.info(
            "outpost %s starting for station %s (boot %d): %d bus(es), %d device(s), %d queued message(s)",
            __version__,
            self.config.station.station.id,
            self.boot.count,
            len(self.pollers),
            len(self.config.station.devices),
            len(self.outbox),
        )
        service = self.config.station.service
        try:
            async with asyncio.TaskGroup() as group:
                self._group = group
                self._uplink_task = group.create_task(
                    supervise("mqtt uplink", self.uplink.run, faults=self.faults)
                )
                group.create_task(supervise("timers", self._every_second, faults=self.faults))
                # Not restarted by a reload: a chain running or a siren on outlives the configuration.
                group.create_task(supervise("response", self.responder.run, faults=self.faults))
                self._start_field(group)
                if service.metrics_listen:
                    listen = service.metrics_listen
                    group.create_task(
                        supervise(
                            "metrics",
                            lambda: serve(
                                listen,
                                self.metrics,
                                self.healthz,
                                lambda: self.health.update_gauges(),  # noqa: PLW0108 (late-bound)
                                lambda: self.health.values(),  # noqa: PLW0108 (late-bound)
                                self._station_page(),
                            ),
                            faults=self.faults,
                        )
                    )
                group.create_task(
                    feed_watchdog(
                        self.notifier,
                        self.progress,
                        stall_after=service.stall_after,
                        status=lambda: self.health.status_line(),  # noqa: PLW0108 (late-bound)
                        also_stalled=lambda: self.health.also_stalled(),  # noqa: PLW0108 (late-bound)
                    )
                )
                self.notifier.send("READY=1", f"STATUS={self.health.status_line()}")
                try:
                    await asyncio.Event().wait()  # the parts run until the gateway is stopped
                except asyncio.CancelledError:
                    await self._sign_off()  # while the uplink still runs
                    raise
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

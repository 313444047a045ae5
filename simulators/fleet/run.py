"""``outpost fleet``: N simulated stations' MQTT traffic against one broker, measured.

Each station is one MQTT connection with the real topic layout and payloads
(:mod:`simulators.fleet.payloads`): a retained birth with a retained ``offline``
Last Will, the retained active-alarm snapshot and device statuses on every
connect, telemetry of each device every ``telemetry_interval``, a periodic
report, an alarm burst (every station raises ``alarm_burst`` alarms at once
at 30 % of the run, and clears them at 60 %) and a reconnect storm (a share
of the stations lose their link without a DISCONNECT at 45 % of the run and
reconnect at once). A platform subscriber receives everything.

All stations share one asyncio loop in one process; a station is a task
that sleeps until its next message is due (see :mod:`simulators.fleet.link`).
"""

from __future__ import annotations

import asyncio
import heapq
import json
import random
import re
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from gateway.config import load_config
from gateway.config.models import DEFAULT_PREFIX
from gateway.config.paths import example_station
from gateway.outbox import Message, OutboxPriority
from gateway.uplink.mqtt import BrokerAddress
from simulators.fleet.link import Link, LinkError
from simulators.fleet.payloads import DeviceTemplate, Outgoing, StationPayloads, devices_of
from simulators.fleet.platform import DeliveryTracker, PlatformProcess, kind_of
from simulators.fleet.stats import percentiles

BURST_AT, STORM_AT, CLEAR_AT = 0.30, 0.45, 0.60  # moments of the run, as shares of its duration
STATION_ID = re.compile(r"[a-z0-9_-]+")  # as the station file requires; ids become topic levels
EVENT_EFFECT = 5.0  # seconds after a fleet-wide event that a publish does not count as steady


@dataclass(frozen=True)
class FleetSettings:
    broker: str
    stations: int = 100
    duration: float = 60.0
    telemetry_interval: float = 60.0
    report_interval: float = 300.0
    alarm_burst: int = 0  # alarms each station raises at once
    reconnect_storm: float = 0.0  # share of the stations that lose their link and reconnect at once
    template: Path | None = None  # station file whose devices every station has
    prefix: str = DEFAULT_PREFIX
    station_id: str = "fleet-{n:04d}"
    connect_rate: float = 200.0  # stations coming online per second at the start (0: all at once)
    connect_threads: int = 32
    settle_timeout: float = 30.0
    seed: int = 1


@dataclass
class _Figures:
    """What the stations' side measures."""

    publish_latency: list[float] = field(default_factory=list)  # after start-up
    startup_latency: list[float] = field(default_factory=list)  # the births while stations come online
    by_kind: dict[str, list[float]] = field(default_factory=dict)  # after start-up
    connect_latency: list[float] = field(default_factory=list)
    storm_connect_latency: list[float] = field(default_factory=list)
    connects: int = 0
    drops: int = 0
    connect_failures: int = 0
    startup: bool = True
    steady: list[float] = field(default_factory=list)  # published away from every fleet-wide event
    events: list[float] = field(default_factory=list)  # loop times of the burst, storm and clear
    first_publish: float | None = None
    last_ack: float | None = None


class _Station:
    """One station's connection and schedule."""

    def __init__(
        self,
        index: int,
        settings: FleetSettings,
        devices: list[DeviceTemplate],
        tracker: DeliveryTracker,
        figures: _Figures,
        links: set[Link],
        executor: ThreadPoolExecutor,
    ) -> None:
        self.id = settings.station_id.format(n=index + 1)
        self._settings = settings
        self._rng = random.Random(settings.seed * 100_003 + index)
        self.payloads = StationPayloads(self.id, settings.prefix.format(station=self.id), devices, self._rng)
        self._tracker = tracker
        self._figures = figures
        self._links = links
        self._executor = executor
        self.link: Link | None = None
        self.retained_topics: set[str] = set()

    async def connect(self, storm: bool = False) -> None:
        """Connect with the Last Will, then publish the birth and the retained state."""
        attempts = 0
        while True:
            link = Link(
                f"outpost-{self.id}",
                BrokerAddress.parse(self._settings.broker),
                will=self.payloads.status("offline").message,
            )
            started = time.perf_counter()
            try:
                await link.open(self._executor)
                break
            except LinkError:
                self._figures.connect_failures += 1
                attempts += 1
                if attempts >= 5:
                    raise
                await asyncio.sleep(self._rng.uniform(0.5, 1.0) * attempts)
        (self._figures.storm_connect_latency if storm else self._figures.connect_latency).append(
            time.perf_counter() - started
        )
        self._figures.connects += 1
        self.link = link
        self._links.add(link)
        for message in (
            self.payloads.status("online"),
            self.payloads.snapshot(),
            *self.payloads.device_statuses(),
        ):
            self.publish(message)

    def publish(self, outgoing: Outgoing) -> None:
        assert self.link is not None
        message, message_id = outgoing
        kind = kind_of(message.topic)
        figures = self._figures
        tracker = self._tracker

        startup = figures.startup
        now = asyncio.get_running_loop().time()
        steady = not startup and not any(0 <= now - at < EVENT_EFFECT for at in figures.events)

        def acknowledged(latency: float) -> None:
            if startup:
                figures.startup_latency.append(latency)
            else:
                figures.publish_latency.append(latency)
                figures.by_kind.setdefault(kind, []).append(latency)
                if steady:
                    figures.steady.append(latency)
            tracker.acknowledged(message_id, kind)
            figures.last_ack = time.perf_counter()

        if message.retain:
            self.retained_topics.add(message.topic)
        tracker.sent(message_id, startup)
        if figures.first_publish is None:
            figures.first_publish = time.perf_counter()
        self.link.publish(message, acknowledged)

    async def run(self, start: float, end: float, storm: bool) -> None:
        """Publish on schedule until ``end`` (loop time); ``storm``: drop and reconnect at its moment."""
        settings = self._settings
        loop = asyncio.get_running_loop()
        span = end - start
        due: list[tuple[float, int, str, DeviceTemplate | None]] = []
        for order, template in enumerate(self.payloads.devices):
            phase = self._rng.uniform(0, settings.telemetry_interval)
            heapq.heappush(due, (start + phase, order, "telemetry", template))
        if settings.report_interval > 0:
            heapq.heappush(due, (start + self._rng.uniform(0, settings.report_interval), -1, "report", None))
        jitter = self._rng.uniform(0, 0.5)  # a district-wide event still reaches stations a little apart
        if settings.alarm_burst:
            heapq.heappush(due, (start + BURST_AT * span + jitter, -2, "burst", None))
            heapq.heappush(due, (start + CLEAR_AT * span + jitter, -3, "clear", None))
        if storm:
            heapq.heappush(due, (start + STORM_AT * span + jitter, -4, "storm", None))
        while due and due[0][0] < end:
            at, order, action, device = heapq.heappop(due)
            await asyncio.sleep(max(0.0, at - loop.time()))
            if self.link is None or self.link.lost.is_set():
                await self._reconnect(storm=False)
            if action == "telemetry":
                assert device is not None
                self.publish(self.payloads.telemetry(device))
                heapq.heappush(due, (at + settings.telemetry_interval, order, action, device))
            elif action == "report":
                self.publish(self.payloads.report())
                heapq.heappush(due, (at + settings.report_interval, order, action, None))
            elif action == "burst":
                devices = self.payloads.devices[: settings.alarm_burst]
                for burst_device in devices:
                    self.publish(self.payloads.raise_alarm(burst_device))
                self.publish(self.payloads.snapshot())
            elif action == "clear":
                for message in self.payloads.clear_alarms():
                    self.publish(message)
                self.publish(self.payloads.snapshot())
            elif action == "storm":
                await self._reconnect(storm=True)

    async def _reconnect(self, storm: bool) -> None:
        link = self.link
        if link is not None:
            if storm:
                await link.flushed()  # what was sent is delivered; the link then dies mid-session
                self._figures.drops += 1
            link.drop()
            self._links.discard(link)
        await self.connect(storm=storm)


async def _connect_at(station: _Station, delay: float) -> None:
    await asyncio.sleep(delay)
    await station.connect()


async def _ticker(links: set[Link]) -> None:
    """Keep-alive of every connection, once a second."""
    while True:
        await asyncio.sleep(1.0)
        for link in list(links):
            link.tick()


async def _retained_births(settings: FleetSettings, stations: set[str], timeout: float = 10.0) -> int:
    """How many stations a newcomer sees as ``online`` from the retained status alone."""
    online: set[str] = set()
    done = asyncio.Event()

    def on_message(_topic: str, payload: bytes, retained: bool) -> None:
        try:
            body = json.loads(payload)
        except ValueError:
            return
        if retained and body.get("station") in stations and body.get("state") == "online":
            online.add(body["station"])
            if len(online) == len(stations):
                done.set()

    link = Link(
        f"fleet-check-{random.getrandbits(32):08x}",
        BrokerAddress.parse(settings.broker),
        on_message=on_message,
    )
    await link.open()
    try:
        # QoS 0: a broker queues only so many QoS 1 messages per client (Mosquitto: 1000), and a
        # thousand stations' retained births arrive at once.
        await link.subscribe(settings.prefix.format(station="+") + "/status", qos=0)
        try:
            async with asyncio.timeout(timeout):
                await done.wait()
        except TimeoutError:
            pass
    finally:
        await link.close()
    return len(online)


async def _clear_retained(stations: list[_Station], links: set[Link]) -> None:
    """Empty retained payloads on every retained topic, so a shared broker keeps no simulated state."""
    for station in stations:
        if station.link is None or not station.link.connected:
            continue
        for topic in station.retained_topics:
            station.link.publish(Message(OutboxPriority.STATUS, topic, b"", qos=1, retain=True))
    await asyncio.gather(*(link.flushed() for link in links))


async def run_fleet(settings: FleetSettings, *, keep_retained: bool = False) -> dict:
    """Run the fleet and return its figures (the JSON of ``--json``)."""
    config = load_config(settings.template or example_station())
    devices = devices_of(config)
    if settings.stations < 1 or settings.duration <= 0 or settings.telemetry_interval <= 0:
        raise ValueError("--stations, --duration and --telemetry-interval must be positive")
    if not 0 <= settings.reconnect_storm <= 1 or settings.alarm_burst < 0:
        raise ValueError("--reconnect-storm is a share from 0 to 1, --alarm-burst a count")
    try:
        names_seen = {settings.station_id.format(n=n) for n in (1, 2)}
    except (KeyError, IndexError, ValueError):
        names_seen = set()
    if len(names_seen) < 2 or not all(STATION_ID.fullmatch(name) for name in names_seen):
        raise ValueError("--station-id must contain {n} and make ids of a-z, 0-9, - and _")
    if settings.alarm_burst > len(devices):
        raise ValueError(f"--alarm-burst is at most the {len(devices)} devices of the template station")
    links: set[Link] = set()
    figures = _Figures()
    names = {settings.station_id.format(n=i + 1) for i in range(settings.stations)}
    tracker = DeliveryTracker()
    platform = PlatformProcess(settings.broker, settings.prefix.format(station="+") + "/#", names)
    await platform.start()
    ticker = asyncio.create_task(_ticker(links))
    loop = asyncio.get_running_loop()
    stormers = set(
        random.Random(settings.seed).sample(
            range(settings.stations), round(settings.reconnect_storm * settings.stations)
        )
    )
    with ThreadPoolExecutor(settings.connect_threads, thread_name_prefix="fleet-connect") as executor:
        stations = [
            _Station(i, settings, devices, tracker, figures, links, executor)
            for i in range(settings.stations)
        ]
        try:
            connect_started = time.perf_counter()
            await asyncio.gather(
                *(
                    _connect_at(s, i / settings.connect_rate if settings.connect_rate else 0)
                    for i, s in enumerate(stations)
                )
            )
            connect_seconds = time.perf_counter() - connect_started
            figures.startup = False
            start = loop.time()
            end = start + settings.duration
            moments = ([BURST_AT, CLEAR_AT] if settings.alarm_burst else []) + (
                [STORM_AT] if stormers else []
            )
            figures.events = [start + moment * settings.duration for moment in moments]
            await asyncio.gather(*(s.run(start, end, i in stormers) for i, s in enumerate(stations)))
            async with asyncio.timeout(settings.settle_timeout):
                await asyncio.gather(*(link.flushed() for link in links))
            await platform.settle(len(tracker.acked) + figures.drops, settings.settle_timeout)
            tracker.absorb(await platform.receipts())
            births = await _retained_births(settings, names)
            if not keep_retained:
                await _clear_retained(stations, links)
        finally:
            platform.kill()
            ticker.cancel()
            await asyncio.gather(*(link.close() for link in list(links)), return_exceptions=True)
    return _report(settings, figures, tracker, stations, births, connect_seconds)


def _report(
    settings: FleetSettings,
    figures: _Figures,
    tracker: DeliveryTracker,
    stations: list[_Station],
    births: int,
    connect_seconds: float,
) -> dict:
    acked_by_kind: dict[str, int] = {}
    for kind in tracker.acked.values():
        acked_by_kind[kind] = acked_by_kind.get(kind, 0) + 1
    acked = len(tracker.acked)
    missing = tracker.missing()
    delivered = acked - len(missing)
    alarms_sent = acked_by_kind.get("alarm", 0)
    alarms_missing = sum(1 for message_id in missing if tracker.acked[message_id] == "alarm")
    span = (figures.last_ack or 0.0) - (figures.first_publish or 0.0)
    unacknowledged = sum(station.link.abandoned for station in stations if station.link is not None)
    return {
        "settings": {
            "stations": settings.stations,
            "devices_per_station": len(stations[0].payloads.devices) if stations else 0,
            "duration_s": settings.duration,
            "telemetry_interval_s": settings.telemetry_interval,
            "report_interval_s": settings.report_interval,
            "alarm_burst": settings.alarm_burst,
            "reconnect_storm": settings.reconnect_storm,
            "broker": settings.broker,
        },
        "published": {
            "acknowledged": acked,
            "by_kind": dict(sorted(acked_by_kind.items())),
            "per_second": round(acked / span, 1) if span > 0 else None,
            "unacknowledged": unacknowledged,
            "refused": sum(station.link.refused for station in stations if station.link is not None),
        },
        "publish_latency": percentiles(figures.publish_latency),
        "steady_publish_latency": percentiles(figures.steady),
        "publish_latency_by_kind": {
            kind: percentiles(values) for kind, values in sorted(figures.by_kind.items())
        },
        "startup_publish_latency": percentiles(figures.startup_latency),
        "delivery": {
            "received": delivered,
            "sent": acked,
            "ratio": round(delivered / acked, 6) if acked else None,
            "lost": len(missing),
            "lost_by_kind": dict(Counter(tracker.acked[message_id] for message_id in missing)),
            "duplicates": tracker.duplicates,
            "by_kind": dict(sorted(tracker.received_by_kind.items())),
            "alarms_sent": alarms_sent,
            "alarms_received": alarms_sent - alarms_missing,
            "latency": percentiles(tracker.latencies(startup=False)),
            "startup_latency": percentiles(tracker.latencies(startup=True)),
        },
        "connections": {
            "connects": figures.connects,
            "initial_connect_s": round(connect_seconds, 2),
            "connect_rate_per_s": settings.connect_rate,
            "connect_latency": percentiles(figures.connect_latency),
            "storm_drops": figures.drops,
            "storm_connect_latency": percentiles(figures.storm_connect_latency),
            "wills_received": tracker.wills,
            "connect_failures": figures.connect_failures,
        },
        "retained_births": {"online": births, "stations": settings.stations},
    }


def describe(report: dict) -> str:
    """The figures for a person."""
    s, p, d, c = report["settings"], report["published"], report["delivery"], report["connections"]
    lat, dlat, steady = report["publish_latency"], d["latency"], report["steady_publish_latency"]
    kinds = "  ".join(
        f"{kind} {figures['p50_ms']}/{figures['p99_ms']}"
        for kind, figures in report["publish_latency_by_kind"].items()
    )
    slat = report["startup_publish_latency"]
    ratio = "n/a" if d["ratio"] is None else f"{d['ratio'] * 100:.3f} %"
    lines = [
        f"fleet: {s['stations']} stations x {s['devices_per_station']} devices, {s['duration_s']:g} s, "
        f"telemetry every {s['telemetry_interval_s']:g} s, alarm burst {s['alarm_burst']}, "
        f"reconnect storm {s['reconnect_storm'] * 100:g} %",
        f"published  {p['acknowledged']} messages acknowledged, {p['per_second']} msg/s "
        f"({', '.join(f'{k} {v}' for k, v in p['by_kind'].items())})",
        f"publish -> PUBACK   p50 {lat['p50_ms']} ms  p95 {lat['p95_ms']} ms  p99 {lat['p99_ms']} ms  "
        f"max {lat['max_ms']} ms",
        f"  steady (5 s and more after a burst or storm): p50 {steady['p50_ms']} ms  "
        f"p99 {steady['p99_ms']} ms;  by kind, p50/p99 ms: {kinds}",
        f"start-up births     p50 {slat['p50_ms']} ms  p99 {slat['p99_ms']} ms "
        "(while the stations come online)",
        f"platform   received {d['received']}/{d['sent']} ({ratio}), lost {d['lost']}, "
        f"duplicates {d['duplicates']}, alarms {d['alarms_received']}/{d['alarms_sent']}",
        f"delivery latency    p50 {dlat['p50_ms']} ms  p95 {dlat['p95_ms']} ms  p99 {dlat['p99_ms']} ms",
        f"connections {c['connects']} connects ({c['initial_connect_s']} s for the first {s['stations']}), "
        f"storm: {c['storm_drops']} dropped, {c['wills_received']} Last Wills delivered, "
        f"reconnect p99 {c['storm_connect_latency']['p99_ms']} ms",
        f"retained   {report['retained_births']['online']}/{s['stations']} births online "
        "for a new subscriber",
    ]
    return "\n".join(lines)

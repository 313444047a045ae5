"""Prometheus metrics and a health endpoint on a local address.

Metric families come from prometheus-client, imported only by a station that
serves them (``service.metrics_listen``); elsewhere the data path counts into
:data:`UNCOUNTED`, which keeps nothing. They are served, with
``/healthz`` (JSON, for ``outpost status`` and for monitoring), by the small
asyncio HTTP responder of :mod:`gateway.service.local_http`, in the gateway's own event loop:
prometheus-client's own server runs in a thread and has no health route,
and two routes do not justify a web framework on a Pi.
"""

from __future__ import annotations

import collections
import json
import logging
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, Protocol, cast

from gateway.service.local_http import HttpRequest, Response, start_local_server

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry
    from prometheus_client.metrics_core import Metric
    from prometheus_client.registry import Collector

log = logging.getLogger(__name__)


class Counting(Protocol):
    """A counter as the gateway counts into it: prometheus-client's, or :data:`UNCOUNTED`."""

    def labels(self, *values: str) -> Counting: ...

    def inc(self, amount: float = 1) -> None: ...


class Gauging(Protocol):
    """A gauge as the gateway sets it: prometheus-client's, or :data:`UNCOUNTED`."""

    def set(self, value: float) -> None: ...


class _Uncounted:
    """A metric nobody scrapes: counting into it costs a call and keeps nothing."""

    def labels(self, *_values: str) -> _Uncounted:
        return self

    def inc(self, amount: float = 1) -> None:
        pass

    def set(self, value: float) -> None:
        pass


UNCOUNTED = _Uncounted()


class Metrics:
    """Every metric the gateway exports, in its own registry; counted into nothing unless ``exported``."""

    def __init__(self, exported: bool = True) -> None:
        self.rejected = Rejections()
        self.bus_rejected = BusRejections()
        self.radio = RadioCounters()
        self.registry: CollectorRegistry | None = None
        if not exported:
            self.polls: Counting = UNCOUNTED
            self.bus_busy: Counting = UNCOUNTED
            self.alarm_events: Counting = UNCOUNTED
            self.commands: Counting = UNCOUNTED
            self.alarms_active: Gauging = UNCOUNTED
            self.outbox_depth: Gauging = UNCOUNTED
            self.outbox_bytes: Gauging = UNCOUNTED
            self.outbox_headroom: Gauging = UNCOUNTED
            self.mqtt_connected: Gauging = UNCOUNTED
            self.last_publish: Gauging = UNCOUNTED
            return
        from prometheus_client import CollectorRegistry, Counter, Gauge

        self.registry = CollectorRegistry()
        r = self.registry
        self.polls = Counter("outpost_polls", "Polls per device and result", ["device", "result"], registry=r)
        self.bus_busy = Counter(
            "outpost_bus_busy_seconds", "Time each bus spent on requests", ["bus"], registry=r
        )
        self.alarm_events = Counter(
            "outpost_alarm_events",
            "Alarm events by level and transition",
            ["level", "transition"],
            registry=r,
        )
        self.alarms_active = Gauge("outpost_alarms_active", "Alarms not yet back to normal", registry=r)
        self.outbox_depth = Gauge("outpost_outbox_depth", "Messages waiting in the outbox", registry=r)
        self.outbox_bytes = Gauge("outpost_outbox_bytes", "Payload bytes in the outbox", registry=r)
        self.outbox_headroom = Gauge(
            "outpost_outbox_headroom_hours", "Hours until the outbox budget at the current rate", registry=r
        )
        self.mqtt_connected = Gauge("outpost_mqtt_connected", "1 while the MQTT session is up", registry=r)
        self.last_publish = Gauge(
            "outpost_last_publish_timestamp_seconds", "Unix time of the last acknowledged publish", registry=r
        )
        self.commands = Counter("outpost_commands", "Downlink commands by outcome", ["outcome"], registry=r)
        for collector in (self.rejected, self.bus_rejected, self.radio):  # read at each scrape
            r.register(cast("Collector", collector))

    def exposition(self) -> bytes:
        from prometheus_client import generate_latest

        assert self.registry is not None, "served only when exported"
        return generate_latest(self.registry)


RejectionCounts = Callable[[], Iterable[tuple[str, str, int]]]
"""(input, reason, count so far) for each reason an input path has refused something."""


class Rejections:
    """``outpost_input_rejected_total{input, reason}``: what each input path refused, and why.

    The command intake and the local HTTP endpoint count here (:meth:`count`);
    radio bridges keep their own counts, read at each scrape (:meth:`read_from`).
    Reasons are the code's fixed phrases, never input. Frames refused on a field
    bus are :class:`BusRejections`.
    """

    def __init__(self) -> None:
        self._counts: collections.Counter[tuple[str, str]] = collections.Counter()
        self._sources: list[RejectionCounts] = []

    def count(self, input_path: str, reason: str) -> None:
        self._counts[(input_path, reason)] += 1

    def read_from(self, source: RejectionCounts) -> None:
        self._sources.append(source)

    def collect(self) -> Iterator[Metric]:
        from prometheus_client.metrics_core import CounterMetricFamily

        family = CounterMetricFamily(
            "outpost_input_rejected", "Input refused, by input path and reason", labels=["input", "reason"]
        )
        totals = collections.Counter(self._counts)
        for source in self._sources:
            for input_path, reason, count in source():
                totals[(input_path, reason)] += count
        for (input_path, reason), count in sorted(totals.items()):
            family.add_metric([input_path, reason], count)
        yield family


BusRejectionCounts = Callable[[], Iterable[tuple[str, str, str, int]]]
"""(bus, device, reason, count so far) for each reason a bus has refused a device's frames."""


PageHandler = Callable[[HttpRequest], Awaitable[Response | None]]
"""The station page's answer to a request, or None when the path is not the page's."""


RadioCounts = Callable[[], Iterable[tuple[str, tuple[str, ...], int]]]
"""(counter, its label values, count so far) for each radio counter of the running bridges."""


RADIO_FAMILIES = {
    "presses": ("outpost_radio_presses", "Emergency presses heard, copies included", ("bridge",)),
    "merged": ("outpost_radio_merged_copies", "Copies of a press merged into its alarm", ("bridge",)),
    "acks": ("outpost_radio_acks_sent", "Transport acknowledgements sent (APRS ackNN, ACK)", ("bridge",)),
    "deliveries": ("outpost_radio_deliveries", "Messages to radios, by outcome", ("bridge", "outcome")),
}


class RadioCounters:
    """What the radio bridges did, by bridge: presses, merged copies, acks sent, deliveries.

    The bridges and the press handling keep the counts; they are read at each
    scrape (:meth:`read_from`), as ``/healthz`` reads them.
    """

    def __init__(self) -> None:
        self._source: RadioCounts = lambda: ()

    def read_from(self, source: RadioCounts) -> None:
        self._source = source

    def collect(self) -> Iterator[Metric]:
        from prometheus_client.metrics_core import CounterMetricFamily

        families = {
            key: CounterMetricFamily(name, text, labels=list(labels))
            for key, (name, text, labels) in RADIO_FAMILIES.items()
        }
        for key, labels, count in self._source():
            families[key].add_metric(list(labels), count)
        yield from families.values()


class BusRejections:
    """``outpost_bus_rejected_frames_total{bus, device, reason}``: what each field bus refused, per device.

    The pollers keep the counts (a reload starts new ones); they are read at each scrape.
    """

    def __init__(self) -> None:
        self._source: BusRejectionCounts = lambda: ()

    def read_from(self, source: BusRejectionCounts) -> None:
        self._source = source

    def collect(self) -> Iterator[Metric]:
        from prometheus_client.metrics_core import CounterMetricFamily

        family = CounterMetricFamily(
            "outpost_bus_rejected_frames",
            "Frames a field bus refused, by bus, device and reason",
            labels=["bus", "device", "reason"],
        )
        for bus, device, reason, count in sorted(self._source()):
            family.add_metric([bus, device, reason], count)
        yield family


async def serve(
    listen: str,
    metrics: Metrics,
    health: Callable[[], dict[str, Any]],
    refresh: Callable[[], None],
    values: Callable[[], dict[str, Any]],
    page: PageHandler | None = None,
) -> None:
    """Serve ``/metrics``, ``/healthz``, ``/values`` and the station ``page`` on ``listen`` (HOST:PORT).

    ``refresh`` brings the gauges up to date just before each scrape; ``/values``
    is every device's latest readings (``outpost probe`` reads a busy port's there).
    Runs until cancelled.
    """
    from prometheus_client.exposition import CONTENT_TYPE_LATEST

    host, _, port = listen.rpartition(":")

    async def respond(request: HttpRequest) -> Response:
        if request.path == "/metrics":
            refresh()
            return Response("200 OK", CONTENT_TYPE_LATEST, metrics.exposition())
        if request.path == "/healthz":
            report = health()
            status = "200 OK" if report.get("healthy") else "503 Service Unavailable"
            return Response(status, "application/json", json.dumps(report, indent=2).encode())
        if request.path == "/values":
            return Response("200 OK", "application/json", json.dumps(values(), indent=2).encode())
        answer = await page(request) if page is not None else None
        return answer or Response("404 Not Found", "text/plain", b"try /, /metrics, /healthz or /values\n")

    server = await start_local_server(
        host, int(port), respond, lambda reason: metrics.rejected.count("http", reason)
    )
    log.info(
        "metrics and health on http://%s/metrics and /healthz%s",
        listen,
        f", the station page on http://{listen}/" if page is not None else "",
    )
    async with server:
        await server.serve_forever()

"""Prometheus metrics and a health endpoint on a local address.

Metric families come from prometheus-client. They are served, with
``/healthz`` (JSON, for ``outpost status`` and for monitoring), by a small
asyncio HTTP responder in the gateway's own event loop:
prometheus-client's own server runs in a thread and has no health route,
and two routes do not justify a web framework on a Pi.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

log = logging.getLogger(__name__)


class Metrics:
    """Every metric the gateway exports, in its own registry."""

    def __init__(self) -> None:
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

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


async def serve(
    listen: str, metrics: Metrics, health: Callable[[], dict[str, Any]], refresh: Callable[[], None]
) -> None:
    """Serve ``/metrics`` and ``/healthz`` on ``listen`` (HOST:PORT) until cancelled.

    ``refresh`` brings the gauges up to date just before each scrape.
    """
    host, _, port = listen.rpartition(":")

    async def respond(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readline(), 5)
            while (await asyncio.wait_for(reader.readline(), 5)) not in (b"\r\n", b"\n", b""):
                pass
            path = request.split(b" ")[1].decode() if request.count(b" ") >= 2 else ""
            if path == "/metrics":
                refresh()
                status, kind, body = "200 OK", CONTENT_TYPE_LATEST, metrics.exposition()
            elif path == "/healthz":
                report = health()
                status = "200 OK" if report.get("healthy") else "503 Service Unavailable"
                kind, body = "application/json", json.dumps(report, indent=2).encode()
            else:
                status, kind, body = "404 Not Found", "text/plain", b"try /metrics or /healthz\n"
            head = (
                f"HTTP/1.1 {status}\r\nContent-Type: {kind}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            )
            writer.write(head.encode() + body)
            await writer.drain()
        except (TimeoutError, ConnectionError, IndexError, UnicodeDecodeError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(respond, host, int(port))
    log.info("metrics and health on http://%s/metrics and /healthz", listen)
    async with server:
        await server.serve_forever()

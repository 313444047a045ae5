"""Telemetry to InfluxDB (v2 write API) through influxdb-client, kept off the alarm path.

Readings go into a bounded buffer (oldest dropped when full) and
a separate task writes them in batches, retrying with capped backoff. Nothing
here is awaited by the alarm path: a slow or absent time-series server can
never delay an alarm.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque

from influxdb_client import InfluxDBClient, Point, WritePrecision
from influxdb_client.client.write_api import SYNCHRONOUS

from drivers.backoff import Backoff
from drivers.observation import PollOutcome
from gateway.config.models import InfluxConfig

log = logging.getLogger(__name__)

MEASUREMENT = "outpost_reading"
RETRY = Backoff(1.0, 60.0)


class InfluxWriter:
    def __init__(self, config: InfluxConfig, station: str) -> None:
        self._config = config
        self._station = station
        self._buffer: deque[Point] = deque(maxlen=config.buffer)
        self._wake = asyncio.Event()

    def add(self, outcome: PollOutcome) -> None:
        """Queue the readings of one poll; never blocks."""
        when = int(outcome.observed_at.timestamp() * 1000)
        for reading in outcome.observations:
            point = (
                Point(MEASUREMENT)
                .tag("station", self._station)
                .tag("device", reading.device)
                .tag("point", reading.point)
                .field("value", float(reading.value))
                .time(when, WritePrecision.MS)
            )
            if reading.unit:
                point = point.tag("unit", reading.unit)
            self._buffer.append(point)
        if len(self._buffer) >= self._config.batch_size:
            self._wake.set()

    async def run(self) -> None:
        token = self._config.token_file.read_text().strip() if self._config.token_file else ""
        client = InfluxDBClient(url=self._config.url, token=token, org=self._config.org)
        writer = client.write_api(write_options=SYNCHRONOUS)
        delays = RETRY.delays()
        last_error = ""
        try:
            while True:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._config.flush_interval):  # not wait_for: 3.11's
                        await self._wake.wait()  # drops a stop that comes with the wake-up
                self._wake.clear()
                while self._buffer:
                    batch = [
                        self._buffer.popleft() for _ in range(min(len(self._buffer), self._config.batch_size))
                    ]
                    try:
                        await asyncio.to_thread(writer.write, bucket=self._config.bucket, record=batch)
                    except Exception as exc:  # the library raises many kinds; all mean "try later"
                        self._buffer.extendleft(reversed(batch[: self._config.buffer - len(self._buffer)]))
                        error = f"{type(exc).__name__}: {exc}"[:200]
                        if error != last_error:
                            log.warning("InfluxDB write to %s failed (%s); retrying", self._config.url, error)
                            last_error = error
                        await asyncio.sleep(next(delays))
                        break
                    delays, last_error = RETRY.delays(), ""
        finally:
            client.close()

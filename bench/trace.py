"""``outpost run`` with a stopwatch on each stage an alarm passes: where its own cost goes.

Benchmark-only: the gateway's code carries no hooks (nothing costs anything
when this is not used). Run as ``python -m bench.trace FILE run CONFIG ...``,
it wraps the stages of the data path in this process, then runs the command
line as usual; at exit it writes one JSON line per alarm message to ``FILE``
with the wall-clock time (Unix seconds) it reached each stage:

- ``poll``: the poll outcome reaches the data path (``Publisher.on_poll``);
- ``engine``: the alarm engine's step is done;
- ``submit``: the message, serialised, is given its outbox row;
- ``commit_begin`` / ``commit_end``: the writer thread's transaction (fsync included);
- ``settled``: the event loop learns of the commit;
- ``taken``: the uplink's drain takes it from the outbox;
- ``handed`` / ``written``: its publish is handed to paho / paho writes to the socket;
- ``puback``: the broker acknowledged it.

``bench.alarm_latency --breakdown`` adds when its simulator sent the poll
answer (``bench.answers``) and the subscriber's arrival, and reports the
stage-by-stage split.
"""

from __future__ import annotations

import atexit
import functools
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from simulators.scenarios.gateway_process import GatewayProcess

ALARM_TOPIC_END = "/alarm"


def wrap(owner: type, name: str, before=None, after=None) -> None:
    """Replace ``owner.name`` by itself with ``before(*args)`` and ``after(result, *args)`` around it."""
    original = getattr(owner, name)

    @functools.wraps(original)
    def traced(*args, **kwargs):
        if before is not None:
            before(*args)
        result = original(*args, **kwargs)
        if after is not None:
            after(result, *args)
        return result

    setattr(owner, name, traced)


class Stopwatch:
    """Each alarm message's stages, by outbox row id; written to ``path`` at exit."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.stages: dict[int, dict[str, Any]] = {}
        self.payloads: dict[bytes, int] = {}  # an alarm's payload -> its row id
        self.step: dict[str, float] = {}  # the poll being handled: when it came, when the engine was done
        self.unwritten: list[dict[str, Any]] = []  # handed to paho, not yet on the socket

    def install(self) -> None:
        from paho.mqtt import client as paho

        from gateway.alarms.engine import AlarmEngine
        from gateway.outbox import Outbox
        from gateway.publisher import Publisher
        from gateway.storage import Database
        from gateway.uplink.freshness import Freshness

        self._around_poll(Publisher)
        self._around_take(Outbox)
        wrap(AlarmEngine, "handle", after=lambda *_: self.step.__setitem__("engine", time.time()))
        wrap(Outbox, "_admit", after=self.admitted)
        wrap(Database, "_transaction", before=lambda _db, _conn, writes: self.mark("commit_begin", writes))
        wrap(Database, "_transaction", after=lambda _r, _db, _conn, writes: self.mark("commit_end", writes))
        wrap(Outbox, "_settled", before=lambda _outbox, writes, _error: self.mark("settled", writes))
        wrap(Freshness, "mark", before=self.handed)
        wrap(paho.Client, "loop_write", before=self.written)
        wrap(Outbox, "done", before=lambda _outbox, queued: self.reached(queued.id, "puback"))
        atexit.register(self.dump)

    def _around_poll(self, publisher: type) -> None:
        on_poll = publisher.on_poll

        @functools.wraps(on_poll)
        async def traced(owner, outcome):
            self.step["poll"] = time.time()
            try:
                await on_poll(owner, outcome)
            finally:
                self.step.clear()  # what the engine's timer raises has no poll of its own

        publisher.on_poll = traced

    def _around_take(self, outbox: type) -> None:
        def taken(batch, _owner, _limit) -> None:
            for queued in batch:
                self.reached(queued.id, "taken")

        wrap(outbox, "take_ready", after=taken)

    def reached(self, row_id: int, stage: str) -> None:
        if row_id in self.stages:
            self.stages[row_id].setdefault(stage, time.time())

    def admitted(self, row, _outbox, message, _now) -> None:
        if row is not None and message.topic.endswith(ALARM_TOPIC_END):
            self.stages[row[0]] = {
                **self.step,
                "submit": time.time(),
                "id": json.loads(message.payload)["id"],
            }
            self.payloads[message.payload] = row[0]

    def mark(self, stage: str, writes) -> None:
        for write in writes:
            for row in write.inserts:
                self.reached(row[0], stage)

    def handed(self, _freshness, payload: bytes) -> None:
        row_id = self.payloads.get(payload)
        if row_id is not None:
            self.reached(row_id, "handed")
            self.unwritten.append(self.stages[row_id])

    def written(self, _client) -> None:
        now = time.time()
        for entry in self.unwritten:
            entry.setdefault("written", now)
        self.unwritten.clear()

    def dump(self) -> None:
        with self.path.open("w") as out:
            for entry in self.stages.values():
                out.write(json.dumps(entry) + "\n")


class TracedGateway(GatewayProcess):
    """``outpost run`` as its own process, traced; :meth:`timeline` reads what it wrote at exit."""

    def __init__(self, config: Path, log: Path, timeline: Path) -> None:
        super().__init__(config, log)
        self.timeline_path = timeline

    def start(self, *options: str) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        command = [sys.executable, "-m", "bench.trace", str(self.timeline_path), "run", str(self.config)]
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [*command, "--log-level", "INFO", *options], stdout=log, stderr=subprocess.STDOUT, env=env
            )

    def timeline(self) -> dict[str, dict[str, Any]]:
        """Each alarm's stages, by its event id."""
        lines = self.timeline_path.read_text().splitlines()
        return {entry["id"]: entry for entry in map(json.loads, lines)}


def main() -> None:
    path, *argv = sys.argv[1:]
    Stopwatch(Path(path)).install()
    from gateway.cli import main as outpost

    sys.exit(outpost(argv))


if __name__ == "__main__":
    main()

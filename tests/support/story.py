"""The platform's story of each alarm, and whether it holds together.

A district platform sees a station's alarms only through the events it
receives on ``{prefix}/alarm`` (``outpost.alarm/1``). Delivery is at least
once, so the same event may arrive twice (same ``id``); the story is the
events deduplicated by ``id`` and ordered by ``seq``. Told per
``alarm_key``, it must make sense to a dispatcher: an alarm is raised before
it changes level, clears or is acknowledged, and it is not raised again
while it is still active. A gateway that loses an event, or that restarts
believing something the platform was never told, breaks that story; this
module finds where.

The lifecycle followed is ISA-18.2's (:mod:`gateway.alarms.lifecycle`):
``raised`` opens an occurrence (active); ``cleared`` ends its activity, and
the occurrence ends once it is also acknowledged (state ``cleared``). A
``cleared_unack`` alarm may be raised again (a new occurrence).

The retained ``alarms/active`` snapshot (``outpost.alarms_active/1``) is the
state as of its ``seq``: it must list exactly the occurrences the events
before it left open, each in the state they left it. A snapshot that lists
an alarm the events cleared, or leaves out one they raised, misleads a
platform that resyncs from it. During a flood (the station's flood alarm
active) it also lists the alarms whose raise the flood holds back: there it
may list more than the events told, never less.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

ALARM_SCHEMA = "outpost.alarm/1"
FLOOD_KIND = "alarm_flood"
SNAPSHOT_SCHEMA = "outpost.alarms_active/1"
ACTIVE_STATES = frozenset({"active_unack", "active_ack"})
OPEN_STATES = ACTIVE_STATES | {"cleared_unack"}  # an occurrence not yet over
OPERATOR_TRANSITIONS = frozenset({"acknowledged", "shelved", "unshelved", "realarmed", "reset"})


class AnomalyKind(StrEnum):
    CLEAR_WITHOUT_RAISE = "cleared while not active"
    LEVEL_CHANGE_WITHOUT_RAISE = "level changed while not active"
    ACTION_WITHOUT_RAISE = "acted on while not raised"  # ack, shelve, re-alarm, reset
    RAISED_TWICE = "raised again while still active"
    SEQ_REUSED = "seq repeated with a different id"
    FOREIGN_FIRST_ID = "first_id is not the raise's"
    SNAPSHOT_CONTRADICTS = "snapshot differs from the events before it"


@dataclass(frozen=True)
class Anomaly:
    kind: AnomalyKind
    alarm_key: str
    seq: int
    id: str
    detail: str

    def __str__(self) -> str:
        return f"seq {self.seq} {self.alarm_key}: {self.kind.value} ({self.detail})"


@dataclass(frozen=True)
class Picture:
    """What the platform believes of one alarm after the last event it got."""

    state: str  # an AlarmState value
    level: str  # a colour
    first_id: str

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES


@dataclass(frozen=True)
class Story:
    events: list[dict]  # the alarm events, deduplicated by id, in seq order
    anomalies: list[Anomaly]
    final: dict[str, Picture]  # per alarm_key

    def by_key(self, alarm_key: str) -> list[str]:
        """One alarm's story as ``seq transition level`` lines, for a failure message."""
        return [
            f"{e['seq']} {e['transition']} {e['level']} ({e['state']})"
            for e in self.events
            if e["alarm_key"] == alarm_key
        ]


def alarm_events(payloads: Iterable[dict], schemas: frozenset[str] = frozenset({ALARM_SCHEMA})) -> list[dict]:
    """The alarm events among ``payloads``, each id once (the first copy), in seq order."""
    unique: dict[str, dict] = {}
    for payload in payloads:
        if payload.get("schema") in schemas:
            unique.setdefault(payload["id"], payload)
    return sorted(unique.values(), key=lambda e: (e["seq"], e["id"]))


def read_story(payloads: Iterable[dict]) -> Story:
    """Tell each alarm's story from what the platform received, and note where it breaks."""
    anomalies: list[Anomaly] = []
    pictures: dict[str, Picture] = {}
    seen_seq: dict[int, str] = {}
    events = []
    floods: set[str] = set()  # the keys of the station's flood alarm
    for event in alarm_events(payloads, frozenset({ALARM_SCHEMA, SNAPSHOT_SCHEMA})):
        if event["schema"] == SNAPSHOT_SCHEMA:
            flooding = any(pictures[key].active for key in floods)
            anomalies += _snapshot_misfits(event, pictures, flooding)
            continue
        events.append(event)
        if event.get("kind") == FLOOD_KIND:
            floods.add(event["alarm_key"])
        key, seq, event_id = event["alarm_key"], event["seq"], event["id"]
        if seq in seen_seq:
            anomalies.append(
                Anomaly(AnomalyKind.SEQ_REUSED, key, seq, event_id, f"also carried by {seen_seq[seq]}")
            )
        seen_seq.setdefault(seq, event_id)
        before = pictures.get(key)
        kind = _misfit(event["transition"], before)
        if kind is not None:
            was = before.state if before else "never raised"
            anomalies.append(Anomaly(kind, key, seq, event_id, f"{event['transition']} after {was}"))
        elif event["transition"] != "raised" and before is not None and event["first_id"] != before.first_id:
            anomalies.append(
                Anomaly(
                    AnomalyKind.FOREIGN_FIRST_ID,
                    key,
                    seq,
                    event_id,
                    f"{event['transition']} refers to {event['first_id']}, raised as {before.first_id}",
                )
            )
        pictures[key] = Picture(event["state"], event["level"], event["first_id"])
    return Story(events, anomalies, pictures)


def _snapshot_misfits(snapshot: dict, pictures: Mapping[str, Picture], flooding: bool) -> list[Anomaly]:
    """Where a snapshot differs from the open occurrences the events before it told of."""
    listed = {alarm["alarm_key"]: alarm["state"] for alarm in snapshot["alarms"]}
    told = {key: p.state for key, p in pictures.items() if p.state in OPEN_STATES}
    if flooding:  # held raises listed too: only what the events told must be there as told
        listed = {key: state for key, state in listed.items() if key in told}
    return [
        Anomaly(
            AnomalyKind.SNAPSHOT_CONTRADICTS,
            key,
            snapshot["seq"],
            snapshot["id"],
            f"snapshot has {listed.get(key, 'nothing')}, events left {told.get(key, 'nothing')}",
        )
        for key in sorted(set(listed) | set(told))
        if listed.get(key) != told.get(key)
    ]


def _misfit(transition: str, before: Picture | None) -> AnomalyKind | None:
    """Why ``transition`` cannot follow ``before`` (the alarm's previous picture), if it cannot."""
    active = before is not None and before.active
    open_occurrence = before is not None and before.state in OPEN_STATES
    if transition == "raised":
        return AnomalyKind.RAISED_TWICE if active else None
    if transition == "cleared":
        return None if active else AnomalyKind.CLEAR_WITHOUT_RAISE
    if transition == "level_changed":
        return None if active else AnomalyKind.LEVEL_CHANGE_WITHOUT_RAISE
    if transition in OPERATOR_TRANSITIONS:
        return None if open_occurrence else AnomalyKind.ACTION_WITHOUT_RAISE
    return None


def final_differences(story: Story, expected: Mapping[str, str | None]) -> list[str]:
    """Where the platform's final picture differs from the truth.

    ``expected`` maps each alarm key to the level (colour) it should be active
    at, or None where it should not be active. An alarm the platform holds
    active that ``expected`` does not name is a difference too (a false alarm).
    """
    differences = []
    keys = set(expected) | {key for key, picture in story.final.items() if picture.active}
    for key in sorted(keys):
        picture = story.final.get(key)
        believed = picture.level if picture is not None and picture.active else None
        truth = expected.get(key)
        if believed != truth:
            differences.append(
                f"{key}: platform has {believed or 'not active'}, truth is {truth or 'not active'}"
            )
    return differences

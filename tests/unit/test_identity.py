"""Message identity: UUIDv7 ids and the sequence that survives restarts."""

from __future__ import annotations

import uuid

from gateway.contract.events import json_schemas, rfc3339, utc_now
from gateway.contract.ids import SequenceStore, uuid7


def test_uuid7_is_version_7_and_time_ordered():
    ids = [uuid7() for _ in range(5000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    parsed = uuid.UUID(ids[0])
    assert parsed.version == 7
    assert parsed.variant == uuid.RFC_4122


def test_uuid7_random_bits_differ_from_id_to_id():
    # The kernel's randomness is read in blocks: each id must still get bits of its own.
    tails = [uuid.UUID(uuid7()).int & ((1 << 62) - 1) for _ in range(2000)]
    assert len(set(tails)) == len(tails)


def test_sequence_increases_across_restarts_even_after_a_crash(tmp_path):
    first = SequenceStore(tmp_path / "seq", block=10)
    numbers = [first.next() for _ in range(25)]
    assert numbers == list(range(1, 26))
    # A new process (the old one may have died without a clean stop) never repeats a number.
    second = SequenceStore(tmp_path / "seq", block=10)
    assert second.next() > numbers[-1]


def test_timestamps_are_rfc3339_utc_with_milliseconds():
    text = rfc3339(utc_now())
    assert text.endswith("Z")
    assert len(text) == len("2026-11-23T10:05:21.123Z")


def test_every_payload_has_a_json_schema_with_the_envelope():
    schemas = json_schemas()
    assert {"outpost.alarm/1", "outpost.device_status/1", "outpost.status/1"} <= set(schemas)
    for schema in schemas.values():
        assert {"schema", "id", "station", "seq", "created_at"} <= set(schema["required"])


def test_every_message_says_whether_the_clock_was_synchronised(tmp_path):
    from gateway.contract.stamp import Stamper
    from gateway.contract.time_quality import TimeQuality, time_quality

    stamp = Stamper("cs-0001", SequenceStore(tmp_path / "seq"))()
    assert stamp["time_quality"] == time_quality()
    assert time_quality() in (TimeQuality.SYNCHRONIZED, TimeQuality.UNSYNCHRONIZED)  # Linux answers

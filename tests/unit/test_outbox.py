"""The durable outbox on a real SQLite file: order, priorities, persistence, disk budget."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

from gateway.outbox import Message, Outbox, OutboxPriority, _RateWindow


def message(priority: OutboxPriority, n: int, size: int = 100) -> Message:
    body = f'{{"n":{n},"pad":"{"x" * size}"}}'.encode()
    return Message(priority, f"t/{priority.name.lower()}", body)


def numbers(batch) -> list[int]:
    import json

    return [json.loads(q.message.payload)["n"] for q in batch]


@pytest.fixture
async def outbox(tmp_path):
    box = Outbox(tmp_path / "outbox.sqlite3")
    await box.open()
    yield box
    await box.close()


async def test_alarms_overtake_a_telemetry_backlog_and_order_holds_within_a_priority(outbox):
    for n in range(5):
        await outbox.put(message(OutboxPriority.TELEMETRY, n))
    await outbox.put(message(OutboxPriority.ALARM, 100))
    await outbox.put(message(OutboxPriority.FAULT, 200))
    await outbox.put(message(OutboxPriority.ALARM, 101))
    batch = await outbox.take(10)
    assert numbers(batch) == [100, 101, 200, 0, 1, 2, 3, 4]


async def test_nothing_leaves_before_done_and_a_dropped_connection_gives_it_back(outbox):
    for n in range(3):
        await outbox.put(message(OutboxPriority.ALARM, n))
    first = await outbox.take(2)
    outbox.done(first[0])
    outbox.return_in_flight()  # connection lost before the second PUBACK
    again = await outbox.take(10)
    assert numbers(again) == [1, 2]
    assert len(outbox) == 2


async def test_take_waits_for_the_next_message(outbox):
    waiting = asyncio.create_task(outbox.take(5))
    await asyncio.sleep(0)
    assert not waiting.done()
    await outbox.put(message(OutboxPriority.ALARM, 7))
    assert numbers(await asyncio.wait_for(waiting, 5)) == [7]


async def test_everything_survives_a_restart_in_order(tmp_path):
    path = tmp_path / "outbox.sqlite3"
    box = Outbox(path)
    await box.open()
    for n in range(4):
        await box.put(message(OutboxPriority.ALARM if n % 2 else OutboxPriority.STATUS, n))
    box.done((await box.take(1))[0])  # alarm 1 delivered
    await box.close()

    reopened = Outbox(path)
    await reopened.open()
    assert numbers(await reopened.take(10)) == [3, 0, 2]
    await reopened.close()


async def test_alarms_are_committed_before_put_returns(tmp_path):
    path = tmp_path / "outbox.sqlite3"
    box = Outbox(path)
    await box.open()
    await box.put(message(OutboxPriority.ALARM, 1))
    # Another connection, as after a crash, sees the committed row.
    with sqlite3.connect(path) as other:
        assert other.execute("SELECT count(*) FROM outbox").fetchone() == (1,)
    await box.close()


async def test_budget_evicts_telemetry_first_and_never_alarms(tmp_path):
    box = Outbox(tmp_path / "o.sqlite3", max_bytes=2000, alarm_hard_cap_bytes=4000)
    await box.open()
    for n in range(15):
        await box.put(message(OutboxPriority.TELEMETRY, n))
    for n in range(100, 110):
        await box.put(message(OutboxPriority.ALARM, n))
    stats = box.stats()
    assert stats.backlog_alarms == 10
    assert stats.bytes_used <= 2000
    assert stats.evicted > 0
    delivered = numbers(await box.take(100))
    assert delivered[:10] == list(range(100, 110))  # every alarm is there
    # The oldest telemetry made room; what is left is the newest.
    assert delivered[10:] == list(range(15 - (15 - stats.evicted), 15))
    await box.close()


async def test_alarms_beyond_the_budget_are_kept_up_to_the_hard_cap(tmp_path, caplog):
    box = Outbox(tmp_path / "o.sqlite3", max_bytes=1000, alarm_hard_cap_bytes=2500)
    await box.open()
    for n in range(30):
        await box.put(message(OutboxPriority.ALARM, n))
    stats = box.stats()
    assert 1000 < stats.bytes_used <= 2500
    assert stats.refused_alarms == 30 - stats.backlog_alarms
    assert stats.refused_alarms > 0
    assert "GATEWAY FAULT" in caplog.text
    assert numbers(await box.take(100)) == list(range(stats.backlog_alarms))
    await box.close()


async def test_headroom_is_estimated_from_the_arrival_rate(outbox):
    assert outbox.stats().headroom_hours is None
    for n in range(10):
        await outbox.put(message(OutboxPriority.TELEMETRY, n))
    stats = outbox.stats()
    assert stats.backlog == 10
    assert stats.headroom_hours is not None
    assert stats.headroom_hours > 0


def test_the_headroom_estimate_keeps_a_bounded_window_however_fast_messages_come():
    # A thousand 500-byte messages a second for twenty minutes: the estimate holds
    # one entry per second of its ten-minute window, not one per message.
    window = _RateWindow(span=600.0)
    start = 1_700_000_000.0
    for n in range(1_200_000):
        window.add(500, start + n / 1000)
    assert len(window.buckets) <= 601
    assert window.per_hour(start + 1200) == pytest.approx(500 * 1000 * 3600, rel=0.01)


async def test_a_step_and_the_state_it_left_are_committed_together_and_come_back_after_a_restart(tmp_path):
    path = tmp_path / "outbox.sqlite3"
    box = Outbox(path)
    await box.open()
    assert await box.submit([message(OutboxPriority.ALARM, 1)], {"alarm/a": {"grade": "fault"}, "flood": {}})
    assert await box.submit([message(OutboxPriority.ALARM, 2)], {"alarm/a": None})  # the occurrence is over
    await box.close()

    reopened = Outbox(path)
    await reopened.open()
    assert reopened.saved_state == {"flood": {}}
    assert numbers(await reopened.take(10)) == [1, 2]
    await reopened.close()


async def test_submitting_never_waits_for_the_disk_and_commits_keep_the_submission_order(outbox):
    committed = [
        outbox.submit([message(OutboxPriority.ALARM if n % 3 else OutboxPriority.FAULT, n)])
        for n in range(30)
    ]
    assert not any(f.done() for f in committed)  # nothing waited for a commit
    assert await asyncio.gather(*committed) == [True] * 30
    batch = await outbox.take(100)
    assert numbers(batch) == [n for n in range(30) if n % 3] + [n for n in range(30) if not n % 3]
    assert [q.id for q in batch if q.message.priority is OutboxPriority.ALARM] == sorted(
        q.id for q in batch if q.message.priority is OutboxPriority.ALARM
    )


async def test_a_disk_that_refuses_holds_messages_in_memory_still_delivers_them_and_stores_them_later(
    tmp_path,
):
    blocked = tmp_path / "state"
    blocked.write_text("not a directory")  # the database cannot even be created
    box = Outbox(blocked / "outbox.sqlite3", retry_after=0.1)
    await box.open()
    assert box.storage_error is not None

    assert not await box.submit([message(OutboxPriority.ALARM, 1)], {"alarm/a": {"grade": "fault"}})
    assert not await box.submit([message(OutboxPriority.ALARM, 2)])
    assert box.stats().memory_only == 2
    first = await box.take(1)
    assert numbers(first) == [1]  # delivered from memory, in order
    box.done(first[0])

    blocked.unlink()
    blocked.mkdir()  # space again
    stored = asyncio.get_running_loop().create_future()
    box.on_storage = stored.set_result
    assert await asyncio.wait_for(stored, 5) is None
    assert box.stats().memory_only == 0
    await box.close()

    reopened = Outbox(blocked / "outbox.sqlite3")
    await reopened.open()
    assert reopened.saved_state == {"alarm/a": {"grade": "fault"}}
    assert numbers(await reopened.take(10)) == [2]  # the delivered one is gone
    await reopened.close()


async def test_an_alarm_refused_at_the_hard_cap_is_not_stored_and_a_storage_error_until_alarms_fit(tmp_path):
    box = Outbox(tmp_path / "o.sqlite3", max_bytes=1000, alarm_hard_cap_bytes=1500)
    await box.open()
    told: list[str | None] = []
    box.on_storage = told.append
    stored = [await box.put(message(OutboxPriority.ALARM, n)) for n in range(12)]
    assert stored == [True] * 12  # up to the cap
    assert not await box.submit([message(OutboxPriority.ALARM, 99)], {"alarm/x": {"n": 99}})
    assert box.stats().refused_alarms == 1
    await asyncio.sleep(0)  # the storage report follows the step
    assert box.storage_error is not None
    assert "hard cap" in box.storage_error
    assert told == [box.storage_error]
    for queued in await box.take(100):  # the platform takes the backlog
        box.done(queued)
    assert box.storage_error is None
    assert told[-1] is None
    assert await box.put(message(OutboxPriority.ALARM, 100))
    await box.close()


async def test_a_committed_message_is_handed_over_before_anything_its_commit_set_in_motion(outbox):
    handed: list[object] = []
    outbox.on_ready = lambda: handed.extend(numbers(outbox.take_ready(10)))
    committed = outbox.submit([message(OutboxPriority.ALARM, 1)])
    committed.add_done_callback(lambda _done: handed.append("announced"))
    assert handed == []  # nothing goes out before its commit
    await committed
    assert handed == [1, "announced"]


async def test_a_delivered_message_is_not_sent_again_after_a_crash_once_the_next_commit_is_made(tmp_path):
    path = tmp_path / "outbox.sqlite3"
    box = Outbox(path)
    await box.open()
    for n in range(3):
        await box.put(message(OutboxPriority.ALARM, n))
    for queued in await box.take(2):
        box.done(queued)
    await box.put(message(OutboxPriority.TELEMETRY, 3))  # the deletes ride with this commit

    crashed = Outbox(path)  # what a restart finds, the first process never closed
    await crashed.open()
    assert numbers(await crashed.take(10)) == [2, 3]
    await crashed.close()
    await box.close()


async def test_a_step_of_more_messages_than_one_statement_takes_is_stored_and_delivered_whole(tmp_path):
    path = tmp_path / "outbox.sqlite3"
    box = Outbox(path)
    await box.open()
    assert await box.submit([message(OutboxPriority.TELEMETRY, n, size=10) for n in range(1200)])
    delivered = await box.take(1000)
    for queued in delivered:
        box.done(queued)
    await box.close()

    reopened = Outbox(path)
    await reopened.open()
    assert numbers(await reopened.take(2000)) == list(range(1000, 1200))
    await reopened.close()


async def test_telemetry_flat_out_is_committed_in_groups_and_an_alarm_does_not_wait_for_the_group(
    outbox, monkeypatch
):
    database = outbox._db
    transactions: list[int] = []
    commit = database._commit

    def counted(writes):
        transactions.append(len(writes))
        return commit(writes)

    monkeypatch.setattr(database, "_commit", counted)
    routine = []
    for n in range(300):  # a telemetry message every 0.5 ms or so, as a station reading flat out
        routine.append(outbox.submit([message(OutboxPriority.TELEMETRY, n)]))
        await asyncio.sleep(0.0005)  # the arrival rate, not a synchronisation
    alarm = outbox.submit([message(OutboxPriority.ALARM, 1000)])
    assert await asyncio.wait_for(alarm, 5) is True
    assert all(f.done() for f in routine)  # submitted before the alarm: committed with or before it
    assert await asyncio.gather(*routine) == [True] * 300
    assert sum(transactions) >= 301
    assert len(transactions) < 100, transactions  # not one commit per message
    batch = await outbox.take(400)
    assert numbers(batch) == [1000, *range(300)]

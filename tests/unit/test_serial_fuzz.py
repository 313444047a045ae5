"""Fuzzing every hand-written parser with random and truncated bytes.

Each must return (never raise, never hang: hypothesis' deadline bounds every
example) and must account for what it rejects: every byte fed to a reader
comes out in a reading, a counted rejection, or the bytes still pending.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from drivers.modbus.rtu_client import Read, explain_heard
from drivers.serial_line.checksums import Algorithm, ByteChecksum, TextChecksum
from drivers.serial_line.framing import DelimitedFramer, FixedFramer, Frame, Rejection, Unparsable
from drivers.serial_line.parsing import TextFormat, TextPoint
from drivers.serial_line.protocol import LineReading
from drivers.values import ImplausibleReading
from tests.support.line_protocols import CLIMATE, CO, METHANE

PROTOCOLS = [METHANE, CO, CLIMATE.line_protocol()]
protocols = st.sampled_from(PROTOCOLS)
chunks = st.lists(st.binary(max_size=64), max_size=12)


def _valid_sentences(protocol, count: int) -> bytes:
    if protocol is CO:
        frame = protocol.blank_frame()
        frame[3] = count
        return protocol.sentence(frame) * count
    fields = {p.field: (count if p.format.is_integer else 1.5) for p in protocol.layout.points}
    return protocol.sentence(fields) * count


@given(protocol=protocols, pieces=chunks)
def test_readers_account_for_every_byte_of_random_input(protocol, pieces):
    reader = protocol.reader()
    out = [item for piece in pieces for item in reader.feed(piece)]
    consumed = sum(len(i.raw) if isinstance(i, LineReading) else len(i.data) for i in out)
    assert consumed + len(reader.pending) == sum(map(len, pieces))
    rejected = [item for item in out if isinstance(item, Rejection)]
    assert sum(reader.rejections.values()) == len(rejected)
    assert all(item.reason for item in rejected)
    pending = reader.pending
    assert b"".join(item.data for item in reader.flush()) == pending
    assert reader.pending == b""


@given(protocol=protocols, noise=st.binary(max_size=200), split=st.integers(0, 400))
def test_a_valid_frame_after_noise_is_still_read(protocol, noise, split):
    """Text framing resynchronises on its start marker, so the first frame after noise counts.

    Binary framing hunts for the header and trusts the checksum, and an 8-bit checksum
    passes one bogus candidate in 256: the frame after that one is read.
    """
    frames = 2 if protocol is CO else 1
    stream = noise + _valid_sentences(protocol, frames)
    reader = protocol.reader()
    out = reader.feed(stream[:split]) + reader.feed(stream[split:])
    readings = [item for item in out if isinstance(item, LineReading)]
    assert readings, out
    expected = protocol.reader().feed(_valid_sentences(protocol, frames))[-1]
    assert readings[-1].values == expected.values


@given(protocol=protocols, cut=st.integers(0, 200))
def test_a_truncated_frame_never_gives_a_reading(protocol, cut):
    sentence = _valid_sentences(protocol, 1)
    cut = min(cut, len(sentence) - 1)
    reader = protocol.reader()
    assert not [item for item in reader.feed(sentence[:cut]) if isinstance(item, LineReading)]
    flushed = reader.flush()
    assert all(isinstance(item, Rejection) for item in flushed)
    assert sum(reader.rejections.values()) >= (1 if cut else 0)


@given(
    start=st.binary(max_size=2),
    end=st.binary(min_size=1, max_size=2),
    max_length=st.integers(4, 64),
    pieces=chunks,
)
def test_delimited_framer_conserves_bytes_for_any_markers(start, end, max_length, pieces):
    framer = DelimitedFramer(end=end, start=start, max_length=max_length)
    out = [item for piece in pieces for item in framer.feed(piece)]
    consumed = sum(len(i.raw) if isinstance(i, Frame) else len(i.data) for i in out)
    assert consumed + len(framer.pending) == sum(map(len, pieces))
    for item in out:
        if isinstance(item, Frame):
            assert item.raw.startswith(start)
            assert item.raw.endswith(end)
            assert len(item.raw) <= max_length
    assert len(framer.pending) <= max_length


@given(header=st.binary(min_size=1, max_size=3), extra=st.integers(0, 12), pieces=chunks)
def test_fixed_framer_conserves_bytes_and_frames_have_their_length(header, extra, pieces):
    length = len(header) + extra
    framer = FixedFramer(header=header, length=length, check=ByteChecksum(Algorithm.SUM).check)
    out = [item for piece in pieces for item in framer.feed(piece)]
    consumed = sum(len(i.raw) if isinstance(i, Frame) else len(i.data) for i in out)
    assert consumed + len(framer.pending) == sum(map(len, pieces))
    for item in out:
        if isinstance(item, Frame):
            assert item.raw.startswith(header)
            assert len(item.raw) == length


@given(
    algorithm=st.sampled_from(list(Algorithm)),
    separator=st.sampled_from([b"", b"*", b","]),
    skip=st.integers(0, 3),
    body=st.binary(max_size=80),
)
def test_text_checksums_reject_garbage_without_raising_and_accept_what_they_sealed(
    algorithm, separator, skip, body
):
    checksum = TextChecksum(algorithm, separator, skip)
    verdict = checksum.check(body)
    assert verdict is None or isinstance(verdict, str)
    sealed = checksum.seal(body)
    if len(body) >= skip:
        assert checksum.check(sealed) is None
        assert checksum.strip(sealed) == body
    wrong = sealed[:-1] + (b"1" if sealed[-1:] == b"0" else b"0")
    assert checksum.check(wrong) is not None


@given(algorithm=st.sampled_from(list(Algorithm)), skip=st.integers(0, 3), frame=st.binary())
def test_byte_checksums_never_raise_and_accept_what_they_sealed(algorithm, skip, frame):
    checksum = ByteChecksum(algorithm, skip)
    assert checksum.check(frame) is None or isinstance(checksum.check(frame), str)
    if len(frame) > skip:
        sealed = checksum.seal(frame)
        assert checksum.check(sealed) is None
        assert checksum.check(sealed[:-1] + bytes([sealed[-1] ^ 0x01])) is not None


@given(protocol=protocols, body=st.binary(max_size=120))
def test_layouts_decode_random_bodies_or_say_why_not(protocol, body):
    try:
        decoded = protocol.layout.decode(body)
    except (Unparsable, ImplausibleReading) as exc:
        reason = str(exc)
        assert reason
    else:
        assert set(decoded) == {point.name for point in protocol.layout.points}


@given(text=st.text(max_size=30), format=st.sampled_from(list(TextFormat)))
def test_number_fields_are_numbers_or_rejected(text, format):
    point = TextPoint("p", "p", format)
    try:
        value = point.value(text)
    except (Unparsable, ImplausibleReading):
        return
    assert isinstance(value, float)


@given(heard=st.binary(min_size=1, max_size=40), unit=st.integers(1, 247))
def test_rtu_explanations_never_raise(heard, unit):
    refusal = explain_heard(heard, unit)
    assert refusal.kind in ("wrong unit", "cut short", "noise")
    assert refusal.reason
    assert refusal.frame == heard


@given(
    heard=st.binary(max_size=60),
    unit=st.integers(1, 247),
    function=st.integers(1, 4),
    count=st.integers(1, 20),
)
def test_rtu_answer_scan_accepts_only_a_whole_answer_of_the_shape_asked(heard, unit, function, count):
    read = Read(unit, function, 0, count)
    expected = Read.expected(read, lambda _start, _frame: None)
    answer, refused = expected.scan(heard, lambda _end: 1.0, lambda _length: 0.0)
    assert all(r.kind and r.reason and r.frame for r in refused)
    if answer is not None:
        assert answer[0] == unit
        assert answer[1] == function | 0x80 or answer[:3] == bytes([unit, function, read.byte_count])

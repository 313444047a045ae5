"""KISS, AX.25, APRS and Mic-E codecs: known vectors, round trips, and fuzzing for garbage."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.radio import aprs, mic_e
from drivers.radio.ax25 import Address, Ax25Error, UiFrame
from drivers.radio.kiss import FEND, FESC, KissDecoder, KissFrame, KissRejected, encode


def test_mic_e_example_of_the_aprs_spec():
    # APRS 1.0.1, chapter 10: destination S32U6T, information `(_fn"Oj/ ; decode_aprs agrees.
    report = mic_e.decode("S32U6T", b'`(_fn"Oj/')
    assert report.message == "Returning"
    assert not report.emergency
    assert report.position.lat == pytest.approx(33 + 25.64 / 60, abs=1e-6)
    assert report.position.lon == pytest.approx(-(12 + 7.74 / 60), abs=1e-6)
    assert report.position.speed_kmh == pytest.approx(20 * 1.852, abs=0.1)  # 20 knots
    assert report.position.course == 251
    assert report.position.symbol == "/j"  # a jeep


def test_mic_e_emergency_with_the_longitude_offset():
    report = mic_e.decode("332UVT", b'`(_fn"Oj/Help')
    assert report.emergency
    assert report.position.lon == pytest.approx(-(112 + 7.74 / 60), abs=1e-6)
    assert report.position.comment == "Help"


@pytest.mark.parametrize(
    ("destination", "message"),
    [("PPPUVT", "Off Duty"), ("PP2UVT", "En Route"), ("P2PUVT", "In Service"), ("3PPUVT", "Committed"),
     ("22PUVT", "Priority"), ("AAAUVT", "Custom-0"), ("A2PUVT", "Unknown")],
)  # fmt: skip
def test_mic_e_message_bits(destination, message):
    assert mic_e.decode(destination, b'`(_fn"Oj/').message == message


def test_mic_e_destination_encoding_round_trips():
    destination = mic_e.encode_destination(31.1812, 0b000, lon_offset=True, west=False)
    report = mic_e.decode(destination, b"`" + bytes([121 - 100 + 28, 26 + 28, 22 + 28]) + b"l\x1c\x1c>/")
    assert report.emergency
    assert report.position.lat == pytest.approx(31.1812, abs=1e-4)
    assert report.position.lon == pytest.approx(121 + 26.22 / 60, abs=1e-6)


def test_aprs_message_with_number_and_its_ack():
    packet = aprs.parse("APZRAD", b":N0GW-10  :EMERGENCY shelter 3{42")
    assert packet == aprs.AprsMessage("N0GW-10", "EMERGENCY shelter 3", "42")
    assert aprs.parse("APZ", aprs.ack("N0RAD-9", "42")) == aprs.Ack("N0RAD-9", "42")
    assert aprs.parse("APZ", b":N0GW-10  :rej7") == aprs.Ack("N0GW-10", "7", rejected=True)
    assert aprs.parse("APZ", b":N0GW-10  :HELP{AB}CD").number == "AB"  # reply-ack form
    assert aprs.parse("APZ", b":N0GW-10  :just text").number is None
    assert aprs.parse("APZ", aprs.message("BLN0", "Flood warning")).bulletin


def test_aprs_positions_uncompressed_and_compressed():
    plain = aprs.parse("APRS", b"!4903.50N/07201.75W-088/036Test")
    assert plain.position.lat == pytest.approx(49.058333, abs=1e-5)
    assert plain.position.lon == pytest.approx(-72.029167, abs=1e-5)
    assert plain.position.course == 88
    assert plain.position.comment == "Test"
    stamped = aprs.parse("APRS", b"@092345z4903.50N/07201.75W>")
    assert stamped.position.symbol == "/>"
    compressed = aprs.parse("APRS", b"=/5L!!<*e7>7P[")  # the spec's example: 49 30' N, 72 45' W
    assert compressed.position.lat == pytest.approx(49.5, abs=1e-4)
    assert compressed.position.lon == pytest.approx(-72.75, abs=1e-4)
    assert isinstance(aprs.parse("APRS", b"T#005,199,000"), aprs.Unsupported)


def test_ax25_ui_frame_round_trip_with_digipeaters():
    frame = UiFrame.from_tnc2("N0RAD-9>APZRAD,WIDE1-1::N0GW-10  :hi{1")
    decoded = UiFrame.decode(frame.encode())
    assert decoded == frame
    assert decoded.tnc2() == "N0RAD-9>APZRAD,WIDE1-1::N0GW-10  :hi{1"
    repeated = UiFrame(frame.destination, frame.source, (Address("DIGI", 1, repeated=True),), b"x")
    assert UiFrame.decode(repeated.encode()).path[0].repeated


def test_kiss_escapes_and_resynchronises():
    data = bytes([FEND, FESC, 1, 2])
    stream = b"noise" + encode(data) + encode(b"second", port=1)
    decoder = KissDecoder()
    pieces = decoder.feed(stream[:7]) + decoder.feed(stream[7:])
    assert pieces == [
        KissRejected("noise outside a frame", b"noise"),
        KissFrame(0, data),
        KissFrame(1, b"second"),
    ]
    assert decoder.feed(bytes([FEND, 0x00, FESC, 0x41, FEND])) == [
        KissRejected("bad escape", bytes([0x00, FESC, 0x41]))
    ]


def _decode_everything(data: bytes) -> list:
    """What a driver does with bytes from a TNC: every layer, every error caught as such."""
    results = []
    for piece in KissDecoder().feed(data):
        if isinstance(piece, KissRejected):
            results.append(piece)
            continue
        try:
            frame = UiFrame.decode(piece.data)
            results.append(aprs.parse(frame.destination.call, frame.info))
        except (Ax25Error, aprs.AprsError) as exc:
            results.append(exc)
    return results


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=600))
def test_random_bytes_never_crash_the_decoders(data):
    _decode_everything(data)
    _decode_everything(bytes([FEND, 0]) + data + bytes([FEND]))


VALID = [
    encode(UiFrame.from_tnc2(text).encode())
    for text in (
        'N0RAD-9>332UVT,WIDE1-1:`(_fn"Oj/Help',
        "N0RAD-9>APZRAD::N0GW-10  :EMERGENCY shelter 3{42",
        "N0RAD-9>APRS:!4903.50N/07201.75W-088/036Test",
    )
]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(VALID), st.data())
def test_truncated_and_corrupted_frames_are_rejections_not_crashes(frame, data):
    cut = data.draw(st.integers(2, len(frame) - 1))
    flips = data.draw(st.lists(st.tuples(st.integers(1, len(frame) - 2), st.integers(0, 255)), max_size=4))
    corrupted = bytearray(frame[:cut] + bytes([FEND]))
    for at, value in flips:
        if at < len(corrupted) - 1:
            corrupted[at] = value
    results = _decode_everything(bytes(corrupted))
    assert len(results) <= 3  # a flipped byte can be a FEND: at most a few pieces, each accounted for


@settings(max_examples=300, deadline=None)
@given(st.text(min_size=1, max_size=80), st.from_regex(r"[A-Za-z0-9]{1,5}", fullmatch=True))
def test_messages_round_trip_as_one_printable_line(text, number):
    info = aprs.message("N0GW-10", text, number)
    assert not any(byte < 32 for byte in info)
    packet = aprs.parse("APZ", info)
    assert isinstance(packet, aprs.AprsMessage)
    assert packet.number == number
    substitutes = {"{": "(", "|": "/", "~": "-", "\x7f": " "}  # "{" would start a message number
    expected = "".join(" " if ord(c) < 32 else substitutes.get(c, c) for c in text)
    assert packet.text == expected[: aprs.MAX_MESSAGE_TEXT]

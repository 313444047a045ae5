"""Rejected frames: counted per device and reason, the last one kept escaped, one warning per device."""

from __future__ import annotations

import logging

from drivers.rejections import Refusal, RejectionLog


def test_a_noisy_line_gives_one_warning_per_device_with_the_frame_escaped(caplog):
    rejections = RejectionLog("serial port /dev/ttyUSB0 9600 8N1")
    forged = b"\x01\x03\nWARNING forged line\r\n"
    with caplog.at_level(logging.WARNING, logger="drivers.rejections"):
        for _ in range(50):
            rejections.record("kitchen-gas", Refusal("bad CRC", "answer with a bad CRC", forged))
        rejections.record("boiler-gas", Refusal("noise", "noise on the line", b"\xff" * 500))
    assert rejections.of("kitchen-gas") == {"bad CRC": 50}
    assert rejections.of("boiler-gas") == {"noise": 1}
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 2  # one per device, however many frames
    assert all("\n" not in w and "\r" not in w for w in warnings)
    assert "kitchen-gas" in warnings[0]
    assert "answer with a bad CRC" in warnings[0]
    last = rejections.last["kitchen-gas"]
    assert last.frame == repr(forged)
    assert "\n" not in last.frame
    assert rejections.last["boiler-gas"].frame.endswith("…(+436)")  # cut short


def test_a_device_is_warned_about_again_once_its_quiet_time_is_over(caplog):
    rejections = RejectionLog("bus", warn_every=0.0)
    with caplog.at_level(logging.WARNING, logger="drivers.rejections"):
        rejections.record("meter", Refusal("bad checksum", "bad checksum", b"$X*00"))
        rejections.record("meter", Refusal("bad checksum", "bad checksum", b"$X*00"))
    assert len(caplog.records) == 2

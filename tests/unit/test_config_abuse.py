"""Configuration files made to hurt: each is refused with one line, quickly and in little memory.

A running gateway reloads its configuration, so whatever a file holds must end
as one :class:`ConfigError`, never a traceback, a hang or gigabytes of memory.
"""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest

from gateway.config import ConfigError, load_config
from tests.support.abuse_files import (
    billion_laughs,
    binary,
    deep_block_nesting,
    deep_flow_nesting,
    dev_zero,
    directory,
    fifo,
    fifty_megabytes,
    gbk,
    impossible_date,
    recursive_alias,
)

SECONDS = 5.0  # generous: each is refused in milliseconds
PEAK_BYTES = 100 * 1024 * 1024


ABUSES: dict[str, tuple[Callable[[Path], Path], str]] = {
    "bomb": (billion_laughs, "station.yaml:5: aliases expand the file to more than"),
    "recursive alias": (recursive_alias, "station.yaml:2: alias *loop is inside its own anchor"),
    "deep flow nesting": (deep_flow_nesting, "station.yaml:1: nested more than 32 levels deep"),
    "deep block nesting": (deep_block_nesting, "station.yaml:2: nested more than 32 levels deep"),
    "binary": (binary, "station.yaml:1: is a binary file, not YAML text (a NUL byte at byte offset 0)"),
    "gbk": (gbk, "station.yaml:3: is not UTF-8 text (byte 0xba at byte offset 31); save it as UTF-8"),
    "fifo": (fifo, "station.yaml: is a FIFO (named pipe), not a regular file"),
    "/dev/zero": (dev_zero, "zero: is a character device, not a regular file"),
    "50 MB": (fifty_megabytes, "station.yaml: is 52428800 bytes; at most 1 MiB are allowed here"),
    "directory": (directory, "station.yaml: is a directory, not a regular file"),
    "impossible date": (impossible_date, "station.yaml:2: invalid YAML: cannot read '2024-13-01'"),
}


@pytest.mark.parametrize("abuse", ABUSES)
def test_abusive_file_is_one_clean_line_in_bounded_time_and_memory(tmp_path, abuse):
    make, expected = ABUSES[abuse]
    path = make(tmp_path / "station.yaml")
    tracemalloc.start()
    started = time.monotonic()
    try:
        with pytest.raises(ConfigError) as caught:
            load_config(path)
        elapsed = time.monotonic() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    [line] = str(caught.value).splitlines()
    assert line.startswith(expected)
    assert elapsed < SECONDS
    assert peak < PEAK_BYTES


def test_a_gbk_file_is_told_to_be_saved_as_utf8(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load_config(gbk(tmp_path / "station.yaml"))
    assert "a file saved as GBK" in str(caught.value)
    assert "must be saved again as UTF-8" in str(caught.value)

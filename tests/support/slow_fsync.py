"""A slow disk for one process: the ``slow_fsync.c`` shim, built here, loaded with ``LD_PRELOAD``.

A Raspberry Pi's SD card takes 40-150 ms per fsync; a developer's SSD takes
well under one. The shim makes the gateway process (and only it: the test,
the broker and the simulators keep the real disk) wait that long in every
``fsync``, ``fdatasync`` and ``sync_file_range``, so the windows between two
writes that a crash can fall into are as wide as on the station.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

SOURCE = Path(__file__).with_name("slow_fsync.c")
SD_CARD_MS = (40, 150)  # what one fsync costs on a Pi's SD card


class ShimUnavailable(RuntimeError):
    """No C compiler here, or the shim did not build: a test needing it is skipped."""


def build_slow_fsync(directory: Path) -> Path:
    """Compile the shim into ``directory`` (once: an existing build is reused) and return its path."""
    library = directory / "slow_fsync.so"
    if library.exists():
        return library
    compiler = shutil.which(os.environ.get("CC", "cc"))
    if compiler is None:
        raise ShimUnavailable("no C compiler (cc) to build the slow-fsync shim")
    directory.mkdir(parents=True, exist_ok=True)
    built = subprocess.run(
        [compiler, "-shared", "-fPIC", "-O2", "-o", str(library), str(SOURCE), "-ldl", "-lpthread"],
        capture_output=True,
        text=True,
        check=False,
    )
    if built.returncode != 0:
        raise ShimUnavailable(f"the slow-fsync shim did not build:\n{built.stderr}")
    return library


def slow_fsync_env(library: Path, min_ms: int = SD_CARD_MS[0], max_ms: int = SD_CARD_MS[1]) -> dict[str, str]:
    """The environment additions that make a process started with them fsync at ``min_ms``-``max_ms``."""
    preload = " ".join(filter(None, [str(library), os.environ.get("LD_PRELOAD", "")]))
    return {"LD_PRELOAD": preload, "SLOW_FSYNC_MIN_MS": str(min_ms), "SLOW_FSYNC_MAX_MS": str(max_ms)}

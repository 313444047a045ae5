"""Replacing a small state file so that a power cut leaves the old content or the new, never neither.

The sequence reservation, the alarm state and the boot counter all promise
something across a restart; on a Pi that loses power without warning, only a
file fsynced, renamed over the old one, and followed by an fsync of the
directory (which makes the rename itself durable) keeps that promise.
"""

from __future__ import annotations

import os
from pathlib import Path


def write_durably(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` (UTF-8) atomically, on disk when this returns.

    On any failure the temporary file is removed and the exception raised;
    ``path`` then still holds its previous content.
    """
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)

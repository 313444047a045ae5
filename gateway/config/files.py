"""Reading a file named in the configuration without letting it block or flood the gateway.

A configuration is reloaded inside the running daemon, so a path that names a
FIFO, a device such as ``/dev/zero`` or a huge file must be refused at once:
the kind of file is checked before it is opened, it is opened without
blocking, and no more than the limit is ever read.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

MAX_CONFIG_BYTES = 1024 * 1024  # a station file or a profile
MAX_SECRET_BYTES = 64 * 1024  # a password, key or token file

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


class UnreadableFile(Exception):
    """Why a file cannot be used, in words for the person who named it."""


def read_bounded(path: Path, limit: int) -> bytes:
    """The whole of the regular file ``path``, which must hold at most ``limit`` bytes."""
    try:
        _check_regular(os.stat(path), limit)
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise UnreadableFile(f"cannot read: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as file:
        # The path may have been swapped for something else since the stat above.
        _check_regular(os.fstat(file.fileno()), limit)
        try:
            data = file.read(limit + 1)
        except OSError as exc:
            raise UnreadableFile(f"cannot read: {exc.strerror}") from None
    if len(data) > limit:
        raise UnreadableFile(_too_big(limit))
    return data


def _check_regular(info: os.stat_result, limit: int) -> None:
    if not stat.S_ISREG(info.st_mode):
        kind = next((name for test, name in _KINDS if test(info.st_mode)), "not a file")
        raise UnreadableFile(f"is {kind}, not a regular file")
    if info.st_size > limit:
        raise UnreadableFile(_too_big(limit, info.st_size))


def _too_big(limit: int, size: int | None = None) -> str:
    what = f"is {size} bytes" if size is not None else "is too big"
    most = f"{limit >> 20} MiB" if limit % (1 << 20) == 0 else f"{limit >> 10} KiB"
    return f"{what}; at most {most} are allowed here"

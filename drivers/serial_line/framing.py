"""Cutting a serial byte stream into frames, and accounting for every byte that is not one.

Hand-written: asyncio's ``readuntil`` and pyserial's ``read_until`` know a
terminator but not start markers, resynchronisation after a cut-short frame,
a length bound against a sensor that never sends its terminator, or hunting
for a binary header whose checksum decides whether it was a real one. Each of
those rules is a few lines here.

Every byte fed in comes out exactly once: in a :class:`Frame`, in a
:class:`Rejection` piece with the reason, or still ``pending`` for the next
feed. Nothing is dropped silently, which is what the fuzz tests check.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

Check = Callable[[bytes], str | None]
"""Returns why a frame body is invalid (a checksum mismatch), or ``None``."""


@dataclass(frozen=True, slots=True)
class Frame:
    raw: bytes  # every byte the frame took from the stream, markers included
    body: bytes  # what lies between the markers (a fixed-length frame: all of it)


@dataclass(frozen=True, slots=True)
class Rejection:
    reason: str
    data: bytes


Piece = Frame | Rejection


class Unparsable(ValueError):
    """A frame that passed framing and checksum but does not hold the expected values."""


def _partial_marker(buffer: bytes, marker: bytes) -> int:
    """Length of the longest tail of ``buffer`` that could be the start of ``marker``."""
    for length in range(min(len(marker) - 1, len(buffer)), 0, -1):
        if marker.startswith(buffer[-length:]):
            return length
    return 0


class _Buffered:
    """What both framers share: the bytes of a frame not yet complete."""

    _buffer: bytes = b""

    @property
    def pending(self) -> bytes:
        return self._buffer

    def flush(self) -> list[Piece]:
        """Give up on the bytes of an unfinished frame (a poll's answer window closed)."""
        pending, self._buffer = self._buffer, b""
        return [Rejection("incomplete frame", pending)] if pending else []


class DelimitedFramer(_Buffered):
    """Frames that end with ``end`` and, if given, begin with ``start`` (text sensors).

    A start marker seen again before the end means the earlier frame was cut
    short: it is rejected and framing resumes at the new start. Frames longer
    than ``max_length`` bytes, markers included, are rejected.
    """

    def __init__(
        self, *, end: bytes, start: bytes = b"", max_length: int = 256, check: Check | None = None
    ) -> None:
        if not end:
            raise ValueError("a delimited frame needs an end marker")
        self._end = end
        self._start = start
        self._max = max_length
        self._check = check

    def feed(self, data: bytes) -> list[Piece]:
        buffer = self._buffer + data
        out: list[Piece] = []
        while buffer:
            if self._start:
                buffer, found = _skip_to(self._start, buffer, out)
                if not found:
                    break
            body_from = len(self._start)
            end = buffer.find(self._end, body_from)
            if self._start:
                restart = buffer.find(self._start, body_from, end if end >= 0 else len(buffer))
                if restart >= 0:
                    out.append(Rejection("frame cut short", buffer[:restart]))
                    buffer = buffer[restart:]
                    continue
            if end < 0:
                if len(buffer) > self._max:
                    out.append(Rejection("overlong frame", buffer))
                    buffer = b""
                break
            raw, body = buffer[: end + len(self._end)], buffer[body_from:end]
            buffer = buffer[len(raw) :]
            out.append(self._judge(raw, body))
        self._buffer = buffer
        return out

    def _judge(self, raw: bytes, body: bytes) -> Piece:
        if len(raw) > self._max:
            return Rejection("overlong frame", raw)
        if self._check and (why := self._check(body)):
            return Rejection(why, raw)
        return Frame(raw, body)


class FixedFramer(_Buffered):
    """Fixed-length binary frames that begin with ``header``.

    A candidate whose check fails may have started at a header look-alike in
    the data, so only its first byte is rejected and the hunt for a header
    resumes from the next one.
    """

    def __init__(self, *, header: bytes, length: int, check: Check | None = None) -> None:
        if not header or length < len(header):
            raise ValueError("a fixed-length frame needs a header no longer than the frame")
        self._header = header
        self._length = length
        self._check = check

    def feed(self, data: bytes) -> list[Piece]:
        buffer = self._buffer + data
        out: list[Piece] = []
        while buffer:
            buffer, found = _skip_to(self._header, buffer, out)
            if not found or len(buffer) < self._length:
                break
            candidate = buffer[: self._length]
            if self._check and (why := self._check(candidate)):
                out.append(Rejection(why, buffer[:1]))
                buffer = buffer[1:]
                continue
            out.append(Frame(candidate, candidate))
            buffer = buffer[self._length :]
        self._buffer = buffer
        return out


Framer = DelimitedFramer | FixedFramer


def _skip_to(marker: bytes, buffer: bytes, out: list[Piece]) -> tuple[bytes, bool]:
    """Reject the noise before ``marker``; whether the buffer now starts with it.

    Without a marker in sight, a tail that may be its beginning is kept for
    the next read.
    """
    at = buffer.find(marker)
    if at < 0:
        keep = _partial_marker(buffer, marker)
        if len(buffer) > keep:
            out.append(Rejection("noise outside a frame", buffer[: len(buffer) - keep]))
        return buffer[len(buffer) - keep :], False
    if at > 0:
        out.append(Rejection("noise outside a frame", buffer[:at]))
    return buffer[at:], True

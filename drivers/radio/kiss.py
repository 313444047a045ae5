"""KISS framing between a host and a TNC (direwolf, a hardware TNC, a radio with a built-in one).

Hand-written: the protocol is four special bytes, and the decoder must
account for every byte it drops (noise, bad escapes, overlong frames) so a
noisy serial line is counted rather than silently eaten.

A frame is ``FEND <type> <data, escaped> FEND``. The type byte carries the
TNC port in its high nibble and the command in its low nibble; only command
0 (data) carries an AX.25 frame.
"""

from __future__ import annotations

from dataclasses import dataclass

FEND = 0xC0
FESC = 0xDB
TFEND = 0xDC
TFESC = 0xDD
DATA = 0x00
MAX_FRAME = 1024  # AX.25 with a 256-byte info field and 8 digipeaters fits well inside


@dataclass(frozen=True, slots=True)
class KissFrame:
    port: int
    data: bytes


@dataclass(frozen=True, slots=True)
class KissRejected:
    reason: str
    data: bytes


def escape(data: bytes) -> bytes:
    return data.replace(bytes([FESC]), bytes([FESC, TFESC])).replace(bytes([FEND]), bytes([FESC, TFEND]))


def encode(data: bytes, port: int = 0) -> bytes:
    """A data frame for TNC ``port`` (0..15)."""
    if not 0 <= port <= 15:
        raise ValueError("a KISS port is 0..15")
    return bytes([FEND, (port << 4) | DATA]) + escape(data) + bytes([FEND])


def _unescape(body: bytes) -> bytes | None:
    out = bytearray()
    escaped = False
    for byte in body:
        if escaped:
            if byte == TFEND:
                out.append(FEND)
            elif byte == TFESC:
                out.append(FESC)
            else:
                return None
            escaped = False
        elif byte == FESC:
            escaped = True
        else:
            out.append(byte)
    return None if escaped else bytes(out)


class KissDecoder:
    """Bytes from a TNC in; data frames and counted rejections out.

    Bytes before the first FEND are noise; empty frames (back-to-back FENDs)
    are the normal idle filler and are not rejections; non-data commands from
    the TNC are ignored but counted.
    """

    def __init__(self, max_frame: int = MAX_FRAME) -> None:
        self._max = max_frame
        self._buffer = bytearray()
        self._in_frame = False

    def feed(self, data: bytes) -> list[KissFrame | KissRejected]:
        out: list[KissFrame | KissRejected] = []
        for chunk in _split_keep(data):
            if isinstance(chunk, int):  # FEND
                if self._in_frame and self._buffer:
                    out.append(self._judge(bytes(self._buffer)))
                elif not self._in_frame and self._buffer:
                    out.append(KissRejected("noise outside a frame", bytes(self._buffer)))
                self._buffer.clear()
                self._in_frame = True
                continue
            self._buffer += chunk
            if len(self._buffer) > self._max:
                out.append(KissRejected("overlong frame", bytes(self._buffer)))
                self._buffer.clear()
                self._in_frame = False  # resynchronise on the next FEND
        return out

    def _judge(self, frame: bytes) -> KissFrame | KissRejected:
        kind = frame[0]
        if kind & 0x0F != DATA:
            return KissRejected(f"not a data frame: command {kind & 0x0F}", frame)
        body = _unescape(frame[1:])
        if body is None:
            return KissRejected("bad escape", frame)
        if not body:
            return KissRejected("empty data frame", frame)
        return KissFrame(kind >> 4, body)


def _split_keep(data: bytes) -> list[bytes | int]:
    """``data`` as runs of ordinary bytes and single FEND markers (as the int FEND)."""
    pieces: list[bytes | int] = []
    start = 0
    while (at := data.find(FEND, start)) >= 0:
        if at > start:
            pieces.append(data[start:at])
        pieces.append(FEND)
        start = at + 1
    if start < len(data):
        pieces.append(data[start:])
    return pieces

"""Audio "air" between two direwolf TNCs without sound cards: a paced PCM pipe to UDP.

direwolf writes its transmit audio to an ALSA ``file`` PCM; with ``file
"|python audio_air.py PORT RATE"`` that audio arrives here on stdin. This
sends it to the other direwolf's UDP audio input at the real sample rate, in
10 ms datagrams, with silence between transmissions: direwolf drops audio
that comes faster than real time, and a receive stream that stops can leave
its carrier detect stuck busy. Standard library only: ALSA starts it as a
plain script.
"""

from __future__ import annotations

import os
import select
import socket
import sys
import time

TICK = 0.01


def main() -> None:
    port, rate = int(sys.argv[1]), int(sys.argv[2])
    chunk = int(rate * TICK) * 2  # 16-bit mono
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    source = sys.stdin.fileno()
    os.set_blocking(source, False)
    pending = bytearray()
    start = time.monotonic()
    ticks = 0
    while True:
        ticks += 1
        due = start + ticks * TICK
        while (wait := due - time.monotonic()) > 0:
            readable, _, _ = select.select([source], [], [], wait)
            if readable:
                data = os.read(source, 65536)
                if not data:
                    return  # direwolf went away
                pending += data
        out = bytes(pending[:chunk]).ljust(chunk, b"\0")
        del pending[:chunk]
        sock.sendto(out, ("127.0.0.1", port))


if __name__ == "__main__":
    main()

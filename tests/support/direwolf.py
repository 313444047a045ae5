"""direwolf, the real software TNC, as a test peer: two instances joined by paced audio ("virtual air").

Each instance receives 16-bit PCM on a UDP port and transmits into an ALSA
``file`` PCM piped to :mod:`simulators.radios.audio_air`, which paces that audio to
the other instance's UDP port. A radio (the test, through
:class:`simulators.radios.aprs_radio.AprsRadio`) talks KISS to one instance, the
gateway to the other: every frame between them crosses as real 1200-baud AFSK.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.support.peers import REPO, _wait_for_port

RATE = 44100


def kiss_port() -> int:
    """A free TCP port below 49152: direwolf refuses KISS ports in the ephemeral range."""
    for _ in range(100):
        port = random.randint(20000, 40000)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port for direwolf's KISS server")


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Direwolf:
    directory: Path
    mycall: str
    audio_in: int  # UDP port it listens on
    audio_out: int  # UDP port its transmissions are sent to
    kiss_port: int = 0
    process: subprocess.Popen | None = None

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.kiss_port = kiss_port()
        pacer = f"{sys.executable} {REPO / 'simulators' / 'radios' / 'audio_air.py'} {self.audio_out} {RATE}"
        (self.directory / ".asoundrc").write_text(
            f'pcm.dwtx {{ type file slave.pcm "null" file "|{pacer}" format "raw" }}\n'
        )
        (self.directory / "dw.conf").write_text(
            f"ADEVICE UDP:{self.audio_in} dwtx\nARATE {RATE}\nCHANNEL 0\nMYCALL {self.mycall}\n"
            f"MODEM 1200\nKISSPORT {self.kiss_port}\nAGWPORT 0\n"
        )
        with open(self.directory / "direwolf.log", "ab") as log:
            self.process = subprocess.Popen(
                ["direwolf", "-c", "dw.conf", "-t", "0", "-q", "d"],
                cwd=self.directory,
                env={**os.environ, "HOME": str(self.directory)},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # the pacer it spawns goes down with it
            )
        try:
            _wait_for_port(self.kiss_port, self.process)
        except RuntimeError as exc:
            self.stop()
            raise RuntimeError(f"{exc}: {self.log}") from None

    @property
    def log(self) -> str:
        return (self.directory / "direwolf.log").read_text(errors="replace")

    def stop(self) -> None:
        if self.process is not None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
            self.process = None


@dataclass
class VirtualAir:
    gateway: Direwolf
    radio: Direwolf

    @classmethod
    def start(cls, directory: Path, gateway_call: str, radio_call: str) -> VirtualAir:
        if shutil.which("direwolf") is None:
            raise RuntimeError("direwolf is not installed: run scripts/install-peers (make test does)")
        a, b = free_udp_port(), free_udp_port()
        air = cls(
            Direwolf(directory / "gw-tnc", gateway_call, a, b),
            Direwolf(directory / "radio-tnc", radio_call, b, a),
        )
        air.gateway.start()
        try:
            air.radio.start()
        except BaseException:
            air.gateway.stop()
            raise
        return air

    def stop(self) -> None:
        self.radio.stop()
        self.gateway.stop()

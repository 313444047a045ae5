"""How a simulated device misbehaves on request: the failures a test or demo can switch on."""

from __future__ import annotations

from enum import StrEnum


class Behaviour(StrEnum):
    NORMAL = "normal"
    SILENT = "silent"  # requests arrive, no answer leaves: the master times out
    EXCEPTION = "exception"  # Modbus units only: an exception response with a code
    BAD_CHECKSUM = "bad_checksum"  # serial lines: the answer's CRC or checksum is wrong
    NOISE = "noise"  # serial lines: random bytes instead of the answer
    WRONG_LENGTH = "wrong_length"  # Modbus RTU: a well-formed answer one value short
    LATE = "late"  # Modbus RTU: the right answer, ``late_by`` seconds after it was due


class Misbehaving:
    """The switches every simulated device has."""

    behaviour: Behaviour = Behaviour.NORMAL
    late_by: float = 0.0

    def go_silent(self) -> None:
        self.behaviour = Behaviour.SILENT

    def answer_with_bad_checksum(self) -> None:
        self.behaviour = Behaviour.BAD_CHECKSUM

    def answer_with_noise(self) -> None:
        self.behaviour = Behaviour.NOISE

    def answer_late(self, seconds: float) -> None:
        """A slow slave: each answer leaves ``seconds`` late, often after the master gave up."""
        self.behaviour, self.late_by = Behaviour.LATE, seconds

    def answer_normally(self) -> None:
        self.behaviour = Behaviour.NORMAL

"""Read planning: turn a device's points into the fewest Modbus read requests.

Slow buses (9600 baud RS-485) spend most of their time on request overhead, so
neighbouring points are merged into one block read when the gap between them
is small. Devices that reject block reads set ``coalesce=False``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import groupby

from drivers.modbus.registers import RegisterPoint, RegisterType

MAX_REGISTERS_PER_READ = 125
MAX_BITS_PER_READ = 2000


@dataclass(frozen=True, slots=True)
class ReadRequest:
    """One Modbus read and the points it carries."""

    register: RegisterType
    address: int
    count: int
    points: tuple[RegisterPoint, ...]

    def raw_for(self, point: RegisterPoint, block: Sequence[int] | Sequence[bool]) -> Sequence:
        """The part of this request's answer that belongs to ``point``."""
        start = point.address - self.address
        return block[start : start + point.width]


def plan_reads(
    points: Iterable[RegisterPoint],
    *,
    coalesce: bool = True,
    max_gap: int = 8,
) -> list[ReadRequest]:
    """Plan the reads for ``points``, merging neighbours at most ``max_gap`` apart.

    Requests never exceed the protocol limits (125 registers, 2000 bits).
    Points sharing one register (bit flags) always share a request.
    """
    requests: list[ReadRequest] = []

    def kind(point: RegisterPoint) -> str:
        return point.register.value

    ordered = sorted(points, key=lambda p: (kind(p), p.address, p.width))
    for register_name, group in groupby(ordered, key=kind):
        register = RegisterType(register_name)
        limit = MAX_BITS_PER_READ if register.is_bit else MAX_REGISTERS_PER_READ
        start = end = -1
        members: list[RegisterPoint] = []
        for point in group:
            point_end = point.address + point.width
            shares_words = members and point.address < end
            fits = members and point_end - start <= limit
            near = members and point.address - end <= max_gap
            if members and fits and (shares_words or (coalesce and near)):
                members.append(point)
                end = max(end, point_end)
                continue
            if members:
                requests.append(ReadRequest(register, start, end - start, tuple(members)))
            members, start, end = [point], point.address, point_end
        if members:
            requests.append(ReadRequest(register, start, end - start, tuple(members)))
    return requests

"""Read planning: turn a device's points into the fewest Modbus read requests.

Slow buses (9600 baud RS-485) spend most of their time on request overhead, so
neighbouring points are merged into one block read when the gap between them
is small. The rules, per register type:

- points that share words (bit flags of one status register, overlapping
  values) always travel in one request: they form an indivisible *cluster*;
- clusters are merged while the gap between them is at most ``max_gap``, the
  request stays within the protocol limits (125 registers, 2000 bits) and the
  merged block would not cover an address the device refuses to read
  (``unreadable``);
- urgent and routine points are planned separately, so a routine telemetry
  block never lengthens the read an alarm depends on. A routine point sharing
  words with an urgent one is read with it, urgently.

Devices that reject block reads set ``coalesce=False``: then every cluster is
its own request. Merging greedily from the lowest address is optimal here:
whether a run of consecutive clusters fits in one request only gets harder as
the run grows, so extending every request as far as it goes never needs more
requests than any other split.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from drivers.modbus.registers import ReadPriority, RegisterPoint, RegisterType

MAX_REGISTERS_PER_READ = 125
MAX_BITS_PER_READ = 2000


def read_limit(register: RegisterType) -> int:
    """The most addresses one read of ``register`` may cover."""
    return MAX_BITS_PER_READ if register.is_bit else MAX_REGISTERS_PER_READ


@dataclass(frozen=True, slots=True)
class AddressRange:
    """Addresses ``first..last`` (inclusive) of one register type."""

    register: RegisterType
    first: int
    last: int

    def overlaps(self, register: RegisterType, start: int, end: int) -> bool:
        """Whether the half-open block ``start..end-1`` of ``register`` touches this range."""
        return register is self.register and start <= self.last and self.first < end


@dataclass(frozen=True, slots=True)
class ReadRequest:
    """One Modbus read and the points it carries."""

    register: RegisterType
    address: int
    count: int
    points: tuple[RegisterPoint, ...]
    priority: ReadPriority = ReadPriority.URGENT

    def raw_for(self, point: RegisterPoint, block: Sequence[int] | Sequence[bool]) -> Sequence:
        """The part of this request's answer that belongs to ``point``."""
        start = point.address - self.address
        return block[start : start + point.width]

    def describe(self) -> str:
        return f"{self.register.value} {self.address}..{self.address + self.count - 1}"


@dataclass(slots=True)
class _Cluster:
    """Points that share words, hence one read; its priority is the highest among them."""

    start: int
    end: int
    points: list[RegisterPoint]
    priority: ReadPriority


def plan_reads(
    points: Iterable[RegisterPoint],
    *,
    coalesce: bool = True,
    max_gap: int = 8,
    unreadable: Iterable[AddressRange] = (),
) -> list[ReadRequest]:
    """Plan the reads for ``points`` (see the module docstring for the rules)."""
    points = list(points)
    holes = list(unreadable)
    requests: list[ReadRequest] = []
    for register in RegisterType:
        group = sorted((p for p in points if p.register is register), key=lambda p: (p.address, p.width))
        clusters = _clusters(group, read_limit(register))
        for priority in sorted({c.priority for c in clusters}, reverse=True):
            same = [c for c in clusters if c.priority is priority]
            requests.extend(_merge(register, same, coalesce=coalesce, max_gap=max_gap, holes=holes))
    return requests


def _clusters(ordered: list[RegisterPoint], limit: int) -> list[_Cluster]:
    clusters: list[_Cluster] = []
    for point in ordered:
        end = point.address + point.width
        last = clusters[-1] if clusters else None
        if last and point.address < last.end and max(last.end, end) - last.start <= limit:
            last.points.append(point)
            last.end = max(last.end, end)
            last.priority = max(last.priority, point.priority)
        else:
            clusters.append(_Cluster(point.address, end, [point], point.priority))
    return clusters


def _merge(
    register: RegisterType,
    clusters: list[_Cluster],
    *,
    coalesce: bool,
    max_gap: int,
    holes: list[AddressRange],
) -> list[ReadRequest]:
    limit = read_limit(register)
    runs: list[list[_Cluster]] = []
    for cluster in clusters:
        run = runs[-1] if runs else None
        if (
            run is not None
            and coalesce
            and cluster.start - run[-1].end <= max_gap
            and cluster.end - run[0].start <= limit
            and not any(h.overlaps(register, run[-1].end, cluster.start) for h in holes)
        ):
            run.append(cluster)
        else:
            runs.append([cluster])
    return [
        ReadRequest(
            register,
            run[0].start,
            max(c.end for c in run) - run[0].start,
            tuple(p for c in run for p in c.points),
            run[0].priority,
        )
        for run in runs
    ]

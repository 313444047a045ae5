"""Decoding every data type and word order, refusing values no sensor means, and planning reads."""

from __future__ import annotations

import itertools
import math
import re
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.modbus.plan import AddressRange, plan_reads, read_limit
from drivers.modbus.registers import (
    DataType,
    ReadPriority,
    RegisterPoint,
    RegisterType,
    WordOrder,
    decode,
    encode,
)
from drivers.values import ImplausibleReading, engineering
from gateway.buses import modbus_devices
from gateway.config import load_config
from gateway.config.paths import example_station

HOLDING = RegisterType.HOLDING


def words(fmt: str, value) -> list[int]:
    """Big-endian words of ``value`` packed with struct format ``fmt``."""
    raw = struct.pack(f">{fmt}", value)
    return [int.from_bytes(raw[i : i + 2], "big") for i in range(0, len(raw), 2)]


@pytest.mark.parametrize(
    ("data_type", "fmt", "value"),
    [
        (DataType.U16, "H", 65535),
        (DataType.S16, "h", -1234),
        (DataType.U32, "I", 4_000_000_000),
        (DataType.S32, "i", -2_000_000_000),
        (DataType.F32, "f", -3.5),
    ],
)
@pytest.mark.parametrize("order", list(WordOrder))
def test_decode_each_type_and_word_order(data_type, fmt, value, order):
    raw = words(fmt, value)
    if order is WordOrder.LITTLE:
        raw = list(reversed(raw))
    point = RegisterPoint("p", HOLDING, 0, data_type=data_type, word_order=order)
    assert decode(point, raw) == pytest.approx(value)


def test_word_order_matters_for_32_bit_values():
    raw = words("I", 0x00010002)
    big = RegisterPoint("p", HOLDING, 0, data_type=DataType.U32)
    little = RegisterPoint("p", HOLDING, 0, data_type=DataType.U32, word_order=WordOrder.LITTLE)
    assert decode(big, raw) == 0x00010002
    assert decode(little, raw) == 0x00020001


def test_scale_offset_and_flags():
    gas = RegisterPoint("gas", HOLDING, 0, scale=0.1, unit="%LEL")
    assert decode(gas, [605]) == pytest.approx(60.5)
    temperature = RegisterPoint("t", HOLDING, 0, data_type=DataType.S16, scale=0.1, offset=-40)
    assert decode(temperature, [words("h", 250)[0]]) == pytest.approx(-15.0)
    fault = RegisterPoint("fault", HOLDING, 1, bit=2)
    assert decode(fault, [0b100]) is True
    assert decode(fault, [0b011]) is False
    coil = RegisterPoint("relay", RegisterType.COIL, 3)
    assert decode(coil, [True]) is True


@given(
    data_type=st.sampled_from(list(DataType)),
    order=st.sampled_from(list(WordOrder)),
    raw=st.integers(min_value=-(2**15), max_value=2**15 - 1),
    scale=st.sampled_from([1.0, 0.1, 0.01, 10.0]),
)
def test_encode_then_decode_gives_the_value_back(data_type, order, raw, scale):
    if data_type in (DataType.U16, DataType.U32):
        raw = abs(raw)
    point = RegisterPoint("p", HOLDING, 0, data_type=data_type, word_order=order, scale=scale)
    value = raw * scale
    assert decode(point, encode(point, value)) == pytest.approx(value, rel=1e-6, abs=1e-6)


# Addresses are mostly dense (gaps near max_gap) and sometimes spread out
# (requests reaching the protocol limits).
addresses = st.one_of(st.integers(0, 60), st.integers(0, 3000))
points_strategy = st.lists(
    st.builds(
        RegisterPoint,
        name=st.text(min_size=1, max_size=5),
        register=st.sampled_from(list(RegisterType)),
        address=addresses,
        data_type=st.sampled_from(list(DataType)),
        bit=st.none() | st.integers(0, 15),
        priority=st.sampled_from(list(ReadPriority)),
    ),
    min_size=1,
    max_size=60,
)


def _holes(register_types, top: int):
    return st.lists(
        st.builds(
            lambda register, first, length: AddressRange(register, first, first + length),
            st.sampled_from(register_types),
            st.integers(0, top),
            st.integers(0, 3),
        ),
        max_size=6,
    )


# Dense points of one kind and priority: gaps near max_gap and holes between points are common.
dense_points = st.lists(
    st.builds(
        RegisterPoint,
        name=st.just("p"),
        register=st.just(HOLDING),
        address=st.integers(0, 40),
        data_type=st.sampled_from([DataType.U16, DataType.F32]),
    ),
    min_size=1,
    max_size=15,
)


def _covered_by_points(request, address: int) -> bool:
    return any(p.address <= address < p.address + p.width for p in request.points)


@given(
    points=points_strategy,
    coalesce=st.booleans(),
    max_gap=st.integers(0, 40),
    holes=_holes(list(RegisterType), 3000),
)
def test_read_plan_covers_every_point_within_protocol_limits(points, coalesce, max_gap, holes):
    plan = plan_reads(points, coalesce=coalesce, max_gap=max_gap, unreadable=holes)
    carried = [p for request in plan for p in request.points]
    assert sorted(map(id, carried)) == sorted(map(id, points))  # each point exactly once
    for request in plan:
        assert 1 <= request.count <= read_limit(request.register)
        for point in request.points:
            assert point.register is request.register
            assert request.address <= point.address
            assert point.address + point.width <= request.address + request.count
        # A request is as urgent as its most urgent point: urgent points are never demoted.
        assert request.priority == max(p.priority for p in request.points)
    assert len(plan) <= len(points)
    assert len(plan) <= len(plan_reads(points, coalesce=False, unreadable=holes))


@given(points=dense_points, max_gap=st.integers(0, 12), holes=_holes([HOLDING], 40))
def test_reads_never_take_in_an_unreadable_address_no_point_needs(points, max_gap, holes):
    for request in plan_reads(points, max_gap=max_gap, unreadable=holes):
        for address in range(request.address, request.address + request.count):
            if any(h.overlaps(request.register, address, address + 1) for h in holes):
                assert _covered_by_points(request, address)


@given(
    points=st.one_of(dense_points, points_strategy),
    max_gap=st.integers(0, 12),
    holes=_holes([HOLDING], 40),
)
def test_coalesced_plan_leaves_no_two_requests_that_could_be_one(points, max_gap, holes):
    """Greedy merging is optimal when no neighbouring pair could still be merged."""
    plan = plan_reads(points, max_gap=max_gap, unreadable=holes)
    for register in RegisterType:
        for priority in ReadPriority:
            same = sorted(
                (r for r in plan if r.register is register and r.priority is priority),
                key=lambda r: r.address,
            )
            for first, second in itertools.pairwise(same):
                end = first.address + first.count
                merged_count = max(end, second.address + second.count) - first.address
                mergeable = (
                    second.address - end <= max_gap
                    and merged_count <= read_limit(register)
                    and not any(h.overlaps(register, end, second.address) for h in holes)
                    and second.address >= end
                )
                assert not mergeable, (first, second)


def test_neighbours_are_merged_and_far_points_are_not():
    points = [
        RegisterPoint("a", HOLDING, 0),
        RegisterPoint("b", HOLDING, 1, data_type=DataType.F32),
        RegisterPoint("c", HOLDING, 10),
        RegisterPoint("d", HOLDING, 100),
        RegisterPoint("flag", HOLDING, 0, bit=3),
    ]
    plan = plan_reads(points, max_gap=8)
    assert [(r.address, r.count) for r in plan] == [(0, 11), (100, 1)]
    separate = plan_reads(points, coalesce=False)
    # Without coalescing, flags still share the read of their register.
    assert [(r.address, r.count) for r in separate] == [(0, 1), (1, 2), (10, 1), (100, 1)]


def test_reads_never_span_an_unreadable_range():
    points = [RegisterPoint(name, HOLDING, address) for name, address in (("a", 0), ("b", 4))]
    assert [(r.address, r.count) for r in plan_reads(points)] == [(0, 5)]
    hole = AddressRange(HOLDING, 2, 2)
    assert [(r.address, r.count) for r in plan_reads(points, unreadable=[hole])] == [(0, 1), (4, 1)]
    other_type = AddressRange(RegisterType.INPUT, 2, 2)
    assert len(plan_reads(points, unreadable=[other_type])) == 1


def test_urgent_and_routine_points_travel_in_separate_reads_unless_they_share_a_register():
    points = [
        RegisterPoint("gas", HOLDING, 0),
        RegisterPoint("status", HOLDING, 1, priority=ReadPriority.ROUTINE),
        RegisterPoint("fault", HOLDING, 1, bit=2),
        RegisterPoint("temperature", HOLDING, 2, priority=ReadPriority.ROUTINE),
        RegisterPoint("hours", HOLDING, 3, DataType.U32, priority=ReadPriority.ROUTINE),
    ]
    plan = plan_reads(points)
    assert [(r.priority, r.address, r.count) for r in plan] == [
        (ReadPriority.URGENT, 0, 2),  # status rides with the fault flag it holds
        (ReadPriority.ROUTINE, 2, 3),
    ]


def test_example_multi_gas_detector_reads_alarm_values_apart_from_its_diagnostics():
    config = load_config(example_station())
    devices = {d.name: d for d in modbus_devices(config, "rs485")}
    requests = devices["pump-pit-gas"].requests
    plan = [(r.priority, r.register.value, r.address, r.count) for r in requests]
    assert plan == [
        (ReadPriority.URGENT, "input", 0, 5),  # the four gases and the status flags
        (ReadPriority.ROUTINE, "input", 5, 3),  # diagnostics, up to the unreadable 8..9
        (ReadPriority.ROUTINE, "input", 10, 4),
    ]
    assert devices["pump-pit-gas"].routine_interval == 30.0
    uncoalesced = {d.name: d for d in modbus_devices(config, "rs485", coalesce=False)}
    assert len(uncoalesced["pump-pit-gas"].requests) == 11


@pytest.mark.parametrize(
    ("raw", "scale", "reason"),
    [
        (math.nan, 1.0, "implausible reading: level is NaN"),
        (math.inf, 1.0, "implausible reading: level is +inf"),
        (1e308, 10.0, "implausible reading: level is +inf"),  # finite on the wire, not once scaled
    ],
)
def test_a_value_that_is_not_a_finite_number_is_refused_with_its_reason(raw, scale, reason):
    with pytest.raises(ImplausibleReading, match=re.escape(reason)):
        engineering("level", raw, scale=scale, offset=0.0, bit=None)

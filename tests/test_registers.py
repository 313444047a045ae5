"""Decoding every data type and word order, and planning reads."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.modbus.plan import MAX_BITS_PER_READ, MAX_REGISTERS_PER_READ, plan_reads
from drivers.modbus.registers import (
    DataType,
    RegisterPoint,
    RegisterType,
    WordOrder,
    decode,
    encode,
)

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


points_strategy = st.lists(
    st.builds(
        RegisterPoint,
        name=st.text(min_size=1, max_size=5),
        register=st.sampled_from(list(RegisterType)),
        address=st.integers(min_value=0, max_value=3000),
        data_type=st.sampled_from(list(DataType)),
    ),
    min_size=1,
    max_size=60,
)


@given(points=points_strategy, coalesce=st.booleans(), max_gap=st.integers(0, 40))
def test_read_plan_covers_every_point_within_protocol_limits(points, coalesce, max_gap):
    plan = plan_reads(points, coalesce=coalesce, max_gap=max_gap)
    carried = [p for request in plan for p in request.points]
    assert sorted(map(id, carried)) == sorted(map(id, points))  # each point exactly once
    for request in plan:
        limit = MAX_BITS_PER_READ if request.register.is_bit else MAX_REGISTERS_PER_READ
        assert 1 <= request.count <= limit
        for point in request.points:
            assert point.register is request.register
            assert request.address <= point.address
            assert point.address + point.width <= request.address + request.count
    assert len(plan) <= len(points)


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

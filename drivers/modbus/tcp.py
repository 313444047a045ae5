"""Modbus TCP: a pymodbus async TCP client behind the shared bus poller."""

from __future__ import annotations

from collections.abc import Sequence

from pymodbus.client import AsyncModbusTcpClient

from drivers.backoff import Backoff
from drivers.modbus.poller import LinePolicy, ModbusDevice, ModbusPoller


def tcp_poller(
    *,
    host: str,
    port: int,
    timeout: float,
    devices: Sequence[ModbusDevice],
    retries: int = 0,
    backoff: Backoff | None = None,
) -> ModbusPoller:
    """A poller for the units behind one Modbus TCP endpoint.

    pymodbus' own reconnect loop and retries are switched off: the poller owns
    retry policy (``retries`` more attempts at a request that got no answer) so
    that a failure becomes a fault observation at once.
    """
    client = AsyncModbusTcpClient(
        host, port=port, timeout=timeout, retries=0, reconnect_delay=0, name=f"{host}:{port}"
    )
    return ModbusPoller(
        endpoint=f"{host}:{port}",
        client=client,
        devices=devices,
        backoff=backoff,
        policy=LinePolicy(retries=retries),
    )

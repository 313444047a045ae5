"""The station file: who the station is, where the broker is, its buses and devices."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal, Self
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, model_validator
from pydantic_core import PydanticCustomError

from drivers.serial_port import Parity
from gateway.config.profiles import AlarmOverride
from gateway.config.types import (
    Identifier,
    PollInterval,
    Port,
    Seconds,
    Strict,
    UnitId,
    in_range,
    rejected,
)

DEFAULT_PREFIX = "outpost/v1/{station}"


class StationInfo(Strict):
    id: Identifier
    name: str
    district: str
    location: str = ""
    lat: Annotated[float, in_range(-90, 90)] | None = None
    lon: Annotated[float, in_range(-180, 180)] | None = None


def _broker_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise rejected("url", "must look like mqtt://host:1883 or mqtts://host:8883", repr(value))
    return value


BrokerUrl = Annotated[str, AfterValidator(_broker_url)]


class TlsConfig(Strict):
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None

    @model_validator(mode="after")
    def _pair(self) -> Self:
        if (self.cert_file is None) != (self.key_file is None):
            raise PydanticCustomError("tls", "cert_file and key_file go together (mutual TLS)")
        return self


class MqttConfig(Strict):
    brokers: list[BrokerUrl] = Field(min_length=1)
    client_id: str | None = None
    username: str | None = None
    password_file: Path | None = None
    password_env: str | None = None
    tls: TlsConfig | None = None
    topic_prefix: str = DEFAULT_PREFIX
    protocol: Literal["mqtt5", "mqtt311"] = "mqtt5"
    keepalive: Annotated[int, in_range(5, 3600)] = 30
    reconnect_max: Seconds = 30.0

    @model_validator(mode="after")
    def _one_password_source(self) -> Self:
        if self.password_file and self.password_env:
            raise PydanticCustomError("password", "give password_file or password_env, not both")
        return self

    def password(self) -> str | None:
        """Read the secret at connect time; it is never part of a model dump or a log."""
        if self.password_file is not None:
            return self.password_file.read_text(encoding="utf-8").strip()
        if self.password_env is not None:
            return os.environ.get(self.password_env)
        return None


class ModbusTcpBus(Strict):
    """A Modbus TCP endpoint: one device, or a gateway with several units behind it."""

    type: Literal["modbus-tcp"]
    host: str
    port: Port = 502
    timeout: Seconds = 1.0


class SerialPortConfig(Strict):
    """A serial port and its character format (9600 8N1 unless said otherwise)."""

    port: str = Field(min_length=1)
    baudrate: Annotated[int, in_range(300, 1_000_000)] = 9600
    data_bits: Literal[7, 8] = 8
    parity: Parity = Parity.NONE
    stop_bits: Literal[1, 2] = 1


class ModbusRtuBus(SerialPortConfig):
    """An RS-485 line with Modbus RTU units on it, behind one serial port.

    ``inter_request_gap`` defaults to the 3.5 characters of silence RTU needs;
    a unit that stays silent after ``retries`` is probed at most every
    ``backoff_max`` until it answers; a lost port is reopened with backoff up
    to ``reconnect_max``.
    """

    type: Literal["modbus-rtu"]
    timeout: Seconds = 0.5
    retries: Annotated[int, in_range(0, 5)] = 1
    inter_request_gap: Seconds | None = None
    backoff_max: Seconds = 10.0
    reconnect_max: Seconds = 5.0


class SerialLineBus(SerialPortConfig):
    """A serial port with one simple sensor on it (profile ``protocol: serial-line``).

    ``timeout`` is how long a polled sensor may take to answer, or how long a
    streaming one may stay silent before it counts as offline.
    """

    type: Literal["serial-line"]
    timeout: Seconds = 2.0
    reconnect_max: Seconds = 5.0


Bus = Annotated[ModbusTcpBus | ModbusRtuBus | SerialLineBus, Field(discriminator="type")]
SERIAL_BUSES = (ModbusRtuBus, SerialLineBus)


class DeviceConfig(Strict):
    bus: Identifier
    profile: Identifier
    unit: UnitId = 1
    location: str = ""
    description: str = ""
    poll_interval: PollInterval = 1.0
    # How often points no alarm depends on are read; default 10 x poll_interval.
    telemetry_interval: PollInterval | None = None
    alarms: dict[Identifier, AlarmOverride] = Field(default_factory=dict)


class StationConfig(Strict):
    station: StationInfo
    mqtt: MqttConfig
    buses: dict[Identifier, Bus] = Field(default_factory=dict)
    devices: dict[Identifier, DeviceConfig] = Field(default_factory=dict)
    profiles_dir: Path | None = None
    state_dir: Path = Path("/var/lib/outpost")

    @property
    def topic_prefix(self) -> str:
        return self.mqtt.topic_prefix.format(station=self.station.id)

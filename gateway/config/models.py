"""The station file: who the station is, where the broker is, its buses and devices."""

from __future__ import annotations

import os
from pathlib import Path
from string import Formatter
from typing import Annotated, Literal, Self
from urllib.parse import urlsplit

from pydantic import AfterValidator, ByteSize, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from gateway.config.alarm_policy import AlarmPolicy, ReportsConfig, Zone
from gateway.config.profiles import AlarmOverride
from gateway.config.radios import RadiosConfig
from gateway.config.response import ResponseConfig
from gateway.config.serial import SerialPortConfig
from gateway.config.types import (
    Address,
    Identifier,
    PollInterval,
    Port,
    Seconds,
    ShortSeconds,
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
    locale: Literal["en", "zh-CN"] = "en"  # the language people at and above the station read


def _broker_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise rejected("url", "must look like mqtt://host:1883 or mqtts://host:8883", repr(value))
    return value


BrokerUrl = Annotated[str, AfterValidator(_broker_url)]


def _topic_prefix(value: str) -> str:
    """Only ``{station}`` is filled in, and a topic one publishes to holds no wildcard."""
    try:
        fields = [field for _, *field in Formatter().parse(value) if field[0] is not None]
    except ValueError as exc:  # a lone { or }
        raise rejected("topic", f"must be a topic such as {DEFAULT_PREFIX} ({exc})", repr(value)) from None
    placeholders = [
        "{" + f"{name}" + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
        for name, spec, conversion in fields
    ]
    if unknown := sorted(set(placeholders) - {"{station}"}):
        expected = f"may only contain the placeholder {{station}}, not {', '.join(unknown)}"
        raise rejected("topic", expected, repr(value))
    filled = value.format(station="station")
    if not filled.strip("/") or "+" in filled or "#" in filled:
        raise rejected("topic", f"must be a topic without + or # such as {DEFAULT_PREFIX}", repr(value))
    return value


TopicPrefix = Annotated[str, AfterValidator(_topic_prefix)]


class TlsConfig(Strict):
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None

    @model_validator(mode="after")
    def _pair(self) -> Self:
        if (self.cert_file is None) != (self.key_file is None):
            raise PydanticCustomError("tls", "cert_file and key_file go together (mutual TLS)")
        return self


MqttProtocol = Literal["mqtt5", "mqtt311"]


class MqttConfig(Strict):
    brokers: list[BrokerUrl] = Field(min_length=1)
    client_id: str | None = None
    username: str | None = None
    password_file: Path | None = None
    password_env: str | None = None
    allow_missing_env: bool = False  # an unset password_env means no password, not an error
    tls: TlsConfig | None = None
    topic_prefix: TopicPrefix = DEFAULT_PREFIX
    protocol: MqttProtocol = "mqtt5"
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


OfflineAfter = Annotated[int, in_range(1, 100)]
"""Consecutive failed polls before a device that stopped answering is ``offline``."""
OFFLINE_AFTER = 2


class ModbusTcpBus(Strict):
    """A Modbus TCP endpoint: one device, or a gateway with several units behind it.

    A request that gets no answer is tried ``retries`` more times before the
    poll fails (a TCP-to-RTU gateway may drop one now and then).
    """

    type: Literal["modbus-tcp"]
    host: str
    port: Port = 502
    timeout: ShortSeconds = 1.0
    retries: Annotated[int, in_range(0, 5)] = 0
    offline_after: OfflineAfter = OFFLINE_AFTER


class ModbusRtuBus(SerialPortConfig):
    """An RS-485 line with Modbus RTU units on it, behind one serial port.

    ``inter_request_gap`` defaults to the 3.5 characters of silence RTU needs;
    a unit that stays silent after ``retries`` is probed at most every
    ``backoff_max`` until it answers; a lost port is reopened with backoff up
    to ``reconnect_max``.
    """

    type: Literal["modbus-rtu"]
    timeout: ShortSeconds = 0.5
    retries: Annotated[int, in_range(0, 5)] = 1
    inter_request_gap: ShortSeconds | None = None
    backoff_max: Seconds = 10.0
    reconnect_max: Seconds = 5.0
    offline_after: OfflineAfter = OFFLINE_AFTER

    @field_validator("data_bits")
    @classmethod
    def _eight_data_bits(cls, value: int) -> int:
        if value != 8:  # 7 data bits is Modbus ASCII, another protocol
            raise rejected("data_bits", "must be 8 for Modbus RTU (7 data bits is Modbus ASCII)", value)
        return value


class SerialLineBus(SerialPortConfig):
    """A serial port with one simple sensor on it (profile ``protocol: serial-line``).

    ``timeout`` is how long a polled sensor may take to answer, or how long a
    streaming one may stay silent before it counts as offline.
    """

    type: Literal["serial-line"]
    timeout: ShortSeconds = 2.0
    reconnect_max: Seconds = 5.0
    offline_after: OfflineAfter = OFFLINE_AFTER


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
    exercise: bool = False  # its events are a drill (status 'exercise') from the start
    # Under maintenance or out of service: everything is still reported, marked 'suppressed'.
    suppressed: Literal["maintenance", "out_of_service"] | None = None
    offline_after: OfflineAfter | None = None  # default: the bus's


MODBUS_ONLY_KEYS = ("unit", "telemetry_interval")  # a serial-line sensor has no unit and one kind of read


class OutboxConfig(Strict):
    """Store-and-forward limits: the budget telemetry is evicted at, the cap alarms stop at."""

    max_bytes: ByteSize = ByteSize(64 * 1024 * 1024)
    alarm_hard_cap_bytes: ByteSize = ByteSize(256 * 1024 * 1024)
    window: Annotated[int, in_range(1, 1000)] = 64
    # A message made in an earlier boot, or that waited longer than this to leave, is historical.
    historical_after: Seconds = 30.0

    @model_validator(mode="after")
    def _cap_above_budget(self) -> Self:
        if self.alarm_hard_cap_bytes < self.max_bytes:
            raise PydanticCustomError("outbox", "alarm_hard_cap_bytes must be at least max_bytes")
        return self


class CommandsConfig(Strict):
    """Downlink commands. Without a key they are refused, unless ``allow_unsigned`` (labs only)."""

    key_file: Path | None = None
    allow_unsigned: bool = False
    max_clock_skew: Seconds = 60.0
    # A pushed station file that has not reconnected to the broker within this is rolled back.
    config_confirm_within: Seconds = 60.0


class ActuatorConfig(Strict):
    """Something the platform may switch, e.g. a siren relay: only these values are allowed."""

    device: Identifier
    register_type: Literal["coil", "holding"] = Field(alias="register")
    address: Address
    values: dict[Identifier, int] = Field(min_length=1)
    description: str = ""


class PageConfig(Strict):
    """The station page on ``metrics_listen``: read-only unless an operator key is configured.

    With ``operator_key_file``, whoever types that key on the page may acknowledge,
    shelve and reset alarms; the page then signs the command with the station's
    command key and it goes through the same checks as the platform's.
    """

    operator_key_file: Path | None = None
    trend_hours: Annotated[float, in_range(0.1, 48)] = 6.0


class ServiceConfig(Strict):
    """How the daemon runs: watchdog sensitivity, where health, metrics and the station page are served."""

    stall_after: Seconds = 60.0
    metrics_listen: str | None = "127.0.0.1:9108"
    page: PageConfig = PageConfig()

    @model_validator(mode="after")
    def _host_port(self) -> Self:
        if self.metrics_listen is not None:
            host, _, port = self.metrics_listen.rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise rejected("listen", "metrics_listen must be HOST:PORT", repr(self.metrics_listen))
        return self


class InfluxConfig(Strict):
    """Telemetry to InfluxDB 2 (or anything that speaks its write API, e.g. VictoriaMetrics)."""

    url: str
    bucket: str
    org: str = ""
    token_file: Path | None = None
    batch_size: Annotated[int, in_range(1, 5000)] = 500
    flush_interval: Seconds = 5.0
    buffer: Annotated[int, in_range(100, 1_000_000)] = 10_000


class StationConfig(Strict):
    station: StationInfo
    mqtt: MqttConfig
    buses: dict[Identifier, Bus] = Field(default_factory=dict)
    devices: dict[Identifier, DeviceConfig] = Field(default_factory=dict)
    actuators: dict[Identifier, ActuatorConfig] = Field(default_factory=dict)
    outbox: OutboxConfig = OutboxConfig()
    commands: CommandsConfig = CommandsConfig()
    service: ServiceConfig = ServiceConfig()
    influx: InfluxConfig | None = None
    telemetry_interval: Seconds = 60.0
    alarm_policy: AlarmPolicy = AlarmPolicy()
    zones: dict[Identifier, Zone] = Field(default_factory=dict)
    reports: ReportsConfig = ReportsConfig()
    exercise: bool = False  # the whole station is in a drill from the start
    radios: RadiosConfig | None = None  # radio bridges and the radio registry
    response: ResponseConfig = ResponseConfig()  # sirens and call-outs the station runs itself
    profiles_dir: Path | None = None
    state_dir: Path = Path("/var/lib/outpost")

    @property
    def topic_prefix(self) -> str:
        return self.mqtt.topic_prefix.format(station=self.station.id)

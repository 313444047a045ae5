"""Where an operator's tools (``outpost cmd``, ``console``, ``walktest``) find a station's broker and key.

From a station file (``--config``), or from ``--broker``/``--station``/``--key-file``;
what is given explicitly wins over the file. Kept in one place so that every
tool resolves a station the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import tzinfo
from pathlib import Path

from pydantic import ValidationError

from gateway.config import LoadedConfig, load_config
from gateway.config.models import DEFAULT_PREFIX, MqttConfig
from gateway.i18n import Locale, Translator, station_zone


@dataclass(frozen=True)
class OperatorTarget:
    mqtt: MqttConfig  # the station file's MQTT settings (credentials, TLS), the broker to use first
    station: str | None  # None: every station (the MQTT wildcard ``+``)
    prefix_template: str  # e.g. ``outpost/v1/{station}``
    key_file: Path | None
    config: LoadedConfig | None = None

    @property
    def broker(self) -> str:
        return self.mqtt.brokers[0]

    def translator(self, lang: Locale | None = None) -> Translator:
        """``--lang`` if given, else the station file's ``station.locale``, else English."""
        return Translator(lang or (self.config.station.station.locale if self.config else "en"))

    @property
    def zone(self) -> tzinfo:
        """The station file's time zone (``reports.timezone``), else this machine's."""
        return station_zone(self.config.station.reports.timezone if self.config else None)

    def prefix(self, station: str | None = None) -> str:
        """The topic prefix of ``station`` (default: this target's; ``+`` for every station)."""
        return self.prefix_template.format(station=station or self.station or "+")

    def station_of(self, topic: str) -> str | None:
        """Which station a topic belongs to, by the prefix template."""
        head, placeholder, tail = self.prefix_template.partition("{station}")
        if not placeholder:
            return self.station if topic.startswith(head + "/") else None
        if not topic.startswith(head):
            return None
        rest = topic[len(head) :]
        station, _, after = rest.partition("/")
        if tail.strip("/") and not ("/" + after).startswith(tail):
            return None
        return station or None


def resolve_target(
    *,
    config_path: Path | None,
    broker: str | None,
    station: str | None,
    prefix: str | None,
    key_file: Path | None,
) -> OperatorTarget:
    """Combine a station file with explicit options; ValueError says what is missing.

    Raises :class:`gateway.config.ConfigError` for an invalid station file.
    """
    config = None
    mqtt = None
    template = None
    if config_path is not None:
        config = load_config(config_path)
        station_config = config.station
        mqtt = station_config.mqtt
        station = station or station_config.station.id
        template = station_config.mqtt.topic_prefix
        key_file = key_file or station_config.commands.key_file
    if broker is None and mqtt is None:
        raise ValueError("give --config, or --broker and --station")
    if prefix is not None:
        template = prefix  # a template with {station}, or one station's literal prefix
    return OperatorTarget(
        mqtt=_with_broker(mqtt, broker),
        station=None if station in (None, "+") else station,
        prefix_template=template or DEFAULT_PREFIX,
        key_file=key_file,
        config=config,
    )


def _with_broker(mqtt: MqttConfig | None, broker: str | None) -> MqttConfig:
    """The station file's MQTT settings (or the defaults) with ``--broker``, if given, as the broker."""
    if broker is None and mqtt is not None:
        return mqtt
    settings = mqtt.model_dump(exclude_unset=True) if mqtt is not None else {}
    try:
        return MqttConfig.model_validate(settings | {"brokers": [broker]})
    except ValidationError as exc:
        raise ValueError(f"--broker: {exc.errors()[0]['msg']}") from None

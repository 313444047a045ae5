"""Station configuration: YAML files validated into typed models with precise errors."""

from gateway.config.errors import ConfigError
from gateway.config.loader import LoadedConfig, load_config

__all__ = ["ConfigError", "LoadedConfig", "load_config"]

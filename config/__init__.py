"""DermNode configuration: the pydantic settings model and the embedded default YAML."""

from __future__ import annotations

from config.settings import (
    AnalysisSettings,
    ConfigError,
    DeliverySettings,
    DestinationSettings,
    Hl7EndpointSettings,
    HttpSettings,
    ListenAeSettings,
    LoggingSettings,
    NodeSettings,
    ProgressSettings,
    ReportSettings,
    RetentionSettings,
    Settings,
    SourceSettings,
    TlsSettings,
    TreatmentSettings,
    default_config_path,
    load_settings,
    validate_ae_title,
)

__all__ = [
    "AnalysisSettings",
    "ConfigError",
    "DeliverySettings",
    "DestinationSettings",
    "Hl7EndpointSettings",
    "HttpSettings",
    "ListenAeSettings",
    "LoggingSettings",
    "NodeSettings",
    "ProgressSettings",
    "ReportSettings",
    "RetentionSettings",
    "TreatmentSettings",
    "Settings",
    "SourceSettings",
    "TlsSettings",
    "default_config_path",
    "load_settings",
    "validate_ae_title",
]

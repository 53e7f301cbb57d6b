"""The settings model of DermNode: one YAML file, validated at start, environment overrides.

Every section is a frozen pydantic model, so a loaded :class:`Settings` never changes while the
service runs. :func:`load_settings` reads the YAML file (or the embedded default), applies the
``DERMNODE_...`` environment variables on top (``DERMNODE_NODE__PORT=11113`` overrides
``node.port``) and raises :class:`ConfigError` whose message names the file and every bad field.
"""

from __future__ import annotations

import ipaddress
import os
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

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
    "RetentionSettings",
    "Settings",
    "SourceSettings",
    "TlsSettings",
    "default_config_path",
    "load_settings",
    "validate_ae_title",
]

ENV_PREFIX = "DERMNODE_"


class ConfigError(ValueError):
    """The configuration file or environment is invalid; the message names file and fields."""


def validate_ae_title(value: str) -> str:
    """Check an Application Entity title against PS3.5 §6.2 (AE value representation).

    At most 16 characters of the default repertoire, no backslash or control characters, and
    not only spaces. Leading and trailing spaces are not significant and are removed.
    """
    if not isinstance(value, str):
        raise ValueError("AE title must be a string")
    stripped = value.strip(" ")
    if not stripped:
        raise ValueError("AE title must not be empty or only spaces")
    if len(stripped) > 16:
        raise ValueError(f"AE title must be at most 16 characters, got {len(stripped)}")
    for ch in stripped:
        if ch == "\\" or ord(ch) < 0x20 or ord(ch) > 0x7E:
            raise ValueError("AE title may hold printable ASCII only, no backslash")
    return stripped


AeTitle = Annotated[str, Field(min_length=1, max_length=16)]
Port = Annotated[int, Field(ge=1, le=65535)]


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TlsSettings(_Section):
    """TLS for an association or an MLLP connection (PEM files)."""

    enabled: bool = False
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    verify_peer: bool = True

    @model_validator(mode="after")
    def _files_when_enabled(self) -> TlsSettings:
        if self.enabled and self.verify_peer and self.ca_file is None:
            raise ValueError("ca_file is required when TLS is enabled with verify_peer")
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together")
        return self


class ListenAeSettings(_Section):
    """A further AE title DermNode answers to (beside ``node.ae_title``), on the same port."""

    ae_title: AeTitle
    stable_after_s: float | None = Field(default=None, ge=0)

    @field_validator("ae_title", mode="before")
    @classmethod
    def _ae(cls, v: Any) -> str:
        return validate_ae_title(v)


class NodeSettings(_Section):
    """The listening DICOM node."""

    ae_title: AeTitle = "DERMNODE"
    additional_ae_titles: tuple[ListenAeSettings, ...] = ()
    host: str = "0.0.0.0"
    port: Port = 11112
    storage_dir: Path = Path("./var")
    max_associations: int = Field(default=10, ge=1, le=1000)
    stable_after_s: float = Field(default=10.0, ge=0)
    acse_timeout_s: float = Field(default=30.0, gt=0)
    dimse_timeout_s: float = Field(default=60.0, gt=0)
    network_timeout_s: float = Field(default=60.0, gt=0)
    min_free_disk_mb: int = Field(default=500, ge=0)
    maximum_pdu_size: int = Field(default=1_048_576, ge=4096, le=64 * 1024 * 1024)
    association_request_timeout_s: float = Field(default=5.0, gt=0, le=300)
    pdu_timeout_s: float = Field(default=60.0, gt=0)
    max_pending_connections: int = Field(default=20, ge=1, le=1000)
    tls: TlsSettings = TlsSettings()

    @field_validator("ae_title", mode="before")
    @classmethod
    def _ae(cls, v: Any) -> str:
        return validate_ae_title(v)

    @model_validator(mode="after")
    def _distinct_ae_titles(self) -> NodeSettings:
        titles = self.listening_ae_titles
        dup = sorted({t for t in titles if titles.count(t) > 1})
        if dup:
            raise ValueError(
                f"additional_ae_titles: {', '.join(dup)} listed twice (or equal to ae_title)"
            )
        return self

    @model_validator(mode="after")
    def _server_certificate(self) -> NodeSettings:
        if self.tls.enabled and (self.tls.cert_file is None or self.tls.key_file is None):
            raise ValueError("tls: cert_file and key_file are required to accept TLS")
        return self

    @property
    def listening_ae_titles(self) -> list[str]:
        """Every called AE title DermNode answers to: ``ae_title`` first, then the others."""
        return [self.ae_title, *(a.ae_title for a in self.additional_ae_titles)]

    def stable_after_override(self, called_ae: str | None) -> float | None:
        """The ``stable_after_s`` set for the listening AE title *called_ae*, if any."""
        for a in self.additional_ae_titles:
            if a.ae_title == called_ae:
                return a.stable_after_s
        return None


class SourceSettings(_Section):
    """A peer allowed to send to DermNode (C-STORE / C-ECHO)."""

    ae_title: AeTitle
    host: str | None = None
    stable_after_s: float | None = Field(default=None, ge=0)

    @field_validator("ae_title", mode="before")
    @classmethod
    def _ae(cls, v: Any) -> str:
        return validate_ae_title(v)

    @field_validator("host")
    @classmethod
    def _ip(cls, v: str | None) -> str | None:
        if v is None:
            return v
        try:
            return str(ipaddress.ip_address(v))
        except ValueError as exc:
            raise ValueError(f"host must be an IP address, got {v!r}") from exc


class DestinationSettings(_Section):
    """Where results go: a DICOM peer (C-STORE) or, for demos, a local folder."""

    name: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
    kind: Literal["dicom", "folder"] = "dicom"
    ae_title: AeTitle | None = None
    host: str | None = None
    port: Port | None = None
    folder: Path | None = None
    tls: TlsSettings = TlsSettings()
    secondary_capture: bool = False
    #: Deprecated and ignored (transient failures are bounded by age): see ``max_age_h``.
    max_attempts: int | None = Field(default=None, ge=1)
    #: Overrides ``delivery.max_age_h`` for this destination.
    max_age_h: float | None = Field(default=None, gt=0)
    #: Language of the patient report sent here; None = ``report.language``.
    patient_language: Literal["en", "ko"] | None = None

    @field_validator("ae_title", mode="before")
    @classmethod
    def _ae(cls, v: Any) -> str | None:
        return None if v is None else validate_ae_title(v)

    @model_validator(mode="after")
    def _complete(self) -> DestinationSettings:
        if self.kind == "dicom":
            missing = [k for k in ("ae_title", "host", "port") if getattr(self, k) is None]
            if missing:
                raise ValueError(f"a dicom destination needs {', '.join(missing)}")
        elif self.folder is None:
            raise ValueError("a folder destination needs folder")
        return self


class Hl7EndpointSettings(_Section):
    """An EMR endpoint that receives ORU^R01 over MLLP."""

    name: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
    kind: Literal["mllp", "folder"] = "mllp"
    host: str | None = None
    port: Port | None = None
    folder: Path | None = None
    sending_application: str = "DERMNODE"
    sending_facility: str = "DERMNODE"
    receiving_application: str = "EMR"
    receiving_facility: str = "HOSPITAL"
    charset: Literal["UNICODE UTF-8", "8859/1", "ASCII"] = "UNICODE UTF-8"
    include_pdf: bool = False
    connect_timeout_s: float = Field(default=10.0, gt=0)
    read_timeout_s: float = Field(default=30.0, gt=0)
    tls: TlsSettings = TlsSettings()
    #: Deprecated and ignored (transient failures are bounded by age): see ``max_age_h``.
    max_attempts: int | None = Field(default=None, ge=1)
    #: Overrides ``delivery.max_age_h`` for this endpoint.
    max_age_h: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _complete(self) -> Hl7EndpointSettings:
        if self.kind == "mllp" and (self.host is None or self.port is None):
            raise ValueError("an mllp endpoint needs host and port")
        if self.kind == "folder" and self.folder is None:
            raise ValueError("a folder endpoint needs folder")
        return self


class DeliverySettings(_Section):
    """Retry policy of the persistent outbox (DICOM and HL7 deliveries).

    A transient failure (peer down, timeout, out of resources, AE) is retried with
    exponential backoff, at most every ``backoff_max_s``, until the delivery has been failing
    for ``max_age_h`` hours: a long outage pauses deliveries, it does not kill them, and they
    resume on their own. A permanent failure is dead at once.
    """

    #: Deprecated and ignored (kept so older configuration files still load).
    max_attempts: int | None = Field(default=None, ge=1)
    max_age_h: float = Field(default=72.0, gt=0)
    backoff_initial_s: float = Field(default=5.0, gt=0)
    backoff_max_s: float = Field(default=600.0, gt=0)

    @property
    def max_age_s(self) -> float:
        """``max_age_h`` in seconds."""
        return self.max_age_h * 3600.0


class ProgressSettings(_Section):
    """Progress tracking: comparison with the patient's earlier results.

    Priors come from the local results index. With ``pacs_priors``, a patient the index does
    not know is looked up in the PACS (destination ``pacs_destination``): C-FIND at study level
    for the patient, then the SRs DermNode wrote are retrieved (C-GET) and read back.
    """

    enabled: bool = True
    pacs_priors: bool = False
    pacs_destination: str | None = None
    max_priors: int = Field(default=20, ge=1, le=500)


class ReportSettings(_Section):
    """The reports: the plain-language patient report beside the clinician's, and its language
    (``en`` or ``ko``; a destination may override it with ``patient_language``)."""

    patient_report: bool = True
    language: Literal["en", "ko"] = "en"


class TreatmentSettings(_Section):
    """Treatment-planning support: the clinic's rules file (YAML, ``config/rules.py``; a
    relative path is taken from the working directory). None: no ``treatment_support``."""

    rules_file: Path | None = None


class AnalysisSettings(_Section):
    """The analysis workers, and the size limits checked before any photo is decoded."""

    device: Literal["auto", "cpu", "cuda"] = "auto"
    workers: int | None = Field(default=None, ge=1, le=64)
    max_image_pixels: int = Field(default=100_000_000, ge=1)
    max_decoded_mb: int = Field(default=1024, ge=1)
    retain_freed_memory: bool = True


class RetentionSettings(_Section):
    """Spool cleanup: received photos are removed after this many days, once delivered."""

    spool_days: float = Field(default=30.0, gt=0)


class HttpSettings(_Section):
    """Local HTTP port for /healthz and /metrics (0 = off)."""

    host: str = "127.0.0.1"
    port: int = Field(default=0, ge=0, le=65535)


class LoggingSettings(_Section):
    """Log level; logs never hold patient names, IDs or birth dates."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


class Settings(BaseSettings):
    """The whole configuration (``config/default.yaml`` documents every key)."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        frozen=True,
        extra="forbid",
    )

    node: NodeSettings = NodeSettings()
    sources: tuple[SourceSettings, ...] = ()
    destinations: tuple[DestinationSettings, ...] = ()
    hl7: tuple[Hl7EndpointSettings, ...] = ()
    delivery: DeliverySettings = DeliverySettings()
    analysis: AnalysisSettings = AnalysisSettings()
    progress: ProgressSettings = ProgressSettings()
    report: ReportSettings = ReportSettings()
    treatment: TreatmentSettings = TreatmentSettings()
    retention: RetentionSettings = RetentionSettings()
    http: HttpSettings = HttpSettings()
    logging: LoggingSettings = LoggingSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment variables win over the file (passed as init values).
        return (env_settings, init_settings)

    @model_validator(mode="after")
    def _progress_destination(self) -> Settings:
        p = self.progress
        if p.pacs_priors:
            if p.pacs_destination is None:
                raise ValueError("progress.pacs_destination is required when pacs_priors is on")
            names = {d.name: d for d in self.destinations}
            dest = names.get(p.pacs_destination)
            if dest is None or dest.kind != "dicom":
                raise ValueError(
                    f"progress.pacs_destination {p.pacs_destination!r} must name a dicom "
                    "destination"
                )
        return self

    @model_validator(mode="after")
    def _unique_names(self) -> Settings:
        for section, items in (("destinations", self.destinations), ("hl7", self.hl7)):
            names = [i.name for i in items]
            dup = sorted({n for n in names if names.count(n) > 1})
            if dup:
                raise ValueError(f"{section}: duplicate name(s) {', '.join(dup)}")
        return self

    def destination(self, name: str) -> DestinationSettings:
        """Return the destination called *name* or raise ``KeyError``."""
        for d in self.destinations:
            if d.name == name:
                return d
        raise KeyError(name)

    def storage_path(self, base: Path | None = None) -> Path:
        """The storage directory, relative paths taken from *base* (the config file's folder)."""
        p = self.node.storage_dir
        return p if p.is_absolute() or base is None else (base / p)


def default_config_path() -> Path:
    """Path of the embedded default configuration shipped inside the package."""
    return Path(str(resources.files("config").joinpath("default.yaml")))


def _format_errors(source: str, exc: ValidationError) -> str:
    lines = [f"{source}: {exc.error_count()} configuration error(s)"]
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        lines.append(f"  {loc}: {err['msg']}")
    return "\n".join(lines)


def load_settings(path: str | os.PathLike[str] | None = None) -> Settings:
    """Load and validate the configuration.

    Parameters
    ----------
    path
        The YAML file; ``None`` loads the embedded default.

    Raises
    ------
    ConfigError
        The file is missing, is not YAML, or a field is invalid; the message names the file
        and each field.
    """
    file = Path(path) if path is not None else default_config_path()
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read configuration: {exc.strerror}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{file}: not valid YAML: {exc}") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{file}: the top level must be a mapping of sections")
    try:
        return Settings(**data)
    except ValidationError as exc:
        raise ConfigError(_format_errors(str(file), exc)) from exc

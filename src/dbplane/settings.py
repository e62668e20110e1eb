"""dbplane's settings: ``DBPLANE_*`` environment variables, then an optional TOML file.

The file is ``dbplane.toml`` in the working directory, or the path in ``DBPLANE_CONFIG``;
its keys are the field names below (``port = 9000``). Environment variables win.
Imports nothing from dbplane.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

__all__ = ["Settings"]


class Settings(BaseSettings):
    """Every knob of a dbplane process."""

    model_config = SettingsConfigDict(env_prefix="DBPLANE_", extra="ignore")

    host: str = Field("127.0.0.1", description="Address the API listens on.")
    port: int = Field(8080, ge=0, le=65535, description="Port the API listens on.")
    data_dir: Path = Field(Path("dbplane-data"), description="Where dbplane keeps its files.")
    meta_url: SecretStr | None = Field(
        None, description="PostgreSQL URL of the metadata store; default a SQLite file.")
    default_url: SecretStr | None = Field(
        None, description="URL of the database served as `default`; default an embedded "
        "SQLite file. Replicas set it to a shared server.")
    admin_token: SecretStr | None = Field(
        None, description="An admin API token to accept (stored hashed) instead of a "
        "generated one.")
    secret_key: SecretStr | None = Field(
        None, description="Fernet key that encrypts connection secrets; default a key file "
        "in the data directory.")
    project_dir: Path = Field(Path("."), description="Where migrations, factories and "
                              "seeders live.")
    session_ttl_seconds: int = Field(24 * 3600, gt=0, description="Lifetime of a login "
                                     "session.")
    health_timeout_seconds: float = Field(3.0, gt=0, description="How long a database "
                                          "health check may take.")
    cache_seconds: float = Field(
        2.0, ge=0, description="How long a process keeps a token's caller and a database's "
        "settings before reading them again; a change made on another replica is seen "
        "within this time (0: read on every request). The Tables API checks a database's "
        "schema version as often, in the background.")
    tables_default_limit: int = Field(100, gt=0, description="Rows per page when a list "
                                      "asks for no limit.")
    tables_max_limit: int = Field(1000, gt=0, description="The largest limit a list may ask.")
    tables_max_write_rows: int = Field(10000, gt=0, description="The most rows one write "
                                       "of the Tables API may carry (a 413 past it).")
    tables_include_limit: int = Field(10, gt=0, description="Rows embedded per one-to-many "
                                      "relation unless include[name][limit] says otherwise.")
    max_upload_bytes: int = Field(
        1 << 30, gt=0, description="The largest request body accepted, in bytes (an "
        "uploaded backup archive is the largest there is); past it the request is "
        "answered 413 as soon as that many bytes have arrived. The schema endpoints "
        "accept at most 8 MiB whatever this says.")
    archive_dir: Path | None = Field(None, description="Where backup archives are kept; "
                                     "default `backups/` in the data directory.")
    backup_retention: int = Field(7, ge=1, description="Periodic backups kept per database "
                                  "(the newest); manual and uploaded ones are kept until "
                                  "deleted.")
    operation_workers: int = Field(4, ge=1, le=64, description="Operations (backups, "
                                   "restores, checks) one process runs at the same time.")
    operation_poll_seconds: float = Field(
        0.5, gt=0, le=60, description="How often an idle worker looks for operations "
        "queued by another process (one worker per process looks; a start in this "
        "process wakes them at once).")
    operation_heartbeat_seconds: float = Field(
        1.0, gt=0, le=60, description="How often a running operation records that it is "
        "alive; also how soon a cancel asked on another replica is seen.")
    operation_stale_seconds: float = Field(
        30.0, gt=0, le=86_400, description="A running operation without a heartbeat for "
        "this long belongs to a dead process and is ended `error` (looked for every half "
        "of it). Keep it well above the heartbeat interval.")
    operation_progress_every_seconds: float = Field(
        0.5, ge=0, le=60, description="A running operation's progress, steps and log "
        "lines are written at most this often (and at its heartbeat and end).")
    operation_cancel_grace_seconds: float = Field(
        2.0, ge=0, le=3600, description="After a cancel, how long a handler has to reach "
        "a checkpoint before its task is cancelled (a handler waiting on I/O).")
    operation_stop_grace_seconds: float = Field(
        3.0, ge=0, le=3600, description="At shutdown, how long running operations have to "
        "end before they are stopped and ended `error`.")
    managed_dir: Path | None = Field(None, description="Where managed servers keep their "
                                     "data directories; default `managed/` in the data "
                                     "directory. Every directory above it must be "
                                     "traversable by `managed_user`.")
    managed_user: str | None = Field(
        "postgres", description="The unprivileged user managed servers run as when dbplane "
        "runs as root (PostgreSQL refuses root); ignored otherwise.")
    managed_start_timeout_seconds: float = Field(
        30.0, gt=0, le=600, description="How long a managed server may take to answer "
        "after its process starts.")
    managed_supervise_seconds: float = Field(
        1.0, gt=0, le=60, description="How often managed servers' processes are checked "
        "(crashes, restarts, adoption).")
    managed_lease_seconds: float = Field(
        10.0, gt=0, le=600, description="A replica supervises a managed server for this "
        "long after its last check; then another may take it over.")
    log_level: str = Field("INFO")
    log_json: bool | None = Field(None, description="Log one JSON object per line (true) "
                                  "or readable lines (false); unset: readable on a "
                                  "terminal, JSON otherwise.")

    @model_validator(mode="after")
    def _stale_after_heartbeats(self) -> Settings:
        if self.operation_stale_seconds <= self.operation_heartbeat_seconds:
            raise ValueError("operation_stale_seconds must be more than "
                             "operation_heartbeat_seconds: a live process's operations "
                             "would be ended as a dead one's")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        config_file = Path(os.environ.get("DBPLANE_CONFIG", "dbplane.toml"))
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if config_file.is_file():
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config_file))
        return tuple(sources)

    @property
    def meta_file(self) -> Path:
        """The SQLite file of the metadata store (when no ``meta_url`` is set)."""
        return self.data_dir / "meta.db"

    @property
    def key_file(self) -> Path:
        return self.data_dir / "secret.key"

    @property
    def backups_dir(self) -> Path:
        """Where backup archives live."""
        return self.archive_dir or self.data_dir / "backups"

    @property
    def managed_root(self) -> Path:
        """Where managed servers' directories live."""
        return (self.managed_dir or self.data_dir / "managed").resolve()

    @property
    def embedded_dir(self) -> Path:
        """Where embedded SQLite databases live."""
        return self.data_dir / "databases"

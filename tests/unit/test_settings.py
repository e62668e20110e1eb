"""Settings: DBPLANE_* variables, then the optional TOML file."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from dbplane.settings import Settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("DBPLANE_HOST", "DBPLANE_PORT", "DBPLANE_DATA_DIR", "DBPLANE_CONFIG",
                 "DBPLANE_META_URL", "DBPLANE_ADMIN_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def test_defaults() -> None:
    settings = Settings()
    assert (settings.host, settings.port) == ("127.0.0.1", 8080)
    assert settings.data_dir == Path("dbplane-data")
    assert settings.meta_file == Path("dbplane-data/meta.db")
    assert settings.meta_url is None


def test_the_config_file_is_read_and_the_environment_wins(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "dbplane.toml").write_text('port = 9000\nhost = "0.0.0.0"\n')
    assert (Settings().host, Settings().port) == ("0.0.0.0", 9000)
    monkeypatch.setenv("DBPLANE_PORT", "9100")
    assert (Settings().host, Settings().port) == ("0.0.0.0", 9100)


def test_dbplane_config_names_another_file(monkeypatch: pytest.MonkeyPatch,
                                          tmp_path: Path) -> None:
    other = tmp_path / "conf" / "prod.toml"
    other.parent.mkdir()
    other.write_text('data_dir = "/srv/dbplane"\n')
    monkeypatch.setenv("DBPLANE_CONFIG", str(other))
    assert Settings().data_dir == Path("/srv/dbplane")


def test_secrets_are_hidden_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DBPLANE_ADMIN_TOKEN", "dbp_very-secret-token-value")
    monkeypatch.setenv("DBPLANE_META_URL", "postgresql://u:pw-123@h/db")
    text = repr(Settings())
    assert "dbp_very-secret-token-value" not in text
    assert "pw-123" not in text


def test_a_bad_port_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DBPLANE_PORT", "70000")
    with pytest.raises(ValidationError, match="port"):
        Settings()


def test_operation_timings_defaults_environment_and_bounds(
        monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings()
    assert (settings.operation_workers, settings.operation_poll_seconds,
            settings.operation_heartbeat_seconds, settings.operation_stale_seconds,
            settings.operation_progress_every_seconds,
            settings.operation_cancel_grace_seconds,
            settings.operation_stop_grace_seconds) == (4, 0.5, 1.0, 30.0, 0.5, 2.0, 3.0)
    monkeypatch.setenv("DBPLANE_OPERATION_POLL_SECONDS", "0.25")
    monkeypatch.setenv("DBPLANE_OPERATION_STOP_GRACE_SECONDS", "10")
    settings = Settings()
    assert settings.operation_poll_seconds == 0.25
    assert settings.operation_stop_grace_seconds == 10.0
    monkeypatch.setenv("DBPLANE_OPERATION_POLL_SECONDS", "0")
    with pytest.raises(ValidationError, match="operation_poll_seconds"):
        Settings()
    monkeypatch.delenv("DBPLANE_OPERATION_POLL_SECONDS")
    monkeypatch.setenv("DBPLANE_OPERATION_STALE_SECONDS", "1")
    with pytest.raises(ValidationError, match="operation_stale_seconds must be more than"):
        Settings()

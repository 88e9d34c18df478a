from pathlib import Path

import pytest

from stocksense.config import load_settings


def test_defaults_follow_home(tmp_path: Path) -> None:
    s = load_settings({"STOCKSENSE_HOME": str(tmp_path)})
    assert s.home == tmp_path
    assert s.database_url == f"sqlite:///{tmp_path}/stocksense.db"
    assert s.registry_url == str(tmp_path / "registry")
    assert s.window == 60


def test_default_home_is_per_user(monkeypatch: pytest.MonkeyPatch) -> None:
    s = load_settings({})
    assert s.home.name == "stocksense"
    assert str(s.home).startswith(str(Path.home())) or "XDG_DATA_HOME" in __import__("os").environ


def test_env_file_and_environment_precedence(tmp_path: Path) -> None:
    env_file = tmp_path / "stocksense.env"
    env_file.write_text("# comment\nSTOCKSENSE_HOME=/from/file\nSTOCKSENSE_REFIT_EVERY='21'\n")
    s = load_settings({"STOCKSENSE_DATABASE_URL": "postgresql://u@db/x"}, env_file=env_file)
    assert s.home == Path("/from/file")
    assert s.refit_every == 21
    assert s.database_url == "postgresql://u@db/x"
    s2 = load_settings({"STOCKSENSE_HOME": "/from/env"}, env_file=env_file)
    assert s2.home == Path("/from/env")


def test_bad_integer_is_reported() -> None:
    with pytest.raises(ValueError, match="STOCKSENSE_WINDOW"):
        load_settings({"STOCKSENSE_WINDOW": "sixty"})


def test_one_env_file_parser_for_settings_and_web(tmp_path) -> None:
    """config.load_settings and web.config read env files with the same parser: a bad line is an
    error naming the file and line in both (it used to be skipped silently by one of them)."""
    from stocksense.config import EnvFileError
    from stocksense.web.config import ConfigError, load_web_config

    env_file = tmp_path / "bad.env"
    env_file.write_text("STOCKSENSE_WINDOW=30\nSTOCKSENSE_EPOCHS 5\n")
    with pytest.raises(EnvFileError, match=r"bad.env:2: expected KEY=VALUE"):
        load_settings({}, env_file=env_file)
    with pytest.raises(ConfigError, match=r"bad.env:2: expected KEY=VALUE"):
        load_web_config(environ={}, env_file=env_file)
    env_file.write_text("export STOCKSENSE_WINDOW='30'\n")
    assert load_settings({}, env_file=env_file).window == 30

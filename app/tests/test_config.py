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


SECRET = "p@ss:w/rd%20 é"  # every character a URL would misread


def test_database_password_from_a_credential_file(tmp_path: Path) -> None:
    """STOCKSENSE_DATABASE_PASSWORD_FILE (systemd's LoadCredential=): the password is read from
    the file and percent-encoded into the URL, which SQLAlchemy decodes back."""
    from sqlalchemy.engine import make_url

    secret = tmp_path / "db-password"
    secret.write_text(SECRET + "\n")
    s = load_settings({"STOCKSENSE_DATABASE_URL": "postgresql+psycopg://app@db.internal:5432/ss",
                       "STOCKSENSE_DATABASE_PASSWORD_FILE": str(secret)})
    url = make_url(s.database_url)
    assert url.password == SECRET and url.username == "app"
    assert (url.host, url.port, url.database) == ("db.internal", 5432, "ss")


@pytest.mark.parametrize(("url", "file_text", "words"), [
    (None, SECRET, "is not a postgresql:// URL"),
    ("postgresql://db.internal/ss", SECRET, "names no user"),
    ("postgresql://app:other@db.internal/ss", SECRET, "holds a password too"),
    ("postgresql://app@db.internal/ss", None, "cannot read"),
    ("postgresql://app@db.internal/ss", "\n", "is empty"),
])
def test_a_credential_file_that_cannot_be_used_is_refused_without_the_secret(
        tmp_path: Path, url: str | None, file_text: str | None, words: str) -> None:
    secret = tmp_path / "db-password"
    if file_text is not None:
        secret.write_text(file_text)
    env = {"STOCKSENSE_HOME": str(tmp_path), "STOCKSENSE_DATABASE_PASSWORD_FILE": str(secret)}
    if url:
        env["STOCKSENSE_DATABASE_URL"] = url
    with pytest.raises(ValueError, match="STOCKSENSE_DATABASE_PASSWORD_FILE") as caught:
        load_settings(env)
    assert words in str(caught.value) and SECRET not in str(caught.value)


def test_a_real_postgresql_login_with_the_credential_file(pg_cluster, tmp_path: Path) -> None:
    """Debian's PostgreSQL (scram): the password from the file logs in; a wrong one is refused."""
    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError

    from stocksense.data.db import get_engine

    database = pg_cluster.new_database("cred")
    pg_cluster.add_role("cred_user", "Str0ng-pass", database)
    base = f"postgresql+psycopg://cred_user@127.0.0.1:{pg_cluster.port}/{database}"
    secret = tmp_path / "db-password"
    def login(password: str) -> str:
        secret.write_text(password)
        settings = load_settings({"STOCKSENSE_HOME": str(tmp_path), "STOCKSENSE_DATABASE_URL": base,
                                  "STOCKSENSE_DATABASE_PASSWORD_FILE": str(secret)})
        engine = get_engine(settings)
        try:
            with engine.connect() as conn:
                return str(conn.execute(text("SELECT current_user")).scalar())
        finally:
            engine.dispose()

    assert login("Str0ng-pass") == "cred_user"
    with pytest.raises(OperationalError, match="password authentication failed"):
        login("wrong")

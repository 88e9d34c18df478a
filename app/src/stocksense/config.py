"""Runtime settings from the environment (and an optional KEY=VALUE env file).

Everything the app writes lives under one home directory (STOCKSENSE_HOME).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit


def _default_home() -> Path:
    # XDG-style per-user default; the instance sets /var/lib/stocksense.
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg) if xdg else Path.home() / ".local" / "share"
    return base / "stocksense"


@dataclass(frozen=True)
class Settings:
    home: Path
    database_url: str
    registry_url: str
    window: int = 60
    # Walk-forward defaults: refit every N trading days over the last test_days.
    refit_every: int = 63
    backtest_days: int = 252
    # Training history used by default (trading days, ~10 years).
    train_days: int = 2520
    seed: int = 42
    # Max training epochs (early stopping usually ends sooner).
    epochs: int = 40
    # An s3:// registry is served from this local cache, its `latest` pointers polled at most
    # every registry_poll_seconds (STOCKSENSE_REGISTRY_CACHE, STOCKSENSE_REGISTRY_POLL_SECONDS).
    registry_cache: Path | None = None
    registry_poll_seconds: float = 30.0

    @property
    def log_dir(self) -> Path:
        return self.home / "logs"


class EnvFileError(ValueError):
    """An env file line that is not KEY=VALUE; the message names the file and the line."""


def read_env_file(path: str | os.PathLike[str]) -> dict[str, str]:
    """The one parser of StockSense env files (settings, web, the role's checks).

    KEY=VALUE lines; blank lines and # comments are skipped; an optional `export ` prefix; one pair
    of matching single or double quotes around the value is removed. Any other line is an error
    naming the file and line, never silently skipped: a typo must not drop a setting.
    """
    values: dict[str, str] = {}
    text = Path(path).read_text(encoding="utf-8")
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, value = _env_pair(line.removeprefix("export ").lstrip(), path, lineno)
        values[key] = value
    return values


def _env_pair(line: str, path: str | os.PathLike[str], lineno: int) -> tuple[str, str]:
    key, sep, value = line.partition("=")
    key, value = key.strip(), value.strip()
    if not sep or not key or not key.replace("_", "").isalnum():
        raise EnvFileError(f"{path}:{lineno}: expected KEY=VALUE")
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        value = value[1:-1]
    return key, value


def load_settings(
    environ: Mapping[str, str] = os.environ, env_file: str | Path | None = None
) -> Settings:
    env: dict[str, str] = {}
    if env_file is not None and Path(env_file).exists():
        env.update(read_env_file(env_file))
    env.update(environ)  # real environment wins over the file
    home = Path(env.get("STOCKSENSE_HOME") or _default_home()).expanduser()
    database_url = _with_password_file(
        env.get("STOCKSENSE_DATABASE_URL") or f"sqlite:///{home}/stocksense.db",
        env.get("STOCKSENSE_DATABASE_PASSWORD_FILE"))
    registry_url = env.get("STOCKSENSE_REGISTRY") or str(home / "registry")

    def _int(name: str, default: int) -> int:
        raw = env.get(name)
        if raw is None or raw == "":
            return default
        try:
            return int(raw)
        except ValueError as exc:
            raise ValueError(f"{name} must be an integer, got {raw!r}") from exc

    return Settings(
        home=home,
        database_url=database_url,
        registry_url=registry_url,
        window=_int("STOCKSENSE_WINDOW", 60),
        refit_every=_int("STOCKSENSE_REFIT_EVERY", 63),
        backtest_days=_int("STOCKSENSE_BACKTEST_DAYS", 252),
        train_days=_int("STOCKSENSE_TRAIN_DAYS", 2520),
        seed=_int("STOCKSENSE_SEED", 42),
        epochs=_int("STOCKSENSE_EPOCHS", 40),
        registry_cache=Path(env.get("STOCKSENSE_REGISTRY_CACHE")
                            or home / "registry-cache").expanduser(),
        registry_poll_seconds=_seconds(env.get("STOCKSENSE_REGISTRY_POLL_SECONDS")),
    )


def _with_password_file(url: str, password_file: str | None) -> str:
    """The database URL with the password read from STOCKSENSE_DATABASE_PASSWORD_FILE, if set.

    The file is where systemd's LoadCredential= puts a secret (the unit sets the variable to
    %d/NAME): the password then never sits in an env file, the unit or `systemctl show`. The URL
    names the user and no password; the password is percent-encoded into it, as SQLAlchemy reads it.
    Errors name the variable and the file, never the password.
    """
    if not password_file:
        return url
    name = "STOCKSENSE_DATABASE_PASSWORD_FILE"
    parts = urlsplit(url)
    if not parts.scheme.startswith("postgresql"):
        raise ValueError(f"{name} is set, but STOCKSENSE_DATABASE_URL is not a postgresql:// URL")
    user, at, host = parts.netloc.rpartition("@")
    if not at or not user:
        raise ValueError(f"{name} is set, but STOCKSENSE_DATABASE_URL names no user (USER@HOST)")
    if ":" in user:
        raise ValueError(f"{name} is set, but STOCKSENSE_DATABASE_URL holds a password too: "
                         "give it in one place")
    try:
        password = Path(password_file).read_text(encoding="utf-8").rstrip("\r\n")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise ValueError(f"{name}: cannot read {password_file}: {reason}") from None
    if not password:
        raise ValueError(f"{name}: {password_file} is empty")
    return urlunsplit(parts._replace(netloc=f"{user}:{quote(password, safe='')}@{host}"))


def _seconds(raw: str | None, default: float = 30.0) -> float:
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value >= 0:  # also refuses nan
        raise ValueError(f"STOCKSENSE_REGISTRY_POLL_SECONDS must be seconds >= 0, got {raw!r}")
    return value

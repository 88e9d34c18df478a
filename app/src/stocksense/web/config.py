"""Web-only settings, read from ``STOCKSENSE_*`` environment variables and an optional env file.

The env file uses ``KEY=VALUE`` lines (``#`` comments, optional ``export`` prefix, optional
single or double quotes).  Real environment variables win over the file.  The file is named by
``STOCKSENSE_ENV_FILE`` or passed explicitly.
"""

from __future__ import annotations

import os
import secrets
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from stocksense.config import EnvFileError, read_env_file

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5005


class ConfigError(RuntimeError):
    """The configuration cannot be used (e.g. no secret key in production)."""


def parse_env_file(path: str | os.PathLike[str]) -> dict[str, str]:
    """stocksense.config's env-file parser, its errors raised as ConfigError."""
    try:
        return read_env_file(path)
    except EnvFileError as exc:
        raise ConfigError(str(exc)) from None


def merged_environ(
    environ: Mapping[str, str] | None = None, env_file: str | os.PathLike[str] | None = None
) -> dict[str, str]:
    """Environment variables over the env file's values."""
    env = dict(os.environ if environ is None else environ)
    path = env_file or env.get("STOCKSENSE_ENV_FILE")
    merged: dict[str, str] = {}
    if path:
        merged.update(parse_env_file(path))
    merged.update(env)
    return merged


def _bool(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    v = value.strip().lower()
    if v in {"1", "true", "yes", "on"}:
        return True
    if v in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"not a boolean: {value!r}")


def _int(name: str, value: str | None, default: int, lo: int, hi: int) -> int:
    if value is None or value == "":
        return default
    try:
        n = int(value)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {value!r}") from None
    if not lo <= n <= hi:
        raise ConfigError(f"{name} must be between {lo} and {hi}, got {n}")
    return n


def _choice(name: str, value: str | None, default: str, allowed: tuple[str, ...]) -> str:
    v = (value or default).strip().lower()
    if v not in allowed:
        raise ConfigError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
    return v


def _schedule(value: str) -> str:
    from .schedule import parse_schedule

    try:
        parse_schedule(value)
    except ValueError as exc:
        raise ConfigError(f"STOCKSENSE_REFRESH_SCHEDULE: {exc}") from None
    return value


@dataclass(frozen=True)
class WebConfig:
    env: str = "production"  # "production" | "development" | "testing"
    secret_key: str | None = None
    secret_key_ephemeral: bool = False
    admin_user: str = "admin"
    admin_password_hash: str | None = None
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    threads: int = 4
    trusted_proxies: int = 1
    secure_cookies: bool = True
    stale_after_days: int = 4
    login_max_attempts: int = 5
    login_window_seconds: int = 300
    forecast_cache_size: int = 256
    forecast_recheck_seconds: float = 1.0
    max_history_days: int = 3650
    job_command: tuple[str, ...] | None = None  # override of the stocksense CLI prefix (tests)
    retrain_args: tuple[
        str, ...
    ] = ()  # extra `stocksense train`/`backtest` options, e.g. ("--epochs", "20")
    retrain_backtest: bool = True  # a retrain job also reruns the walk-forward backtest
    # behind nginx, nginx owns the security headers; the app sends them when run alone
    security_headers: bool = True
    # when the daily data refresh runs (UTC): cacheable reads expire then
    refresh_schedule: str = "Mon..Fri 22:30"
    public_page_max_age: int = 60  # seconds a page that is the same for every visitor may be cached
    job_runner: str = "local"  # "local" (children of this process: dev, tests) | "systemd"
    systemctl: tuple[str, ...] = ("systemctl",)
    training: str = "auto"  # "auto" | "true" | "false": is retraining offered on the admin page
    ready_cache_seconds: float = 1.0
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def development(self) -> bool:
        return self.env == "development"

    def with_overrides(self, **kw) -> WebConfig:
        return replace(self, **kw)


def _read_secret(env: Mapping[str, str]) -> str | None:
    key = env.get("STOCKSENSE_SECRET_KEY") or None
    path = env.get("STOCKSENSE_SECRET_KEY_FILE") or None
    if key is None and path:
        try:
            key = Path(path).read_text(encoding="utf-8").strip() or None
        except OSError as exc:
            raise ConfigError(f"cannot read STOCKSENSE_SECRET_KEY_FILE: {exc.strerror}") from None
    return key


# Integer settings: WebConfig field -> (variable, default, lowest, highest). trusted_proxies'
# default depends on the mode, so it is not here.
_INT_SETTINGS: dict[str, tuple[str, int, int, int]] = {
    "port": ("STOCKSENSE_PORT", DEFAULT_PORT, 1, 65535),
    "threads": ("STOCKSENSE_THREADS", 4, 1, 64),
    "stale_after_days": ("STOCKSENSE_STALE_AFTER_DAYS", 4, 1, 365),
    "login_max_attempts": ("STOCKSENSE_LOGIN_MAX_ATTEMPTS", 5, 1, 1000),
    "login_window_seconds": ("STOCKSENSE_LOGIN_WINDOW_SECONDS", 300, 1, 86400),
    "forecast_cache_size": ("STOCKSENSE_FORECAST_CACHE_SIZE", 256, 1, 100000),
    "public_page_max_age": ("STOCKSENSE_PUBLIC_PAGE_MAX_AGE", 60, 0, 3600),
}


def load_web_config(
    environ: Mapping[str, str] | None = None, env_file: str | os.PathLike[str] | None = None
) -> WebConfig:
    env = merged_environ(environ, env_file)
    mode = _mode(env)
    secret, ephemeral = _secret(env, mode)
    return WebConfig(
        env=mode,
        secret_key=secret,
        secret_key_ephemeral=ephemeral,
        admin_user=env.get("STOCKSENSE_ADMIN_USER") or "admin",
        admin_password_hash=env.get("STOCKSENSE_ADMIN_PASSWORD_HASH") or None,
        host=env.get("STOCKSENSE_HOST") or DEFAULT_HOST,
        **{name: _int(var, env.get(var), default, lo, hi)
           for name, (var, default, lo, hi) in _INT_SETTINGS.items()},
        trusted_proxies=_int("STOCKSENSE_TRUSTED_PROXIES", env.get("STOCKSENSE_TRUSTED_PROXIES"),
                             0 if mode == "development" else 1, 0, 5),
        secure_cookies=_bool(env.get("STOCKSENSE_SECURE_COOKIES"), mode == "production"),
        retrain_backtest=_bool(env.get("STOCKSENSE_RETRAIN_BACKTEST"), True),
        security_headers=_bool(env.get("STOCKSENSE_SECURITY_HEADERS"), True),
        refresh_schedule=_schedule(env.get("STOCKSENSE_REFRESH_SCHEDULE") or "Mon..Fri 22:30"),
        job_runner=_choice(
            "STOCKSENSE_JOB_RUNNER", env.get("STOCKSENSE_JOB_RUNNER"), "local", ("local", "systemd")
        ),
        systemctl=tuple(shlex.split(env.get("STOCKSENSE_SYSTEMCTL") or "systemctl")),
        training=_choice(
            "STOCKSENSE_TRAINING", env.get("STOCKSENSE_TRAINING"), "auto", ("auto", "true", "false")
        ),
        retrain_args=tuple(shlex.split(env.get("STOCKSENSE_RETRAIN_ARGS") or "")),
        extra={
            k: v
            for k, v in env.items()
            if k.startswith("STOCKSENSE_") and "SECRET" not in k and "PASSWORD" not in k
        },
    )


def _mode(env: Mapping[str, str]) -> str:
    mode = (env.get("STOCKSENSE_ENV") or "production").strip().lower()
    if mode not in {"production", "development", "testing"}:
        raise ConfigError(
            f"STOCKSENSE_ENV must be production, development or testing, got {mode!r}"
        )
    return mode


def _secret(env: Mapping[str, str], mode: str) -> tuple[str, bool]:
    """The session key and whether it is ephemeral (made up for this process)."""
    secret = _read_secret(env)
    if secret is None:
        if mode == "production":
            raise ConfigError(
                "STOCKSENSE_SECRET_KEY (or STOCKSENSE_SECRET_KEY_FILE) is not set; "
                "refusing to start "
                "outside development mode (set STOCKSENSE_ENV=development for an ephemeral key)"
            )
        return secrets.token_urlsafe(32), True
    if len(secret) < 16 and mode == "production":
        raise ConfigError("STOCKSENSE_SECRET_KEY is too short (need at least 16 characters)")
    return secret, False

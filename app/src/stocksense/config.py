"""Runtime settings from the environment (and an optional KEY=VALUE env file).

Everything the app writes lives under one home directory (STOCKSENSE_HOME).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


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

    @property
    def log_dir(self) -> Path:
        return self.home / "logs"


def _read_env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip().strip('"').strip("'")
    return values


def load_settings(
    environ: Mapping[str, str] = os.environ, env_file: str | Path | None = None
) -> Settings:
    env: dict[str, str] = {}
    if env_file is not None and Path(env_file).exists():
        env.update(_read_env_file(Path(env_file)))
    env.update(environ)  # real environment wins over the file
    home = Path(env.get("STOCKSENSE_HOME") or _default_home()).expanduser()
    database_url = env.get("STOCKSENSE_DATABASE_URL") or f"sqlite:///{home}/stocksense.db"
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
    )

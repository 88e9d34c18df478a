"""Web test fixtures: a real SQLite database seeded with the bundled prices and real, tiny LiteRT
models trained and published by the ML core's own `stocksense train` (once per session)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from stocksense.testing import TINY_ENV as _TINY

ADMIN_PASSWORD = "correct horse battery staple"
TRAINED = "MSFT"  # trained + backtested by the ML core's `trained_home` fixture
UNTRAINED = "AMZN"  # seeded, never trained

# The ML core's small training settings (window 20, 400 days, 2 epochs), also inherited by the
# server's retrain job.
TINY_ENV = {**_TINY, "CUDA_VISIBLE_DEVICES": ""}


def cli_prefix() -> list[str]:
    return [sys.executable, "-m", "stocksense"]


@pytest.fixture(scope="session")
def trained_home_dir(trained_home, tmp_path_factory) -> Path:
    """The ML core's trained home (real bundled prices, MSFT trained tiny, LiteRT, backtested),
    copied,
    with only MSFT watched so that a healthy state exists."""
    from stocksense.config import load_settings
    from stocksense.data import queries
    from stocksense.data.db import get_engine

    home = tmp_path_factory.mktemp("web") / "home"
    shutil.copytree(trained_home, home)
    engine = get_engine(load_settings({"STOCKSENSE_HOME": str(home)}))
    for s in queries.list_symbols(engine):
        queries.set_watched(engine, s["symbol"], s["symbol"] == TRAINED)
    engine.dispose()
    return home


@pytest.fixture(scope="session")
def admin_hash() -> str:
    from stocksense.web.auth import hash_password

    return hash_password(ADMIN_PASSWORD)


@pytest.fixture
def web_home(trained_home_dir, tmp_path) -> Path:
    """A private copy of the trained home, so tests that change data do not leak."""
    home = tmp_path / "home"
    shutil.copytree(trained_home_dir, home)
    return home


def make_config(admin_hash: str, **overrides):
    from stocksense.web.config import load_web_config

    cfg = load_web_config(
        {
            "STOCKSENSE_ENV": "testing",
            "STOCKSENSE_SECRET_KEY": "t" * 32,
            "STOCKSENSE_ADMIN_PASSWORD_HASH": admin_hash,
            "STOCKSENSE_TRUSTED_PROXIES": "1",
        }
    )
    return cfg.with_overrides(**overrides)


def make_app(home: Path, admin_hash: str, **overrides):
    from stocksense.config import load_settings
    from stocksense.web import create_app

    settings = load_settings({"STOCKSENSE_HOME": str(home)})
    return create_app(make_config(admin_hash, **overrides), settings=settings)


@pytest.fixture
def app(web_home, admin_hash, monkeypatch):
    for k, v in TINY_ENV.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("STOCKSENSE_HOME", str(web_home))
    application = make_app(web_home, admin_hash)
    yield application
    application.extensions["stocksense.jobs"].shutdown()


@pytest.fixture
def client(app):
    return app.test_client()


def csrf_from(html: str) -> str:
    import re

    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "no CSRF token in the page"
    return m.group(1)


def login(client, password: str = ADMIN_PASSWORD, username: str = "admin"):
    page = client.get("/admin/login")
    token = csrf_from(page.get_data(as_text=True))
    return client.post(
        "/admin/login", data={"csrf_token": token, "username": username, "password": password}
    )

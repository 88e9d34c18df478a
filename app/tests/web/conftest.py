"""Web test fixtures: a real SQLite database seeded with the bundled prices and real, tiny LiteRT
models trained and published by the ML core's own `stocksense train` (once per session)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ADMIN_PASSWORD = "correct horse battery staple"
TRAINED = "MSFT"      # trained + backtested in the fixture
UNTRAINED = "AMZN"    # seeded, never trained

# Small, fast training settings for the tests (read by the ML core's settings/CLI).
TINY_TRAIN_ARGS = ("--epochs", "2", "--days", "400")
TINY_ENV = {
    "STOCKSENSE_WINDOW": "20",
    "STOCKSENSE_RETRAIN_ARGS": " ".join(TINY_TRAIN_ARGS),  # the admin retrain job
    "TF_CPP_MIN_LOG_LEVEL": "3",
    "CUDA_VISIBLE_DEVICES": "",
}


def cli_prefix() -> list[str]:
    return [sys.executable, "-c",
            "import sys; sys.argv[0] = 'stocksense'; from stocksense.cli import main; main()"]


def run_cli(home: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, **TINY_ENV, "STOCKSENSE_HOME": str(home)}
    return subprocess.run(cli_prefix() + list(args), env=env, capture_output=True, text=True, timeout=timeout)


def _seed_and_train(home: Path) -> None:
    from stocksense.config import load_settings
    from stocksense.data import queries
    from stocksense.data.bundled import BUNDLED, load_bundled
    from stocksense.data.db import get_engine, migrate

    settings = load_settings({"STOCKSENSE_HOME": str(home)})
    engine = get_engine(settings)
    migrate(engine)
    for symbol in (TRAINED, UNTRAINED):
        queries.upsert_prices(engine, symbol, load_bundled(symbol), name=BUNDLED[symbol], source="bundled")
    queries.set_watched(engine, TRAINED, True)
    queries.set_watched(engine, UNTRAINED, False)
    engine.dispose()
    for args in (("train", TRAINED, "--json", *TINY_TRAIN_ARGS),
                 ("backtest", TRAINED, "--json", "--refit-every", "40", "--test-days", "40", *TINY_TRAIN_ARGS)):
        proc = run_cli(home, *args)
        assert proc.returncode == 0, f"{args} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        events = [json.loads(l) for l in proc.stdout.splitlines() if l.startswith("{")]
        assert events and events[-1].get("event") == "done", proc.stdout[-2000:]


@pytest.fixture(scope="session")
def trained_home_dir(tmp_path_factory) -> Path:
    """STOCKSENSE_HOME with MSFT trained (both models, LiteRT, backtest) and AMZN seeded only."""
    home = tmp_path_factory.mktemp("web-home")
    _seed_and_train(home)
    return home


@pytest.fixture(scope="session")
def admin_hash() -> str:
    from stocksense.web.auth import hash_password
    return hash_password(ADMIN_PASSWORD)


@pytest.fixture
def web_home(trained_home_dir, tmp_path) -> Path:
    """A private copy of the trained home, so tests that change data do not leak."""
    import shutil
    home = tmp_path / "home"
    shutil.copytree(trained_home_dir, home)
    return home


def make_config(admin_hash: str, **overrides):
    from stocksense.web.config import load_web_config
    cfg = load_web_config({"STOCKSENSE_ENV": "testing", "STOCKSENSE_SECRET_KEY": "t" * 32,
                           "STOCKSENSE_ADMIN_PASSWORD_HASH": admin_hash, "STOCKSENSE_TRUSTED_PROXIES": "1"})
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
    return client.post("/admin/login", data={"csrf_token": token, "username": username, "password": password})

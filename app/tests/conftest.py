"""Shared fixtures: real bundled prices in a throw-away STOCKSENSE_HOME; a throwaway PostgreSQL
cluster (tests/pg.py) and `database_url`, which runs a test on SQLite and on PostgreSQL; moto
standing in for S3 (tests/moto_s3.py) and `s3`, a fresh bucket on it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from moto_s3 import fake_aws_env, moto_server, new_bucket
from pg import Cluster, remove_cluster, start_cluster

from stocksense.config import Settings, load_settings
from stocksense.data import queries
from stocksense.data.bundled import BUNDLED, load_bundled
from stocksense.data.db import get_engine, migrate
from stocksense.testing import build_tiny_home


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings({"STOCKSENSE_HOME": str(tmp_path / "home")})


def _migrated_engine(settings: Settings):  # type: ignore[no-untyped-def]
    """A fixture's body: a migrated engine on `settings`, disposed of after the test."""
    eng = get_engine(settings)
    migrate(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def engine(settings: Settings):  # type: ignore[no-untyped-def]
    yield from _migrated_engine(settings)


@pytest.fixture
def seeded_engine(engine):  # type: ignore[no-untyped-def]
    for symbol, name in BUNDLED.items():
        queries.upsert_prices(engine, symbol, load_bundled(symbol), name=name, source="bundled")
    return engine


@pytest.fixture(scope="session")
def trained_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Bundled prices seeded; MSFT trained (tiny), exported to LiteRT and backtested."""
    home = tmp_path_factory.mktemp("trained-home")
    build_tiny_home(home, symbols=("MSFT",))
    return home


@pytest.fixture(scope="session")
def trained_settings(trained_home: Path) -> Settings:
    from stocksense.testing import TINY_ENV

    return load_settings({**TINY_ENV, "STOCKSENSE_HOME": str(trained_home)})


@pytest.fixture
def trained_copy(trained_home: Path, tmp_path: Path) -> Settings:
    """A private copy of the trained home for tests that modify it."""
    from stocksense.testing import TINY_ENV

    home = tmp_path / "home"
    shutil.copytree(trained_home, home)
    return load_settings({**TINY_ENV, "STOCKSENSE_HOME": str(home)})


# --- PostgreSQL: one throwaway cluster per run, a fresh database per test ----------------------

@pytest.fixture(scope="session")
def pg_cluster():  # type: ignore[no-untyped-def]
    """Started on first use only; a missing server fails the tests that need it (never a skip)."""
    cluster = start_cluster()
    yield cluster
    remove_cluster(cluster)


@pytest.fixture
def pg_url(pg_cluster: Cluster) -> str:
    """SQLAlchemy URL of a fresh, empty database in the run's cluster."""
    return pg_cluster.url(pg_cluster.new_database())


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same test on SQLite (a file under tmp_path) and on the real PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/home/stocksense.db"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def db_settings(tmp_path: Path, database_url: str) -> Settings:
    return load_settings({"STOCKSENSE_HOME": str(tmp_path / "home"),
                          "STOCKSENSE_DATABASE_URL": database_url})


@pytest.fixture
def db_engine(db_settings: Settings):  # type: ignore[no-untyped-def]
    """A migrated engine on each backend (see database_url)."""
    yield from _migrated_engine(db_settings)


# --- S3: moto stands in, one server per run, a fresh bucket per test ----------------------------

@pytest.fixture(scope="session")
def moto_endpoint():  # type: ignore[no-untyped-def]
    """moto stands in for S3: one ThreadedMotoServer on 127.0.0.1, started on first use."""
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture
def s3(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """moto stands in for S3: fake credentials in the environment and a fresh, empty bucket.
    Returns (that environment, a boto3 client, the bucket's name)."""
    env = fake_aws_env(moto_endpoint)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    client, bucket = new_bucket("bucket")
    return env, client, bucket

"""Table definitions (SQLAlchemy Core). Changes go through data.migrations."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

schema_version = sa.Table(
    "schema_version",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("applied_at", sa.String(32), nullable=False),
)

symbols = sa.Table(
    "symbols",
    metadata,
    sa.Column("symbol", sa.String(16), primary_key=True),
    sa.Column("name", sa.String(200)),
    sa.Column("watched", sa.Boolean, nullable=False, default=False),
    sa.Column("source", sa.String(32)),
    sa.Column("created_at", sa.String(32), nullable=False),
)

# Dates are ISO strings: portable between SQLite and PostgreSQL and sort correctly.
prices = sa.Table(
    "prices",
    metadata,
    sa.Column("symbol", sa.String(16), sa.ForeignKey("symbols.symbol"), primary_key=True),
    sa.Column("date", sa.String(10), primary_key=True),
    sa.Column("open", sa.Float, nullable=False),
    sa.Column("high", sa.Float, nullable=False),
    sa.Column("low", sa.Float, nullable=False),
    sa.Column("close", sa.Float, nullable=False),
    sa.Column("adj_close", sa.Float, nullable=False),
    sa.Column("volume", sa.BigInteger, nullable=False),
)

models = sa.Table(
    "models",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("symbol", sa.String(16), sa.ForeignKey("symbols.symbol"), nullable=False),
    sa.Column("model_name", sa.String(32), nullable=False),
    sa.Column("version", sa.String(64), nullable=False),
    sa.Column("created_at", sa.String(32), nullable=False),
    sa.Column("data_start", sa.String(10)),
    sa.Column("data_end", sa.String(10)),
    sa.Column("content_hash", sa.String(80)),
    sa.Column("artifact_uri", sa.String(500)),
    sa.Column("metrics", sa.JSON),
    sa.UniqueConstraint("symbol", "model_name", "version", name="uq_models_version"),
)

forecasts = sa.Table(
    "forecasts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("symbol", sa.String(16), sa.ForeignKey("symbols.symbol"), nullable=False),
    sa.Column("model_name", sa.String(32), nullable=False),
    # The ensemble's version names both models ("transformer@...+lstm@...").
    sa.Column("model_version", sa.String(200)),
    sa.Column("as_of", sa.String(10), nullable=False),
    sa.Column("predicted_return", sa.Float, nullable=False),
    sa.Column("predicted_close", sa.Float, nullable=False),
    sa.Column("created_at", sa.String(32), nullable=False),
)

backtests = sa.Table(
    "backtests",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("symbol", sa.String(16), sa.ForeignKey("symbols.symbol"), nullable=False),
    sa.Column("created_at", sa.String(32), nullable=False),
    sa.Column("refit_every", sa.Integer, nullable=False),
    sa.Column("metrics", sa.JSON, nullable=False),
    # Per-day points as JSON: read whole for charts, never queried by column.
    sa.Column("points", sa.JSON, nullable=False),
)

sa.Index("ix_forecasts_symbol_asof", forecasts.c.symbol, forecasts.c.as_of)
sa.Index("ix_backtests_symbol", backtests.c.symbol, backtests.c.id)

"""Read/write queries over the schema. Plain dicts in and out, no pandas."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from stocksense.data import schema
from stocksense.data.prices import PriceRow
from stocksense.data.symbols import validate_symbol

P = schema.prices
S = schema.symbols


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _insert(engine_or_conn: Engine | sa.Connection, table: sa.Table):  # type: ignore[no-untyped-def]
    """Dialect-specific INSERT that supports ON CONFLICT (SQLite and PostgreSQL)."""
    name = engine_or_conn.dialect.name
    if name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    elif name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        raise RuntimeError(f"unsupported database dialect {name!r}")
    return insert(table)


def add_symbol(engine: Engine, symbol: str, name: str | None = None,
               source: str | None = None) -> str:
    symbol = validate_symbol(symbol)
    with engine.begin() as conn:
        _ensure_symbol(conn, symbol, name, source)
    return symbol


def _ensure_symbol(conn: sa.Connection, symbol: str, name: str | None,
                   source: str | None) -> None:
    stmt = _insert(conn, S).values(symbol=symbol, name=name, watched=False, source=source,
                                   created_at=_now())
    updates: dict[str, Any] = {}
    if name:
        updates["name"] = name
    if source:
        updates["source"] = source
    if updates:
        stmt = stmt.on_conflict_do_update(index_elements=[S.c.symbol], set_=updates)
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=[S.c.symbol])
    conn.execute(stmt)


def upsert_prices(engine: Engine, symbol: str, rows: list[PriceRow],
                  name: str | None = None, source: str | None = None) -> int:
    """Insert or update rows in one transaction (all or nothing); returns row count."""
    symbol = validate_symbol(symbol)
    if not rows:
        return 0
    payload = [{"symbol": symbol, **r.as_dict()} for r in rows]
    with engine.begin() as conn:
        _ensure_symbol(conn, symbol, name, source)
        stmt = _insert(conn, P)
        stmt = stmt.on_conflict_do_update(
            index_elements=[P.c.symbol, P.c.date],
            set_={c: stmt.excluded[c] for c in
                  ("open", "high", "low", "close", "adj_close", "volume")},
        )
        for start in range(0, len(payload), 500):
            conn.execute(stmt, payload[start:start + 500])
    return len(payload)


def _stats_query():  # type: ignore[no-untyped-def]
    stats = (
        sa.select(
            P.c.symbol,
            sa.func.min(P.c.date).label("first_date"),
            sa.func.max(P.c.date).label("last_date"),
            sa.func.count().label("n_days"),
        )
        .group_by(P.c.symbol)
        .subquery()
    )
    return (
        sa.select(S.c.symbol, S.c.name, S.c.watched, stats.c.first_date, stats.c.last_date,
                  stats.c.n_days)
        .select_from(S.outerjoin(stats, stats.c.symbol == S.c.symbol))
    )


def _symbol_dict(row: sa.Row) -> dict[str, Any]:
    return {
        "symbol": row.symbol, "name": row.name, "watched": bool(row.watched),
        "first_date": row.first_date, "last_date": row.last_date,
        "n_days": int(row.n_days or 0),
    }


def list_symbols(engine: Engine, watched_only: bool = False) -> list[dict[str, Any]]:
    query = _stats_query().order_by(S.c.symbol)
    if watched_only:
        query = query.where(S.c.watched.is_(True))
    with engine.connect() as conn:
        return [_symbol_dict(r) for r in conn.execute(query)]


def get_symbol(engine: Engine, symbol: str) -> dict[str, Any] | None:
    symbol = validate_symbol(symbol)
    with engine.connect() as conn:
        row = conn.execute(_stats_query().where(S.c.symbol == symbol)).first()
    return _symbol_dict(row) if row else None


def set_watched(engine: Engine, symbol: str, watched: bool) -> None:
    symbol = validate_symbol(symbol)
    with engine.begin() as conn:
        _ensure_symbol(conn, symbol, None, None)
        conn.execute(S.update().where(S.c.symbol == symbol).values(watched=bool(watched)))


def get_history(engine: Engine, symbol: str, days: int | None) -> list[dict[str, Any]]:
    """The last `days` trading days (all when None), ascending by date."""
    symbol = validate_symbol(symbol)
    cols = [P.c.date, P.c.open, P.c.high, P.c.low, P.c.close, P.c.adj_close, P.c.volume]
    query = sa.select(*cols).where(P.c.symbol == symbol).order_by(P.c.date.desc())
    if days is not None:
        query = query.limit(int(days))
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(query)]
    rows.reverse()
    return rows


def record_model(engine: Engine, *, symbol: str, model_name: str, version: str,
                 created_at: str, data_start: str, data_end: str, content_hash: str,
                 artifact_uri: str, metrics: dict[str, Any]) -> None:
    with engine.begin() as conn:
        _ensure_symbol(conn, symbol, None, None)
        conn.execute(schema.models.insert().values(
            symbol=symbol, model_name=model_name, version=version, created_at=created_at,
            data_start=data_start, data_end=data_end, content_hash=content_hash,
            artifact_uri=artifact_uri, metrics=metrics,
        ))


def record_forecasts(engine: Engine, *, symbol: str, as_of: str,
                     entries: dict[str, dict[str, Any]]) -> None:
    """Store one forecast per model name in a single transaction (all or none)."""
    now = _now()
    rows = [{"symbol": symbol, "model_name": name, "model_version": e.get("model_version"),
             "as_of": as_of, "predicted_return": e["predicted_return"],
             "predicted_close": e["predicted_close"], "created_at": now}
            for name, e in entries.items()]
    with engine.begin() as conn:
        conn.execute(schema.forecasts.insert(), rows)


def save_backtest(engine: Engine, *, symbol: str, refit_every: int,
                  metrics: dict[str, Any], points: list[dict[str, Any]]) -> int:
    with engine.begin() as conn:
        _ensure_symbol(conn, symbol, None, None)
        result = conn.execute(schema.backtests.insert().values(
            symbol=symbol, created_at=_now(), refit_every=refit_every, metrics=metrics,
            points=points,
        ))
        return int(result.inserted_primary_key[0])


def save_backtest_unless(engine: Engine, *, symbol: str, refit_every: int,
                         metrics: dict[str, Any], points: list[dict[str, Any]],
                         same: Callable[[dict[str, Any], dict[str, Any]], bool]) -> int | None:
    """Store a backtest unless same(latest, new); None when skipped. The check and the insert
    run under a write lock on the symbol's row (a no-op UPDATE: a row lock on PostgreSQL, the
    write lock on SQLite), so two instances syncing at once store it only once."""
    symbol = validate_symbol(symbol)
    new = {"symbol": symbol, "refit_every": refit_every, "metrics": metrics, "points": points}
    with engine.begin() as conn:
        _ensure_symbol(conn, symbol, None, None)
        conn.execute(S.update().where(S.c.symbol == symbol).values(symbol=S.c.symbol))
        latest = _latest_backtest(conn, symbol)
        if latest is not None and same(latest, new):
            return None
        result = conn.execute(schema.backtests.insert().values(created_at=_now(), **new))
        return int(result.inserted_primary_key[0])


def latest_backtest(engine: Engine, symbol: str) -> dict[str, Any] | None:
    symbol = validate_symbol(symbol)
    with engine.connect() as conn:
        return _latest_backtest(conn, symbol)


def _latest_backtest(conn: sa.Connection, symbol: str) -> dict[str, Any] | None:
    B = schema.backtests
    query = sa.select(B).where(B.c.symbol == symbol).order_by(B.c.id.desc()).limit(1)
    row = conn.execute(query).first()
    if row is None:
        return None
    return {
        "symbol": row.symbol, "created_at": row.created_at, "refit_every": row.refit_every,
        "metrics": row.metrics, "points": row.points,
    }


def latest_backtest_id(engine: Engine, symbol: str) -> int | None:
    """Cheap change marker: id of the newest backtest row for a symbol."""
    symbol = validate_symbol(symbol)
    B = schema.backtests
    with engine.connect() as conn:
        value = conn.execute(sa.select(sa.func.max(B.c.id)).where(B.c.symbol == symbol)).scalar()
    return int(value) if value is not None else None


def latest_backtest_metrics(engine: Engine, symbol: str) -> dict[str, Any] | None:
    """Metrics of the newest backtest without its (large) per-day points."""
    symbol = validate_symbol(symbol)
    B = schema.backtests
    query = (sa.select(B.c.metrics).where(B.c.symbol == symbol).order_by(B.c.id.desc())
             .limit(1))
    with engine.connect() as conn:
        return conn.execute(query).scalar()


def get_closes_between(engine: Engine, symbol: str, first: str,
                       last: str) -> dict[str, tuple[float, float]]:
    """{date: (close, adj_close)} of stored rows with first <= date <= last."""
    symbol = validate_symbol(symbol)
    query = (sa.select(P.c.date, P.c.close, P.c.adj_close)
             .where(P.c.symbol == symbol, P.c.date >= first, P.c.date <= last))
    with engine.connect() as conn:
        return {r.date: (float(r.close), float(r.adj_close)) for r in conn.execute(query)}


def replace_history(engine: Engine, symbol: str, rows: list[PriceRow],
                    source: str | None = None) -> int:
    """Swap a symbol's whole price history in one transaction (after a split re-adjustment)."""
    symbol = validate_symbol(symbol)
    if not rows:
        raise ValueError("refusing to replace a price history with nothing")
    payload = [{"symbol": symbol, **r.as_dict()} for r in rows]
    with engine.begin() as conn:
        _ensure_symbol(conn, symbol, None, source)
        conn.execute(P.delete().where(P.c.symbol == symbol))
        for start in range(0, len(payload), 500):
            conn.execute(P.insert(), payload[start:start + 500])
    return len(payload)

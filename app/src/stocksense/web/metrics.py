"""App metrics in CloudWatch Embedded Metric Format (EMF), sent over UDP to the agent's listener.

Fire and forget: a request only bumps counters under a lock. A daemon thread, running from the
app's start, flushes once a minute (STOCKSENSE_EMF_INTERVAL) a handful of datagrams from a
non-blocking socket, zero counts included when idle; any send error is swallowed and counted. The
app holds no AWS credentials: the CloudWatch agent on the host turns the datagrams into metrics
(its logs.metrics_collected.emf section).

Metrics (namespace StockSense), default = 4 custom metrics, so that with the agent's 6 the stack
stays within the free tier's 10:
    Requests, Errors5xx   Count, no dimension (one datagram per route group, summed by CloudWatch)
    PredictionLatency     Milliseconds of answered forecast API calls, a uniform sample of <= 100
                          a minute (EMF's array limit), the exact count in the Forecasts property
    DataAgeDays           Count (days), the oldest last price among the watched symbols
Every datagram also carries, as plain properties (searchable in Logs Insights, not billed as
metrics): RouteGroup, the per-symbol data ages and each served model's backtest skill.
STOCKSENSE_EMF_DETAILED=true adds dimension sets: Requests/Errors5xx by RouteGroup (+8 metrics),
DataAgeDays by Symbol (+1 per symbol) and ModelSkill by Symbol and Model (+1 per served model).

    STOCKSENSE_EMF_ADDRESS    udp://127.0.0.1:25888 (the agent's default listener); empty = off
    STOCKSENSE_EMF_LOG_GROUP  /stocksense/metrics (within the instance role's log-group prefix)
"""

from __future__ import annotations

import atexit
import datetime as dt
import json
import logging
import os
import random
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlparse

from flask import Flask, g, request

log = logging.getLogger("stocksense.web.metrics")

NAMESPACE = "StockSense"
DEFAULT_ADDRESS = "udp://127.0.0.1:25888"
DEFAULT_LOG_GROUP = "/stocksense/metrics"
ROUTE_GROUPS = ("api", "pages", "admin", "health")
FORECAST_ENDPOINT = "api.forecast"
MAX_VALUES = 100  # EMF: at most 100 values in one metric's array
SKILL_MODELS = ("transformer", "lstm", "ensemble", "served")
SKILL_KEY = "pinball_skill_vs_ewma"  # skill of the forecast band against the EWMA baseline


def route_group(path: str) -> str:
    if path.startswith("/api/"):
        return "api"
    if path == "/admin" or path.startswith("/admin/"):
        return "admin"
    if path in ("/health", "/ready"):
        return "health"
    return "pages"


class Collector:
    """Counters and a latency sample between two flushes; `flush` turns them into EMF docs."""

    def __init__(self, detailed: bool = False, log_group: str = DEFAULT_LOG_GROUP,
                 rng: random.Random | None = None) -> None:
        self.detailed = detailed
        self.log_group = log_group
        self._rng = rng or random.Random()
        self._lock = threading.Lock()
        self._reset()

    def _reset(self) -> None:
        self.requests = dict.fromkeys(ROUTE_GROUPS, 0)
        self.errors = dict.fromkeys(ROUTE_GROUPS, 0)
        self.latencies: list[float] = []
        self.forecasts = 0

    def record(self, path: str, endpoint: str | None, status: int, ms: float) -> None:
        group = route_group(path)
        with self._lock:
            self.requests[group] += 1
            if status >= 500:
                self.errors[group] += 1
            if endpoint == FORECAST_ENDPOINT and status < 400:
                self._sample(ms)

    def _sample(self, ms: float) -> None:
        # reservoir sampling: every forecast of the minute equally likely to be kept
        self.forecasts += 1
        if len(self.latencies) < MAX_VALUES:
            self.latencies.append(round(ms, 3))
        else:
            slot = self._rng.randrange(self.forecasts)
            if slot < MAX_VALUES:
                self.latencies[slot] = round(ms, 3)

    def flush(self, state: dict[str, Any] | None, now: dt.datetime | None = None) -> list[dict]:
        with self._lock:
            requests, errors = self.requests, self.errors
            latencies, forecasts = self.latencies, self.forecasts
            self._reset()
        stamp = int((now or dt.datetime.now(dt.UTC)).timestamp() * 1000)
        docs = [self._requests_doc(stamp, grp, requests[grp], errors[grp]) for grp in ROUTE_GROUPS]
        if latencies:
            docs.append(self._doc(stamp, [[]], {"PredictionLatency": "Milliseconds"},
                                  {"PredictionLatency": latencies, "Forecasts": forecasts}))
        if state:
            docs.extend(self._state_docs(stamp, state))
        return docs

    def _requests_doc(self, stamp: int, group: str, requests: int, errors: int) -> dict:
        dims = [[], ["RouteGroup"]] if self.detailed else [[]]
        return self._doc(stamp, dims, {"Requests": "Count", "Errors5xx": "Count"},
                         {"RouteGroup": group, "Requests": requests, "Errors5xx": errors})

    def _state_docs(self, stamp: int, state: dict[str, Any]) -> Iterator[dict]:
        ages: dict[str, int] = state.get("ages", {})
        skills: dict[str, dict[str, float]] = state.get("skills", {})
        if ages:
            yield self._doc(stamp, [[]], {"DataAgeDays": "Count"},
                            {"DataAgeDays": max(ages.values()), "DataAgeBySymbol": ages,
                             "ModelSkillBySymbol": skills})
        if not self.detailed:
            return
        for symbol, age in ages.items():
            yield self._doc(stamp, [["Symbol"]], {"DataAgeDays": "Count"},
                            {"Symbol": symbol, "DataAgeDays": age})
        for symbol, by_model in skills.items():
            for model, skill in by_model.items():
                yield self._doc(stamp, [["Symbol", "Model"]], {"ModelSkill": "None"},
                                {"Symbol": symbol, "Model": model, "ModelSkill": skill})

    def _doc(self, stamp: int, dims: list[list[str]], metrics: dict[str, str],
             values: dict[str, Any]) -> dict:
        return {
            "_aws": {
                "Timestamp": stamp,
                "LogGroupName": self.log_group,
                "CloudWatchMetrics": [{
                    "Namespace": NAMESPACE,
                    "Dimensions": dims,
                    "Metrics": [{"Name": n, "Unit": u} for n, u in metrics.items()],
                }],
            },
            **values,
        }


class UdpSender:
    """A non-blocking UDP socket; a failed send is counted, never raised."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.dropped = 0
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        self.sock.setblocking(False)

    def send(self, doc: dict) -> None:
        try:
            self.sock.sendto(json.dumps(doc, separators=(",", ":")).encode(), self.target)
        except OSError:  # refused (nobody listening), buffer full, unreachable...
            self.dropped += 1


def parse_address(address: str) -> tuple[str, int] | None:
    """udp://host:port -> (host, port); '' -> None (metrics off); anything else: ValueError."""
    if not address.strip():
        return None
    parsed = urlparse(address.strip())
    if parsed.scheme != "udp" or not parsed.hostname or not parsed.port:
        raise ValueError(f"STOCKSENSE_EMF_ADDRESS must look like udp://127.0.0.1:25888, "
                         f"got {address!r}")
    return parsed.hostname, parsed.port


class Emitter:
    """Collector + sender + the flushing thread (a daemon, started by init_app)."""

    def __init__(self, collector: Collector, sender: UdpSender, interval: float,
                 state: Callable[[], dict[str, Any]] | None = None) -> None:
        self.collector, self.sender, self.interval = collector, sender, interval
        self.state = state
        self.state_errors = 0
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._stopped = threading.Event()

    def flush(self) -> int:
        state = None
        if self.state is not None:
            try:
                state = self.state()
            except Exception:  # noqa: BLE001 - a database hiccup must not stop the metrics
                self.state_errors += 1
        docs = self.collector.flush(state)
        for doc in docs:
            self.sender.send(doc)
        return len(docs)

    def ensure_started(self) -> None:
        if self._thread is not None:
            return
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="emf-flush", daemon=True)
                self._thread.start()
                atexit.register(self._safe_flush)

    def stop(self) -> None:
        """End the flushing thread (tests; the server's process simply exits)."""
        self._stopped.set()

    def _loop(self) -> None:
        while not self._stopped.wait(self.interval):
            self._safe_flush()

    def _safe_flush(self) -> None:
        try:
            self.flush()
        except Exception:  # noqa: BLE001 - never let the thread die
            self.sender.dropped += 1


def backend_state(app: Flask) -> Callable[[], dict[str, Any]]:
    """Data age of each watched symbol and the backtest skill of each of its models."""

    def read() -> dict[str, Any]:
        from stocksense.data import queries

        backend = app.extensions["stocksense.backend"]
        today = dt.datetime.now(dt.UTC).date()
        ages, skills = {}, {}
        for row in backend.list_symbols(watched_only=True):
            if row.get("last_date"):
                ages[row["symbol"]] = (today - dt.date.fromisoformat(str(row["last_date"]))).days
            metrics = queries.latest_backtest_metrics(backend.engine, row["symbol"]) or {}
            by_model = {m: float(v[SKILL_KEY]) for m, v in metrics.items()
                        if m in SKILL_MODELS and isinstance(v, dict)
                        and isinstance(v.get(SKILL_KEY), int | float)}
            if by_model:
                skills[row["symbol"]] = by_model
        return {"ages": ages, "skills": skills}

    return read


def init_app(app: Flask, environ: dict[str, str] | None = None) -> Emitter | None:
    """Hook the emitter into `app` from STOCKSENSE_EMF_* (off in testing unless set)."""
    env = os.environ if environ is None else environ
    testing = app.config.get("TESTING", False)
    raw = env.get("STOCKSENSE_EMF_ADDRESS", "" if testing else DEFAULT_ADDRESS)
    try:
        target = parse_address(raw)
    except ValueError as exc:
        log.warning("app metrics off: %s", exc)
        return None
    if target is None:
        return None
    collector = Collector(detailed=env.get("STOCKSENSE_EMF_DETAILED", "").lower() == "true",
                          log_group=env.get("STOCKSENSE_EMF_LOG_GROUP") or DEFAULT_LOG_GROUP)
    interval = _seconds(env.get("STOCKSENSE_EMF_INTERVAL"))
    emitter = Emitter(collector, UdpSender(*target), interval, backend_state(app))
    app.extensions["stocksense.metrics"] = emitter
    _hook(app, emitter)
    # flushing from the start, zeros included: the "app sends no metrics" alarm reads Requests
    emitter.ensure_started()
    return emitter


def _seconds(raw: str | None) -> float:
    try:
        value = float(raw) if raw else 60.0
    except ValueError:
        value = 0.0
    if value <= 0:
        log.warning("STOCKSENSE_EMF_INTERVAL=%r is not a positive number: using 60", raw)
        return 60.0
    return value


def _hook(app: Flask, emitter: Emitter) -> None:
    @app.before_request
    def _emf_start() -> None:
        g.emf_t0 = time.perf_counter()

    @app.after_request
    def _emf_record(resp):
        try:
            t0 = g.get("emf_t0")
            ms = (time.perf_counter() - t0) * 1000 if t0 else 0.0
            emitter.collector.record(request.path, request.endpoint, resp.status_code, ms)
            emitter.ensure_started()
        except Exception:  # noqa: BLE001 - metrics never fail a request
            emitter.sender.dropped += 1
        return resp

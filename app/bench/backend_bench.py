#!/usr/bin/env python3
"""Forecast latency by backend, side by side: SQLite vs PostgreSQL, local registry vs S3 (+ cache).

    python bench/backend_bench.py [--home DIR] [--calls 300] [--rounds 3]

* The home is web_bench's (bench/out/web-home: bundled prices, tiny models for the three bundled
  symbols), built once if missing.
* PostgreSQL: a throwaway Debian PostgreSQL cluster on 127.0.0.1 (tests/pg.py, the app suite's
  one implementation), filled with `stocksense db copy` from the home's SQLite file; that copy is
  timed too. S3: moto stands in (a ThreadedMotoServer on 127.0.0.1), filled with `stocksense
  models push`; serving reads it through its local read-through cache, so after warm-up the S3
  figures time the cache path, which is the point: a forecast must never wait on S3.
* Each round measures every combination in turn (this machine is noisy), `--calls` forecasts each
  (round-robin over the symbols) after a warm-up; p50 and p99 are over every round's calls.
  `ForecastService.forecast` is the uncached path: prices read, features, inference, bands.
It prints a table and writes bench/out/backend_bench.json.  Loopback only.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
STOCKSENSE = Path(sys.executable).parent / "stocksense"
SYMBOLS = ("AMZN", "MSFT", "NVDA")
sys.path[:0] = [str(HERE), str(HERE.parent / "tests")]

from moto_s3 import fake_aws_env, moto_server, new_bucket  # noqa: E402
from pg import Cluster, remove_cluster, start_cluster  # noqa: E402
from web_bench import build_home  # noqa: E402


def cli(*args: str, env: dict[str, str] | None = None) -> tuple[dict, float]:
    """One `stocksense ... --json` run: (its JSON answer, seconds)."""
    t0 = time.perf_counter()
    proc = subprocess.run([str(STOCKSENSE), *args, "--json"], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, check=False)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"stocksense {' '.join(args[:2])} failed: {proc.stderr.strip()[-800:]}")
    return json.loads(proc.stdout), seconds


def service_for(home: Path, database_url: str, registry: str, cache: Path):
    from stocksense.config import load_settings
    from stocksense.data.db import get_engine
    from stocksense.serving.service import ForecastService

    settings = load_settings({"STOCKSENSE_HOME": str(home), "STOCKSENSE_DATABASE_URL": database_url,
                              "STOCKSENSE_REGISTRY": registry,
                              "STOCKSENSE_REGISTRY_CACHE": str(cache)})
    return ForecastService(settings, get_engine(settings))


def timed_calls(service, calls: int) -> list[float]:
    for symbol in SYMBOLS * 3:  # warm-up: models loaded, the S3 cache filled, connections open
        service.forecast(symbol)
    times = []
    for i in range(calls):
        t0 = time.perf_counter()
        service.forecast(SYMBOLS[i % len(SYMBOLS)])
        times.append((time.perf_counter() - t0) * 1000)
    return times


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=OUT / "web-home")
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    build_home(args.home)
    sqlite_url = f"sqlite:///{args.home / 'stocksense.db'}"
    cluster = start_cluster()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto: one access-log line per request
    results: dict = {"load_before": os.getloadavg(), "home": str(args.home), "calls": args.calls,
                     "rounds": args.rounds}
    try:
        with moto_server() as endpoint:
            os.environ.update(fake_aws_env(endpoint))
            results.update(measure(args, sqlite_url, cluster))
    finally:
        remove_cluster(cluster)
    results["load_after"] = os.getloadavg()
    show(results)
    OUT.mkdir(exist_ok=True)
    (OUT / "backend_bench.json").write_text(json.dumps(results, indent=1) + "\n")


def measure(args: argparse.Namespace, sqlite_url: str, cluster: Cluster) -> dict:
    """db copy and models push timed, then every (database, registry) pair's forecast latency."""
    results: dict = {}
    pg_url = cluster.url(cluster.new_database("bench"))
    copied, results["db_copy_seconds"] = cli("db", "copy", "--from", sqlite_url, "--to", pg_url)
    results["db_copy_rows"] = copied.get("rows", copied)
    _client, bucket = new_bucket("bench-models")
    s3_url = f"s3://{bucket}/registry"
    _, results["models_push_seconds"] = cli("models", "push", "--from",
                                            str(args.home / "registry"), "--to", s3_url)
    with tempfile.TemporaryDirectory(prefix="backend-bench-") as tmp:
        combos = {(db, reg): service_for(args.home, url, registry, Path(tmp) / f"{db}-{reg}")
                  for db, url in (("sqlite", sqlite_url), ("postgresql", pg_url))
                  for reg, registry in (("local", str(args.home / "registry")), ("s3", s3_url))}
        times: dict = {key: [] for key in combos}
        for _ in range(args.rounds):
            for key, service in combos.items():
                times[key] += timed_calls(service, args.calls)
    results["latency_ms"] = [
        {"database": db, "registry": reg, "p50": round(statistics.median(t), 2),
         "p90": round(percentile(t, 0.90), 2), "p99": round(percentile(t, 0.99), 2),
         "calls": len(t)} for (db, reg), t in times.items()]
    return results


def show(r: dict) -> None:
    print(f"forecast latency by backend ({r['home']}), {r['rounds']} rounds x {r['calls']} calls, "
          f"load {r['load_before'][0]:.2f} -> {r['load_after'][0]:.2f}")
    print(f"db copy SQLite -> PostgreSQL {r['db_copy_seconds']:.2f} s ({r['db_copy_rows']}); "
          f"models push to S3 (moto) {r['models_push_seconds']:.2f} s")
    print(f"{'database':<11} {'registry':<9} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8}")
    for m in r["latency_ms"]:
        print(f"{m['database']:<11} {m['registry']:<9} {m['p50']:>8.2f} {m['p90']:>8.2f} "
              f"{m['p99']:>8.2f}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Backup and restore benchmark: the three bundled symbols with trained models.

    python bench/backup_bench.py [--home DIR] [--rounds 3]

The home is a copy of DIR (default: the models `make demo` caches in ../.cache/app-artifacts/home,
NVDA, AMZN and MSFT trained at full size), else tiny models are trained once for the three bundled
symbols. For a local directory and for S3 (moto stands in for S3: a ThreadedMotoServer on
127.0.0.1; the figures time the client side plus moto's in-process handling, not AWS's network),
it times: a first (full) backup, a second backup with nothing changed (only the manifest is
written), and a restore into the stopped home; best of --rounds, with the load average beside.
Results are printed and written to bench/out/backup_bench.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
CACHED_HOME = HERE.parents[1] / ".cache" / "app-artifacts" / "home"
BUNDLED = ("AMZN", "MSFT", "NVDA")
sys.path.insert(0, str(HERE.parent / "tests"))

from moto_s3 import fake_aws_env, moto_server, new_bucket  # noqa: E402


def _home(source: Path | None, scratch: Path) -> Path:
    home = scratch / "home"
    if source and (source / "stocksense.db").exists():
        shutil.copytree(source, home, ignore=shutil.ignore_patterns("logs"))
        return home
    from stocksense.testing import build_tiny_home

    print("no cached home: training tiny models for the three bundled symbols", flush=True)
    build_tiny_home(home, symbols=BUNDLED, backtest=True)
    return home


def _best(fn, rounds: int) -> tuple[float, dict]:
    best, result = float("inf"), {}
    for _ in range(rounds):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def _measure(dest_for, settings, rounds: int) -> dict:
    from stocksense.backup import run_backup, run_restore

    full, first = _best(lambda: run_backup(dest_for(fresh=True), settings), rounds)
    dest = dest_for(fresh=False)
    again, second = _best(lambda: run_backup(dest, settings), rounds)
    restore, restored = _best(lambda: run_restore(dest, settings), rounds)
    return {"files": first["files"], "bytes": first["bytes"],
            "uploaded_bytes_first": first["uploaded_bytes"],
            "uploaded_bytes_second": second["uploaded_bytes"],
            "backup_full_s": round(full, 3), "backup_unchanged_s": round(again, 3),
            "restore_s": round(restore, 3), "restored_files": restored["files"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=CACHED_HOME)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    from stocksense.config import load_settings

    with tempfile.TemporaryDirectory(prefix="backup-bench-") as tmp:
        scratch = Path(tmp)
        home = _home(args.home, scratch)
        settings = load_settings({"STOCKSENSE_HOME": str(home)})
        counter = iter(range(10_000))

        def local_dest(fresh: bool) -> str:
            return str(scratch / f"dest-{next(counter) if fresh else 'kept'}")

        results = {"load_before": os.getloadavg(), "source_home": str(args.home),
                   "local": _measure(local_dest, settings, args.rounds)}
        results["s3_moto"] = _measure_s3(settings, args.rounds, counter)
        results["load_after"] = os.getloadavg()
    _print(results)
    OUT.mkdir(exist_ok=True)
    (OUT / "backup_bench.json").write_text(json.dumps(results, indent=1) + "\n")


def _measure_s3(settings, rounds: int, counter) -> dict:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per request
    with moto_server() as endpoint, mock.patch.dict(os.environ, fake_aws_env(endpoint)):
        _client, bucket = new_bucket("bench-backups")

        def s3_dest(fresh: bool) -> str:
            return f"s3://{bucket}/{next(counter) if fresh else 'kept'}"

        return _measure(s3_dest, settings, rounds)


def _print(r: dict) -> None:
    print(f"backup bench ({r['source_home']}), load {r['load_before'][0]:.2f} -> "
          f"{r['load_after'][0]:.2f}")
    print(f"{'destination':<10} {'files':>5} {'MB':>6} {'full backup s':>14} "
          f"{'unchanged s':>12} {'2nd upload B':>12} {'restore s':>10}")
    for name in ("local", "s3_moto"):
        m = r[name]
        print(f"{name:<10} {m['files']:>5} {m['bytes'] / 1e6:>6.2f} {m['backup_full_s']:>14.3f} "
              f"{m['backup_unchanged_s']:>12.3f} {m['uploaded_bytes_second']:>12} "
              f"{m['restore_s']:>10.3f}")


if __name__ == "__main__":
    sys.exit(main())

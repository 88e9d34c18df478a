"""Build a small, real StockSense home for tests and benchmarks.

Seeds bundled (real) prices, then trains, backtests and exports tiny models in
a subprocess, so TensorFlow never enters the calling process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from stocksense.config import Settings, load_settings

TINY_ENV = {
    "STOCKSENSE_WINDOW": "20",
    "STOCKSENSE_TRAIN_DAYS": "400",
    "STOCKSENSE_BACKTEST_DAYS": "40",
    "STOCKSENSE_REFIT_EVERY": "20",
    "STOCKSENSE_EPOCHS": "2",
    "TF_CPP_MIN_LOG_LEVEL": "3",
}


def run_cli(home: Path, *args: str, env: dict[str, str] | None = None,
            timeout: float = 600) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {}), "STOCKSENSE_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "stocksense", *args], env=full_env,
                          capture_output=True, text=True, timeout=timeout, check=False)


def build_tiny_home(path: str | Path, symbols: Sequence[str] = ("MSFT",),
                    backtest: bool = True, env: dict[str, str] | None = None) -> Settings:
    """Seed all bundled symbols; train (and backtest) `symbols` with tiny settings."""
    home = Path(path)
    tiny = {**TINY_ENV, **(env or {})}
    steps: list[list[str]] = [["seed"]]
    for symbol in symbols:
        steps.append(["train", symbol, "--json"])
        if backtest:
            steps.append(["backtest", symbol, "--json"])
    for args in steps:
        proc = run_cli(home, *args, env=tiny)
        if proc.returncode != 0:
            raise RuntimeError(f"stocksense {' '.join(args)} failed ({proc.returncode}):\n"
                               f"{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
        if "--json" in args:
            last = json.loads(proc.stdout.strip().splitlines()[-1])
            if last.get("event") != "done":
                raise RuntimeError(f"stocksense {' '.join(args)} did not finish: {last}")
    return load_settings({**tiny, "STOCKSENSE_HOME": str(home)})

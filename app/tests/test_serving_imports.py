"""The serving install must never import TensorFlow, Keras, pandas, yfinance or arch (GARCH)."""

import json
import subprocess
import sys

HEAVY = ("tensorflow", "keras", "pandas", "yfinance", "arch", "scipy")
SERVING_MODULES = (
    "stocksense.serving",
    "stocksense.serving.service",
    "stocksense.cli",
    "stocksense.data.queries",
    "stocksense.data.refresh",
    "stocksense.registry",
    "stocksense.features.inference",
    "stocksense.backtest.metrics",
    "stocksense.features.bands",
    "stocksense.data.cleaning",
    "stocksense.testing",
    "stocksense.web",
)


def _loaded_after(code: str) -> list[str]:
    probe = code + (
        "\nimport json, sys\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True, timeout=120)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_serving_modules_do_not_import_heavy_packages() -> None:
    code = "import importlib\n" + "".join(
        f"importlib.import_module({m!r})\n" for m in SERVING_MODULES)
    assert _loaded_after(code) == []


def test_probe_would_notice_a_heavy_import() -> None:
    # Guard against a probe that can never fail.
    assert "pandas" in _loaded_after("import pandas")


def test_litert_forecast_runs_without_tensorflow(trained_home) -> None:
    code = (
        "import os\n"
        f"os.environ['STOCKSENSE_HOME'] = {str(trained_home)!r}\n"
        "from stocksense.config import load_settings\n"
        "from stocksense.data.db import get_engine\n"
        "from stocksense.serving import ForecastService\n"
        "s = load_settings()\n"
        "r = ForecastService(s, get_engine(s)).forecast('MSFT')\n"
        "assert set(r['models']) == {'transformer', 'lstm'}, r\n"
    )
    assert _loaded_after(code) == []

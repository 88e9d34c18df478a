"""The names and shapes the app shares with everything around it (roles, scripts, other layers).

The lowest layer: it imports nothing from stocksense, so data, models, registry, serving, web and
cli all take these names from here instead of writing them out again.

- MODEL_NAMES: the models every symbol serves, in display order.
- The model registry's key layout (the same keys on a folder or on S3):
      {SYMBOL}/{model}/versions/{version}/model.tflite
      {SYMBOL}/{model}/versions/{version}/meta.json    written after the model; holds its sha256
      {SYMBOL}/{model}/versions/{version}/manifest.json every file's sha256 and size, written next
      {SYMBOL}/{model}/latest                           {"version", "manifest_sha256"}, written last
- A release bundle (`stocksense release export`): registry/ in the layout above, holding only
  the latest version of each model, and import/backtests/{SYMBOL}.json.
- The JSON the CLI prints with --json: progress events {"event": KIND, ...} (JSON lines from the
  long commands), and for the ops commands one object with "ok" (and "error" when not ok).
"""

from __future__ import annotations

import json
from typing import Any

MODEL_NAMES: tuple[str, ...] = ("transformer", "lstm")

# --- Registry keys ---------------------------------------------------------------------------
MODEL_FILE = "model.tflite"
META_FILE = "meta.json"
MANIFEST_FILE = "manifest.json"
LATEST_POINTER = "latest"
VERSIONS_DIR = "versions"


def model_key(symbol: str, model_name: str) -> str:
    return f"{symbol}/{model_name}"


def latest_key(symbol: str, model_name: str) -> str:
    return f"{model_key(symbol, model_name)}/{LATEST_POINTER}"


def versions_key(symbol: str, model_name: str) -> str:
    return f"{model_key(symbol, model_name)}/{VERSIONS_DIR}"


def version_key(symbol: str, model_name: str, version: str, file_name: str = "") -> str:
    base = f"{versions_key(symbol, model_name)}/{version}"
    return f"{base}/{file_name}" if file_name else base


def latest_pointer(version: str, manifest_sha256: str | None = None) -> bytes:
    fields = {"version": version}
    if manifest_sha256 is not None:  # lets a reader check the manifest it is about to trust
        fields["manifest_sha256"] = manifest_sha256
    return json.dumps(fields).encode()


def read_latest_pointer(raw: bytes) -> str:
    """The version a `latest` pointer names; ValueError/KeyError/TypeError when unreadable."""
    return str(json.loads(raw)["version"])


def read_latest_manifest_sha256(raw: bytes) -> str | None:
    """The manifest sha256 a `latest` pointer names (None for pointers written before manifests)."""
    value = json.loads(raw).get("manifest_sha256")
    return None if value is None else str(value)


# --- Release bundle ----------------------------------------------------------------------------
BUNDLE_REGISTRY_DIR = "registry"
BUNDLE_BACKTESTS_DIR = "import/backtests"


def backtest_file_name(symbol: str) -> str:
    return f"{symbol}.json"


# --- Prices object (stocksense.serving.prices: the Lambda predict function's prices) ----------
PRICES_OBJECT_FORMAT = 1
# Trading days kept per symbol: any model's window (60 by default) + SERVING_LOOKBACK (260), with
# room for longer windows.
PRICES_OBJECT_DAYS = 512


# --- CLI JSON ----------------------------------------------------------------------------------
def event(kind: str, **fields: Any) -> dict[str, Any]:
    """One progress event of a long command (train, backtest, refresh, jobs follow them)."""
    return {"event": kind, **fields}


def result(ok: bool = True, **fields: Any) -> dict[str, Any]:
    """The one object an ops command prints with --json."""
    return {"ok": ok, **fields}

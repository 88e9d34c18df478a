"""Model registry.

Layout: stocksense.layout (the same keys on a folder or S3). A version is visible only once
meta.json exists, and serving follows `latest`, so a crash mid-publish never exposes a
half-written model.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from stocksense.layout import (
    META_FILE,
    MODEL_FILE,
    MODEL_NAMES,
    latest_key,
    latest_pointer,
    read_latest_pointer,
    version_key,
    versions_key,
)
from stocksense.registry.stores import ArtifactStore, LocalStore, S3Store

__all__ = ["MODEL_FILE", "META_FILE", "CorruptArtifact", "ModelRegistry", "content_hash",
           "open_registry"]


class CorruptArtifact(RuntimeError):
    pass


def content_hash(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class ModelRegistry:
    def __init__(self, store: ArtifactStore) -> None:
        self.store = store

    @staticmethod
    def latest_key(symbol: str, model_name: str) -> str:
        return latest_key(symbol, model_name)

    def publish(self, symbol: str, model_name: str, model_bytes: bytes,
                meta: dict[str, Any], version: str | None = None,
                extra_files: dict[str, bytes] | None = None) -> dict[str, Any]:
        """Write model + extras, then meta.json, then move `latest` (in that order)."""
        digest = content_hash(model_bytes)
        now = dt.datetime.now(dt.UTC)
        version = version or f"{now:%Y%m%dT%H%M%S}Z-{digest[7:15]}"
        base = version_key(symbol, model_name, version)
        full_meta = {**meta, "symbol": symbol, "model_name": model_name, "version": version,
                     "created_at": now.isoformat(timespec="seconds"), "content_hash": digest,
                     "artifact": MODEL_FILE,
                     "extra_files": {name: content_hash(data)
                                     for name, data in (extra_files or {}).items()}}
        self.store.write_bytes(f"{base}/{MODEL_FILE}", model_bytes)
        for name, data in (extra_files or {}).items():
            self.store.write_bytes(f"{base}/{name}", data)
        self.store.write_bytes(f"{base}/{META_FILE}",
                               json.dumps(full_meta, indent=2, sort_keys=True).encode())
        self.store.write_bytes(latest_key(symbol, model_name), latest_pointer(version))
        full_meta["artifact_uri"] = self.store.uri(f"{base}/{MODEL_FILE}")
        return full_meta

    def latest_version(self, symbol: str, model_name: str) -> str | None:
        raw = self.store.read_bytes(latest_key(symbol, model_name))
        if raw is None:
            return None
        try:
            return read_latest_pointer(raw)
        except (ValueError, KeyError, TypeError) as exc:
            raise CorruptArtifact(f"{symbol}/{model_name}: unreadable latest pointer") from exc

    def latest_stamp(self, symbol: str, model_name: str) -> object | None:
        return self.store.stamp(latest_key(symbol, model_name))

    def versions(self, symbol: str, model_name: str) -> list[str]:
        return self.store.list_children(versions_key(symbol, model_name))

    def symbols(self) -> list[str]:
        return self.store.list_children("")

    def model_names(self, symbol: str) -> list[str]:
        return self.store.list_children(symbol)

    def read_meta(self, symbol: str, model_name: str, version: str) -> dict[str, Any]:
        key = version_key(symbol, model_name, version, META_FILE)
        raw = self.store.read_bytes(key)
        if raw is None:
            raise CorruptArtifact(f"{symbol}/{model_name}@{version}: metadata missing")
        try:
            meta = json.loads(raw)
        except ValueError as exc:
            raise CorruptArtifact(f"{symbol}/{model_name}@{version}: metadata is not JSON") from exc
        meta["artifact_uri"] = self.store.uri(version_key(symbol, model_name, version, MODEL_FILE))
        return meta

    def load(self, symbol: str, model_name: str,
             version: str | None = None) -> tuple[dict[str, Any], bytes]:
        """Return (meta, model bytes) after checking the content hash."""
        version = version or self.latest_version(symbol, model_name)
        if version is None:
            raise FileNotFoundError(f"no published {model_name} model for {symbol}")
        meta = self.read_meta(symbol, model_name, version)
        data = self.store.read_bytes(version_key(symbol, model_name, version, MODEL_FILE))
        if data is None:
            raise CorruptArtifact(f"{symbol}/{model_name}@{version}: model file missing")
        if content_hash(data) != meta.get("content_hash"):
            raise CorruptArtifact(
                f"{symbol}/{model_name}@{version}: content hash mismatch (corrupt artifact)")
        return meta, data


    def load_extra(self, symbol: str, model_name: str, version: str, name: str) -> bytes:
        """An extra file of a version (e.g. the Keras model), hash-checked."""
        meta = self.read_meta(symbol, model_name, version)
        expected = (meta.get("extra_files") or {}).get(name)
        data = self.store.read_bytes(version_key(symbol, model_name, version, name))
        if expected is None or data is None:
            raise CorruptArtifact(f"{symbol}/{model_name}@{version}: no {name} stored")
        if content_hash(data) != expected:
            raise CorruptArtifact(f"{symbol}/{model_name}@{version}: {name} hash mismatch")
        return data

    def latest_versions(self, symbols: list[str] | None = None) -> dict[str, dict[str, str | None]]:
        """{symbol: {model name: latest version or None}} for every served model name."""
        return {symbol: {name: self.latest_version(symbol, name) for name in MODEL_NAMES}
                for symbol in (self.symbols() if symbols is None else symbols)}

    def copy_latest(self, target: ModelRegistry, symbol: str, model_name: str) -> str | None:
        """Copy the latest version of a model, byte for byte, into target (pointer written last).

        Only that version: a release ships what serves, older versions stay where they were.
        """
        version = self.latest_version(symbol, model_name)
        if version is None:
            return None
        meta = self.read_meta(symbol, model_name, version)
        for name in (MODEL_FILE, *sorted(meta.get("extra_files") or {}), META_FILE):
            data = self.store.read_bytes(version_key(symbol, model_name, version, name))
            if data is None:
                raise CorruptArtifact(f"{symbol}/{model_name}@{version}: {name} missing")
            target.store.write_bytes(version_key(symbol, model_name, version, name), data)
        pointer = self.store.read_bytes(latest_key(symbol, model_name))
        target.store.write_bytes(latest_key(symbol, model_name), pointer or latest_pointer(version))
        return version


def open_registry(registry_url: str) -> ModelRegistry:
    if registry_url.startswith("s3://"):
        return ModelRegistry(S3Store(registry_url))
    return ModelRegistry(LocalStore(registry_url.removeprefix("file://")))

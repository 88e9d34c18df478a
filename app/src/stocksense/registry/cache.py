"""The local read-through cache of an S3 registry: what serving reads.

The cache is a folder in the registry's own layout on the instance. Serving reads models from it
only. A model's remote `latest` pointer (one small object) is polled at most once per poll
interval, by one thread while the others keep serving; when it names a version the cache lacks,
every file of that version is downloaded and checked against the manifest, written into a
temporary folder and renamed into place, and only then is the local `latest` moved. A version
that fails the check is refused (logged, naming the object) and the previous one keeps serving;
so does an unreachable S3.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from stocksense.layout import (
    MANIFEST_FILE,
    META_FILE,
    MODEL_FILE,
    MODEL_NAMES,
    latest_key,
    latest_pointer,
    version_key,
)
from stocksense.registry.errors import CorruptArtifact, RegistryError, RegistryUnavailable
from stocksense.registry.registry import ModelRegistry
from stocksense.registry.stores import LocalStore

log = logging.getLogger("stocksense.registry")

_LISTING = ("*", "*")  # the poll key of the remote symbol listing


class CachedRegistry(ModelRegistry):
    """A ModelRegistry over the local cache folder that follows a remote registry."""

    def __init__(self, remote: ModelRegistry, cache_dir: str | Path, poll_seconds: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.cache_dir = Path(cache_dir).expanduser()
        super().__init__(LocalStore(self.cache_dir))
        self.remote = remote
        self.poll_seconds = poll_seconds
        self.clock = clock
        self.refused: dict[tuple[str, str], str] = {}  # last refusal per model (for operators)
        self._lock = threading.Lock()
        self._polled: dict[tuple[str, str], float] = {}
        self._fetching: dict[tuple[str, str], threading.Lock] = {}
        self._remote_symbols: list[str] = []

    # -- what serving calls: local reads, after a rate-limited poll ---------------------------
    def latest_stamp(self, symbol: str, model_name: str) -> object | None:
        self.follow(symbol, model_name)
        return super().latest_stamp(symbol, model_name)

    def latest_version(self, symbol: str, model_name: str) -> str | None:
        self.follow(symbol, model_name)
        return self._cached_version(symbol, model_name)

    def symbols(self) -> list[str]:
        if self._due(_LISTING):
            try:
                self._remote_symbols = self.remote.symbols()
            except RegistryError as exc:
                log.warning("registry: %s; listing the cached symbols only", exc)
        return sorted(set(super().symbols()) | set(self._remote_symbols))

    def model_names(self, symbol: str) -> list[str]:
        return sorted(set(super().model_names(symbol)) | set(MODEL_NAMES))

    def publish(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        raise RegistryError("a registry cache is read-only: publish to the s3:// registry")

    # -- following the remote pointer ---------------------------------------------------------
    def follow(self, symbol: str, model_name: str) -> None:
        """Poll the remote pointer when due. Never raises: the cached version keeps serving."""
        key = (symbol, model_name)
        if self._due(key):
            with self._fetch_lock(key):
                self._refresh_logged(symbol, model_name)
        elif super().latest_stamp(symbol, model_name) is None:
            with self._fetch_lock(key):  # another thread may be filling the cache: wait for it
                pass

    def refresh(self, symbol: str, model_name: str) -> str | None:
        """Make the cache follow the remote `latest` now; the version cached as latest.

        Raises CorruptArtifact or RegistryUnavailable, leaving the local pointer where it was.
        A model whose remote pointer is gone keeps its cached version.
        """
        pointer = self.remote.pointer(symbol, model_name)
        if pointer is None:
            return self._cached_version(symbol, model_name)
        version, manifest_sha = pointer
        previous = self._cached_version(symbol, model_name)
        if not (self.cache_dir / version_key(symbol, model_name, version)).is_dir():
            self._download(symbol, model_name, version, manifest_sha)
        if previous != version:
            self.store.write_bytes(latest_key(symbol, model_name),
                                   latest_pointer(version, manifest_sha))
            log.info("registry: %s/%s now serves %s (was %s)", symbol, model_name, version,
                     previous)
            self._prune(symbol, model_name, keep={version, previous})
        return version

    def _refresh_logged(self, symbol: str, model_name: str) -> None:
        try:
            self.refresh(symbol, model_name)
        except (RegistryError, OSError) as exc:  # OSError: the cache's disk (full, read-only)
            self.refused[(symbol, model_name)] = str(exc)
            log.warning("registry: %s; still serving %s/%s@%s", exc, symbol, model_name,
                        self._cached_version(symbol, model_name))
        else:
            self.refused.pop((symbol, model_name), None)

    def _download(self, symbol: str, model_name: str, version: str,
                  manifest_sha: str | None) -> None:
        files = self.remote.fetch_version(symbol, model_name, version, manifest_sha)
        for required in (MODEL_FILE, META_FILE):
            if required not in files:
                where = self.remote.store.uri(version_key(symbol, model_name, version,
                                                          MANIFEST_FILE))
                raise CorruptArtifact(f"{where}: lists no {required}")
        final = self.cache_dir / version_key(symbol, model_name, version)
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=".incoming-", dir=final.parent))
        except OSError as exc:
            raise RegistryUnavailable(f"cannot write the registry cache {final.parent}: "
                                      f"{exc.strerror}") from exc
        try:
            for name, data in files.items():
                _write_synced(staging / name, data)
            staging.rename(final)  # the whole version appears at once
        except OSError as exc:
            shutil.rmtree(staging, ignore_errors=True)
            if not final.is_dir():  # not a twin process that filled it first
                raise RegistryUnavailable(f"cannot write the registry cache {final}: "
                                          f"{exc.strerror}") from exc

    def _prune(self, symbol: str, model_name: str, keep: set[str | None]) -> None:
        """Cached versions other than the new and the previous one go (the cache stays small)."""
        for version in super().versions(symbol, model_name):
            if version not in keep:
                shutil.rmtree(self.cache_dir / version_key(symbol, model_name, version),
                              ignore_errors=True)

    # -- helpers ------------------------------------------------------------------------------
    def _cached_version(self, symbol: str, model_name: str) -> str | None:
        pointer = ModelRegistry.pointer(self, symbol, model_name)
        return None if pointer is None else pointer[0]

    def _due(self, key: tuple[str, str]) -> bool:
        now = self.clock()
        with self._lock:
            last = self._polled.get(key)
            if last is not None and now - last < self.poll_seconds:
                return False
            self._polled[key] = now
            return True

    def _fetch_lock(self, key: tuple[str, str]) -> threading.Lock:
        with self._lock:
            return self._fetching.setdefault(key, threading.Lock())


def _write_synced(path: Path, data: bytes) -> None:
    with path.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())

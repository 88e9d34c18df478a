"""Model registry.

Layout: stocksense.layout (the same keys on a folder or S3). The publish protocol: every file of
a version first (meta.json last), then its manifest (each file's sha256 and size), then the
`latest` pointer (one small atomic write naming the version and the manifest's sha256). A reader
that follows `latest` therefore always finds a complete version, and can check every byte of it;
a crash mid-publish leaves `latest` on the previous version.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from stocksense.layout import (
    MANIFEST_FILE,
    META_FILE,
    MODEL_FILE,
    MODEL_NAMES,
    latest_key,
    latest_pointer,
    read_latest_manifest_sha256,
    read_latest_pointer,
    version_key,
    versions_key,
)
from stocksense.registry.errors import CorruptArtifact, RegistryUnavailable
from stocksense.registry.manifest import build_manifest, check_bytes, parse_manifest, sha256_hex
from stocksense.registry.stores import ArtifactStore, LocalStore, S3Store

__all__ = ["MODEL_FILE", "META_FILE", "CorruptArtifact", "ModelRegistry", "content_hash",
           "open_registry"]

# Polling the remote `latest` pointers costs one small GET per model per interval.
DEFAULT_POLL_SECONDS = 30.0


def content_hash(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class ModelRegistry:
    def __init__(self, store: ArtifactStore) -> None:
        self.store = store

    @staticmethod
    def latest_key(symbol: str, model_name: str) -> str:
        return latest_key(symbol, model_name)

    def check(self) -> None:
        """Raise RegistryUnavailable now if the store cannot be used (e.g. no bucket)."""
        self.store.check()

    def publish(self, symbol: str, model_name: str, model_bytes: bytes,
                meta: dict[str, Any], version: str | None = None,
                extra_files: dict[str, bytes] | None = None) -> dict[str, Any]:
        """Write model + extras + meta.json, then the manifest, then move `latest`."""
        digest = content_hash(model_bytes)
        now = dt.datetime.now(dt.UTC)
        version = version or f"{now:%Y%m%dT%H%M%S}Z-{digest[7:15]}"
        full_meta = {**meta, "symbol": symbol, "model_name": model_name, "version": version,
                     "created_at": now.isoformat(timespec="seconds"), "content_hash": digest,
                     "artifact": MODEL_FILE,
                     "extra_files": {name: content_hash(data)
                                     for name, data in (extra_files or {}).items()}}
        files = {MODEL_FILE: model_bytes, **(extra_files or {}),
                 META_FILE: json.dumps(full_meta, indent=2, sort_keys=True).encode()}
        self._write_version(symbol, model_name, version, files)
        full_meta["artifact_uri"] = self.store.uri(version_key(symbol, model_name, version,
                                                               MODEL_FILE))
        return full_meta

    def _write_version(self, symbol: str, model_name: str, version: str,
                       files: Mapping[str, bytes], manifest: bytes | None = None) -> None:
        """The publish protocol: files (meta.json last), the manifest, then `latest`."""
        for name in sorted(files, key=lambda n: (n == META_FILE, n)):
            self.store.write_bytes(version_key(symbol, model_name, version, name), files[name])
        manifest = manifest or build_manifest(version, files)
        self.store.write_bytes(version_key(symbol, model_name, version, MANIFEST_FILE), manifest)
        self.store.write_bytes(latest_key(symbol, model_name),
                               latest_pointer(version, sha256_hex(manifest)))

    def pointer(self, symbol: str, model_name: str) -> tuple[str, str | None] | None:
        """(version, manifest sha256 or None) that `latest` names, or None when unpublished."""
        raw = self.store.read_bytes(latest_key(symbol, model_name))
        if raw is None:
            return None
        try:
            return read_latest_pointer(raw), read_latest_manifest_sha256(raw)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            where = self.store.uri(latest_key(symbol, model_name))
            raise CorruptArtifact(f"{where}: unreadable latest pointer") from exc

    def latest_version(self, symbol: str, model_name: str) -> str | None:
        pointer = self.pointer(symbol, model_name)
        return None if pointer is None else pointer[0]

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

    def fetch_version(self, symbol: str, model_name: str, version: str,
                      manifest_sha256: str | None = None) -> dict[str, bytes]:
        """Every file of a version (manifest.json included), each checked against the manifest.

        CorruptArtifact names the object: a missing manifest (not completely published), a
        manifest other than the one `latest` names, a missing file, a wrong size or sha256.
        """
        def where(name: str) -> str:
            return self.store.uri(version_key(symbol, model_name, version, name))

        raw = self.store.read_bytes(version_key(symbol, model_name, version, MANIFEST_FILE))
        if raw is None:
            raise CorruptArtifact(f"{where(MANIFEST_FILE)}: missing "
                                  "(the version is not completely published)")
        if manifest_sha256 is not None and sha256_hex(raw) != manifest_sha256:
            raise CorruptArtifact(f"{where(MANIFEST_FILE)}: sha256 differs from the one "
                                  "`latest` names: refused")
        entries = parse_manifest(raw, where(MANIFEST_FILE))
        for name in entries:
            if not _FILE_NAME.match(name) or name == MANIFEST_FILE:
                raise CorruptArtifact(f"{where(MANIFEST_FILE)}: bad file name {name!r}")
        files = {name: check_bytes(self.store.read_bytes(version_key(symbol, model_name,
                                                                     version, name)),
                                   sha, size, where(name))
                 for name, (sha, size) in entries.items()}
        return {**files, MANIFEST_FILE: raw}

    def latest_versions(self, symbols: list[str] | None = None) -> dict[str, dict[str, str | None]]:
        """{symbol: {model name: latest version or None}} for every served model name."""
        return {symbol: {name: self.latest_version(symbol, name) for name in MODEL_NAMES}
                for symbol in (self.symbols() if symbols is None else symbols)}

    def copy_latest(self, target: ModelRegistry, symbol: str, model_name: str) -> str | None:
        """Copy the latest version of a model, byte for byte, into target (pointer written last).

        Only that version: a release ships what serves, older versions stay where they were.
        """
        return self.push_latest(target, symbol, model_name)[0]

    def push_latest(self, target: ModelRegistry, symbol: str,
                    model_name: str) -> tuple[str | None, bool]:
        """(latest version or None, whether target changed): copy it through the publish protocol.

        Every file is checked first (against the manifest, or against meta.json for a version
        published before manifests existed); nothing is written when target's `latest` already
        names the same version and manifest.
        """
        pointer = self.pointer(symbol, model_name)
        if pointer is None:
            return None, False
        version, manifest_sha = pointer
        if manifest_sha is not None or self.store.read_bytes(
                version_key(symbol, model_name, version, MANIFEST_FILE)) is not None:
            files = self.fetch_version(symbol, model_name, version, manifest_sha)
            manifest = files.pop(MANIFEST_FILE)
        else:
            files, manifest = self._files_checked_by_meta(symbol, model_name, version), None
        manifest = manifest or build_manifest(version, files)
        if target.pointer(symbol, model_name) == (version, sha256_hex(manifest)):
            return version, False
        target._write_version(symbol, model_name, version, files, manifest)
        return version, True

    def _files_checked_by_meta(self, symbol: str, model_name: str,
                               version: str) -> dict[str, bytes]:
        meta = self.read_meta(symbol, model_name, version)
        files = {MODEL_FILE: self.load(symbol, model_name, version)[1]}
        for name in sorted(meta.get("extra_files") or {}):
            files[name] = self.load_extra(symbol, model_name, version, name)
        raw = self.store.read_bytes(version_key(symbol, model_name, version, META_FILE))
        assert raw is not None  # read_meta above raised otherwise
        return {**files, META_FILE: raw}


# A file of a version: a plain name, never a path (the cache writes it into a folder).
_FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def open_registry(registry_url: str, cache_dir: str | Path | None = None,
                  poll_seconds: float = DEFAULT_POLL_SECONDS) -> ModelRegistry:
    """A folder (or file://) or s3://bucket/prefix registry.

    With cache_dir, an s3:// registry is read through a local cache (registry.cache), as serving
    does; without it (the CLI, training) every call goes to S3. A folder needs no cache.
    """
    if registry_url.startswith("s3://"):
        remote = ModelRegistry(S3Store(registry_url))
        if cache_dir is None:
            return remote
        from stocksense.registry.cache import CachedRegistry

        return CachedRegistry(remote, cache_dir, poll_seconds)
    if _SCHEME.match(registry_url) and not registry_url.startswith("file://"):
        raise RegistryUnavailable(f"unsupported registry URL: {registry_url!r} "
                                  "(a folder, file://folder or s3://bucket/prefix)")
    return ModelRegistry(LocalStore(registry_url.removeprefix("file://")))

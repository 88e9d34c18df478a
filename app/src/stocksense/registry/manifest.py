"""A version's manifest: every file of the version with its sha256 and size.

Written after all the files and before the `latest` pointer, which names the manifest's own
sha256: a reader that follows the pointer can check the manifest, then every file against it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

from stocksense.registry.errors import CorruptArtifact


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def build_manifest(version: str, files: Mapping[str, bytes]) -> bytes:
    entries = [{"name": name, "sha256": sha256_hex(data), "size": len(data)}
               for name, data in sorted(files.items())]
    return json.dumps({"version": version, "files": entries}, indent=2, sort_keys=True).encode()


def parse_manifest(raw: bytes, where: str) -> dict[str, tuple[str, int]]:
    """{file name: (sha256 hex, size)}; CorruptArtifact naming `where` when malformed."""
    try:
        doc = json.loads(raw)
        return {str(f["name"]): (str(f["sha256"]), int(f["size"])) for f in doc["files"]}
    except (ValueError, KeyError, TypeError) as exc:
        raise CorruptArtifact(f"{where}: not a valid manifest") from exc


def check_bytes(data: bytes | None, expected_sha256: str, expected_size: int, where: str) -> bytes:
    """The data if it is exactly what the manifest names; CorruptArtifact naming the object."""
    if data is None:
        raise CorruptArtifact(f"{where}: missing (the version is not completely published)")
    if len(data) != expected_size:
        raise CorruptArtifact(f"{where}: size {len(data)} != {expected_size} in the manifest")
    actual = sha256_hex(data)
    if actual != expected_sha256:
        raise CorruptArtifact(f"{where}: sha256 mismatch (manifest {expected_sha256[:12]}..., "
                              f"object {actual[:12]}...): refused")
    return data

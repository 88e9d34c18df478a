"""Key/value byte stores behind the registry.

The registry only needs: read a key, write a key atomically, list child names.
That maps 1:1 onto a local folder and onto S3 objects (a PUT is atomic there).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Protocol


class ArtifactStore(Protocol):
    def read_bytes(self, key: str) -> bytes | None: ...
    def write_bytes(self, key: str, data: bytes) -> None: ...
    def list_children(self, prefix: str) -> list[str]: ...
    def uri(self, key: str) -> str: ...
    def stamp(self, key: str) -> object | None: ...


class LocalStore:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser()

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents and path != self.root.resolve():
            raise ValueError(f"key escapes the registry: {key!r}")
        return path

    def read_bytes(self, key: str) -> bytes | None:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            return None

    def write_bytes(self, key: str, data: bytes) -> None:
        # Write a temp file in the same folder, fsync, then rename over the
        # target: readers see the old or the new content, never half a file.
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def list_children(self, prefix: str) -> list[str]:
        path = self._path(prefix) if prefix else self.root
        if not path.is_dir():
            return []
        return sorted(p.name for p in path.iterdir() if not p.name.startswith("."))

    def uri(self, key: str) -> str:
        return str(self._path(key))

    def stamp(self, key: str) -> object | None:
        # Cheap change detector for the `latest` pointer (no read needed).
        try:
            st = self._path(key).stat()
        except FileNotFoundError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)


class S3Store:
    """s3://bucket/prefix store. Needs boto3 (not a dependency yet; not tested here)."""

    def __init__(self, url: str) -> None:
        import boto3  # type: ignore[import-not-found]

        bucket_and_prefix = url.removeprefix("s3://")
        self.bucket, _, prefix = bucket_and_prefix.partition("/")
        self.prefix = prefix.strip("/")
        self.client = boto3.client("s3")

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def read_bytes(self, key: str) -> bytes | None:
        try:
            obj = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
        except self.client.exceptions.NoSuchKey:
            return None
        return obj["Body"].read()

    def write_bytes(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data)

    def list_children(self, prefix: str) -> list[str]:
        full = self._key(prefix).rstrip("/") + "/"
        names: set[str] = set()
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=full, Delimiter="/"):
            for cp in page.get("CommonPrefixes", []):
                names.add(cp["Prefix"][len(full):].strip("/"))
            for obj in page.get("Contents", []):
                names.add(obj["Key"][len(full):])
        return sorted(n for n in names if n and not n.startswith("."))

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._key(key)}"

    def stamp(self, key: str) -> object | None:
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except Exception:
            return None
        return head.get("ETag")

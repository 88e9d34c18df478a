"""Key/value byte stores behind the registry.

The registry only needs: read a key, write a key atomically, list child names.
That maps 1:1 onto a local folder and onto S3 objects (a PUT is atomic there).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Protocol
from urllib.parse import urlparse

from stocksense import s3
from stocksense.registry.errors import RegistryUnavailable


class ArtifactStore(Protocol):
    def read_bytes(self, key: str) -> bytes | None: ...
    def write_bytes(self, key: str, data: bytes) -> None: ...
    def list_children(self, prefix: str) -> list[str]: ...
    def uri(self, key: str) -> str: ...
    def stamp(self, key: str) -> object | None: ...
    def check(self) -> None: ...


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

    def check(self) -> None:
        """A folder needs nothing up front: it is created on the first write."""

    def stamp(self, key: str) -> object | None:
        # Cheap change detector for the `latest` pointer (no read needed).
        try:
            st = self._path(key).stat()
        except FileNotFoundError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)


class S3Store:
    """s3://bucket/prefix store (boto3, the `backup` extra; imported only when one is opened).

    Credentials come from boto3's default chain (the instance role); AWS_ENDPOINT_URL /
    AWS_ENDPOINT_URL_S3 point it elsewhere (moto in the tests). Every failure is a
    RegistryUnavailable naming the operation and the object, never the credentials.
    """

    def __init__(self, url: str) -> None:
        located = s3.bucket_and_prefix(url) if urlparse(url).scheme == "s3" else None
        if located is None:
            raise RegistryUnavailable(
                f"not a valid S3 registry URL: {url!r} (expected s3://bucket/prefix)")
        self.bucket, self.prefix = located
        # Short timeouts: a poll from a serving thread must not hang on a dead network.
        self.client = s3.open_client(RegistryUnavailable, "an s3:// registry needs",
                                     f"s3://{self.bucket}", connect_timeout=5, read_timeout=15,
                                     retries={"max_attempts": 3, "mode": "standard"})

    def _key(self, key: str) -> str:
        return "/".join(part for part in (self.prefix, key) if part)

    def check(self) -> None:
        """Fail now, with a clear reason, if the bucket is missing or the credentials are."""
        s3.call(RegistryUnavailable, f"opening {self.uri('')}", self.client.head_bucket,
                Bucket=self.bucket)

    def read_bytes(self, key: str) -> bytes | None:
        def read() -> bytes:
            return self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read()

        return s3.call_or_none(RegistryUnavailable, f"reading {self.uri(key)}", read)

    def write_bytes(self, key: str, data: bytes) -> None:
        # One PUT is atomic on S3: readers get the old object or the new one, never a mix.
        s3.call(RegistryUnavailable, f"writing {self.uri(key)}", self.client.put_object,
                Bucket=self.bucket, Key=self._key(key), Body=data)

    def list_children(self, prefix: str) -> list[str]:
        full = self._key(prefix).strip("/")
        full = f"{full}/" if full else ""
        names: set[str] = set()

        def collect() -> None:
            paginator = self.client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=full, Delimiter="/"):
                names.update(cp["Prefix"][len(full):].strip("/")
                             for cp in page.get("CommonPrefixes", []))
                names.update(obj["Key"][len(full):] for obj in page.get("Contents", []))

        s3.call(RegistryUnavailable, f"listing {self.uri(prefix)}", collect)
        return sorted(n for n in names if n and not n.startswith("."))

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._key(key)}"

    def stamp(self, key: str) -> object | None:
        head = s3.call_or_none(RegistryUnavailable, f"checking {self.uri(key)}",
                               self.client.head_object, Bucket=self.bucket, Key=self._key(key))
        return None if head is None else head.get("ETag")

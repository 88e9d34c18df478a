"""Key/value byte stores behind the registry.

The registry only needs: read a key, write a key atomically, list child names.
That maps 1:1 onto a local folder and onto S3 objects (a PUT is atomic there).
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Protocol
from urllib.parse import urlparse

from stocksense.registry.errors import RegistryUnavailable

# S3 bucket names: 3-63 lower-case letters, digits, dots and hyphens.
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


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
        parsed = urlparse(url)
        if parsed.scheme != "s3" or not _BUCKET.match(parsed.netloc or ""):
            raise RegistryUnavailable(
                f"not a valid S3 registry URL: {url!r} (expected s3://bucket/prefix)")
        try:
            import boto3
            from botocore.config import Config
            from botocore.exceptions import BotoCoreError, ClientError
        except ModuleNotFoundError as exc:
            raise RegistryUnavailable("boto3 is not installed: an s3:// registry needs "
                                      "pip install 'stocksense[backup]'") from exc
        self.bucket = parsed.netloc
        self.prefix = parsed.path.strip("/")
        # Short timeouts: a poll from a serving thread must not hang on a dead network.
        config = Config(connect_timeout=5, read_timeout=15,
                        retries={"max_attempts": 3, "mode": "standard"})
        try:
            self.client = boto3.client("s3", config=config)
        except BotoCoreError as exc:  # e.g. no region configured
            raise RegistryUnavailable(f"cannot open s3://{self.bucket}: {exc}") from exc
        self._client_error = ClientError
        self._errors = (BotoCoreError, ClientError)

    def _key(self, key: str) -> str:
        return "/".join(part for part in (self.prefix, key) if part)

    def _call(self, what: str, key: str, fn, **kwargs):  # type: ignore[no-untyped-def]
        try:
            return fn(**kwargs)
        except self._errors as exc:
            raise RegistryUnavailable(f"{what} {self.uri(key)} failed: {exc}") from exc

    def _missing(self, exc: Exception) -> bool:
        code = getattr(exc, "response", {}).get("Error", {}).get("Code")
        return isinstance(exc, self._client_error) and code in ("404", "NoSuchKey", "NotFound")

    def check(self) -> None:
        """Fail now, with a clear reason, if the bucket is missing or the credentials are."""
        self._call("opening", "", self.client.head_bucket, Bucket=self.bucket)

    def read_bytes(self, key: str) -> bytes | None:
        try:
            obj = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
            return obj["Body"].read()
        except self._errors as exc:
            if self._missing(exc):
                return None
            raise RegistryUnavailable(f"reading {self.uri(key)} failed: {exc}") from exc

    def write_bytes(self, key: str, data: bytes) -> None:
        # One PUT is atomic on S3: readers get the old object or the new one, never a mix.
        self._call("writing", key, self.client.put_object, Bucket=self.bucket,
                   Key=self._key(key), Body=data)

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

        try:
            collect()
        except self._errors as exc:
            raise RegistryUnavailable(f"listing {self.uri(prefix)} failed: {exc}") from exc
        return sorted(n for n in names if n and not n.startswith("."))

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._key(key)}"

    def stamp(self, key: str) -> object | None:
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except self._errors as exc:
            if self._missing(exc):
                return None
            raise RegistryUnavailable(f"checking {self.uri(key)} failed: {exc}") from exc
        return head.get("ETag")

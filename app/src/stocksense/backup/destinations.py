"""Where backups go: a local directory or s3://bucket/prefix, behind one small interface.

S3 goes through boto3's default credential chain (the instance role; never keys in a file we
write) and honours AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_S3, which botocore reads itself.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Protocol

from stocksense import s3

from .errors import BackupError

OBJECTS = "objects/sha256"


class Destination(Protocol):
    def describe(self, key: str = "") -> str: ...
    def object_digests(self) -> set[str]: ...
    def put_file(self, key: str, path: Path) -> None: ...
    def put_bytes(self, key: str, data: bytes) -> None: ...
    def get_bytes(self, key: str) -> bytes | None: ...
    def download(self, key: str, path: Path) -> None: ...
    def exists(self, key: str) -> bool: ...


def open_destination(dest: str, *, create: bool) -> Destination:
    """A Destination for `dest`; a clear BackupError for anything else."""
    if not dest or not dest.strip():
        raise BackupError("no destination given (a directory or s3://bucket/prefix)")
    if dest.startswith("s3://"):
        return S3Destination(dest)
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", dest):
        raise BackupError(f"unsupported destination {dest!r}: use a directory or s3://bucket/prefix")
    return LocalDestination(Path(dest).expanduser(), create=create)


class LocalDestination:
    def __init__(self, root: Path, *, create: bool) -> None:
        if root.exists() and not root.is_dir():
            raise BackupError(f"destination {root} exists and is not a directory")
        if not root.exists():
            if not create:
                raise BackupError(f"destination {root} does not exist")
            try:
                root.mkdir(parents=True)
            except OSError as exc:
                raise BackupError(f"cannot create destination {root}: {exc.strerror}") from exc
        self.root = root

    def describe(self, key: str = "") -> str:
        return str(self.root / key) if key else str(self.root)

    def object_digests(self) -> set[str]:
        folder = self.root / OBJECTS
        return {p.name for p in folder.iterdir()} if folder.is_dir() else set()

    def put_file(self, key: str, path: Path) -> None:
        self._atomic(key, lambda fh: _copy_into(path, fh))

    def put_bytes(self, key: str, data: bytes) -> None:
        self._atomic(key, lambda fh: fh.write(data))

    def get_bytes(self, key: str) -> bytes | None:
        try:
            return (self.root / key).read_bytes()
        except FileNotFoundError:
            return None

    def download(self, key: str, path: Path) -> None:
        try:
            shutil.copyfile(self.root / key, path)
        except FileNotFoundError as exc:
            raise BackupError(f"missing object {self.describe(key)}") from exc

    def exists(self, key: str) -> bool:
        return (self.root / key).exists()

    def _atomic(self, key: str, write) -> None:  # type: ignore[no-untyped-def]
        # temp file + fsync + rename: a crash never leaves half an object under its final name
        target = self.root / key
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=target.parent)
            with os.fdopen(fd, "wb") as fh:
                write(fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        except OSError as exc:
            raise BackupError(f"cannot write {target}: {exc.strerror}") from exc


def _copy_into(path: Path, fh) -> None:  # type: ignore[no-untyped-def]
    with path.open("rb") as src:
        shutil.copyfileobj(src, fh, 1024 * 1024)


class S3Destination:
    def __init__(self, url: str) -> None:
        located = s3.bucket_and_prefix(url)
        if located is None:
            raise BackupError(f"not a valid S3 destination: {url!r} (expected s3://bucket/prefix)")
        self.bucket, self.prefix = located
        self.client = s3.open_client(BackupError, "S3 destinations need", self.describe())

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def describe(self, key: str = "") -> str:
        return f"s3://{self.bucket}/{self._key(key)}" if key else f"s3://{self.bucket}/{self.prefix}"

    def _call(self, what: str, key: str, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
        return s3.call(BackupError, f"{what} {self.describe(key)}", fn, *args, **kwargs)

    def object_digests(self) -> set[str]:
        prefix = self._key(OBJECTS) + "/"
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix)
        names: set[str] = set()

        def collect() -> None:
            for page in pages:
                names.update(o["Key"][len(prefix):] for o in page.get("Contents", []))

        self._call("listing", OBJECTS, collect)
        return names

    def put_file(self, key: str, path: Path) -> None:
        self._call("upload to", key, self.client.upload_file, str(path), self.bucket,
                   self._key(key))

    def put_bytes(self, key: str, data: bytes) -> None:
        self._call("upload to", key, self.client.put_object, Bucket=self.bucket,
                   Key=self._key(key), Body=data)

    def get_bytes(self, key: str) -> bytes | None:
        if not self.exists(key):
            return None
        obj = self._call("download of", key, self.client.get_object, Bucket=self.bucket,
                         Key=self._key(key))
        return self._call("download of", key, obj["Body"].read)

    def download(self, key: str, path: Path) -> None:
        self._call("download of", key, self.client.download_file, self.bucket, self._key(key),
                   str(path))

    def exists(self, key: str) -> bool:
        head = s3.call_or_none(BackupError, f"checking {self.describe(key)}",
                               self.client.head_object, Bucket=self.bucket, Key=self._key(key))
        return head is not None

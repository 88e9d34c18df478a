"""S3 access shared by the model registry and the backups: the URL, the client, one-line errors.

Below both layers, importing nothing of stocksense. boto3 (the `backup` extra) is imported only
when an S3 location is opened, so a process using local folders never loads it. Each caller
passes its own exception type, so the registry keeps raising RegistryUnavailable and the backup
BackupError, each with a message naming the operation and the object; botocore's own messages
name the error code and never the credentials.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlparse

T = TypeVar("T")

# S3 bucket names: 3-63 lower-case letters, digits, dots and hyphens.
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
# What S3 answers for an object (or a bucket, on HEAD) that is not there.
_MISSING = ("404", "NoSuchKey", "NotFound")


def bucket_and_prefix(url: str) -> tuple[str, str] | None:
    """(bucket, prefix) of s3://bucket/prefix; None when the bucket is not a valid S3 name."""
    parsed = urlparse(url)
    if not _BUCKET.match(parsed.netloc or ""):
        return None
    return parsed.netloc, parsed.path.strip("/")


def open_client(error: type[Exception], needs: str, where: str, **config: Any) -> Any:
    """A boto3 S3 client (default credential chain; botocore honours AWS_ENDPOINT_URL[_S3]).

    `config` goes to botocore's Config (timeouts, retries). No boto3: error("boto3 is not
    installed: {needs} pip install ..."); a client that cannot be made (a missing profile, a
    bad region): error("cannot open {where}: ...").
    """
    try:
        import boto3
        from botocore.config import Config
        from botocore.exceptions import BotoCoreError
    except ModuleNotFoundError as exc:
        raise error(f"boto3 is not installed: {needs} pip install 'stocksense[backup]'") from exc
    try:
        return boto3.client("s3", config=Config(**config))
    except BotoCoreError as exc:
        raise error(f"cannot open {where}: {exc}") from exc


def call(error: type[Exception], what: str, fn: Callable[..., T], *args: Any,
         **kwargs: Any) -> T:
    """fn(*args, **kwargs); any boto3/botocore failure becomes error("{what} failed: ...")."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return fn(*args, **kwargs)
    except (BotoCoreError, ClientError) as exc:
        raise error(f"{what} failed: {exc}") from exc


def call_or_none(error: type[Exception], what: str, fn: Callable[..., T], *args: Any,
                 **kwargs: Any) -> T | None:
    """Like `call`, but None when S3 answers that the object is not there."""
    from botocore.exceptions import ClientError

    def or_none() -> T | None:
        try:
            return fn(*args, **kwargs)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _MISSING:
                return None
            raise

    return call(error, what, or_none)

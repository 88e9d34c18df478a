"""moto stands in for S3, for the tests (conftest.py's `s3` fixture) and the benches.

A `moto.server.ThreadedMotoServer` on 127.0.0.1 on a free port, reached through AWS_ENDPOINT_URL
exactly as the instance and the controller reach S3 (botocore reads the variable), with fake
credentials. boto3, the HTTP traffic and the code under test are real; only AWS is not.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager

from pg import free_port

_numbers = itertools.count(1)


@contextmanager
def moto_server() -> Iterator[str]:
    """moto stands in for S3: a ThreadedMotoServer on 127.0.0.1; yields its endpoint URL."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def fake_aws_env(endpoint: str) -> dict[str, str]:
    """The environment that sends boto3 to moto: fake keys, a region, and no instance-metadata
    lookup (169.254.169.254 is never asked)."""
    return {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true"}


def new_bucket(prefix: str) -> tuple[object, str]:
    """(boto3 client, name) of a fresh bucket, named `prefix-N` (unique in this process); the
    environment must already point at moto (fake_aws_env)."""
    import boto3

    client = boto3.client("s3")
    bucket = f"{prefix}-{next(_numbers)}"
    client.create_bucket(Bucket=bucket)
    return client, bucket

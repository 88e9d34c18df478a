"""A private moto server (scripts/moto.sh) on a free loopback port, for tests that need the AWS API."""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

MOTO_SH = Path(__file__).resolve().parent.parent / "scripts" / "moto.sh"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def private_moto() -> Iterator[str]:
    """Start moto on a free port, yield its endpoint URL, stop it afterwards."""
    env = {**os.environ, "MOTO_PORT": str(free_port())}
    subprocess.run([str(MOTO_SH), "start"], env=env, check=True, capture_output=True)
    try:
        yield f"http://127.0.0.1:{env['MOTO_PORT']}"
    finally:
        subprocess.run([str(MOTO_SH), "stop"], env=env, check=False, capture_output=True)

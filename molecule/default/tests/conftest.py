"""Fixtures for the end-to-end tests: the sandbox's public name, port and trusted CA."""

from __future__ import annotations

import http.client
import os
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path

import pytest

DOMAIN = "stocksense.sandbox.test"


@dataclass(frozen=True)
class Site:
    domain: str
    https_port: int
    http_port: int
    ca_file: Path

    @property
    def url(self) -> str:
        return f"https://{self.domain}:{self.https_port}"

    def tls_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file))

    def get(self, path: str, *, headers: dict | None = None) -> tuple[int, dict, bytes]:
        """GET over HTTPS to 127.0.0.1, with SNI and certificate checks for the public name."""
        conn = PinnedHTTPSConnection(self.domain, self.https_port, context=self.tls_context())
        try:
            conn.request("GET", path, headers=headers or {})
            response = conn.getresponse()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        finally:
            conn.close()


class PinnedHTTPSConnection(http.client.HTTPSConnection):
    """Connects to the loopback address while TLS checks the certificate for the public name."""

    def connect(self) -> None:
        sock = socket.create_connection(("127.0.0.1", self.port), self.timeout or 10)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


@pytest.fixture(scope="session")
def site() -> Site:
    project = Path(os.environ["MOLECULE_PROJECT_DIRECTORY"])
    cache = Path(os.environ.get("SANDBOX_CACHE", project / ".cache" / "sandbox"))
    ca_file = cache / "pebble-issuer-root.pem"
    assert ca_file.is_file(), f"{ca_file} missing: the check stage of site.yml fetches it"
    return Site(DOMAIN, int(os.environ["SANDBOX_HTTPS_PORT"]), int(os.environ["SANDBOX_HTTP_PORT"]), ca_file)

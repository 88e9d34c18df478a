"""The echo stand-in upstream, a fixture shared by the nginx scenario's test modules (imported by name:
a conftest.py here would shadow molecule/conftest.py, which the modules import as `conftest`)."""

from __future__ import annotations

import time

import pytest


@pytest.fixture
def standin_upstream(first_host):
    """The echo stand-in (not the app) on 127.0.0.1:5005 inside the instance, for the length of a test."""
    first_host.run("systemctl stop standin-upstream.service; systemctl reset-failed standin-upstream.service")
    first_host.check_output("systemd-run --unit=standin-upstream --property=Type=simple /usr/local/bin/standin-upstream")
    for _ in range(50):
        if first_host.run("python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", 5005), 1)'").rc == 0:
            break
        time.sleep(0.1)
    yield
    first_host.run("systemctl stop standin-upstream.service")

"""Helpers shared by the testinfra suites of every molecule scenario.

The suites check behaviour, so besides reading the converged instance they run the role again
with other variables (resize, remove, bad input) through ansible-playbook over the podman
connection, exactly as a user's play would.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import testinfra

REPO = Path(__file__).resolve().parent.parent
# The Ansible environment and recap parsing are shared with the ec2 scenario (tests/ansible_run.py).
sys.path.insert(0, str(REPO / "tests"))
from ansible_run import ANSIBLE_BIN, PlayResult, ansible_env, load_podman_connection  # noqa: E402


def _enter_containers_with_nsenter() -> None:
    """testinfra's podman backend runs each check as `podman exec`, 0.14 s apiece; nsenter takes 3 ms.

    The checks go through connection_plugins/podman.py's ContainerNamespaces, the way the
    connection plugin runs Ansible's tasks: the container's namespaces, capability bounding set and
    environment. It falls back to testinfra's own `podman exec` when nsenter cannot be used (see
    that class) and for checks run as another user.
    """
    from testinfra.backend.podman import PodmanBackend

    namespaces_for = load_podman_connection().ContainerNamespaces
    podman_exec = PodmanBackend.run

    def run(self, command, *args, **kwargs):
        if self.user is None:
            namespaces = self.__dict__.setdefault("_stocksense_namespaces", namespaces_for(self.name))
            script = self.get_command(command, *args)
            argv = namespaces.command(["/bin/sh", "-c", script])
            if argv is not None:
                result = self.run_local(shlex.join(argv))
                result.command = self.encode(script)
                return result
        return podman_exec(self, command, *args, **kwargs)

    PodmanBackend.run = run


_enter_containers_with_nsenter()


@pytest.fixture(scope="module")
def first_host(request):
    """The first instance of the scenario, for tests that change state and need not run on every platform."""
    names = request.config.getoption("hosts")
    first = (names if isinstance(names, str) else ",".join(names)).split(",")[0]
    return testinfra.get_host(f"podman://{first}")


@pytest.fixture
def run_role(first_host, tmp_path):
    """Run one role against the scenario's first instance through ansible-playbook; returns its PlayResult."""

    def _run(role: str, role_vars: dict | None = None, *, check: bool = False, verbose: bool = False, tasks_from: str = "main") -> PlayResult:
        instance = first_host.backend.name
        inventory = tmp_path / "inventory.ini"
        inventory.write_text(f"{instance} ansible_connection=podman\n")
        playbook = tmp_path / "play.yml"
        playbook.write_text(
            "- hosts: all\n"
            "  gather_facts: true\n"
            "  tasks:\n"
            "    - ansible.builtin.include_role:\n"
            f"        name: {role}\n"
            f"        tasks_from: {tasks_from}\n"
        )
        cmd = [str(ANSIBLE_BIN / "ansible-playbook"), "-i", str(inventory), str(playbook), "-e", json.dumps(role_vars or {})]
        if check:
            cmd.append("--check")
        if verbose:
            cmd.append("-v")
        proc = subprocess.run(cmd, capture_output=True, text=True, env=ansible_env(), timeout=900, check=False)
        return PlayResult(proc.returncode, proc.stdout + proc.stderr)

    return _run


@pytest.fixture(scope="module")
def scenario_vars(request):
    """The scenario's own settings, molecule/<scenario>/vars/main.yml (what converge.yml uses), as a dict.

    Pass them (merged with the test's changes) to run_role, so a re-run differs only where the test says.
    """
    import yaml  # ansible's dependency, always in the virtualenv

    path = Path(request.fspath).resolve().parent.parent / "vars" / "main.yml"
    return yaml.safe_load(path.read_text()) if path.exists() else {}


@dataclass
class HttpResponse:
    status: int
    headers: dict
    body: bytes

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


def _loopback_https_class():
    import http.client
    import socket

    class LoopbackHTTPS(http.client.HTTPSConnection):
        """HTTPS to 127.0.0.1:port whose SNI and certificate check use the site's name."""

        def connect(self):
            sock = socket.create_connection(("127.0.0.1", self.port), self.timeout)
            self.sock = self._context.wrap_socket(sock, server_hostname=self.host)

    return LoopbackHTTPS


_LoopbackHTTPS = _loopback_https_class()


def http_request(port: int, path: str = "/", *, host: str, method: str = "GET", headers: dict | None = None,
                 body: bytes | None = None, tls: bool = False, cafile: str | None = None, timeout: float = 10) -> HttpResponse:
    """One request to 127.0.0.1:port (the instance's published port) with this Host/SNI; no redirects followed."""
    import http.client
    import ssl

    if tls:
        context = ssl.create_default_context(cafile=cafile) if cafile else ssl._create_unverified_context()  # noqa: S323 - placeholder certificate
        conn = _LoopbackHTTPS(host, port, timeout=timeout, context=context)
    else:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers={"Host": host, **(headers or {})})
        resp = conn.getresponse()
        return HttpResponse(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
    finally:
        conn.close()


def peer_certificate_pem(port: int, server_name: str) -> str:
    """The leaf certificate 127.0.0.1:port presents for this SNI name, PEM."""
    import socket
    import ssl

    context = ssl._create_unverified_context()  # noqa: S323 - we inspect the certificate, not trust it
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        with context.wrap_socket(sock, server_hostname=server_name) as tls:
            return ssl.DER_cert_to_PEM_cert(tls.getpeercert(binary_form=True))


def peer_certificate_pem_after_reload(port: int, server_name: str, old_pem: str, timeout: float = 20.0) -> str:
    """The certificate served once an nginx reload that replaced old_pem has taken effect.

    `nginx -s reload` (and so the deploy hook) returns when the signal is sent; the master then reads
    the configuration and certificates and starts new workers, so a connection made at once may still
    get the old certificate. Polls for up to timeout seconds; returns the last certificate seen.
    """
    import time

    deadline = time.monotonic() + timeout
    pem = peer_certificate_pem(port, server_name)
    while pem == old_pem and time.monotonic() < deadline:
        time.sleep(0.25)
        pem = peer_certificate_pem(port, server_name)
    return pem


def openssl_x509(pem: str, *args: str) -> str:
    """Run `openssl x509 -noout <args>` on a PEM certificate on the controller."""
    return subprocess.run(["openssl", "x509", "-noout", *args], input=pem, capture_output=True, text=True, check=True).stdout


def master_pid(host) -> int:
    """PID of the nginx master process in the instance."""
    return int(host.file("/run/nginx.pid").content_string.strip())

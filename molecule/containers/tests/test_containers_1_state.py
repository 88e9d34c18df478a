"""The containers role's converged state, Docker Engine running for real inside the privileged podman
systemd instance (Debian trixie's docker.io 26 and docker-compose 2, storage driver overlay2 on
a tmpfs).

The image was built on the controller with podman (prepare.yml) and shipped as an archive: Docker
Hub is never asked. The app is checked on the instance's own 127.0.0.1, where nginx would proxy.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
IMAGE = (REPO / ".cache" / "containers-scenario" / "image").read_text().strip()
PROJECT = "stocksense"
APP = f"{PROJECT}-app-1"
PORT = 5005
SYMBOL = "MSFT"  # the image's only watched symbol (tiny models, prepare.yml)
STATE = "/var/lib/stocksense-containers/release.json"
ENV_FILE = "/opt/stocksense-compose/.env"
KEY_FILE = "/etc/stocksense/compose-secret-key"
CONVERGE_VARS = {
    "containers_image": IMAGE,
    "containers_compose_src": str(REPO / "compose.yaml"),
    "containers_controller_archive_dir": str(REPO / ".cache" / "containers-scenario" / "archives"),
    "containers_secret_key": "molecule-containers-scenario-key-not-secret",
}


def fetch(host, path: str) -> tuple[int, str, dict]:
    """GET http://127.0.0.1:PORT/path from inside the instance: (status, content type, JSON body)."""
    code = (
        "import json, sys, urllib.request, urllib.error\n"
        f"url = 'http://127.0.0.1:{PORT}' + sys.argv[1]\n"
        "try:\n"
        "    r = urllib.request.urlopen(url, timeout=10)\n"
        "except urllib.error.HTTPError as e:\n"
        "    r = e\n"
        "print(json.dumps([r.status, r.headers.get_content_type(), json.loads(r.read())]))\n"
    )
    out = host.check_output("python3 -c %s %s", code, path)
    status, ctype, body = json.loads(out)
    return status, ctype, body


def inspect(host, name: str) -> dict:
    return json.loads(host.check_output("docker inspect %s", name))[0]


def serving_image(host) -> str:
    return inspect(host, APP)["Config"]["Image"]


def test_engine_and_compose_v2_from_debian(host):
    for pkg in ("docker.io", "docker-cli", "docker-compose", "python3-requests"):
        assert host.package(pkg).is_installed, pkg
    docker = host.service("docker")
    assert docker.is_running and docker.is_enabled
    assert host.check_output("docker compose version --short").startswith("2.")
    assert host.file("/usr/libexec/docker/cli-plugins/docker-compose").exists
    assert host.check_output("docker info --format '{{.Driver}}'") == "overlay2"


def test_project_files_and_key_are_private(host):
    compose = host.file("/opt/stocksense-compose/compose.yaml")
    assert compose.user == "root" and compose.mode == 0o640
    assert compose.content_string == (REPO / "compose.yaml").read_text()
    env = host.file(ENV_FILE)
    assert env.user == "root" and env.mode == 0o640
    assert f"STOCKSENSE_IMAGE={IMAGE}\n" in env.content_string
    assert f"STOCKSENSE_PUBLISH_PORT={PORT}\n" in env.content_string
    assert CONVERGE_VARS["containers_secret_key"] not in env.content_string
    key = host.file(KEY_FILE)
    assert (key.uid, key.gid, key.mode) == (10001, 10001, 0o400)
    assert host.file("/opt/stocksense-compose").mode == 0o750


def test_image_loaded_and_no_archive_left(host):
    assert host.run("docker image inspect %s", IMAGE).rc == 0
    assert host.check_output("find /var/lib/stocksense-containers/archives -type f") == ""


def test_record_names_the_serving_image(host):
    assert json.loads(host.file(STATE).content_string) == {"image": IMAGE, "previous": ""}
    assert serving_image(host) == IMAGE


def image_dir(image: str) -> str:
    return "/opt/stocksense/images/" + "".join(c if c.isalnum() or c in "_.-" else "_" for c in image)


def test_static_files_of_the_serving_image_for_nginx(host):
    """nginx_static_dir is /opt/stocksense/current/static, as on the systemd profile."""
    assert host.file("/opt/stocksense/current").linked_to == image_dir(IMAGE)
    static = host.file("/opt/stocksense/current/static")
    assert static.is_directory and static.user == "root" and static.mode == 0o755
    shipped = sorted(p.name for p in (REPO / "app" / "src" / "stocksense" / "web" / "static").iterdir())
    assert sorted(host.file("/opt/stocksense/current/static").listdir()) == shipped
    # No container or half copy is left from copying them out.
    assert host.check_output("docker ps -aq --filter status=created") == ""
    assert not host.file(image_dir(IMAGE) + "/static.tmp").exists


def test_seed_ran_once_to_completion(host):
    seed = inspect(host, f"{PROJECT}-seed-1")["State"]
    assert (seed["Status"], seed["ExitCode"]) == ("exited", 0)


def test_app_hardened_and_published_on_loopback_only(host):
    app = inspect(host, APP)
    assert app["State"]["Running"]
    assert app["Config"]["User"] == "10001:10001"
    hc = app["HostConfig"]
    assert hc["ReadonlyRootfs"] is True and hc["CapDrop"] == ["ALL"]
    assert [b["HostIp"] for b in hc["PortBindings"]["5005/tcp"]] == ["127.0.0.1"]
    listening = host.check_output("ss -Hltn sport = :%s", str(PORT))
    assert "127.0.0.1:5005" in listening and "0.0.0.0:5005" not in listening and "[::]:5005" not in listening


def test_healthcheck_turns_healthy(host):
    """The image's HEALTHCHECK (liveness, every 30 s) as Docker Engine runs it."""
    deadline = time.monotonic() + 90
    status = ""
    while time.monotonic() < deadline:
        status = inspect(host, APP)["State"]["Health"]["Status"]
        if status == "healthy":
            break
        time.sleep(3)
    assert status == "healthy"


def test_ready_and_forecast(host):
    assert fetch(host, "/ready")[0] == 200
    status, ctype, body = fetch(host, f"/api/v1/symbols/{SYMBOL}/forecast")
    assert (status, ctype) == (200, "application/json")
    assert body["symbol"] == SYMBOL and body["ensemble"]["predicted_close"] > 0


@pytest.mark.parametrize(("path", "status"), [
    ("/api/v1/symbols/ZZZZ/forecast", 404),
    ("/api/v1/symbols/NOT%20A%20SYMBOL!/forecast", 400),
    ("/api/v1/no-such-route", 404),
])
def test_errors_are_problem_documents(host, path, status):
    got, ctype, body = fetch(host, path)
    assert (got, ctype) == (status, "application/problem+json")
    assert body["status"] == status and body["title"]

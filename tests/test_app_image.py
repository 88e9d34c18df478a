"""The app's OCI image (app/Containerfile), built and run with podman on a local Debian trixie slim
base instead of Docker Hub's debian:trixie-slim (Docker Hub cannot be reached here).

scripts/build-test-image.sh builds it (shared with molecule/containers): the base debootstrapped from
Debian's mirror, the app scenario's tiny models (its symbol and settings, skipped when current), the
image (skipped when its input hash is tagged).
The container runs read-only, non-root, without capabilities, published on 127.0.0.1 only; the
one-shot seed fills its data volume. compose.yaml runs the same image with podman-compose (Debian's
1.0.3; Docker Engine is not installed here), and with compose.proxy.yaml behind nginx (its image
built by scripts/build-proxy-image.sh from Debian's nginx on the same local base). Run by `make image-test`, not by `make unit`. Figures
(size, RSS, req/s) are printed with the load average.
"""

from __future__ import annotations

import collections
import http.client
import json
import os
import shutil
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
# The app scenario's symbol: scripts/build-test-image.sh trains its tiny models into the image.
SYMBOL = yaml.safe_load((REPO / "molecule" / "app" / "vars" / "main.yml").read_text())["app_watchlist"][0]
PREFIX = "stocksense-image-test-"
SERVER = PREFIX + "server"
VOLUME = PREFIX + "data"
SECRET = PREFIX + "secret-key"
PORT = 19400
BASE_URL = f"http://127.0.0.1:{PORT}"
COMPOSE_PROJECT = PREFIX + "compose"
COMPOSE_PORT = 19401
SIZE_LIMIT_MB = 300
MEMORY_MAX_MB = 400  # the app role's MemoryMax for the same service
# What the serving image must never hold (distributions and import names).
FORBIDDEN = ("tensorflow", "tensorflow-cpu", "keras", "pandas", "yfinance", "arch")
# The hardening the README's run command uses too; docker accepts the same options.
RUN_OPTS = ["--read-only", "--read-only-tmpfs=false", "--tmpfs", "/tmp:rw,size=16m,mode=1777",
            "--cap-drop=ALL", "--security-opt", "no-new-privileges",
            "-v", f"{VOLUME}:/var/lib/stocksense"]


def run(*args: str, check: bool = True, timeout: int = 600, env: dict | None = None) -> subprocess.CompletedProcess:
    result = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False,
                            env={**os.environ, **(env or {})})
    if check and result.returncode != 0:
        pytest.fail(f"{' '.join(args)} exited {result.returncode}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


def say(capsys, text: str) -> None:
    with capsys.disabled():
        print(f"\n[image] {text} (load average {' '.join(Path('/proc/loadavg').read_text().split()[:3])})")


def podman(*args: str, check: bool = True, timeout: int = 120) -> subprocess.CompletedProcess:
    return run("podman", *args, check=check, timeout=timeout)


def remove_leftovers() -> None:
    """This suite's containers, volumes, networks and secret (Compose's too), also a killed run's."""
    for kind, listing in (("container", ["ps", "-a", "--format", "{{.Names}}"]),
                          ("volume", ["volume", "ls", "--format", "{{.Name}}"]),
                          ("network", ["network", "ls", "--format", "{{.Name}}"])):
        for name in podman(*listing).stdout.split():
            if name.startswith(PREFIX):
                podman(kind, "rm", "-f", *(["-t", "2"] if kind == "container" else []), name, check=False)
    podman("secret", "rm", SECRET, check=False)


@pytest.fixture(scope="module")
def image() -> dict:
    """Base image, tiny models, the app image (scripts/build-test-image.sh): each step skips itself when current."""
    built = run(str(REPO / "scripts" / "build-test-image.sh"), timeout=1800)
    return json.loads(built.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def seeded(image) -> list[dict]:
    """A fresh data volume, seeded twice by the image's one-shot seed command."""
    remove_leftovers()
    podman("volume", "create", VOLUME)
    runs = []
    for i in (1, 2):
        out = podman("run", "--rm", "--name", f"{PREFIX}seed-{i}", *RUN_OPTS, image["image"], "stocksense-seed")
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return runs


@pytest.fixture(scope="module")
def server(image, seeded):
    """The server container; removed with its volume and secret at the end."""
    subprocess.run(["podman", "secret", "create", SECRET, "-"], input=os.urandom(24).hex(),
                   capture_output=True, text=True, check=True)
    try:
        # --health-interval=disable: no systemd here for podman's healthcheck timer; the image's
        # HEALTHCHECK still runs on demand (`podman healthcheck run`).
        podman("run", "-d", "--name", SERVER, *RUN_OPTS, "--health-interval=disable",
               "-p", f"127.0.0.1:{PORT}:5005", "--secret", SECRET,
               "-e", f"STOCKSENSE_SECRET_KEY_FILE=/run/secrets/{SECRET}", image["image"])
        wait_ready()
        yield SERVER
    finally:
        logs = podman("logs", "--tail", "20", SERVER, check=False)
        print(logs.stdout[-2000:], logs.stderr[-2000:])
        remove_leftovers()


def wait_ready(timeout: float = 90, base: str = BASE_URL, name: str = SERVER) -> None:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(base + "/ready", timeout=3) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError) as exc:
            last = exc
        time.sleep(0.5)
    pytest.fail(f"{base}/ready never answered 200: {last}; logs:\n"
                + podman("logs", "--tail", "30", name, check=False).stderr)


def get(path: str, base: str = BASE_URL) -> tuple[int, str, dict | list]:
    try:
        with urllib.request.urlopen(base + path, timeout=10) as resp:
            return resp.status, resp.headers.get_content_type(), json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get_content_type(), json.loads(exc.read())


def in_container(code: str) -> str:
    return podman("exec", SERVER, "python3", "-c", code).stdout.strip()


def test_image_size_within_budget(image, capsys):
    say(capsys, f"{image['image']}: {image['size_mb']} MB (limit {SIZE_LIMIT_MB}); "
                f"built now: {image['built']} in {image['seconds']} s; models step {image['models_seconds']} s")
    assert 0 < image["size_mb"] <= SIZE_LIMIT_MB


def test_image_metadata_non_root_port_volume_healthcheck(image):
    inspect = json.loads(podman("image", "inspect", image["image"]).stdout)[0]
    cfg = inspect["Config"]
    assert cfg["User"] == "10001:10001"
    assert "5005/tcp" in cfg["ExposedPorts"]
    assert "/var/lib/stocksense" in cfg["Volumes"]
    assert cfg["Cmd"] == ["stocksense", "serve"]
    # Docker format: OCI images carry no healthcheck (podman keeps it beside the config).
    assert inspect["ManifestType"].startswith("application/vnd.docker."), inspect["ManifestType"]
    assert any("/health" in part for part in inspect["Healthcheck"]["Test"]), inspect["Healthcheck"]


def test_seed_loads_prices_and_backtest_then_changes_nothing(seeded):
    first, second = seeded
    assert first["ok"] and first["changed"], first
    assert any(a.startswith(f"seeded {SYMBOL}") for a in first["actions"]), first
    assert any(a.startswith(f"stored backtest of {SYMBOL}") for a in first["actions"]), first
    assert second == {"ok": True, "changed": False, "actions": []}


def test_runs_as_non_root_on_a_read_only_root(server):
    assert in_container("import os; print(os.getuid(), os.getgid())") == "10001 10001"
    probe = podman("exec", server, "touch", "/opt/stocksense/release/written", check=False)
    assert probe.returncode != 0 and "Read-only file system" in probe.stderr, probe
    # The only writable places: the data volume and /tmp.
    assert "stocksense.db" in in_container("import os; print(os.listdir('/var/lib/stocksense'))")
    inspect = json.loads(podman("inspect", server).stdout)[0]["HostConfig"]
    assert inspect["ReadonlyRootfs"] is True
    assert inspect["CapDrop"] and not inspect["CapAdd"]


def test_published_on_loopback_only(server):
    bindings = json.loads(podman("inspect", server).stdout)[0]["HostConfig"]["PortBindings"]["5005/tcp"]
    assert [b["HostIp"] for b in bindings] == ["127.0.0.1"]


def test_healthcheck_reports_healthy(server):
    result = podman("healthcheck", "run", server, check=False)
    assert result.returncode == 0, result
    status = podman("inspect", "--format", "{{.State.Health.Status}}", server).stdout.strip()
    assert status == "healthy"


def test_healthcheck_fails_without_a_server(image):
    """The same HEALTHCHECK against a container whose server never started: unhealthy."""
    name = PREFIX + "no-server"
    podman("run", "-d", "--name", name, "--health-interval=disable", *RUN_OPTS[:-2], image["image"],
           "sleep", "60")
    try:
        result = podman("healthcheck", "run", name, check=False)
        assert result.returncode != 0 and "unhealthy" in (result.stdout + result.stderr), result
    finally:
        podman("rm", "-f", "-t", "0", name, check=False)


def test_forecast_of_a_bundled_symbol(server):
    status, ctype, body = get(f"/api/v1/symbols/{SYMBOL}/forecast")
    assert (status, ctype) == (200, "application/json")
    assert body["symbol"] == SYMBOL and body["last_close"] > 0
    assert set(body["models"]) == {"transformer", "lstm"}
    assert body["ensemble"]["predicted_close"] > 0


@pytest.mark.parametrize(("path", "status"), [
    ("/api/v1/symbols/ZZZZ/forecast", 404),
    ("/api/v1/symbols/NOT%20A%20SYMBOL!/forecast", 400),
    ("/api/v1/no-such-route", 404),
])
def test_errors_are_problem_documents(server, path, status):
    got, ctype, body = get(path)
    assert (got, ctype) == (status, "application/problem+json")
    assert body["status"] == status and body["title"]


def test_no_training_or_ingest_packages_inside(server):
    dists = json.loads(in_container(
        "import importlib.metadata as m, json; print(json.dumps(sorted(d.metadata['Name'].lower() for d in m.distributions())))"))
    assert "stocksense" in dists and "ai-edge-litert" in dists
    assert not set(FORBIDDEN) & set(dists), dists
    found = in_container("import importlib.util as u; print([n for n in ('tensorflow', 'keras', 'pandas', 'yfinance', 'arch') "
                         "if u.find_spec(n)])")
    assert found == "[]"
    assert "pip" not in dists  # nothing installs packages at run time


def test_figures_rss_and_forecast_throughput(server, capsys):
    """Bounded: 3 s of load. RSS must stay within the app role's MemoryMax for the same service."""
    url = f"{BASE_URL}/api/v1/symbols/{SYMBOL}/forecast"
    if shutil.which("wrk"):
        out = run("taskset", "-c", "1", "wrk", "-t1", "-c4", "-d3s", url, timeout=30).stdout
        line = next(ln for ln in out.splitlines() if ln.startswith("Requests/sec:"))
        rps, tool = float(line.split()[1]), "wrk -t1 -c4 -d3s"
    else:
        n, t0 = 0, time.monotonic()
        while time.monotonic() - t0 < 3:
            get(f"/api/v1/symbols/{SYMBOL}/forecast")
            n += 1
        rps, tool = n / (time.monotonic() - t0), "one Python client, 3 s"
    stats = json.loads(podman("stats", "--no-stream", "--format", "json", server).stdout)[0]
    cgroup = stats["mem_usage"].split("/")[0].strip()
    # The server is the container's PID 1 (exec-form CMD, no init or shell in between).
    status = podman("exec", server, "cat", "/proc/1/status").stdout
    vm_rss_mb = int(next(ln for ln in status.splitlines() if ln.startswith("VmRSS:")).split()[1]) / 1024
    say(capsys, f"forecast {SYMBOL}: {rps:.0f} req/s ({tool}); after the load: server RSS "
                f"{vm_rss_mb:.0f} MiB (VmRSS), container memory {cgroup} (podman stats)")
    assert rps > 0
    assert 0 < vm_rss_mb < MEMORY_MAX_MB
    value, unit = float(cgroup[:-2]), cgroup[-2:]
    assert value * {"kB": 1e-3, "MB": 1, "GB": 1e3}[unit] < MEMORY_MAX_MB


# --- compose.yaml with podman-compose ---------------------------------------------------------

def compose(*args: str, env: dict, check: bool = True) -> subprocess.CompletedProcess:
    return run("podman-compose", "-p", COMPOSE_PROJECT, "-f", str(REPO / "compose.yaml"), *args,
               env=env, check=check, timeout=300)


@pytest.fixture(scope="module")
def compose_env(image, tmp_path_factory):
    """The project's variables; the key file readable by the image's user only."""
    if not shutil.which("podman-compose"):
        pytest.fail("podman-compose is missing: scripts/host-setup.sh installs it")
    key = tmp_path_factory.mktemp("compose") / "secret_key"
    key.write_text(os.urandom(24).hex())
    os.chown(key, 10001, 10001)
    key.chmod(0o400)
    return {"STOCKSENSE_IMAGE": image["image"], "STOCKSENSE_SECRET_KEY_PATH": str(key),
            "STOCKSENSE_PUBLISH_PORT": str(COMPOSE_PORT)}


def test_compose_refuses_without_an_image(compose_env):
    env = {k: v for k, v in {**os.environ, **compose_env}.items() if k != "STOCKSENSE_IMAGE"}
    result = subprocess.run(["podman-compose", "-p", COMPOSE_PROJECT, "-f", str(REPO / "compose.yaml"), "up", "-d"],
                            capture_output=True, text=True, timeout=120, check=False, env=env)
    assert result.returncode != 0
    assert "set STOCKSENSE_IMAGE" in result.stderr + result.stdout
    started = podman("ps", "-a", "--format", "{{.Names}}").stdout.split()
    assert not [n for n in started if n.startswith(COMPOSE_PROJECT)]


def test_compose_seeds_then_serves(compose_env, capsys):
    """`up -d` starts the one-shot seed and the app; podman-compose 1.0 does not wait for the seed
    (docker compose does: service_completed_successfully), so /ready gates the app until it is done."""
    remove_leftovers()
    try:
        compose("up", "-d", env=compose_env)
        base = f"http://127.0.0.1:{COMPOSE_PORT}"
        wait_ready(base=base, name=f"{COMPOSE_PROJECT}_app_1")
        seed = json.loads(podman("inspect", f"{COMPOSE_PROJECT}_seed_1").stdout)[0]["State"]
        assert seed["Status"] == "exited" and seed["ExitCode"] == 0, seed
        status, ctype, body = get(f"/api/v1/symbols/{SYMBOL}/forecast", base)
        assert (status, ctype, body["symbol"]) == (200, "application/json", SYMBOL)
        assert get("/api/v1/symbols/ZZZZ/forecast", base)[:2] == (404, "application/problem+json")
        app = json.loads(podman("inspect", f"{COMPOSE_PROJECT}_app_1").stdout)[0]["HostConfig"]
        assert app["ReadonlyRootfs"] is True
        assert [b["HostIp"] for b in app["PortBindings"]["5005/tcp"]] == ["127.0.0.1"]
        say(capsys, f"compose: seed exited 0, app ready on 127.0.0.1:{COMPOSE_PORT}")
    finally:
        compose("down", "-v", env=compose_env, check=False)
        remove_leftovers()


# --- compose.yaml + compose.proxy.yaml: nginx in front, with podman-compose -------------------

PROXY_PROJECT = PREFIX + "proxy"
PROXY_HTTPS_PORT = 19402
PROXY_HTTP_PORT = 19403
MOUNTED_TLS_PORT = 19404  # a lone nginx with a mounted certificate, beside the Compose project
SLIM_BASE = "localhost/stocksense-python:debian-trixie-slim"  # scripts/build-test-image.sh builds it
# nginx owns these (proxy/nginx.conf.template); no HSTS with the self-signed placeholder.
NGINX_HEADERS = ("Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options",
                 "Referrer-Policy", "Permissions-Policy", "Cross-Origin-Opener-Policy")


def proxy_compose(*args: str, env: dict, check: bool = True) -> subprocess.CompletedProcess:
    return run("podman-compose", "-p", PROXY_PROJECT, "-f", str(REPO / "compose.yaml"),
               "-f", str(REPO / "compose.proxy.yaml"), *args, env=env, check=check, timeout=300)


def fetch(path: str, context: ssl.SSLContext | None = None,
          https_port: int = PROXY_HTTPS_PORT) -> tuple[int, list[tuple[str, str]], bytes]:
    """One GET through nginx: HTTPS with `context`, else plain HTTP; all header lines, repeats kept."""
    if context:
        conn = http.client.HTTPSConnection("127.0.0.1", https_port, context=context, timeout=10)
    else:
        conn = http.client.HTTPConnection("127.0.0.1", PROXY_HTTP_PORT, timeout=10)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.getheaders(), resp.read()
    finally:
        conn.close()


def assert_each_header_once(headers: list[tuple[str, str]]) -> dict[str, str]:
    counts = collections.Counter(name.lower() for name, _ in headers)
    assert not [n for n, c in counts.items() if c > 1], headers
    return {name.lower(): value for name, value in headers}


@pytest.fixture(scope="module")
def proxy_image(image) -> dict:
    built = run(str(REPO / "scripts" / "build-proxy-image.sh"), "--base", SLIM_BASE, timeout=900)
    return json.loads(built.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def proxied(compose_env, proxy_image) -> ssl.SSLContext:
    """The Compose project with nginx; yields a context trusting the placeholder it generated
    (verified, for 127.0.0.1), once /ready answers 200 through it. Removed with its volume and network."""
    env = {**compose_env, "STOCKSENSE_PROXY_IMAGE": proxy_image["image"],
           "STOCKSENSE_PROXY_HTTPS_PORT": str(PROXY_HTTPS_PORT), "STOCKSENSE_PROXY_HTTP_PORT": str(PROXY_HTTP_PORT)}
    remove_leftovers()
    try:
        proxy_compose("up", "-d", env=env)
        deadline, last = time.monotonic() + 90, None
        while time.monotonic() < deadline:
            pem = podman("exec", f"{PROXY_PROJECT}_nginx_1", "cat", "/tmp/nginx/tls/placeholder.pem", check=False)
            try:
                context = ssl.create_default_context(cadata=pem.stdout)
                if fetch("/ready", context)[0] == 200:
                    break
            except (ssl.SSLError, OSError) as exc:
                last = exc
            time.sleep(0.5)
        else:
            pytest.fail(f"/ready never answered 200 through nginx: {last}\n"
                        + podman("logs", "--tail", "30", f"{PROXY_PROJECT}_nginx_1", check=False).stderr)
        yield context
    finally:
        proxy_compose("down", "-v", env=env, check=False)
        remove_leftovers()


def test_proxy_image_built(proxy_image, capsys):
    say(capsys, f"{proxy_image['image']}: {proxy_image['size_mb']} MB; built now: {proxy_image['built']} "
                f"in {proxy_image['seconds']} s")
    cfg = json.loads(podman("image", "inspect", proxy_image["image"]).stdout)[0]["Config"]
    assert cfg["User"] == "10002:10002"


def test_proxy_serves_health_and_forecast_over_tls_with_one_set_of_headers(proxied):
    status, headers, body = fetch("/health", proxied)
    assert status == 200, body
    once = assert_each_header_once(headers)
    assert all(once.get(h.lower()) for h in NGINX_HEADERS), headers
    assert "strict-transport-security" not in once  # never pinned to an untrusted placeholder
    assert once["server"] == "nginx"  # no version
    status, headers, body = fetch(f"/api/v1/symbols/{SYMBOL}/forecast", proxied)
    once = assert_each_header_once(headers)
    assert (status, once["content-type"]) == (200, "application/json"), body
    assert json.loads(body)["symbol"] == SYMBOL
    assert all(once.get(h.lower()) for h in NGINX_HEADERS), headers


@pytest.mark.parametrize(("path", "status"), [
    ("/api/v1/symbols/ZZZZ/forecast", 404),
    ("/api/v1/symbols/NOT%20A%20SYMBOL!/forecast", 400),
])
def test_proxy_passes_problem_documents(proxied, path, status):
    got, headers, body = fetch(path, proxied)
    once = assert_each_header_once(headers)
    assert (got, once["content-type"]) == (status, "application/problem+json"), body
    assert json.loads(body)["status"] == status
    assert all(once.get(h.lower()) for h in NGINX_HEADERS), headers


def test_proxy_redirects_http_to_the_published_https_port(proxied):
    status, headers, _ = fetch("/health?probe=1")
    once = assert_each_header_once(headers)
    assert (status, once["location"]) == (301, f"https://127.0.0.1:{PROXY_HTTPS_PORT}/health?probe=1")


def test_proxy_placeholder_certificate_non_root_loopback_only(proxied):
    conn = http.client.HTTPSConnection("127.0.0.1", PROXY_HTTPS_PORT, context=proxied, timeout=10)
    try:
        conn.connect()
        cert = conn.sock.getpeercert()
    finally:
        conn.close()
    assert cert["subject"] == cert["issuer"] == ((("commonName", "localhost"),),)
    lifetime = ssl.cert_time_to_seconds(cert["notAfter"]) - ssl.cert_time_to_seconds(cert["notBefore"])
    assert 0 < lifetime <= 7 * 86400 + 60
    nginx = f"{PROXY_PROJECT}_nginx_1"
    uids = podman("exec", nginx, "cat", "/proc/1/status").stdout
    assert next(ln for ln in uids.splitlines() if ln.startswith("Uid:")).split()[1:] == ["10002"] * 4
    host = json.loads(podman("inspect", nginx).stdout)[0]["HostConfig"]
    assert host["ReadonlyRootfs"] is True
    assert {b["HostIp"] for port in ("8443/tcp", "8080/tcp") for b in host["PortBindings"][port]} == {"127.0.0.1"}


def test_proxy_serves_a_mounted_certificate_with_hsts(proxy_image, tmp_path):
    """With a certificate mounted (e.g. the certbot role's files) nginx serves it and adds HSTS,
    once; no app behind it here, so its own 502 answer must carry the headers too."""
    tls = tmp_path / "tls"
    tls.mkdir()
    run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-days", "1", "-subj", "/CN=mounted.test", "-addext", "subjectAltName=IP:127.0.0.1",
        "-keyout", str(tls / "privkey.pem"), "-out", str(tls / "fullchain.pem"))
    for f in tls.iterdir():
        os.chown(f, 10002, 10002)
    name = PREFIX + "proxy-mounted"
    podman("run", "-d", "--name", name, "--read-only", "--tmpfs", "/tmp", "--cap-drop=ALL",
           "-v", f"{tls}:/etc/stocksense-proxy/tls:ro,Z", "-p", f"127.0.0.1:{MOUNTED_TLS_PORT}:8443",
           "-e", "STOCKSENSE_PROXY_UPSTREAM=127.0.0.1:9", proxy_image["image"])
    try:
        context = ssl.create_default_context(cafile=str(tls / "fullchain.pem"))
        deadline = time.monotonic() + 30
        while True:
            try:
                status, headers, _ = fetch("/health", context, MOUNTED_TLS_PORT)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        once = assert_each_header_once(headers)
        assert status == 502
        assert once["strict-transport-security"] == "max-age=31536000"
        assert all(once.get(h.lower()) for h in NGINX_HEADERS), headers
    finally:
        podman("rm", "-f", "-t", "0", name, check=False)


def test_proxy_refuses_a_bad_https_port(proxy_image):
    result = podman("run", "--rm", "--read-only", "--tmpfs", "/tmp", "-e", "STOCKSENSE_PROXY_HTTPS_PORT=84x3",
                    proxy_image["image"], check=False)
    assert result.returncode == 2
    assert "STOCKSENSE_PROXY_HTTPS_PORT must be a port number (got '84x3')" in result.stderr

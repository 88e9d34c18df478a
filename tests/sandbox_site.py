"""The sandbox site as the whole-stack scenario (molecule/default) reaches it.

Its public name, HTTPS port and pebble's issuing root (fixture `site`), and a real browser
(Debian's headless Chromium, fixture `browser`) that trusts that root through its own NSS database
and maps the public name to 127.0.0.1: nothing else is relaxed, so a wrong certificate or a CSP
that blocks the charts fails the tests that use it. Imported by those scenarios' conftest.py.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

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


CHROMEDRIVER = "/usr/bin/chromedriver"
SCREENSHOTS = Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY", ".")) / ".cache" / "screenshots"


@pytest.fixture
def browser(site, tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    assert shutil.which("chromium") and Path(CHROMEDRIVER).exists(), "scripts/host-setup.sh installs chromium"
    home = tmp_path / "home"
    nssdb = home / ".pki" / "nssdb"
    nssdb.mkdir(parents=True)
    subprocess.run(["certutil", "-N", "-d", f"sql:{nssdb}", "--empty-password"], check=True)
    subprocess.run(
        ["certutil", "-A", "-d", f"sql:{nssdb}", "-n", "pebble-sandbox-root", "-t", "C,,", "-i", str(site.ca_file)],
        check=True,
    )
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1280,1000",
        f"--host-resolver-rules=MAP {site.domain} 127.0.0.1",
        f"--user-data-dir={tmp_path / 'profile'}",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(CHROMEDRIVER, env={**os.environ, "HOME": str(home)})
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def severe_console_messages(driver) -> list[str]:
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def check_dashboard(site: Site, browser, name: str) -> None:
    """The overview lists forecasts; a symbol's page draws both charts with no console error."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser.get(site.url + "/")
    assert browser.current_url.startswith(f"https://{site.domain}:{site.https_port}/")
    table = browser.find_element(By.ID, "overview")
    rows = table.find_elements(By.CSS_SELECTOR, "tr[data-symbol]")
    assert rows, "the overview table lists the watched symbols"
    first = rows[0]
    symbol = first.get_attribute("data-symbol")
    # A forecast is a price: the row carries numbers for the models and the ensemble.
    assert any(ch.isdigit() for ch in first.text)
    assert "Transformer" in table.text or "transformer" in table.text.lower()
    browser.save_screenshot(str(SCREENSHOTS / f"{name}-overview.png"))

    first.find_element(By.LINK_TEXT, symbol).click()
    chart_wait_s = 30
    wait = WebDriverWait(browser, chart_wait_s)
    for chart in ("price-chart", "backtest-chart"):
        try:
            wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, f'#{chart}[data-drawn="true"]')))
        except TimeoutException:
            # Say why in the failure itself: where the browser is, what the page shows, what it logged.
            browser.save_screenshot(str(SCREENSHOTS / f"{name}-symbol-{chart}-not-drawn.png"))
            body = browser.find_element(By.TAG_NAME, "body").text[:600]
            raise AssertionError(f"#{chart} not drawn in {chart_wait_s} s at {browser.current_url} "
                                 f"(title {browser.title!r}); console: {severe_console_messages(browser)}; "
                                 f"page: {body!r}") from None
    assert browser.find_element(By.ID, "metrics").is_displayed()
    browser.save_screenshot(str(SCREENSHOTS / f"{name}-symbol.png"))
    errors = [m for m in severe_console_messages(browser) if "favicon" not in m]
    assert not errors, errors  # a CSP violation through nginx's headers would show up here


# --- the instance container and the sandbox's playbooks ---------------------------------------
REPO = Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY", Path(__file__).resolve().parents[1]))
# GET from inside the instance; the body base64-encoded so the comparison is byte for byte.
_FETCH = r'''
import base64, json, sys, urllib.request, urllib.error
out = {}
for url in sys.argv[1:]:
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            status, body = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, body = e.code, e.read()
    out[url] = {"status": status, "body": base64.b64encode(body).decode()}
print(json.dumps(out))
'''


class SandboxInstance:
    """A sandbox instance container, and the app on its loopback (what nginx forwards to)."""

    app = "http://127.0.0.1:5005"

    def __init__(self, name: str) -> None:
        self.name = name

    def run(self, *command: str, check: bool = True, timeout: int = 300) -> subprocess.CompletedProcess:
        run = subprocess.run(["podman", "exec", self.name, *command], capture_output=True, text=True,
                             timeout=timeout, check=False)
        assert not check or run.returncode == 0, \
            f"{command}: rc={run.returncode} {run.stdout[-2000:]} {run.stderr[-2000:]}"
        return run

    def fetch(self, *paths: str) -> dict[str, dict]:
        out = json.loads(self.run("python3", "-c", _FETCH, *(self.app + p for p in paths)).stdout)
        return {p: {"status": out[self.app + p]["status"], "body": base64.b64decode(out[self.app + p]["body"])}
                for p in paths}

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while True:
            run = self.run("python3", "-c", _FETCH, self.app + "/ready", check=False)
            if run.returncode == 0 and json.loads(run.stdout)[self.app + "/ready"]["status"] == 200:
                return
            assert time.monotonic() < deadline, f"/ready did not answer 200: {run.stdout[-500:]} {run.stderr[-500:]}"
            time.sleep(1)

    def snapshot(self) -> dict:
        """The watched symbols, the served model versions, every symbol's page and forecast answer."""
        listing = self.fetch("/api/v1/symbols?watched=true", "/api/v1/models")
        symbols = sorted(s["symbol"] for s in json.loads(listing["/api/v1/symbols?watched=true"]["body"])["symbols"])
        models = sorted((m.get("symbol"), m.get("model_name"), str(m.get("version")))
                        for m in json.loads(listing["/api/v1/models"]["body"])["models"])
        assert len(models) >= 2 * len(symbols) > 0, models
        per_symbol = self.fetch(*(f"/api/v1/symbols/{s}{part}" for s in symbols for part in ("", "/forecast")))
        assert all(answer["status"] == 200 for answer in per_symbol.values()), per_symbol
        return {"symbols": symbols, "models": models, "answers": {p: a["body"] for p, a in per_symbol.items()}}


def roles_beside_the_app() -> str:
    """The roles configure.yml lists before it includes the app, comma-separated for --skip-tags:
    what a test skips to re-run the app role alone (the drill, the move to the enhanced profile)
    with the configure play's fact gathering kept, which --tags app alone would skip."""
    plays = yaml.safe_load((REPO / "playbooks" / "configure.yml").read_text())
    (listed,) = [play["roles"] for play in plays if play.get("roles")]
    return ",".join(entry["role"] for entry in listed)


def playbook(*args: str, timeout: int = 1800, env: dict[str, str] | None = None) -> tuple[str, float]:
    """ansible-playbook against the sandbox inventory (env: extra variables); (output, seconds)."""
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
               **(env or {}))
    started = time.monotonic()
    run = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", "inventories/sandbox", *args],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    assert run.returncode == 0, f"{args}:\n{run.stdout[-4000:]}\n{run.stderr[-2000:]}"
    return run.stdout, time.monotonic() - started

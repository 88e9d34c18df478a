"""A real headless Chromium (Debian's chromium + chromedriver, from scripts/install-browser.sh)
loads the dashboard, sees the table and a drawn chart, logs in, triggers a real retrain and sees its
progress.  Screenshots go to tests/web/screenshots/ (gitignored)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import ADMIN_PASSWORD, TINY_ENV, TRAINED, cli_prefix
from test_server import free_port

SHOTS = Path(__file__).parent / "screenshots"
CHROMEDRIVER = "/usr/bin/chromedriver"


@pytest.fixture
def live_server(web_home, admin_hash, tmp_path):
    port = free_port()
    env_file = tmp_path / "stocksense.env"
    env_file.write_text(
        f"STOCKSENSE_SECRET_KEY={'y' * 40}\nSTOCKSENSE_ADMIN_PASSWORD_HASH='{admin_hash}'\n"
        "STOCKSENSE_SECURE_COOKIES=false\n"
    )
    env = {
        **os.environ,
        **TINY_ENV,
        "STOCKSENSE_HOME": str(web_home),
        "STOCKSENSE_ENV_FILE": str(env_file),
    }
    log = open(tmp_path / "server.log", "w")
    proc = subprocess.Popen(
        cli_prefix() + ["serve", "--port", str(port)], env=env, stdout=log, stderr=log
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while True:
        try:
            urllib.request.urlopen(base + "/version", timeout=5).read()
            break
        except OSError:
            assert proc.poll() is None, (tmp_path / "server.log").read_text()
            assert time.time() < deadline
            time.sleep(0.2)
    yield base
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=20)
    log.close()


@pytest.fixture
def browser(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    assert shutil.which("chromium") and Path(CHROMEDRIVER).exists(), (
        "run scripts/install-browser.sh (Debian chromium + chromium-driver)"
    )
    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium")
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
        f"--user-data-dir={tmp_path / 'chrome'}",
    ):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def _console_errors(driver) -> list[str]:
    return [
        e["message"]
        for e in driver.get_log("browser")
        if e["level"] == "SEVERE" and "favicon" not in e["message"]
    ]


def test_dashboard_login_retrain(live_server, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    SHOTS.mkdir(exist_ok=True)
    wait = WebDriverWait(browser, 30)

    # overview table
    browser.get(live_server + "/")
    table = browser.find_element(By.ID, "overview")
    row = table.find_element(By.CSS_SELECTOR, f'tr[data-symbol="{TRAINED}"]')
    assert "persistence" in row.text and TRAINED in row.text
    assert browser.find_element(By.ID, "stale-banner").is_displayed()
    browser.save_screenshot(str(SHOTS / "overview.png"))

    # symbol page: the charts are drawn (Chart.js ran under the strict CSP and painted pixels)
    row.find_element(By.LINK_TEXT, TRAINED).click()
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, '#price-chart[data-drawn="true"]')))
    wait.until(
        EC.presence_of_element_located((By.CSS_SELECTOR, '#backtest-chart[data-drawn="true"]'))
    )
    painted = browser.execute_script("""
        const c = document.getElementById('backtest-chart');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0; for (let i = 3; i < d.length; i += 4) { if (d[i] > 0) n++; }
        return [c.width, c.height, n];""")
    assert painted[0] > 100 and painted[1] > 100 and painted[2] > 1000, painted
    assert browser.execute_script("return window.Chart && Object.keys(Chart.instances).length") == 2
    assert browser.find_element(By.ID, "metrics").is_displayed()
    errors = _console_errors(browser)
    assert not errors, errors  # CSP violations would show up here
    browser.save_screenshot(str(SHOTS / "symbol.png"))

    with urllib.request.urlopen(f"{live_server}/api/v1/symbols/{TRAINED}/backtest") as r:
        backtest_before = json.loads(r.read())

    # log in
    browser.get(live_server + "/admin/")
    browser.find_element(By.ID, "password").send_keys(ADMIN_PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "#login-form button[type=submit]").click()
    wait.until(EC.presence_of_element_located((By.ID, "retrain-form")))

    # retrain: the real `stocksense train` runs as a background job; the page shows its progress
    from selenium.webdriver.support.ui import Select

    Select(browser.find_element(By.ID, "retrain-symbol")).select_by_value(TRAINED)
    browser.find_element(By.ID, "retrain-button").click()
    wait.until(EC.presence_of_element_located((By.ID, "job-progress")))
    statuses, percents, messages = set(), set(), set()
    deadline = time.time() + 300
    shot_taken = False
    while time.time() < deadline:
        status, percent, message = browser.execute_script("""
            const s = document.getElementById('job-status'),
                  p = document.getElementById('job-progress'),
                  m = document.getElementById('job-message');
            return [s ? s.textContent : '', p ? Number(p.value) : 0, m ? m.textContent : ''];""")
        statuses.add(status)
        percents.add(percent)
        messages.add(message)
        if status == "running" and 0 < percent < 100 and not shot_taken:
            browser.save_screenshot(str(SHOTS / "admin-retrain-progress.png"))
            shot_taken = True
        if status in ("succeeded", "failed", "cancelled"):
            break
        time.sleep(0.25)
    browser.save_screenshot(str(SHOTS / "admin-retrain-done.png"))
    assert status == "succeeded", (statuses, messages)
    assert "running" in statuses and any(0 < p < 100 for p in percents), (statuses, percents)
    assert any("epoch" in m or "published" in m for m in messages), messages
    assert not _console_errors(browser)

    # the new model version is served without a restart
    with urllib.request.urlopen(f"{live_server}/api/v1/models?symbol={TRAINED}") as r:
        models = json.loads(r.read())["models"]
    time.sleep(1.1)
    with urllib.request.urlopen(f"{live_server}/api/v1/symbols/{TRAINED}/forecast") as r:
        fc = json.loads(r.read())
    assert {m["version"] for m in models} == {e["model_version"] for e in fc["models"].values()}
    with urllib.request.urlopen(f"{live_server}/api/v1/symbols/{TRAINED}/backtest") as r:
        backtest_after = json.loads(r.read())
    assert backtest_after["created_at"] >= backtest_before["created_at"]
    assert backtest_after != backtest_before  # the retrain job also reran the backtest

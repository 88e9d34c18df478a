"""A real browser (Debian's headless Chromium) opens the dashboard over HTTPS through nginx.

Chromium trusts pebble's issuing root through its own NSS database (made here with certutil), and
maps the public name to 127.0.0.1 with --host-resolver-rules: nothing else is relaxed, so a wrong
certificate, a CSP that blocks the charts or a dashboard without forecasts fails the test.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

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


def test_dashboard_over_https_shows_forecasts_and_charts(site, browser):
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
    browser.save_screenshot(str(SCREENSHOTS / "e2e-overview.png"))

    first.find_element(By.LINK_TEXT, symbol).click()
    wait = WebDriverWait(browser, 30)
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, '#price-chart[data-drawn="true"]')))
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, '#backtest-chart[data-drawn="true"]')))
    assert browser.find_element(By.ID, "metrics").is_displayed()
    browser.save_screenshot(str(SCREENSHOTS / "e2e-symbol.png"))
    errors = [m for m in severe_console_messages(browser) if "favicon" not in m]
    assert not errors, errors  # a CSP violation through nginx's headers would show up here

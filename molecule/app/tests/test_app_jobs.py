"""Admin jobs as systemd units of their own, the polkit rule that lets the web app start only
those, the lock that keeps jobs from overlapping, and the app's settings behind nginx.

The scenario installs neither the ingest nor the train extra, so a refresh ends quickly with
"yfinance is not installed" and a retrain with "tensorflow is not installed": enough to see who may
start them and when they run. No traffic leaves the instance.
"""

from __future__ import annotations

import json
import time

import pytest

from helpers import unit_props

REFRESH = "stocksense-refresh.service"
RETRAIN = "stocksense-retrain@MSFT.service"
MEMORY_MAX = str(400 * 1024 * 1024)


def as_web_user(host, command: str):
    return host.run(f"runuser -u stocksense -- {command}")


def wait_done(host, unit: str, before: str, timeout: float = 90) -> dict:
    """Wait for a run of unit newer than invocation `before` to finish; its properties."""
    deadline = time.monotonic() + timeout
    while True:
        props = unit_props(host, unit, "ActiveState", "Result", "ExecMainStatus", "InvocationID")
        if props["InvocationID"] not in ("", before) and props["ActiveState"] in ("inactive", "failed"):
            return props
        assert time.monotonic() < deadline, f"{unit} did not run and finish: {props}"
        time.sleep(0.5)


def invocation(host, unit: str) -> str:
    return unit_props(host, unit, "InvocationID")["InvocationID"]


def test_job_units_have_their_own_network_memory_and_time_limits(host):
    web = unit_props(host, "stocksense.service", "IPAddressDeny", "MemoryMax", "MemoryDenyWriteExecute")
    assert web["IPAddressDeny"] and web["MemoryMax"] == MEMORY_MAX and web["MemoryDenyWriteExecute"] == "yes"
    refresh = unit_props(host, REFRESH, "Type", "IPAddressDeny", "MemoryMax", "RuntimeMaxUSec", "User", "LoadState")
    assert refresh["LoadState"] == "loaded" and refresh["Type"] == "exec" and refresh["User"] == "stocksense"
    assert refresh["IPAddressDeny"] == "", "the refresh needs outbound HTTPS to Yahoo"
    assert refresh["RuntimeMaxUSec"] == "30min"
    retrain = unit_props(host, RETRAIN, "Type", "IPAddressDeny", "MemoryMax", "RuntimeMaxUSec", "User", "LoadState",
                         "MemoryDenyWriteExecute")
    assert retrain["LoadState"] == "loaded" and retrain["Type"] == "exec" and retrain["User"] == "stocksense"
    assert retrain["RuntimeMaxUSec"] == "3h"
    # No train extra here: serving-sized memory and the web unit's W^X rule; with it, TensorFlow's.
    assert retrain["MemoryMax"] == MEMORY_MAX and retrain["MemoryDenyWriteExecute"] == "yes"
    for unit in (REFRESH, "stocksense-retrain@.service"):
        text = host.file(f"/etc/systemd/system/{unit}").content_string
        assert "/usr/bin/flock --exclusive" in text and " /var/lib/stocksense " in text, unit
        assert "ExecStopPost=-+/usr/bin/find /var/cache/nginx/stocksense" in text, unit


@pytest.mark.parametrize("unit", [REFRESH, RETRAIN])
def test_web_user_may_start_its_job_units(host, unit):
    before = invocation(host, unit)
    result = as_web_user(host, f"systemctl start --no-block {unit}")
    assert result.rc == 0, result.stderr
    props = wait_done(host, unit, before)
    # It ran in its own unit and said why it could not do more (no extras in this scenario).
    log = host.check_output(f"journalctl --no-pager -o cat _SYSTEMD_INVOCATION_ID={props['InvocationID']}")
    assert "is not installed" in log, log


@pytest.mark.parametrize(
    "command",
    [
        "systemctl start --no-block dbus.service",
        "systemctl stop stocksense.service",
        "systemctl restart --no-block stocksense-refresh.service",
        "systemctl start --no-block stocksense-refresh.timer",
        "systemctl start --no-block systemd-tmpfiles-clean.service",
    ],
)
def test_web_user_is_refused_every_other_unit_and_verb(host, command):
    result = as_web_user(host, f"{command} --no-ask-password")
    assert result.rc != 0
    assert "Access denied" in result.stderr or "Interactive authentication required" in result.stderr, result.stderr
    assert unit_props(host, "stocksense.service", "ActiveState")["ActiveState"] == "active"


def test_another_user_may_not_start_the_jobs(host):
    result = host.run(f"runuser -u nobody -- systemctl start --no-block --no-ask-password {REFRESH}")
    assert result.rc != 0 and ("Access denied" in result.stderr or "authentication required" in result.stderr)


def test_jobs_wait_for_the_data_lock_and_never_overlap(host):
    """A job holding /var/lib/stocksense (here a stand-in holder) keeps the refresh from starting
    its work; the refresh runs as soon as the lock is free."""
    host.run("systemctl stop test-lock-holder.service; systemctl reset-failed test-lock-holder.service")
    host.check_output("systemd-run --unit=test-lock-holder -p User=stocksense /usr/bin/flock /var/lib/stocksense sleep 300")
    before = invocation(host, REFRESH)
    try:
        time.sleep(1)
        assert as_web_user(host, f"systemctl start --no-block {REFRESH}").rc == 0
        time.sleep(4)
        waiting = unit_props(host, REFRESH, "ActiveState", "InvocationID")
        assert waiting["ActiveState"] == "active"
        log = host.run(f"journalctl --no-pager -o cat _SYSTEMD_INVOCATION_ID={waiting['InvocationID']} "
                       "SYSLOG_IDENTIFIER=stocksense-refresh").stdout
        assert "is not installed" not in log, "the refresh ran while another job held the lock"
    finally:
        host.run("systemctl stop test-lock-holder.service")
    done = wait_done(host, REFRESH, before)
    log = host.check_output(f"journalctl --no-pager -o cat _SYSTEMD_INVOCATION_ID={done['InvocationID']}")
    assert "is not installed" in log, "once the lock was free the refresh ran"


_ADMIN_REFRESH = r'''
import http.client, json, re, sys
def call(method, path, body=None, cookie=""):
    c = http.client.HTTPConnection("127.0.0.1", 5005, timeout=20)
    headers = {"X-Forwarded-Proto": "https", "Cookie": cookie}
    if body is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    c.request(method, path, body=body, headers=headers)
    r = c.getresponse()
    data = r.read().decode("utf-8", "replace")
    jar = "; ".join(v.split(";", 1)[0] for k, v in r.getheaders() if k.lower() == "set-cookie") or cookie
    return r.status, data, jar
from urllib.parse import urlencode
status, page, jar = call("GET", "/admin/login")
token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
status, _, jar = call("POST", "/admin/login", urlencode({"csrf_token": token, "username": "admin",
                      "password": "molecule-test-password"}), jar)
status, page, jar = call("GET", "/admin/", cookie=jar)
token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
status, _, jar = call("POST", "/admin/refresh", urlencode({"csrf_token": token}), jar)
print(json.dumps({"status": status}))
'''


def test_the_web_service_starts_the_refresh_unit_from_its_sandbox(host):
    """End to end: admin login, POST /admin/refresh; the web process (IPAddressDeny, MemoryMax, no
    capabilities) asks systemd over D-Bus and polkit lets it start the refresh unit."""
    before = invocation(host, REFRESH)
    out = json.loads(host.check_output("python3 -c %s", _ADMIN_REFRESH).splitlines()[-1])
    assert out["status"] in (302, 303), out
    wait_done(host, REFRESH, before)


def test_polkit_rule_and_settings_behind_nginx(host):
    rule = host.file("/etc/polkit-1/rules.d/60-stocksense-jobs.rules")
    assert rule.exists and rule.user == "root" and rule.mode == 0o644
    settings = host.file("/etc/stocksense/stocksense.env")
    assert settings.contains("^STOCKSENSE_SECURITY_HEADERS=false$")
    assert settings.contains("^STOCKSENSE_JOB_RUNNER=systemd$")
    assert settings.contains("^STOCKSENSE_TRAINING=false$")
    assert settings.contains("^STOCKSENSE_REFRESH_SCHEDULE='Mon..Fri 22:30'$")


_HEADERS = r'''
import http.client, json
c = http.client.HTTPConnection("127.0.0.1", 5005, timeout=10)
c.request("GET", "/", headers={"X-Forwarded-Proto": "https"})
r = c.getresponse(); r.read()
print(json.dumps([k.lower() for k, _ in r.getheaders()]))
'''


def test_the_app_sends_no_security_headers_of_its_own(host):
    """nginx owns them; a copy from the app would be a second header on every page."""
    names = json.loads(host.check_output("python3 -c %s", _HEADERS))
    for header in ("content-security-policy", "strict-transport-security", "x-frame-options",
                   "referrer-policy", "permissions-policy", "x-content-type-options"):
        assert header not in names, header


PRICES_OBJECT = "/var/lib/stocksense/exports/prices.json"


def test_the_refresh_unit_writes_the_prices_object_and_only_when_it_changed(host):
    """app_prices_object_url: after refreshing, the refresh unit writes the Lambda predict
    function's prices object from what is stored (here every fetch fails, "yfinance is not
    installed", so the stored prices are exported as they are), from its own sandbox, as the app's
    user. The same export run again by hand finds nothing new and writes nothing."""
    host.run(f"rm -f {PRICES_OBJECT}")
    before = invocation(host, REFRESH)
    host.check_output(f"systemctl start --no-block {REFRESH}")
    props = wait_done(host, REFRESH, before)
    assert props["ExecMainStatus"] == "3", props  # some symbols failed: logged, not a unit failure
    log = host.check_output(f"journalctl --no-pager -o cat _SYSTEMD_INVOCATION_ID={props['InvocationID']}")
    event = json.loads(next(line for line in log.splitlines() if '"prices_object"' in line))
    assert event["ok"] and event["changed"] and event["to"] == PRICES_OBJECT, event
    document = json.loads(host.file(PRICES_OBJECT).content_string)
    assert document["symbols"]["MSFT"]["prices"], "the stored prices are in the object"
    assert host.file(PRICES_OBJECT).user == "stocksense"
    export = ("systemd-run --wait --pipe --quiet -p User=stocksense -p ProtectSystem=strict "
              "-p ReadWritePaths=/var/lib/stocksense -p EnvironmentFile=/etc/stocksense/stocksense.env "
              f"/opt/stocksense/current/venv/bin/stocksense prices export --to {PRICES_OBJECT} --json")
    again = json.loads(host.check_output(export).splitlines()[-1])
    assert again["ok"] and again["changed"] is False, again

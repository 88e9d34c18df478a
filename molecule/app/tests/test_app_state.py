"""The converged StockSense service: layout, ownership, secrets, serving install, HTTP, logs, sandbox."""

from __future__ import annotations

import json
import re

from helpers import fetch, unit_props

MEMORY_MAX = 400 * 1024 * 1024  # app_memory_max default 400M
EXPOSURE_TARGET = 2.0


def test_service_user_is_a_system_user_without_login_shell(host):
    user = host.user("stocksense")
    assert user.exists
    assert user.shell in ("/usr/sbin/nologin", "/sbin/nologin", "/bin/false")
    assert user.uid < 1000
    assert user.home == "/var/lib/stocksense"


def test_code_belongs_to_root_and_current_points_at_a_release(host):
    current = host.file("/opt/stocksense/current")
    assert current.is_symlink
    assert re.fullmatch(r"releases/[0-9a-f]{12}", current.linked_to.split("/opt/stocksense/")[-1])
    release = host.file(current.linked_to)
    for path in ("/opt/stocksense", release.path, f"{release.path}/venv/bin/python", f"{release.path}/venv/bin/stocksense"):
        assert host.file(path).user == "root", path
    assert host.file(f"{release.path}/.installed").exists
    # The service user cannot change the code it runs.
    assert host.run("runuser -u stocksense -- touch /opt/stocksense/current/venv/bin/x").rc != 0


def test_static_files_are_where_nginx_looks(host):
    static = host.file("/opt/stocksense/current/static")
    assert static.is_symlink
    assert host.file("/opt/stocksense/current/static/css/app.css").is_file
    assert host.file("/opt/stocksense/current/static/vendor/chartjs/chart.umd.min.js").is_file


def test_data_belongs_to_the_service_user(host):
    home = host.file("/var/lib/stocksense")
    assert (home.user, home.group, home.mode) == ("stocksense", "stocksense", 0o750)
    assert host.file("/var/lib/stocksense/stocksense.db").user == "stocksense"
    pointers = host.check_output("find /var/lib/stocksense/registry/MSFT -name latest | sort").split()
    assert pointers == ["/var/lib/stocksense/registry/MSFT/lstm/latest", "/var/lib/stocksense/registry/MSFT/transformer/latest"]
    assert host.file("/var/lib/stocksense/registry/MSFT/lstm/latest").user == "stocksense"


def test_secrets_file_is_0640_and_holds_the_secrets(host):
    secrets = host.file("/etc/stocksense/secrets.env")
    assert (secrets.user, secrets.group, secrets.mode) == ("root", "stocksense", 0o640)
    assert secrets.contains("^STOCKSENSE_SECRET_KEY='")
    assert secrets.contains(r"^STOCKSENSE_ADMIN_PASSWORD_HASH='\$argon2id\$")
    settings = host.file("/etc/stocksense/stocksense.env")
    assert not settings.contains("SECRET")
    assert settings.contains("^STOCKSENSE_HOME=/var/lib/stocksense$")
    assert host.file("/etc/stocksense/stocksense.env").mode == 0o640
    # Others cannot read the configuration.
    assert host.run("runuser -u nobody -- cat /etc/stocksense/secrets.env").rc != 0


def test_serving_install_has_no_tensorflow(host):
    python = "/opt/stocksense/current/venv/bin/python"
    found = host.check_output(
        f"{python} -c \"import importlib.util as u; print([m for m in ('tensorflow', 'keras', 'pandas') if u.find_spec(m)])\"")
    assert found == "[]"
    size_mb = int(host.check_output("du -sm /opt/stocksense/current/venv/").split()[0])
    print(f"serving virtualenv: {size_mb} MB")
    assert size_mb < 400


def test_health_and_readiness_are_200_on_loopback(host):
    health = fetch(host, "/health")  # liveness: the process answers
    assert health["status"] == 200, health
    assert json.loads(health["body"])["status"] == "ok"
    ready = fetch(host, "/ready")  # readiness, the role's gate: the watched symbol has its models
    assert ready["status"] == 200, ready
    body = json.loads(ready["body"])
    assert body["status"] == "ok" and body["database"] is True
    assert body["watched"] == 1 and body["with_model"] == 1


def test_listens_on_loopback_only(host):
    assert host.socket("tcp://127.0.0.1:5005").is_listening
    assert not host.socket("tcp://0.0.0.0:5005").is_listening
    assert not host.socket("tcp://:::5005").is_listening


def test_dashboard_renders_with_the_watched_symbol(host):
    page = fetch(host, "/", accept="text/html")
    assert page["status"] == 200
    assert page["type"].startswith("text/html")
    assert "<html" in page["body"].lower()
    assert "MSFT" in page["body"]
    assert "/static/" in page["body"]


def test_unit_restarts_on_failure_with_memory_limits(host):
    props = unit_props(host, "stocksense.service", "Restart", "MemoryMax", "MemoryHigh", "User", "SyslogIdentifier",
                       "NoNewPrivileges", "ProtectSystem", "ProtectHome", "PrivateTmp", "PrivateDevices",
                       "CapabilityBoundingSet", "ReadWritePaths", "RestrictAddressFamilies", "ActiveState", "UnitFileState")
    assert props["ActiveState"] == "active" and props["UnitFileState"] == "enabled"
    assert props["Restart"] == "on-failure"
    assert int(props["MemoryMax"]) == MEMORY_MAX
    assert int(props["MemoryHigh"]) < MEMORY_MAX
    assert props["User"] == "stocksense"
    assert props["SyslogIdentifier"] == "stocksense"
    assert props["NoNewPrivileges"] == "yes"
    assert props["ProtectSystem"] == "strict"
    assert props["ProtectHome"] == "yes"
    assert props["PrivateTmp"] == "yes" and props["PrivateDevices"] == "yes"
    assert props["CapabilityBoundingSet"] == ""
    assert props["ReadWritePaths"] == "/var/lib/stocksense"
    assert set(props["RestrictAddressFamilies"].split()) == {"AF_UNIX", "AF_INET", "AF_INET6"}


def test_systemd_analyze_security_exposure(host):
    out = host.check_output("systemd-analyze security --no-pager stocksense.service")
    print("\n".join(line for line in out.splitlines() if not line.startswith("✓")))
    score = float(re.search(r"Overall exposure level for stocksense\.service: ([0-9.]+)", out).group(1))
    print(f"systemd-analyze security exposure: {score}")
    assert score < EXPOSURE_TARGET


def test_memory_use_is_far_below_the_limit(host):
    pid = unit_props(host, "stocksense.service", "MainPID")["MainPID"]
    rss_kb = int(re.search(r"VmRSS:\s+(\d+) kB", host.file(f"/proc/{pid}/status").content_string).group(1))
    print(f"stocksense.service RSS: {rss_kb // 1024} MB")
    assert rss_kb * 1024 < MEMORY_MAX // 2


def test_logs_are_one_line_json_in_the_journal(host):
    fetch(host, "/health")
    invocation = unit_props(host, "stocksense.service", "InvocationID")["InvocationID"]
    lines = host.check_output(f"journalctl --no-pager -o cat _SYSTEMD_INVOCATION_ID={invocation} SYSLOG_IDENTIFIER=stocksense").splitlines()
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert records, "no log lines from the service"
    assert all({"ts", "level", "logger", "msg"} <= set(r) for r in records)
    assert any(r["msg"] == "listening" for r in records)
    assert any(r.get("path") == "/health" and r.get("status") == 200 for r in records)


def test_daily_refresh_timer_is_active(host):
    props = unit_props(host, "stocksense-refresh.timer", "ActiveState", "UnitFileState", "TimersCalendar")
    assert props["ActiveState"] == "active" and props["UnitFileState"] == "enabled"
    assert "22:30:00 UTC" in props["TimersCalendar"]
    assert not host.file("/etc/systemd/system/stocksense-retrain.timer").exists

"""Admin jobs as systemd units: started with `systemctl start --no-block`, followed with
`systemctl show`.  No systemd runs in this test process, so a recorded `systemctl` stands in for
it here (the units themselves, their polkit rule and a real start are tested in the app role's
molecule scenario on a systemd container)."""

from __future__ import annotations

import subprocess

import pytest
from conftest import TRAINED, csrf_from, login, make_app

from stocksense.web.runners import SystemdJobRunner, build_runner, unit_instance


class FakeSystemctl:
    """Records calls and answers like systemctl for units in a dict of states."""

    def __init__(self, template_loaded=True):
        self.calls: list[list[str]] = []
        self.units: dict[str, dict[str, str]] = {}
        self.template_loaded = template_loaded
        self.refuse = False

    def __call__(self, argv, **kw):
        self.calls.append(argv)
        verb, unit = argv[1], argv[-1]
        if verb == "start":
            if self.refuse:
                return subprocess.CompletedProcess(argv, 4, "", "Access denied")
            old = self.units.get(unit, {}).get("InvocationID", "")
            self.units[unit] = {"ActiveState": "activating", "InvocationID": old + "1"}
            return subprocess.CompletedProcess(argv, 0, "", "")
        state = dict(self.units.get(unit, {}))
        loaded = "retrain@" not in unit or self.template_loaded
        state.setdefault("ActiveState", "inactive")
        state["LoadState"] = "loaded" if loaded else "not-found"
        out = "".join(f"{k}={v}\n" for k, v in state.items())
        return subprocess.CompletedProcess(argv, 0, out, "")

    def finish(self, unit, result="success"):
        self.units[unit]["ActiveState"] = "inactive" if result == "success" else "failed"
        self.units[unit]["Result"] = result


def _cfg(admin_hash, **kw):
    from conftest import make_config

    return make_config(admin_hash, job_runner="systemd", **kw)


def test_systemd_runner_starts_and_follows_the_refresh_unit(admin_hash):
    fake = FakeSystemctl()
    finished = []
    runner = SystemdJobRunner(_cfg(admin_hash), on_finish=finished.append, run=fake)
    job = runner.start_refresh()
    assert ["systemctl", "start", "--no-block", "--", "stocksense-refresh.service"] in fake.calls
    assert runner.current().status == "running"
    with pytest.raises(Exception, match="already running"):
        runner.start_refresh()
    fake.finish("stocksense-refresh.service")
    assert runner.current().status == "succeeded" and finished == [job]
    runner.current()
    assert finished == [job]  # on_finish once


def test_queued_start_is_not_mistaken_for_a_finished_run(admin_hash):
    fake = FakeSystemctl()
    runner = SystemdJobRunner(_cfg(admin_hash), run=fake)
    fake.units["stocksense-refresh.service"] = {"ActiveState": "inactive", "InvocationID": "a"}
    real = fake.__call__

    def slow_start(argv, **kw):  # systemd has not activated it yet: same invocation, inactive
        if argv[1] == "start":
            fake.calls.append(argv)
            return subprocess.CompletedProcess(argv, 0, "", "")
        return real(argv, **kw)

    runner._run = slow_start
    runner.start_refresh()
    assert runner.current().status == "running"


def test_retrain_unit_name_is_escaped_and_failure_reported(admin_hash):
    fake = FakeSystemctl()
    runner = SystemdJobRunner(_cfg(admin_hash), run=fake)
    runner.start_retrain("BRK-B")
    unit = "stocksense-retrain@BRK\\x2dB.service"
    assert fake.calls[-1][-1] == unit
    fake.finish(unit, result="oom-kill")
    job = runner.current()
    assert job.status == "failed" and "oom-kill" in job.message


@pytest.mark.parametrize(
    "symbol,instance",
    [("MSFT", "MSFT"), ("^GSPC", "\\x5eGSPC"), ("EURUSD=X", "EURUSD\\x3dX"), ("BF.B", "BF.B")],
)
def test_unit_instance_escaping(symbol, instance):
    assert unit_instance(symbol) == instance


def test_systemd_refusal_is_reported_not_raised(web_home, admin_hash, monkeypatch):
    fake = FakeSystemctl()
    fake.refuse = True
    monkeypatch.setattr(subprocess, "run", fake)
    app = make_app(web_home, admin_hash, job_runner="systemd")
    c = app.test_client()
    login(c)
    token = csrf_from(c.get("/admin/").get_data(as_text=True))
    page = c.post("/admin/refresh", data={"csrf_token": token}, follow_redirects=True)
    assert "systemd refused to start stocksense-refresh.service" in page.get_data(as_text=True)


def test_admin_page_without_training_hides_retrain(web_home, admin_hash, monkeypatch):
    fake = FakeSystemctl(template_loaded=False)
    monkeypatch.setattr(subprocess, "run", fake)
    app = make_app(web_home, admin_hash, job_runner="systemd")
    assert app.extensions["stocksense.jobs"].training_available is False
    c = app.test_client()
    login(c)
    html = c.get("/admin/").get_data(as_text=True)
    assert 'id="retrain-form"' not in html and 'id="no-training"' in html
    token = csrf_from(html)
    page = c.post("/admin/retrain", data={"csrf_token": token, "symbol": TRAINED})
    assert page.status_code == 302
    assert not [call for call in fake.calls if call[1] == "start"]


def test_local_runner_is_the_default_and_offers_training_when_installed(admin_hash):
    from conftest import make_config

    runner = build_runner(make_config(admin_hash))
    assert type(runner).__name__ == "LocalJobRunner" and runner.training_available is True
    off = build_runner(make_config(admin_hash, training="false"))
    assert off.training_available is False


def test_job_history_is_bounded(admin_hash):
    fake = FakeSystemctl()
    runner = SystemdJobRunner(_cfg(admin_hash), run=fake)
    for _ in range(25):
        runner.start_refresh()
        fake.finish("stocksense-refresh.service")
        runner.current()
    assert len(runner.recent()) == 10

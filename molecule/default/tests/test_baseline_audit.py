"""The whole stack's audit floor: lynis (Debian's package) and each unit's systemd exposure.

The same checks as the baseline scenario (molecule/baseline/tests/audit.py), on the sandbox instance
after site.yml: the baseline role first, then every other role with its own unit sandbox.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

_AUDIT = Path(__file__).resolve().parents[2] / "baseline" / "tests" / "audit.py"
_spec = importlib.util.spec_from_file_location("baseline_audit", _AUDIT)
audit = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(audit)

LYNIS_FLOOR = 80
# Ceilings from the issue (nginx, certbot and the agent <= 5.0); the app's unit was 1.1 before.
EXPOSURE_CEILINGS = {
    "nginx.service": 5.0,
    "certbot.service": 5.0,
    "amazon-cloudwatch-agent.service": 5.0,
    "stocksense.service": 2.0,
}


@pytest.fixture(scope="module")
def lynis_report(host):
    return audit.run_lynis(host)


def test_lynis_hardening_index_reaches_the_floor_on_the_stack(lynis_report):
    index = audit.hardening_index(lynis_report)
    print(f"lynis hardening index (whole stack): {index}")
    assert index >= LYNIS_FLOOR, f"lynis hardening index {index} < {LYNIS_FLOOR}; suggestions: {lynis_report.get('suggestion')}"


def test_lynis_reports_no_warning_on_the_stack(lynis_report):
    assert audit.warnings(lynis_report) == []


@pytest.mark.parametrize(("unit", "ceiling"), EXPOSURE_CEILINGS.items())
def test_unit_exposure_stays_under_its_ceiling(host, unit, ceiling):
    level = audit.exposure(host, unit)
    print(f"{unit} exposure: {level}")
    assert level <= ceiling


def test_agent_unit_runs_as_cwagent(host):
    """The agent is not started in the sandbox (not EC2), but its unit says who it would run as."""
    assert host.check_output("systemctl show -P User amazon-cloudwatch-agent.service") == "cwagent"

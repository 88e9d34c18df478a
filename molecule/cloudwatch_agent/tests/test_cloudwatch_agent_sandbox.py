"""The agent's own user and sandbox (roles/cloudwatch_agent/tasks/hardening.yml), with the TEST STAND-IN.

The stand-in's process stands for the agent's: what is checked is what systemd gives it (user,
groups, exposure), which is the same for the real agent's unit.
"""

from __future__ import annotations

import re
from pathlib import Path


def test_agent_runs_as_cwagent_with_the_log_reader_groups(host):
    pid = host.check_output("systemctl show -P MainPID amazon-cloudwatch-agent.service")
    assert pid != "0"
    status = host.file(f"/proc/{pid}/status").content_string
    uid = host.user("cwagent").uid
    assert re.search(rf"^Uid:\s+{uid}\s", status, re.M), status
    groups = set(host.user("cwagent").groups)
    assert {"adm", "systemd-journal"} <= groups
    assert host.file("/opt/aws/amazon-cloudwatch-agent/logs").user == "cwagent"


def test_agent_config_runs_as_cwagent(host):
    import json

    config = json.loads(host.file("/etc/stocksense/amazon-cloudwatch-agent.json").content_string)
    assert config["agent"]["run_as_user"] == "cwagent"


def test_agent_unit_exposure_is_below_5(host):
    report = host.run("systemd-analyze security --no-pager amazon-cloudwatch-agent.service")
    level = float(re.search(r"Overall exposure level for amazon-cloudwatch-agent.service: (\d+\.\d+)", report.stdout)[1])
    print(f"amazon-cloudwatch-agent.service exposure: {level}")
    assert level <= 5.0


def test_own_drop_in_template_replaces_the_roles_and_the_default_brings_it_back(first_host, run_role, standin_vars, tmp_path):
    """cloudwatch_agent_unit_hardening_template: a file on the controller, used as given."""
    dropin = "/etc/systemd/system/amazon-cloudwatch-agent.service.d/50-stocksense-hardening.conf"
    roles_own = Path(__file__).resolve().parents[3] / "roles" / "cloudwatch_agent" / "templates" / "amazon-cloudwatch-agent-hardening.conf.j2"
    own = tmp_path / "our-agent-dropin.conf.j2"
    own.write_text(roles_own.read_text() + "# our own drop-in\n")
    converged = first_host.file(dropin).sha256sum

    # As converged (molecule.yml): the stand-in is started, so a changed drop-in restarts it.
    converge_vars = {**standin_vars, "cloudwatch_agent_assume_ec2": True}
    result = run_role("cloudwatch_agent", {**converge_vars, "cloudwatch_agent_unit_hardening_template": str(own)})
    assert result.rc == 0, result.output
    assert first_host.file(dropin).contains("^# our own drop-in$")
    assert first_host.service("amazon-cloudwatch-agent").is_running

    back = run_role("cloudwatch_agent", converge_vars)
    assert back.rc == 0, back.output
    assert first_host.file(dropin).sha256sum == converged

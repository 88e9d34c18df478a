"""The agent's own user and sandbox (roles/cloudwatch_agent/tasks/hardening.yml), with the TEST STAND-IN.

The stand-in's process stands for the agent's: what is checked is what systemd gives it (user,
groups, exposure), which is the same for the real agent's unit.
"""

from __future__ import annotations

import re


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

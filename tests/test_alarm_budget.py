"""The aws_monitoring role's alarms against the free tier and against what the agent really sends.

CloudWatch bills each alarm past the free tier's 10 a month; the README counts the stack's alarms.
An alarm on an agent metric whose name or dimensions differ from what the agent sends by one
character never leaves INSUFFICIENT_DATA, silently: the alarms' metric names and dimension names
are checked against the cloudwatch_agent role's configuration.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
ROLE = REPO / "roles" / "aws_monitoring"
VARS = yaml.safe_load((ROLE / "vars" / "main.yml").read_text())
DEFAULTS = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
AGENT = yaml.safe_load((REPO / "roles" / "cloudwatch_agent" / "defaults" / "main.yml").read_text())

# The billing alarm is its own task (us-east-1); every other alarm is an entry of the catalog.
CATALOG = VARS["aws_monitoring_alarm_catalog"]
ALARMS_AT_MOST = len(CATALOG) + 1


def by_suffix(suffix: str) -> dict:
    return next(alarm for alarm in CATALOG if alarm["name"].endswith(f"-{suffix}"))


def readme_section(path: Path, title: str) -> str:
    return path.read_text().split(f"## {title}", 1)[1].split("\n## ", 1)[0]


def test_the_alarms_fit_the_free_tier():
    assert ALARMS_AT_MOST <= DEFAULTS["aws_monitoring_alarm_budget"] == 10


def test_the_readmes_count_the_alarms_the_role_defines():
    """The main README's figure and the role README's table say as many alarms as the role makes."""
    section = readme_section(REPO / "README.md", "Alarms and dashboard")
    figures = {int(n) for n in re.findall(r"\*\*(\d+) alarms\*\*", section)}
    assert figures == {ALARMS_AT_MOST}, figures
    table = readme_section(ROLE / "README.md", "Alarms")
    rows = [line for line in table.splitlines() if re.match(r"^\| `<stack>-[a-z0-9-]+`", line)]
    assert len(rows) == ALARMS_AT_MOST
    assert {re.match(r"^\| `<stack>-([a-z0-9-]+)`", row).group(1) for row in rows} == {a["name"].rsplit("}}-", 1)[1] for a in CATALOG} | {"billing"}


def test_host_alarms_name_the_agents_metrics():
    """The agent names a plugin's measurement <plugin>_<measurement> unless it already starts so."""
    collected = AGENT["cloudwatch_agent_metrics_collected"]
    sent = {m if m.startswith(f"{plugin}_") else f"{plugin}_{m}" for plugin, section in collected.items() for m in section["measurement"]}
    assert by_suffix("memory")["metric_name"] in sent
    assert by_suffix("root-disk")["metric_name"] in sent
    assert AGENT["cloudwatch_agent_metrics_namespace"] == DEFAULTS["aws_monitoring_metrics_namespace"].split("'")[1]


def test_host_alarms_use_the_agents_dimensions():
    """Appended dimensions (InstanceId, InstanceType) on every metric, plus the disk plugin's own."""
    appended = set(AGENT["cloudwatch_agent_append_dimensions"])
    assert set(VARS["aws_monitoring_agent_dimensions"]) == appended
    assert AGENT["cloudwatch_agent_metrics_collected"]["disk"]["resources"] == ["/"]
    disk = by_suffix("root-disk")["dimensions"]
    assert "path" in disk and "device" in disk and "fstype" in disk, disk
    assert "drop_device" not in AGENT["cloudwatch_agent_metrics_collected"]["disk"], "the agent would then send no device dimension"

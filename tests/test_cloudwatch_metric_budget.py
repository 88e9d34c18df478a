"""The CloudWatch agent's custom-metric count, rendered by Ansible's own templating from the role's vars.

CloudWatch bills each custom metric past the free tier's 10 a month, so the role counts what its
configuration would produce and refuses more than its budget or any "*" resource. These tests pin the
count rule to the defaults and to the README's table, and show that the guard sees an over-budget or
unbounded configuration.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

ROLE = Path(__file__).resolve().parent.parent / "roles" / "cloudwatch_agent"
VARS = yaml.safe_load((ROLE / "vars" / "main.yml").read_text())
DEFAULTS = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())


def render(name: str, metrics: dict):
    variables = {
        "cloudwatch_agent_metrics_collected": metrics,
        "cloudwatch_agent_per_resource_plugins": VARS["cloudwatch_agent_per_resource_plugins"],
    }
    templar = Templar(loader=DataLoader(), variables=variables)
    return templar.template(trust_as_template(VARS[name]))


def count(metrics: dict) -> int:
    return int(render("cloudwatch_agent_custom_metric_count", metrics))


def unbounded(metrics: dict) -> list[str]:
    return list(render("cloudwatch_agent_unbounded_sections", metrics))


# The app's own metrics (app/src/stocksense/web/metrics.py, sent in Embedded Metric Format to the
# agent's EMF listener); app/tests/web/test_metrics.py checks the app emits exactly these by default.
APP_METRICS = {"Requests", "Errors5xx", "PredictionLatency", "DataAgeDays"}
# Made by the aws_monitoring role: a log metric filter on the app's failed-job lines.
STACK_METRICS = {"JobFailures"}


def test_defaults_fit_the_free_tier_with_the_apps_metrics():
    metrics = DEFAULTS["cloudwatch_agent_metrics_collected"]
    assert count(metrics) == 5
    assert DEFAULTS["cloudwatch_agent_app_metric_count"] == len(APP_METRICS) == 4
    assert DEFAULTS["cloudwatch_agent_stack_metric_count"] == len(STACK_METRICS) == 1
    total = count(metrics) + DEFAULTS["cloudwatch_agent_app_metric_count"] + DEFAULTS["cloudwatch_agent_stack_metric_count"]
    assert total <= DEFAULTS["cloudwatch_agent_custom_metric_budget"] == 10
    assert unbounded(metrics) == []


def _readme_table() -> str:
    readme = (ROLE / "README.md").read_text()
    return readme.split("## Custom metrics", 1)[1].split("\n## ", 1)[0]


def test_readme_table_counts_the_same_metrics():
    """The README's metric tables list one row per default custom metric, the agent's and the app's."""
    table = _readme_table()
    rows = [line for line in table.splitlines() if re.match(r"^\| `[a-z_]+`", line)]
    names = {re.match(r"^\| `([a-z_]+)`", row).group(1) for row in rows}
    defaults = {m for section in DEFAULTS["cloudwatch_agent_metrics_collected"].values() for m in section["measurement"]}
    assert names == defaults
    assert len(rows) == count(DEFAULTS["cloudwatch_agent_metrics_collected"])
    upper_rows = [m.group(1) for line in table.splitlines() if (m := re.match(r"^\| `([A-Z][A-Za-z0-9]+)`", line))]
    app_rows = [name for name in upper_rows if name not in STACK_METRICS]
    stack_rows = [name for name in upper_rows if name in STACK_METRICS]
    assert set(app_rows) == APP_METRICS and len(app_rows) == DEFAULTS["cloudwatch_agent_app_metric_count"]
    assert len(stack_rows) == DEFAULTS["cloudwatch_agent_stack_metric_count"]
    total = len(rows) + len(app_rows) + len(stack_rows)
    assert f"| **total** | | | **{total} of {DEFAULTS['cloudwatch_agent_custom_metric_budget']}** |" in table


def test_the_agent_listens_for_the_apps_emf():
    """The rendered configuration opens the EMF listener the app sends to (logs.metrics_collected.emf)."""
    assert VARS["cloudwatch_agent_config"]["logs"]["metrics_collected"] == {"emf": {}}


@pytest.mark.parametrize(("app_metrics", "accepted"), [(4, True), (5, False)])
def test_the_budget_assert_counts_the_apps_metrics(app_metrics, accepted):
    """validate.yml's budget condition, evaluated by Ansible's templating: agent + app, not the agent alone."""
    tasks = yaml.safe_load((ROLE / "tasks" / "validate.yml").read_text())
    task = next(t for t in tasks if t["name"] == "Keep the metrics within the custom-metric budget")
    variables = {
        **DEFAULTS,
        "cloudwatch_agent_per_resource_plugins": VARS["cloudwatch_agent_per_resource_plugins"],
        "cloudwatch_agent_custom_metric_count": render("cloudwatch_agent_custom_metric_count", DEFAULTS["cloudwatch_agent_metrics_collected"]),
        "cloudwatch_agent_unbounded_sections": [],
        "cloudwatch_agent_app_metric_count": app_metrics,
    }
    templar = Templar(loader=DataLoader(), variables=variables)
    results = [templar.template(trust_as_template("{{ " + cond + " }}")) for cond in task["ansible.builtin.assert"]["that"]]
    assert all(results) is accepted


@pytest.mark.parametrize(
    ("metrics", "expected"),
    [
        ({"cpu": {"measurement": ["a", "b"], "totalcpu": True, "resources": ["0", "1"]}}, 6),
        ({"cpu": {"measurement": ["a"], "totalcpu": False, "resources": ["0"]}}, 1),
        ({"cpu": {"measurement": ["a", "b", "c"]}}, 3),
        ({"disk": {"measurement": ["used_percent", "inodes_free"], "resources": ["/", "/data"]}}, 4),
        ({"mem": {"measurement": ["mem_used_percent"]}, "swap": {"measurement": ["swap_used_percent", "swap_free"]}}, 3),
    ],
)
def test_count_rule(metrics, expected):
    assert count(metrics) == expected


def test_the_old_default_with_diskio_on_every_device_is_refused():
    """The configuration the role shipped before: 10 metrics plus diskio on "*" (3 more per device)."""
    old = {
        "cpu": {"measurement": ["cpu_usage_idle", "cpu_usage_iowait", "cpu_usage_user", "cpu_usage_system"], "totalcpu": True},
        "mem": {"measurement": ["mem_used_percent", "mem_available"]},
        "disk": {"measurement": ["used_percent"], "resources": ["/"]},
        "swap": {"measurement": ["swap_used_percent"]},
        "netstat": {"measurement": ["tcp_established", "tcp_time_wait"]},
        "diskio": {"measurement": ["io_time", "reads", "writes"], "resources": ["*"]},
    }
    assert unbounded(old) == ["diskio"]


def test_a_per_device_plugin_without_resources_is_unbounded():
    assert unbounded({"net": {"measurement": ["bytes_sent"]}}) == ["net"]


def test_stack_metrics_are_the_log_metric_filters_the_stack_creates():
    """Every custom metric a log metric filter makes (roles/aws_monitoring) is counted as a stack metric."""
    tasks = yaml.safe_load((ROLE.parent / "aws_monitoring" / "tasks" / "alarms.yml").read_text())
    filters = [t["amazon.aws.cloudwatchlogs_log_group_metric_filter"] for t in tasks
               if "amazon.aws.cloudwatchlogs_log_group_metric_filter" in t]
    made = {f["metric_transformation"]["metric_name"] for f in filters}
    assert made == STACK_METRICS

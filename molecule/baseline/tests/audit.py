"""Lynis and `systemd-analyze security` on an instance, shared by the baseline and default scenarios.

Lynis comes from Debian's own package, installed on the instance by the test; its full report is
/var/log/lynis-report.dat (one key=value per line; warning[] and suggestion[] repeat).
"""

from __future__ import annotations

import re

EXPOSURE = re.compile(r"Overall exposure level for (?P<unit>\S+): (?P<score>\d+(?:\.\d+)?)")


def run_lynis(host) -> dict[str, list[str]]:
    """Install lynis, run a full non-interactive audit, return the report's keys (every value a list)."""
    install = host.run("DEBIAN_FRONTEND=noninteractive apt-get install -y -q lynis")
    assert install.rc == 0, install.stdout + install.stderr
    audit = host.run("lynis audit system --quick --no-colors")
    assert host.file("/var/log/lynis-report.dat").exists, audit.stdout
    report: dict[str, list[str]] = {}
    for line in host.file("/var/log/lynis-report.dat").content_string.splitlines():
        key, sep, value = line.partition("=")
        if sep and not key.startswith("#"):
            report.setdefault(key.removesuffix("[]"), []).append(value)
    return report


def hardening_index(report: dict[str, list[str]]) -> int:
    return int(report["hardening_index"][0])


def warnings(report: dict[str, list[str]]) -> list[str]:
    return report.get("warning", [])


def exposure(host, unit: str) -> float:
    """The unit's overall exposure level from `systemd-analyze security` (0 safe .. 10 unsafe)."""
    result = host.run(f"systemd-analyze security --no-pager {unit}")
    match = EXPOSURE.search(result.stdout + result.stderr)
    assert match, f"no exposure level for {unit}: {result.stdout}{result.stderr}"
    return float(match["score"])

"""The audit floor: lynis (Debian's package) on the converged instance.

Fails when the hardening index drops below the floor this role reaches, or on any lynis warning.
Controls that cannot apply in a container are listed in roles/baseline/README.md, not skipped with a
lynis profile. The units' exposure ceilings are checked on the whole stack (the default scenario) and
in each role's own scenario: this role adds no service of its own.
"""

from __future__ import annotations

import pytest

from audit import hardening_index, run_lynis, warnings

LYNIS_FLOOR = 80


@pytest.fixture(scope="module")
def lynis_report(first_host):
    return run_lynis(first_host)


def test_lynis_hardening_index_reaches_the_floor(lynis_report):
    index = hardening_index(lynis_report)
    print(f"lynis hardening index: {index}")
    assert index >= LYNIS_FLOOR, f"lynis hardening index {index} < {LYNIS_FLOOR}; suggestions: {lynis_report.get('suggestion')}"


def test_lynis_reports_no_warning(lynis_report):
    assert warnings(lynis_report) == []

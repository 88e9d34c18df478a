"""The audit floor: lynis (Debian's package) on the converged instance, and our units' exposure.

Fails when the hardening index drops below the floor this role reaches, on any lynis warning, or when a
unit of ours is more exposed than its ceiling. Controls that cannot apply in a container are listed
in roles/baseline/README.md, not skipped with a lynis profile.
"""

from __future__ import annotations

import pytest

from audit import exposure, hardening_index, run_lynis, warnings

LYNIS_FLOOR = 80
# Units this scenario has; the default scenario checks the whole stack's.
EXPOSURE_CEILINGS = {"ssh.service": 9.6}


@pytest.fixture(scope="module")
def lynis_report(first_host):
    return run_lynis(first_host)


def test_lynis_hardening_index_reaches_the_floor(lynis_report):
    index = hardening_index(lynis_report)
    print(f"lynis hardening index: {index}")
    assert index >= LYNIS_FLOOR, f"lynis hardening index {index} < {LYNIS_FLOOR}; suggestions: {lynis_report.get('suggestion')}"


def test_lynis_reports_no_warning(lynis_report):
    assert warnings(lynis_report) == []


@pytest.mark.parametrize(("unit", "ceiling"), EXPOSURE_CEILINGS.items())
def test_unit_exposure_stays_under_its_ceiling(first_host, unit, ceiling):
    level = exposure(first_host, unit)
    print(f"{unit} exposure: {level}")
    assert level <= ceiling

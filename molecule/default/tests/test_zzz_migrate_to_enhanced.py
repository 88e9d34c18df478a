"""Moving the running single stack to the enhanced profile, last of the scenario's tests.

AWS cannot be reached here: moto stands in for RDS, SSM and S3 (provision with the enhanced profile
adds them to this scenario's moto), and a Debian PostgreSQL container stands in for the RDS
endpoint (playbooks/tasks/sandbox-database.yml). The instance container is kept: its SQLite
database, as the disaster-recovery drill left it (NVDA without its newest day, which a fresh seed
would have), is what must arrive in PostgreSQL.
1. what the app serves (symbols, model versions, every answer byte for byte) and SQLite's rows;
2. provision and sandbox stages with STOCKSENSE_PROFILE=enhanced, twice (the second changes nothing);
3. playbooks/migrate-to-enhanced.yml (the app role only here: the other roles have nothing to do
   with the move, and skipping them keeps the suite short);
4. the same answers, served from PostgreSQL holding SQLite's rows, after one restart of the service;
5. a second run changes nothing.
test_zzzz_enhanced_stack.py then checks the enhanced stack itself.
"""

from __future__ import annotations

import json

import pytest
from enhanced_state import ENHANCED, INSTANCE, OTHER_ROLES, parameter, psql, recap_changed
from sandbox_site import SandboxInstance, playbook

TABLES = ("symbols", "prices", "backtests")
_SQLITE_COUNTS = r'''
import json, sqlite3, sys
db = sqlite3.connect("file:/var/lib/stocksense/stocksense.db?mode=ro", uri=True)
print(json.dumps({t: db.execute(f"select count(*) from {t}").fetchone()[0] for t in sys.argv[1:]}))
'''

box = SandboxInstance(INSTANCE)


def postgres_counts() -> dict[str, int]:
    rows = psql(" union all ".join(f"select '{t}', count(*) from {t}" for t in TABLES))
    return {name: int(n) for name, n in rows}


@pytest.fixture(scope="module")
def migration() -> dict:
    before = box.snapshot()
    sqlite_rows = json.loads(box.run("runuser", "-u", "stocksense", "--", "python3", "-c", _SQLITE_COUNTS,
                                     *TABLES).stdout)
    playbook("site.yml", "--tags", "provision,sandbox", env=ENHANCED)
    # The enhanced profile's own resources (moto's RDS, SSM, S3, CloudFront; the database container)
    # are converged now: a second pass must find nothing to do.
    provision_again, _ = playbook("site.yml", "--tags", "provision,sandbox", env=ENHANCED)
    since = "@" + box.run("date", "+%s.%N").stdout.strip()
    output, seconds = playbook("playbooks/migrate-to-enhanced.yml", "--skip-tags", OTHER_ROLES, env=ENHANCED)
    box.wait_ready()
    started = box.run("journalctl", "-u", "stocksense.service", "--since", since, "-o", "cat", "--no-pager").stdout
    again, _ = playbook("playbooks/migrate-to-enhanced.yml", "--skip-tags", OTHER_ROLES, env=ENHANCED)
    print(f"\nmigration to enhanced: {seconds:.0f} s")
    return {"before": before, "after": box.snapshot(), "sqlite_rows": sqlite_rows, "output": output,
            "starts": [line for line in started.splitlines() if line.startswith("Started ")], "again": again,
            "provision_again": provision_again}


def test_a_second_enhanced_provision_and_sandbox_run_changes_nothing(migration):
    assert recap_changed(migration["provision_again"]) == 0, migration["provision_again"][-3000:]


def test_the_app_runs_on_postgresql_now(migration):
    env = box.run("cat", "/etc/stocksense/stocksense.env").stdout
    assert "STOCKSENSE_DATABASE_URL=postgresql+psycopg://" in env
    assert parameter("db/password") not in env + migration["output"]


def test_postgresql_holds_every_row_of_the_sqlite_database(migration):
    assert postgres_counts() == migration["sqlite_rows"]
    assert "row counts and checksums match" in migration["output"]


def test_the_same_answers_after_one_restart(migration):
    assert migration["after"] == migration["before"]  # byte for byte, NVDA's missing day included
    assert len(migration["starts"]) == 1, migration["starts"]


def test_a_second_migration_run_changes_nothing(migration):
    assert recap_changed(migration["again"]) == 0, migration["again"][-3000:]

"""Small helpers for the app scenario: HTTP from inside the instance, unit properties."""

from __future__ import annotations

import json
import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
PORT = 5005
BASE = f"http://127.0.0.1:{PORT}"

# 30 s: above SQLite's busy_timeout (10 s, stocksense.data.db), so an answer that waited for another
# writer's lock still arrives; these tests check what the app answers, make bench how fast.
_FETCH = r'''
import json, sys, time, urllib.request, urllib.error
req = urllib.request.Request(sys.argv[1], headers={"Accept": sys.argv[2]})
started = time.monotonic()
try:
    with urllib.request.urlopen(req, timeout=30) as r:
        status, ctype, body = r.status, r.headers.get("Content-Type", ""), r.read()
except urllib.error.HTTPError as e:
    status, ctype, body = e.code, e.headers.get("Content-Type", ""), e.read()
print(json.dumps({"status": status, "type": ctype, "body": body.decode("utf-8", "replace"),
                  "seconds": round(time.monotonic() - started, 2)}))
'''


def fetch(host, path: str, accept: str = "*/*") -> dict:
    """GET 127.0.0.1:5005<path> from inside the instance (traffic never leaves it)."""
    out = host.check_output("python3 -c %s %s %s", _FETCH, BASE + path, accept)
    answer = json.loads(out)
    if answer["seconds"] > 5:  # shown in the scenario's output: a slow answer is worth a look
        print(f"slow answer: GET {path} took {answer['seconds']} s")
    return answer


def unit_props(host, unit: str, *names: str) -> dict[str, str]:
    out = host.check_output("systemctl show %s " + " ".join(f"-p {n}" for n in names), unit)
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def role_vars(scenario_vars: dict, **changes) -> dict:
    """The scenario's variables for a re-run of the role from a test, with the test's changes.

    The role requires its controller paths, which vars/main.yml derives from playbook_dir; run_role's
    playbook lives in a temporary folder, so they are given here as absolute paths instead.
    """
    paths = {
        "app_source_dir": os.environ.get("STOCKSENSE_APP_SNAPSHOT") or str(REPO / "app"),
        "app_build_script": str(REPO / "scripts" / "build-app-artifacts.sh"),
        "app_artifacts_dir": str(REPO / ".cache" / "app-artifacts-molecule"),
    }
    return scenario_vars | paths | changes

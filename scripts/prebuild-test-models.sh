#!/usr/bin/env bash
# Train the test scenarios' tiny models ahead of them, while `make test` lints: the whole-stack
# scenario (molecule/default: the sandbox's quick settings, the watchlist of group_vars/web/app.yml)
# and the app scenario (molecule/app/vars/main.yml, which the image suite and the containers
# scenario share). Training is pinned to one thread and lint uses about one core, so the other core
# does most of it; the scenarios' own builds then find the models current (build-app-artifacts.sh
# compares each symbol's settings and source stamp, and locks the folder, so a build still running
# when a scenario starts is waited for, never repeated). Same folders, settings and order as the
# roles use.
#   scripts/prebuild-test-models.sh [default] [app]   (both when none is named; needs .venv and
#   app/.venv; prints one line per folder). scripts/build-test-image.sh calls it for app.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

# One shell line per build: "OUT SYMBOL..." with the training settings exported before it. The
# controller virtualenv's Python reads the YAML (PyYAML comes with ansible).
scenarios=("$@")
[ ${#scenarios[@]} -gt 0 ] || scenarios=(default app)
builds=$(.venv/bin/python - "${scenarios[@]}" <<'PY'
import shlex, sys, yaml

def load(path):
    with open(path) as f:
        return yaml.safe_load(f)

def line(out, settings, symbols):
    exports = " ".join(f"{k}={shlex.quote(str(v))}" for k, v in settings.items())
    return f"env {exports} scripts/build-app-artifacts.sh --out {shlex.quote(out)} {' '.join(map(shlex.quote, symbols))}"

def default():
    env = load("molecule/default/molecule.yml")["provisioner"]["env"]
    sandbox = load("inventories/sandbox/group_vars/sandbox_web/sandbox.yml")
    out = env["STOCKSENSE_APP_ARTIFACTS"].replace("${MOLECULE_PROJECT_DIRECTORY}/", "")
    return line(out, sandbox["sandbox_train_profiles"][env["SANDBOX_TRAIN"]],
                load("group_vars/web/app.yml")["app_watchlist"])

def app():
    scenario = load("molecule/app/vars/main.yml")
    return line(".cache/app-artifacts-molecule", scenario["app_train_env"], scenario["app_watchlist"])

builders = {"default": default, "app": app}
for name in sys.argv[1:]:
    if name not in builders:
        sys.exit(f"prebuild-test-models.sh: no scenario {name!r} (known: {', '.join(builders)})")
    print(builders[name]())
PY
)
# Both at once: each trains on one thread, and each folder's lock keeps a scenario that starts
# first waiting for its own models only. Each build's lines are printed together when it ends.
pids=()
while IFS= read -r build; do
  (t0=$(date +%s); log=$(eval "$build" 2>&1 > /dev/null) && rc=0 || rc=$?
   printf '%s\n' "$log" | sed 's/^/    /'
   echo "==> test models $( [ $rc = 0 ] && echo ready || echo "FAILED (exit $rc)" ) in $(( $(date +%s) - t0 ))s: ${build##*--out }"
   exit $rc) &
  pids+=($!)
done <<< "$builds"
rc=0
for pid in "${pids[@]}"; do wait "$pid" || rc=1; done
exit $rc

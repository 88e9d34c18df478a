#!/usr/bin/env bash
# The app image the tests run (tests/test_app_image.py and molecule/containers), built once for both:
#   1. the Debian slim base (scripts/build-slim-image.sh; Docker Hub cannot be reached here);
#   2. the app scenario's tiny models: its symbol and training settings (molecule/app/vars/main.yml)
#      in its folder, .cache/app-artifacts-molecule, so whichever runs first trains for all three;
#   3. the image, localhost/stocksense-test:<input hash> (scripts/build-app-image.sh).
# Each step skips itself when its output is current. One build at a time (a lock): make test runs
# the image suite and the containers scenario side by side. Prints build-app-image.sh's JSON line,
# with "models_seconds" (step 2) added.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
exec 9>/tmp/stocksense-app-image-build.lock
flock 9

scripts/build-slim-image.sh >&2
# The controller virtualenv's Python reads the scenario's YAML (PyYAML comes with ansible).
settings=$(.venv/bin/python - <<'PY'
import shlex, yaml
scenario = yaml.safe_load(open("molecule/app/vars/main.yml"))
for name, value in scenario["app_train_env"].items():
    print(f"export {name}={shlex.quote(str(value))}")
print(f"symbol={shlex.quote(scenario['app_watchlist'][0])}")
PY
)
eval "$settings"
t0=$(date +%s)
scripts/build-app-artifacts.sh --out .cache/app-artifacts-molecule "$symbol" >&2
models_seconds=$(( $(date +%s) - t0 ))
scripts/build-app-image.sh --artifacts .cache/app-artifacts-molecule \
  --base localhost/stocksense-python:debian-trixie-slim --name localhost/stocksense-test \
  | tail -n 1 | .venv/bin/python -c 'import json, sys; d = json.load(sys.stdin); d["models_seconds"] = int(sys.argv[1]); print(json.dumps(d))' "$models_seconds"

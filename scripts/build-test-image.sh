#!/usr/bin/env bash
# The app image the tests run (tests/test_app_image.py and molecule/containers), built once for both:
#   1. the Debian slim base (scripts/build-slim-image.sh; Docker Hub cannot be reached here);
#   2. the app scenario's tiny models (scripts/prebuild-test-models.sh app: its symbol and training
#      settings from molecule/app/vars/main.yml, in .cache/app-artifacts-molecule), so whichever
#      of the three runs first trains for all;
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
t0=$(date +%s)
scripts/prebuild-test-models.sh app >&2
models_seconds=$(( $(date +%s) - t0 ))
scripts/build-app-image.sh --artifacts .cache/app-artifacts-molecule \
  --base localhost/stocksense-python:debian-trixie-slim --name localhost/stocksense-test \
  | tail -n 1 | .venv/bin/python -c 'import json, sys; d = json.load(sys.stdin); d["models_seconds"] = int(sys.argv[1]); print(json.dumps(d))' "$models_seconds"

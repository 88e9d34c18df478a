#!/usr/bin/env bash
# Run molecule scenarios side by side (scripts/side-by-side.sh), at most JOBS at a time, longest
# first, with any extra NAME=COMMAND entries (make test adds the controller and app suites).
#   scripts/molecule-parallel.sh [-j JOBS] SCENARIO... [NAME=COMMAND...]
# Independent scenarios can share the machine: each has its own instance names, ports, moto/pebble
# ports and cache folders. Each run holds /tmp/molecule-<scenario>.lock, so two runs of the same
# scenario (say, a developer's and make test's) wait for each other instead of colliding.
set -euo pipefail
cd "$(dirname "$0")/.."

jobs=2
if [ "${1:-}" = "-j" ]; then jobs=$2; shift 2; fi

# Longest first, as measured in a whole make test on this 2-core machine (side by side, so loaded),
# so the tail of the run is short work. Entries not named here go last, in the order given.
longest_first=(default app app-test ec2 nginx unit containers certbot aws_enhanced baseline cloudwatch_agent
  swap aws_lambda_predict image)
declare -A entries=()
given=()
for arg in "$@"; do
  case "$arg" in
    *=*) name=${arg%%=*} ;;
    *) name=$arg; arg="molecule-$arg=flock ${MOLECULE_LOCK_DIR:-/tmp}/molecule-$arg.lock molecule test -s $arg" ;;
  esac
  entries[$name]=$arg
  given+=("$name")
done
ordered=()
for name in "${longest_first[@]}" "${given[@]}"; do
  if [ -n "${entries[$name]:-}" ]; then
    ordered+=("${entries[$name]}")
    unset "entries[$name]"
  fi
done
exec scripts/side-by-side.sh -j "$jobs" "${ordered[@]}"

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

# Longest first, as measured on this 2-core machine, so the tail of the run is short work;
# other entries go after the long scenarios and before the short ones.
long=(default app baseline certbot)
short=(nginx swap cloudwatch_agent ec2 aws_enhanced aws_lambda_predict)
scenarios=() extra=()
for arg in "$@"; do
  case "$arg" in *=*) extra+=("$arg") ;; *) scenarios+=("$arg") ;; esac
done
entry() { echo "molecule-$1=flock ${MOLECULE_LOCK_DIR:-/tmp}/molecule-$1.lock molecule test -s $1"; }
ordered=()
for s in "${long[@]}"; do case " ${scenarios[*]} " in *" $s "*) ordered+=("$(entry "$s")") ;; esac; done
ordered+=("${extra[@]}")
for s in "${scenarios[@]}"; do
  case " ${long[*]} " in *" $s "*) ;; *) ordered+=("$(entry "$s")") ;; esac
done
exec scripts/side-by-side.sh -j "$jobs" "${ordered[@]}"

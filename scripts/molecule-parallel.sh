#!/usr/bin/env bash
# Run molecule scenarios side by side, at most JOBS at a time, longest first, and print each
# scenario's whole log when it ends (so make test's log stays one readable piece per scenario).
#   scripts/molecule-parallel.sh [-j JOBS] SCENARIO...
# Independent scenarios can share the machine: each has its own instance names, ports, moto/pebble
# ports and cache folders. Each run holds /tmp/molecule-<scenario>.lock, so two runs of the same
# scenario (say, a developer's and make test's) wait for each other instead of colliding.
# Exit status: 0 only when every scenario passed; the failed ones are named at the end.
set -uo pipefail
cd "$(dirname "$0")/.."

jobs=2
if [ "${1:-}" = "-j" ]; then jobs=$2; shift 2; fi
[ $# -gt 0 ] || { echo "usage: $0 [-j JOBS] SCENARIO..." >&2; exit 2; }

# Longest first, measured on this 2-core machine, so the tail of the run is short scenarios.
order=(default app baseline certbot nginx swap cloudwatch_agent ec2)
queue=()
for s in "${order[@]}"; do
  for want in "$@"; do [ "$want" = "$s" ] && queue+=("$s"); done
done
for want in "$@"; do
  case " ${queue[*]} " in *" $want "*) ;; *) queue+=("$want") ;; esac
done

logs=.cache/molecule-logs
mkdir -p "$logs"
declare -A scenario_of=() started=()
failed=()

run_one() {  # scenario: molecule test under the scenario's lock; output to its log
  local s=$1
  flock "/tmp/molecule-$s.lock" molecule test -s "$s" > "$logs/$s.log" 2>&1
}

finish() {  # scenario exit-status: print its log and how it went
  local s=$1 rc=$2
  echo "==> molecule test -s $s"
  cat "$logs/$s.log"
  if [ "$rc" -eq 0 ]; then
    echo "==> molecule $s passed in $(( $(date +%s) - started[$s] ))s"
  else
    echo "==> molecule $s FAILED (exit $rc) after $(( $(date +%s) - started[$s] ))s"
    failed+=("$s")
  fi
}

reap_one() {  # wait for whichever scenario ends next (bash 5.1+: wait -n -p)
  local done_pid rc
  wait -n -p done_pid
  rc=$?
  finish "${scenario_of[$done_pid]}" "$rc"
  unset "scenario_of[$done_pid]"
}

for s in "${queue[@]}"; do
  while [ "${#scenario_of[@]}" -ge "$jobs" ]; do reap_one; done
  echo "==> starting molecule $s ($(uptime | sed 's/.*load average/load average/'))"
  started[$s]=$(date +%s)
  run_one "$s" &
  scenario_of[$!]=$s
done
while [ "${#scenario_of[@]}" -gt 0 ]; do reap_one; done

if [ "${#failed[@]}" -gt 0 ]; then
  echo "==> molecule scenarios failed: ${failed[*]}"
  exit 1
fi
echo "==> molecule: all ${#queue[@]} scenarios passed"

#!/usr/bin/env bash
# Run named commands side by side, at most JOBS at a time, in the order given (put the longest
# first), and print each one's whole output when it ends, so a log stays one readable piece per
# command. Used by make test (scripts/molecule-parallel.sh builds the molecule entries).
#   scripts/side-by-side.sh [-j JOBS] NAME=COMMAND...
# Exit status: 0 only when every command passed; the failed ones are named at the end.
set -uo pipefail
cd "$(dirname "$0")/.."

jobs=2
if [ "${1:-}" = "-j" ]; then jobs=$2; shift 2; fi
[ $# -gt 0 ] || { echo "usage: $0 [-j JOBS] NAME=COMMAND..." >&2; exit 2; }

logs=.cache/side-by-side
mkdir -p "$logs"
declare -A name_of=() started=()
failed=()

finish() {  # name exit-status: print its output and how it went
  local name=$1 rc=$2
  echo "==> $name"
  cat "$logs/$name.log"
  if [ "$rc" -eq 0 ]; then
    echo "==> $name passed in $(( $(date +%s) - started[$name] ))s"
  else
    echo "==> $name FAILED (exit $rc) after $(( $(date +%s) - started[$name] ))s"
    failed+=("$name")
  fi
}

reap_one() {  # wait for whichever command ends next (bash 5.1+: wait -n -p)
  local done_pid rc
  wait -n -p done_pid
  rc=$?
  finish "${name_of[$done_pid]}" "$rc"
  unset "name_of[$done_pid]"
}

for entry in "$@"; do
  name=${entry%%=*}
  command=${entry#*=}
  while [ "${#name_of[@]}" -ge "$jobs" ]; do reap_one; done
  echo "==> starting $name ($(uptime | sed 's/.*load average/load average/'))"
  started[$name]=$(date +%s)
  bash -c "$command" > "$logs/$name.log" 2>&1 < /dev/null &
  name_of[$!]=$name
done
while [ "${#name_of[@]}" -gt 0 ]; do reap_one; done

# CI may show only the end of the output: close with each failure's own words, a few lines each.
digest() {  # name: the failing tests and task errors of one command's log, colours removed
  sed 's/\x1b\[[0-9;]*m//g' "$logs/$1.log" \
    | grep -aE '^(FAILED|ERROR) |fatal: \[|^E +[A-Za-z]|Timeout|CRITICAL' \
    | cut -c1-220 | tail -n 6 | sed "s/^/    $1: /"
}

if [ "${#failed[@]}" -gt 0 ]; then
  echo "==> why (the last failure lines of each; whole outputs above)"
  for name in "${failed[@]}"; do digest "$name"; done
  echo "==> failed: ${failed[*]}"
  exit 1
fi
echo "==> all $# passed"

#!/usr/bin/env bash
# Add up the pytest summaries in a make test log (controller tests, the app suite, every molecule
# verifier) and print one closing line: "total: N passed, N failed[, N skipped]".
set -euo pipefail
log=${1:?usage: test-summary.sh LOGFILE}
# Lines of make's own progress ("==> molecule ec2 passed in 89s") are not pytest summaries.
sed 's/\x1b\[[0-9;]*m//g' "$log" \
  | grep -av '^==> ' \
  | grep -aE '[0-9]+ (passed|failed|skipped|errors?)\b.* in [0-9.]+s' \
  | grep -aoE '\b[0-9]+ (passed|failed|skipped|errors?)\b' \
  | awk '{ n[$2 ~ /^error/ ? "failed" : $2] += $1 }
         END {
           line = sprintf("total: %d passed, %d failed", n["passed"], n["failed"])
           if (n["skipped"] > 0) line = line sprintf(", %d skipped", n["skipped"])
           print line
         }'

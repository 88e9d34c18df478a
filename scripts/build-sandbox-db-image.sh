#!/usr/bin/env bash
# Build the sandbox's stand-in for RDS (playbooks/files/sandbox-db.Containerfile: Debian's
# PostgreSQL on the sandbox's systemd base image), tagged by a hash of its inputs; skipped when that
# tag exists. Keeps two tags. Used by playbooks/tasks/sandbox-database.yml (stack_profile enhanced).
# Usage: scripts/build-sandbox-db-image.sh [--base IMAGE] [--name REPO]
#   --base IMAGE  default localhost/stocksense-systemd:debian-trixie (scripts/build-image.sh trixie)
#   --name REPO   default localhost/stocksense-sandbox-db
# The last line of stdout is JSON: {"image": "REPO:TAG", "built": bool, "seconds": N, "size_mb": N}.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
base=localhost/stocksense-systemd:debian-trixie
name=localhost/stocksense-sandbox-db
while [ $# -gt 0 ]; do
  case "$1" in
    --base) base=$2; shift 2 ;;
    --name) name=$2; shift 2 ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) echo "[build-sandbox-db-image] unknown argument $1" >&2; exit 2 ;;
  esac
done
log() { printf '[build-sandbox-db-image] %s\n' "$*" >&2; }
# shellcheck source=lib/image-build.sh
. "$repo/scripts/lib/image-build.sh"
containerfile=$repo/playbooks/files/sandbox-db.Containerfile

# Two concurrent builds (the demo and make test's whole-stack scenario) would build the same tag twice.
exec 9>"/tmp/stocksense-sandbox-db-image.lock"
flock 9
base_id=$(base_image_id "$base")
tag=$({ echo "$base_id"; sha256sum "${BASH_SOURCE[0]}" "$containerfile" | cut -d' ' -f1; } | sha256sum | cut -c1-16)
image=$name:$tag
exit_if_built "$image"
log "building $image FROM $base"
start=$(date +%s)
log_file=$(mktemp /var/tmp/stocksense-sandbox-db-build.XXXXXX)
trap 'rm -f "$log_file"' EXIT
podman build --quiet --layers --build-arg "BASE_IMAGE=$base" \
  --label "org.opencontainers.image.title=stocksense-sandbox-db" --label "org.opencontainers.image.revision=$tag" \
  -f "$containerfile" -t "$image" "$repo/playbooks/files" >"$log_file" 2>&1 \
  || { tail -n 40 "$log_file" >&2; exit 1; }
seconds=$(( $(date +%s) - start ))
keep_newest_tags "$name" 2
report_built "$image" "$seconds"

#!/usr/bin/env bash
# Build the nginx image of compose.proxy.yaml (proxy/Containerfile) with podman, tagged by a hash of
# its inputs (this script, proxy/, the base image's id); skipped when that tag exists. Keeps two tags.
# Usage: scripts/build-proxy-image.sh [--base IMAGE] [--name REPO]
#   --base IMAGE  default docker.io/library/debian:trixie-slim (the tests pass the local stand-in
#                 from scripts/build-slim-image.sh: Docker Hub cannot be reached here)
#   --name REPO   default localhost/stocksense-proxy
# The last line of stdout is JSON: {"image": "REPO:TAG", "built": bool, "seconds": N, "size_mb": N}.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
base=docker.io/library/debian:trixie-slim
name=localhost/stocksense-proxy
while [ $# -gt 0 ]; do
  case "$1" in
    --base) base=$2; shift 2 ;;
    --name) name=$2; shift 2 ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) echo "[build-proxy-image] unknown argument $1" >&2; exit 2 ;;
  esac
done
log() { printf '[build-proxy-image] %s\n' "$*" >&2; }

podman image exists "$base" || podman pull --quiet "$base" >/dev/null
tag=$({ podman image inspect --format '{{.Id}}' "$base"
        sha256sum "${BASH_SOURCE[0]}" "$repo"/proxy/* | cut -d' ' -f1; } | sha256sum | cut -c1-16)
image=$name:$tag
size_mb() { podman image inspect --format '{{.Size}}' "$image" | awk '{printf "%.0f", $1 / 1e6}'; }
if podman image exists "$image"; then
  log "$image present (same inputs), nothing to build"
  printf '{"image": "%s", "built": false, "seconds": 0, "size_mb": %s}\n' "$image" "$(size_mb)"
  exit 0
fi
log "building $image FROM $base"
start=$(date +%s)
log_file=$(mktemp /var/tmp/stocksense-proxy-build.XXXXXX)
trap 'rm -f "$log_file"' EXIT
podman build --quiet --layers --build-arg "BASE_IMAGE=$base" \
  --label "org.opencontainers.image.title=stocksense-proxy" --label "org.opencontainers.image.revision=$tag" \
  -f "$repo/proxy/Containerfile" -t "$image" "$repo/proxy" >"$log_file" 2>&1 \
  || { tail -n 40 "$log_file" >&2; exit 1; }
seconds=$(( $(date +%s) - start ))
# The newest two tags stay (the previous one for going back); older ones go unless in use.
podman images --filter "reference=$name" --sort created --format '{{.Repository}}:{{.Tag}}' | tail -n +3 \
  | while read -r old; do podman rmi "$old" >/dev/null 2>&1 && log "removed $old" || log "kept $old (in use)"; done
log "built $image in ${seconds}s: $(size_mb) MB"
printf '{"image": "%s", "built": true, "seconds": %s, "size_mb": %s}\n' "$image" "$seconds" "$(size_mb)"

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
# shellcheck source=lib/image-build.sh
. "$repo/scripts/lib/image-build.sh"

base_id=$(base_image_id "$base")
tag=$({ echo "$base_id"
        sha256sum "${BASH_SOURCE[0]}" "$repo"/proxy/* | cut -d' ' -f1; } | sha256sum | cut -c1-16)
image=$name:$tag
exit_if_built "$image"
log "building $image FROM $base"
start=$(date +%s)
log_file=$(mktemp /var/tmp/stocksense-proxy-build.XXXXXX)
trap 'rm -f "$log_file"' EXIT
podman build --quiet --layers --build-arg "BASE_IMAGE=$base" \
  --label "org.opencontainers.image.title=stocksense-proxy" --label "org.opencontainers.image.revision=$tag" \
  -f "$repo/proxy/Containerfile" -t "$image" "$repo/proxy" >"$log_file" 2>&1 \
  || { tail -n 40 "$log_file" >&2; exit 1; }
seconds=$(( $(date +%s) - start ))
keep_newest_tags "$name" 2
report_built "$image" "$seconds"

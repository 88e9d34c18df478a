#!/usr/bin/env bash
# Build the StockSense serving image (app/Containerfile) with podman, tagged by a hash of its inputs.
# Usage: scripts/build-app-image.sh [--artifacts DIR] [--base IMAGE] [--name REPO]
#   --artifacts DIR  what scripts/build-app-artifacts.sh wrote (DIR/models.tar, DIR/release.json);
#                    default .cache/app-artifacts. The image never trains: build the models first.
#   --base IMAGE     the final and build stages' base (default docker.io/library/debian:trixie-slim;
#                    scripts/build-slim-image.sh builds a local stand-in where Docker Hub is out of reach)
#   --name REPO      image repository (default localhost/stocksense)
#   --keep N         images of REPO kept, newest first (default 3: the previous tags stay for a
#                    rollback; older ones are removed unless a container still uses them)
# Idempotent: the tag is the sha256 of the inputs (this script, Containerfile, .containerignore, the
# app's sources, pyproject.toml, constraints.txt, the models archive, the base image's id); an image
# with that tag is not built again. Layers and pip's downloads are cached between builds.
# The last line of stdout is JSON: {"image": "REPO:TAG", "built": bool, "seconds": N, "size_mb": N}.
set -euo pipefail
umask 022

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
app_dir=$repo/app
artifacts=$repo/.cache/app-artifacts
base=docker.io/library/debian:trixie-slim
name=localhost/stocksense
keep=3
while [ $# -gt 0 ]; do
  case "$1" in
    --artifacts) artifacts=$2; shift 2 ;;
    --base) base=$2; shift 2 ;;
    --name) name=$2; shift 2 ;;
    --keep) keep=$2; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "[build-app-image] unknown argument $1" >&2; exit 2 ;;
  esac
done
log() { printf '[build-app-image] %s\n' "$*" >&2; }
# shellcheck source=lib/image-build.sh
. "$repo/scripts/lib/image-build.sh"
case "$keep" in
  ''|*[!0-9]*|0) log "--keep must be a whole number of images, at least 1 (got '$keep')"; exit 2 ;;
esac

# Read the artifacts while no scripts/build-app-artifacts.sh writes them (its lock, shared here).
if [ -d "$artifacts" ]; then
  exec 9>"$artifacts/.lock"
  flock -s 9
fi
for f in "$artifacts/models.tar" "$artifacts/release.json"; do
  if [ ! -s "$f" ]; then
    log "missing $f: build the models first (scripts/build-app-artifacts.sh --out $artifacts SYMBOL...)"
    exit 2
  fi
done
# The watchlist baked in as the seed's default: the symbols the release holds models for.
watchlist=$(python3 -c 'import json, sys; print(" ".join(sorted(json.load(open(sys.argv[1]))["symbols"])))' "$artifacts/release.json")

base_id=$(base_image_id "$base")

# Everything the build reads, in a fixed order, with its content.
inputs_hash() {
  {
    printf 'base %s\nwatchlist %s\n' "$base_id" "$watchlist"
    sha256sum "$artifacts/models.tar" "${BASH_SOURCE[0]}" | cut -d' ' -f1
    cd "$app_dir"
    find Containerfile .containerignore pyproject.toml constraints.txt README.md src container \
      -type f ! -path '*/__pycache__/*' ! -name '*.pyc' ! -path '*.egg-info/*' -print0 \
      | LC_ALL=C sort -z | xargs -0 sha256sum
  } | sha256sum | cut -c1-16
}
tag=$(inputs_hash)
image=$name:$tag

exit_if_built "$image"

work=$(mktemp -d /var/tmp/stocksense-image.XXXXXX)
trap 'rm -rf "$work"' EXIT
# The release bundle as its own build context: registry/ and import/backtests/.
mkdir "$work/release"
tar -C "$work/release" -xf "$artifacts/models.tar"
# The archive is made for the instance (no access for others); in the image the files are
# root's and the service user (not in root's group) only reads them.
chmod -R u=rwX,go=rX "$work/release"

log "building $image FROM $base (watchlist: $watchlist)"
start=$(date +%s)
podman build --quiet --format docker --layers \
  --build-arg "BASE_IMAGE=$base" --build-arg "WATCHLIST=$watchlist" \
  --build-context "release=$work/release" \
  --label "org.opencontainers.image.title=stocksense" \
  --label "org.opencontainers.image.revision=$tag" \
  -f "$app_dir/Containerfile" -t "$image" "$app_dir" >"$work/build.log" 2>&1 \
  || { tail -n 40 "$work/build.log" >&2; exit 1; }
seconds=$(( $(date +%s) - start ))
keep_newest_tags "$name" "$keep"
report_built "$image" "$seconds"

# shellcheck shell=bash
# The frame scripts/build-app-image.sh and scripts/build-proxy-image.sh share: the base image (pulled
# when absent), a tag skipped when it exists, the newest tags kept, and the JSON line each prints last:
#   {"image": "REPO:TAG", "built": bool, "seconds": N, "size_mb": N}
# Sourced; the caller defines log().

# The base image's id, pulling it first when it is not here.
base_image_id() {
  local base=$1
  if ! podman image exists "$base"; then
    log "pulling $base"
    podman pull --quiet "$base" >/dev/null
  fi
  podman image inspect --format '{{.Id}}' "$base"
}

image_size_mb() {
  podman image inspect --format '{{.Size}}' "$1" | awk '{printf "%.0f", $1 / 1e6}'
}

# Same inputs, same tag: print the JSON line and end the script when the image is already built.
exit_if_built() {
  local image=$1
  if podman image exists "$image"; then
    log "$image present (same inputs), nothing to build"
    printf '{"image": "%s", "built": false, "seconds": 0, "size_mb": %s}\n' "$image" "$(image_size_mb "$image")"
    exit 0
  fi
}

# The newest `keep` tags of the repository stay (the previous ones for going back); older ones go
# unless a container uses them.
keep_newest_tags() {
  local name=$1 keep=$2 old
  podman images --filter "reference=$name" --sort created --format '{{.Repository}}:{{.Tag}}' \
    | tail -n +"$(( keep + 1 ))" | while read -r old; do
        podman rmi "$old" >/dev/null 2>&1 && log "removed $old (keeping $keep)" || log "kept $old (in use)"
      done
}

report_built() {
  local image=$1 seconds=$2 size
  size=$(image_size_mb "$image")
  log "built $image in ${seconds}s: $size MB"
  printf '{"image": "%s", "built": true, "seconds": %s, "size_mb": %s}\n' "$image" "$seconds" "$size"
}

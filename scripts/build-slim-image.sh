#!/usr/bin/env bash
# Build a local stand-in for docker.io/library/debian:trixie-slim with Python 3, offline from
# registries: Docker Hub cannot be reached here, so the app image's tests (tests/test_app_image.py)
# build app/Containerfile FROM this image (--build-arg BASE_IMAGE=...). debootstrap a minbase
# Debian from Debian's mirror, add python3 (what the Containerfile would otherwise apt-get install)
# and CA certificates (pip's downloads in the build stage), trim it like Debian's slim images
# (no docs, man pages or locales), import it into podman.
# Usage: scripts/build-slim-image.sh [trixie]   (skips the build when the image exists)
# The systemd test images come from scripts/build-image.sh; this one runs no init.
set -euo pipefail

suite=${1:-trixie}
image="localhost/stocksense-python:debian-${suite}-slim"
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
log() { printf '[build-slim-image] %s\n' "$*" >&2; }

if podman image exists "$image"; then
  log "$image present, nothing to build"
  exit 0
fi
case "$suite" in
  trixie|bookworm) ;;
  *) echo "[build-slim-image] unsupported suite '$suite' (trixie or bookworm)" >&2; exit 2 ;;
esac

work=$(mktemp -d /var/tmp/stocksense-slim.XXXXXX)
trap 'rm -rf "$work"' EXIT
rootfs=$work/rootfs
start=$(date +%s)

# Debian's slim images leave out documentation, man pages and translations at dpkg level; the
# same filter, in place before debootstrap's second stage, keeps them out of every package.
mkdir -p "$rootfs/etc/dpkg/dpkg.cfg.d"
cat > "$rootfs/etc/dpkg/dpkg.cfg.d/slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
EOF

log "debootstrap --variant=minbase $suite + python3 (takes 1-3 minutes)"
debootstrap --variant=minbase --include=python3,ca-certificates "$suite" "$rootfs" "$mirror" \
  >"$work/debootstrap.log" 2>&1 || { tail -n 30 "$work/debootstrap.log" >&2; exit 1; }

# HTTPS from a build fails where traffic is re-signed by a proxy unless the host's extra CA
# certificates are trusted in the image too (as scripts/build-image.sh does).
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
  log "adding the host's extra CA certificates"
  cp /usr/local/share/ca-certificates/*.crt "$rootfs/usr/local/share/ca-certificates/"
  chroot "$rootfs" update-ca-certificates >/dev/null
fi

# debootstrap's first stage unpacks without dpkg's filter: remove what it let through.
chroot "$rootfs" apt-get clean
find "$rootfs/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
rm -rf "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/usr/share/locale/* \
  "$rootfs"/usr/share/lintian/* "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin \
  "$rootfs"/var/log/*.log "$rootfs"/var/cache/debconf/*-old
printf 'deb %s %s main\n' "$mirror" "$suite" > "$rootfs/etc/apt/sources.list"
: > "$rootfs/etc/machine-id"

log "importing into podman as $image"
tar -C "$rootfs" -c . | podman import --change 'CMD ["bash"]' - "$image" >/dev/null
log "built $image in $(( $(date +%s) - start ))s: $(podman image inspect --format '{{.Size}}' "$image" | awk '{printf "%.0f MB", $1/1e6}')"

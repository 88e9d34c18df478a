#!/usr/bin/env bash
# Build the systemd base image for throwaway test instances, offline from registries:
# debootstrap a minimal Debian, add what Ansible and systemd need, import it into podman.
# Usage: scripts/build-image.sh [trixie|bookworm]   (skips the build when the image exists)
# trixie (Debian 13) is the default AMI's release and the sandbox instance's; bookworm (Debian 12)
# is the second platform of the scenarios that keep it.
set -euo pipefail

suite=${1:-trixie}
image="localhost/stocksense-systemd:debian-${suite}"
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
log() { printf '[build-image] %s\n' "$*"; }

if podman image exists "$image"; then
  log "$image present, nothing to build"
  exit 0
fi

case "$suite" in
  bookworm|trixie) ;;
  *) echo "[build-image] unsupported suite '$suite' (trixie or bookworm)" >&2; exit 2 ;;
esac

work=$(mktemp -d /var/tmp/stocksense-rootfs.XXXXXX)
trap 'rm -rf "$work"' EXIT
rootfs=$work/rootfs
include=systemd,systemd-sysv,dbus,python3,python3-apt,sudo,ca-certificates,iproute2,procps

log "debootstrap --variant=minbase $suite (takes 1-3 minutes)"
start=$(date +%s)
debootstrap --variant=minbase --include="$include" "$suite" "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 || {
  tail -n 30 "$work/debootstrap.log" >&2
  exit 1
}

# HTTPS from inside an instance fails where traffic is re-signed by a proxy unless the host's
# extra CA certificates are trusted in the image too.
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
  log "adding the host's extra CA certificates"
  cp /usr/local/share/ca-certificates/*.crt "$rootfs/usr/local/share/ca-certificates/"
  chroot "$rootfs" update-ca-certificates >/dev/null
fi

# Keep the image small, but back-date the emptied lists folder: a fresh mtime there made
# apt's cache_valid_time skip the update and then fail with "No package matching ...".
chroot "$rootfs" apt-get clean
rm -rf "$rootfs"/var/lib/apt/lists/*
touch -d '2000-01-01' "$rootfs/var/lib/apt/lists"
# The apt sources of the image point at the same mirror the build used.
printf 'deb %s %s main\n' "$mirror" "$suite" > "$rootfs/etc/apt/sources.list"

# Each instance gets its own machine-id at first boot.
: > "$rootfs/etc/machine-id"
rm -f "$rootfs/var/lib/dbus/machine-id"
# No getty on a container console; it only spins.
chroot "$rootfs" systemctl mask console-getty.service getty@tty1.service >/dev/null 2>&1 || true

log "importing into podman as $image"
tar -C "$rootfs" -c . | podman import --change 'CMD ["/sbin/init"]' --change 'STOPSIGNAL SIGRTMIN+3' - "$image" >/dev/null
log "built $image in $(( $(date +%s) - start ))s"

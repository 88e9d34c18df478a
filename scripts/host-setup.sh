#!/usr/bin/env bash
# Prepare this machine to run throwaway systemd instances with podman.
# Idempotent: every step checks before it changes anything, and says what it did.
set -euo pipefail

log() { printf '[host-setup] %s\n' "$*"; }

if [ "$(id -u)" -ne 0 ]; then
  echo "[host-setup] must run as root (installs Debian packages, edits /etc/containers)" >&2
  exit 1
fi

# 1. Debian packages: podman-based test instances and the image build; pebble (ACME stand-in);
#    curl (the HTTPS check); Chromium, its driver and certutil for the end-to-end browser test.
# pebble + openssl: the local ACME test CA of the certbot scenario (scripts/pebble.sh).
# postgresql: the app suite starts a throwaway cluster from its binaries (app/tests/pg.py).
# podman-compose: compose.yaml is checked with it (tests/test_app_image.py).
packages=(podman crun fuse-overlayfs slirp4netns uidmap debootstrap git make python3-venv pebble openssl curl chromium chromium-driver libnss3-tools postgresql podman-compose)
missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
else
  log "Debian packages present"
fi

# 2. crun fails with "setrlimit RLIMIT_NOFILE: Operation not permitted" when podman's default
#    ulimits exceed what this host allows. Pin them to the host's hard nofile limit and an
#    nproc limit no higher than podman's own default (32768).
conf=/etc/containers/containers.conf
hard_nofile=$(ulimit -Hn)
[ "$hard_nofile" = unlimited ] && hard_nofile=1048576
hard_nproc=$(ulimit -Hu)
nproc_limit=32768
if [ "$hard_nproc" != unlimited ] && [ "$hard_nproc" -lt "$nproc_limit" ]; then
  nproc_limit=$hard_nproc
fi
wanted="default_ulimits = [\"nofile=${hard_nofile}:${hard_nofile}\", \"nproc=${nproc_limit}:${nproc_limit}\"]"
if [ -f "$conf" ] && grep -qxF "$wanted" "$conf"; then
  log "containers.conf ulimits already set"
else
  log "setting podman default_ulimits in $conf (nofile=${hard_nofile}, nproc=${nproc_limit})"
  mkdir -p /etc/containers
  printf '# Written by scripts/host-setup.sh: keep crun within this host'"'"'s rlimits.\n[containers]\n%s\n' "$wanted" > "$conf"
fi

# 3. On a hybrid cgroup host crun refuses ("cgroups in hybrid mode not supported") unless the
#    v1 hierarchy of each controller the unified tree lists is mounted too.
unified=/sys/fs/cgroup/unified/cgroup.controllers
if [ -r "$unified" ]; then
  for ctrl in $(cat "$unified"); do
    target=/sys/fs/cgroup/$ctrl
    if mountpoint -q "$target"; then
      continue
    fi
    log "mounting cgroup v1 controller $ctrl at $target"
    mkdir -p "$target"
    mount -t cgroup -o "$ctrl" cgroup "$target"
  done
fi

# 4. Smoke test: a container must start. Catches any host fix still missing, with podman's own words.
if ! podman info >/dev/null 2>&1; then
  echo "[host-setup] podman info failed:" >&2
  podman info >&2
  exit 1
fi
log "host ready for podman systemd instances"

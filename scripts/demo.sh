#!/usr/bin/env bash
# make demo / make demo-down: run the configure stage of site.yml on a local systemd instance.
# The instance is a podman container from the same base image the molecule tests use.
set -euo pipefail
cd "$(dirname "$0")/.."

instance=stocksense-demo
image=localhost/stocksense-systemd:debian-bookworm
state=.cache/demo
inventory=$state/inventory.yml
log() { printf '[demo] %s\n' "$*"; }

up() {
  local t0 t1
  t0=$(date +%s)
  mkdir -p "$state"
  if [ "$(podman container inspect -f '{{.State.Running}}' "$instance" 2>/dev/null)" != "true" ]; then
    podman rm -f "$instance" >/dev/null 2>&1 || true
    log "starting the local instance $instance (systemd as PID 1)"
    podman run -d --name "$instance" --hostname "$instance" --systemd=always --cap-add SYS_ADMIN \
      --label project=stocksense "$image" >/dev/null
    for _ in $(seq 1 30); do
      podman exec "$instance" systemctl is-system-running 2>/dev/null | grep -qE 'running|degraded' && break
      sleep 1
    done
  else
    log "local instance $instance already running"
  fi
  cat > "$inventory" <<INV
---
web:
  hosts:
    $instance:
      ansible_connection: containers.podman.podman
      # What the role derives for a 1 GiB t2.micro; the container would see this machine's RAM.
      swap_file_size_mb: 2048
INV
  t1=$(date +%s)
  log "configure stage: ansible-playbook site.yml -i $inventory"
  ansible-playbook site.yml -i "$inventory" | tee "$state/last-run.log"
  log "stage timings: instance $(( t1 - t0 ))s, configure $(( $(date +%s) - t1 ))s"
  log "what it did:"
  podman exec "$instance" sh -c 'ls -l /swapfile; grep swap /etc/fstab; cat /etc/sysctl.d/60-swap.conf' | sed 's/^/[demo]   /'
  log "the swap file is not enabled: inside a container swapon would act on this machine's kernel"
  log "open a shell with: podman exec -it $instance bash ; remove it with: make demo-down"
}

down() {
  if podman container exists "$instance"; then
    log "removing $instance"
    podman rm -f "$instance" >/dev/null
  else
    log "no demo instance running"
  fi
  rm -rf "$state"
}

case "${1:-up}" in
  up) up ;;
  down) down ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# make demo / make demo-down: the whole of site.yml on this machine, with no AWS account.
#   moto (scripts/moto.sh) stands in for AWS, pebble (scripts/pebble.sh) for Let's Encrypt, and
#   a podman container with real systemd for the EC2 instance (playbooks/sandbox.yml).
#
#   scripts/demo.sh up        prepare the local services, run site.yml stage by stage, print how to open it
#   scripts/demo.sh services  only start moto + pebble and prepare .cache/sandbox (used by molecule)
#   scripts/demo.sh down      tear down: nothing left in moto, no container, services stopped
#
# Everything listens on 127.0.0.1. Ports and names follow these variables (molecule's default
# scenario sets other values so it never touches a running demo):
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD

export MOTO_PORT=${MOTO_PORT:-5010}
export SANDBOX_ENV=${SANDBOX_ENV:-sandbox}
export SANDBOX_HTTP_PORT=${SANDBOX_HTTP_PORT:-8080}
export SANDBOX_HTTPS_PORT=${SANDBOX_HTTPS_PORT:-8443}
export SANDBOX_CACHE=${SANDBOX_CACHE:-$REPO/.cache/sandbox}
export PEBBLE_DIR=$SANDBOX_CACHE/pebble
export PEBBLE_PORT=${PEBBLE_PORT:-14100}
export PEBBLE_MGMT_PORT=${PEBBLE_MGMT_PORT:-15100}
# pebble validates http-01 challenges on the port where the sandbox publishes the instance's 80.
export PEBBLE_HTTP_PORT=$SANDBOX_HTTP_PORT
export PEBBLE_TLS_PORT=${PEBBLE_TLS_PORT:-18281}
export CHALL_DNS_PORT=${CHALL_DNS_PORT:-8153}
export CHALL_MGMT_PORT=${CHALL_MGMT_PORT:-8155}

# single (default), enhanced or containers: the inventories read STOCKSENSE_PROFILE (group_vars/all/
# stack.yml). `up` remembers it so `down` tears down the same profile (an enhanced stack's database).
export STOCKSENSE_PROFILE=${STOCKSENSE_PROFILE:-single}
cache=$SANDBOX_CACHE
inventory=inventories/sandbox
domain=stocksense.sandbox.test
log() { printf '[demo] %s\n' "$*"; }
stage_times=()

timed() {  # name command...: run a stage, remember how long it took
  local name=$1 t0
  shift
  t0=$(date +%s)
  log "stage $name: $*"
  "$@"
  stage_times+=("$name $(( $(date +%s) - t0 ))s")
}

secrets() {
  # Sandbox-only secrets, made once, kept out of git (.cache/) and never printed except the
  # admin password in the closing lines, so the person running the demo can log in.
  mkdir -p "$cache"
  chmod 0700 "$cache"
  # 077 for these files only: the stages after this build the app's wheel, whose bytes (file
  # modes) must not depend on the caller's umask.
  local saved_umask
  saved_umask=$(umask)
  umask 077
  [ -s "$cache/app-secret-key" ] || python3 -c 'import secrets; print(secrets.token_urlsafe(48))' > "$cache/app-secret-key"
  [ -s "$cache/admin-password" ] || python3 -c 'import secrets; print(secrets.token_urlsafe(18))' > "$cache/admin-password"
  if [ ! -s "$cache/admin-password-hash" ] || [ "$cache/admin-password" -nt "$cache/admin-password-hash" ]; then
    make -s -C app venv >/dev/null
    STOCKSENSE_ADMIN_PASSWORD=$(cat "$cache/admin-password") app/.venv/bin/stocksense create-admin \
      | sed -n "s/^STOCKSENSE_ADMIN_PASSWORD_HASH='\(.*\)'$/\1/p" > "$cache/admin-password-hash"
    [ -s "$cache/admin-password-hash" ] || { echo "[demo] could not hash the admin password" >&2; exit 1; }
  fi
  umask "$saved_umask"
}

services() {
  log "local services: moto on 127.0.0.1:$MOTO_PORT, pebble on 127.0.0.1:$PEBBLE_PORT"
  scripts/moto.sh start
  scripts/pebble.sh start
  scripts/build-cloudwatch-standin.sh "$cache/cloudwatch-standin" >/dev/null
  secrets
}

# Mitogen's strategy (PyPI mitogen, when installed next to ansible) runs each task as a call into
# one Python process kept in the container (podman exec once) instead of 4-5 podman exec/cp per
# task: a configure re-run goes from minutes to under a minute. The sandbox inventory names the
# connection "podman", which mitogen redirects to its own; without mitogen, plain linear runs.
# DEMO_STRATEGY=linear turns it off.
use_mitogen() {
  local py
  [ "${DEMO_STRATEGY:-mitogen}" = mitogen ] || { log "strategy: ${DEMO_STRATEGY} (DEMO_STRATEGY)"; return 0; }
  py=$(dirname "$(command -v ansible-playbook)")/python
  # ansible.cfg's strategy_plugins folder holds the mitogen_linear shim; it needs the package.
  if "$py" -c 'import ansible_mitogen' 2>/dev/null; then
    export ANSIBLE_STRATEGY=mitogen_linear
    log "strategy: mitogen_linear"
  else
    log "strategy: linear (mitogen is not installed next to ansible-playbook)"
  fi
}

up() {
  local t0
  t0=$(date +%s)
  timed services services
  echo "$STOCKSENSE_PROFILE" > "$cache/profile"
  log "stack profile: $STOCKSENSE_PROFILE"
  eval "$(scripts/moto.sh env)"
  use_mitogen
  # Preflight is tagged always (every --tags run starts with it); here it runs once, up front.
  timed preflight ansible-playbook site.yml -i "$inventory" --tags preflight
  timed provision ansible-playbook site.yml -i "$inventory" --tags provision --skip-tags preflight
  timed sandbox ansible-playbook site.yml -i "$inventory" --tags sandbox --skip-tags preflight
  timed configure ansible-playbook site.yml -i "$inventory" --tags configure --skip-tags preflight
  timed check ansible-playbook site.yml -i "$inventory" --tags check --skip-tags preflight
  log "stage times: ${stage_times[*]}; total $(( $(date +%s) - t0 ))s"
  cat <<DONE
[demo]
[demo] StockSense is up: https://$domain:$SANDBOX_HTTPS_PORT/  (nginx -> waitress, certificate from pebble)
[demo]   the name resolves nowhere: map it to 127.0.0.1, e.g.
[demo]     curl --resolve $domain:$SANDBOX_HTTPS_PORT:127.0.0.1 --cacert $cache/pebble-issuer-root.pem https://$domain:$SANDBOX_HTTPS_PORT/health
[demo]     chromium --host-resolver-rules="MAP $domain 127.0.0.1" https://$domain:$SANDBOX_HTTPS_PORT/
[demo]   CA to trust (pebble's issuing root, sandbox only): $cache/pebble-issuer-root.pem
[demo]   admin login: https://$domain:$SANDBOX_HTTPS_PORT/admin/  user admin, password in $cache/admin-password: $(cat "$cache/admin-password")
[demo]   shell on the instance: podman exec -it stocksense-$SANDBOX_ENV-web bash
[demo]   remove it all: make demo-down
DONE
}

down() {
  eval "$(scripts/moto.sh env)"
  [ ! -s "$cache/profile" ] || STOCKSENSE_PROFILE=$(cat "$cache/profile")
  if scripts/moto.sh status >/dev/null 2>&1; then
    log "teardown in moto: EIP, instance, security group, key pair, instance profile"
    ansible-playbook playbooks/teardown.yml -i "$inventory"
  fi
  log "removing the sandbox containers"
  # localhost.yml alone: no moto needed, the inventory folder's group_vars still apply.
  ansible-playbook playbooks/sandbox.yml -i "$inventory/localhost.yml" -e sandbox_state=absent
  scripts/pebble.sh stop || true
  scripts/moto.sh stop || true
  log "sandbox removed"
}

case "${1:-up}" in
  up) up ;;
  services) services ;;
  down) down ;;
  *) echo "usage: $0 up|services|down" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# Start, stop or check moto's server, the local stand-in for AWS used by the sandbox and by the
# ec2 molecule scenario. It listens on 127.0.0.1 only; state lives in memory, so a stop forgets
# every instance, EIP, security group and key. Idempotent: start on a running server, or stop on
# a stopped one, does nothing.
#   scripts/moto.sh start|stop|status|env
# MOTO_PORT (default 5010) picks the port. pid and log: .cache/moto/
set -euo pipefail
cd "$(dirname "$0")/.."

repo=$(pwd)
port=${MOTO_PORT:-5010}
state=$repo/.cache/moto
pidfile=$state/moto-$port.pid
logfile=$state/moto-$port.log
amis=$repo/scripts/moto-amis.json
server=$repo/.venv/bin/moto_server
url=http://127.0.0.1:$port
log() { printf '[moto] %s\n' "$*"; }

answers() {
  # moto's dashboard page: cheap, touches no AWS service.
  "$repo/.venv/bin/python" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' \
    "$url/moto-api/" >/dev/null 2>&1
}

running_pid() {
  local pid
  [ -f "$pidfile" ] || return 1
  pid=$(cat "$pidfile")
  kill -0 "$pid" 2>/dev/null || return 1
  # Only our server: the pid must still be a moto_server on this port.
  tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q "moto_server.*-p $port" || return 1
  echo "$pid"
}

start() {
  if running_pid >/dev/null && answers; then
    log "already running on $url (pid $(running_pid))"
    return 0
  fi
  if answers; then
    log "something else already answers on $url; stop it or set MOTO_PORT" >&2
    return 1
  fi
  if ss -Hltn "sport = :$port" 2>/dev/null | grep -q .; then
    log "port $port is taken by another program; set MOTO_PORT to a free port" >&2
    return 1
  fi
  [ -x "$server" ] || { log "$server missing: run make venv" >&2; return 1; }
  mkdir -p "$state"
  log "starting moto on $url (AMIs from ${amis#"$repo"/})"
  MOTO_AMIS_PATH=$amis MOTO_ENABLE_AMI_VALIDATION=true MOTO_IAM_LOAD_MANAGED_POLICIES=true \
    setsid "$server" -H 127.0.0.1 -p "$port" >"$logfile" 2>&1 < /dev/null &
  echo $! > "$pidfile"
  for _ in $(seq 1 100); do
    if answers; then
      log "moto answers on $url (pid $(cat "$pidfile"), log ${logfile#"$repo"/})"
      return 0
    fi
    if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
      log "moto exited at start; its log:" >&2
      tail -20 "$logfile" >&2
      rm -f "$pidfile"
      return 1
    fi
    sleep 0.2
  done
  log "moto did not answer on $url within 20 s; log: $logfile" >&2
  return 1
}

stop() {
  local pid
  if pid=$(running_pid); then
    log "stopping moto (pid $pid)"
    kill "$pid"
    for _ in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
  else
    log "moto is not running on port $port"
  fi
  rm -f "$pidfile"
}

status() {
  if running_pid >/dev/null && answers; then
    log "running on $url (pid $(running_pid))"
  else
    log "not running on port $port"
    return 1
  fi
}

# Dummy credentials for moto only, to eval in a shell: eval "$(scripts/moto.sh env)"
env_lines() {
  cat <<ENV
export AWS_ACCESS_KEY_ID=testing
export AWS_SECRET_ACCESS_KEY=testing
export AWS_SESSION_TOKEN=testing
export AWS_DEFAULT_REGION=eu-west-1
ENV
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  env) env_lines ;;
  *) echo "usage: $0 start|stop|status|env" >&2; exit 2 ;;
esac

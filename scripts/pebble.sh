#!/usr/bin/env bash
# Run Pebble (Let's Encrypt's RFC 8555 test CA) and pebble-challtestsrv on this host's loopback,
# for the certbot molecule scenario and the local sandbox. Idempotent.
#
#   scripts/pebble.sh start   make the test CA + server certificate (once), start both daemons
#   scripts/pebble.sh stop    stop both daemons (certificates stay for the next start)
#   scripts/pebble.sh status  exit 0 when both answer
#
# Everything listens on 127.0.0.1 only. challtestsrv answers every DNS query with 127.0.0.1 and
# pebble uses it as its resolver, so an http-01 challenge for any name is validated against
# 127.0.0.1:PEBBLE_HTTP_PORT, where the test instance publishes its port 80.
# A podman instance on slirp4netns:allow_host_loopback=true reaches the directory as
# https://10.0.2.2:PEBBLE_PORT/dir; the server certificate covers localhost, 127.0.0.1 and
# 10.0.2.2 and is signed by .cache/pebble/ca.pem (give that to certbot as its CA bundle).
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
DIR=${PEBBLE_DIR:-$REPO/.cache/pebble}
PEBBLE_PORT=${PEBBLE_PORT:-14000}
PEBBLE_MGMT_PORT=${PEBBLE_MGMT_PORT:-15000}
PEBBLE_HTTP_PORT=${PEBBLE_HTTP_PORT:-18180}
PEBBLE_TLS_PORT=${PEBBLE_TLS_PORT:-18181}
CHALL_DNS_PORT=${CHALL_DNS_PORT:-8053}
CHALL_MGMT_PORT=${CHALL_MGMT_PORT:-8055}

log() { printf '[pebble] %s\n' "$*"; }

answers() {  # port: something accepts TCP connections on 127.0.0.1:port
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

make_certs() {
  mkdir -p "$DIR"
  chmod 0700 "$DIR"
  if [ ! -s "$DIR/ca.pem" ] || [ ! -s "$DIR/ca.key" ]; then
    log "making the test CA in $DIR"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=StockSense test CA for Pebble" \
      -keyout "$DIR/ca.key" -out "$DIR/ca.pem" \
      -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
    rm -f "$DIR/cert.pem"
  fi
  if [ ! -s "$DIR/cert.pem" ] || [ ! -s "$DIR/key.pem" ]; then
    log "making pebble's server certificate (localhost, 127.0.0.1, 10.0.2.2)"
    openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout "$DIR/key.pem" -out "$DIR/server.csr" 2>/dev/null
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:10.0.2.2\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' > "$DIR/server.ext"
    openssl x509 -req -in "$DIR/server.csr" -CA "$DIR/ca.pem" -CAkey "$DIR/ca.key" -CAcreateserial \
      -days 825 -extfile "$DIR/server.ext" -out "$DIR/cert.pem" 2>/dev/null
    rm -f "$DIR/server.csr" "$DIR/server.ext"
  fi
  cat > "$DIR/pebble-config.json.new" <<JSON
{
  "pebble": {
    "listenAddress": "127.0.0.1:${PEBBLE_PORT}",
    "managementListenAddress": "127.0.0.1:${PEBBLE_MGMT_PORT}",
    "certificate": "${DIR}/cert.pem",
    "privateKey": "${DIR}/key.pem",
    "httpPort": ${PEBBLE_HTTP_PORT},
    "tlsPort": ${PEBBLE_TLS_PORT},
    "ocspResponderURL": "",
    "externalAccountBindingRequired": false
  }
}
JSON
  if cmp -s "$DIR/pebble-config.json.new" "$DIR/pebble-config.json"; then
    rm -f "$DIR/pebble-config.json.new"
  else
    # Other ports than the running pebble's: restart it with the new configuration.
    if running pebble; then
      log "configuration changed, restarting pebble"
      kill "$(cat "$DIR/pebble.pid")"
      rm -f "$DIR/pebble.pid"
      sleep 0.5
    fi
    mv "$DIR/pebble-config.json.new" "$DIR/pebble-config.json"
  fi
}

running() {  # name: the pid file names a live process
  local pidfile="$DIR/$1.pid"
  [ -s "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null
}

start() {
  command -v pebble >/dev/null || { echo "[pebble] pebble is not installed: run scripts/host-setup.sh" >&2; exit 1; }
  make_certs
  if running challtestsrv; then
    log "challtestsrv already running"
  else
    log "starting pebble-challtestsrv (DNS on 127.0.0.1:${CHALL_DNS_PORT}, every name -> 127.0.0.1)"
    # Only the DNS and management listeners: the challenge listeners would take pebble's
    # validation ports, which belong to the test instance.
    setsid pebble-challtestsrv -defaultIPv4 127.0.0.1 -defaultIPv6 "" \
      -dns01 "127.0.0.1:${CHALL_DNS_PORT}" -management "127.0.0.1:${CHALL_MGMT_PORT}" \
      -http01 "" -https01 "" -tlsalpn01 "" \
      >"$DIR/challtestsrv.log" 2>&1 < /dev/null &
    echo $! > "$DIR/challtestsrv.pid"
  fi
  if running pebble; then
    log "pebble already running"
  else
    log "starting pebble (directory https://127.0.0.1:${PEBBLE_PORT}/dir, validates on port ${PEBBLE_HTTP_PORT})"
    PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0 \
      setsid pebble -config "$DIR/pebble-config.json" -dnsserver "127.0.0.1:${CHALL_DNS_PORT}" \
      >"$DIR/pebble.log" 2>&1 < /dev/null &
    echo $! > "$DIR/pebble.pid"
  fi
  for _ in $(seq 1 50); do
    if answers "$PEBBLE_PORT" && answers "$PEBBLE_MGMT_PORT" && answers "$CHALL_MGMT_PORT"; then
      log "ready"
      return 0
    fi
    sleep 0.2
  done
  echo "[pebble] did not come up; logs:" >&2
  tail -n 20 "$DIR/pebble.log" "$DIR/challtestsrv.log" >&2 || true
  exit 1
}

stop() {
  local name
  for name in pebble challtestsrv; do
    if running "$name"; then
      log "stopping $name"
      kill "$(cat "$DIR/$name.pid")"
    fi
    rm -f "$DIR/$name.pid"
  done
}

status() {
  running pebble && running challtestsrv && answers "$PEBBLE_PORT"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac

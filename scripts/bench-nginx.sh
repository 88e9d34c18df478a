#!/usr/bin/env bash
# Throughput through nginx with TLS on a sandbox instance, side by side with the app direct.
#   scripts/bench-nginx.sh            (make bench runs it after the app's own benchmarks)
#
# Runs Debian's wrk INSIDE the instance against its loopback (the instance's own address is exempt
# from nginx's rate limits, nginx_rate_limit_exempt), so the figures are nginx + the app, not
# podman's port forwarding. Three runs of the same forecast URL:
#   direct      http://127.0.0.1:<app port>/api/v1/symbols/SYMBOL/forecast  (waitress)
#   nginx+cache https://127.0.0.1/...   anonymous: served from nginx's proxy cache (X-Cache-Status HIT)
#   nginx       https://127.0.0.1/...   with a cookie: the cache is bypassed, every request reaches the app
# Targets (issue 13): nginx+cache >= 10000 req/s; nginx without the cache >= 80 % of direct.
#
# The instance: BENCH_INSTANCE (default stocksense-sandbox-web, the one `make demo` brings up).
# If it is not running the script says so and, with BENCH_BRING_UP=1, runs `scripts/demo.sh up`
# (idempotent) first; otherwise it stops. Another instance with the whole stack works too, e.g.
# BENCH_INSTANCE=stocksense-e2e-web while the default molecule scenario is converged.
set -euo pipefail
cd "$(dirname "$0")/.."

instance=${BENCH_INSTANCE:-stocksense-sandbox-web}
symbol=${BENCH_SYMBOL:-MSFT}
duration=${BENCH_DURATION:-15}
threads=${BENCH_THREADS:-2}
connections=${BENCH_CONNECTIONS:-16}
app_port=${BENCH_APP_PORT:-5005}
cache_target=10000
ratio_target=80
log() { printf '[bench-nginx] %s\n' "$*"; }

running() { [ "$(podman inspect -f '{{.State.Running}}' "$instance" 2>/dev/null)" = "true" ]; }
in_instance() { podman exec -i "$instance" "$@"; }

if ! running; then
  log "instance $instance is not running: this benchmark needs the sandbox (make demo) or BENCH_INSTANCE=<a running instance>"
  if [ "${BENCH_BRING_UP:-0}" = "1" ]; then
    log "BENCH_BRING_UP=1: bringing the sandbox up with scripts/demo.sh up (idempotent, minutes the first time)"
    scripts/demo.sh up
  else
    log "skipped (set BENCH_BRING_UP=1 to bring the sandbox up first)"
    exit 0
  fi
fi

if ! in_instance sh -c 'command -v wrk >/dev/null'; then
  log "installing Debian's wrk in $instance"
  in_instance sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk >/dev/null'
fi

path=/api/v1/symbols/$symbol/forecast
direct=http://127.0.0.1:$app_port$path
tls=https://127.0.0.1:443$path  # explicit port: a minimal image has no /etc/services

# Warm up and check that the cache really answers (and that a cookie really bypasses it).
# python3 is in every instance (curl need not be).
probe() {  # url [cookie]: prints "<status> <X-Cache-Status>"
  in_instance python3 - "$@" <<'PY'
import ssl, sys, urllib.request
req = urllib.request.Request(sys.argv[1], headers={"Cookie": sys.argv[2]} if len(sys.argv) > 2 else {})
try:
    with urllib.request.urlopen(req, timeout=10, context=ssl._create_unverified_context()) as r:  # loopback
        print(r.status, r.headers.get("X-Cache-Status", "none"))
except Exception as exc:  # noqa: BLE001 - reported, the benchmark stops
    print("error", type(exc).__name__, exc)
PY
}
read -r code _ <<<"$(probe "$direct")"
[ "$code" = 200 ] || { log "the app does not answer $direct ($code)"; exit 1; }
probe "$tls" >/dev/null
read -r _ cached <<<"$(probe "$tls")"
read -r _ bypass <<<"$(probe "$tls" bench=1)"
log "cache check: anonymous=$cached, with cookie=$bypass (want HIT and BYPASS)"

run() {  # name url [header]: prints "name req/s p99_ms non2xx load1"
  local name=$1 url=$2 header=${3:-} out
  local args=(wrk -t"$threads" -c"$connections" -d"${duration}s" --latency)
  [ -n "$header" ] && args+=(-H "$header")
  out=$(in_instance "${args[@]}" "$url")
  local rps p99 non2xx load
  rps=$(awk '/^Requests\/sec:/ {printf "%d", $2}' <<<"$out")
  p99=$(awk '$1=="99%" {v=$2; if (v ~ /us$/) {sub(/us$/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v=v*1000}; printf "%.2f", v}' <<<"$out")
  non2xx=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' <<<"$out")
  load=$(cut -d' ' -f1-3 /proc/loadavg)
  printf '%s %s %s %s %s\n' "$name" "${rps:-0}" "${p99:-?}" "${non2xx:-0}" "$load"
}

log "wrk -t$threads -c$connections -d${duration}s in $instance, $(nproc) CPUs shared with everything else on this machine"
log "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
results=()
results+=("$(run direct "$direct")")
results+=("$(run nginx+tls+cache "$tls")")
results+=("$(run nginx+tls,no-cache "$tls" 'Cookie: bench=1')")

printf '\n%-20s %10s %9s %8s   %s\n' "run" "req/s" "p99 ms" "non-2xx" "load average (1 5 15 min) after"
for line in "${results[@]}"; do
  read -r name rps p99 non2xx l1 l5 l15 <<<"$line"
  printf '%-20s %10s %9s %8s   %s %s %s\n' "$name" "$rps" "$p99" "$non2xx" "$l1" "$l5" "$l15"
done
read -r _ direct_rps _ <<<"${results[0]}"
read -r _ cache_rps _ <<<"${results[1]}"
read -r _ nocache_rps _ <<<"${results[2]}"
ratio=$(( direct_rps > 0 ? 100 * nocache_rps / direct_rps : 0 ))
verdict() { if [ "$1" -ge "$2" ]; then echo met; else echo "NOT met"; fi; }
printf '\ncached forecast through nginx+TLS: %s req/s (target >= %s): %s\n' "$cache_rps" "$cache_target" "$(verdict "$cache_rps" "$cache_target")"
printf 'nginx+TLS without the cache: %s%% of direct (target >= %s%%): %s\n' "$ratio" "$ratio_target" "$(verdict "$ratio" "$ratio_target")"
printf 'cache check: anonymous %s, with a cookie %s\n' "${cached:-none}" "${bypass:-none}"

#!/usr/bin/env bash
# make soak: 10 minutes at 200 req/s through nginx (TLS) on the sandbox instance, its memory capped
# at 1 GB like a t2.micro; fails on an OOM kill, a restarted service or RSS growth above 10 %.
# Not part of make test. Loopback only: Debian's wrk runs inside the instance against 127.0.0.1.
#
#   SOAK_INSTANCE (default stocksense-sandbox-web, from make demo), SOAK_SECONDS (600),
#   SOAK_RATE (200 req/s), SOAK_MEMORY (1g), SOAK_SYMBOL (MSFT).
# The rate is held by wrk's delay() hook (a per-second quota over SOAK_CONNECTIONS connections). The mix: cached forecast (anonymous), the same with a
# cookie (bypasses the cache, reaches the app), the overview page, a price history.
set -euo pipefail
cd "$(dirname "$0")/.."

instance=${SOAK_INSTANCE:-stocksense-sandbox-web}
seconds=${SOAK_SECONDS:-600}
rate=${SOAK_RATE:-200}
connections=${SOAK_CONNECTIONS:-8}
memory=${SOAK_MEMORY:-1g}
symbol=${SOAK_SYMBOL:-MSFT}
warmup=30
max_growth_pct=10
log() { printf '[soak] %s\n' "$*"; }
in_instance() { podman exec -i "$instance" "$@"; }

if [ "$(podman inspect -f '{{.State.Running}}' "$instance" 2>/dev/null)" != "true" ]; then
  log "instance $instance is not running: the soak needs the sandbox. Run make demo first (or SOAK_INSTANCE=<instance>)"
  exit 2
fi
in_instance sh -c 'command -v wrk >/dev/null' || {
  log "installing Debian's wrk in $instance"
  in_instance sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk >/dev/null'
}

log "capping $instance at $memory of memory (podman update)"
podman update --memory "$memory" --memory-swap "$memory" "$instance" >/dev/null

in_instance sh -c 'cat > /tmp/soak.lua' <<LUA
-- Soak mix at ${rate} req/s over ${connections} connections (one wrk thread, so one Lua state):
-- each second may send ${rate} requests; a connection ahead of that waits, so the rate holds
-- whatever the latency (os.time() has one-second steps, so the pace is per second).
local paths = {
  {"/api/v1/symbols/${symbol}/forecast", nil},
  {"/api/v1/symbols/${symbol}/forecast", "soak=1"},
  {"/", nil},
  {"/api/v1/symbols/${symbol}/history?days=90", nil},
}
local rate, start, sent, i = ${rate}, nil, 0, 0
request = function()
  i = i % #paths + 1
  sent = sent + 1
  local headers = {}
  if paths[i][2] then headers["Cookie"] = paths[i][2] end
  return wrk.format("GET", paths[i][1], headers)
end
delay = function()
  local now = os.time()
  start = start or now
  local ahead = sent - rate * (now - start + 1)
  if ahead > 0 then return math.floor(ahead * 1000 / rate) + 1 end
  return 0
end
LUA

snapshot() {  # prints: app_pid app_rss_kb nginx_rss_kb restarts oom_kills
  in_instance sh -c '
    pid=$(systemctl show -p MainPID --value stocksense.service)
    app=$(awk "/^VmRSS/ {print \$2}" /proc/$pid/status)
    ngx=0; for w in $(pgrep nginx); do r=$(awk "/^VmRSS/ {print \$2}" /proc/$w/status); ngx=$((ngx + r)); done
    restarts=$(systemctl show -p NRestarts --value stocksense.service)
    oom=$(awk "/oom_kill / {print \$2}" /sys/fs/cgroup/memory/memory.oom_control /sys/fs/cgroup/memory.events 2>/dev/null | head -n1)
    echo "$pid $app $ngx $restarts ${oom:-0}"'
}

log "warm-up ${warmup}s, then ${seconds}s at ${rate} req/s; load average $(cut -d' ' -f1-3 /proc/loadavg)"
in_instance timeout $((warmup + 30)) wrk -t1 -c"$connections" -d"${warmup}s" -s /tmp/soak.lua https://127.0.0.1:443/ >/dev/null
read -r pid0 app0 ngx0 restarts0 oom0 <<<"$(snapshot)"
out=$(in_instance timeout $((seconds + 60)) wrk -t1 -c"$connections" -d"${seconds}s" --latency -s /tmp/soak.lua https://127.0.0.1:443/)
read -r pid1 app1 ngx1 restarts1 oom1 <<<"$(snapshot)"
load=$(cut -d' ' -f1-3 /proc/loadavg)

requests=$(awk '/requests in/ {print $1}' <<<"$out")
achieved=$(awk '/^Requests\/sec:/ {printf "%d", $2}' <<<"$out")
non2xx=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' <<<"$out")
errors=$(awk '/Socket errors:/ {print}' <<<"$out")
growth=$(( app0 > 0 ? 100 * (app1 - app0) / app0 : 100 ))
ngx_growth=$(( ngx0 > 0 ? 100 * (ngx1 - ngx0) / ngx0 : 100 ))
printf '\n%-26s %12s %12s\n' "" "after warm-up" "after soak"
printf '%-26s %12s %12s\n' "app RSS (KiB)" "$app0" "$app1" "nginx RSS, all (KiB)" "$ngx0" "$ngx1" \
  "app main PID" "$pid0" "$pid1" "app restarts" "$restarts0" "$restarts1" "OOM kills (cgroup)" "$oom0" "$oom1"
printf '\nrequests: %s in %ss, %s req/s (target %s), non-2xx: %s %s\n' "${requests:-0}" "$seconds" "${achieved:-0}" "$rate" "${non2xx:-0}" "$errors"
printf 'RSS growth: app %s%%, nginx %s%% (limit %s%%); memory cap %s; load average %s\n' "$growth" "$ngx_growth" "$max_growth_pct" "$memory" "$load"

fail=0
[ "$pid0" = "$pid1" ] && [ "$restarts0" = "$restarts1" ] || { log "FAIL: the app was restarted during the soak"; fail=1; }
[ "$oom0" = "$oom1" ] || { log "FAIL: OOM kills during the soak ($oom0 -> $oom1)"; fail=1; }
[ "$growth" -le "$max_growth_pct" ] || { log "FAIL: app RSS grew ${growth}%"; fail=1; }
[ "$ngx_growth" -le "$max_growth_pct" ] || { log "FAIL: nginx RSS grew ${ngx_growth}%"; fail=1; }
[ "${non2xx:-0}" = 0 ] || { log "FAIL: ${non2xx} answers were not 2xx/3xx"; fail=1; }
[ "${achieved:-0}" -ge $(( rate * 9 / 10 )) ] || { log "FAIL: only ${achieved} req/s held"; fail=1; }
[ "$fail" = 0 ] && log "soak passed"
exit "$fail"

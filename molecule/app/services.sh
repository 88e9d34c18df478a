#!/usr/bin/env bash
# The app scenario's stand-ins on the controller's loopback, for the PostgreSQL path of the role
# (tests/test_app_zz_postgres.py): moto stands in for SSM on 127.0.0.1:19420 (scripts/moto.sh) and a
# throwaway cluster of Debian's PostgreSQL listens on 127.0.0.1:19421 with scram auth for the
# `stocksense` role. The instance reaches both as 10.0.2.2 (slirp4netns allow_host_loopback). The
# role's password is generated here, set in PostgreSQL and put into moto's SSM as a SecureString;
# it is never printed or written to a file.
#   molecule/app/services.sh start|stop|psql SQL
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)
export MOTO_PORT=19420
pg_port=19421
pg_dir=/tmp/stocksense-molecule-app-pg
parameter=/stocksense/molecule/db/password
pg_bin=$(find /usr/lib/postgresql -maxdepth 2 -name bin -type d | sort -V | tail -1)
log() { printf '[app services] %s\n' "$*"; }
as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
psql_super() { as_postgres "$pg_bin/psql" -h "$pg_dir" -p "$pg_port" -U postgres -d "${2:-postgres}" -At -v ON_ERROR_STOP=1 -c "$1"; }

start_pg() {
  [ -x "$pg_bin/initdb" ] || { log "Debian's postgresql package is missing (scripts/host-setup.sh)" >&2; exit 1; }
  if [ -f "$pg_dir/db/postmaster.pid" ] && psql_super "SELECT 1" >/dev/null 2>&1; then
    log "PostgreSQL already runs on 127.0.0.1:$pg_port"
    return 0
  fi
  rm -rf "$pg_dir"
  mkdir -m 0700 "$pg_dir"
  [ "$(id -u)" = 0 ] && chown postgres:postgres "$pg_dir"
  as_postgres "$pg_bin/initdb" -D "$pg_dir/db" --auth=trust -U postgres --no-sync -E UTF8 --locale=C >/dev/null
  # Only the superuser over the socket without a password; the app's role by scram over TCP.
  printf 'local all postgres trust\nhost all stocksense 127.0.0.1/32 scram-sha-256\n' > "$pg_dir/db/pg_hba.conf"
  as_postgres "$pg_bin/pg_ctl" -D "$pg_dir/db" -w -l "$pg_dir/log" \
    -o "-p $pg_port -k $pg_dir -F -c listen_addresses=127.0.0.1 -c password_encryption=scram-sha-256" start >/dev/null
  log "PostgreSQL on 127.0.0.1:$pg_port (data $pg_dir)"
}

# The password goes from Python's secrets to PostgreSQL and to moto's SSM, on stdin/through the API
# only (never an argument, so never in ps).
set_password() {
  local password
  password=$("$repo/.venv/bin/python" -c 'import secrets; print("pw-" + secrets.token_urlsafe(24) + "%@:/")')
  printf '%s' "$password" | "$repo/.venv/bin/python" -c "$put_parameter" "$parameter"
  # psql's variable quoting (:'pw') keeps the value out of the command line.
  printf '%s' "$password" | as_postgres sh -c "cat > '$pg_dir/.pw'"
  as_postgres "$pg_bin/psql" -h "$pg_dir" -p "$pg_port" -U postgres -d postgres -q -v ON_ERROR_STOP=1 <<SQL >/dev/null
\set pw \`cat '$pg_dir/.pw'\`
SELECT format('CREATE ROLE stocksense LOGIN PASSWORD %L', :'pw') \gexec
CREATE DATABASE stocksense OWNER stocksense;
SQL
  as_postgres rm -f "$pg_dir/.pw"
  log "role stocksense and database stocksense created; password in moto's SSM at $parameter"
}

put_parameter='
import sys, boto3
ssm = boto3.client("ssm", endpoint_url="http://127.0.0.1:19420", region_name="eu-west-1",
                   aws_access_key_id="testing", aws_secret_access_key="testing")
ssm.put_parameter(Name=sys.argv[1], Value=sys.stdin.read(), Type="SecureString", Overwrite=True)
'

case "${1:-}" in
  start)
    scripts/moto.sh start
    if ! psql_super "SELECT 1 FROM pg_roles WHERE rolname = 'stocksense'" 2>/dev/null | grep -q 1; then
      start_pg
      set_password
    fi
    ;;
  stop)
    if [ -f "$pg_dir/db/postmaster.pid" ]; then
      as_postgres "$pg_bin/pg_ctl" -D "$pg_dir/db" -m fast -w stop >/dev/null || true
    fi
    rm -rf "$pg_dir"
    scripts/moto.sh stop
    ;;
  psql) psql_super "$2" stocksense ;;
  *) echo "usage: $0 start|stop|psql SQL" >&2; exit 2 ;;
esac

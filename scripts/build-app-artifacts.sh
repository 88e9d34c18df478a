#!/usr/bin/env bash
# Build what the app role ships, on the controller:
#   <out>/dist/stocksense-<version>-py3-none-any.whl   the app wheel (no dependencies), reproducible
#   <out>/home/                                         a STOCKSENSE_HOME: seeded prices, trained models
#   <out>/home/registry/                                the model registry shipped to the instance
#   <out>/backtests/<SYMBOL>.json                       the latest walk-forward backtest per symbol
#   <out>/models.tar                                    registry/ and import/backtests/ in one
#                                                       reproducible archive, extracted on the instance
#   <out>/release.json                                  what models.tar holds: `stocksense release
#                                                       export --json` (versions per symbol, missing)
# Usage: scripts/build-app-artifacts.sh [--out DIR] [--no-train] [--models-from DIR] SYMBOL...
#   --models-from DIR: pack DIR/registry and DIR/backtests (e.g. downloaded from S3) instead.
# Training settings come from the environment (STOCKSENSE_EPOCHS, STOCKSENSE_TRAIN_DAYS, ...; see
# app/README.md). Idempotent: the wheel is rebuilt byte for byte (SOURCE_DATE_EPOCH), and a symbol
# is trained again only when its models, backtest or training settings are missing or changed.
# The last line of stdout is JSON for the app role: {"changed": bool, "wheel": ..., ...}.
# It talks to the app only through its CLI (app/INTERFACES.md): train, backtest, seed, models list,
# release export; the registry layout and the model names are the app's business.
set -euo pipefail
# The wheel's bytes include its files' modes, which follow the umask: fix it, so that the same
# sources give the same wheel whoever runs the build (a 077 caller would otherwise redeploy).
umask 022

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
app_dir=${APP_DIR:-$repo/app}
out=$repo/.cache/app-artifacts
train=1
models_from=
symbols=()
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=$2; shift 2 ;;
    --no-train) train=0; shift ;;
    --models-from) models_from=$2; train=0; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    -*) echo "[build-app-artifacts] unknown option $1" >&2; exit 2 ;;
    *) symbols+=("$1"); shift ;;
  esac
done
log() { printf '[build-app-artifacts] %s\n' "$*" >&2; }

py=$app_dir/.venv/bin/python
cli=$app_dir/.venv/bin/stocksense
if [ ! -x "$cli" ]; then
  log "no $app_dir/.venv with the stocksense CLI: run 'make -C app venv' first"
  exit 2
fi
mkdir -p "$out/dist" "$out/home" "$out/backtests" "$out/stamps"
# One build at a time per folder: make test's image suite and app scenario share theirs (same symbol
# and settings) and run side by side; the second waits, then finds the models current.
exec 9>"$out/.lock"
flock 9
changed=false

# 0. Nothing to do when every input and output is as the last complete build left them: a re-run
#    (every configure) then costs a few hashes instead of a wheel build and an export (6-7 s).
#    The inputs: this script, the options, the training settings, the app's sources and pins, the
#    Python that builds, and --models-from's files; the outputs: the wheel, archive, release, the
#    symbols' stamps and the trained registry's files (a model removed by hand is trained again).
# What the wheel is built from (step 1 copies exactly these, without __pycache__ and *.egg-info).
wheel_sources=(pyproject.toml README.md src)
settings=$(env | { grep -E '^STOCKSENSE_(WINDOW|TRAIN_DAYS|EPOCHS|SEED|REFIT_EVERY|BACKTEST_DAYS)=' || true; } | sort | tr '\n' ' ')
inputs_key() {
  {
    sha256sum "${BASH_SOURCE[0]}" "$app_dir/constraints.txt"
    (cd "$app_dir" && find "${wheel_sources[@]}" -name '__pycache__' -prune -o -name '*.egg-info' -prune \
      -o -type f -print0 | sort -z | xargs -0 sha256sum)
    if [ -n "$models_from" ]; then
      (cd "$models_from" && find registry backtests -type f -print0 2>/dev/null | sort -z | xargs -0 -r sha256sum)
    fi
    "$py" -c 'import sys; print(sys.version)'
    printf 'train=%s models_from=%s settings=%s symbols=%s\n' "$train" "$models_from" "$settings" "${symbols[*]}"
  } | sha256sum | cut -c1-64
}
outputs_key() {
  (cd "$out" && sha256sum dist/*.whl dist/constraints.txt models.tar release.json stamps/* 2>/dev/null \
    && find home/registry backtests -type f -printf '%p %s\n' 2>/dev/null | sort) | sha256sum | cut -c1-64
}
key=$(inputs_key)
if [ -f "$out/build.stamp" ] && [ "$(cat "$out/build.stamp")" = "$key $(outputs_key)" ]; then
  log "inputs and outputs as the last build left them: nothing to do"
  printf '{"changed": false, "wheel": "%s", "models": "%s", "release": "%s"}\n' \
    "$(ls "$out"/dist/*.whl)" "$out/models.tar" "$out/release.json"
  exit 0
fi
rm -f "$out/build.stamp"

# 1. The wheel, from a clean copy of the sources (no egg-info or build/ left over from
#    development), with fixed zip timestamps so that unchanged sources give the same bytes.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tar -C "$app_dir" --exclude='*.egg-info' --exclude='__pycache__' -cf - "${wheel_sources[@]}" | tar -C "$work" -xf -
SOURCE_DATE_EPOCH=315532800 "$py" -m pip wheel --quiet --disable-pip-version-check --no-deps "$work" -w "$work/dist" >&2
built=$(ls "$work"/dist/*.whl)
wheel=$out/dist/$(basename "$built")
if [ -f "$wheel" ] && cmp -s "$built" "$wheel"; then
  log "wheel unchanged: $(basename "$wheel")"
else
  rm -f "$out"/dist/*.whl
  cp "$built" "$wheel"
  changed=true
  log "wheel built: $(basename "$wheel") sha256 $(sha256sum "$wheel" | cut -c1-12)"
fi
cp "$app_dir/constraints.txt" "$work/constraints.txt"
if ! cmp -s "$work/constraints.txt" "$out/dist/constraints.txt" 2>/dev/null; then
  cp "$work/constraints.txt" "$out/dist/constraints.txt"
  changed=true
fi

# 2. Models: seed the bundled prices once, then train and backtest each symbol whose stamp
#    (training settings + installed source) does not match.
export STOCKSENSE_HOME=$out/home
unset STOCKSENSE_DATABASE_URL STOCKSENSE_REGISTRY
if [ "$train" = 1 ] && [ "${#symbols[@]}" -gt 0 ]; then
  if [ ! -f "$out/home/stocksense.db" ]; then
    log "seeding bundled prices into $out/home"
    "$cli" seed >&2
  fi
  src_hash=$(cd "$app_dir/src" && find stocksense -name '*.py' -path '*/models/*' -o -name '*.py' -path '*/features/*' -o -name '*.py' -path '*/backtest/*' | sort | xargs sha256sum | sha256sum | cut -c1-16)
  for symbol in "${symbols[@]}"; do
    stamp=$out/stamps/$symbol
    want="settings: ${settings:-defaults} source: $src_hash"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -s "$out/backtests/$symbol.json" ] \
       && "$cli" models list --complete --json "$symbol" >/dev/null 2>&1; then
      log "$symbol: models current, not retraining"
      continue
    fi
    t0=$(date +%s)
    log "$symbol: training (${settings:-default settings})"
    "$cli" train "$symbol" >&2
    log "$symbol: walk-forward backtest"
    "$cli" backtest "$symbol" >&2
    printf '%s' "$want" > "$stamp"
    changed=true
    log "$symbol: trained and backtested in $(( $(date +%s) - t0 ))s"
  done
fi

# 3. One archive for the instance (one copy instead of one per file), byte-identical when the
#    models did not change. Only the published (latest) version of each model: older versions
#    stay on the controller. Backtests come from the training database, or from --models-from.
export_args=()
if [ -n "$models_from" ]; then
  export_args=(--registry "$models_from/registry" --backtests "$models_from/backtests")
elif [ "$train" = 0 ]; then
  export_args=(--registry "$out/home/registry" --backtests "$out/backtests")
fi
"$cli" release export --out "$work/pack" "${export_args[@]}" --json "${symbols[@]}" > "$work/release.json"
if [ -z "$models_from" ]; then
  # Kept next to the models (the --no-train source, and the layout an S3 bucket mirrors).
  cp "$work"/pack/import/backtests/*.json "$out/backtests/" 2>/dev/null || true
fi
tar -C "$work/pack" --sort=name --mtime=@315532800 --owner=0 --group=0 --numeric-owner --mode=u+rwX,g+rX,g-w,o= \
  -cf "$work/models.tar" registry import
if cmp -s "$work/models.tar" "$out/models.tar"; then
  log "models archive unchanged"
else
  cp "$work/models.tar" "$out/models.tar"
  changed=true
  log "models archive written: $(tar -tf "$out/models.tar" | grep -c 'model.tflite$') LiteRT models"
fi
if ! cmp -s "$work/release.json" "$out/release.json"; then
  cp "$work/release.json" "$out/release.json"
  changed=true
fi

printf '%s %s' "$key" "$(outputs_key)" > "$out/build.stamp"
printf '{"changed": %s, "wheel": "%s", "models": "%s", "release": "%s"}\n' \
  "$changed" "$wheel" "$out/models.tar" "$out/release.json"

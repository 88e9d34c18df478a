#!/usr/bin/env bash
# Build a TEST STAND-IN for the Amazon CloudWatch agent package, signed with a throwaway key.
#
# Used by the cloudwatch_agent molecule scenario and by the local sandbox (make demo), where the
# real .deb cannot be downloaded. This package has the same name, the same ctl path and
# the same systemd unit name, but it is not the agent: its ctl only records how it was called
# (so the tests can check what the role ran, and how often) and mimics fetch-config's side effects.
# Usage: build-cloudwatch-standin.sh OUTDIR [--force]
# Idempotent: an existing package is kept (a rebuilt one would differ byte for byte and make the
# role reinstall it); --force rebuilds it.
set -euo pipefail
out=$(realpath -m "$1")
mkdir -p "$out"
if [ "${2:-}" != --force ] && [ -s "$out/amazon-cloudwatch-agent-standin.deb.sig" ] && [ -s "$out/fingerprint" ] \
  && [ -s "$out/standin-vars.yml" ] && [ -s "$out/amazon-cloudwatch-agent-tampered.deb" ]; then
  echo "stand-in package already built in $out (signing key $(cat "$out/fingerprint"))"
  exit 0
fi
export GNUPGHOME="$out/gnupg"
mkdir -p "$GNUPGHOME"
chmod 700 "$GNUPGHOME"

if ! gpg --batch --list-secret-keys 'stand-in signer' >/dev/null 2>&1; then
  gpg --batch --quiet --passphrase '' --quick-gen-key \
    'StockSense TEST stand-in signer <stand-in-signer@example.invalid>' ed25519 sign never
fi
gpg --batch --yes --armor --export 'stand-in signer' > "$out/standin-signing-key.asc"
fingerprint=$(gpg --batch --with-colons --fingerprint 'stand-in signer' | awk -F: '$1 == "fpr" { print $10; exit }')

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
install -d "$root/DEBIAN" "$root/opt/aws/amazon-cloudwatch-agent/bin" "$root/opt/aws/amazon-cloudwatch-agent/etc/amazon-cloudwatch-agent.d" \
  "$root/opt/aws/amazon-cloudwatch-agent/logs" "$root/etc/systemd/system"
cat > "$root/DEBIAN/control" <<CONTROL
Package: amazon-cloudwatch-agent
Version: 0.0.0~stocksense.test.standin
Architecture: all
Maintainer: StockSense Ops tests <tests@example.invalid>
Description: TEST STAND-IN for the Amazon CloudWatch agent (not the agent)
 Built by scripts/build-cloudwatch-standin.sh. Records amazon-cloudwatch-agent-ctl calls
 in /var/log/amazon-cloudwatch-agent-standin-calls.log and runs a placeholder service.
CONTROL
cat > "$root/DEBIAN/postinst" <<'POSTINST'
#!/bin/sh
set -e
systemctl daemon-reload >/dev/null 2>&1 || true
POSTINST
chmod 0755 "$root/DEBIAN/postinst"

cat > "$root/opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl" <<'CTL'
#!/bin/sh
# TEST STAND-IN of amazon-cloudwatch-agent-ctl: records its arguments, mimics fetch-config.
set -eu
echo "$*" >> /var/log/amazon-cloudwatch-agent-standin-calls.log
action= mode= config= start=no
while [ $# -gt 0 ]; do
  case "$1" in
    -a) action=$2; shift 2 ;;
    -m) mode=$2; shift 2 ;;
    -c) config=$2; shift 2 ;;
    -s) start=yes; shift ;;
    *) echo "stand-in ctl: unknown argument $1" >&2; exit 2 ;;
  esac
done
etc=/opt/aws/amazon-cloudwatch-agent/etc
if [ "$action" = fetch-config ]; then
  path=${config#file:}
  [ "$path" != "$config" ] || { echo "stand-in ctl: only file: configs are supported" >&2; exit 2; }
  python3 -m json.tool "$path" >/dev/null || { echo "stand-in ctl: $path is not valid JSON" >&2; exit 1; }
  cp "$path" "$etc/amazon-cloudwatch-agent.d/file_$(basename "$path")"
  # Like the real agent: a config given at the default location is consumed (moved away).
  [ "$path" != "$etc/amazon-cloudwatch-agent.json" ] || mv "$path" "$etc/amazon-cloudwatch-agent.d/default"
  echo "# translated by the TEST STAND-IN (mode $mode)" > "$etc/amazon-cloudwatch-agent.toml"
fi
if [ "$start" = yes ]; then
  systemctl restart amazon-cloudwatch-agent.service
fi
CTL
chmod 0755 "$root/opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl"

cat > "$root/etc/systemd/system/amazon-cloudwatch-agent.service" <<'UNIT'
[Unit]
Description=TEST STAND-IN for the Amazon CloudWatch agent (placeholder process)

[Service]
ExecStart=/bin/sleep infinity

[Install]
WantedBy=multi-user.target
UNIT

dpkg-deb --root-owner-group -Zgzip --build "$root" "$out/amazon-cloudwatch-agent-standin.deb" >/dev/null
gpg --batch --yes --detach-sign --output "$out/amazon-cloudwatch-agent-standin.deb.sig" "$out/amazon-cloudwatch-agent-standin.deb"
# A tampered copy: the same signature no longer matches it.
cp "$out/amazon-cloudwatch-agent-standin.deb" "$out/amazon-cloudwatch-agent-tampered.deb"
printf 'tampered' >> "$out/amazon-cloudwatch-agent-tampered.deb"

cat > "$out/standin-vars.yml" <<VARS
---
# Written by build-cloudwatch-standin.sh: role variables that point at the TEST STAND-IN package.
cloudwatch_agent_package_file: $out/amazon-cloudwatch-agent-standin.deb
cloudwatch_agent_signature_file: $out/amazon-cloudwatch-agent-standin.deb.sig
cloudwatch_agent_gpg_key_file: $out/standin-signing-key.asc
cloudwatch_agent_gpg_fingerprint: $fingerprint
VARS
printf '%s\n' "$fingerprint" > "$out/fingerprint"
echo "stand-in package built in $out (signing key $fingerprint)"

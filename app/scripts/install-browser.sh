#!/usr/bin/env bash
# Installs what the web browser tests need: Debian's headless Chromium and its chromedriver.
# Idempotent: does nothing when both are already installed. Needs root (or sudo) for apt-get.
set -euo pipefail

have() { command -v "$1" >/dev/null 2>&1; }

if have chromium && have chromedriver; then
  echo "install-browser: chromium and chromedriver already installed"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if have sudo; then SUDO="sudo"; else
    echo "install-browser: need root to apt-get install chromium chromium-driver" >&2
    exit 1
  fi
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq chromium chromium-driver
have chromium && have chromedriver
echo "install-browser: installed $(chromium --version 2>/dev/null | head -1)"

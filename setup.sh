#!/usr/bin/env bash
# setup.sh: installs the Debian packages mtrec needs when they are missing (as root), then
# builds the release binary. Safe to run again.
set -euo pipefail
PKGS="build-essential clang libclang-rt-14-dev libdnnl-dev zlib1g-dev libcjson-dev libmicrohttpd-dev pkg-config"
missing=""
for p in $PKGS; do
  dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
if [ -n "$missing" ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup.sh: missing packages:$missing; run as root (sudo bash setup.sh)" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q $missing
fi
make -j"$(nproc)" >/dev/null
echo "setup.sh: dependencies present; built build/release/mtrec"

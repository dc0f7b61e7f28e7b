#!/usr/bin/env bash
# Install what raftgres needs from Debian 12's packages, if missing, then build it.
# Sourced or run by scripts/cluster and scripts/test; safe to run again.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PACKAGES=(build-essential pkg-config meson ninja-build
          libraft-dev libuv1-dev libh2o-dev libyaml-dev libpq-dev libjansson-dev libssl-dev
          libcmocka-dev python3-pytest python3-psycopg2 postgresql haproxy iproute2 curl)

missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    if [ "$(id -u)" -ne 0 ]; then
        echo "raftgres: missing packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})" >&2
        exit 1
    fi
    echo "raftgres: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null 2>&1 || {
        apt-get update >/dev/null && apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null
    }
    # The postgresql package starts a default cluster on 5432; raftgres manages its own.
    if command -v pg_lsclusters >/dev/null; then
        pg_lsclusters -h 2>/dev/null | awk '$4=="online"{print $1, $2}' | while read -r v c; do
            pg_ctlcluster "$v" "$c" stop || true
        done
    fi
fi

if [ ! -f build/build.ninja ]; then
    meson setup build -Dwerror=true >/dev/null
fi
ninja -C build >/dev/null

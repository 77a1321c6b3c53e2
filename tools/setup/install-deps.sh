#!/usr/bin/env bash
# Installs the Debian 12 packages Ocelot needs to build, test and run the local stack.
# Idempotent: installs only what is missing. Must run as root (or with sudo available).
set -euo pipefail

PKGS=(
  build-essential cmake pkg-config git ca-certificates
  librdkafka-dev libprotobuf-c-dev protobuf-c-compiler
  libpq-dev libmicrohttpd-dev libhiredis-dev libcurl4-openssl-dev
  libyaml-dev zlib1g-dev libzstd-dev libxxhash-dev libpython3.11-dev libpcre2-dev
  postgresql redis-server zstd gzip curl python3 procps psmisc
  docker-compose clang-format clang libclang-rt-14-dev
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "installing: ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts the packaged servers on install; Ocelot runs its own instances.
for svc in redis-server postgresql; do
  if command -v systemctl >/dev/null 2>&1; then $SUDO systemctl disable --now "$svc" >/dev/null 2>&1 || true; fi
  $SUDO service "$svc" stop >/dev/null 2>&1 || true
done

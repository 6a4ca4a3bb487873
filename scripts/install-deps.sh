#!/usr/bin/env bash
# Installs every package ferry needs to build, test and benchmark, from Debian 12.
# A no-op when everything is already installed.
# Also installs the browser tests' npm packages (tests/browser/node_modules).
set -euo pipefail

packages=(
  # build
  cmake ninja-build pkg-config g++ make
  # libraries
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libssl-dev libsodium-dev libsqlite3-dev libcli11-dev nlohmann-json3-dev
  libspdlog-dev libfmt-dev libgtest-dev libgmock-dev libzip-dev zlib1g-dev libhiredis-dev
  libpqxx-dev libcpp-httplib-dev libboost1.81-dev libedit-dev
  # the fuzz targets (libFuzzer comes with clang's runtime)
  clang libclang-rt-14-dev
  # tools used by tests and benchmarks: real peers that read and write ferry's formats
  openssl sqlite3 procps zip unzip age redis-server
  # the directory's PostgreSQL store is tested against a real server (pg_trgm is in it)
  postgresql curl
  # the server's /metrics is checked by a real Prometheus text parser; the
  # systemd units by systemd-analyze; the zsh completion by zsh
  python3-prometheus-client systemd zsh
  # the peer's web UI is tested in a real headless browser (tests/browser)
  chromium
)
# Node and npm drive the browser tests; a node from elsewhere will do.
command -v node >/dev/null || packages+=(nodejs)
command -v npm >/dev/null || packages+=(npm)
if [[ "${FERRY_BENCH_DEPS:-0}" == 1 ]]; then
  packages+=(openssh-server openssh-client nginx curl time wrk opentracker aria2 python3-libtorrent
    transmission-daemon rsync)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]} > 0)); then
  echo "installing: ${missing[*]}"
  sudo=""
  [[ $(id -u) -ne 0 ]] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The browser tests' npm packages, exactly as tests/browser/package-lock.json
# pins them; skipped while node_modules is newer than the lock file.
browser="$(cd "$(dirname "$0")/../tests/browser" && pwd)"
installed="$browser/node_modules/.package-lock.json"
if [[ ! -f $installed || $browser/package-lock.json -nt $installed || $browser/package.json -nt $installed ]]; then
  echo "installing the browser tests' npm packages into $browser/node_modules"
  npm ci --prefix "$browser" --no-audit --no-fund --prefer-offline
fi

#!/usr/bin/env bash
# Installs every package ferry needs to build, test and benchmark, from Debian 12.
# A no-op when everything is already installed.
set -euo pipefail

packages=(
  # build
  cmake ninja-build pkg-config g++ make
  # libraries
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libssl-dev libsodium-dev libsqlite3-dev libcli11-dev nlohmann-json3-dev
  libspdlog-dev libfmt-dev libgtest-dev libgmock-dev libzip-dev zlib1g-dev libhiredis-dev
  libpqxx-dev libcpp-httplib-dev libboost1.81-dev
  # the fuzz targets (libFuzzer comes with clang's runtime)
  clang libclang-rt-14-dev
  # tools used by tests and benchmarks: real peers that read and write ferry's formats
  openssl sqlite3 procps zip unzip age redis-server
  # the directory's PostgreSQL store is tested against a real server (pg_trgm is in it)
  postgresql curl
)
if [[ "${FERRY_BENCH_DEPS:-0}" == 1 ]]; then
  packages+=(openssh-server openssh-client nginx curl time wrk opentracker aria2 python3-libtorrent)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
((${#missing[@]} == 0)) && exit 0

echo "installing: ${missing[*]}"
sudo=""
[[ $(id -u) -ne 0 ]] && sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"

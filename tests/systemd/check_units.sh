#!/usr/bin/env bash
# Checks contrib/systemd against the built binary.
#
#   check_units.sh flags  FERRY_BINARY UNIT_DIR
#     every --flag in a unit's ExecStart, and in the FERRY_*_OPTS of the
#     *.env.example files, is one that `ferry SUBCOMMAND --help` lists
#   check_units.sh verify FERRY_BINARY UNIT_DIR
#     `systemd-analyze verify` accepts every unit (the template as an
#     instance), with ExecStart pointing at FERRY_BINARY; exit 77 (skipped)
#     without systemd-analyze
set -euo pipefail

mode=$1 ferry=$(realpath "$2") units=$3
failed=0

# Fails unless `ferry $1 --help` lists the flag $2.
check_flag() {
  local sub=$1 flag=$2 where=$3 help
  help=$("$ferry" "$sub" --help)
  if ! grep -qE -- "(^|[ ,])${flag}([ ,=]|$)" <<<"$help"; then
    echo "$where: ferry $sub has no flag $flag" >&2
    failed=1
  fi
}

check_flags() {
  local unit sub flag line checked=0
  for unit in "$units"/*.service; do
    line=$(grep -E '^ExecStart=' "$unit")
    # ExecStart=/path/ferry SUBCOMMAND --flag value ...
    sub=$(awk '{print $2}' <<<"${line#ExecStart=}")
    for flag in $(grep -oE -- '(^| )--[a-z0-9-]+' <<<"$line"); do
      check_flag "$sub" "$flag" "$(basename "$unit")"
      checked=$((checked + 1))
    done
  done
  for env in "$units"/*.env.example; do
    sub=$(basename "$env" .env.example)
    while IFS= read -r line; do
      [[ $line =~ ^FERRY_[A-Z]+_OPTS= ]] || continue
      for flag in $(grep -oE -- '(^| |=)--[a-z0-9-]+' <<<"$line" | tr -d '= '); do
        check_flag "$sub" "$flag" "$(basename "$env")"
        checked=$((checked + 1))
      done
    done <"$env"
  done
  if ((checked < 10)); then
    echo "only $checked flags found in $units: is the parsing broken?" >&2
    failed=1
  fi
  echo "$checked flags checked"
}

verify_units() {
  command -v systemd-analyze >/dev/null || {
    echo "systemd-analyze is not installed: skipped" >&2
    exit 77
  }
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  for unit in "$units"/*.service; do
    sed "s|/usr/local/bin/ferry|$ferry|" "$unit" >"$tmp/$(basename "$unit")"
  done
  local names=()
  for unit in "$tmp"/*.service; do
    case $unit in
      *@.service) names+=("${unit%@.service}@test.service") ;;
      *) names+=("$unit") ;;
    esac
  done
  # verify prints warnings and errors on stderr; any line there is a failure.
  local out
  out=$(systemd-analyze verify "${names[@]}" 2>&1) || failed=1
  if [[ -n $out ]]; then
    echo "$out" >&2
    failed=1
  fi
  echo "${#names[@]} units verified"
}

case $mode in
  flags) check_flags ;;
  verify) verify_units ;;
  *)
    echo "usage: $0 flags|verify FERRY_BINARY UNIT_DIR" >&2
    exit 2
    ;;
esac
exit $failed

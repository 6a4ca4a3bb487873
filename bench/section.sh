# Sourced by the benchmarks: replaces one benchmark's section of
# docs/benchmarks.md (between its begin/end markers) with stdin, so each
# benchmark can be rerun alone without losing the others' figures.
#
#   write_section NAME FILE < content
write_section() {
  local name=$1 file=$2 begin="<!-- bench:$1:begin -->" end="<!-- bench:$1:end -->"
  local content tmp
  content=$(cat)
  tmp=$(mktemp)
  if [[ -f "$file" ]] && grep -qF "$begin" "$file"; then
    SECTION=$content awk -v b="$begin" -v e="$end" '
      $0 == b { print; print ENVIRON["SECTION"]; skip = 1; next }
      $0 == e { skip = 0 }
      !skip { print }' "$file" > "$tmp"
  else
    { [[ -f "$file" ]] && cat "$file" || echo "# Benchmarks"; echo; echo "$begin"; echo "$content"; echo "$end"; } > "$tmp"
  fi
  mv "$tmp" "$file"
}

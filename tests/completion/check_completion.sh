#!/usr/bin/env bash
# Checks the shell completion scripts against the built binary.
#
#   check_completion.sh FERRY_BINARY CONTRIB_COMPLETION_DIR
#
# contrib/completion/ holds what `ferry completion bash|zsh` prints (so it
# never drifts from the commands); bash completes through the real
# completion function with COMP_WORDS/COMP_CWORD set; zsh checks the
# script's syntax and, when zsh is installed, runs its function with
# compadd and _files stubbed to print what they are given, then completes
# for real: TAB in an interactive zsh on a pty with compinit.
set -euo pipefail

ferry=$1 dir=$2
failed=0
fail() {
  echo "FAIL: $*" >&2
  failed=1
}

for shell in bash zsh; do
  file=$dir/ferry.bash
  [[ $shell == zsh ]] && file=$dir/_ferry
  if ! diff -u "$file" <("$ferry" completion "$shell") >&2; then
    fail "$file differs from \`ferry completion $shell\`: regenerate it (docs/operations.md)"
  fi
done

# bash: the words typed, the cursor's word last; prints the candidates.
bash_complete() {
  bash --norc --noprofile -c '
    source "$1"; shift
    COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
    _ferry
    printf "%s\n" "${COMPREPLY[@]}"' _ "$dir/ferry.bash" "$@"
}
# Expects candidate $1 among the completions of the words after it.
expect_bash() {
  local want=$1
  shift
  local out
  out=$(bash_complete "$@")
  grep -qxF -- "$want" <<<"$out" || fail "bash: '$*<TAB>' does not offer '$want'"
}
expect_not_bash() {
  local unwanted=$1
  shift
  local out
  out=$(bash_complete "$@")
  if grep -qxF -- "$unwanted" <<<"$out"; then
    fail "bash: '$*<TAB>' offers '$unwanted'"
  fi
}
expect_bash put ferry pu
expect_not_bash get ferry pu
expect_bash --recursive ferry put --
expect_bash --limit-rate ferry put --
expect_bash --server ferry put --
expect_not_bash --metrics-listen ferry put --
expect_bash --metrics-listen ferry server --m
expect_bash add ferry user a
expect_bash put ferry --server localhost:7070 p
# A flag's value and a leaf command's arguments are local files.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
touch "$work/notes.txt"
expect_bash "$work/notes.txt" ferry put "$work/no"
expect_bash "$work/notes.txt" ferry server --data "$work/no"

if command -v zsh >/dev/null; then
  zsh -n "$dir/_ferry" || fail "zsh: $dir/_ferry has a syntax error"
  zsh_complete() {
    zsh -f -c '
      compadd() { [[ $1 == -- ]] && shift; print -l -- "$@"; }
      _files() { print -- "<files>"; }
      compdef() { :; }
      source "$1"; shift
      words=("$@"); CURRENT=$#
      _ferry' _ "$dir/_ferry" "$@"
  }
  expect_zsh() {
    local want=$1
    shift
    local out
    out=$(zsh_complete "$@")
    grep -qxF -- "$want" <<<"$out" || fail "zsh: '$*<TAB>' does not offer '$want'"
  }
  expect_zsh put ferry pu
  expect_zsh --recursive ferry put --
  expect_zsh add ferry user a
  expect_zsh put ferry --server localhost:7070 p
  expect_zsh "<files>" ferry put no

  # A real completion: an interactive zsh on a pty (zsh/zpty) with compinit
  # and _ferry on $fpath; TAB completes the line, which is then printed.
  zsh_tab() {
    zsh -f -c '
      zmodload zsh/zpty
      zpty -b z "zsh -f -i"
      zpty -w z "PS1=\"> \"; fpath=($1 \$fpath); autoload -U compinit; compinit -u -D"
      # Type only once the shell is at its prompt (zle reads the keys).
      zpty -w z "print RE\"\"ADY"
      local line out=""
      repeat 200; do
        zpty -r -t z line && out+=$line || sleep 0.05
        [[ $out == *READY*'"'"'> '"'"'* ]] && break
      done
      out=""
      zpty -w -n z "$2"$'"'"'\t'"'"'
      zpty -w -n z $'"'"'\C-a print -r -- RESULT:\C-e\n'"'"'
      repeat 200; do
        zpty -r -t z line && out+=$line || sleep 0.05
        [[ $out == *RESULT:*$'"'"'\r'"'"'* ]] && break
      done
      zpty -d z
      print -r -- ${${out##*RESULT:}%%$'"'"'\r'"'"'*}' _ "$dir" "$1"
  }
  expect_zsh_tab() {
    local got
    got=$(zsh_tab "$1")
    [[ $got == "$2" ]] || fail "zsh with compinit: '$1<TAB>' gives '$got', not '$2'"
  }
  expect_zsh_tab "ferry pu" "ferry put"
  expect_zsh_tab "ferry user a" "ferry user add"
  expect_zsh_tab "ferry put --recu" "ferry put --recursive"
else
  echo "zsh is not installed: its completion is not run" >&2
fi

((failed == 0)) && echo "completion OK"
exit $failed

# Shared helpers for the benchmark scripts (sourced, not run).
# Every script runs fanout and its peers side by side in one run, several
# rounds, and reports medians and ratios: this machine is shared and noisy,
# so only ratios from the same run mean anything.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FANOUT=${FANOUT:-$ROOT/target/release/fanout}
RUST_PARALLEL=${RUST_PARALLEL:-$(command -v rust-parallel || echo "$HOME/.cargo/bin/rust-parallel")}
ROUNDS=${ROUNDS:-5}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

need() {
  [ -x "$FANOUT" ] || (cd "$ROOT" && cargo build --release -q)
  command -v parallel >/dev/null || { echo "bench: install GNU parallel (apt-get install parallel)" >&2; exit 1; }
  [ -x "$RUST_PARALLEL" ] || { echo "bench: cargo install rust-parallel" >&2; exit 1; }
}

# median N...: the middle value.
median() {
  printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}

# wall NAME CMD...: runs CMD (a shell string) ROUNDS times, prints the
# median wall time in seconds and records it as $NAME in $WORK/results.
wall() {
  local name=$1 cmd=$2 times=()
  for _ in $(seq "$ROUNDS"); do
    local t0 t1
    t0=$(date +%s%N)
    bash -c "$cmd" >/dev/null 2>&1
    t1=$(date +%s%N)
    times+=("$(( (t1 - t0) / 1000 ))")
  done
  local med
  med=$(median "${times[@]}")
  echo "$name $med" >> "$WORK/results"
  printf '  %-16s %8.3f s (median of %s)\n' "$name" "$(awk -v m="$med" 'BEGIN {print m / 1000000}')" "$ROUNDS"
}

# rss NAME CMD: peak RSS in KiB of CMD (the runner process), median of ROUNDS.
rss() {
  local name=$1 cmd=$2 vals=()
  for _ in $(seq "$ROUNDS"); do
    # shellcheck disable=SC2086 # the command is split into words on purpose
    /usr/bin/time -o "$WORK/rss" -f "%M" $cmd >/dev/null 2>&1
    vals+=("$(tail -n1 "$WORK/rss")")
  done
  local med
  med=$(median "${vals[@]}")
  echo "$name $med" >> "$WORK/results"
  printf '  %-16s %8.1f MiB (median of %s)\n' "$name" "$(awk -v m="$med" 'BEGIN {print m / 1024}')" "$ROUNDS"
}

# ratio A B: prints A/B from the recorded results.
ratio() {
  local a b
  a=$(awk -v n="$1" '$1 == n {print $2}' "$WORK/results" | tail -n1)
  b=$(awk -v n="$2" '$1 == n {print $2}' "$WORK/results" | tail -n1)
  printf '  %s / %s = %.3f\n' "$1" "$2" "$(awk -v a="$a" -v b="$b" 'BEGIN {print a / b}')"
}

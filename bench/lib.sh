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

# need_core: fanout built and GNU parallel installed.
need_core() {
  [ -x "$FANOUT" ] || (cd "$ROOT" && cargo build --release -q)
  command -v parallel >/dev/null || { echo "bench: install GNU parallel (apt-get install parallel)" >&2; exit 1; }
}

# need: that and rust-parallel (the scripts that race it).
need() {
  need_core
  [ -x "$RUST_PARALLEL" ] || { echo "bench: cargo install rust-parallel" >&2; exit 1; }
}

# median N...: the middle value.
median() {
  printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}

# race NAME CMD [NAME CMD]...: runs every CMD (a shell string) once per
# round, interleaved, for ROUNDS rounds, so that drift in the machine's
# load hits all of them alike; prints each median wall time and records it
# under NAME in $WORK/results.
race() {
  local names=() cmds=()
  while [ $# -gt 0 ]; do names+=("$1"); cmds+=("$2"); shift 2; done
  local -A times
  for _ in $(seq "$ROUNDS"); do
    for i in "${!names[@]}"; do
      local t0 t1
      t0=$(date +%s%N)
      bash -c "${cmds[$i]}" >/dev/null 2>&1
      t1=$(date +%s%N)
      times[$i]+="$(( (t1 - t0) / 1000 )) "
    done
  done
  for i in "${!names[@]}"; do
    local med
    # shellcheck disable=SC2086 # one value per word
    med=$(median ${times[$i]})
    echo "${names[$i]} $med us" >> "$WORK/results"
    printf '  %-16s %8.3f s (median of %s, rounds interleaved)\n' "${names[$i]}" \
      "$(awk -v m="$med" 'BEGIN {print m / 1000000}')" "$ROUNDS"
  done
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
  echo "$name $med KiB" >> "$WORK/results"
  printf '  %-16s %8.1f MiB (median of %s)\n' "$name" "$(awk -v m="$med" 'BEGIN {print m / 1024}')" "$ROUNDS"
}

# ratio A B: prints A/B from the recorded results.
ratio() {
  local a b
  a=$(awk -v n="$1" '$1 == n {print $2}' "$WORK/results" | tail -n1)
  b=$(awk -v n="$2" '$1 == n {print $2}' "$WORK/results" | tail -n1)
  printf '  %s / %s = %.3f\n' "$1" "$2" "$(awk -v a="$a" -v b="$b" 'BEGIN {print a / b}')"
}

# nats_start NAME: starts a private nats-server (ephemeral port, store in
# $WORK), stopped when the script exits; sets NATS_URL_<NAME>.
NATS_PIDS=()
trap 'for p in "${NATS_PIDS[@]}" "${WORKER_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$WORK"' EXIT
nats_start() {
  local dir="$WORK/nats-$1"
  mkdir -p "$dir"
  nats-server -a 127.0.0.1 -p -1 -js -sd "$dir/store" --ports_file_dir "$dir" -l "$dir/log" &
  local pid=$!
  NATS_PIDS+=("$pid")
  for _ in $(seq 500); do
    [ -s "$dir/nats-server_$pid.ports" ] && break
    sleep 0.01
  done
  local url
  url=$(grep -o 'nats://[0-9.:]*' "$dir/nats-server_$pid.ports")
  printf -v "NATS_URL_$1" '%s' "$url"
}

# worker_start URL ARGS...: starts `fanout --worker` on URL, stopped on exit.
WORKER_PIDS=()
worker_start() {
  local url=$1
  shift
  "$FANOUT" --worker --broker "$url" --trust "$WORK/key.pub" --sign-key "$WORK/key" "$@" \
    2>>"$WORK/workers.log" &
  WORKER_PIDS+=("$!")
}

# need_broker: what P7/P8 need (fanout built, nats-server installed).
# Runs are signed and workers check, as a careful operator would run them:
# coordinators add $SIGNED (which also makes them check the workers' results).
need_broker() {
  [ -x "$FANOUT" ] || (cd "$ROOT" && cargo build --release -q)
  command -v nats-server >/dev/null || { echo "bench: apt-get install nats-server" >&2; exit 1; }
  [ -f "$WORK/key" ] || "$FANOUT" --keygen "$WORK/key" >/dev/null
  SIGNED="--sign-key $WORK/key --trust $WORK/key.pub"
}

# The summary of a run of bench/run-all: each script adds a row per
# target to the file $SUMMARY names (nothing when it is unset).
SUMMARY=${SUMMARY:-}

# record NAME VALUE UNIT: a figure the script computed itself.
record() { echo "$1 $2 $3" >> "$WORK/results"; }

# value NAME: the recorded figure NAME (the last one).
value() { awk -v n="$1" '$1 == n {v = $2} END {print v}' "$WORK/results"; }

# show NAME: the recorded figure NAME in its unit (seconds, MiB, ...).
show() {
  awk -v n="$1" '$1 == n {v = $2; u = $3} END {
    if (u == "us" && v < 100000) printf "%.2f ms", v / 1e3
    else if (u == "us") printf "%.3f s", v / 1e6
    else if (u == "KiB") printf "%.1f MiB", v / 1024
    else if (v >= 10000) printf "%.0f %s", v, u
    else printf "%.4g %s", v, u
  }' "$WORK/results"
}

# target ID A B OP GOAL [WHAT]: checks the ratio of the recorded figures
# A / B (B may be a number instead: 1 checks A itself) against GOAL, OP
# being <= or >=; prints the verdict and adds a row to the summary. WHAT
# names the checked figure when it is not plain A / B.
target() {
  local id=$1 a=$2 b=$3 op=$4 goal=$5 va vb r met what peer
  va=$(value "$a")
  if [[ $b =~ ^[0-9.]+$ ]]; then vb=$b; peer=""; else vb=$(value "$b"); peer=$(show "$b"); fi
  r=$(awk -v a="$va" -v b="$vb" 'BEGIN {r = a / b; printf (r >= 1000 ? "%.0f" : "%.3f"), r}')
  met=$(awk -v r="$r" -v g="$goal" -v op="$op" \
    'BEGIN {print ((op == "<=" && r <= g + 0) || (op == ">=" && r >= g + 0)) ? "met" : "not met"}')
  what=$a
  [ -z "$peer" ] || what="$a / $b"
  what=${6:-$what}
  printf '  %s target: %s = %s (%s %s): %s\n' "$id" "$what" "$r" "$op" "$goal" "$met"
  [ -z "$SUMMARY" ] || printf '| %s | %s | %s | %s | %s | %s %s | %s | `bench/%s` |\n' \
    "$id" "$what" "$(show "$a")" "${peer:--}" "$r" "$op" "$goal" "$met" "$(basename "$0")" >> "$SUMMARY"
}

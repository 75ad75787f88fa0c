#!/usr/bin/env bash
# PutEvents throughput of two eddy builds, alternating A and B, each run on a fresh server and
# data directory, with the same load generator (`eddy-bench put-events` next to B, or the one
# EDDY_BENCH names: 64 connections, 10-entry batches, one matching rule whose target is an eddy
# queue). Prints one line per run: the build, the server's CPU time (user + system, ms) during the
# run, and the benchmark's JSON.
#
#   bench/ab_put_events.sh A_BINARY B_BINARY [ROUNDS] [SECONDS]
#   bench/ab_put_events.sh /work/wt-old/target/release/eddy target/release/eddy 4 10
#   RATE=40000 bench/ab_put_events.sh ...   # a fixed load (events/s): compare the CPU it costs
set -euo pipefail
a=$1; b=$2; rounds=${3:-3}; secs=${4:-10}
gen=${EDDY_BENCH:-$(dirname "$b")/eddy-bench}
run() {
  local label=$1 bin=$2 dir pid
  dir=$(mktemp -d)
  "$bin" serve --data-dir "$dir/data" --aws-listen 127.0.0.1:4599 --http-listen 127.0.0.1:0 \
    >/dev/null 2>&1 &
  pid=$!
  sleep 0.5
  local before after out
  before=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  out=$("$gen" put-events --endpoint 127.0.0.1:4599 --connections 64 --seconds "$secs" \
    --setup-rule ${RATE:+--rate "$RATE"} | tail -1)
  after=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  printf '%s cpu_ms=%s %s\n' "$label" "$(( (after - before) * 1000 / $(getconf CLK_TCK) ))" "$out"
  kill "$pid"; wait "$pid" 2>/dev/null || true
  rm -rf "$dir"
}
for _ in $(seq "$rounds"); do
  run A "$a"
  run B "$b"
done

#!/usr/bin/env bash
# Cluster benchmark: NODES eddy nodes sharing one PostgreSQL schema, next to one node on the
# embedded store, in the same run. For each: PutEvents as fast as 64 connections go (events/s,
# no rule), deliveries to a queue target (100,000 events, deliveries/s), and PutEvents at a
# steady 2,000 events/s (latency percentiles). Prints one JSON line per measurement.
#
#   PG=postgres://postgres@127.0.0.1:5432/postgres NODES=3 bench/cluster.sh
set -euo pipefail
BIN=${BIN:-target/release}
PG=${PG:-${EDDY_TEST_PG:-postgres://postgres@127.0.0.1:5432/postgres}}
NODES=${NODES:-3}
SECONDS_EACH=${SECONDS_EACH:-10}
EVENTS=${EVENTS:-100000}
ROOT=$(mktemp -d /tmp/eddy-cluster-bench-XXXX)
SCHEMA="bench_$(date +%s)"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  psql "$PG" -qc "DROP SCHEMA IF EXISTS $SCHEMA CASCADE" >/dev/null 2>&1 || true
  rm -rf "$ROOT"
}
trap cleanup EXIT

# Starts a node; prints its AWS endpoint (host:port).
start() {
  local name=$1; shift
  mkdir -p "$ROOT/$name"
  "$BIN/eddy" serve --node "$name" --data-dir "$ROOT/$name" --aws-listen 127.0.0.1:0 \
    --http-listen 127.0.0.1:0 "$@" > "$ROOT/$name.out" 2> "$ROOT/$name.err" &
  PIDS+=($!)
  for _ in $(seq 100); do
    if grep -q 'aws=http://' "$ROOT/$name.out" 2>/dev/null; then
      sed -n 's/.*aws=http:\/\/\([^ ]*\).*/\1/p' "$ROOT/$name.out" | head -1
      return
    fi
    sleep 0.1
  done
  echo "node $name did not start" >&2; cat "$ROOT/$name.err" >&2; exit 1
}

run() {
  local label=$1 endpoints=$2
  echo "{\"store\":\"$label\",\"measure\":\"put_events\",\"result\":$("$BIN/eddy-bench" put-events --endpoint "$endpoints" --connections 64 --seconds "$SECONDS_EACH")}"
  echo "{\"store\":\"$label\",\"measure\":\"deliveries\",\"result\":$("$BIN/eddy-bench" deliveries --target queue --endpoint "$endpoints" --events "$EVENTS" --connections 32)}"
  echo "{\"store\":\"$label\",\"measure\":\"put_events_at_2000\",\"result\":$("$BIN/eddy-bench" put-events --endpoint "$endpoints" --connections 16 --batch 1 --rate 2000 --seconds "$SECONDS_EACH")}"
}

embedded=$(start embedded)
run embedded "$embedded"

psql "$PG" -qc "CREATE SCHEMA $SCHEMA" >/dev/null
STORE="$PG?options=-c%20search_path%3D$SCHEMA"
[[ "$PG" == *\?* ]] && STORE="$PG&options=-c%20search_path%3D$SCHEMA"
endpoints=""
for i in $(seq "$NODES"); do
  e=$(start "n$i" --store "$STORE")
  endpoints="${endpoints:+$endpoints,}$e"
done
run "postgres-$NODES-nodes" "$endpoints"

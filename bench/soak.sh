#!/usr/bin/env bash
# Soak: PutEvents at RATE events/s for MINUTES with the event log's retention set to RET; prints
# the store's size (eddy.db + eddy.db-wal) and event count every 30 s.
set -euo pipefail
BIN=${BIN:-target/release}
MINUTES=${MINUTES:-15}; RET=${RET:-3m}; RATE=${RATE:-200}
DIR=$(mktemp -d /tmp/eddy-soak-XXXX)
$BIN/eddy serve --data-dir "$DIR" --aws-listen 127.0.0.1:4611 --http-listen 127.0.0.1:0 --event-retention "$RET" >/dev/null 2>&1 &
PID=$!
sleep 1
$BIN/eddy-bench put-events --endpoint 127.0.0.1:4611 --connections 4 --rate "$RATE" --seconds $((MINUTES*60)) > /tmp/soak-load.json 2>&1 &
LOAD=$!
START=$(date +%s)
while kill -0 $LOAD 2>/dev/null; do
  sleep 30
  T=$(( $(date +%s) - START ))
  SIZE=$(( $(stat -c %s "$DIR/eddy.db") + $(stat -c %s "$DIR/eddy.db-wal" 2>/dev/null || echo 0) ))
  EV=$(curl -s http://127.0.0.1:4611/metrics | awk '/^eddy_store_events /{print $2}')
  EXP=$(curl -s http://127.0.0.1:4611/metrics | awk '/^eddy_retention_expired_events_total /{print $2}')
  RECL=$(curl -s http://127.0.0.1:4611/metrics | awk '/^eddy_store_reclaimed_bytes_total /{print $2}')
  RSS=$(awk '/VmRSS/{print $2}' /proc/$PID/status)
  echo "t=${T}s store_bytes=$SIZE events=$EV expired=$EXP reclaimed=$RECL rss_kb=$RSS"
done
cat /tmp/soak-load.json
kill $PID

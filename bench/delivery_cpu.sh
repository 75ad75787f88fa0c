#!/usr/bin/env bash
# CPU time per event of `eddy-bench deliveries`: starts a fresh eddy server, runs the benchmark
# (the `eddy-bench` next to EDDY_BINARY, or the one EDDY_BENCH names) against it, and prints the
# benchmark's JSON line followed by the server's and the benchmark's CPU time (user + system) per
# event, in microseconds.
#
#   bench/delivery_cpu.sh [EDDY_BINARY] [-- extra `eddy-bench deliveries` arguments]
#   bench/delivery_cpu.sh target/release/eddy -- --target http --events 100000
set -euo pipefail
eddy=${1:-target/release/eddy}
shift || true
[ "${1:-}" = "--" ] && shift
gen=${EDDY_BENCH:-$(dirname "$eddy")/eddy-bench}
args=("$@")
[ ${#args[@]} -eq 0 ] && args=(--target http --events 100000)
events=100000
for ((i = 0; i < ${#args[@]}; i++)); do
  [ "${args[$i]}" = "--events" ] && events=${args[$((i + 1))]}
done
dir=$(mktemp -d)
port=${EDDY_BENCH_PORT:-4598}
"$eddy" serve --data-dir "$dir" --aws-listen 127.0.0.1:$port --http-listen 127.0.0.1:0 >"$dir/serve.log" 2>&1 &
server=$!
trap 'kill -9 $server 2>/dev/null; rm -rf "$dir"' EXIT
sleep 1
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
before=$(ticks $server)
start=$(date +%s.%N)
times=$( { TIMEFORMAT='%U %S'; time "$gen" deliveries --endpoint 127.0.0.1:$port "${args[@]}" >"$dir/out.json"; } 2>&1 )
after=$(ticks $server)
cat "$dir/out.json"
python3 - "$before" "$after" "$hz" "$events" $times <<'PY'
import json, sys
before, after, hz, events, user, system = sys.argv[1:7]
per = lambda seconds: round(seconds / int(events) * 1e6, 1)
print(json.dumps({
    "server_cpu_us_per_event": per((float(after) - float(before)) / int(hz)),
    "bench_cpu_us_per_event": per(float(user) + float(system)),
}))
PY

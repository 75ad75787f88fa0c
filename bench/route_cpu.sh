#!/usr/bin/env bash
# CPU per request of a function route under wrk: starts a fresh eddy (EDDY, default
# target/release/eddy) on 127.0.0.1:4599/3099, creates function `f` from eddy-test-function
# (handler `simple`; CONC=N makes it a Lambda Managed Instances function with
# PerExecutionEnvironmentMaxConcurrency N) and an HTTP API `GET /bench` to it, warms up 2 s,
# then runs `wrk -t1 -cCONNS -dSECS` and prints requests/s with the CPU per request of eddy,
# of the whole machine (total) and of wrk. Needs wrk and curl.
#   bench/route_cpu.sh [CONNS] [SECS]        CONC=16 bench/route_cpu.sh 16 6
# PERF=1 records `perf record -a -g` for 3 s into /tmp/eddy-route-perf.data.
set -uo pipefail
eddy=${EDDY:-target/release/eddy}; conns=${1:-8}; secs=${2:-6}
pkill -9 -f "serve --data-dir" 2>/dev/null; sleep 0.3
dir=$(mktemp -d); chmod 755 "$dir"
env ${EDDYENV:-X=1} "$eddy" serve --data-dir "$dir" --code-root "$dir" --aws-listen 127.0.0.1:4599 --http-listen 127.0.0.1:3099 >"$dir/serve.log" 2>&1 &
server=$!
sleep 0.5
mkdir -p $dir/fn && cp -f ${FN:-$(dirname $eddy)/eddy-test-function} $dir/fn/bootstrap
curl -s --user test:test --aws-sigv4 aws:amz:us-east-1:lambda -XPOST http://127.0.0.1:4599/2015-03-31/functions -d '{"FunctionName":"f","Runtime":"provided.al2023","Role":"arn:aws:iam::123456789012:role/x","Handler":"'${HANDLER:-simple}'","Code":{"S3Bucket":"hot-reload","S3Key":"'"$dir"'/fn"}'${CONC:+,\"CapacityProviderConfig\":{\"LambdaManagedInstancesCapacityProviderConfig\":{\"CapacityProviderArn\":\"arn:aws:lambda:us-east-1:123456789012:capacity-provider:eddy\",\"PerExecutionEnvironmentMaxConcurrency\":$CONC\}\}}'}' | head -c 300; echo
api=$(curl -s --user test:test --aws-sigv4 aws:amz:us-east-1:apigateway -XPOST http://127.0.0.1:4599/v2/apis -d '{"name":"b","protocolType":"HTTP","target":"arn:aws:lambda:us-east-1:123456789012:function:f","routeKey":"GET /bench"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["apiId"])')
ticks() { local t=0; for p in "$@"; do t=$((t + $(awk '{print $14 + $15}' /proc/$p/stat))); done; echo $t; }
sys() { awk '/^cpu /{print $2+$3+$4+$7+$8}' /proc/stat; }
wrk -t1 -c$conns -d2s http://127.0.0.1:3099/_api/$api/bench >/dev/null
b1=$(ticks $server); b2=$(sys); bu=$(awk '{print $14}' /proc/$server/stat); bk=$(pgrep -P $server | tr '\n' ' '); bku=$(for p in $bk; do awk '{print $14}' /proc/$p/stat; done | paste -sd+ | bc); bks=$(for p in $bk; do awk '{print $15}' /proc/$p/stat; done | paste -sd+ | bc)
if [ -n "${PERF:-}" ]; then (sleep 1; perf record -a -g -o /tmp/eddy-route-perf.data -- sleep 3 >/dev/null 2>&1) & perfpid=$!; fi
out=$( { TIMEFORMAT='%U %S'; time wrk -t1 -c$conns -d${secs}s http://127.0.0.1:3099/_api/$api/bench; } 2>&1 )
a1=$(ticks $server); a2=$(sys); au=$(awk '{print $14}' /proc/$server/stat); aku=$(for p in $bk; do awk '{print $14}' /proc/$p/stat; done | paste -sd+ | bc); aks=$(for p in $bk; do awk '{print $15}' /proc/$p/stat; done | paste -sd+ | bc); k=$(pgrep -P $server | wc -l)
rps=$(echo "$out" | awk '/Requests\/sec/{print $2}')
reqs=$(echo "$out" | awk '/requests in/{print $1}')
wt=$(echo "$out" | tail -1)
python3 -c "
reqs=$reqs; hz=100
u,s=map(float,'$wt'.split())
print(f'rps=$rps eddy={($a1-$b1)/hz/reqs*1e6:.1f}us total={($a2-$b2)/hz/reqs*1e6:.1f}us wrk={(u+s)/reqs*1e6:.1f}us instances=$k eddy_user={($au-$bu)/hz/reqs*1e6:.1f}us fn_user={($aku-$bku)/hz/reqs*1e6:.1f}us fn_sys={($aks-$bks)/hz/reqs*1e6:.1f}us')
"
[ -n "${PERF:-}" ] && wait $perfpid
kill -9 $server; sleep 0.5; echo "left: $(pgrep -fc $dir/fn/bootstrap)"; pkill -9 -f $dir/fn/bootstrap; rm -rf "$dir"

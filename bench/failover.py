#!/usr/bin/env python3
"""Failover: how long a killed node's leased work waits before another node delivers it.

Three nodes on one PostgreSQL schema (`--lease-ms LEASE`), a rule delivering to an HTTP endpoint
served here that holds the first attempt of each event open (so the node delivering it keeps its
lease, renewing it), one event put. The node holding the work item (read from the store's `work`
table) is killed with SIGKILL; the time until the endpoint sees the event again from another node
is the failover time. Prints one JSON line per run.

    PG=postgres://postgres@127.0.0.1:5432/postgres LEASE_MS=10000 RUNS=3 \\
        /work/venv-shared/bin/python bench/failover.py
"""

import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
from botocore.config import Config

BIN = os.environ.get("BIN", "target/release")
PG = os.environ.get("PG", os.environ.get("EDDY_TEST_PG", "postgres://postgres@127.0.0.1:5432/postgres"))
LEASE_MS = int(os.environ.get("LEASE_MS", "10000"))
RUNS = int(os.environ.get("RUNS", "3"))

arrivals = []
lock = threading.Lock()


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        with lock:
            first = not arrivals
            arrivals.append(time.monotonic())
        if first:
            time.sleep(LEASE_MS / 1000 * 6)  # hold the first attempt open: its node keeps the lease
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()
        del body

    def log_message(self, *args):
        pass


def psql(sql):
    return subprocess.run(["psql", PG, "-Atqc", sql], check=True, capture_output=True,
                          text=True).stdout.strip()


def client(endpoint, service):
    return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="t", aws_secret_access_key="t",
                        config=Config(retries={"max_attempts": 1}))


def run_once(n):
    arrivals.clear()
    schema = f"failover_{int(time.time())}_{n}"
    psql(f"CREATE SCHEMA {schema}")
    store = f"{PG}{'&' if '?' in PG else '?'}options=-c%20search_path%3D{schema}"
    root = tempfile.mkdtemp(prefix="eddy-failover-")
    procs, endpoints = {}, {}
    try:
        for name in ("a", "b", "c"):
            p = subprocess.Popen(
                [f"{BIN}/eddy", "serve", "--node", name, "--store", store, "--data-dir",
                 os.path.join(root, name), "--aws-listen", "127.0.0.1:0", "--http-listen",
                 "127.0.0.1:0", "--lease-ms", str(LEASE_MS)],
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            m = re.search(r"aws=(http://\S+)", p.stdout.readline())
            procs[name], endpoints[name] = p, m.group(1)
        server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_address[1]}/hook"
        ev = client(endpoints["a"], "events")
        conn = ev.create_connection(Name="c", AuthorizationType="API_KEY", AuthParameters={
            "ApiKeyAuthParameters": {"ApiKeyName": "x-key", "ApiKeyValue": "v"}})
        dest = ev.create_api_destination(Name="d", ConnectionArn=conn["ConnectionArn"],
                                         InvocationEndpoint=url, HttpMethod="POST")
        ev.put_rule(Name="r", EventPattern=json.dumps({"source": ["failover"]}))
        ev.put_targets(Rule="r", Targets=[{"Id": "t", "Arn": dest["ApiDestinationArn"]}])
        time.sleep(1.5)  # every node has the rule
        ev.put_events(Entries=[{"Source": "failover", "DetailType": "t", "Detail": "{}"}])
        deadline = time.monotonic() + 30
        while not arrivals and time.monotonic() < deadline:
            time.sleep(0.05)
        holder = psql(f"SELECT holder FROM {schema}.work WHERE leased LIMIT 1")
        killed = time.monotonic()
        procs[holder].kill()
        deadline = killed + LEASE_MS / 1000 * 4
        while len(arrivals) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        took = arrivals[1] - killed if len(arrivals) > 1 else None
        server.shutdown()
        return {"bench": "failover", "lease_ms": LEASE_MS, "killed": holder,
                "failover_seconds": round(took, 2) if took else None,
                "within_2x_lease": took is not None and took <= 2 * LEASE_MS / 1000}
    finally:
        for p in procs.values():
            p.kill()
        shutil.rmtree(root, ignore_errors=True)
        psql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


if __name__ == "__main__":
    for i in range(RUNS):
        print(json.dumps(run_once(i)), flush=True)

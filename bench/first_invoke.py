#!/usr/bin/env python3
"""A newcomer's first function: the time from starting `eddy serve` on `eddy init`'s app to
the first answered invocation of its Python function (a cold start included), and to the first
event a rule delivered to it, on a fresh data directory each run. Prints one JSON line.

    cargo build --locked --release -p eddy
    python3 -m venv /tmp/qs-venv && /tmp/qs-venv/bin/pip install awslambdaric
    python3 bench/first_invoke.py --python /tmp/qs-venv/bin/python [--runs 10]
"""

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time
import urllib.request


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--bin", default="target/release/eddy")
    ap.add_argument("--python", required=True, help="an interpreter with awslambdaric")
    args = ap.parse_args()
    eddy = os.path.abspath(args.bin)
    invoked, delivered = [], []
    for _ in range(args.runs):
        d = tempfile.mkdtemp(prefix="eddy-first-invoke-")
        subprocess.run([eddy, "init", d], check=True, capture_output=True)
        t = time.perf_counter()
        p = subprocess.Popen([eddy, "serve", "--python", args.python, "--function-user",
                              "current", "--aws-listen", "127.0.0.1:0", "--http-listen",
                              "127.0.0.1:0"], cwd=d, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True)
        try:
            m = re.search(r"aws=http://(\S+) http=(http://\S+)", p.stdout.readline())
            aws, http = m.group(1), m.group(2)
            r = subprocess.run([eddy, "invoke", "handle-order", '{"detail": {"id": "x"}}',
                                "--endpoint", aws], capture_output=True, text=True)
            assert r.returncode == 0 and "handled" in r.stdout, r
            invoked.append(time.perf_counter() - t)
            # An event through the route, the bus and a rule to the (now warm) function.
            req = urllib.request.Request(http + "/orders", method="POST",
                                         data=b'{"id": "1", "total": 5}')
            urllib.request.urlopen(req).read()
            r = subprocess.run([eddy, "logs", "handle-order", "--until", "order 1 placed",
                                "--timeout", "30", "--endpoint", aws], capture_output=True)
            assert r.returncode == 0, r
            delivered.append(time.perf_counter() - t)
        finally:
            p.terminate()
            p.wait()
            shutil.rmtree(d, ignore_errors=True)
    ms = lambda xs: {"median_ms": round(statistics.median(xs) * 1000, 1),
                     "max_ms": round(max(xs) * 1000, 1)}
    print(json.dumps({"runs": args.runs, "serve_to_first_invocation": ms(invoked),
                      "serve_to_first_delivered_event": ms(delivered)}))


if __name__ == "__main__":
    main()

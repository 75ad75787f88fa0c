#!/usr/bin/env python3
"""Start-up and idle-memory benchmark for `eddy serve`.

Starts the release binary N times on a fresh data directory, measures the time from spawn until
`GET /_eddy/health` answers, then the resident memory after 300 ms idle. Prints one JSON line.

    cargo build --locked --release -p eddy && python3 bench/startup.py [--runs 15]
"""

import argparse
import json
import re
import shutil
import statistics
import subprocess
import tempfile
import time
import urllib.request


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--bin", default="target/release/eddy")
    args = ap.parse_args()
    ready, rss = [], []
    for _ in range(args.runs):
        d = tempfile.mkdtemp(prefix="eddy-startup-")
        t = time.perf_counter()
        p = subprocess.Popen([args.bin, "serve", "--data-dir", d, "--aws-listen", "127.0.0.1:0",
                              "--http-listen", "127.0.0.1:0"],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        aws = re.search(r"aws=(\S+)", p.stdout.readline()).group(1)
        urllib.request.urlopen(aws + "/_eddy/health").read()
        ready.append((time.perf_counter() - t) * 1000)
        time.sleep(0.3)
        with open(f"/proc/{p.pid}/status") as f:
            rss.append(int(f.read().split("VmRSS:")[1].split()[0]) / 1024)
        p.terminate()
        p.wait()
        shutil.rmtree(d, ignore_errors=True)
    print(json.dumps({
        "bench": "startup",
        "runs": args.runs,
        "ready_ms": {"min": round(min(ready), 1), "median": round(statistics.median(ready), 1),
                     "max": round(max(ready), 1)},
        "idle_rss_mib": {"median": round(statistics.median(rss), 1), "max": round(max(rss), 1)},
    }))


if __name__ == "__main__":
    main()

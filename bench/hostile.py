#!/usr/bin/env python3
"""Hostile clients against `eddy serve`, and what they cost it: connections, timeouts and memory.

Standard library only. Starts the eddy binary itself (a fresh data directory, both listeners on
port 0, the flags after `--` added), runs one scenario against the AWS endpoint, samples eddy's
/proc/PID/status (VmRSS, VmHWM) and open file descriptors every 100 ms, and prints one JSON line.

    cargo build --locked --release -p eddy
    python3 bench/hostile.py startup --runs 20
    python3 bench/hostile.py startup --runs 20 --against /tmp/old/target/release/eddy
    python3 bench/hostile.py idle --connections 10000 --hold 30
    python3 bench/hostile.py idle --connections 10000 --hold 30 --request
    python3 bench/hostile.py slow-header --clients 320 --every 3
    python3 bench/hostile.py slow-body --clients 320 --every 3
    python3 bench/hostile.py slow-body --clients 16 --every 1 --length 8388608 --probe-bytes 100000
    python3 bench/hostile.py bodies --kind put-events --clients 8 --mb 70
    python3 bench/hostile.py bodies --kind put-events-chunked --clients 8 --mb 70
    python3 bench/hostile.py bodies --kind create-function --clients 8 --zip-mb 39
    python3 bench/hostile.py bodies --kind create-function --clients 8 --zip-mb 39 --rounds 3 --settle 10
    python3 bench/hostile.py --bin /tmp/old/target/release/eddy idle ...   # another binary
    python3 bench/hostile.py idle -- --max-connections 4096                # extra eddy flags

Scenarios:

* `startup`: time from exec to the `eddy ready` line, VmRSS then and after 1 s idle.
* `idle`: opens N connections at once and keeps them silent (or, with `--request`, sends one
  `GET /_eddy/health` on each as soon as it is connected, then keeps it open). Counts the
  connections the client saw established, answered, and closed by eddy, and how long a separate
  well-behaved client (one health request a second, on a new connection) waits meanwhile.
* `slow-header`: N clients each send a request head one byte every E seconds.
* `slow-body`: N clients each send a complete PutEvents head (Content-Length L, default
  100000), then the body one byte every E seconds. Both report when eddy cut each client
  (seconds after it connected) and what it answered; with `--probe-bytes B`, how long a
  well-behaved PutEvents of B bytes (on a new connection, once a second) waits meanwhile.
* `bodies`: N clients at once each send one large body: `put-events` (a declared length over
  PutEvents' 8 MiB limit), `put-events-chunked` (the same without a declared length), or
  `create-function` (a valid CreateFunction whose Code.ZipFile is a real zip of Z MB of random
  bytes, base64-encoded, under Lambda's 70 MiB request limit). Reports eddy's RSS before, its peak
  (VmHWM) and the difference, and each client's answer.
"""

import argparse
import base64
import errno
import io
import json
import os
import re
import resource
import selectors
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile

MIB = 1024 * 1024
AUTH = ("AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/{service}/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64)


def raise_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 1 << 20
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    except (ValueError, OSError):
        pass
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


class Eddy:
    """The server under test, started from `bin` with `extra` flags; eddy inherits this
    process's file descriptor limit."""

    def __init__(self, binary, extra):
        self.dir = tempfile.mkdtemp(prefix="eddy-hostile-")
        self.t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            [binary, "serve", "--data-dir", self.dir, "--aws-listen", "127.0.0.1:0",
             "--http-listen", "127.0.0.1:0", *extra],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.proc.stdout.readline()
        self.ready_ms = (time.perf_counter() - self.t0) * 1000
        m = re.search(r"aws=http://([\d.]+):(\d+)", line)
        if not m:
            self.proc.kill()
            raise SystemExit(f"eddy did not start: {line!r}")
        self.addr = (m.group(1), int(m.group(2)))
        self.samples = []
        self._stop = threading.Event()
        self._sampler = None

    def status(self):
        out = {}
        try:
            with open(f"/proc/{self.proc.pid}/status") as f:
                for line in f:
                    k, _, v = line.partition(":")
                    if k in ("VmRSS", "VmHWM", "Threads"):
                        out[k] = int(v.split()[0])
            out["fds"] = len(os.listdir(f"/proc/{self.proc.pid}/fd"))
        except (FileNotFoundError, ProcessLookupError):
            pass
        return out

    def start_sampling(self, every=0.1):
        t0 = time.monotonic()

        def run():
            while not self._stop.is_set():
                s = self.status()
                s["t"] = round(time.monotonic() - t0, 2)
                self.samples.append(s)
                self._stop.wait(every)

        self._sampler = threading.Thread(target=run, daemon=True)
        self._sampler.start()

    def stop(self):
        self._stop.set()
        if self._sampler:
            self._sampler.join()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    def peak(self, key):
        values = [s[key] for s in self.samples if key in s]
        return max(values) if values else None


def mib(kib):
    return None if kib is None else round(kib / 1024, 1)


def request(addr, raw, timeout=60.0):
    """Sends `raw` on a new connection; returns (seconds until the answer's first line, status)."""
    t = time.perf_counter()
    try:
        with socket.create_connection(addr, timeout=timeout) as s:
            s.sendall(raw)
            data = b""
            while b"\r\n" not in data:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
    except OSError as e:
        return time.perf_counter() - t, f"error: {e.__class__.__name__}"
    status = data.split(b" ", 2)[1].decode() if data.startswith(b"HTTP/") else "none"
    return time.perf_counter() - t, status


def health(addr):
    return (f"GET /_eddy/health HTTP/1.1\r\nHost: {addr[0]}:{addr[1]}\r\n"
            "Connection: close\r\n\r\n").encode()


def summary(values):
    if not values:
        return None
    values = sorted(values)
    return {"min": round(values[0], 2), "median": round(statistics.median(values), 2),
            "p90": round(values[int(len(values) * 0.9) - 1 if len(values) > 1 else 0], 2),
            "max": round(values[-1], 2), "n": len(values)}


# Scenarios.

def startup(args):
    """Runs alternate between `--bin` and the `--against` binaries, so that a machine whose load
    drifts during the runs treats them alike."""
    bins = [args.bin, *args.against]
    got = {b: {"ready": [], "rss_ready": [], "rss_idle": []} for b in bins}
    for _ in range(args.runs):
        for b in bins:
            e = Eddy(b, args.extra)
            got[b]["ready"].append(e.ready_ms)
            got[b]["rss_ready"].append(e.status()["VmRSS"] / 1024)
            time.sleep(1)
            got[b]["rss_idle"].append(e.status()["VmRSS"] / 1024)
            e.stop()
    out = {b: {"ready_ms": summary(g["ready"]), "rss_at_ready_mib": summary(g["rss_ready"]),
               "rss_after_1s_mib": summary(g["rss_idle"])} for b, g in got.items()}
    return {"runs": args.runs, **(out[args.bin] if not args.against else {"by_bin": out})}


def idle(args, e):
    conns = {}  # fd -> dict(sock, state, t_open)
    sel = selectors.DefaultSelector()
    counts = {"established": 0, "answered": 0, "closed_by_eddy": 0, "refused": 0}
    closed_at = []
    msg = health(e.addr)
    t0 = time.monotonic()
    for _ in range(args.connections):
        s = socket.socket()
        s.setblocking(False)
        err = s.connect_ex(e.addr)
        if err not in (0, errno.EINPROGRESS):
            counts["refused"] += 1
            s.close()
            continue
        conns[s.fileno()] = {"sock": s, "state": "connecting", "t": time.monotonic()}
        sel.register(s, selectors.EVENT_WRITE)
    opened_in = time.monotonic() - t0

    prober = Prober(e.addr, msg)
    timeline = []
    next_mark = 0.0
    while time.monotonic() - t0 < args.hold:
        for key, mask in sel.select(timeout=0.1):
            c = conns[key.fd]
            s = c["sock"]
            if c["state"] == "connecting":
                err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    counts["refused"] += 1
                    sel.unregister(s)
                    s.close()
                    c["state"] = "dead"
                    continue
                counts["established"] += 1
                c["state"] = "open"
                if args.request:
                    try:
                        s.send(msg.replace(b"Connection: close\r\n", b""))
                    except OSError:
                        pass
                sel.modify(s, selectors.EVENT_READ)
                continue
            try:
                data = s.recv(65536)
            except OSError:
                data = b""
            if data:
                if data.startswith(b"HTTP/1.1 200") and not c.get("answered"):
                    c["answered"] = True
                    counts["answered"] += 1
                continue
            counts["closed_by_eddy"] += 1
            closed_at.append(time.monotonic() - c["t"])
            sel.unregister(s)
            s.close()
            c["state"] = "dead"
        now = time.monotonic() - t0
        if now >= next_mark:
            st = e.status()
            timeline.append({"t": round(now, 1), **counts,
                             "eddy_fds": st.get("fds"), "rss_mib": mib(st.get("VmRSS"))})
            next_mark += 5.0
    probe = prober.stop()
    for c in conns.values():
        if c["state"] != "dead":
            c["sock"].close()
    return {"connections": args.connections, "request": args.request, "hold_s": args.hold,
            "opened_in_s": round(opened_in, 2), **counts,
            "still_connecting": sum(1 for c in conns.values() if c["state"] == "connecting"),
            "closed_after_s": summary(closed_at),
            "probe": probe,
            "timeline": timeline}


def slow(args, e, body):
    host = f"{e.addr[0]}:{e.addr[1]}"
    if body:
        head = put_events_head(host, args.length)
        trickle = put_events_body(args.length)
    else:
        head = b""
        trickle = (f"POST / HTTP/1.1\r\nHost: {host}\r\nX-Pad: " + "a" * 10_000).encode()
    sel = selectors.DefaultSelector()
    clients = []
    t0 = time.monotonic()
    for i in range(args.clients):
        s = socket.create_connection(e.addr)
        if head:
            s.sendall(head)
        s.setblocking(False)
        c = {"sock": s, "t": time.monotonic(), "pos": 0, "next": time.monotonic(),
             "cut": None, "answer": None}
        clients.append(c)
        sel.register(s, selectors.EVENT_READ, c)
    open_now = len(clients)
    prober = Prober(e.addr, put_events_head(host, args.probe_bytes) +
                    put_events_body(args.probe_bytes)) if args.probe_bytes else None
    while open_now and time.monotonic() - t0 < args.max_seconds:
        now = time.monotonic()
        for c in clients:
            if c["cut"] is None and now >= c["next"]:
                try:
                    c["sock"].send(trickle[c["pos"]:c["pos"] + 1])
                    c["pos"] += 1
                except OSError:
                    pass
                c["next"] = now + args.every
        for key, _ in sel.select(timeout=0.05):
            c = key.data
            try:
                data = c["sock"].recv(65536)
            except OSError:
                data = b""
            if data:
                if c["answer"] is None:
                    c["answer"] = data.split(b"\r\n", 1)[0].decode(errors="replace")
                continue
            c["cut"] = time.monotonic() - c["t"]
            sel.unregister(c["sock"])
            c["sock"].close()
            open_now -= 1
    probe = prober.stop() if prober else None
    for c in clients:
        if c["cut"] is None:
            c["sock"].close()
    answers = {}
    for c in clients:
        answers[c["answer"] or "none"] = answers.get(c["answer"] or "none", 0) + 1
    return {"clients": args.clients, "every_s": args.every,
            "cut": sum(1 for c in clients if c["cut"] is not None),
            "still_open_after_s": None if not open_now else round(time.monotonic() - t0, 1),
            "cut_after_s": summary([c["cut"] for c in clients if c["cut"] is not None]),
            "bytes_sent_each": summary([c["pos"] + len(head) for c in clients]),
            "answers": answers, **({"probe": probe} if probe else {})}


def put_events_head(host, length):
    return (f"POST / HTTP/1.1\r\nHost: {host}\r\n"
            f"Authorization: {AUTH.format(service='events')}\r\n"
            "X-Amz-Target: AWSEvents.PutEvents\r\n"
            "Content-Type: application/x-amz-json-1.1\r\n"
            f"Content-Length: {length}\r\n\r\n").encode()


def put_events_body(length):
    """A valid PutEvents body of exactly `length` bytes (at least 80)."""
    shell = json.dumps({"Entries": [{"Source": "s", "DetailType": "d",
                                     "Detail": json.dumps({"p": ""})}]})
    pad = length - len(shell)
    body = json.dumps({"Entries": [{"Source": "s", "DetailType": "d",
                                    "Detail": json.dumps({"p": "x" * pad})}]})
    assert len(body) == length, (len(body), length)
    return body.encode()


class Prober:
    """A well-behaved client: `raw` on a new connection once a second, timing each answer."""

    def __init__(self, addr, raw):
        self.addr, self.raw = addr, raw
        self.waits, self.status, self.since = [], {}, None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            self.since = time.monotonic()
            wait, status = request(self.addr, self.raw, timeout=600)
            self.since = None
            if self._stop.is_set():
                break
            self.waits.append(wait)
            self.status[status] = self.status.get(status, 0) + 1
            self._stop.wait(max(0.0, 1.0 - wait))

    def stop(self):
        since = self.since
        self._stop.set()
        return {"wait_s": summary(self.waits), "status": self.status,
                "unanswered_at_end_s": None if since is None else
                round(time.monotonic() - since, 2)}


def real_zip(megabytes):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        info = zipfile.ZipInfo("bootstrap")
        info.external_attr = 0o100755 << 16
        z.writestr(info, "#!/bin/sh\nexit 1\n")
        z.writestr("data.bin", os.urandom(int(megabytes * 1_000_000)))
    return buf.getvalue()


def bodies(args, e):
    host = f"{e.addr[0]}:{e.addr[1]}"
    parts = []  # per client: (head, [body pieces], chunked)
    if args.kind == "create-function":
        code = base64.b64encode(real_zip(args.zip_mb))
        for i in range(args.clients):
            prefix = json.dumps({"FunctionName": f"big{i}", "Runtime": "provided.al2023",
                                 "Role": "arn:aws:iam::123456789012:role/r", "Handler": "h",
                                 "Code": {"ZipFile": "@"}}).encode()
            before, after = prefix.split(b"@")
            length = len(before) + len(code) + len(after)
            head = (f"POST /2015-03-31/functions HTTP/1.1\r\nHost: {host}\r\n"
                    f"Authorization: {AUTH.format(service='lambda')}\r\n"
                    "Content-Type: application/json\r\n"
                    f"Content-Length: {length}\r\n\r\n").encode()
            parts.append((head, [before, code, after], False))
        body_bytes = length
    else:
        total = int(args.mb * 1_000_000)
        filler = b'{"Entries": [' + b" " * (total - 14) + b"]"
        chunked = args.kind == "put-events-chunked"
        length = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {total}"
        head = (f"POST / HTTP/1.1\r\nHost: {host}\r\n"
                f"Authorization: {AUTH.format(service='events')}\r\n"
                "X-Amz-Target: AWSEvents.PutEvents\r\n"
                f"Content-Type: application/x-amz-json-1.1\r\n{length}\r\n\r\n").encode()
        parts = [(head, [filler], chunked)] * args.clients
        body_bytes = total
    for _ in range(3):  # warm up
        request(e.addr, health(e.addr))
    time.sleep(0.5)
    before = e.status()
    results = [None] * args.clients
    go = threading.Barrier(args.clients)

    def client(i):
        head, pieces, chunked = parts[i]
        go.wait()
        t = time.perf_counter()
        sent = 0
        try:
            with socket.create_connection(e.addr, timeout=300) as s:
                s.sendall(head)
                try:
                    for piece in pieces:
                        view = memoryview(piece)
                        for off in range(0, len(view), MIB):
                            chunk = view[off:off + MIB]
                            if chunked:
                                s.sendall(b"%x\r\n" % len(chunk))
                                s.sendall(chunk)
                                s.sendall(b"\r\n")
                            else:
                                s.sendall(chunk)
                            sent += len(chunk)
                    if chunked:
                        s.sendall(b"0\r\n\r\n")
                except OSError:
                    pass
                data = b""
                try:
                    while b"\r\n\r\n" not in data:
                        chunk = s.recv(65536)
                        if not chunk:
                            break
                        data += chunk
                except OSError:
                    pass
        except OSError as err:
            results[i] = {"error": str(err), "sent": sent}
            return
        first = data.split(b"\r\n", 1)[0].decode(errors="replace")
        etype = re.search(rb"x-amzn-errortype: (\S+)", data, re.I)
        results[i] = {"answer": first, "error_type": etype.group(1).decode() if etype else None,
                      "sent": sent, "seconds": round(time.perf_counter() - t, 2)}

    e.start_sampling(0.05)
    rounds, answers = [], {}
    for n in range(args.rounds):
        if n and args.kind == "create-function":
            # The same names again: delete the functions first (their code is unpacked again).
            for i in range(args.clients):
                request(e.addr, (f"DELETE /2015-03-31/functions/big{i} HTTP/1.1\r\n"
                                 f"Host: {host}\r\nAuthorization: {AUTH.format(service='lambda')}"
                                 "\r\nConnection: close\r\n\r\n").encode())
        go.reset()
        threads = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
        t = time.perf_counter()
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        elapsed = time.perf_counter() - t
        for r in results:
            key = f"{r.get('answer')} {r.get('error_type') or ''}".strip() if r else "none"
            answers[key] = answers.get(key, 0) + 1
        time.sleep(1)
        st = e.status()
        rounds.append({"seconds": round(elapsed, 2), "rss_after_1s_mib": mib(st.get("VmRSS")),
                       "peak_so_far_mib": mib(st.get("VmHWM"))})
    time.sleep(max(0.0, args.settle - 1))
    after = e.status()
    e.stop()  # the sampler stops too
    peak = max(e.peak("VmHWM") or 0, after.get("VmHWM", 0))
    return {"kind": args.kind, "clients": args.clients, "body_bytes": body_bytes,
            "seconds": round(elapsed, 2), "answers": answers, "rounds": rounds,
            "bytes_sent_each": summary([r["sent"] for r in results if r]),
            "idle_rss_mib": mib(before["VmRSS"]), "peak_rss_mib": mib(peak),
            "peak_minus_idle_mib": mib(peak - before["VmRSS"]),
            f"rss_after_{args.settle:g}s_mib": mib(after.get("VmRSS"))}


def main():
    argv = sys.argv[1:]
    extra = []
    if "--" in argv:
        i = argv.index("--")
        argv, extra = argv[:i], argv[i + 1:]
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default="target/release/eddy")
    sub = ap.add_subparsers(dest="scenario", required=True)
    p = sub.add_parser("startup")
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--against", action="append", default=[], metavar="BIN",
                   help="another eddy binary to start alternately with --bin (repeatable)")
    p = sub.add_parser("idle")
    p.add_argument("--connections", type=int, default=10_000)
    p.add_argument("--hold", type=float, default=30)
    p.add_argument("--request", action="store_true")
    for name in ("slow-header", "slow-body"):
        p = sub.add_parser(name)
        p.add_argument("--clients", type=int, default=320)
        p.add_argument("--every", type=float, default=3)
        p.add_argument("--max-seconds", type=float, default=120)
        p.add_argument("--probe-bytes", type=int, default=0,
                       help="meanwhile, a PutEvents of this many bytes once a second; its waits")
        if name == "slow-body":
            p.add_argument("--length", type=int, default=100_000,
                           help="the Content-Length each slow client declares")
    p = sub.add_parser("bodies")
    p.add_argument("--kind", choices=["put-events", "put-events-chunked", "create-function"],
                   default="put-events")
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--mb", type=float, default=70)
    p.add_argument("--zip-mb", type=float, default=39)
    p.add_argument("--rounds", type=int, default=1, help="send the N bodies this many times")
    p.add_argument("--settle", type=float, default=1,
                   help="seconds to wait after the last round before the last RSS reading")
    args = ap.parse_args(argv)
    args.extra = extra
    nofile = raise_fd_limit()
    out = {"bench": args.scenario, "bin": args.bin, "eddy_flags": extra, "nofile": nofile}
    if args.scenario == "startup":
        out.update(startup(args))
        print(json.dumps(out))
        return
    e = Eddy(args.bin, extra)
    try:
        idle_status = e.status()
        out["idle_rss_mib"] = mib(idle_status.get("VmRSS"))
        if args.scenario != "bodies":
            e.start_sampling()
        if args.scenario == "idle":
            out.update(idle(args, e))
        elif args.scenario == "slow-header":
            out.update(slow(args, e, body=False))
        elif args.scenario == "slow-body":
            out.update(slow(args, e, body=True))
        else:
            out.update(bodies(args, e))
        if args.scenario != "bodies":
            out["peak_rss_mib"] = mib(max(e.peak("VmHWM") or 0, e.status().get("VmHWM", 0)))
            out["peak_fds"] = e.peak("fds")
            out["peak_threads"] = e.peak("Threads")
    finally:
        e.stop()
    print(json.dumps(out))


if __name__ == "__main__":
    main()

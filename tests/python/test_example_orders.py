"""The orders example backend (examples/orders) end to end, as its README walks through it:
`eddy serve` in the example's directory, an ordinary HTTP client on the routes, and checks of
the queues, the SQLite rows, the webhook's requests, the dead-letter queue and the nightly
summary (with the dev clock)."""

import datetime
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import zoneinfo

import pytest

from conftest import ROOT, Eddy


class Webhook(http.server.BaseHTTPRequestHandler):
    received = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        Webhook.received.append({"path": self.path, "headers": dict(self.headers),
                                 "body": json.loads(body)})
        # The CRM rejects one customer: that event must end in the webhook's DLQ.
        status = 400 if json.loads(body).get("customer") == "mallory" else 200
        self.send_response(status)
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def shop():
    webhook = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Webhook)
    threading.Thread(target=webhook.serve_forever, daemon=True).start()
    d = tempfile.mkdtemp(prefix="eddy-orders-")
    app = os.path.join(d, "orders")
    src = os.path.join(ROOT, "examples", "orders")
    build = subprocess.run([os.path.join(src, "build.sh")], capture_output=True, text=True,
                           timeout=900)
    assert build.returncode == 0, build.stderr
    shutil.copytree(src, app, ignore=shutil.ignore_patterns(".eddy", "data", "target"))
    manifest = os.path.join(app, "eddy.toml")
    with open(manifest) as f:
        text = f.read().replace("127.0.0.1:8089", f"127.0.0.1:{webhook.server_port}")
    with open(manifest, "w") as f:
        f.write(text)
    # A relative --python, as the README's walkthrough gives it (relative to where eddy runs,
    # not to each function's code directory).
    python = os.path.relpath(sys.executable, app)
    server = Eddy(os.path.join(app, ".eddy"),
                  ["--python", python, "--function-user", "current"], cwd=app).start()
    yield app, server
    server.stop()
    webhook.shutdown()
    shutil.rmtree(d, ignore_errors=True)


def http_call(server, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(server.http + path, data=data, method=method,
                                 headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def drain(sqs, name, want, timeout=30):
    url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    got = []
    deadline = time.time() + timeout
    while len(got) < want and time.time() < deadline:
        for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                     MessageAttributeNames=["All"]).get("Messages", []):
            got.append(m)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return got


def test_the_orders_backend(shop):
    app, server = shop
    sqs = server.client("sqs")
    orders = {
        "alice": {"customer": "alice", "items": [{"sku": "book", "qty": 2, "price": 10}]},
        "bob": {"customer": "bob", "items": [{"sku": "tv", "qty": 1, "price": 1500}]},
        "mallory": {"customer": "mallory", "items": [{"sku": "pen", "qty": 1, "price": 2}]},
    }
    placed = {}
    for who, order in orders.items():
        status, body = http_call(server, "POST", "/orders", order)
        assert status == 201, body
        assert body["status"] == "placed"
        placed[who] = body
    assert placed["alice"]["total"] == 20 and placed["bob"]["total"] == 1500
    status, body = http_call(server, "POST", "/orders", {"customer": "eve", "items": []})
    assert status == 400 and "items" in body["message"]

    # notify (Rust) → its on-success destination, the notifications queue.
    notes = drain(sqs, "notifications", 3)
    messages = sorted(json.loads(m["Body"])["responsePayload"]["message"] for m in notes)
    assert len(messages) == 3
    assert messages[0].startswith(f"Hello alice, your order {placed['alice']['id']} (20.00)")

    # Only the big order reaches the review queue, shaped by InputPath.
    review = drain(sqs, "review", 1)
    assert [json.loads(m["Body"])["customer"] for m in review] == ["bob"]
    assert not drain(sqs, "review", 1, timeout=1)

    # The webhook got every order through the input transformer; mallory's was refused (400,
    # not retried) and is in the DLQ with AWS's attributes.
    dlq = drain(sqs, "webhook-dlq", 1)
    assert dlq[0]["MessageAttributes"]["ERROR_CODE"]["StringValue"]
    assert json.loads(dlq[0]["Body"])["detail"]["customer"] == "mallory"
    bodies = sorted((r["body"] for r in Webhook.received), key=lambda b: b["customer"])
    assert [b["customer"] for b in bodies] == ["alice", "bob", "mallory"]
    assert bodies[0] == {"order": placed["alice"]["id"], "customer": "alice", "amount": 20}

    # store (Python) wrote SQLite rows; GET /orders/{id} reads them back.
    db = os.path.join(app, "data", "orders.sqlite")
    deadline = time.time() + 20
    rows = []
    while time.time() < deadline:
        if os.path.exists(db):
            import sqlite3
            with sqlite3.connect(db) as c:
                try:
                    rows = c.execute("SELECT customer, total FROM orders ORDER BY customer").fetchall()
                except sqlite3.OperationalError:
                    rows = []
        if len(rows) == 3:
            break
        time.sleep(0.2)
    assert rows == [("alice", 20.0), ("bob", 1500.0), ("mallory", 2.0)]
    status, body = http_call(server, "GET", f"/orders/{placed['bob']['id']}")
    assert status == 200 and body["customer"] == "bob" and body["total"] == 1500
    status, body = http_call(server, "GET", "/orders/nope")
    assert status == 404

    # The nightly summary: move eddy's clock to the next 02:00 in Berlin.
    berlin = zoneinfo.ZoneInfo("Europe/Berlin")
    now = datetime.datetime.now(berlin)
    two = now.replace(hour=2, minute=0, second=0, microsecond=0)
    if two <= now:
        two += datetime.timedelta(days=1)
    target = two.astimezone(datetime.timezone.utc) + datetime.timedelta(seconds=1)
    status, _, raw = server.post("/_eddy/clock", json.dumps(
        {"set": target.strftime("%Y-%m-%dT%H:%M:%SZ")}).encode())
    assert status == 200, raw
    summary = drain(sqs, "summaries", 1)
    s = json.loads(summary[0]["Body"])
    assert s["orders"] == 3 and s["revenue"] == 1522 and s["report"] == "daily"

"""Several eddy nodes sharing one PostgreSQL store, as a scaled-out deployment runs them: real
`eddy serve` processes, each with its own data directory and node name, on one schema. Runs
when the suite runs on PostgreSQL (`EDDY_TEST_STORE=postgres://...`, the second pass of
`scripts/test`)."""

import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlparse

import pytest
from botocore.exceptions import ClientError

from conftest import PG_STORE, Eddy, pg_store_uri, psql, wait_for

pytestmark = pytest.mark.skipif(not PG_STORE, reason="needs EDDY_TEST_STORE=postgres://...")

ACCOUNT = "123456789012"


class Cluster:
    """Nodes on one schema; each has its own data directory."""

    def __init__(self, lease_ms=None):
        self.root = tempfile.mkdtemp(prefix="eddy-cluster-")
        self.store = pg_store_uri(os.path.join(self.root, "store"))
        self.lease_ms = lease_ms
        self.nodes = {}

    def start(self, name, store=None):
        args = ["--node", name, "--store", store or self.store, "--function-user", "current"]
        if self.lease_ms:
            args += ["--lease-ms", str(self.lease_ms)]
        node = Eddy(os.path.join(self.root, name), args).start()
        self.nodes[name] = node
        return node

    def stop(self):
        for n in self.nodes.values():
            n.stop(sig_kill=True)
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def cluster():
    c = Cluster()
    yield c
    c.stop()


def queue_arn(name):
    return f"arn:aws:sqs:us-east-1:{ACCOUNT}:{name}"


def rule_to_queue(node, rule, source, queue):
    ev = node.client("events")
    ev.put_rule(Name=rule, EventPattern=json.dumps({"source": [source]}))
    ev.put_targets(Rule=rule, Targets=[{"Id": "q", "Arn": queue_arn(queue)}])


def rule_seen(node, rule, timeout=2):
    """Whether `node` has the rule (made through another node) within `timeout` seconds."""
    return wait_for(lambda: any(r["Name"] == rule
                                for r in node.client("events").list_rules()["Rules"]), timeout)


class Load:
    """Events put through some nodes from one thread each, as fast as they are answered, until
    stopped; `acked` holds the ids of the events a PutEvents answered. A refused request is
    tried again (a node whose process died stops its thread)."""

    def __init__(self, nodes, source, per_request):
        self.acked = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.entries = [{"Source": source, "DetailType": "t", "Detail": "{}"}] * per_request
        self.threads = [threading.Thread(target=self._put, args=(n,)) for n in nodes]
        for t in self.threads:
            t.start()

    def _put(self, node):
        ev = node.client("events")
        while not self.stopping.is_set():
            try:
                r = ev.put_events(Entries=self.entries)
            except Exception:  # noqa: BLE001 - refused, or the node is gone
                if node.proc.poll() is not None:
                    return
                time.sleep(0.05)
                continue
            with self.lock:
                self.acked.extend(e["EventId"] for e in r["Entries"] if "EventId" in e)

    def stop(self):
        self.stopping.set()
        for t in self.threads:
            t.join(timeout=30)
        return list(self.acked)


def drain(node, queue, want, timeout=30):
    """Receives and deletes until every id of `want` (event ids) came and the queue has been
    empty for a second, or `timeout` passed; the bodies' event ids, in order of receipt
    (duplicates kept, and events nobody was told about, whose PutEvents did not answer)."""
    want = set(want)
    sqs = node.client("sqs")
    url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    got = []
    deadline = time.time() + timeout
    empty = 0
    while time.time() < deadline:
        msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                   WaitTimeSeconds=1).get("Messages", [])
        for m in msgs:
            got.append(json.loads(m["Body"])["id"])
        if msgs:
            empty = 0
            sqs.delete_message_batch(QueueUrl=url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(msgs)])
        else:
            empty += 1
        if want <= set(got) and empty >= 1:
            break
    return got


def assert_each_delivered_once(node, queue, acked, timeout=60):
    """Drains `queue` through `node`: every acknowledged event arrived, and none twice (a queue
    target is delivered exactly once)."""
    got = drain(node, queue, acked, timeout=timeout)
    missing = set(acked) - set(got)
    assert not missing, f"{len(missing)} of {len(acked)} acknowledged events never delivered"
    twice = len(got) - len(set(got))
    assert twice == 0, f"{twice} events delivered twice to a queue target"


def test_a_rule_made_on_one_node_delivers_events_put_on_another_to_a_queue_read_on_a_third(cluster):
    a, b, c = (cluster.start(n) for n in ("a", "b", "c"))
    c.client("sqs").create_queue(QueueName="orders")
    rule_to_queue(a, "to-orders", "shop", "orders")
    # Definitions made through a reach every node within a second (LISTEN/NOTIFY).
    assert rule_seen(b, "to-orders", 1.5)
    put = b.client("events").put_events(Entries=[
        {"Source": "shop", "DetailType": "order", "Detail": json.dumps({"n": i})}
        for i in range(10)])
    assert put["FailedEntryCount"] == 0
    ids = sorted(e["EventId"] for e in put["Entries"])
    assert sorted(drain(c, "orders", ids)) == ids


def test_a_node_killed_during_delivery_loses_nothing_and_queue_targets_get_each_event_once():
    """SIGKILL one of three nodes while it takes events and delivers them: every event any node
    acknowledged reaches the queue target exactly once (the delivery and its ack commit
    together), the killed node's leased work taken over by the others when its leases end."""
    c = Cluster(lease_ms=2000)
    try:
        a, b, _ = (c.start(n) for n in ("a", "b", "c"))
        a.client("sqs").create_queue(QueueName="sink")
        rule_to_queue(a, "to-sink", "load", "sink")
        assert rule_seen(b, "to-sink")
        load = Load((a, b), "load", 10)
        time.sleep(2)
        b.stop(sig_kill=True)  # mid-load: b was taking events and delivering its share
        time.sleep(1)
        acked = load.stop()
        assert len(acked) > 100, len(acked)
        assert_each_delivered_once(c.nodes["c"], "sink", acked)
    finally:
        c.stop()


def test_two_consumers_on_two_nodes_never_hold_the_same_message(cluster):
    a, b = cluster.start("a"), cluster.start("b")
    url = a.client("sqs").create_queue(QueueName="work")["QueueUrl"]
    sqs_a = a.client("sqs")
    for i in range(0, 300, 10):
        sqs_a.send_message_batch(QueueUrl=url, Entries=[
            {"Id": str(j), "MessageBody": f"m{i + j}"} for j in range(10)])
    assert wait_for(lambda: b.client("sqs").get_queue_url(QueueName="work"), 2)

    def consume(node):
        sqs = node.client("sqs")
        seen = []
        idle = 0
        while idle < 3:
            msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                       VisibilityTimeout=60, WaitTimeSeconds=0).get("Messages", [])
            idle = 0 if msgs else idle + 1
            seen.extend(m["MessageId"] for m in msgs)
        return seen

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(consume, [a, b, a, b]))
    everything = [m for r in results for m in r]
    assert len(everything) == 300, len(everything)
    assert len(set(everything)) == 300, "a message was held by two consumers at once"


class Proxy:
    """A TCP proxy to PostgreSQL that can be cut: a node behind it is partitioned from the
    store (new connections refused, open ones reset) until it is restored."""

    def __init__(self, target_host, target_port):
        self.target = (target_host, target_port)
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.listener.listen(64)
        self.open = threading.Event()
        self.open.set()
        self.conns = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.open.is_set():
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.conns += [client, upstream]
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(src, dst), daemon=True).start()

    @staticmethod
    def _pipe(src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def cut(self):
        self.open.clear()
        with self.lock:
            for s in self.conns:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                    s.close()
                except OSError:
                    pass
            self.conns = []

    def restore(self):
        self.open.set()


def test_a_node_cut_off_from_the_store_acknowledges_nothing_until_it_reconnects(cluster):
    """Every PutEvents the cut-off node answers is an error (nothing acknowledged that was not
    committed); it recovers by itself; what it acknowledged before is delivered soon after, even
    an item it leased as the connection broke (committed, the answer lost): the node hands such
    leases back once it reaches the store again, instead of leaving them to their deadlines
    (60 s here)."""
    pg = urlparse(PG_STORE)
    proxy = Proxy(pg.hostname or "127.0.0.1", pg.port or 5432)
    behind = cluster.store.replace(f"{pg.hostname}:{pg.port or 5432}", f"127.0.0.1:{proxy.port}", 1)
    assert behind != cluster.store
    a = cluster.start("a")
    p = cluster.start("p", store=behind)
    a.client("sqs").create_queue(QueueName="seen")
    rule_to_queue(a, "to-seen", "part", "seen")
    assert rule_seen(p, "to-seen")
    entry = {"Source": "part", "DetailType": "t", "Detail": "{}"}
    before = p.client("events").put_events(Entries=[entry])["Entries"][0]["EventId"]

    proxy.cut()
    ev = p.client("events")
    answers = []
    for _ in range(5):
        try:
            r = ev.put_events(Entries=[entry])
            answers.append(r)
        except ClientError as e:
            answers.append(e.response["ResponseMetadata"]["HTTPStatusCode"])
        time.sleep(0.2)
    acknowledged = [r for r in answers if isinstance(r, dict) and r.get("FailedEntryCount") == 0]
    assert not acknowledged, f"a partitioned node acknowledged events: {answers}"
    assert all(isinstance(r, int) and r >= 500 for r in answers), answers

    proxy.restore()

    def accepted():
        try:
            return ev.put_events(Entries=[entry])["Entries"][0]["EventId"]
        except ClientError:
            return None
    after = None
    deadline = time.time() + 30
    while after is None and time.time() < deadline:
        after = accepted()
        time.sleep(0.5)
    assert after, "the node did not recover after the partition ended"
    got = drain(a, "seen", [before, after], timeout=30)
    assert before in got and after in got, got


def health(node):
    status, body = node.get("/_eddy/health")
    return status, json.loads(body)


def test_health_shows_the_cluster_as_the_node_sees_it(cluster):
    nodes = [cluster.start(n) for n in ("a", "b", "c")]

    def all_seen():
        views = [health(n)[1] for n in nodes]
        return all(len([x for x in v["cluster"]["nodes"] if x["live"]]) == 3 for v in views)
    # Heartbeats every 5 s: each node has recorded itself once it serves.
    assert wait_for(all_seen, 12)
    views = {n.extra_args[1]: health(n) for n in nodes}
    assert all(status == 200 for status, _ in views.values())
    assert {name: v["node"] for name, (_, v) in views.items()} == {"a": "a", "b": "b", "c": "c"}
    assert sorted(x["name"] for x in views["a"][1]["cluster"]["nodes"]) == ["a", "b", "c"]
    # One node fires the schedules.
    assert wait_for(lambda: sum(health(n)[1]["cluster"]["fires_schedules"] for n in nodes) == 1, 10)


def test_each_schedule_tick_fires_once_with_three_nodes_and_the_next_node_takes_over(cluster):
    """One-time schedules a second apart, three nodes: each fires exactly once; the node that
    fires them is killed half way and another takes over (the store refuses a tick fired twice,
    and one leader fires at a time)."""
    import datetime as dt
    nodes = {n: cluster.start(n) for n in ("a", "b", "c")}
    a = nodes["a"]
    url = a.client("sqs").create_queue(QueueName="ticks")["QueueUrl"]

    def leader():
        for name, n in nodes.items():
            if n.proc.poll() is None and health(n)[1]["cluster"]["fires_schedules"]:
                return name
        return None
    assert wait_for(lambda: leader() is not None, 10)
    sched = a.client("scheduler")
    start = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) + dt.timedelta(seconds=3)
    names = [f"s{i}" for i in range(12)]
    for i, name in enumerate(names):
        at = start + dt.timedelta(seconds=i)
        sched.create_schedule(
            Name=name, ScheduleExpression=f"at({at.strftime('%Y-%m-%dT%H:%M:%S')})",
            FlexibleTimeWindow={"Mode": "OFF"},
            Target={"Arn": queue_arn("ticks"), "RoleArn": "arn:aws:iam::123456789012:role/s",
                    "Input": json.dumps({"schedule": name})})
    # Half way through, kill the node that fires them.
    time.sleep(max(0.0, (start - dt.datetime.now(dt.timezone.utc)).total_seconds()) + 5)
    first = leader()
    survivor = next(n for name, n in nodes.items() if name != first)
    nodes[first].stop(sig_kill=True)
    sqs = survivor.client("sqs")
    got = []
    deadline = time.time() + 40
    while time.time() < deadline and len(got) < len(names):
        for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                     WaitTimeSeconds=1).get("Messages", []):
            got.append(json.loads(m["Body"])["schedule"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    # A little longer: a tick fired twice would show up now.
    time.sleep(3)
    for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        got.append(json.loads(m["Body"])["schedule"])
    assert sorted(got) == sorted(names), f"fired: {sorted(got)}"
    assert leader() not in (None, first)


def test_postgres_restarting_mid_load_loses_nothing_acknowledged():
    """Two nodes on a throwaway PostgreSQL, events put through both; the database is killed
    (`immediate`: it recovers from its write-ahead log, as after a crash) and started again
    mid-load. Every acknowledged event reaches the queue target exactly once, and both nodes
    take events again by themselves."""
    scripts = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))), "scripts", "postgres")
    env = {**os.environ, "EDDY_PG_THROWAWAY": "1"}
    pg = subprocess.run([scripts], env=env, capture_output=True, text=True, check=True).stdout.strip()
    schema = f"restart_{int(time.time())}"
    subprocess.run([psql(), pg, "-qc", f"CREATE SCHEMA {schema}"], check=True)
    c = Cluster(lease_ms=3000)
    c.store = f"{pg}?options=-c%20search_path%3D{schema}"
    try:
        a, b = c.start("a"), c.start("b")
        a.client("sqs").create_queue(QueueName="kept")
        rule_to_queue(a, "to-kept", "restart", "kept")
        assert rule_seen(b, "to-kept")
        load = Load((a, b), "restart", 5)
        time.sleep(2)
        before = len(load.acked)
        subprocess.run([scripts, "restart", "immediate"], env=env, check=True,
                       capture_output=True)
        # Both nodes take events again by themselves.
        assert wait_for(lambda: len(load.acked) > before + 200, 30), (before, len(load.acked))
        acked = load.stop()
        assert_each_delivered_once(a, "kept", acked)
    finally:
        c.stop()
        subprocess.run([psql(), pg, "-qc", f"DROP SCHEMA IF EXISTS {schema} CASCADE"])


def test_a_long_poll_on_one_node_gets_a_message_sent_through_another_at_once(cluster):
    a, b = cluster.start("a"), cluster.start("b")
    url = a.client("sqs").create_queue(QueueName="polled")["QueueUrl"]
    assert wait_for(lambda: b.client("sqs").get_queue_url(QueueName="polled"), 2)
    got = {}

    def poll():
        started = time.time()
        r = b.client("sqs").receive_message(QueueUrl=url, WaitTimeSeconds=10)
        got["after"] = time.time() - started
        got["messages"] = r.get("Messages", [])

    t = threading.Thread(target=poll)
    t.start()
    time.sleep(1)
    a.client("sqs").send_message(QueueUrl=url, MessageBody="hello")
    t.join(timeout=15)
    assert [m["Body"] for m in got["messages"]] == ["hello"]
    assert got["after"] < 2.5, f"the long poll answered after {got['after']:.1f} s"

"""The app manifest on a real server: `eddy serve` applies ./eddy.toml at start, `eddy apply`
applies changes to a running server idempotently, and mistakes are reported with
file:line:column."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap

import pytest

from conftest import Eddy, eddy_bin, wait_for

MANIFEST = textwrap.dedent("""\
    version = 1

    [buses.orders]
    description = "orders"

    [queues.review]
    visibility_timeout = 60
    redrive = { dead_letter_queue = "review-dlq", max_receive_count = 3 }

    [queues.review-dlq]

    [queues.all-orders]

    [functions.hello]
    code = "functions/hello"
    runtime = "python3.12"
    handler = "app.handler"
    environment = { GREETING = "hi" }

    [rules.big-orders]
    bus = "orders"
    pattern = { source = ["shop"], detail = { total = [{ numeric = [">", 1000] }] } }

    [[rules.big-orders.targets]]
    queue = "review"
    input_path = "$.detail"

    [rules.every-order]
    bus = "orders"
    pattern = { source = ["shop"] }

    [[rules.every-order.targets]]
    queue = "all-orders"
    """)

APP = "import os\ndef handler(event, context):\n    return {'greeting': os.environ['GREETING'], 'event': event}\n"


@pytest.fixture
def project():
    d = tempfile.mkdtemp(prefix="eddy-project-")
    os.makedirs(os.path.join(d, "functions", "hello"))
    with open(os.path.join(d, "functions", "hello", "app.py"), "w") as f:
        f.write(APP)
    with open(os.path.join(d, "eddy.toml"), "w") as f:
        f.write(MANIFEST)
    data = os.path.join(d, ".eddy")
    server = Eddy(data, ["--python", sys.executable, "--function-user", "current"], cwd=d).start()
    yield d, server
    server.stop()
    shutil.rmtree(d, ignore_errors=True)


def apply(project_dir, server, *extra):
    endpoint = server.aws.removeprefix("http://")
    return subprocess.run([eddy_bin(), "apply", "--endpoint", endpoint, *extra],
                          cwd=project_dir, capture_output=True, text=True, timeout=60)


def test_serve_applies_the_manifest_and_it_works(project):
    d, server = project
    events = server.client("events")
    sqs = server.client("sqs")
    lam = server.client("lambda")
    assert "orders" in [b["Name"] for b in events.list_event_buses()["EventBuses"]]
    rules = [r["Name"] for r in events.list_rules(EventBusName="orders")["Rules"]]
    assert rules == ["big-orders", "every-order"]
    attrs = sqs.get_queue_attributes(
        QueueUrl=sqs.get_queue_url(QueueName="review")["QueueUrl"], AttributeNames=["All"])
    assert attrs["Attributes"]["VisibilityTimeout"] == "60"
    assert json.loads(attrs["Attributes"]["RedrivePolicy"])["maxReceiveCount"] == 3
    events.put_events(Entries=[{"EventBusName": "orders", "Source": "shop",
                                "DetailType": "OrderPlaced",
                                "Detail": json.dumps({"id": 1, "total": 5000})}])
    url = sqs.get_queue_url(QueueName="review")["QueueUrl"]
    msgs = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=5)["Messages"]
    assert json.loads(msgs[0]["Body"]) == {"id": 1, "total": 5000}
    r = lam.invoke(FunctionName="hello", Payload=b'{"x": 1}')
    assert json.loads(r["Payload"].read()) == {"greeting": "hi", "event": {"x": 1}}


def test_apply_twice_is_a_no_op_and_removals_delete(project):
    d, server = project
    r = apply(d, server)
    assert r.returncode == 0, r.stderr
    assert "0 created, 0 updated, 0 deleted, 7 unchanged" in r.stdout, r.stdout
    # Change one thing, remove another.
    text = MANIFEST.replace('visibility_timeout = 60', 'visibility_timeout = 90')
    text = text.replace('[queues.all-orders]\n', '')
    text = text.split("[rules.every-order]")[0]
    with open(os.path.join(d, "eddy.toml"), "w") as f:
        f.write(text)
    r = apply(d, server, "--dry-run")
    assert r.returncode == 0, r.stderr
    assert "(dry run)" in r.stdout and "updated queue review" in r.stdout
    r = apply(d, server)
    assert r.returncode == 0, r.stderr
    assert "updated queue review" in r.stdout
    assert "deleted rule orders/every-order" in r.stdout
    assert "deleted queue all-orders" in r.stdout
    sqs = server.client("sqs")
    assert not [u for u in sqs.list_queues().get("QueueUrls", []) if u.endswith("/all-orders")]
    url = sqs.get_queue_url(QueueName="review")["QueueUrl"]
    assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])[
        "Attributes"]["VisibilityTimeout"] == "90"
    r = apply(d, server)
    assert "0 created, 0 updated, 0 deleted" in r.stdout


def test_function_code_change_is_picked_up_by_apply(project):
    d, server = project
    with open(os.path.join(d, "functions", "hello", "app.py"), "w") as f:
        f.write("def handler(event, context):\n    return 'v2'\n")
    r = apply(d, server)
    assert "updated function hello" in r.stdout, r.stdout
    lam = server.client("lambda")
    assert json.loads(lam.invoke(FunctionName="hello")["Payload"].read()) == "v2"


def test_mistakes_are_reported_with_positions(project):
    d, server = project
    with open(os.path.join(d, "eddy.toml"), "w") as f:
        f.write(MANIFEST.replace("visibility_timeout = 60", "visibilty_timeout = 60"))
    r = apply(d, server)
    assert r.returncode == 1
    assert "eddy.toml:7:1: unknown key `visibilty_timeout`" in r.stderr, r.stderr
    assert "did you mean `visibility_timeout`?" in r.stderr
    # Nothing changed on the server.
    sqs = server.client("sqs")
    url = sqs.get_queue_url(QueueName="review")["QueueUrl"]
    assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])[
        "Attributes"]["VisibilityTimeout"] == "60"


def test_serve_refuses_a_broken_manifest(fresh_dir):
    with open(os.path.join(fresh_dir, "eddy.toml"), "w") as f:
        f.write("version = 2\n")
    p = subprocess.run([eddy_bin(), "serve", "--data-dir", os.path.join(fresh_dir, "data"),
                        "--aws-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0"],
                       cwd=fresh_dir, capture_output=True, text=True, timeout=30)
    assert p.returncode != 0
    assert "eddy.toml:1:11:" in p.stderr and "version" in p.stderr, p.stderr


def test_watch_reapplies_on_save(fresh_dir):
    import time
    os.makedirs(os.path.join(fresh_dir, "functions", "hello"))
    with open(os.path.join(fresh_dir, "functions", "hello", "app.py"), "w") as f:
        f.write(APP)
    with open(os.path.join(fresh_dir, "eddy.toml"), "w") as f:
        f.write(MANIFEST)
    server = Eddy(os.path.join(fresh_dir, ".eddy"),
                  ["--watch", "--python", sys.executable, "--function-user", "current"],
                  cwd=fresh_dir).start()
    try:
        lam = server.client("lambda")
        assert json.loads(lam.invoke(FunctionName="hello")["Payload"].read())["greeting"] == "hi"
        with open(os.path.join(fresh_dir, "functions", "hello", "app.py"), "w") as f:
            f.write("def handler(event, context):\n    return 'edited'\n")
        with open(os.path.join(fresh_dir, "eddy.toml"), "a") as f:
            f.write("\n[queues.added-later]\n")
        deadline = time.time() + 10
        got = None
        while time.time() < deadline:
            got = json.loads(lam.invoke(FunctionName="hello")["Payload"].read())
            if got == "edited":
                break
            time.sleep(0.2)
        assert got == "edited"
        sqs = server.client("sqs")
        assert sqs.get_queue_url(QueueName="added-later")["QueueUrl"]
    finally:
        server.stop()


def test_apply_reads_and_runs_code_only_under_the_code_roots(eddy):
    """`/_eddy/apply` takes function code by path: a zip or a directory outside eddy's code
    roots is refused, so no request can make eddy read (or run) an arbitrary file."""
    for code in ({"ZipFile": "/etc/passwd"}, {"Directory": "/etc"}, {"Directory": "/"}):
        body = {"Resources": {"functions": {"stolen": {
            "Runtime": "provided.al2023", "Handler": "bootstrap", "Code": code}}}}
        status, _, raw = eddy.post("/_eddy/apply", json.dumps(body).encode(),
                                   {"Content-Type": "application/json"})
        reply = json.loads(raw)
        assert status == 400, reply
        assert "outside eddy's code roots" in reply["message"], reply
        assert "root:" not in raw.decode()
    lam = eddy.client("lambda")
    assert all(f["FunctionName"] != "stolen" for f in lam.list_functions()["Functions"])


SOURCES_MANIFEST = textwrap.dedent("""\
    version = 1

    [queues.jobs]
    visibility_timeout = 5
    redrive = { dead_letter_queue = "jobs-dlq", max_receive_count = 2 }

    [queues.jobs-dlq]

    [functions.worker]
    code = "functions/worker"
    runtime = "python3.12"
    handler = "app.handler"

    [[functions.worker.sources]]
    queue = "jobs"
    batch_size = 5
    filters = [{ body = { kind = ["job", "poison"] } }]
    report_batch_item_failures = true
    """)

WORKER = '''import json
def handler(event, context):
    failures = []
    for r in event["Records"]:
        body = json.loads(r["body"])
        print("worked", body["n"], flush=True)
        if body["kind"] == "poison":
            failures.append({"itemIdentifier": r["messageId"]})
    return {"batchItemFailures": failures}
'''


def test_the_manifest_declares_queue_sources(fresh_dir, tmp_path):
    (tmp_path / "functions" / "worker").mkdir(parents=True)
    (tmp_path / "functions" / "worker" / "app.py").write_text(WORKER)
    (tmp_path / "eddy.toml").write_text(SOURCES_MANIFEST)
    server = Eddy(fresh_dir, ["--python", sys.executable, "--function-user", "current"],
                  cwd=str(tmp_path)).start()
    try:
        lam, sqs, logs = server.client("lambda"), server.client("sqs"), server.client("logs")
        [m] = lam.list_event_source_mappings(FunctionName="worker")["EventSourceMappings"]
        assert m["EventSourceArn"].endswith(":jobs") and m["BatchSize"] == 5
        assert m["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        url = sqs.get_queue_url(QueueName="jobs")["QueueUrl"]
        for n in range(6):
            sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"kind": "job", "n": n}))
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"kind": "other", "n": 99}))
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"kind": "poison", "n": 7}))
        dlq = sqs.get_queue_url(QueueName="jobs-dlq")["QueueUrl"]

        def worked():
            try:
                events = logs.filter_log_events(logGroupName="/aws/lambda/worker")["events"]
            except Exception:
                return set()
            return {int(e["message"].split()[1]) for e in events if e["message"].startswith("worked")}

        assert wait_for(lambda: set(range(6)) <= worked(), timeout=30), worked()
        assert 99 not in worked(), "a message no filter matches is not handed to the function"
        got = []
        assert wait_for(lambda: got.extend(sqs.receive_message(QueueUrl=dlq).get("Messages", []))
                        or got, timeout=30)
        assert json.loads(got[0]["Body"]) == {"kind": "poison", "n": 7}
        status = subprocess.run([eddy_bin(), "status", "--endpoint", server.aws.removeprefix("http://")],
                                capture_output=True, text=True, timeout=30).stdout
        assert "QUEUE SOURCES (1)" in status and "worker" in status, status
        # Removing the source deletes the mapping.
        (tmp_path / "eddy.toml").write_text(SOURCES_MANIFEST.split("[[functions.worker.sources]]")[0])
        r = apply(str(tmp_path), server)
        assert "deleted event source mapping worker/jobs" in r.stdout, r.stdout
        assert lam.list_event_source_mappings(FunctionName="worker")["EventSourceMappings"] == []
    finally:
        server.stop()


BUCKET_MANIFEST = textwrap.dedent("""\
    version = 1

    [queues.uploads-q]

    [buckets.manifest-uploads]
    versioning = true
    eventbridge = true
    tags = { team = "media" }

    [[buckets.manifest-uploads.notifications]]
    queue = "uploads-q"
    prefix = "in/"
    suffix = ".txt"

    [[buckets.manifest-uploads.cors]]
    allowed_origins = ["http://localhost:5173"]
    allowed_methods = ["PUT", "GET"]
    allowed_headers = ["*"]
    max_age = 600

    [buckets.manifest-scratch]
    """)


def receive_bodies(sqs, url, wait=1):
    msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                               WaitTimeSeconds=wait).get("Messages", [])
    for m in msgs:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return [json.loads(m["Body"]) for m in msgs]


def test_the_manifest_declares_buckets(fresh_dir, tmp_path):
    (tmp_path / "eddy.toml").write_text(BUCKET_MANIFEST)
    server = Eddy(fresh_dir, cwd=str(tmp_path)).start()
    try:
        r = apply(str(tmp_path), server)
        assert r.returncode == 0, r.stderr
        assert "0 created, 0 updated, 0 deleted, 3 unchanged" in r.stdout, r.stdout
        s3, sqs = server.client("s3"), server.client("sqs")
        names = {b["Name"] for b in s3.list_buckets()["Buckets"]}
        assert {"manifest-uploads", "manifest-scratch"} <= names
        n = s3.get_bucket_notification_configuration(Bucket="manifest-uploads")
        assert "EventBridgeConfiguration" in n
        [q] = n["QueueConfigurations"]
        assert q["Id"] == "uploads-q"
        assert q["QueueArn"] == "arn:aws:sqs:us-east-1:123456789012:uploads-q"
        assert q["Events"] == ["s3:ObjectCreated:*"]
        rules = {r["Name"].lower(): r["Value"] for r in q["Filter"]["Key"]["FilterRules"]}
        assert rules == {"prefix": "in/", "suffix": ".txt"}
        assert s3.get_bucket_versioning(Bucket="manifest-uploads")["Status"] == "Enabled"
        assert "Status" not in s3.get_bucket_versioning(Bucket="manifest-scratch")
        [cors] = s3.get_bucket_cors(Bucket="manifest-uploads")["CORSRules"]
        assert cors["AllowedOrigins"] == ["http://localhost:5173"]
        assert cors["AllowedMethods"] == ["PUT", "GET"] and cors["MaxAgeSeconds"] == 600
        assert s3.get_bucket_tagging(Bucket="manifest-uploads")["TagSet"] == [
            {"Key": "team", "Value": "media"}]

        # The configuration was tested once, when it was set; an object under the filter reaches
        # the queue, one outside it does not.
        url = sqs.get_queue_url(QueueName="uploads-q")["QueueUrl"]
        got = receive_bodies(sqs, url)
        assert [b.get("Event") for b in got] == ["s3:TestEvent"], got
        s3.put_object(Bucket="manifest-uploads", Key="in/a.txt", Body=b"hello")
        s3.put_object(Bucket="manifest-uploads", Key="out/b.txt", Body=b"other")
        records = []
        assert wait_for(lambda: records.extend(receive_bodies(sqs, url)) or records, timeout=10)
        [rec] = records[0]["Records"]
        assert rec["eventName"] == "ObjectCreated:Put"
        assert rec["s3"]["bucket"]["name"] == "manifest-uploads"
        assert rec["s3"]["object"]["key"] == "in/a.txt"
        assert rec["s3"]["configurationId"] == "uploads-q"
        assert receive_bodies(sqs, url) == []

        # Applying again changes nothing and tests nothing again.
        r = apply(str(tmp_path), server)
        assert "0 created, 0 updated, 0 deleted, 3 unchanged" in r.stdout, r.stdout
        assert receive_bodies(sqs, url) == []

        # A change to the bucket updates it in place; the notification, unchanged, is not
        # tested again.
        (tmp_path / "eddy.toml").write_text(BUCKET_MANIFEST.replace(
            'versioning = true', 'versioning = false'))
        r = apply(str(tmp_path), server)
        assert "updated bucket manifest-uploads" in r.stdout, r.stdout
        assert s3.get_bucket_versioning(Bucket="manifest-uploads")["Status"] == "Suspended"
        assert receive_bodies(sqs, url) == []

        endpoint = server.aws.removeprefix("http://")
        out = subprocess.run([eddy_bin(), "buckets", "--endpoint", endpoint],
                             capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        line = [l for l in out.stdout.splitlines() if l.startswith("manifest-uploads")][0]
        assert "us-east-1" in line and "Suspended" in line and "EventBridge" in line, out.stdout
        assert "uploads-q" in out.stdout and "prefix in/" in out.stdout, out.stdout
        status = subprocess.run([eddy_bin(), "status", "--endpoint", endpoint],
                                capture_output=True, text=True, timeout=30).stdout
        assert "BUCKETS (2)" in status and "manifest-scratch" in status, status

        # Removing the buckets: the empty one is deleted, the one holding objects is kept
        # (without notifications) and left alone from then on.
        (tmp_path / "eddy.toml").write_text("version = 1\n\n[queues.uploads-q]\n")
        r = apply(str(tmp_path), server)
        assert r.returncode == 0, r.stderr
        assert "deleted bucket manifest-scratch" in r.stdout, r.stdout
        assert "kept (not empty) bucket manifest-uploads" in r.stdout, r.stdout
        assert "1 kept" in r.stdout
        assert "bucket `manifest-uploads` is no longer in the manifest but holds objects" in r.stderr
        names = {b["Name"] for b in s3.list_buckets()["Buckets"]}
        assert "manifest-scratch" not in names and "manifest-uploads" in names
        n = s3.get_bucket_notification_configuration(Bucket="manifest-uploads")
        assert "QueueConfigurations" not in n and "EventBridgeConfiguration" not in n
        r = apply(str(tmp_path), server)
        assert "0 created, 0 updated, 0 deleted, 1 unchanged" in r.stdout, r.stdout
        assert "kept" not in r.stdout
    finally:
        server.stop()

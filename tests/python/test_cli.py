"""The eddy CLI against a running server, as a user types it: put-events, rules, events tail,
queue send/receive, dlq redrive, invoke, logs."""

import json
import subprocess
import time

import pytest

from conftest import eddy_bin
from test_lambda import create_rust, lam, lam_server  # noqa: F401  (fixtures)


def cli(server, *args, input=None, check=True):
    endpoint = server.aws.removeprefix("http://")
    r = subprocess.run([eddy_bin(), *args, "--endpoint", endpoint], input=input,
                       capture_output=True, text=True, timeout=60)
    if check:
        assert r.returncode == 0, (args, r.stdout, r.stderr)
    return r


@pytest.fixture
def server(lam, lam_server):  # noqa: F811
    return lam_server


def test_put_events_rules_and_queue(server):
    events = server.client("events")
    sqs = server.client("sqs")
    sqs.create_queue(QueueName="orders")
    events.put_rule(Name="shop-orders", EventPattern=json.dumps({"source": ["shop"]}))
    events.put_targets(Rule="shop-orders", Targets=[
        {"Id": "q", "Arn": "arn:aws:sqs:us-east-1:123456789012:orders"}])
    r = cli(server, "put-events", "--source", "shop", "--detail-type", "OrderPlaced",
            '{"id": 1}', '{"id": 2}')
    ids = r.stdout.split()
    assert len(ids) == 2 and all(len(i) == 36 for i in ids)
    r = cli(server, "put-events", input='{"source": "shop", "detail-type": "X", "detail": {"id": 3}}\n'
            '{"Source": "other", "DetailType": "Y", "Detail": "{}"}\n')
    assert len(r.stdout.split()) == 2
    r = cli(server, "put-events", '{"id": 1}', check=False)
    assert r.returncode == 1 and "names no source" in r.stderr
    rules = cli(server, "rules").stdout
    line = [l for l in rules.splitlines() if l.startswith("shop-orders")][0]
    assert line.split()[1:4] == ["ENABLED", "3", "1"], rules
    got = []
    deadline = time.time() + 5
    while len(got) < 3 and time.time() < deadline:
        r = cli(server, "queue", "receive", "orders", "--json", "--wait", "1")
        got += [json.loads(json.loads(l)["Body"])["detail"]["id"] for l in r.stdout.splitlines()]
    assert sorted(got) == [1, 2, 3]
    cli(server, "queue", "send", "orders", "hello", "world")
    r = cli(server, "queue", "receive", "orders")
    assert sorted(r.stdout.split()) == ["hello", "world"]
    r = cli(server, "queue", "receive", "orders")
    assert r.stdout == "" and "(no messages)" in r.stderr


def test_events_tail_shows_events_and_matched_rules(server):
    events = server.client("events")
    events.put_rule(Name="watch-me", EventPattern=json.dumps({"source": ["tail"]}))
    endpoint = server.aws.removeprefix("http://")
    p = subprocess.Popen([eddy_bin(), "events", "tail", "--count", "2", "--endpoint", endpoint],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(0.5)
    cli(server, "put-events", "--source", "tail", "--detail-type", "T", '{"n": 1}')
    cli(server, "put-events", "--source", "nobody", "--detail-type", "T", '{"n": 2}')
    out, err = p.communicate(timeout=10)
    lines = out.splitlines()
    assert len(lines) == 2, (out, err)
    assert "tail T" in lines[0] and lines[0].endswith("-> watch-me")
    assert lines[1].endswith("(no rule matched)")


def test_dlq_redrive_sends_events_back_to_their_target(server):
    events = server.client("events")
    sqs = server.client("sqs")
    sqs.create_queue(QueueName="dlq")
    events.put_rule(Name="to-missing", EventPattern=json.dumps({"source": ["redrive"]}))
    events.put_targets(Rule="to-missing", Targets=[{
        "Id": "t", "Arn": "arn:aws:sqs:us-east-1:123456789012:later",
        "DeadLetterConfig": {"Arn": "arn:aws:sqs:us-east-1:123456789012:dlq"}}])
    cli(server, "put-events", "--source", "redrive", "--detail-type", "T", '{"n": 7}')
    url = sqs.get_queue_url(QueueName="dlq")["QueueUrl"]
    deadline = time.time() + 5
    while time.time() < deadline:
        n = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
        if n["Attributes"]["ApproximateNumberOfMessages"] == "1":
            break
        time.sleep(0.1)
    sqs.create_queue(QueueName="later")
    r = cli(server, "dlq", "redrive", "dlq")
    assert "1 back to their targets" in r.stdout, r.stdout
    later = sqs.get_queue_url(QueueName="later")["QueueUrl"]
    msgs = sqs.receive_message(QueueUrl=later, WaitTimeSeconds=5)["Messages"]
    assert json.loads(msgs[0]["Body"])["detail"] == {"n": 7}
    n = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    assert n["Attributes"]["ApproximateNumberOfMessages"] == "0"


def test_dlq_redrive_sends_messages_back_to_their_source_queue(server):
    """A message a queue's redrive policy moved to its dead-letter queue goes back to that
    queue, attributes and all, and leaves the dead-letter queue."""
    sqs = server.client("sqs")
    dlq = sqs.create_queue(QueueName="jobs-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    jobs = sqs.create_queue(QueueName="jobs", Attributes={"RedrivePolicy": json.dumps(
        {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1})})["QueueUrl"]
    sqs.send_message(QueueUrl=jobs, MessageBody="job-1", MessageAttributes={
        "kind": {"DataType": "String", "StringValue": "nightly"}})
    assert len(sqs.receive_message(QueueUrl=jobs, VisibilityTimeout=0)["Messages"]) == 1
    # Received once already: the next receive moves it to the dead-letter queue.
    assert "Messages" not in sqs.receive_message(QueueUrl=jobs, VisibilityTimeout=0)
    n = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"])
    assert n["Attributes"]["ApproximateNumberOfMessages"] == "1"
    r = cli(server, "dlq", "redrive", "jobs-dlq")
    assert "1 back to their source queue" in r.stdout, r.stdout
    back = sqs.receive_message(QueueUrl=jobs, MessageAttributeNames=["All"],
                               WaitTimeSeconds=5)["Messages"]
    assert [m["Body"] for m in back] == ["job-1"]
    assert back[0]["MessageAttributes"]["kind"]["StringValue"] == "nightly"
    n = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages",
                                                               "ApproximateNumberOfMessagesNotVisible"])
    assert n["Attributes"] == {"ApproximateNumberOfMessages": "0",
                               "ApproximateNumberOfMessagesNotVisible": "0"}


def test_invoke_and_logs(server, lam):  # noqa: F811
    create_rust(lam, name="echo", handler="echo")
    create_rust(lam, name="fail", handler="fail")
    r = cli(server, "invoke", "echo", '{"hi": 1}', "--log")
    assert json.loads(r.stdout)["event"] == {"hi": 1}
    assert "START RequestId:" in r.stderr and "REPORT RequestId:" in r.stderr
    r = cli(server, "invoke", "fail", "{}", check=False)
    assert r.returncode == 1 and "failed on purpose" in r.stdout
    r = cli(server, "invoke", "echo", "-", input='{"from": "stdin"}')
    assert json.loads(r.stdout)["event"] == {"from": "stdin"}
    r = cli(server, "invoke", "echo", "{}", "--async")
    assert r.stdout.startswith("queued")
    deadline = time.time() + 5
    out = ""
    while time.time() < deadline:
        out = cli(server, "logs", "echo").stdout
        if out.count("REPORT RequestId:") >= 3:
            break
        time.sleep(0.2)
    assert out.count("START RequestId:") == 3, out
    r = cli(server, "invoke", "missing", "{}", check=False)
    assert r.returncode == 1 and "ResourceNotFoundException" in r.stderr


def test_unreachable_server_is_explained():
    r = subprocess.run([eddy_bin(), "rules", "--endpoint", "127.0.0.1:1"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and "cannot reach eddy at http://127.0.0.1:1" in r.stderr


def test_logs_follow_prints_new_lines(server, lam):  # noqa: F811
    import threading
    create_rust(lam, name="talk", handler="log")
    endpoint = server.aws.removeprefix("http://")
    p = subprocess.Popen([eddy_bin(), "logs", "talk", "--follow", "--endpoint", endpoint],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = []
    reader = threading.Thread(target=lambda: seen.extend(l.rstrip("\n") for l in p.stdout),
                              daemon=True)
    reader.start()
    try:
        time.sleep(0.5)
        cli(server, "invoke", "talk", '{"lines": 2}')
        deadline = time.time() + 10
        while time.time() < deadline and not any(l.startswith("REPORT") for l in list(seen)):
            time.sleep(0.1)
        assert "log line 1" in seen, seen
        assert any(l.startswith("START RequestId:") for l in seen)
        assert any(l.startswith("REPORT RequestId:") for l in seen)
        # Each line once, though the follower polls overlapping windows.
        cli(server, "invoke", "talk", '{"lines": 1}')
        time.sleep(1.5)
        assert len([l for l in seen if l == "log line 1"]) == 1, seen
        assert len([l for l in seen if l == "log line 0"]) == 2, seen
    finally:
        p.kill()
        p.wait()


def test_a_closed_pipe_ends_the_cli_quietly(server):
    events = server.client("events")
    for i in range(5):
        events.put_rule(Name=f"pipe-{i}", EventPattern=json.dumps({"source": ["x"]}))
    endpoint = server.aws.removeprefix("http://")
    r = subprocess.run(f"{eddy_bin()} rules --endpoint {endpoint} | head -1", shell=True,
                       capture_output=True, text=True, timeout=30)
    assert r.stdout.startswith("NAME")
    assert "panicked" not in r.stderr, r.stderr


def test_buckets_lists_versioning_and_notifications(server):
    s3, sqs = server.client("s3"), server.client("sqs")
    sqs.create_queue(QueueName="cli-bucket-events")
    s3.create_bucket(Bucket="cli-listed")
    s3.put_bucket_versioning(Bucket="cli-listed", VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_notification_configuration(Bucket="cli-listed", NotificationConfiguration={
        "EventBridgeConfiguration": {},
        "QueueConfigurations": [{
            "Id": "images", "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"],
            "QueueArn": "arn:aws:sqs:us-east-1:123456789012:cli-bucket-events",
            "Filter": {"Key": {"FilterRules": [{"Name": "suffix", "Value": ".jpg"}]}}}]})
    s3.create_bucket(Bucket="cli-plain")
    out = cli(server, "buckets").stdout
    lines = out.splitlines()
    listed = [l for l in lines if l.startswith("cli-listed")][0]
    assert "us-east-1" in listed and "Enabled" in listed, out
    assert "1 notification" in listed and "EventBridge" in listed, out
    detail = lines[lines.index(listed) + 1]
    assert detail.split()[:2] == ["queue", "cli-bucket-events"], out
    assert "s3:ObjectCreated:*,s3:ObjectRemoved:*" in detail and "suffix .jpg" in detail, out
    plain = [l for l in lines if l.startswith("cli-plain")][0]
    assert "versioning off" in plain and "0 notifications" in plain, out
    got = {b["Name"]: b for b in json.loads(cli(server, "buckets", "--json").stdout)}
    assert got["cli-listed"]["Versioning"] == "Enabled" and got["cli-listed"]["EventBridge"]
    assert got["cli-listed"]["Notifications"][0]["Id"] == "images"
    assert got["cli-plain"]["Notifications"] == [] and got["cli-plain"]["Versioning"] is None
    status = cli(server, "status").stdout
    assert "BUCKETS (" in status and "cli-listed" in status, status

"""Lambda event source mappings (SQS queue -> function) through boto3, against the real binary: the
API's shapes, states and errors, and what the pollers do (partial batch failures and the DLQ, FIFO
group order, batching windows, filters, the exact SQS event, and a kill -9 mid-processing)."""

import base64
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time

import pytest
from botocore.exceptions import ClientError

from conftest import Eddy, wait_for
from test_lambda import ROLE, py_zip

ACCOUNT = "123456789012"
REGION = "us-east-1"

# Appends each event it receives to $OUT (one JSON line, one write), sleeps $SLEEP seconds, and
# reports as failed every record whose body contains "fail".
CONSUMER = '''
import json, os, time

def handler(event, context):
    line = (json.dumps(event) + "\\n").encode()
    fd = os.open(os.environ["OUT"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)
    time.sleep(float(os.environ.get("SLEEP", "0")))
    return {"batchItemFailures": [{"itemIdentifier": r["messageId"]}
                                  for r in event["Records"] if "fail" in r["body"]]}
'''


@pytest.fixture(scope="module")
def server():
    d = tempfile.mkdtemp(prefix="eddy-esm-")
    s = Eddy(d, ["--python", sys.executable, "--function-user", "current"]).start()
    yield s
    s.stop()
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def lam(server):
    status, _, _ = server.post("/moto-api/reset")
    assert status == 200
    return server.client("lambda")


@pytest.fixture
def sqs(server, lam):
    return server.client("sqs")


def queue(sqs, name, **attrs):
    url = sqs.create_queue(QueueName=name, Attributes={k: str(v) for k, v in attrs.items()})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def consumer(lam, name, tmp, timeout=2, sleep=0):
    out = os.path.join(tmp, f"{name}.jsonl")
    lam.create_function(FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="app.handler",
                        Code={"ZipFile": py_zip(CONSUMER)}, Timeout=timeout,
                        Environment={"Variables": {"OUT": out, "SLEEP": str(sleep)}})
    return out


def events(out):
    if not os.path.exists(out):
        return []
    with open(out) as f:
        return [json.loads(line) for line in f if line.strip()]


def records(out):
    return [r for e in events(out) for r in e["Records"]]


def error(call):
    with pytest.raises(ClientError) as e:
        call()
    r = e.value.response
    return r["Error"]["Code"], r["Error"]["Message"], r["ResponseMetadata"]["HTTPStatusCode"]


def counts(sqs, url):
    a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return int(a["ApproximateNumberOfMessages"]), int(a["ApproximateNumberOfMessagesNotVisible"])


def test_create_get_list_update_delete_with_lambdas_shapes_and_states(lam, sqs, tmp_path):
    consumer(lam, "f", str(tmp_path))
    _, arn = queue(sqs, "q1", VisibilityTimeout=30)
    _, arn2 = queue(sqs, "q2", VisibilityTimeout=30)
    t0 = time.time()
    m = lam.create_event_source_mapping(
        EventSourceArn=arn, FunctionName="f", Enabled=False, BatchSize=5,
        MaximumBatchingWindowInSeconds=2, FunctionResponseTypes=["ReportBatchItemFailures"],
        FilterCriteria={"Filters": [{"Pattern": '{"body": {"k": ["v"]}}'}]},
        ScalingConfig={"MaximumConcurrency": 3})
    assert m["ResponseMetadata"]["HTTPStatusCode"] == 202
    uuid = m["UUID"]
    assert m["State"] == "Creating" and m["StateTransitionReason"] == "USER_INITIATED"
    assert m["EventSourceMappingArn"] == f"arn:aws:lambda:{REGION}:{ACCOUNT}:event-source-mapping:{uuid}"
    assert m["FunctionArn"] == f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:f"
    assert m["EventSourceArn"] == arn and m["BatchSize"] == 5
    assert m["MaximumBatchingWindowInSeconds"] == 2
    assert m["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert m["FilterCriteria"] == {"Filters": [{"Pattern": '{"body": {"k": ["v"]}}'}]}
    assert m["ScalingConfig"] == {"MaximumConcurrency": 3}
    assert abs(m["LastModified"].timestamp() - t0) < 5

    g = lam.get_event_source_mapping(UUID=uuid)
    assert g["State"] == "Disabled" and g["UUID"] == uuid
    # Defaults; FilterCriteria and ScalingConfig only when set.
    m2 = lam.create_event_source_mapping(EventSourceArn=arn2, FunctionName=f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:f")
    assert m2["BatchSize"] == 10 and m2["MaximumBatchingWindowInSeconds"] == 0
    assert "FilterCriteria" not in m2 and "ScalingConfig" not in m2
    assert m2["FunctionResponseTypes"] == []
    assert lam.get_event_source_mapping(UUID=m2["UUID"])["State"] == "Enabled"

    # Listing: all, by function, by queue, and a page at a time.
    assert {x["UUID"] for x in lam.list_event_source_mappings()["EventSourceMappings"]} == {uuid, m2["UUID"]}
    assert [x["UUID"] for x in lam.list_event_source_mappings(EventSourceArn=arn2)["EventSourceMappings"]] == [m2["UUID"]]
    assert len(lam.list_event_source_mappings(FunctionName="f")["EventSourceMappings"]) == 2
    assert lam.list_event_source_mappings(FunctionName="other")["EventSourceMappings"] == []
    p1 = lam.list_event_source_mappings(MaxItems=1)
    assert len(p1["EventSourceMappings"]) == 1 and "NextMarker" in p1
    p2 = lam.list_event_source_mappings(MaxItems=1, Marker=p1["NextMarker"])
    assert len(p2["EventSourceMappings"]) == 1 and "NextMarker" not in p2
    assert p1["EventSourceMappings"][0]["UUID"] != p2["EventSourceMappings"][0]["UUID"]
    paged = [x["UUID"] for page in lam.get_paginator("list_event_source_mappings").paginate(
        PaginationConfig={"PageSize": 1}) for x in page["EventSourceMappings"]]
    assert sorted(paged) == sorted([uuid, m2["UUID"]])

    # Enable, update, disable, delete: the transitional state, then the stored one.
    u = lam.update_event_source_mapping(UUID=uuid, Enabled=True)
    assert u["ResponseMetadata"]["HTTPStatusCode"] == 202 and u["State"] == "Enabling"
    assert lam.get_event_source_mapping(UUID=uuid)["State"] == "Enabled"
    u = lam.update_event_source_mapping(UUID=uuid, BatchSize=7, FilterCriteria={"Filters": []},
                                        ScalingConfig={}, FunctionResponseTypes=[])
    assert u["State"] == "Updating" and u["BatchSize"] == 7
    assert "FilterCriteria" not in u and "ScalingConfig" not in u and u["FunctionResponseTypes"] == []
    g = lam.get_event_source_mapping(UUID=uuid)
    assert g["State"] == "Enabled" and g["BatchSize"] == 7 and g["MaximumBatchingWindowInSeconds"] == 2
    assert lam.update_event_source_mapping(UUID=uuid, Enabled=False)["State"] == "Disabling"
    assert lam.get_event_source_mapping(UUID=uuid)["State"] == "Disabled"
    d = lam.delete_event_source_mapping(UUID=uuid)
    assert d["ResponseMetadata"]["HTTPStatusCode"] == 202 and d["State"] == "Deleting"
    assert error(lambda: lam.get_event_source_mapping(UUID=uuid)) == (
        "ResourceNotFoundException", "The resource you requested does not exist.", 404)
    assert [x["UUID"] for x in lam.list_event_source_mappings()["EventSourceMappings"]] == [m2["UUID"]]


def test_refusals_have_lambdas_codes_and_messages(lam, sqs, tmp_path):
    consumer(lam, "f", str(tmp_path), timeout=10)
    _, arn = queue(sqs, "q", VisibilityTimeout=30)
    _, short = queue(sqs, "short", VisibilityTimeout=5)
    _, fifo = queue(sqs, "f.fifo", FifoQueue="true", VisibilityTimeout=30)
    _, other = queue(sqs, "other", VisibilityTimeout=30)
    missing = "00000000-0000-0000-0000-000000000000"
    nf = ("ResourceNotFoundException", "The resource you requested does not exist.", 404)
    assert error(lambda: lam.get_event_source_mapping(UUID=missing)) == nf
    assert error(lambda: lam.update_event_source_mapping(UUID=missing, BatchSize=3)) == nf
    assert error(lambda: lam.delete_event_source_mapping(UUID=missing)) == nf

    assert error(lambda: lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="nope")) == (
        "ResourceNotFoundException", f"Function not found: arn:aws:lambda:{REGION}:{ACCOUNT}:function:nope", 404)
    m = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="f")
    assert error(lambda: lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="f")) == (
        "ResourceConflictException",
        f'An event source mapping with SQS arn (" {arn} ") and function (" f ") already exists. '
        f'Please update or delete the existing mapping with UUID {m["UUID"]}', 409)

    def create(**kw):
        return error(lambda: lam.create_event_source_mapping(FunctionName="f", **kw))

    assert create(EventSourceArn=short) == (
        "InvalidParameterValueException",
        "Queue visibility timeout: 5 seconds is less than Function timeout: 10 seconds", 400)
    code, msg, status = create(EventSourceArn=f"arn:aws:sqs:{REGION}:{ACCOUNT}:no-such-queue")
    assert (code, status) == ("InvalidParameterValueException", 400) and "NonExistentQueue" in msg
    assert create(EventSourceArn=other, BatchSize=11) == (
        "InvalidParameterValueException",
        "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10", 400)
    assert create(EventSourceArn=fifo, BatchSize=11)[0] == "InvalidParameterValueException"
    assert create(EventSourceArn=fifo, MaximumBatchingWindowInSeconds=1) == (
        "InvalidParameterValueException", "Batching window is not supported for FIFO queues", 400)
    assert create(EventSourceArn=fifo, FilterCriteria={"Filters": [{"Pattern": "{not json"}]}) == (
        "InvalidParameterValueException", "Invalid filter pattern definition.", 400)
    assert create(EventSourceArn=fifo, BatchSize=10001)[0:3:2] == ("ValidationException", 400)
    assert create(EventSourceArn=fifo, FunctionResponseTypes=["Nope"])[0:3:2] == ("ValidationException", 400)
    assert create(EventSourceArn=fifo, ScalingConfig={"MaximumConcurrency": 1001})[0:3:2] == ("ValidationException", 400)
    code, _, status = create(EventSourceArn=f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/s")
    assert (code, status) == ("InvalidParameterValueException", 400)
    # The same checks on update; nothing changed.
    assert error(lambda: lam.update_event_source_mapping(UUID=m["UUID"], BatchSize=11))[0] == "InvalidParameterValueException"
    assert error(lambda: lam.update_event_source_mapping(UUID=m["UUID"], FunctionName="nope"))[0] == "ResourceNotFoundException"
    assert lam.get_event_source_mapping(UUID=m["UUID"])["BatchSize"] == 10


def test_partial_batch_failures_come_back_then_reach_the_dlq(lam, sqs, tmp_path):
    out = consumer(lam, "partial", str(tmp_path))
    dlq_url, dlq_arn = queue(sqs, "partial-dlq")
    url, arn = queue(sqs, "partial", VisibilityTimeout=2, RedrivePolicy=json.dumps(
        {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2}))
    lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="partial", BatchSize=10,
                                    FunctionResponseTypes=["ReportBatchItemFailures"])
    sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": "1", "MessageBody": "ok-1"}, {"Id": "2", "MessageBody": "fail-1"},
        {"Id": "3", "MessageBody": "ok-2"}])
    got = []
    assert wait_for(lambda: got.extend(sqs.receive_message(
        QueueUrl=dlq_url, WaitTimeSeconds=1).get("Messages", [])) or got, timeout=20)
    assert [m["Body"] for m in got] == ["fail-1"]
    seen = records(out)
    ok = [r for r in seen if r["body"].startswith("ok")]
    failed = [r for r in seen if r["body"] == "fail-1"]
    # The successes were deleted after their first invocation; the failure came back once.
    assert sorted(r["body"] for r in ok) == ["ok-1", "ok-2"]
    assert [r["attributes"]["ApproximateReceiveCount"] for r in failed] == ["1", "2"]
    assert counts(sqs, url) == (0, 0)


def test_fifo_queue_keeps_group_order(lam, sqs, tmp_path):
    out = consumer(lam, "ordered", str(tmp_path))
    url, arn = queue(sqs, "ordered.fifo", FifoQueue="true", VisibilityTimeout=2)
    lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="ordered", BatchSize=3)
    sent = {}
    for i in range(12):
        g = "ab"[i % 2]
        r = sqs.send_message(QueueUrl=url, MessageBody=f"{g}-{i}", MessageGroupId=g,
                             MessageDeduplicationId=f"d{i}")
        sent[f"{g}-{i}"] = r["SequenceNumber"]
    assert wait_for(lambda: len(records(out)) >= 12, timeout=20)
    seen = records(out)
    assert len(seen) == 12
    for g in "ab":
        bodies = [r["body"] for r in seen if r["attributes"]["MessageGroupId"] == g]
        assert bodies == [f"{g}-{i}" for i in range(12) if "ab"[i % 2] == g]
    for r in seen:
        assert r["attributes"]["SequenceNumber"] == sent[r["body"]]
        assert r["attributes"]["MessageDeduplicationId"] == "d" + r["body"].split("-")[1]
    assert all(len(e["Records"]) <= 3 for e in events(out))


def test_batching_window_gathers_several_messages_in_one_invocation(lam, sqs, tmp_path):
    out = consumer(lam, "windowed", str(tmp_path))
    url, arn = queue(sqs, "windowed", VisibilityTimeout=10)
    lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="windowed", BatchSize=20,
                                    MaximumBatchingWindowInSeconds=2)
    time.sleep(0.5)  # the poller starts
    for i in range(4):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{i}")
        time.sleep(0.2)
    assert wait_for(lambda: len(records(out)) >= 4, timeout=15)
    assert [sorted(r["body"] for r in e["Records"]) for e in events(out)] == [["m0", "m1", "m2", "m3"]]


def test_filters_delete_what_they_do_not_match_without_invoking(lam, sqs, tmp_path):
    out = consumer(lam, "filtered", str(tmp_path))
    url, arn = queue(sqs, "filtered", VisibilityTimeout=10)
    lam.create_event_source_mapping(
        EventSourceArn=arn, FunctionName="filtered",
        FilterCriteria={"Filters": [{"Pattern": json.dumps({"body": {"kind": ["keep"]}})},
                                    {"Pattern": json.dumps({"body": ["plain-keep"]})}]})
    bodies = [json.dumps({"kind": "keep", "n": 1}), json.dumps({"kind": "drop"}), "plain-keep",
              "plain-drop", json.dumps({"kind": "keep", "n": 2})]
    for b in bodies:
        sqs.send_message(QueueUrl=url, MessageBody=b)
    assert wait_for(lambda: len(records(out)) >= 3 and counts(sqs, url) == (0, 0), timeout=15)
    time.sleep(0.5)
    assert sorted(r["body"] for r in records(out)) == sorted([bodies[0], bodies[4], "plain-keep"])


def test_the_sqs_event_has_lambdas_exact_record_shape(lam, sqs, tmp_path):
    out = consumer(lam, "shape", str(tmp_path))
    url, arn = queue(sqs, "shape", VisibilityTimeout=10)
    lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="shape")
    t0 = int(time.time() * 1000)
    sent = sqs.send_message(QueueUrl=url, MessageBody="hello", MessageAttributes={
        "s": {"DataType": "String", "StringValue": "v"},
        "n": {"DataType": "Number", "StringValue": "12"},
        "b": {"DataType": "Binary", "BinaryValue": b"\x00\x01"}})
    plain = sqs.send_message(QueueUrl=url, MessageBody="no attributes")
    assert wait_for(lambda: len(records(out)) >= 2, timeout=15)
    assert all(list(e) == ["Records"] for e in events(out))
    by_body = {r["body"]: r for r in records(out)}
    r = by_body["hello"]
    # https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html (example standard queue event)
    assert set(r) == {"messageId", "receiptHandle", "body", "attributes", "messageAttributes",
                      "md5OfBody", "md5OfMessageAttributes", "eventSource", "eventSourceARN",
                      "awsRegion"}
    assert r["messageId"] == sent["MessageId"]
    assert r["md5OfBody"] == sent["MD5OfMessageBody"] == hashlib.md5(b"hello").hexdigest()
    assert r["md5OfMessageAttributes"] == sent["MD5OfMessageAttributes"]
    assert r["eventSource"] == "aws:sqs" and r["eventSourceARN"] == arn and r["awsRegion"] == REGION
    assert set(r["attributes"]) == {"ApproximateReceiveCount", "SentTimestamp", "SenderId",
                                    "ApproximateFirstReceiveTimestamp"}
    a = r["attributes"]
    assert a["ApproximateReceiveCount"] == "1" and a["SenderId"] == ACCOUNT
    assert t0 - 1000 <= int(a["SentTimestamp"]) <= int(a["ApproximateFirstReceiveTimestamp"])
    assert r["messageAttributes"] == {
        "s": {"stringValue": "v", "stringListValues": [], "binaryListValues": [], "dataType": "String"},
        "n": {"stringValue": "12", "stringListValues": [], "binaryListValues": [], "dataType": "Number"},
        "b": {"binaryValue": base64.b64encode(b"\x00\x01").decode(), "stringListValues": [],
              "binaryListValues": [], "dataType": "Binary"}}
    p = by_body["no attributes"]
    assert p["messageId"] == plain["MessageId"]
    assert p["messageAttributes"] == {} and "md5OfMessageAttributes" not in p


def test_a_mapping_of_a_deleted_function_does_not_consume(lam, sqs, tmp_path):
    out = consumer(lam, "gone", str(tmp_path))
    url, arn = queue(sqs, "gone", VisibilityTimeout=10)
    m = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="gone")
    sqs.send_message(QueueUrl=url, MessageBody="before")
    assert wait_for(lambda: len(records(out)) == 1 and counts(sqs, url) == (0, 0), timeout=15)
    lam.delete_function(FunctionName="gone")
    time.sleep(1.5)  # a poller in a long poll when the function went may take one more batch
    sqs.send_message(QueueUrl=url, MessageBody="after")
    time.sleep(2.5)
    # The mapping stays (as in Lambda); its message is neither received nor spent towards a DLQ.
    assert lam.get_event_source_mapping(UUID=m["UUID"])["State"] == "Enabled"
    msgs = sqs.receive_message(QueueUrl=url, AttributeNames=["All"]).get("Messages", [])
    assert [x["Body"] for x in msgs] == ["after"]
    assert msgs[0]["Attributes"]["ApproximateReceiveCount"] == "1"


def test_kill_9_mid_processing_loses_no_message(tmp_path):
    d = tempfile.mkdtemp(prefix="eddy-esm-kill-")
    s = Eddy(d, ["--python", sys.executable, "--function-user", "current"]).start()
    try:
        lam, sqs = s.client("lambda"), s.client("sqs")
        out = consumer(lam, "slow", str(tmp_path), timeout=2, sleep=0.3)
        url, arn = queue(sqs, "slow", VisibilityTimeout=2)
        lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="slow", BatchSize=2,
                                        ScalingConfig={"MaximumConcurrency": 2})
        acked = set()
        for i in range(0, 40, 10):
            r = sqs.send_message_batch(QueueUrl=url, Entries=[
                {"Id": str(j), "MessageBody": f"m{i + j}"} for j in range(10)])
            assert not r.get("Failed")
            acked.update(f"m{i + j}" for j in range(10))
        assert wait_for(lambda: len(records(out)) >= 4, timeout=15)
        s.stop(sig_kill=True)
        done_before = {r["body"] for r in records(out)}
        assert done_before < acked  # killed mid-processing
        s.start()
        assert wait_for(lambda: {r["body"] for r in records(out)} >= acked, timeout=30)
        sqs = s.client("sqs")
        assert wait_for(lambda: counts(sqs, url) == (0, 0), timeout=10)
    finally:
        s.stop()
        shutil.rmtree(d, ignore_errors=True)

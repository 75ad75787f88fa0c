"""SQS-compatible queues through boto3 against the real eddy binary."""

import hashlib
import json
import struct
import threading
import time

import pytest
from botocore.exceptions import ClientError


@pytest.fixture
def sqs(eddy):
    eddy.post("/moto-api/reset")
    return eddy.client("sqs")


def code(ex):
    return ex.value.response["Error"]["Code"]


def attrs_md5(attrs):
    """MD5 of message attributes, computed as the SQS developer guide describes."""
    buf = b""
    for name in sorted(attrs):
        a = attrs[name]
        for part in (name.encode(), a["DataType"].encode()):
            buf += struct.pack(">I", len(part)) + part
        if "StringValue" in a:
            v = a["StringValue"].encode()
            buf += b"\x01" + struct.pack(">I", len(v)) + v
        else:
            v = a["BinaryValue"]
            buf += b"\x02" + struct.pack(">I", len(v)) + v
    return hashlib.md5(buf).hexdigest()


def test_queue_lifecycle(sqs):
    url = sqs.create_queue(QueueName="jobs", Attributes={"VisibilityTimeout": "45"})["QueueUrl"]
    assert url.endswith("/123456789012/jobs")
    # Same name, same attributes: the same queue.
    assert sqs.create_queue(QueueName="jobs", Attributes={"VisibilityTimeout": "45"})["QueueUrl"] == url
    with pytest.raises(ClientError) as ex:
        sqs.create_queue(QueueName="jobs", Attributes={"VisibilityTimeout": "10"})
    assert code(ex) == "QueueAlreadyExists"
    assert sqs.get_queue_url(QueueName="jobs")["QueueUrl"] == url
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attrs["VisibilityTimeout"] == "45"
    assert attrs["QueueArn"] == "arn:aws:sqs:us-east-1:123456789012:jobs"
    assert attrs["ApproximateNumberOfMessages"] == "0"
    assert attrs["MessageRetentionPeriod"] == "345600"
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"DelaySeconds": "2"})
    assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["DelaySeconds"])["Attributes"] == {"DelaySeconds": "2"}
    sqs.create_queue(QueueName="other")
    assert sorted(u.rsplit("/", 1)[1] for u in sqs.list_queues()["QueueUrls"]) == ["jobs", "other"]
    assert [u.rsplit("/", 1)[1] for u in sqs.list_queues(QueueNamePrefix="jo")["QueueUrls"]] == ["jobs"]
    sqs.delete_queue(QueueUrl=url)
    with pytest.raises(ClientError) as ex:
        sqs.get_queue_url(QueueName="jobs")
    assert code(ex) == "AWS.SimpleQueueService.NonExistentQueue"
    assert isinstance(ex.value, sqs.exceptions.QueueDoesNotExist)


def test_bad_attributes_and_names(sqs):
    with pytest.raises(ClientError) as ex:
        sqs.create_queue(QueueName="bad name")
    assert code(ex) == "InvalidParameterValue"
    with pytest.raises(ClientError) as ex:
        sqs.create_queue(QueueName="q", Attributes={"VisibilityTimeout": "99999"})
    assert code(ex) == "InvalidAttributeValue"
    with pytest.raises(ClientError) as ex:
        sqs.create_queue(QueueName="q", Attributes={"Nope": "1"})
    assert code(ex) == "InvalidAttributeName"
    with pytest.raises(ClientError) as ex:
        sqs.create_queue(QueueName="q", Attributes={"FifoQueue": "true"})
    assert code(ex) == "InvalidParameterValue"
    assert "QueueUrls" not in sqs.list_queues()


def test_send_receive_delete_with_attributes(sqs):
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    attrs = {"kind": {"DataType": "String", "StringValue": "order"},
             "n": {"DataType": "Number", "StringValue": "42"},
             "raw": {"DataType": "Binary", "BinaryValue": b"\x00\x01"}}
    r = sqs.send_message(QueueUrl=url, MessageBody="hello", MessageAttributes=attrs)
    assert r["MD5OfMessageBody"] == hashlib.md5(b"hello").hexdigest()
    assert r["MD5OfMessageAttributes"] == attrs_md5(attrs)
    got = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"],
                              MessageSystemAttributeNames=["All"])["Messages"]
    assert len(got) == 1
    m = got[0]
    assert m["Body"] == "hello" and m["MessageId"] == r["MessageId"]
    assert m["MD5OfBody"] == hashlib.md5(b"hello").hexdigest()
    assert m["MessageAttributes"]["raw"]["BinaryValue"] == b"\x00\x01"
    assert m["MessageAttributes"]["kind"]["StringValue"] == "order"
    assert m["Attributes"]["ApproximateReceiveCount"] == "1"
    # In flight: invisible.
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert a["ApproximateNumberOfMessagesNotVisible"] == "1"
    sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert a["ApproximateNumberOfMessagesNotVisible"] == "0" and a["ApproximateNumberOfMessages"] == "0"
    with pytest.raises(ClientError) as ex:
        sqs.delete_message(QueueUrl=url, ReceiptHandle="garbage")
    assert code(ex) == "ReceiptHandleIsInvalid"


def test_visibility_timeout_and_receive_count(sqs):
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="x")
    m = sqs.receive_message(QueueUrl=url, VisibilityTimeout=30)["Messages"][0]
    # Making it visible again right away: the next receive sees it, with a new receipt handle.
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0)
    m2 = sqs.receive_message(QueueUrl=url, AttributeNames=["ApproximateReceiveCount"])["Messages"][0]
    assert m2["MessageId"] == m["MessageId"] and m2["ReceiptHandle"] != m["ReceiptHandle"]
    assert m2["Attributes"]["ApproximateReceiveCount"] == "2"
    # A visibility timeout of one second expires by itself.
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m2["ReceiptHandle"], VisibilityTimeout=1)
    m3 = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=5)["Messages"][0]
    assert m3["MessageId"] == m["MessageId"]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=m3["ReceiptHandle"])
    with pytest.raises(ClientError) as ex:
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m3["ReceiptHandle"], VisibilityTimeout=5)
    assert code(ex) == "AWS.SimpleQueueService.MessageNotInflight"


def test_long_polling_wakes_on_send(sqs):
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    result = {}

    def receive():
        t = time.monotonic()
        result["r"] = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=10)
        result["waited"] = time.monotonic() - t

    th = threading.Thread(target=receive)
    th.start()
    time.sleep(0.3)
    sqs.send_message(QueueUrl=url, MessageBody="wake")
    th.join(15)
    assert result["r"]["Messages"][0]["Body"] == "wake"
    assert result["waited"] < 5
    # And an empty long poll returns empty after its wait.
    assert "Messages" not in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)


def test_batches(sqs):
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    r = sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": "a", "MessageBody": "1"}, {"Id": "b", "MessageBody": "2"},
        {"Id": "c", "MessageBody": "3", "DelaySeconds": 901}])
    assert sorted(s["Id"] for s in r["Successful"]) == ["a", "b"]
    assert r["Failed"][0]["Id"] == "c" and r["Failed"][0]["SenderFault"] is True
    with pytest.raises(ClientError) as ex:
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": "a", "MessageBody": "1"}] * 2)
    assert code(ex) == "AWS.SimpleQueueService.BatchEntryIdsNotDistinct"
    with pytest.raises(ClientError) as ex:
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": "1"} for i in range(11)])
    assert code(ex) == "AWS.SimpleQueueService.TooManyEntriesInBatchRequest"
    msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert sorted(m["Body"] for m in msgs) == ["1", "2"]
    d = sqs.delete_message_batch(QueueUrl=url, Entries=[
        {"Id": f"m{i}", "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(msgs)])
    assert len(d["Successful"]) == 2
    with pytest.raises(ClientError) as ex:
        sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=11)
    assert code(ex) == "InvalidParameterValue"


def test_delay_and_purge(sqs):
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=30)
    a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesDelayed"])
    assert a["Attributes"]["ApproximateNumberOfMessagesDelayed"] == "1"
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    sqs.purge_queue(QueueUrl=url)
    a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert a["ApproximateNumberOfMessagesDelayed"] == "0"


def test_redrive_to_dead_letter_queue(sqs):
    dlq = sqs.create_queue(QueueName="dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    url = sqs.create_queue(QueueName="q", Attributes={
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2})})["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="poison")
    for _ in range(2):
        m = sqs.receive_message(QueueUrl=url)["Messages"][0]
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0)
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    moved = sqs.receive_message(QueueUrl=dlq)["Messages"]
    assert moved[0]["Body"] == "poison" and moved[0]["MessageId"] == m["MessageId"]
    assert sqs.list_dead_letter_source_queues(QueueUrl=dlq)["queueUrls"] == [url]


def test_fifo_order_groups_and_dedup(sqs):
    url = sqs.create_queue(QueueName="q.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    with pytest.raises(ClientError) as ex:
        sqs.send_message(QueueUrl=url, MessageBody="x", MessageDeduplicationId="d")
    assert code(ex) == "MissingParameter"
    with pytest.raises(ClientError) as ex:
        sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="g")
    assert code(ex) == "InvalidParameterValue"
    seqs = []
    for i in range(3):
        r = sqs.send_message(QueueUrl=url, MessageBody=f"a{i}", MessageGroupId="A", MessageDeduplicationId=f"a{i}")
        seqs.append(int(r["SequenceNumber"]))
    assert seqs == sorted(seqs)
    dup = sqs.send_message(QueueUrl=url, MessageBody="a0 again", MessageGroupId="A", MessageDeduplicationId="a0")
    first = sqs.send_message(QueueUrl=url, MessageBody="b0", MessageGroupId="B", MessageDeduplicationId="b0")
    assert dup["MessageId"] != first["MessageId"]
    msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in msgs] == ["a0", "a1", "a2", "b0"]
    # The groups are in flight now: nothing more to receive until they are deleted.
    sqs.send_message(QueueUrl=url, MessageBody="a3", MessageGroupId="A", MessageDeduplicationId="a3")
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    for m in msgs:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    assert [m["Body"] for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]] == ["a3"]


def test_fifo_content_based_dedup(sqs):
    url = sqs.create_queue(QueueName="c.fifo", Attributes={
        "FifoQueue": "true", "ContentBasedDeduplication": "true"})["QueueUrl"]
    a = sqs.send_message(QueueUrl=url, MessageBody="same", MessageGroupId="g")
    b = sqs.send_message(QueueUrl=url, MessageBody="same", MessageGroupId="g")
    assert a["MessageId"] == b["MessageId"]
    msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert len(msgs) == 1


def test_messages_survive_restart(fresh_dir):
    from conftest import Eddy
    first = Eddy(fresh_dir).start()
    q = first.client("sqs")
    url = q.create_queue(QueueName="durable")["QueueUrl"]
    q.send_message(QueueUrl=url, MessageBody="kept")
    first.stop(sig_kill=True)
    second = Eddy(fresh_dir).start()
    try:
        q = second.client("sqs")
        url = q.get_queue_url(QueueName="durable")["QueueUrl"]
        assert q.receive_message(QueueUrl=url)["Messages"][0]["Body"] == "kept"
    finally:
        second.stop()


def test_tags(sqs):
    url = sqs.create_queue(QueueName="t", tags={"a": "1"})["QueueUrl"]
    sqs.tag_queue(QueueUrl=url, Tags={"b": "2"})
    sqs.untag_queue(QueueUrl=url, TagKeys=["a"])
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"b": "2"}


# --- Hostile input: one clear answer each (issue 14) -----------------------------------------

RAW_SQS_HEADERS = {
    "Content-Type": "application/x-amz-json-1.0",
    "Authorization": "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/sqs/aws4_request, "
                     "SignedHeaders=host, Signature=0",
}


def raw_sqs(eddy, operation, body):
    headers = dict(RAW_SQS_HEADERS, **{"X-Amz-Target": f"AmazonSQS.{operation}"})
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    status, headers, raw = eddy.post("/", data, headers)
    return status, headers, json.loads(raw) if raw else None


@pytest.mark.parametrize("value", ["xyz", "YmxvYg=", "-_==", "not base64!", "Zm9v\n", 5])
def test_invalid_base64_binary_attributes_are_refused(eddy, sqs, value):
    """SDKs always send BinaryValue as base64; a raw client that does not gets AWS JSON's answer
    for a malformed blob (a 400 SerializationException), in SendMessage and SendMessageBatch."""
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    attrs = {"a": {"DataType": "Binary", "BinaryValue": value}}
    status, _, resp = raw_sqs(eddy, "SendMessage",
                              {"QueueUrl": url, "MessageBody": "m", "MessageAttributes": attrs})
    assert status == 400, resp
    assert resp == {"__type": "SerializationException",
                    "message": "Value for message attribute 'a' member BinaryValue is not valid base64"}
    status, _, resp = raw_sqs(eddy, "SendMessageBatch", {"QueueUrl": url, "Entries": [
        {"Id": "1", "MessageBody": "m"},
        {"Id": "2", "MessageBody": "m", "MessageAttributes": attrs}]})
    assert status == 400, resp
    assert resp["__type"] == "SerializationException"
    # Nothing was sent.
    assert "Messages" not in sqs.receive_message(QueueUrl=url)


def test_message_bodies_outside_the_sqs_character_set_are_invalid_message_contents(sqs):
    """Control characters, U+FFFE/U+FFFF and lone surrogates (boto3 sends "\ud800" as that JSON
    escape, which SQS's reader keeps and its character check refuses) are all refused alike."""
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    message = ("Invalid characters found. Valid unicode characters are #x9 | #xA | #xD | #x20 to "
               "#xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF")
    for body in ["a\x00b", "bell\x07", "\ufffe", "\uffff", "lone \ud800", "\udc00"]:
        with pytest.raises(ClientError) as ex:
            sqs.send_message(QueueUrl=url, MessageBody=body)
        assert code(ex) == "InvalidMessageContents", repr(body)
        assert ex.value.response["Error"]["Message"] == message
        assert ex.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(ClientError) as ex:
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": "1", "MessageBody": "x\udfffy"}])
    assert code(ex) == "InvalidMessageContents"
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    # Tabs, newlines and emoji (a surrogate pair on the wire) are fine.
    sqs.send_message(QueueUrl=url, MessageBody="a\tb\r\nc \U0001F600")
    got = sqs.receive_message(QueueUrl=url)["Messages"]
    assert got[0]["Body"] == "a\tb\r\nc \U0001F600"


def redrive(arn, max_receive=3):
    return {"RedrivePolicy": json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": max_receive})}


def test_a_queue_cannot_redrive_to_itself(sqs):
    arn = "arn:aws:sqs:us-east-1:123456789012:loop"
    reason = "Dead-letter target must not be the source queue itself."
    with pytest.raises(ClientError) as ex:
        sqs.create_queue(QueueName="loop", Attributes=redrive(arn))
    assert code(ex) == "InvalidParameterValue"
    assert ex.value.response["Error"]["Message"] == (
        f"Value {redrive(arn)['RedrivePolicy']} for parameter RedrivePolicy is invalid. "
        f"Reason: {reason}")
    assert "QueueUrls" not in sqs.list_queues()
    url = sqs.create_queue(QueueName="loop")["QueueUrl"]
    with pytest.raises(ClientError) as ex:
        sqs.set_queue_attributes(QueueUrl=url, Attributes=redrive(arn))
    assert code(ex) == "InvalidParameterValue"
    assert ex.value.response["Error"]["Message"].endswith(f"Reason: {reason}")
    a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert "RedrivePolicy" not in a


def test_a_dead_letter_queue_must_exist_be_of_the_same_kind_and_region(sqs):
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    sqs.create_queue(QueueName="dlq.fifo", Attributes={"FifoQueue": "true"})
    for arn, reason in [
        ("arn:aws:sqs:us-east-1:123456789012:missing", "Dead letter target does not exist."),
        ("arn:aws:sqs:us-east-1:123456789012:dlq.fifo",
         "Dead-letter queue must be same type of queue as the source.."),
        ("arn:aws:sqs:eu-west-1:123456789012:dlq",
         "Dead-letter target must be in same region as the source."),
    ]:
        with pytest.raises(ClientError) as ex:
            sqs.set_queue_attributes(QueueUrl=url, Attributes=redrive(arn))
        assert code(ex) == "InvalidParameterValue", arn
        assert ex.value.response["Error"]["Message"] == (
            f"Value {redrive(arn)['RedrivePolicy']} for parameter RedrivePolicy is invalid. "
            f"Reason: {reason}")
        with pytest.raises(ClientError) as ex:
            sqs.create_queue(QueueName="q2", Attributes=redrive(arn))
        assert code(ex) == "InvalidParameterValue", arn
    dlq = sqs.create_queue(QueueName="dlq")["QueueUrl"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes=redrive("arn:aws:sqs:us-east-1:123456789012:dlq"))
    assert sqs.list_dead_letter_source_queues(QueueUrl=dlq)["queueUrls"] == [url]

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

"""SQS-compatible queues through boto3 against the real eddy binary.

The suite runs twice: once over SQS's AWS JSON 1.0 protocol (today's botocore) and once over the
AWS query protocol (form-encoded requests, XML replies), with today's boto3 on botocore 1.34.89's
SQS model, the last on the query protocol (copied into `models/`, see its README). Both
protocols report the same error codes to users: the query protocol's `<Code>`, which the JSON
protocol carries in `x-amzn-query-error` (SQS is `awsQueryCompatible`). The expected codes and
messages come from botocore's SQS models (`botocore/data/sqs/2012-11-05/service-2.json`) and
AWS's SQS API reference, cited where a test pins one."""

import hashlib
import json
import os
import struct
import threading
import time

import boto3
import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import ROOT

# botocore 1.34.89's SQS model (the query protocol).
MODELS = os.path.join(ROOT, "tests", "python", "models")


def query_client(eddy):
    """An SQS client of today's boto3 that speaks the query protocol."""
    session = botocore.session.Session()
    session.set_config_variable("data_path", MODELS)
    client = boto3.Session(botocore_session=session).client(
        "sqs", endpoint_url=eddy.aws, region_name="us-east-1", aws_access_key_id="test",
        aws_secret_access_key="test", config=Config(retries={"max_attempts": 1}))
    assert client.meta.service_model.protocol == "query"
    return client


@pytest.fixture(params=["json", "query"])
def sqs(eddy, request):
    """An SQS client on a wiped server, once for each of SQS's protocols."""
    eddy.post("/moto-api/reset")
    if request.param == "query":
        return query_client(eddy)
    client = eddy.client("sqs")
    assert client.meta.service_model.protocol == "json"
    return client


@pytest.fixture
def sqs_json(eddy):
    """An SQS client on the AWS JSON protocol only (for tests of that protocol's own shapes)."""
    eddy.post("/moto-api/reset")
    return eddy.client("sqs")


def protocol(sqs):
    return sqs.meta.service_model.protocol


def system_names(sqs, names):
    """ReceiveMessage's system attribute names: `MessageSystemAttributeNames`, or the legacy
    `AttributeNames` for a model without it (botocore 1.34.89's)."""
    members = sqs.meta.service_model.operation_model("ReceiveMessage").input_shape.members
    key = "MessageSystemAttributeNames" if "MessageSystemAttributeNames" in members else "AttributeNames"
    return {key: names}


def error(call):
    """The (code, message, HTTP status) of the ClientError `call` raises."""
    with pytest.raises(ClientError) as ex:
        call()
    e = ex.value.response
    return e["Error"]["Code"], e["Error"]["Message"], e["ResponseMetadata"]["HTTPStatusCode"]


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
                              **system_names(sqs, ["All"]))["Messages"]
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
def test_invalid_base64_binary_attributes_are_refused(eddy, sqs_json, value):
    """SDKs always send BinaryValue as base64; a raw client that does not gets AWS JSON's answer
    for a malformed blob (a 400 SerializationException), in SendMessage and SendMessageBatch."""
    url = sqs_json.create_queue(QueueName="q")["QueueUrl"]
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
    assert "Messages" not in sqs_json.receive_message(QueueUrl=url)


def test_message_bodies_outside_the_sqs_character_set_are_invalid_message_contents(sqs):
    """Control characters, U+FFFE/U+FFFF and lone surrogates (boto3 sends "\ud800" as that JSON
    escape, which SQS's reader keeps and its character check refuses) are all refused alike."""
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    message = ("Invalid characters found. Valid unicode characters are #x9 | #xA | #xD | #x20 to "
               "#xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF")
    bodies = ["a\x00b", "bell\x07", "\ufffe", "\uffff"]
    if protocol(sqs) == "json":
        # A lone surrogate cannot be form-encoded (UTF-8 has none): the query client cannot send it.
        bodies += ["lone \ud800", "\udc00"]
    for body in bodies:
        with pytest.raises(ClientError) as ex:
            sqs.send_message(QueueUrl=url, MessageBody=body)
        assert code(ex) == "InvalidMessageContents", repr(body)
        assert ex.value.response["Error"]["Message"] == message
        assert ex.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    if protocol(sqs) == "json":
        # A request SQS's JSON reader refuses whole.
        with pytest.raises(ClientError) as ex:
            sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": "1", "MessageBody": "x\udfffy"}])
        assert code(ex) == "InvalidMessageContents"
    # An entry's characters fail that entry only.
    r = sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": "bad-1", "MessageBody": "x\x01y"}])
    assert r["Failed"] == [{"Id": "bad-1", "SenderFault": True, "Code": "InvalidMessageContents",
                            "Message": message}], r
    assert not r.get("Successful"), r
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


# --- Answers as SQS gives them (issue: SQS over both protocols) --------------------------------

def test_json_errors_name_the_sqs_type_and_the_query_code(eddy, sqs_json):
    """SQS's JSON protocol names an error by its Smithy shape id in `__type`
    (`com.amazonaws.sqs#QueueDoesNotExist`) and, SQS being `awsQueryCompatible` in botocore's
    model, gives the query protocol's code and fault in `x-amzn-query-error`; botocore's JSON
    parser keeps what follows `#` as `QueryErrorCode`, the fault as `Type`, and reports the
    header's code (botocore/parsers.py `_do_query_compatible_error_parse`)."""
    status, headers, resp = raw_sqs(eddy, "GetQueueUrl", {"QueueName": "nope"})
    assert status == 400
    assert resp == {"__type": "com.amazonaws.sqs#QueueDoesNotExist",
                    "message": "The specified queue does not exist."}
    headers = {k.lower(): v for k, v in headers.items()}
    assert headers["x-amzn-query-error"] == "AWS.SimpleQueueService.NonExistentQueue;Sender"
    with pytest.raises(ClientError) as ex:
        sqs_json.get_queue_url(QueueName="nope")
    err = ex.value.response["Error"]
    assert err["Code"] == "AWS.SimpleQueueService.NonExistentQueue"
    assert err["QueryErrorCode"] == "QueueDoesNotExist" and err["Type"] == "Sender", err
    assert isinstance(ex.value, sqs_json.exceptions.QueueDoesNotExist)
    url = sqs_json.create_queue(QueueName="q")["QueueUrl"]
    status, headers, resp = raw_sqs(eddy, "ReceiveMessage",
                                    {"QueueUrl": url, "MaxNumberOfMessages": 11})
    assert status == 400
    assert resp["__type"] == "com.amazonaws.sqs#InvalidParameterValueException", resp
    headers = {k.lower(): v for k, v in headers.items()}
    assert headers["x-amzn-query-error"] == "InvalidParameterValue;Sender"


def test_the_query_protocol_answers_in_xml_with_the_query_code(eddy):
    """The query protocol's error shape: `<ErrorResponse><Error><Type>Sender</Type><Code>…`."""
    eddy.post("/moto-api/reset")
    body = b"Action=GetQueueUrl&QueueName=nope&Version=2012-11-05"
    status, _, raw = eddy.post("/", body, {
        "Content-Type": "application/x-www-form-urlencoded",
        "Authorization": RAW_SQS_HEADERS["Authorization"]})
    assert status == 400
    text = raw.decode()
    assert "<ErrorResponse" in text and "<Type>Sender</Type>" in text, text
    assert "<Code>AWS.SimpleQueueService.NonExistentQueue</Code>" in text, text
    assert "<Message>The specified queue does not exist.</Message>" in text, text


def policy(sqs, url):
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"]).get("Attributes", {})
    return json.loads(attrs["Policy"]) if "Policy" in attrs else None


def test_add_and_remove_permission_edit_the_queue_policy(sqs):
    """AddPermission writes a statement into the queue's `Policy` (API reference, AddPermission:
    "AddPermission generates a policy for you"): `Sid` the label, principals
    `arn:aws:iam::ACCOUNT:root`, actions `SQS:NAME`, the queue's ARN as resource, one value
    alone and several as a list; RemovePermission removes it by label."""
    url = sqs.create_queue(QueueName="shared")["QueueUrl"]
    arn = "arn:aws:sqs:us-east-1:123456789012:shared"
    assert policy(sqs, url) is None
    sqs.add_permission(QueueUrl=url, Label="send", AWSAccountIds=["111122223333"],
                       Actions=["SendMessage"])
    sqs.add_permission(QueueUrl=url, Label="read-and-delete",
                       AWSAccountIds=["111122223333", "444455556666"],
                       Actions=["ReceiveMessage", "DeleteMessage"])
    p = policy(sqs, url)
    assert p["Version"] == "2012-10-17" and p["Id"] == f"{arn}/SQSDefaultPolicy", p
    assert p["Statement"] == [
        {"Sid": "send", "Effect": "Allow",
         "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
         "Action": "SQS:SendMessage", "Resource": arn},
        {"Sid": "read-and-delete", "Effect": "Allow",
         "Principal": {"AWS": ["arn:aws:iam::111122223333:root",
                               "arn:aws:iam::444455556666:root"]},
         "Action": ["SQS:ReceiveMessage", "SQS:DeleteMessage"], "Resource": arn},
    ], p
    all_attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert json.loads(all_attrs["Policy"]) == p
    sqs.remove_permission(QueueUrl=url, Label="send")
    assert [s["Sid"] for s in policy(sqs, url)["Statement"]] == ["read-and-delete"]
    sqs.remove_permission(QueueUrl=url, Label="read-and-delete")
    assert policy(sqs, url) is None
    # A policy of the user's own (one statement, not a list) is added to, not replaced.
    own = {"Version": "2012-10-17", "Statement": {
        "Sid": "mine", "Effect": "Allow", "Principal": "*", "Action": "SQS:SendMessage",
        "Resource": arn}}
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(own)})
    sqs.add_permission(QueueUrl=url, Label="more", AWSAccountIds=["111122223333"],
                       Actions=["GetQueueUrl"])
    p = policy(sqs, url)
    assert [s["Sid"] for s in p["Statement"]] == ["mine", "more"] and "Id" not in p, p


def test_permission_errors(sqs):
    """AddPermission's and RemovePermission's refusals (codes and messages as SQS gives them; the
    API reference: "An Amazon SQS policy can have a maximum of seven actions per statement",
    error `OverLimit`; the batch actions are granted through their single forms)."""
    url = sqs.create_queue(QueueName="shared")["QueueUrl"]
    sqs.add_permission(QueueUrl=url, Label="l", AWSAccountIds=["111122223333"], Actions=["*"])

    def add(label="l2", accounts=("111122223333",), actions=("SendMessage",)):
        return lambda: sqs.add_permission(QueueUrl=url, Label=label, AWSAccountIds=list(accounts),
                                          Actions=list(actions))

    assert error(add(label="l")) == (
        "InvalidParameterValue", "Value l for parameter Label is invalid. Reason: Already exists.",
        400)
    assert error(add(actions=["CreateQueue"])) == (
        "InvalidParameterValue", "Value SQS:CreateQueue for parameter ActionName is invalid. "
        "Reason: Only the queue owner is allowed to invoke this action.", 400)
    assert error(add(actions=["SendMessage", "SendMessageBatch"])) == (
        "InvalidParameterValue", "Value SQS:SendMessageBatch for parameter ActionName is invalid. "
        "Reason: Please refer to the appropriate WSDL for a list of valid actions.", 400)
    assert error(add(actions=["Nope"]))[0] == "InvalidParameterValue"
    assert error(add(actions=[])) == (
        "MissingParameter", "The request must contain the parameter Actions.", 400)
    assert error(add(accounts=[])) == (
        "InvalidParameterValue",
        "Value [] for parameter PrincipalId is invalid. Reason: Unable to verify.", 400)
    eight = ["SendMessage", "ReceiveMessage", "DeleteMessage", "ChangeMessageVisibility",
             "GetQueueAttributes", "GetQueueUrl", "PurgeQueue", "ListDeadLetterSourceQueues"]
    assert error(add(actions=eight)) == (
        "OverLimit", "8 Actions were found, maximum allowed is 7.", 403)
    assert error(add(label="bad label"))[:2] == (
        "InvalidParameterValue", "Value bad label for parameter Label is invalid. Reason: Can "
        "only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length.")
    assert error(lambda: sqs.remove_permission(QueueUrl=url, Label="missing")) == (
        "InvalidParameterValue",
        "Value missing for parameter Label is invalid. Reason: can't find label on existing "
        "policy.", 400)
    gone = url.rsplit("/", 1)[0] + "/gone"
    assert error(lambda: sqs.remove_permission(QueueUrl=gone, Label="l"))[0] == (
        "AWS.SimpleQueueService.NonExistentQueue")
    # Nothing refused was written.
    assert [s["Sid"] for s in policy(sqs, url)["Statement"]] == ["l"]


def test_receive_selects_attributes_by_name_prefix_and_wildcard(sqs):
    """ReceiveMessage's `MessageAttributeNames` (botocore's model: "you can return all of the
    attributes by specifying All or .* in your request. You can also use all message attributes
    starting with a prefix, for example bar.*"); system attributes are chosen the same way,
    through `MessageSystemAttributeNames` or the legacy `AttributeNames`."""
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    s = lambda v: {"DataType": "String", "StringValue": v}  # noqa: E731
    attrs = {"bar.one": s("1"), "bar.two": s("2"), "barn": s("3"), "other": s("4")}
    sqs.send_message(QueueUrl=url, MessageBody="m", MessageAttributes=attrs)

    def receive(names, **more):
        [m] = sqs.receive_message(QueueUrl=url, MessageAttributeNames=names, VisibilityTimeout=0,
                                  **more)["Messages"]
        return m

    assert set(receive(["bar.*"])["MessageAttributes"]) == {"bar.one", "bar.two"}
    assert set(receive([".*"])["MessageAttributes"]) == set(attrs)
    assert set(receive(["All"])["MessageAttributes"]) == set(attrs)
    assert set(receive(["other", "barn"])["MessageAttributes"]) == {"other", "barn"}
    m = receive(["nothing.*"])
    assert "MessageAttributes" not in m and "MD5OfMessageAttributes" in m, m
    m = receive([], **system_names(sqs, ["SentTimestamp", "ApproximateReceiveCount"]))
    assert set(m["Attributes"]) == {"SentTimestamp", "ApproximateReceiveCount"}, m
    m = receive([], AttributeNames=["All"])
    assert {"SenderId", "SentTimestamp", "ApproximateReceiveCount",
            "ApproximateFirstReceiveTimestamp"} <= set(m["Attributes"]), m
    m = receive([], AttributeNames=[".*"])
    assert "SentTimestamp" in m["Attributes"], m
    assert "Attributes" not in receive([])


def test_fifo_messages_may_say_delay_zero(sqs):
    """A FIFO queue has no per-message delay (API reference, SendMessage `DelaySeconds`: "for
    FIFO queues, you can't set DelaySeconds per message"); `0` asks for none and is accepted,
    only another value is refused."""
    url = sqs.create_queue(QueueName="q.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="a", MessageGroupId="g",
                     MessageDeduplicationId="a", DelaySeconds=0)
    r = sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": "b", "MessageBody": "b", "MessageGroupId": "g", "MessageDeduplicationId": "b",
         "DelaySeconds": 0},
        {"Id": "c", "MessageBody": "c", "MessageGroupId": "g", "MessageDeduplicationId": "c",
         "DelaySeconds": 5}])
    assert [e["Id"] for e in r["Successful"]] == ["b"], r
    assert r["Failed"] == [{"Id": "c", "SenderFault": True, "Code": "InvalidParameterValue",
                            "Message": "Value 5 for parameter DelaySeconds is invalid. Reason: "
                                       "The request include parameter that is not valid for "
                                       "this queue type."}], r
    assert error(lambda: sqs.send_message(QueueUrl=url, MessageBody="d", MessageGroupId="g",
                                          MessageDeduplicationId="d", DelaySeconds=1))[0] == (
        "InvalidParameterValue")
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in got] == ["a", "b"]


def test_a_fifo_batch_entry_without_a_group_id_refuses_the_batch(sqs):
    """`MessageGroupId` is required on a FIFO queue (API reference, SendMessageBatchRequestEntry):
    one entry without it fails the whole SendMessageBatch, nothing is sent."""
    url = sqs.create_queue(QueueName="q.fifo", Attributes={
        "FifoQueue": "true", "ContentBasedDeduplication": "true"})["QueueUrl"]
    assert error(lambda: sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": "a", "MessageBody": "a", "MessageGroupId": "g"},
        {"Id": "b", "MessageBody": "b"}])) == (
        "MissingParameter", "The request must contain the parameter MessageGroupId.", 400)
    assert "Messages" not in sqs.receive_message(QueueUrl=url)


def test_batch_errors_name_their_entries(sqs):
    """Each batch names its own entry type when empty (`EmptyBatchRequest`), the entry id that
    repeats (`BatchEntryIdsNotDistinct`), and each failed entry by its `Id`."""
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    for call, entry in [
        (lambda: sqs.send_message_batch(QueueUrl=url, Entries=[]), "SendMessageBatchRequestEntry"),
        (lambda: sqs.delete_message_batch(QueueUrl=url, Entries=[]),
         "DeleteMessageBatchRequestEntry"),
        (lambda: sqs.change_message_visibility_batch(QueueUrl=url, Entries=[]),
         "ChangeMessageVisibilityBatchRequestEntry"),
    ]:
        assert error(call) == ("AWS.SimpleQueueService.EmptyBatchRequest",
                               f"There should be at least one {entry} in the request.", 400)
    assert error(lambda: sqs.delete_message_batch(QueueUrl=url, Entries=[
        {"Id": "x", "ReceiptHandle": "r"}, {"Id": "x", "ReceiptHandle": "r"}])) == (
        "AWS.SimpleQueueService.BatchEntryIdsNotDistinct", "Id x repeated.", 400)
    assert error(lambda: sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": "not ok", "MessageBody": "m"}]))[0] == "AWS.SimpleQueueService.InvalidBatchEntryId"
    sqs.send_message(QueueUrl=url, MessageBody="m")
    [m] = sqs.receive_message(QueueUrl=url)["Messages"]
    r = sqs.change_message_visibility_batch(QueueUrl=url, Entries=[
        {"Id": "ok-1", "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 10},
        {"Id": "bad_2", "ReceiptHandle": "garbage", "VisibilityTimeout": 10},
        {"Id": "bad-3", "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 43201}])
    assert [e["Id"] for e in r["Successful"]] == ["ok-1"], r
    assert [(e["Id"], e["Code"], e["SenderFault"]) for e in r["Failed"]] == [
        ("bad_2", "ReceiptHandleIsInvalid", True), ("bad-3", "InvalidParameterValue", True)], r


def test_messages_up_to_one_mebibyte(sqs):
    """`MaximumMessageSize` defaults to, and may be at most, 1,048,576 bytes (botocore's current
    SQS model, CreateQueue `Attributes`: "An integer from 1,024 bytes (1 KiB) to 1,048,576 bytes
    (1 MiB). Default: 1,048,576 bytes (1 MiB)"); a message over its queue's limit is refused, and
    so is a batch whose messages together are over 1 MiB."""
    url = sqs.create_queue(QueueName="big")["QueueUrl"]
    a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["MaximumMessageSize"])
    assert a["Attributes"] == {"MaximumMessageSize": "1048576"}
    body = "x" * 1_048_576
    sent = sqs.send_message(QueueUrl=url, MessageBody=body)
    assert sent["MD5OfMessageBody"] == hashlib.md5(body.encode()).hexdigest()
    [m] = sqs.receive_message(QueueUrl=url)["Messages"]
    assert m["Body"] == body
    assert error(lambda: sqs.send_message(QueueUrl=url, MessageBody=body + "x")) == (
        "InvalidParameterValue", "One or more parameters are invalid. Reason: Message must be "
        "shorter than 1048576 bytes.", 400)
    # Attributes count towards the size.
    assert error(lambda: sqs.send_message(QueueUrl=url, MessageBody=body[:-3], MessageAttributes={
        "k": {"DataType": "String", "StringValue": "v"}}))[0] == "InvalidParameterValue"
    assert error(lambda: sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": "a", "MessageBody": "y" * 600_000}, {"Id": "b", "MessageBody": "z" * 600_000}])) == (
        "AWS.SimpleQueueService.BatchRequestTooLong",
        "Batch requests cannot be longer than 1048576 bytes. You have sent 1200000 bytes.", 400)
    assert error(lambda: sqs.create_queue(QueueName="too-big", Attributes={
        "MaximumMessageSize": "1048577"}))[0] == "InvalidAttributeValue"
    small = sqs.create_queue(QueueName="small", Attributes={"MaximumMessageSize": "1024"})["QueueUrl"]
    sqs.send_message(QueueUrl=small, MessageBody="s" * 1024)
    assert error(lambda: sqs.send_message(QueueUrl=small, MessageBody="s" * 1025)) == (
        "InvalidParameterValue", "One or more parameters are invalid. Reason: Message must be "
        "shorter than 1024 bytes.", 400)
    r = sqs.send_message_batch(QueueUrl=small, Entries=[
        {"Id": "fits", "MessageBody": "s" * 1024}, {"Id": "over", "MessageBody": "s" * 1025}])
    assert [e["Id"] for e in r["Successful"]] == ["fits"]
    assert [(e["Id"], e["Code"]) for e in r["Failed"]] == [("over", "InvalidParameterValue")]


def test_empty_tag_operations_are_refused(sqs):
    """TagQueue with no tags and UntagQueue with no keys change nothing and are refused."""
    url = sqs.create_queue(QueueName="t", tags={"a": "1"})["QueueUrl"]
    assert error(lambda: sqs.tag_queue(QueueUrl=url, Tags={})) == (
        "MissingParameter", "The request must contain the parameter Tags.", 400)
    assert error(lambda: sqs.untag_queue(QueueUrl=url, TagKeys=[])) == (
        "InvalidParameterValue", "Tag keys must be between 1 and 128 characters in length.", 400)
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"a": "1"}

"""SQS over the AWS query protocol, as SDKs older than boto3/botocore 1.34.90 speak it
(form-encoded `Action=…`, XML replies): boto3 1.34.89, the last release on the query protocol,
installed into `.venv-oldest/` (see test_unsupported.py), runs every SQS operation eddy serves
against it. botocore does not check SQS's MD5s itself, so the script does, as the SDKs that do
(Java, .NET) would."""

import inspect
import json
import os
import shutil
import subprocess
import sys
import urllib.parse

from conftest import ROOT
from test_sqs import attrs_md5
from test_unsupported import CLIENT, LAST_SQS_QUERY_BOTO3, old_boto3, run_with

SCRIPT = CLIENT + r'''
import base64, hashlib, struct

sqs = client("sqs")
assert sqs.meta.service_model.protocol == "query", sqs.meta.service_model.protocol

def md5(b):
    return hashlib.md5(b).hexdigest()

@ATTRS_MD5@

def code(call):
    try:
        call()
    except ClientError as e:
        return e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"], e
    raise SystemExit("no error")

# Queues: create, URL, list, attributes, tags.
dlq = sqs.create_queue(QueueName="q-dlq")["QueueUrl"]
dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
url = sqs.create_queue(QueueName="q-main", Attributes={"VisibilityTimeout": "30"},
                       tags={"team": "a"})["QueueUrl"]
assert url.endswith("/q-main"), url
assert sqs.get_queue_url(QueueName="q-main")["QueueUrl"] == url
listed = sqs.list_queues(QueueNamePrefix="q-")["QueueUrls"]
assert sorted(listed) == sorted([url, dlq]), listed
page = sqs.list_queues(MaxResults=1)
assert len(page["QueueUrls"]) == 1 and page["NextToken"], page
assert "QueueUrls" not in sqs.list_queues(QueueNamePrefix="nothing-")
sqs.set_queue_attributes(QueueUrl=url, Attributes={
    "DelaySeconds": "0",
    "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 5})})
attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
assert attrs["VisibilityTimeout"] == "30" and attrs["QueueArn"].endswith(":q-main"), attrs
assert json.loads(attrs["RedrivePolicy"])["maxReceiveCount"] == 5, attrs
assert attrs["ApproximateNumberOfMessages"] == "0", attrs
assert sqs.list_dead_letter_source_queues(QueueUrl=dlq)["queueUrls"] == [url]
sqs.tag_queue(QueueUrl=url, Tags={"env": "dev", "x": "y"})
sqs.untag_queue(QueueUrl=url, TagKeys=["x"])
assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"team": "a", "env": "dev"}
assert "Tags" not in sqs.list_queue_tags(QueueUrl=dlq)

# Send with string, number and binary attributes (and characters XML must escape); receive
# with system and message attributes; check the MD5s.
body = "hello <world> & 'friends' \u00e9\u4e2d"
mattrs = {
    "s": {"DataType": "String", "StringValue": "v & <w>"},
    "n": {"DataType": "Number", "StringValue": "42.5"},
    "b": {"DataType": "Binary", "BinaryValue": b"\x00\x01\xfe\xff"},
    "c": {"DataType": "String.custom", "StringValue": "custom"},
}
sent = sqs.send_message(QueueUrl=url, MessageBody=body, MessageAttributes=mattrs,
                        MessageSystemAttributes={"AWSTraceHeader": {
                            "DataType": "String", "StringValue": "Root=1-abc"}})
assert sent["MD5OfMessageBody"] == md5(body.encode()), sent
assert sent["MD5OfMessageAttributes"] == attrs_md5(mattrs), sent
got = sqs.receive_message(QueueUrl=url, AttributeNames=["All"], MessageAttributeNames=["All"],
                          MaxNumberOfMessages=10, WaitTimeSeconds=1)["Messages"]
assert len(got) == 1, got
m = got[0]
assert m["MessageId"] == sent["MessageId"] and m["Body"] == body, m
assert m["MD5OfBody"] == md5(m["Body"].encode()), m
assert m["MessageAttributes"] == mattrs, m["MessageAttributes"]
assert m["MD5OfMessageAttributes"] == attrs_md5(m["MessageAttributes"]), m
assert m["Attributes"]["ApproximateReceiveCount"] == "1", m["Attributes"]
assert m["Attributes"]["AWSTraceHeader"] == "Root=1-abc", m["Attributes"]
assert int(m["Attributes"]["SentTimestamp"]) > 0, m["Attributes"]
only = sqs.receive_message(QueueUrl=url, VisibilityTimeout=0)
assert "Messages" not in only  # still in flight

# Change visibility: back to visible now, received again with only the attributes asked for.
sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"],
                              VisibilityTimeout=0)
again = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["n"],
                            AttributeNames=["ApproximateReceiveCount"])["Messages"][0]
assert again["MessageAttributes"] == {"n": mattrs["n"]}, again
assert again["Attributes"] == {"ApproximateReceiveCount": "2"}, again
sqs.delete_message(QueueUrl=url, ReceiptHandle=again["ReceiptHandle"])

# A large body with characters the form and XML encodings must both carry.
big = ("line\r\n\t\u00e9\U0001F600 %&+=;" * 6000)[:200_000]
sent = sqs.send_message(QueueUrl=url, MessageBody=big)
assert sent["MD5OfMessageBody"] == md5(big.encode()), sent
[m] = sqs.receive_message(QueueUrl=url)["Messages"]
assert m["Body"] == big and m["MD5OfBody"] == md5(big.encode())
sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])

# Delay.
sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=2)
a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesDelayed"])
assert a["Attributes"] == {"ApproximateNumberOfMessagesDelayed": "1"}, a
assert "Messages" not in sqs.receive_message(QueueUrl=url)
late = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=5)["Messages"]
assert late[0]["Body"] == "later", late
sqs.delete_message(QueueUrl=url, ReceiptHandle=late[0]["ReceiptHandle"])

# Batches, each with a failing entry.
batch = sqs.send_message_batch(QueueUrl=url, Entries=[
    {"Id": "a", "MessageBody": "one", "MessageAttributes": {"k": {"DataType": "String", "StringValue": "1"}}},
    {"Id": "b", "MessageBody": "two", "DelaySeconds": 0},
    {"Id": "bad", "MessageBody": "three", "DelaySeconds": 901},
])
assert sorted(e["Id"] for e in batch["Successful"]) == ["a", "b"], batch
ok = {e["Id"]: e for e in batch["Successful"]}
assert ok["a"]["MD5OfMessageBody"] == md5(b"one"), ok
assert ok["a"]["MD5OfMessageAttributes"] == attrs_md5({"k": {"DataType": "String", "StringValue": "1"}})
[failed] = batch["Failed"]
assert failed["Id"] == "bad" and failed["SenderFault"] is True, failed
assert failed["Code"] == "InvalidParameterValue", failed
got = []
while len(got) < 2:
    got += sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)["Messages"]
assert sorted(m["Body"] for m in got) == ["one", "two"], got
vis = sqs.change_message_visibility_batch(QueueUrl=url, Entries=[
    {"Id": "v1", "ReceiptHandle": got[0]["ReceiptHandle"], "VisibilityTimeout": 60},
    {"Id": "v2", "ReceiptHandle": "not-a-handle", "VisibilityTimeout": 60},
])
assert [e["Id"] for e in vis["Successful"]] == ["v1"], vis
assert vis["Failed"][0]["Id"] == "v2" and vis["Failed"][0]["Code"] == "ReceiptHandleIsInvalid", vis
deleted = sqs.delete_message_batch(QueueUrl=url, Entries=[
    {"Id": "d1", "ReceiptHandle": got[0]["ReceiptHandle"]},
    {"Id": "d2", "ReceiptHandle": got[1]["ReceiptHandle"]},
    {"Id": "d3", "ReceiptHandle": "garbage"},
])
assert sorted(e["Id"] for e in deleted["Successful"]) == ["d1", "d2"], deleted
assert deleted["Failed"][0]["Id"] == "d3", deleted

# FIFO: group and deduplication ids, sequence numbers.
fifo = sqs.create_queue(QueueName="q.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
f1 = sqs.send_message(QueueUrl=fifo, MessageBody="f1", MessageGroupId="g", MessageDeduplicationId="d1")
f2 = sqs.send_message(QueueUrl=fifo, MessageBody="f1", MessageGroupId="g", MessageDeduplicationId="d1")
assert f1["MessageId"] == f2["MessageId"] and f1["SequenceNumber"], (f1, f2)
fb = sqs.send_message_batch(QueueUrl=fifo, Entries=[
    {"Id": "x", "MessageBody": "f2", "MessageGroupId": "g", "MessageDeduplicationId": "d2"}])
assert fb["Successful"][0]["SequenceNumber"] > f1["SequenceNumber"], fb
fm = sqs.receive_message(QueueUrl=fifo, MaxNumberOfMessages=10, AttributeNames=["All"])["Messages"]
assert [m["Body"] for m in fm] == ["f1", "f2"], fm
assert fm[0]["Attributes"]["MessageGroupId"] == "g", fm[0]
assert fm[0]["Attributes"]["MessageDeduplicationId"] == "d1", fm[0]
assert code(lambda: sqs.send_message(QueueUrl=fifo, MessageBody="x"))[0] == "MissingParameter"

# Purge.
sqs.send_message(QueueUrl=url, MessageBody="purged")
sqs.purge_queue(QueueUrl=url)
a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
assert a["Attributes"]["ApproximateNumberOfMessages"] == "0", a

# Errors: SQS's query-protocol codes, mapped by botocore to its exception classes.
c, status, e = code(lambda: sqs.get_queue_url(QueueName="nope"))
assert c == "AWS.SimpleQueueService.NonExistentQueue" and status == 400, (c, status)
assert isinstance(e, sqs.exceptions.QueueDoesNotExist), type(e)
assert e.response["Error"]["Message"] == "The specified queue does not exist.", e.response
missing = url.rsplit("/", 1)[0] + "/nope"
try:
    sqs.send_message(QueueUrl=missing, MessageBody="x")
except sqs.exceptions.QueueDoesNotExist:
    pass
else:
    raise SystemExit("sent to a missing queue")
c, status, _ = code(lambda: sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=11))
assert (c, status) == ("InvalidParameterValue", 400), (c, status)
c, _, _ = code(lambda: sqs.delete_message(QueueUrl=url, ReceiptHandle="garbage"))
assert c == "ReceiptHandleIsInvalid", c
c, _, _ = code(lambda: sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Nope"]))
assert c == "InvalidAttributeName", c
c, _, _ = code(lambda: sqs.create_queue(QueueName="q-main", Attributes={"VisibilityTimeout": "31"}))
assert c == "QueueAlreadyExists", c
c, _, _ = code(lambda: sqs.send_message_batch(QueueUrl=url, Entries=[]))
assert c == "AWS.SimpleQueueService.EmptyBatchRequest", c

# Permissions: statements of the queue's policy.
sqs.add_permission(QueueUrl=url, Label="l", AWSAccountIds=["111122223333", "444455556666"],
                   Actions=["SendMessage", "ReceiveMessage"])
p = json.loads(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])["Attributes"]["Policy"])
[st] = p["Statement"]
assert st["Sid"] == "l" and st["Action"] == ["SQS:SendMessage", "SQS:ReceiveMessage"], p
assert st["Principal"]["AWS"] == ["arn:aws:iam::111122223333:root",
                                  "arn:aws:iam::444455556666:root"], p
c, _, e = code(lambda: sqs.add_permission(QueueUrl=url, Label="l", AWSAccountIds=["1"], Actions=["SendMessage"]))
assert c == "InvalidParameterValue" and e.response["Error"]["Message"].endswith("Reason: Already exists."), e.response
sqs.remove_permission(QueueUrl=url, Label="l")
assert "Attributes" not in sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])
c, _, _ = code(lambda: sqs.remove_permission(QueueUrl=url, Label="l"))
assert c == "InvalidParameterValue", c

# Delete queues.
sqs.delete_queue(QueueUrl=fifo)
sqs.delete_queue(QueueUrl=url)
c, _, _ = code(lambda: sqs.get_queue_url(QueueName="q-main"))
assert c == "AWS.SimpleQueueService.NonExistentQueue", c
print(json.dumps({"versions": [boto3.__version__, botocore.__version__]}))
'''.replace("@ATTRS_MD5@", inspect.getsource(attrs_md5))


def test_boto3_on_the_query_protocol_runs_every_sqs_operation(eddy):
    eddy.post("/moto-api/reset")
    out = run_with(old_boto3(LAST_SQS_QUERY_BOTO3), eddy, SCRIPT)
    assert json.loads(out.splitlines()[-1])["versions"] == [LAST_SQS_QUERY_BOTO3] * 2


def form(**params):
    return urllib.parse.urlencode(params).encode()


SQS_AUTH = {"Content-Type": "application/x-www-form-urlencoded",
            "Authorization": "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/sqs/"
                             "aws4_request, SignedHeaders=host, Signature=0"}


def test_a_queue_url_path_names_the_queue(eddy):
    """Older SDKs post a queue's actions to its URL instead of sending `QueueUrl`."""
    eddy.post("/moto-api/reset")
    status, _, raw = eddy.post("/", form(Action="CreateQueue", QueueName="by-path",
                                         Version="2012-11-05"), SQS_AUTH)
    assert status == 200, raw
    text = raw.decode()
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<CreateQueueResponse '
                           'xmlns="http://queue.amazonaws.com/doc/2012-11-05/"><CreateQueueResult>'
                           '<QueueUrl>'), text
    path = urllib.parse.urlparse(text.split("<QueueUrl>")[1].split("<")[0]).path
    status, _, raw = eddy.post(path, form(Action="SendMessage", MessageBody="hi",
                                          Version="2012-11-05"), SQS_AUTH)
    assert status == 200 and b"<SendMessageResult>" in raw and b"<MessageId>" in raw, raw
    status, _, raw = eddy.post(path, form(Action="ReceiveMessage"), SQS_AUTH)
    assert status == 200 and b"<Body>hi</Body>" in raw, raw
    status, _, raw = eddy.post(path[:-1], form(Action="ReceiveMessage"), SQS_AUTH)
    assert status == 400, raw
    assert b"<Code>AWS.SimpleQueueService.NonExistentQueue</Code>" in raw, raw
    assert eddy.metric("eddy_aws_requests_total", operation="ReceiveMessage",
                       outcome="QueueDoesNotExist") >= 1


# The aws CLI v1 of that age (1.32.89 is built on botocore 1.34.89).
LAST_SQS_QUERY_AWSCLI_V1 = "1.32.89"


def old_awscli(version):
    """The `aws` of a virtualenv under `.venv-oldest/` holding aws CLI v1 `version`, made once."""
    home = os.path.join(ROOT, ".venv-oldest", f"awscli-{version}")
    aws = os.path.join(home, "bin", "aws")
    marker = os.path.join(home, "installed")
    if os.path.exists(marker):
        return aws
    shutil.rmtree(home, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", home], check=True)
    out = subprocess.run(
        [os.path.join(home, "bin", "python"), "-m", "pip", "install", "--quiet",
         "--disable-pip-version-check", f"awscli=={version}"],
        capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, f"cannot install awscli {version} from PyPI: {out.stderr}"
    open(marker, "w").close()
    return aws


def test_the_aws_cli_v1_on_the_query_protocol(eddy):
    eddy.post("/moto-api/reset")
    aws = old_awscli(LAST_SQS_QUERY_AWSCLI_V1)
    env = dict(os.environ, AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test",
               AWS_DEFAULT_REGION="us-east-1", AWS_PAGER="")

    def cli(*args):
        out = subprocess.run([aws, "--endpoint-url", eddy.aws, "--output", "json", "sqs", *args],
                             env=env, capture_output=True, text=True, timeout=60)
        return out.returncode, out.stdout, out.stderr

    status, out, err = cli("--version")
    assert f"aws-cli/{LAST_SQS_QUERY_AWSCLI_V1}" in out + err
    status, out, err = cli("create-queue", "--queue-name", "cli-q", "--attributes",
                           "VisibilityTimeout=20")
    assert status == 0, err
    url = json.loads(out)["QueueUrl"]
    status, out, err = cli("send-message", "--queue-url", url, "--message-body", "from the cli",
                           "--message-attributes",
                           '{"k": {"DataType": "String", "StringValue": "v"}}')
    assert status == 0, err
    sent = json.loads(out)
    status, out, err = cli("receive-message", "--queue-url", url, "--attribute-names", "All",
                           "--message-attribute-names", "All")
    assert status == 0, err
    [m] = json.loads(out)["Messages"]
    assert m["MessageId"] == sent["MessageId"] and m["Body"] == "from the cli", m
    assert m["MessageAttributes"] == {"k": {"DataType": "String", "StringValue": "v"}}, m
    assert m["MD5OfMessageAttributes"] == sent["MD5OfMessageAttributes"], (m, sent)
    status, out, err = cli("get-queue-attributes", "--queue-url", url, "--attribute-names",
                           "VisibilityTimeout")
    assert status == 0 and json.loads(out)["Attributes"] == {"VisibilityTimeout": "20"}, out + err
    status, _, err = cli("get-queue-url", "--queue-name", "missing")
    assert status != 0
    assert ("(AWS.SimpleQueueService.NonExistentQueue) when calling the GetQueueUrl operation: "
            "The specified queue does not exist.") in err, err


def test_sqs_actions_without_a_credential_scope_are_sqs(eddy):
    """A request whose credentials name no service (SigV2, as the oldest SDKs sign SQS) is SQS's
    when its action is."""
    eddy.post("/moto-api/reset")
    headers = {"Content-Type": "application/x-www-form-urlencoded",
               "Authorization": "AWS test:c2ln"}
    status, _, raw = eddy.post("/", form(Action="CreateQueue", QueueName="v2"), headers)
    assert status == 200, raw
    status, _, raw = eddy.post("/", form(Action="ListQueues"), headers)
    assert status == 200 and raw.count(b"<QueueUrl>") == 1 and b"/v2</QueueUrl>" in raw, raw

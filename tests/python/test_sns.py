"""SNS through boto3 and the aws CLI: topics, subscriptions, publishing with filter policies, and
delivery to real subscribers (SQS queues, a Python function through awslambdaric and a Rust
function on `lambda_runtime`, an HTTP endpoint that checks signatures with a real SNS message
validator, email and SMS written to a log group), FIFO ordering, retries and dead-letter queues."""

import base64
import json
import shutil
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from botocore.exceptions import ClientError

from conftest import Eddy, aws_cli, wait_for
from test_lambda import ROLE, py_zip, rust_zip

ACCOUNT = "123456789012"


@pytest.fixture(scope="module")
def server():
    d = tempfile.mkdtemp(prefix="eddy-sns-")
    s = Eddy(d, ["--python", sys.executable, "--function-user", "current"]).start()
    yield s
    s.stop()
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def sns(server):
    status, _, _ = server.post("/moto-api/reset")
    assert status == 200
    return server.client("sns")


@pytest.fixture
def sqs(server, sns):
    return server.client("sqs")


def queue(sqs, name, **attrs):
    url = sqs.create_queue(QueueName=name, Attributes=attrs)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def receive(sqs, url, n, timeout=15, **kw):
    got = []
    deadline = time.time() + timeout
    while len(got) < n and time.time() < deadline:
        r = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                MessageAttributeNames=["All"], AttributeNames=["All"], **kw)
        for m in r.get("Messages", []):
            got.append(m)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return got


def error(call):
    with pytest.raises(ClientError) as e:
        call()
    r = e.value.response
    return r["Error"]["Code"], r["Error"]["Message"], r["ResponseMetadata"]["HTTPStatusCode"]


def test_topics_are_created_once_and_described_as_sns_does(sns):
    arn = sns.create_topic(Name="orders", Attributes={"DisplayName": "Orders"},
                           Tags=[{"Key": "team", "Value": "shop"}])["TopicArn"]
    assert arn == f"arn:aws:sns:us-east-1:{ACCOUNT}:orders"
    assert sns.create_topic(Name="orders")["TopicArn"] == arn, "CreateTopic is idempotent"
    assert error(lambda: sns.create_topic(Name="orders", Attributes={"DisplayName": "Other"})) == (
        "InvalidParameter",
        "Invalid parameter: Attributes Reason: Topic already exists with different attributes", 400)
    assert error(lambda: sns.create_topic(Name="orders", Tags=[{"Key": "team", "Value": "x"}])) == (
        "InvalidParameter", "Invalid parameter: Tags Reason: Topic already exists with different tags",
        400)
    attrs = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    assert attrs["TopicArn"] == arn and attrs["Owner"] == ACCOUNT
    assert attrs["DisplayName"] == "Orders"
    assert attrs["SubscriptionsConfirmed"] == "0" and attrs["SubscriptionsPending"] == "0"
    assert json.loads(attrs["Policy"])["Statement"][0]["Resource"] == arn
    assert json.loads(attrs["EffectiveDeliveryPolicy"])["http"]["defaultHealthyRetryPolicy"][
        "numRetries"] == 3
    assert "FifoTopic" not in attrs
    sns.set_topic_attributes(TopicArn=arn, AttributeName="DisplayName", AttributeValue="Shop")
    assert sns.get_topic_attributes(TopicArn=arn)["Attributes"]["DisplayName"] == "Shop"
    assert error(lambda: sns.set_topic_attributes(TopicArn=arn, AttributeName="FifoTopic",
                                                  AttributeValue="true")) == (
        "InvalidParameter", "Invalid parameter: AttributeName", 400)
    assert sns.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "shop"}]
    sns.tag_resource(ResourceArn=arn, Tags=[{"Key": "env", "Value": "dev"}])
    sns.untag_resource(ResourceArn=arn, TagKeys=["team"])
    assert sns.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "env", "Value": "dev"}]
    assert error(lambda: sns.tag_resource(ResourceArn=arn, Tags=[
        {"Key": "a", "Value": "1"}, {"Key": "a", "Value": "2"}]))[1] == \
        "Invalid parameter: Duplicated keys are not allowed."
    fifo = sns.create_topic(Name="orders.fifo", Attributes={"FifoTopic": "true"})["TopicArn"]
    fattrs = sns.get_topic_attributes(TopicArn=fifo)["Attributes"]
    assert fattrs["FifoTopic"] == "true" and fattrs["ContentBasedDeduplication"] == "false"
    sns.delete_topic(TopicArn=fifo)
    sns.delete_topic(TopicArn=fifo)  # idempotent
    assert [t["TopicArn"] for t in sns.list_topics()["Topics"]] == [arn]


def test_topics_are_listed_a_hundred_at_a_time(sns):
    for i in range(105):
        sns.create_topic(Name=f"t{i:03}")
    first = sns.list_topics()
    assert len(first["Topics"]) == 100 and "NextToken" in first
    second = sns.list_topics(NextToken=first["NextToken"])
    assert len(second["Topics"]) == 5 and "NextToken" not in second
    names = {t["TopicArn"] for t in first["Topics"] + second["Topics"]}
    assert len(names) == 105


def test_refusals_have_sns_codes_and_messages(sns, sqs):
    arn = sns.create_topic(Name="t")["TopicArn"]
    cases = [
        (lambda: sns.create_topic(Name="bad name"), ("InvalidParameter", "Invalid parameter: Topic Name", 400)),
        (lambda: sns.create_topic(Name="x" * 257), ("InvalidParameter", "Invalid parameter: Topic Name", 400)),
        (lambda: sns.create_topic(Name="nofifo", Attributes={"FifoTopic": "true"}),
         ("InvalidParameter", "Invalid parameter: Fifo Topic names must end with .fifo and must be "
          "made up of only uppercase and lowercase ASCII letters, numbers, underscores, and hyphens, "
          "and must be between 1 and 256 characters long.", 400)),
        (lambda: sns.get_topic_attributes(TopicArn=arn + "x"), ("NotFound", "Topic does not exist", 404)),
        (lambda: sns.publish(TopicArn=arn + "x", Message="m"), ("NotFound", "Topic does not exist", 404)),
        (lambda: sns.get_topic_attributes(TopicArn="arn:aws:sns:us-east-1"),
         ("InvalidParameter", "Invalid parameter: TopicArn Reason: An ARN must have at least 6 "
          "elements, not 4", 400)),
        (lambda: sns.get_topic_attributes(TopicArn=arn.replace("us-east-1", "eu-west-1")),
         ("InvalidParameter", "Invalid parameter: TopicArn", 400)),
        (lambda: sns.subscribe(TopicArn=arn, Protocol="pigeon", Endpoint="x"),
         ("InvalidParameter", "Invalid parameter: Amazon SNS does not support this protocol string: pigeon", 400)),
        (lambda: sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint="http://127.0.0.1/q"),
         ("InvalidParameter", "Invalid parameter: SQS endpoint ARN", 400)),
        (lambda: sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=f"arn:aws:sqs:us-east-1:{ACCOUNT}:q.fifo"),
         ("InvalidParameter", "Invalid parameter: Invalid parameter: Endpoint Reason: FIFO SQS Queues "
          "can not be subscribed to standard SNS topics", 400)),
        (lambda: sns.subscribe(TopicArn=arn, Protocol="sms", Endpoint="nope"),
         ("InvalidParameter", "Invalid SMS endpoint: nope", 400)),
        (lambda: sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=f"arn:aws:sqs:us-east-1:{ACCOUNT}:q",
                               Attributes={"RawMessageDelivery": "yes"}),
         ("InvalidParameter", "Invalid parameter: Attributes Reason: RawMessageDelivery: Invalid value "
          "[yes]. Must be true or false.", 400)),
        (lambda: sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=f"arn:aws:sqs:us-east-1:{ACCOUNT}:q",
                               Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": "nope"})}),
         ("InvalidParameter", "Invalid parameter: Attributes Reason: RedrivePolicy: "
          "deadLetterTargetArn is an invalid arn", 400)),
        (lambda: sns.publish(TopicArn=arn, Message=""), ("InvalidParameter", "Invalid parameter: Empty message", 400)),
        (lambda: sns.publish(TopicArn=arn, Message="m", Subject=""), ("InvalidParameter", "Invalid parameter: Subject", 400)),
        (lambda: sns.publish(TopicArn=arn, Message="x" * 262145),
         ("InvalidParameter", "Invalid parameter: Message too long", 400)),
        (lambda: sns.publish(TopicArn=arn, Message="{}", MessageStructure="json"),
         ("InvalidParameter", "Invalid parameter: Message Structure - No default entry in JSON message body", 400)),
        (lambda: sns.publish(TopicArn=arn, Message="nope", MessageStructure="json"),
         ("InvalidParameter", "Invalid parameter: Message Structure - JSON message body failed to parse", 400)),
        (lambda: sns.publish(TopicArn=arn, Message="m", MessageDeduplicationId="d"),
         ("InvalidParameter", "Invalid parameter: MessageDeduplicationId Reason: The request includes "
          "MessageDeduplicationId parameter that is not valid for this topic type", 400)),
        (lambda: sns.publish(TopicArn=arn, Message="m", MessageAttributes={
            "a^b": {"DataType": "String", "StringValue": "v"}}),
         ("ParameterValueInvalid", "Invalid non-alphanumeric character '#x5E' was found in the message "
          "attribute name. Can only include alphanumeric characters, hyphens, underscores, or dots.", 400)),
        (lambda: sns.publish(TopicArn=arn, Message="m", MessageAttributes={
            "a": {"DataType": "Blob", "StringValue": "v"}}),
         ("ParameterValueInvalid", "The message attribute 'a' has an invalid message attribute type, the "
          "set of supported type prefixes is Binary, Number, and String.", 400)),
        (lambda: sns.publish(TopicArn=arn, Message="m", MessageAttributes={
            "a": {"DataType": "String", "StringValue": ""}}),
         ("ParameterValueInvalid", "The message attribute 'a' must contain non-empty message attribute "
          "value for message attribute type 'String'.", 400)),
        (lambda: sns.publish(TopicArn=arn, Message="m", MessageAttributes={
            "a": {"DataType": "String", "BinaryValue": b"x"}}),
         ("ParameterValueInvalid", "The message attribute 'a' with type 'String' must use field 'String'.", 400)),
        (lambda: sns.publish_batch(TopicArn=arn, PublishBatchRequestEntries=[
            {"Id": "1", "Message": "a"}, {"Id": "1", "Message": "b"}]),
         ("BatchEntryIdsNotDistinct", "Two or more batch entries in the request have the same Id.", 400)),
        (lambda: sns.publish_batch(TopicArn=arn, PublishBatchRequestEntries=[
            {"Id": str(i), "Message": "a"} for i in range(11)]),
         ("TooManyEntriesInBatchRequest", "The batch request contains more entries than permissible.", 400)),
        (lambda: sns.publish_batch(TopicArn=arn, PublishBatchRequestEntries=[
            {"Id": "a.b", "Message": "a"}]),
         ("InvalidBatchEntryId", "The Id of a batch entry in the batch request contains an "
          "impermissible character: a.b", 400)),
        (lambda: sns.publish_batch(TopicArn=arn, PublishBatchRequestEntries=[
            {"Id": "1", "Message": "x" * 200000}, {"Id": "2", "Message": "x" * 200000}]),
         ("BatchRequestTooLong", "The length of all the messages put together is more than the limit.", 400)),
        (lambda: sns.get_subscription_attributes(SubscriptionArn=arn),
         ("InvalidParameter", "Invalid parameter: SubscriptionId", 400)),
        (lambda: sns.get_subscription_attributes(
            SubscriptionArn=arn + ":0f1e2d3c-aaaa-bbbb-cccc-000000000000"),
         ("NotFound", "Subscription does not exist", 404)),
        (lambda: sns.confirm_subscription(TopicArn=arn, Token="nope"),
         ("InvalidParameter", "Invalid parameter: Token", 400)),
    ]
    for call, want in cases:
        assert error(call) == want
    # A batch with one bad entry publishes nothing.
    url, qarn = queue(sqs, "watch")
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=qarn)
    code, _, _ = error(lambda: sns.publish_batch(TopicArn=arn, PublishBatchRequestEntries=[
        {"Id": "1", "Message": "good"}, {"Id": "2", "Message": ""}]))
    assert code == "InvalidParameter"
    sns.publish(TopicArn=arn, Message="marker")
    assert [m["Body"] for m in receive(sqs, url, 1)] and \
        [json.loads(m["Body"])["Message"] for m in receive(sqs, url, 1, timeout=1)] == []


def test_sqs_subscribers_get_the_envelope_or_the_raw_message(sns, sqs, server):
    arn = sns.create_topic(Name="orders")["TopicArn"]
    url, qarn = queue(sqs, "wrapped")
    raw_url, raw_arn = queue(sqs, "raw")
    sub = sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=qarn)["SubscriptionArn"]
    assert sub.startswith(arn + ":")
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=raw_arn,
                  Attributes={"RawMessageDelivery": "true"})
    assert sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=qarn)["SubscriptionArn"] == sub
    r = sns.publish(TopicArn=arn, Message="hello", Subject="greeting", MessageAttributes={
        "color": {"DataType": "String", "StringValue": "red"},
        "n": {"DataType": "Number", "StringValue": "42"},
        "bin": {"DataType": "Binary", "BinaryValue": b"\x00\x01"}})
    [m] = receive(sqs, url, 1)
    env = json.loads(m["Body"])
    assert list(env) == ["Type", "MessageId", "TopicArn", "Subject", "Message", "Timestamp",
                         "SignatureVersion", "Signature", "SigningCertURL", "UnsubscribeURL",
                         "MessageAttributes"]
    assert env["Type"] == "Notification" and env["MessageId"] == r["MessageId"]
    assert env["TopicArn"] == arn and env["Message"] == "hello" and env["Subject"] == "greeting"
    assert env["MessageAttributes"] == {"color": {"Type": "String", "Value": "red"},
                                        "n": {"Type": "Number", "Value": "42"},
                                        "bin": {"Type": "Binary", "Value": "AAE="}}
    assert env["Timestamp"].endswith("Z") and len(env["Timestamp"]) == 24
    assert env["SigningCertURL"].startswith(server.aws + "/SimpleNotificationService-")
    assert env["UnsubscribeURL"] == f"{server.aws}/?Action=Unsubscribe&SubscriptionArn={sub}"
    # The certificate is served to anyone (validators fetch it without credentials).
    with urllib.request.urlopen(env["SigningCertURL"]) as cert:
        assert cert.read().startswith(b"-----BEGIN CERTIFICATE-----")
    [raw] = receive(sqs, raw_url, 1)
    assert raw["Body"] == "hello"
    assert raw["MessageAttributes"]["color"] == {"StringValue": "red", "DataType": "String"}
    assert raw["MessageAttributes"]["n"] == {"StringValue": "42", "DataType": "Number"}
    assert raw["MessageAttributes"]["bin"] == {"BinaryValue": b"\x00\x01", "DataType": "Binary"}
    # MessageStructure=json: each protocol its own message.
    sns.publish(TopicArn=arn, MessageStructure="json",
                Message=json.dumps({"default": "for everyone", "sqs": "for queues"}))
    assert json.loads(receive(sqs, url, 1)[0]["Body"])["Message"] == "for queues"
    # Batches.
    b = sns.publish_batch(TopicArn=arn, PublishBatchRequestEntries=[
        {"Id": f"e{i}", "Message": f"m{i}"} for i in range(10)])
    assert [s["Id"] for s in b["Successful"]] == [f"e{i}" for i in range(10)] and b["Failed"] == []
    assert sorted(m["Body"] for m in receive(sqs, raw_url, 11)) == sorted(
        ["for queues"] + [f"m{i}" for i in range(10)])
    assert len(receive(sqs, url, 10)) == 10
    # Unsubscribed: nothing more.
    sns.unsubscribe(SubscriptionArn=sub)
    sns.unsubscribe(SubscriptionArn=sub)  # idempotent
    sns.publish(TopicArn=arn, Message="after")
    assert [m["Body"] for m in receive(sqs, raw_url, 1)] == ["after"]
    assert receive(sqs, url, 1, timeout=1) == []


def test_filter_policies_select_messages_on_attributes_and_body(sns, sqs):
    arn = sns.create_topic(Name="orders")["TopicArn"]
    attr_url, attr_arn = queue(sqs, "by-attributes")
    body_url, body_arn = queue(sqs, "by-body")
    policy = {"store": ["example_corp"], "price_usd": [{"numeric": [">=", 100]}],
              "event": [{"anything-but": ["order_cancelled"]}], "customer": [{"prefix": "vip-"}],
              "color": [{"exists": False}]}
    sub = sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=attr_arn, ReturnSubscriptionArn=True,
                        Attributes={"FilterPolicy": json.dumps(policy), "RawMessageDelivery": "true"})
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=body_arn, Attributes={
        "FilterPolicyScope": "MessageBody", "RawMessageDelivery": "true",
        "FilterPolicy": json.dumps({"order": {"total": [{"numeric": [">", 10]}]}})})
    attrs = sns.get_subscription_attributes(SubscriptionArn=sub["SubscriptionArn"])["Attributes"]
    assert json.loads(attrs["FilterPolicy"]) == policy
    assert attrs["FilterPolicyScope"] == "MessageAttributes" and attrs["RawMessageDelivery"] == "true"

    def pub(name, body="{}", **attrs):
        ma = {k: {"DataType": "Number" if isinstance(v, (int, float)) else "String",
                  "StringValue": str(v)} for k, v in attrs.items()}
        sns.publish(TopicArn=arn, Message=json.dumps({"name": name, **json.loads(body)}),
                    MessageAttributes=ma)

    base = dict(store="example_corp", price_usd=150, event="order_placed", customer="vip-1")
    pub("match", **base)
    pub("cheap", **{**base, "price_usd": 99.5})
    pub("cancelled", **{**base, "event": "order_cancelled"})
    pub("not-vip", **{**base, "customer": "reg-1"})
    pub("colored", **{**base, "color": "red"})
    pub("other-store", **{**base, "store": "other"})
    pub("big-order", body=json.dumps({"order": {"total": 11}}))
    pub("small-order", body=json.dumps({"order": {"total": 10}}))
    got = [json.loads(m["Body"])["name"] for m in receive(sqs, attr_url, 1)]
    assert got == ["match"]
    assert receive(sqs, attr_url, 1, timeout=1) == []
    assert [json.loads(m["Body"])["name"] for m in receive(sqs, body_url, 1)] == ["big-order"]
    assert receive(sqs, body_url, 1, timeout=1) == []
    # Refusals as SNS words them; a policy that changes scope is checked for its new scope.
    code, message, _ = error(lambda: sns.set_subscription_attributes(
        SubscriptionArn=sub["SubscriptionArn"], AttributeName="FilterPolicy",
        AttributeValue=json.dumps({"a": [{"wildcard": "x*"}]})))
    assert code == "InvalidParameter" and message.startswith("Invalid parameter: FilterPolicy: ")
    assert error(lambda: sns.set_subscription_attributes(
        SubscriptionArn=sub["SubscriptionArn"], AttributeName="FilterPolicy",
        AttributeValue=json.dumps({k: ["v"] for k in "abcdef"}))) == (
        "InvalidParameter", "Invalid parameter: FilterPolicy: Filter policy can not have more than 5 keys", 400)
    assert error(lambda: sns.set_subscription_attributes(
        SubscriptionArn=sub["SubscriptionArn"], AttributeName="Nope", AttributeValue="x")) == (
        "InvalidParameter", "Invalid parameter: AttributeName", 400)
    # Removing the policy delivers everything again.
    sns.set_subscription_attributes(SubscriptionArn=sub["SubscriptionArn"],
                                    AttributeName="FilterPolicy", AttributeValue="")
    pub("anything")
    assert [json.loads(m["Body"])["name"] for m in receive(sqs, attr_url, 1)] == ["anything"]


def test_fifo_topics_keep_group_order_and_deduplicate(sns, sqs):
    arn = sns.create_topic(Name="orders.fifo", Attributes={
        "FifoTopic": "true", "ContentBasedDeduplication": "true"})["TopicArn"]
    url, qarn = queue(sqs, "orders.fifo", FifoQueue="true")
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=qarn,
                  Attributes={"RawMessageDelivery": "true"})
    assert error(lambda: sns.publish(TopicArn=arn, Message="m"))[1] == \
        "Invalid parameter: The MessageGroupId parameter is required for FIFO topics"
    seqs = []
    for i in range(20):
        r = sns.publish(TopicArn=arn, Message=f"{i % 2}:{i}", MessageGroupId=f"g{i % 2}")
        seqs.append(int(r["SequenceNumber"]))
    assert seqs == sorted(seqs) and len(set(seqs)) == 20
    again = sns.publish(TopicArn=arn, Message="0:0", MessageGroupId="g0")
    assert int(again["SequenceNumber"]) == seqs[0], "a repeat within five minutes is the same message"
    b = sns.publish_batch(TopicArn=arn, PublishBatchRequestEntries=[
        {"Id": "x", "Message": "1:20", "MessageGroupId": "g1", "MessageDeduplicationId": "d20"}])
    assert b["Successful"][0]["SequenceNumber"]
    got = receive(sqs, url, 21, timeout=20)
    bodies = [m["Body"] for m in got]
    assert len(bodies) == 21, bodies
    for g in ("0", "1"):
        mine = [int(b.split(":")[1]) for b in bodies if b.startswith(g + ":")]
        assert mine == sorted(mine), f"group {g} out of order: {mine}"
    assert {m["Attributes"]["MessageGroupId"] for m in got} == {"g0", "g1"}
    # Two entries of one batch with the same deduplication id are one message.
    b = sns.publish_batch(TopicArn=arn, PublishBatchRequestEntries=[
        {"Id": "a", "Message": "same", "MessageGroupId": "g2", "MessageDeduplicationId": "dup"},
        {"Id": "b", "Message": "same again", "MessageGroupId": "g2", "MessageDeduplicationId": "dup"}])
    assert b["Successful"][0]["MessageId"] == b["Successful"][1]["MessageId"]
    assert [m["Body"] for m in receive(sqs, url, 2, timeout=3)] == ["same"]
    # FIFO topics deliver only to queues.
    assert error(lambda: sns.subscribe(TopicArn=arn, Protocol="email", Endpoint="a@b.example"))[0] == \
        "InvalidParameter"


PY_SNS = '''
def handler(event, context):
    return {"got": event}
'''


def test_function_subscribers_get_the_sns_event(sns, sqs, server):
    lam = server.client("lambda")
    out_url, out_arn = queue(sqs, "results")
    lam.create_function(FunctionName="py-sub", Runtime="python3.12", Role=ROLE,
                        Handler="app.handler", Code={"ZipFile": py_zip(PY_SNS)})
    lam.create_function(FunctionName="rust-sub", Runtime="provided.al2023", Role=ROLE,
                        Handler="echo", Code={"ZipFile": rust_zip()})
    for name in ("py-sub", "rust-sub"):
        lam.put_function_event_invoke_config(
            FunctionName=name, DestinationConfig={"OnSuccess": {"Destination": out_arn}})
    arn = sns.create_topic(Name="orders")["TopicArn"]
    subs = {}
    for name in ("py-sub", "rust-sub"):
        fn = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{name}"
        subs[name] = sns.subscribe(TopicArn=arn, Protocol="lambda", Endpoint=fn)["SubscriptionArn"]
    assert error(lambda: sns.set_subscription_attributes(
        SubscriptionArn=subs["py-sub"], AttributeName="RawMessageDelivery",
        AttributeValue="true"))[0] == "InvalidParameter"
    r = sns.publish(TopicArn=arn, Message="to functions",
                    MessageAttributes={"k": {"DataType": "String", "StringValue": "v"}})
    records = {}
    for m in receive(sqs, out_url, 2, timeout=30):
        body = json.loads(m["Body"])
        payload = body["responsePayload"]
        event = payload.get("got") or payload.get("event")
        records[body["requestContext"]["functionArn"].split(":")[6]] = event["Records"][0]
    assert set(records) == {"py-sub", "rust-sub"}
    for name, rec in records.items():
        assert rec["EventSource"] == "aws:sns" and rec["EventVersion"] == "1.0"
        assert rec["EventSubscriptionArn"] == subs[name]
        s = rec["Sns"]
        assert s["Type"] == "Notification" and s["MessageId"] == r["MessageId"]
        assert s["Message"] == "to functions" and s["Subject"] is None and s["TopicArn"] == arn
        assert s["MessageAttributes"] == {"k": {"Type": "String", "Value": "v"}}
        assert s["SignatureVersion"] == "1" and s["Signature"]
        assert "SigningCertUrl" in s and "UnsubscribeUrl" in s


def test_deliveries_that_cannot_succeed_go_to_the_subscriptions_dead_letter_queue(sns, sqs):
    arn = sns.create_topic(Name="orders")["TopicArn"]
    dlq_url, dlq_arn = queue(sqs, "dlq")
    missing = f"arn:aws:sqs:us-east-1:{ACCOUNT}:deleted-queue"
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=missing,
                  Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn})})
    fn = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:no-such-function"
    sns.subscribe(TopicArn=arn, Protocol="lambda", Endpoint=fn,
                  Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn})})
    r = sns.publish(TopicArn=arn, Message="lost?")
    got = receive(sqs, dlq_url, 2)
    assert len(got) == 2
    for m in got:
        env = json.loads(m["Body"])
        assert env["MessageId"] == r["MessageId"] and env["Message"] == "lost?"


class Endpoint:
    """A local HTTP subscriber: records requests, answers with scripted statuses, confirms its
    subscriptions by visiting the SubscribeURL after checking the signature with a real SNS
    message validator, and checks every notification's signature too."""

    def __init__(self, statuses=()):
        from sns_message_validator import SNSMessageValidator
        self.validator = SNSMessageValidator(cert_url_regex=r"^http://127\.0\.0\.1:\d+/")
        self.requests = []
        self.invalid = []
        self.statuses = list(statuses)
        self.lock = threading.Lock()
        ep = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(n).decode()
                headers = {k.lower(): v for k, v in self.headers.items()}
                with ep.lock:
                    ep.requests.append({"headers": headers, "body": body, "path": self.path,
                                        "at": time.monotonic()})
                    status = ep.statuses.pop(0) if ep.statuses else 200
                kind = headers.get("x-amz-sns-message-type")
                if status == 200 and headers.get("x-amz-sns-rawdelivery") != "true":
                    msg = json.loads(body)
                    try:
                        ep.validator.validate_message(msg)
                    except Exception as e:  # recorded, and the test fails on it
                        ep.invalid.append((kind, repr(e)))
                    if kind == "SubscriptionConfirmation":
                        with urllib.request.urlopen(msg["SubscribeURL"]) as r:
                            assert r.status == 200
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def of(self, kind):
        return [r for r in self.requests if r["headers"].get("x-amz-sns-message-type") == kind]


@pytest.fixture
def endpoint():
    ep = Endpoint()
    yield ep
    ep.server.shutdown()


def test_http_subscribers_confirm_and_receive_signed_notifications(sns, endpoint, server):
    arn = sns.create_topic(Name="orders")["TopicArn"]
    r = sns.subscribe(TopicArn=arn, Protocol="http", Endpoint=endpoint.url + "/hook")
    assert r["SubscriptionArn"] == "pending confirmation"
    assert [s["SubscriptionArn"] for s in sns.list_subscriptions_by_topic(TopicArn=arn)[
        "Subscriptions"]] == ["PendingConfirmation"]
    assert wait_for(lambda: sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"][0][
        "SubscriptionArn"] != "PendingConfirmation")
    [confirmation] = endpoint.of("SubscriptionConfirmation")
    assert "x-amz-sns-subscription-arn" not in confirmation["headers"]
    sub = sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"][0]["SubscriptionArn"]
    attrs = sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]
    assert attrs["PendingConfirmation"] == "false"
    assert json.loads(attrs["EffectiveDeliveryPolicy"])["healthyRetryPolicy"]["numRetries"] == 3
    sns.publish(TopicArn=arn, Message="signed", Subject="s")
    sns.publish(TopicArn=arn, Message="no subject")
    assert wait_for(lambda: len(endpoint.of("Notification")) == 2)
    for n in endpoint.of("Notification"):
        h = n["headers"]
        assert h["x-amz-sns-topic-arn"] == arn and h["x-amz-sns-subscription-arn"] == sub
        assert h["content-type"] == "text/plain; charset=UTF-8"
        assert h["user-agent"] == "Amazon Simple Notification Service Agent"
        assert h["x-amz-sns-message-id"] == json.loads(n["body"])["MessageId"]
    assert endpoint.invalid == []
    # Delivered means done: no work item is left to send them again.
    assert wait_for(lambda: server.metric("eddy_store_work_items") == 0, timeout=10)
    # A tampered message fails the same validator.
    tampered = json.loads(endpoint.of("Notification")[0]["body"])
    tampered["Message"] = "forged"
    with pytest.raises(Exception):
        endpoint.validator.validate_message(tampered)
    # Raw delivery: the message alone, flagged.
    sns.set_subscription_attributes(SubscriptionArn=sub, AttributeName="RawMessageDelivery",
                                    AttributeValue="true")
    sns.publish(TopicArn=arn, Message="raw body")
    assert wait_for(lambda: len(endpoint.of("Notification")) == 3)
    last = endpoint.of("Notification")[-1]
    assert last["body"] == "raw body" and last["headers"]["x-amz-sns-rawdelivery"] == "true"


def test_signature_version_2_is_sha256_with_rsa(sns, endpoint):
    """SignatureVersion 2 (SHA256withRSA), checked with the `cryptography` library against the
    certificate eddy serves, as AWS's own validators do."""
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
    from cryptography.hazmat.primitives.hashes import SHA256

    arn = sns.create_topic(Name="v2", Attributes={"SignatureVersion": "2"})["TopicArn"]
    assert sns.get_topic_attributes(TopicArn=arn)["Attributes"]["SignatureVersion"] == "2"
    endpoint.validator = type("Skip", (), {"validate_message": staticmethod(lambda m: None)})()
    sns.subscribe(TopicArn=arn, Protocol="http", Endpoint=endpoint.url)
    assert wait_for(lambda: endpoint.of("SubscriptionConfirmation"))
    confirmation = json.loads(endpoint.of("SubscriptionConfirmation")[0]["body"])
    with urllib.request.urlopen(confirmation["SubscribeURL"]) as r:
        assert r.status == 200
    sns.publish(TopicArn=arn, Message="sha256", Subject="s")
    assert wait_for(lambda: endpoint.of("Notification"))
    for kind, keys in [
        ("SubscriptionConfirmation",
         ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"]),
        ("Notification", ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]),
    ]:
        msg = json.loads(endpoint.of(kind)[0]["body"])
        assert msg["SignatureVersion"] == "2"
        with urllib.request.urlopen(msg["SigningCertURL"]) as r:
            cert = x509.load_pem_x509_certificate(r.read())
        text = "".join(f"{k}\n{msg[k]}\n" for k in keys).encode()
        cert.public_key().verify(base64.b64decode(msg["Signature"]), text, PKCS1v15(), SHA256())


def test_http_deliveries_are_retried_by_the_delivery_policy_then_dead_lettered(sns, sqs):
    ep = Endpoint(statuses=[200] + [500] * 10)
    try:
        arn = sns.create_topic(Name="orders")["TopicArn"]
        dlq_url, dlq_arn = queue(sqs, "http-dlq")
        sub = sns.subscribe(TopicArn=arn, Protocol="http", Endpoint=ep.url, ReturnSubscriptionArn=True,
                            Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn}),
                                        "DeliveryPolicy": json.dumps({"healthyRetryPolicy": {
                                            "numRetries": 2, "minDelayTarget": 1,
                                            "maxDelayTarget": 1}})})["SubscriptionArn"]
        assert wait_for(lambda: sns.get_subscription_attributes(SubscriptionArn=sub)[
            "Attributes"]["PendingConfirmation"] == "false")
        r = sns.publish(TopicArn=arn, Message="flaky")
        [dead] = receive(sqs, dlq_url, 1, timeout=20)
        assert json.loads(dead["Body"])["MessageId"] == r["MessageId"]
        assert len(ep.of("Notification")) == 3, "the first attempt and two retries"
    finally:
        ep.server.shutdown()


def test_email_and_sms_are_written_to_the_topics_log_group(sns, server):
    logs = server.client("logs")
    arn = sns.create_topic(Name="alerts")["TopicArn"]
    assert sns.subscribe(TopicArn=arn, Protocol="email", Endpoint="dev@example.com")[
        "SubscriptionArn"] == "pending confirmation"
    sms = sns.subscribe(TopicArn=arn, Protocol="sms", Endpoint="+15555550100")["SubscriptionArn"]
    assert sms.startswith(arn)
    group = f"sns/us-east-1/{ACCOUNT}/alerts"

    def messages(stream):
        try:
            return [e["message"] for e in logs.get_log_events(
                logGroupName=group, logStreamName=stream)["events"]]
        except ClientError:
            return []

    assert wait_for(lambda: messages("dev@example.com"))
    confirmation = messages("dev@example.com")[0]
    assert "To confirm the subscription, visit" in confirmation
    link = confirmation.split("visit ")[-1].strip()
    with urllib.request.urlopen(link) as r:  # as a developer would, no credentials
        assert b"<ConfirmSubscriptionResult>" in r.read()
    sns.publish(TopicArn=arn, Message="disk full", Subject="Alert")
    assert wait_for(lambda: len(messages("dev@example.com")) == 2)
    mail = messages("dev@example.com")[1]
    assert "Subject: Alert" in mail and "disk full" in mail
    assert wait_for(lambda: messages("+15555550100") == ["To: +15555550100\ndisk full"])


def test_a_rule_can_target_a_topic(sns, sqs, server):
    events = server.client("events")
    arn = sns.create_topic(Name="from-rules")["TopicArn"]
    url, qarn = queue(sqs, "fanout")
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=qarn, Attributes={"RawMessageDelivery": "true"})
    events.put_rule(Name="to-topic", EventPattern=json.dumps({"source": ["shop"]}))
    events.put_targets(Rule="to-topic", Targets=[{"Id": "t", "Arn": arn, "InputPath": "$.detail"}])
    events.put_events(Entries=[{"Source": "shop", "DetailType": "x", "Detail": json.dumps({"n": 1})}])
    [m] = receive(sqs, url, 1)
    assert json.loads(m["Body"]) == {"n": 1}


def test_the_aws_cli_speaks_sns(sns, server):
    code, out, err = aws_cli(server, "sns", "create-topic", "--name", "cli")
    assert code == 0, err
    arn = json.loads(out)["TopicArn"]
    code, out, err = aws_cli(server, "sns", "publish", "--topic-arn", arn, "--message", "hi",
                             "--message-attributes", '{"k":{"DataType":"String","StringValue":"v"}}')
    assert code == 0, err and json.loads(out)["MessageId"]
    code, out, _ = aws_cli(server, "sns", "list-topics")
    assert [t["TopicArn"] for t in json.loads(out)["Topics"]] == [arn]
    code, _, err = aws_cli(server, "sns", "get-topic-attributes", "--topic-arn", arn + "-missing")
    assert code != 0 and "NotFound" in err and "Topic does not exist" in err


def test_only_the_links_a_notification_carries_work_without_credentials(sns, server):
    arn = sns.create_topic(Name="t")["TopicArn"]
    for query in ("Action=ListTopics", f"Action=Publish&TopicArn={arn}&Message=x"):
        req = urllib.request.Request(f"{server.aws}/?{query}")
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(req)
        assert e.value.code == 403
    req = urllib.request.Request(f"{server.aws}/?Action=ConfirmSubscription&TopicArn={arn}&Token=guess")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req)
    assert e.value.code == 400 and b"Invalid parameter: Token" in e.value.read()
    # A link's query string cannot smuggle another action in a body or a header.
    smuggled = [
        urllib.request.Request(f"{server.aws}/?Action=Unsubscribe&SubscriptionArn={arn}:x",
                               data=f"Action=DeleteTopic&TopicArn={arn}".encode(), method="POST",
                               headers={"Content-Type": "application/x-www-form-urlencoded"}),
        urllib.request.Request(f"{server.aws}/?Action=Unsubscribe&SubscriptionArn={arn}:x",
                               data=f"Action=DeleteTopic&TopicArn={arn}".encode(), method="GET",
                               headers={"Content-Type": "application/x-www-form-urlencoded"}),
        urllib.request.Request(f"{server.aws}/?Action=Unsubscribe&SubscriptionArn={arn}:x",
                               data=b"{}", method="GET",
                               headers={"X-Amz-Target": "AWSEvents.ListEventBuses"}),
    ]
    for req in smuggled:
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(req)
        assert e.value.code == 403, req.get_method()
    assert [t["TopicArn"] for t in sns.list_topics()["Topics"]] == [arn]


def test_links_work_for_topics_of_any_region(sns, server):
    logs = server.client("logs", region="eu-west-1")
    eu = server.client("sns", region="eu-west-1")
    arn = eu.create_topic(Name="eu-alerts")["TopicArn"]
    assert ":eu-west-1:" in arn
    eu.subscribe(TopicArn=arn, Protocol="email", Endpoint="dev@example.com")
    group = f"sns/eu-west-1/{ACCOUNT}/eu-alerts"

    def logged():
        try:
            return [e["message"] for e in logs.get_log_events(
                logGroupName=group, logStreamName="dev@example.com")["events"]]
        except ClientError:
            return []

    assert wait_for(logged)
    link = logged()[0].split("visit ")[-1].strip()
    with urllib.request.urlopen(link) as r:
        assert b"<ConfirmSubscriptionResult>" in r.read()
    [sub] = eu.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]
    assert sub["SubscriptionArn"].startswith(arn + ":")
    with urllib.request.urlopen(f"{server.aws}/?Action=Unsubscribe&SubscriptionArn="
                                + urllib.parse.quote(sub["SubscriptionArn"])) as r:
        assert r.status == 200
    assert eu.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"] == []


def test_acknowledged_publications_survive_a_kill(fresh_dir):
    s = Eddy(fresh_dir).start()
    try:
        sns, sqs = s.client("sns"), s.client("sqs")
        arn = sns.create_topic(Name="durable")["TopicArn"]
        url, qarn = queue(sqs, "sink")
        sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=qarn,
                      Attributes={"RawMessageDelivery": "true"})
        acked = set()
        for i in range(40):
            b = sns.publish_batch(TopicArn=arn, PublishBatchRequestEntries=[
                {"Id": str(j), "Message": f"{i}-{j}"} for j in range(10)])
            acked.update(f"{i}-{e['Id']}" for e in b["Successful"])
        s.stop(sig_kill=True)
        s = Eddy(fresh_dir).start()
        sqs = s.client("sqs")
        got = set()
        deadline = time.time() + 30
        while not acked <= got and time.time() < deadline:
            r = sqs.receive_message(QueueUrl=s.aws + "/" + ACCOUNT + "/sink", MaxNumberOfMessages=10,
                                    WaitTimeSeconds=1)
            for m in r.get("Messages", []):
                got.add(m["Body"])
                sqs.delete_message(QueueUrl=s.aws + "/" + ACCOUNT + "/sink",
                                   ReceiptHandle=m["ReceiptHandle"])
        assert acked <= got, f"{len(acked - got)} acknowledged publications lost"
    finally:
        s.stop()


TOPIC_MANIFEST = """\
version = 1

[queues.billing]
[queues.audit]
[queues.notify-dlq]

[topics.orders]
display_name = "Orders"

[[topics.orders.subscriptions]]
queue = "billing"
raw = true
filter = { kind = ["paid"] }
dead_letter_queue = "notify-dlq"

[[topics.orders.subscriptions]]
queue = "audit"

[[topics.orders.subscriptions]]
email = "ops@example.com"

[rules.to-topic]
pattern = { source = ["shop"] }

[[rules.to-topic.targets]]
topic = "orders"
input_path = "$.detail"
"""


def test_the_manifest_declares_topics_and_the_cli_publishes(fresh_dir, tmp_path):
    from test_cli import cli
    (tmp_path / "eddy.toml").write_text(TOPIC_MANIFEST)
    s = Eddy(fresh_dir, cwd=str(tmp_path)).start()
    try:
        sns, sqs = s.client("sns"), s.client("sqs")
        arn = f"arn:aws:sns:us-east-1:{ACCOUNT}:orders"
        assert sns.get_topic_attributes(TopicArn=arn)["Attributes"]["DisplayName"] == "Orders"
        subs = sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]
        assert sorted(x["Protocol"] for x in subs) == ["email", "sqs", "sqs"]
        billing = sqs.get_queue_url(QueueName="billing")["QueueUrl"]
        audit = sqs.get_queue_url(QueueName="audit")["QueueUrl"]
        r = cli(s, "publish", "orders", "one", "two", "--attribute", "kind=paid",
                "--attribute", "n:Number=3")
        assert len(r.stdout.split()) == 2
        assert sorted(m["Body"] for m in receive(sqs, billing, 2)) == ["one", "two"]
        assert len(receive(sqs, audit, 2)) == 2
        cli(s, "publish", "orders", "unpaid", "--attribute", "kind=open")
        assert [json.loads(m["Body"])["Message"] for m in receive(sqs, audit, 1)] == ["unpaid"]
        assert receive(sqs, billing, 1, timeout=1) == []
        # The rule delivers to the topic.
        s.client("events").put_events(Entries=[
            {"Source": "shop", "DetailType": "x", "Detail": json.dumps({"id": 9})}])
        assert [json.loads(json.loads(m["Body"])["Message"]) for m in receive(sqs, audit, 1)] == [
            {"id": 9}]
        assert "TOPICS (1)" in cli(s, "status").stdout
        listing = cli(s, "topics").stdout
        assert "orders  (3 subscriptions)" in listing
        assert 'filter {"kind":["paid"]}' in listing and "[pending confirmation]" in listing
        # Changing a subscription's filter and dropping one is an update in place.
        text = TOPIC_MANIFEST.replace('filter = { kind = ["paid"] }', 'filter = { kind = ["open"] }')
        text = text.replace('[[topics.orders.subscriptions]]\nqueue = "audit"\n\n', "")
        (tmp_path / "eddy.toml").write_text(text)
        r = cli(s, "apply", str(tmp_path / "eddy.toml"))
        assert "updated topic orders" in r.stdout, r.stdout
        subs = sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]
        assert sorted(x["Protocol"] for x in subs) == ["email", "sqs"]
        sqs_sub = next(x["SubscriptionArn"] for x in subs if x["Protocol"] == "sqs")
        assert json.loads(sns.get_subscription_attributes(SubscriptionArn=sqs_sub)["Attributes"][
            "FilterPolicy"]) == {"kind": ["open"]}
        assert "0 created, 0 updated, 0 deleted" in cli(s, "apply", str(tmp_path / "eddy.toml")).stdout
    finally:
        s.stop()


def test_a_bus_can_subscribe_with_eddys_eventbridge_protocol(sns, sqs, server):
    """SNS has no protocol for an EventBridge bus; eddy's `eventbridge` puts each notification
    on the bus as an event (`aws.sns`, `SNS Notification`), where rules pick it up."""
    events = server.client("events")
    events.create_event_bus(Name="notes")
    bus = f"arn:aws:events:us-east-1:{ACCOUNT}:event-bus/notes"
    url, qarn = queue(sqs, "from-bus")
    events.put_rule(Name="sns-notes", EventBusName="notes",
                    EventPattern=json.dumps({"source": ["aws.sns"]}))
    events.put_targets(Rule="sns-notes", EventBusName="notes", Targets=[{"Id": "q", "Arn": qarn}])
    arn = sns.create_topic(Name="to-bus")["TopicArn"]
    sns.subscribe(TopicArn=arn, Protocol="eventbridge", Endpoint=bus)
    assert error(lambda: sns.subscribe(TopicArn=arn, Protocol="eventbridge", Endpoint=qarn))[0] == \
        "InvalidParameter"
    r = sns.publish(TopicArn=arn, Message="on the bus")
    [m] = receive(sqs, url, 1)
    event = json.loads(m["Body"])
    assert event["source"] == "aws.sns" and event["detail-type"] == "SNS Notification"
    assert event["resources"] == [arn]
    assert event["detail"]["MessageId"] == r["MessageId"]
    assert event["detail"]["Message"] == "on the bus"


def test_http_deliveries_keep_to_the_throttle_policy(sns, endpoint):
    arn = sns.create_topic(Name="throttled")["TopicArn"]
    policy = {"throttlePolicy": {"maxReceivesPerSecond": 2}}
    sub = sns.subscribe(TopicArn=arn, Protocol="http", Endpoint=endpoint.url,
                        ReturnSubscriptionArn=True,
                        Attributes={"DeliveryPolicy": json.dumps(policy)})["SubscriptionArn"]
    assert wait_for(lambda: sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"][
        "PendingConfirmation"] == "false")
    sns.publish_batch(TopicArn=arn, PublishBatchRequestEntries=[
        {"Id": str(i), "Message": f"m{i}"} for i in range(6)])
    assert wait_for(lambda: len(endpoint.of("Notification")) == 6, timeout=20)
    times = sorted(r["at"] for r in endpoint.of("Notification"))
    # Two at once (the bucket starts full), then two a second: four more need two seconds.
    assert times[-1] - times[0] >= 1.5, times

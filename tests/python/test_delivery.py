"""Delivery end to end: rules deliver matched events to queue and bus targets with AWS's input
shaping, retries, dead-letter queues, and nothing lost across a SIGKILL."""

import json
import time

import pytest


@pytest.fixture
def aws(eddy):
    eddy.post("/moto-api/reset")
    return eddy.client("events"), eddy.client("sqs")


def queue(sqs, name, **attrs):
    url = sqs.create_queue(QueueName=name, Attributes=attrs)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def drain(sqs, url, want, timeout=10.0, **kw):
    """Receives (and deletes) messages until `want` arrived or the timeout passed."""
    got = []
    deadline = time.monotonic() + timeout
    while len(got) < want and time.monotonic() < deadline:
        r = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                MessageAttributeNames=["All"], **kw)
        for m in r.get("Messages", []):
            got.append(m)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return got


def put(events, detail, source="shop", bus=None, detail_type="OrderPlaced"):
    entry = {"Source": source, "DetailType": detail_type, "Detail": json.dumps(detail)}
    if bus:
        entry["EventBusName"] = bus
    r = events.put_events(Entries=[entry])
    assert r["FailedEntryCount"] == 0, r
    return r["Entries"][0]["EventId"]


def test_rule_delivers_the_event_to_a_queue(aws):
    events, sqs = aws
    url, arn = queue(sqs, "q")
    events.put_rule(Name="r", EventPattern=json.dumps({"source": ["shop"]}))
    events.put_targets(Rule="r", Targets=[{"Id": "t", "Arn": arn}])
    event_id = put(events, {"order": 7})
    put(events, {"order": 8}, source="other")
    got = drain(sqs, url, 1)
    assert len(got) == 1
    body = json.loads(got[0]["Body"])
    assert body["id"] == event_id and body["source"] == "shop"
    assert body["detail"] == {"order": 7} and body["detail-type"] == "OrderPlaced"
    assert body["account"] == "123456789012" and body["region"] == "us-east-1"
    # Nothing else arrives.
    assert drain(sqs, url, 1, timeout=1.5) == []


def test_input_shaping(aws):
    events, sqs = aws
    urls = {}
    targets = []
    for name, extra in [
        ("const", {"Input": json.dumps({"fixed": True})}),
        ("path", {"InputPath": "$.detail"}),
        ("tmpl", {"InputTransformer": {"InputPathsMap": {"o": "$.detail.order", "s": "$.source"},
                                       "InputTemplate": '{"order": <o>, "from": "<s>"}'}}),
    ]:
        url, arn = queue(sqs, name)
        urls[name] = url
        targets.append({"Id": name, "Arn": arn, **extra})
    events.put_rule(Name="r", EventPattern=json.dumps({"source": ["shop"]}))
    events.put_targets(Rule="r", Targets=targets)
    put(events, {"order": 42, "extra": "x"})
    assert json.loads(drain(sqs, urls["const"], 1)[0]["Body"]) == {"fixed": True}
    assert json.loads(drain(sqs, urls["path"], 1)[0]["Body"]) == {"order": 42, "extra": "x"}
    assert json.loads(drain(sqs, urls["tmpl"], 1)[0]["Body"]) == {"order": 42, "from": "shop"}


def test_bus_to_bus_forwarding(aws):
    events, sqs = aws
    url, arn = queue(sqs, "q")
    bus_arn = events.create_event_bus(Name="orders")["EventBusArn"]
    events.put_rule(Name="fwd", EventPattern=json.dumps({"source": ["shop"]}))
    events.put_targets(Rule="fwd", Targets=[{"Id": "b", "Arn": bus_arn}])
    events.put_rule(Name="onq", EventBusName="orders", EventPattern=json.dumps({"source": ["shop"]}))
    events.put_targets(Rule="onq", EventBusName="orders", Targets=[{"Id": "q", "Arn": arn}])
    event_id = put(events, {"n": 1})
    got = drain(sqs, url, 1)
    assert json.loads(got[0]["Body"])["id"] == event_id


def test_forwarding_loops_stop_and_go_to_the_dead_letter_queue(eddy, aws):
    events, sqs = aws
    dlq_url, dlq_arn = queue(sqs, "dlq")
    a = events.create_event_bus(Name="a")["EventBusArn"]
    b = events.create_event_bus(Name="b")["EventBusArn"]
    events.put_rule(Name="ab", EventBusName="a", EventPattern=json.dumps({"source": ["loop"]}))
    events.put_targets(Rule="ab", EventBusName="a", Targets=[
        {"Id": "to-b", "Arn": b, "DeadLetterConfig": {"Arn": dlq_arn}}])
    events.put_rule(Name="ba", EventBusName="b", EventPattern=json.dumps({"source": ["loop"]}))
    events.put_targets(Rule="ba", EventBusName="b", Targets=[
        {"Id": "to-a", "Arn": a, "DeadLetterConfig": {"Arn": dlq_arn}}])
    event_id = put(events, {}, source="loop", bus="a")
    got = drain(sqs, dlq_url, 1)
    assert len(got) == 1
    assert json.loads(got[0]["Body"])["id"] == event_id
    assert got[0]["MessageAttributes"]["ERROR_CODE"]["StringValue"] == "EventLoopDetected"
    # The loop is stopped: nothing keeps bouncing.
    time.sleep(0.5)
    before = eddy.metric("eddy_events_put_total", bus="a") + eddy.metric("eddy_events_put_total", bus="b")
    time.sleep(0.5)
    after = eddy.metric("eddy_events_put_total", bus="a") + eddy.metric("eddy_events_put_total", bus="b")
    assert before == after


def test_missing_target_goes_straight_to_the_dead_letter_queue(aws):
    events, sqs = aws
    dlq_url, dlq_arn = queue(sqs, "dlq")
    events.put_rule(Name="r", EventPattern=json.dumps({"source": ["shop"]}))
    target_arn = "arn:aws:sqs:us-east-1:123456789012:does-not-exist"
    events.put_targets(Rule="r", Targets=[{"Id": "t", "Arn": target_arn,
                                           "DeadLetterConfig": {"Arn": dlq_arn}}])
    event_id = put(events, {"x": 1})
    got = drain(sqs, dlq_url, 1)
    assert len(got) == 1
    m = got[0]
    assert json.loads(m["Body"])["id"] == event_id
    attrs = {k: v["StringValue"] for k, v in m["MessageAttributes"].items()}
    assert attrs["ERROR_CODE"] == "ResourceNotFoundException"
    assert attrs["RULE_ARN"] == "arn:aws:events:us-east-1:123456789012:rule/r"
    assert attrs["TARGET_ARN"] == target_arn
    assert attrs["RETRY_ATTEMPTS"] == "0"
    assert "EXHAUSTED_RETRY_CONDITION" not in attrs


def test_undeliverable_without_dlq_is_counted(eddy, aws):
    events, sqs = aws
    events.put_rule(Name="r", EventPattern=json.dumps({"source": ["shop"]}))
    events.put_targets(Rule="r", Targets=[{"Id": "t", "Arn": "arn:aws:sqs:us-east-1:123456789012:nope"}])
    put(events, {})
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and eddy.metric("eddy_delivery_attempts_total", outcome="failed", rule="arn:aws:events:us-east-1:123456789012:rule/r") < 1:
        time.sleep(0.1)
    assert eddy.metric("eddy_delivery_attempts_total", outcome="failed",
                       rule="arn:aws:events:us-east-1:123456789012:rule/r") == 1


def test_fifo_queue_target(aws):
    events, sqs = aws
    url, arn = queue(sqs, "t.fifo", FifoQueue="true")
    events.put_rule(Name="r", EventPattern=json.dumps({"source": ["shop"]}))
    events.put_targets(Rule="r", Targets=[{"Id": "t", "Arn": arn, "SqsParameters": {"MessageGroupId": "orders"}}])
    ids = [put(events, {"n": i}) for i in range(5)]
    got = drain(sqs, url, 5, MessageSystemAttributeNames=["All"])
    # EventBridge does not promise order across events; each arrives once, in its group.
    assert sorted(json.loads(m["Body"])["id"] for m in got) == sorted(ids)
    assert {m["Attributes"]["MessageGroupId"] for m in got} == {"orders"}


def test_input_path_that_selects_nothing_sends_nothing(eddy, aws):
    events, sqs = aws
    url, arn = queue(sqs, "q")
    events.put_rule(Name="r", EventPattern=json.dumps({"source": ["shop"]}))
    events.put_targets(Rule="r", Targets=[{"Id": "t", "Arn": arn, "InputPath": "$.detail.missing"}])
    put(events, {"order": 1})
    rule_arn = "arn:aws:events:us-east-1:123456789012:rule/r"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and eddy.metric("eddy_delivery_attempts_total", outcome="skipped", rule=rule_arn) < 1:
        time.sleep(0.05)
    assert eddy.metric("eddy_delivery_attempts_total", outcome="skipped", rule=rule_arn) == 1
    assert drain(sqs, url, 1, timeout=1) == []


def test_put_targets_rejects_bad_input_shaping(aws):
    events, _ = aws
    from botocore.exceptions import ClientError
    events.put_rule(Name="r", EventPattern=json.dumps({"source": ["shop"]}))
    arn = "arn:aws:sqs:us-east-1:123456789012:q"
    for bad in [
        {"Input": "{not json"},
        {"InputPath": "detail"},
        {"InputTransformer": {"InputPathsMap": {"aws.x": "$.source"}, "InputTemplate": "<aws.x>"}},
        {"InputTransformer": {"InputPathsMap": {"a": "$.source"}, "InputTemplate": '{"x": <b>}'}},
    ]:
        with pytest.raises(ClientError) as ex:
            events.put_targets(Rule="r", Targets=[{"Id": "t", "Arn": arn, **bad}])
        assert ex.value.response["Error"]["Code"] == "ValidationException", bad
    assert events.list_targets_by_rule(Rule="r")["Targets"] == []

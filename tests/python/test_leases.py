"""Fenced, renewed leases seen from outside: a delivery that runs longer than a lease is renewed,
not handed to a second attempt, and moving the dev clock forward while a delivery runs
duplicates nothing. The function is the Rust test function's `sleep` handler, invoked by a rule;
each invocation writes a `START` line to its log group, which is how the tests count them."""

import json

from conftest import Eddy, wait_for
from test_lambda import create_rust

FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:slow"
DONE_ARN = "arn:aws:sqs:us-east-1:123456789012:done"


def setup_slow_function(server, sleep_ms):
    """A rule that sends every `lease-test` event to the function `slow`, which sleeps
    `sleep_ms` and reports each success to the queue `done`. Returns (events, sqs, queue url)."""
    lam = server.client("lambda")
    events = server.client("events")
    sqs = server.client("sqs")
    done = sqs.create_queue(QueueName="done")["QueueUrl"]
    create_rust(lam, name="slow", handler="sleep", Timeout=60)
    lam.put_function_event_invoke_config(
        FunctionName="slow", DestinationConfig={"OnSuccess": {"Destination": DONE_ARN}})
    events.put_rule(Name="slow", EventPattern=json.dumps({"source": ["lease-test"]}))
    events.put_targets(Rule="slow", Targets=[
        {"Id": "fn", "Arn": FUNCTION_ARN, "Input": json.dumps({"ms": sleep_ms})}])
    return events, sqs, done


def put_one(events):
    r = events.put_events(Entries=[{"Source": "lease-test", "DetailType": "t", "Detail": "{}"}])
    assert r["FailedEntryCount"] == 0


def starts(server):
    """How many invocations of `slow` started (its `START` log lines)."""
    logs = server.client("logs")
    try:
        got = logs.filter_log_events(logGroupName="/aws/lambda/slow")["events"]
    except logs.exceptions.ResourceNotFoundException:
        return 0
    return sum(1 for e in got if e["message"].startswith("START RequestId:"))


def records(sqs, queue, wait_seconds):
    """Every success record that arrives on `queue` within `wait_seconds` of the last one."""
    got = []
    while True:
        msgs = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10,
                                   WaitTimeSeconds=wait_seconds).get("Messages", [])
        if not msgs:
            return got
        got += [json.loads(m["Body"]) for m in msgs]
        for m in msgs:
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"])


def test_an_invocation_longer_than_the_lease_is_delivered_once(fresh_dir):
    # A 2 s lease and a 7 s invocation: without renewals, the item would be leased again after
    # 2 s and the function invoked a second time while the first invocation still runs.
    server = Eddy(fresh_dir, ["--function-user", "current", "--lease-ms", "2000"]).start()
    try:
        events, sqs, done = setup_slow_function(server, 7000)
        put_one(events)
        first = sqs.receive_message(QueueUrl=done, WaitTimeSeconds=20).get("Messages", [])
        assert len(first) == 1, "the invocation finished"
        sqs.delete_message(QueueUrl=done, ReceiptHandle=first[0]["ReceiptHandle"])
        # A second attempt would have started 2 s into the first: its START line is there by
        # now, and its record follows about 2 s after the first one's.
        assert records(sqs, done, 4) == []
        assert starts(server) == 1
        assert server.metric("eddy_delivery_lease_renewals_total") >= 1
        assert server.metric("eddy_delivery_stale_lease_acks_total") == 0
    finally:
        server.stop()


def test_moving_the_dev_clock_forward_duplicates_no_delivery_in_flight(fresh_dir):
    server = Eddy(fresh_dir, ["--function-user", "current"]).start()
    try:
        events, sqs, done = setup_slow_function(server, 3000)
        put_one(events)
        assert wait_for(lambda: starts(server) == 1, 10), "the invocation started"
        # An hour ahead: far past any lease, well within the event's maximum age (6 hours).
        status, _, _ = server.post("/_eddy/clock", json.dumps({"advance_seconds": 3600}).encode())
        assert status == 200
        got = records(sqs, done, 5)
        assert len(got) == 1, got
        assert got[0]["requestContext"]["approximateInvokeCount"] == 1
        assert starts(server) == 1
        assert server.metric("eddy_delivery_stale_lease_acks_total") == 0
    finally:
        server.stop()

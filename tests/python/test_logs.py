"""Log-group targets and the CloudWatch Logs calls that read what they delivered."""

import json
import time

import pytest
from botocore.exceptions import ClientError


@pytest.fixture
def aws(eddy):
    eddy.post("/moto-api/reset")
    return eddy.client("events"), eddy.client("logs")


def test_log_group_lifecycle_and_errors(aws):
    _, logs = aws
    logs.create_log_group(logGroupName="/aws/events/orders")
    with pytest.raises(ClientError) as ex:
        logs.create_log_group(logGroupName="/aws/events/orders")
    assert ex.value.response["Error"]["Code"] == "ResourceAlreadyExistsException"
    groups = logs.describe_log_groups(logGroupNamePrefix="/aws/events")["logGroups"]
    assert [g["logGroupName"] for g in groups] == ["/aws/events/orders"]
    assert groups[0]["arn"] == "arn:aws:logs:us-east-1:123456789012:log-group:/aws/events/orders:*"
    logs.create_log_stream(logGroupName="/aws/events/orders", logStreamName="s")
    logs.put_log_events(logGroupName="/aws/events/orders", logStreamName="s", logEvents=[
        {"timestamp": 1000, "message": "ERROR disk full"}, {"timestamp": 2000, "message": "ok"}])
    got = logs.get_log_events(logGroupName="/aws/events/orders", logStreamName="s", startFromHead=True)
    assert [e["message"] for e in got["events"]] == ["ERROR disk full", "ok"]
    f = logs.filter_log_events(logGroupName="/aws/events/orders", filterPattern="ERROR")
    assert [e["message"] for e in f["events"]] == ["ERROR disk full"]
    logs.delete_log_group(logGroupName="/aws/events/orders")
    with pytest.raises(ClientError) as ex:
        logs.get_log_events(logGroupName="/aws/events/orders", logStreamName="s")
    assert ex.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_rule_delivers_events_to_a_log_group(aws):
    events, logs = aws
    logs.create_log_group(logGroupName="/aws/events/shop")
    events.put_rule(Name="r", EventPattern=json.dumps({"source": ["shop"]}))
    events.put_targets(Rule="r", Targets=[{"Id": "l", "Arn": "arn:aws:logs:us-east-1:123456789012:log-group:/aws/events/shop"}])
    ids = [events.put_events(Entries=[{"Source": "shop", "DetailType": "Order",
                                       "Detail": json.dumps({"n": i, "state": "NEW" if i % 2 else "OLD"})}])["Entries"][0]["EventId"]
           for i in range(4)]
    deadline = time.monotonic() + 10
    found = []
    while len(found) < 4 and time.monotonic() < deadline:
        found = logs.filter_log_events(logGroupName="/aws/events/shop")["events"]
        time.sleep(0.05)
    assert sorted(json.loads(e["message"])["id"] for e in found) == sorted(ids)
    # One stream per event, named by its id; JSON filter patterns select on content.
    assert sorted(e["logStreamName"] for e in found) == sorted(ids)
    new = logs.filter_log_events(logGroupName="/aws/events/shop",
                                 filterPattern='{ $.detail.state = "NEW" }')["events"]
    assert sorted(json.loads(e["message"])["detail"]["n"] for e in new) == [1, 3]


def test_filter_log_events_pages_through_every_event_when_streams_interleave_in_time(aws):
    """Events are returned in timestamp order; a page boundary must not skip an event written
    earlier with a later timestamp (pagination once followed the write order instead)."""
    _, logs = aws
    logs.create_log_group(logGroupName="/app/paging")
    for s in ("late", "early"):
        logs.create_log_stream(logGroupName="/app/paging", logStreamName=s)
    # Written first, stamped later; then written later, stamped earlier.
    logs.put_log_events(logGroupName="/app/paging", logStreamName="late", logEvents=[
        {"timestamp": 10_000 + i, "message": f"late {i}"} for i in range(5)])
    logs.put_log_events(logGroupName="/app/paging", logStreamName="early", logEvents=[
        {"timestamp": 1_000 + i, "message": f"early {i}"} for i in range(5)])
    want = [f"early {i}" for i in range(5)] + [f"late {i}" for i in range(5)]
    for page_size in (1, 2, 3, 7):
        got, token = [], None
        while True:
            kw = {"nextToken": token} if token else {}
            r = logs.filter_log_events(logGroupName="/app/paging", limit=page_size, **kw)
            got += [e["message"] for e in r["events"]]
            token = r.get("nextToken")
            if not token:
                break
        assert got == want, page_size
    # GetLogEvents pages the same way in both directions.
    logs.put_log_events(logGroupName="/app/paging", logStreamName="early", logEvents=[
        {"timestamp": 500, "message": "earliest"}])
    got, token = [], None
    while True:
        kw = {"nextToken": token} if token else {"startFromHead": True}
        r = logs.get_log_events(logGroupName="/app/paging", logStreamName="early", limit=2, **kw)
        if not r["events"]:
            break
        got += [e["message"] for e in r["events"]]
        token = r["nextForwardToken"]
    assert got == ["earliest"] + [f"early {i}" for i in range(5)]
    got, token = [], None
    while True:
        kw = {"nextToken": token} if token else {}
        r = logs.get_log_events(logGroupName="/app/paging", logStreamName="early", limit=2, **kw)
        if not r["events"]:
            break
        got = [e["message"] for e in r["events"]] + got
        token = r["nextBackwardToken"]
    assert got == ["earliest"] + [f"early {i}" for i in range(5)]

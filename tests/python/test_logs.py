"""Log-group targets and the CloudWatch Logs calls that read what they delivered."""

import json
import time

import pytest
from botocore.exceptions import ClientError

from conftest import Eddy


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


RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827,
                  2192, 2557, 2922, 3288, 3653]


def test_retention_policies_and_their_errors(aws):
    _, logs = aws
    logs.create_log_group(logGroupName="/app/kept")
    assert "retentionInDays" not in logs.describe_log_groups(logGroupNamePrefix="/app/kept")["logGroups"][0]
    for days in (1, 3653):
        assert logs.put_retention_policy(logGroupName="/app/kept", retentionInDays=days)
        group = logs.describe_log_groups(logGroupNamePrefix="/app/kept")["logGroups"][0]
        assert group["retentionInDays"] == days
    with pytest.raises(ClientError) as ex:
        logs.put_retention_policy(logGroupName="/app/kept", retentionInDays=2)
    err = ex.value.response["Error"]
    assert err["Code"] == "InvalidParameterException"
    assert err["Message"] == (
        "1 validation error detected: Value '2' at 'retentionInDays' failed to satisfy "
        f"constraint: Member must satisfy enum value set: [{', '.join(map(str, RETENTION_DAYS))}]")
    assert logs.describe_log_groups(logGroupNamePrefix="/app/kept")["logGroups"][0]["retentionInDays"] == 3653
    for call in (lambda: logs.put_retention_policy(logGroupName="/app/none", retentionInDays=7),
                 lambda: logs.delete_retention_policy(logGroupName="/app/none")):
        with pytest.raises(ClientError) as ex:
            call()
        assert ex.value.response["Error"]["Code"] == "ResourceNotFoundException"
        assert ex.value.response["Error"]["Message"] == "The specified log group does not exist."
        assert ex.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    logs.delete_retention_policy(logGroupName="/app/kept")
    assert "retentionInDays" not in logs.describe_log_groups(logGroupNamePrefix="/app/kept")["logGroups"][0]
    logs.delete_retention_policy(logGroupName="/app/kept")  # none to delete: still fine


def _messages(logs, group):
    return sorted(e["message"] for e in logs.filter_log_events(logGroupName=group)["events"])


def _advance_days(server, days):
    status, _, _ = server.post("/_eddy/clock", json.dumps({"advance_seconds": int(days * 86400)}).encode())
    assert status == 200


def _wait_for(check, what):
    deadline = time.monotonic() + 10
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def test_log_events_older_than_the_retention_expire_when_the_clock_moves(fresh_dir):
    """Retention counts by event time on eddy's clock; a function's group (by its name) keeps 7
    days unless it has its own policy; a group without a policy keeps everything."""
    server = Eddy(fresh_dir).start()
    try:
        logs = server.client("logs")
        now = int(time.time() * 1000)
        groups = {"/app/day": 1, "/app/forever": None, "/aws/lambda/f": None, "/aws/lambda/g": 30}
        for name, days in groups.items():
            logs.create_log_group(logGroupName=name)
            if days:
                logs.put_retention_policy(logGroupName=name, retentionInDays=days)
            logs.put_log_events(logGroupName=name, logStreamName="s", logEvents=[
                {"timestamp": now - 12 * 3600 * 1000, "message": "12 hours old"},
                {"timestamp": now, "message": "new"}])
        both = ["12 hours old", "new"]
        assert all(_messages(logs, name) == both for name in groups)

        _advance_days(server, 0.75)  # 30 and 18 hours old
        _wait_for(lambda: _messages(logs, "/app/day") == ["new"], "1-day retention")
        assert _messages(logs, "/app/forever") == both
        assert _messages(logs, "/aws/lambda/f") == both
        assert _messages(logs, "/aws/lambda/g") == both

        _advance_days(server, 6)  # 7.25 and 6.75 days old
        _wait_for(lambda: _messages(logs, "/aws/lambda/f") == ["new"], "a function's default 7 days")
        assert _messages(logs, "/app/day") == []
        assert _messages(logs, "/app/forever") == both
        assert _messages(logs, "/aws/lambda/g") == both, "the group's own policy wins"
    finally:
        server.stop()


def test_metrics_report_store_size_and_oldest_event_age(fresh_dir):
    server = Eddy(fresh_dir).start()
    try:
        assert server.metric("eddy_store_bytes") > 0
        assert server.metric("eddy_event_log_oldest_age_seconds") == 0
        events = server.client("events")
        events.put_events(Entries=[{"Source": "s", "DetailType": "d", "Detail": "{}"}])
        _advance_days(server, 1 / 24)  # an hour: well within the event log's retention
        # The store gauges are recounted at most once a second.
        _wait_for(lambda: server.metric("eddy_event_log_oldest_age_seconds") >= 3600,
                  "oldest event age")
        assert server.metric("eddy_event_log_oldest_age_seconds") < 3600 + 60
    finally:
        server.stop()


def test_a_functions_logs_expire_after_its_group_was_deleted(fresh_dir):
    """A function keeps logging after someone deleted its `/aws/lambda/NAME` group (as Lambda
    recreates it); those log events still expire with a function group's default 7 days."""
    from test_lambda import create_rust, invoke
    server = Eddy(fresh_dir, ["--function-user", "current"]).start()
    try:
        lam, logs = server.client("lambda"), server.client("logs")
        create_rust(lam, name="orphan")
        logs.delete_log_group(logGroupName="/aws/lambda/orphan")
        r, _ = invoke(lam, "orphan", {"n": 1})
        assert r["StatusCode"] == 200
        time.sleep(1)  # the log writer flushes every 200 ms
        _advance_days(server, 8)

        def expired():
            _advance_days(server, 1 / 1440)  # each move runs another sweep
            return server.metric("eddy_retention_expired_log_events_total") >= 3
        _wait_for(expired, "the orphaned function log events (START, END, REPORT) expire")
        logs.create_log_group(logGroupName="/aws/lambda/orphan")
        assert _messages(logs, "/aws/lambda/orphan") == []
    finally:
        server.stop()

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
    base = int(time.time() * 1000) - 3_600_000
    logs.put_log_events(logGroupName="/aws/events/orders", logStreamName="s", logEvents=[
        {"timestamp": base + 1000, "message": "ERROR disk full"},
        {"timestamp": base + 2000, "message": "ok"}])
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
    base = int(time.time() * 1000) - 3_600_000
    logs.put_log_events(logGroupName="/app/paging", logStreamName="late", logEvents=[
        {"timestamp": base + 10_000 + i, "message": f"late {i}"} for i in range(5)])
    logs.put_log_events(logGroupName="/app/paging", logStreamName="early", logEvents=[
        {"timestamp": base + 1_000 + i, "message": f"early {i}"} for i in range(5)])
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
        {"timestamp": base + 500, "message": "earliest"}])
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
            logs.create_log_stream(logGroupName=name, logStreamName="s")
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


def test_log_streams_as_cloudwatch_logs_answers(aws):
    """DescribeLogStreams, CreateLogStream, DeleteLogStream and PutLogEvents' checks, as AWS's
    CloudWatch Logs API reference describes them (API_DescribeLogStreams, API_PutLogEvents:
    "the log events in the batch must be in chronological order", "a batch of log events in a
    single request cannot span more than 24 hours", events more than 14 days old or 2 hours in
    the future are rejected and reported in rejectedLogEventsInfo)."""
    _, logs = aws
    g = "/app/streams"
    logs.create_log_group(logGroupName=g)
    for s in ("b-empty", "a-busy", "c-later"):
        logs.create_log_stream(logGroupName=g, logStreamName=s)
    with pytest.raises(ClientError) as ex:
        logs.create_log_stream(logGroupName=g, logStreamName="a-busy")
    assert ex.value.response["Error"]["Code"] == "ResourceAlreadyExistsException"
    assert ex.value.response["Error"]["Message"] == "The specified log stream already exists"
    now = int(time.time() * 1000)
    logs.put_log_events(logGroupName=g, logStreamName="a-busy", logEvents=[
        {"timestamp": now - 60_000, "message": "one"}])
    logs.put_log_events(logGroupName=g, logStreamName="c-later", logEvents=[
        {"timestamp": now - 1000, "message": "two"}])
    # Streams without events are listed too; by name by default.
    streams = logs.describe_log_streams(logGroupName=g)["logStreams"]
    assert [s["logStreamName"] for s in streams] == ["a-busy", "b-empty", "c-later"]
    empty = streams[1]
    assert empty["storedBytes"] == 0 and "lastEventTimestamp" not in empty
    assert empty["arn"] == f"arn:aws:logs:us-east-1:123456789012:log-group:{g}:log-stream:b-empty"
    assert streams[0]["lastEventTimestamp"] == now - 60_000
    by_time = logs.describe_log_streams(logGroupName=g, orderBy="LastEventTime",
                                        descending=True)["logStreams"]
    assert by_time[0]["logStreamName"] == "c-later"
    page = logs.describe_log_streams(logGroupName=g, limit=2)
    assert len(page["logStreams"]) == 2
    rest = logs.describe_log_streams(logGroupName=g, limit=2, nextToken=page["nextToken"])
    assert [s["logStreamName"] for s in rest["logStreams"]] == ["c-later"]
    assert [s["logStreamName"] for s in logs.describe_log_streams(
        logGroupName=g, logStreamNamePrefix="b")["logStreams"]] == ["b-empty"]
    with pytest.raises(ClientError) as ex:
        logs.describe_log_streams(logGroupName=g, logStreamNamePrefix="a", orderBy="LastEventTime")
    assert ex.value.response["Error"]["Message"] == \
        "Cannot order by LastEventTime with a logStreamNamePrefix."
    # The group by ARN (logGroupIdentifier) on every read.
    arn = f"arn:aws:logs:us-east-1:123456789012:log-group:{g}"
    assert len(logs.describe_log_streams(logGroupIdentifier=arn)["logStreams"]) == 3
    got = logs.get_log_events(logGroupIdentifier=arn, logStreamName="a-busy", startFromHead=True)
    assert [e["message"] for e in got["events"]] == ["one"]
    f = logs.filter_log_events(logGroupIdentifier=g + "", filterPattern="two")
    assert [e["message"] for e in f["events"]] == ["two"]

    # PutLogEvents: a stream must exist; events in order, within 24 hours.
    with pytest.raises(ClientError) as ex:
        logs.put_log_events(logGroupName=g, logStreamName="nope", logEvents=[
            {"timestamp": now, "message": "x"}])
    assert ex.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert ex.value.response["Error"]["Message"] == "The specified log stream does not exist."
    with pytest.raises(ClientError) as ex:
        logs.put_log_events(logGroupName=g, logStreamName="b-empty", logEvents=[
            {"timestamp": now, "message": "x"}, {"timestamp": now - 1, "message": "y"}])
    assert ex.value.response["Error"]["Code"] == "InvalidParameterException"
    assert ex.value.response["Error"]["Message"] == \
        "Log events in a single PutLogEvents request must be in chronological order."
    with pytest.raises(ClientError) as ex:
        logs.put_log_events(logGroupName=g, logStreamName="b-empty", logEvents=[
            {"timestamp": now - 25 * 3600_000, "message": "x"}, {"timestamp": now, "message": "y"}])
    assert "cannot span more than 24 hours" in ex.value.response["Error"]["Message"]
    day = 86_400_000
    r = logs.put_log_events(logGroupName=g, logStreamName="b-empty", logEvents=[
        {"timestamp": now - 14 * day - 3600_000, "message": "too old"},
        {"timestamp": now - 14 * day - 3500_000, "message": "too old too"},
        {"timestamp": now - 14 * day + 3600_000, "message": "old but kept"},
    ])
    # The end index is exclusive (API_RejectedLogEventsInfo: "This field is exclusive").
    assert r["rejectedLogEventsInfo"] == {"tooOldLogEventEndIndex": 2}
    logs.put_log_events(logGroupName=g, logStreamName="b-empty", logEvents=[
        {"timestamp": now, "message": "kept"}])
    r = logs.put_log_events(logGroupName=g, logStreamName="b-empty", logEvents=[
        {"timestamp": now + 1, "message": "kept too"},
        {"timestamp": now + 3 * 3600_000, "message": "too new"},
    ])
    assert r["rejectedLogEventsInfo"] == {"tooNewLogEventStartIndex": 1}
    got = logs.get_log_events(logGroupName=g, logStreamName="b-empty", startFromHead=True)
    assert [e["message"] for e in got["events"]] == ["old but kept", "kept", "kept too"]
    # DeleteLogStream deletes the stream and its events.
    logs.delete_log_stream(logGroupName=g, logStreamName="a-busy")
    assert "a-busy" not in [s["logStreamName"] for s in logs.describe_log_streams(
        logGroupName=g)["logStreams"]]
    assert [e["message"] for e in logs.filter_log_events(logGroupName=g)["events"]] == \
        ["old but kept", "two", "kept", "kept too"]
    with pytest.raises(ClientError) as ex:
        logs.delete_log_stream(logGroupName=g, logStreamName="a-busy")
    assert ex.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_log_group_tags(aws):
    _, logs = aws
    g = "/app/tagged"
    logs.create_log_group(logGroupName=g, tags={"team": "a"})
    arn = f"arn:aws:logs:us-east-1:123456789012:log-group:{g}"
    assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == {"team": "a"}
    logs.tag_resource(resourceArn=arn, tags={"env": "dev"})
    assert logs.list_tags_log_group(logGroupName=g)["tags"] == {"team": "a", "env": "dev"}
    logs.untag_resource(resourceArn=arn, tagKeys=["team"])
    logs.tag_log_group(logGroupName=g, tags={"x": "1"})
    logs.untag_log_group(logGroupName=g, tags=["env"])
    assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == {"x": "1"}
    with pytest.raises(ClientError) as ex:
        logs.list_tags_for_resource(resourceArn=arn + "-missing")
    assert ex.value.response["Error"]["Code"] == "ResourceNotFoundException"


def _query(logs, **kw):
    qid = logs.start_query(**kw)["queryId"]
    deadline = time.time() + 20
    while True:
        r = logs.get_query_results(queryId=qid)
        if r["status"] not in ("Scheduled", "Running"):
            return r
        assert time.time() < deadline, r
        time.sleep(0.05)


def _rows(r):
    return [{c["field"]: c["value"] for c in row} for row in r["results"]]


def test_logs_insights_queries_over_a_known_corpus(aws):
    """StartQuery / GetQueryResults / StopQuery / DescribeQueries (CloudWatch Logs API
    reference) running the common subset of the Insights language (its query syntax page)."""
    _, logs = aws
    g = "/app/insights"
    logs.create_log_group(logGroupName=g)
    logs.create_log_stream(logGroupName=g, logStreamName="web")
    base = (int(time.time()) // 3600 - 2) * 3600 * 1000  # two hours ago, on the hour
    events = []
    for i in range(120):
        user = ["ann", "bob", "cy"][i % 3]
        level = "ERROR" if i % 10 == 0 else "INFO"
        events.append({"timestamp": base + i * 30_000,
                       "message": json.dumps({"level": level, "user": user, "ms": i})})
    logs.put_log_events(logGroupName=g, logStreamName="web", logEvents=events)
    start, end = base // 1000, base // 1000 + 3600

    r = _query(logs, logGroupName=g, startTime=start, endTime=end,
               queryString="stats count(*) as n by bin(10m)")
    assert r["status"] == "Complete"
    assert [row["n"] for row in _rows(r)] == ["20"] * 6
    assert r["statistics"]["recordsScanned"] == 120.0

    r = _query(logs, logGroupName=g, startTime=start, endTime=end,
               queryString="filter level = 'ERROR' | stats count(*) as errors, "
                           "max(ms) as worst by user | sort errors desc, user asc")
    assert _rows(r) == [{"user": "ann", "errors": "4", "worst": "90"},
                        {"user": "bob", "errors": "4", "worst": "100"},
                        {"user": "cy", "errors": "4", "worst": "110"}]

    r = _query(logs, logGroupIdentifiers=[f"arn:aws:logs:us-east-1:123456789012:log-group:{g}"],
               startTime=start, endTime=end, limit=2,
               queryString="fields @timestamp, user | filter ms >= 100 | sort ms desc")
    assert [row["user"] for row in _rows(r)] == ["cy", "bob"]
    assert _rows(r)[0]["@timestamp"].endswith(".000")

    # The time range bounds what is read.
    r = _query(logs, logGroupName=g, startTime=start, endTime=start + 299,
               queryString="stats count(*)")
    assert _rows(r) == [{"count(*)": "10"}]

    with pytest.raises(ClientError) as ex:
        logs.start_query(logGroupName=g, startTime=start, endTime=end,
                         queryString="fields @message | dedup user")
    assert ex.value.response["Error"]["Code"] == "MalformedQueryException"
    with pytest.raises(ClientError) as ex:
        logs.start_query(logGroupName="/missing", startTime=start, endTime=end,
                         queryString="stats count(*)")
    assert ex.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as ex:
        logs.get_query_results(queryId="nope")
    assert ex.value.response["Error"]["Code"] == "ResourceNotFoundException"
    described = logs.describe_queries(logGroupName=g)["queries"]
    assert len(described) == 4 and all(q["status"] == "Complete" for q in described)
    assert logs.stop_query(queryId=described[0]["queryId"])["success"] is False


def test_metric_filters_count_into_metrics(eddy, aws):
    """PutMetricFilter / DescribeMetricFilters / DeleteMetricFilter / TestMetricFilter; what a
    filter counts shows in /metrics as eddy_log_metric_filter_value."""
    _, logs = aws
    g = "/app/metered"
    logs.create_log_group(logGroupName=g)
    logs.create_log_stream(logGroupName=g, logStreamName="s")
    logs.put_metric_filter(logGroupName=g, filterName="errors", filterPattern="ERROR",
                           metricTransformations=[{"metricName": "Errors",
                                                   "metricNamespace": "App",
                                                   "metricValue": "1", "defaultValue": 0}])
    logs.put_metric_filter(logGroupName=g, filterName="latency",
                           filterPattern='{ $.kind = "req" }',
                           metricTransformations=[{"metricName": "Latency",
                                                   "metricNamespace": "App",
                                                   "metricValue": "$.ms"}])
    described = logs.describe_metric_filters(logGroupName=g)["metricFilters"]
    assert [f["filterName"] for f in described] == ["errors", "latency"]
    assert described[0]["metricTransformations"][0]["metricValue"] == "1"
    assert [f["filterName"] for f in logs.describe_metric_filters(
        metricName="Latency")["metricFilters"]] == ["latency"]
    now = int(time.time() * 1000)
    logs.put_log_events(logGroupName=g, logStreamName="s", logEvents=[
        {"timestamp": now, "message": "ERROR one"},
        {"timestamp": now + 1, "message": json.dumps({"kind": "req", "ms": 20})},
        {"timestamp": now + 2, "message": json.dumps({"kind": "req", "ms": 22.5})},
        {"timestamp": now + 3, "message": "ERROR two"}])
    labels = {"group": g, "namespace": "App"}
    assert eddy.metric("eddy_log_metric_filter_value_total", filter="errors", metric="Errors",
                       **labels) == 2.0
    assert eddy.metric("eddy_log_metric_filter_value_total", filter="latency", metric="Latency",
                       **labels) == 42.5
    t = logs.test_metric_filter(filterPattern="ERROR",
                                logEventMessages=["ERROR a", "fine", "ERROR b"])
    assert [(m["eventNumber"], m["eventMessage"]) for m in t["matches"]] == \
        [(1, "ERROR a"), (3, "ERROR b")]
    logs.delete_metric_filter(logGroupName=g, filterName="latency")
    with pytest.raises(ClientError) as ex:
        logs.delete_metric_filter(logGroupName=g, filterName="latency")
    assert ex.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert [f["filterName"] for f in logs.describe_metric_filters(
        logGroupName=g)["metricFilters"]] == ["errors"]

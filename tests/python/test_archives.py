"""Archives and replays end to end with boto3: the archive operations and their AWS errors,
archive contents computed from the event log, and replays that re-deliver archived events (with
`replay-name`) through rules to queue targets, in event-time order, cancellable, surviving a
restart."""

import json
import time
from datetime import datetime, timezone

import pytest
from botocore.exceptions import ClientError

from conftest import Eddy

ACCOUNT = "123456789012"
REGION = "us-east-1"
BUS_ARN = f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/default"


def ts(minute, second=0):
    return datetime(2024, 5, 1, 12, minute, second, tzinfo=timezone.utc)


@pytest.fixture
def aws(eddy):
    eddy.post("/moto-api/reset")
    return eddy.client("events"), eddy.client("sqs")


def queue(sqs, name):
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def drain(sqs, url, want, timeout=10.0):
    got = []
    deadline = time.monotonic() + timeout
    while len(got) < want and time.monotonic() < deadline:
        r = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for m in r.get("Messages", []):
            got.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return got


def put(events, n, when=None, source="shop", bus=None):
    entry = {"Source": source, "DetailType": "Order", "Detail": json.dumps({"n": n})}
    if when is not None:
        entry["Time"] = when
    if bus:
        entry["EventBusName"] = bus
    r = events.put_events(Entries=[entry])
    assert r["FailedEntryCount"] == 0, r
    return r["Entries"][0]["EventId"]


def error(call, **kw):
    with pytest.raises(ClientError) as e:
        call(**kw)
    err = e.value.response["Error"]
    return err["Code"], err["Message"]


def wait_state(events, name, states, timeout=15.0):
    deadline = time.monotonic() + timeout
    while True:
        r = events.describe_replay(ReplayName=name)
        if r["State"] in states or time.monotonic() > deadline:
            return r
        time.sleep(0.1)


def rule_to_queue(events, sqs, rule, qname, pattern=None, bus=None):
    url, qarn = queue(sqs, qname)
    kw = {"EventBusName": bus} if bus else {}
    arn = events.put_rule(Name=rule, EventPattern=json.dumps(pattern or {"source": ["shop"]}),
                          **kw)["RuleArn"]
    events.put_targets(Rule=rule, Targets=[{"Id": "t", "Arn": qarn}], **kw)
    return url, arn


# ---------------------------------------------------------------------------------------------
# Archives


def test_archive_lifecycle(aws):
    events, _ = aws
    pattern = json.dumps({"source": ["shop"]})
    r = events.create_archive(ArchiveName="orders", EventSourceArn=BUS_ARN, Description="d",
                              EventPattern=pattern, RetentionDays=7)
    arn = f"arn:aws:events:{REGION}:{ACCOUNT}:archive/orders"
    assert r["ArchiveArn"] == arn and r["State"] == "ENABLED"
    created = r["CreationTime"]

    d = events.describe_archive(ArchiveName="orders")
    assert d["ArchiveArn"] == arn and d["ArchiveName"] == "orders"
    assert d["EventSourceArn"] == BUS_ARN and d["Description"] == "d"
    assert d["EventPattern"] == pattern and d["State"] == "ENABLED"
    assert d["RetentionDays"] == 7 and d["EventCount"] == 0 and d["SizeBytes"] == 0
    assert d["CreationTime"] == created

    listed = events.list_archives()["Archives"]
    assert [a["ArchiveName"] for a in listed] == ["orders"]
    assert listed[0]["EventSourceArn"] == BUS_ARN and listed[0]["State"] == "ENABLED"
    assert "ArchiveArn" not in listed[0]

    u = events.update_archive(ArchiveName="orders", Description="new", RetentionDays=0,
                              EventPattern=json.dumps({"source": ["other"]}))
    assert u["ArchiveArn"] == arn and u["State"] == "ENABLED"
    d = events.describe_archive(ArchiveName="orders")
    assert d["Description"] == "new" and d["RetentionDays"] == 0
    assert json.loads(d["EventPattern"]) == {"source": ["other"]}

    events.delete_archive(ArchiveName="orders")
    assert events.list_archives()["Archives"] == []
    assert error(events.describe_archive, ArchiveName="orders") == (
        "ResourceNotFoundException", "Archive orders does not exist.")


def test_an_archive_has_its_managed_rule(aws, eddy):
    events, _ = aws
    events.create_archive(ArchiveName="orders", EventSourceArn=BUS_ARN,
                          EventPattern=json.dumps({"source": ["shop"]}))
    rules = events.list_rules()["Rules"]
    assert [r["Name"] for r in rules] == ["Events-Archive-orders"]
    rule = events.describe_rule(Name="Events-Archive-orders")
    assert rule["ManagedBy"] == "prod.vhs.events.aws.internal" and rule["State"] == "ENABLED"
    assert json.loads(rule["EventPattern"]) == {
        "source": ["shop"], "replay-name": [{"exists": False}]}
    [target] = events.list_targets_by_rule(Rule="Events-Archive-orders")["Targets"]
    assert target["Id"] == "Events-Archive-orders"
    assert target["Arn"] == f"arn:aws:events:{REGION}:::"
    template = target["InputTransformer"]["InputTemplate"]
    assert f"arn:aws:events:{REGION}:{ACCOUNT}:archive/orders" in template
    assert "<aws.events.event.json>" in template and "<aws.events.event.ingestion-time>" in template

    # Managed: users cannot change or delete it without Force.
    code, _ = error(events.delete_rule, Name="Events-Archive-orders")
    assert code == "ManagedRuleException"
    code, _ = error(events.put_rule, Name="Events-Archive-orders",
                    EventPattern=json.dumps({"source": ["x"]}))
    assert code == "ManagedRuleException"
    code, _ = error(events.put_targets, Rule="Events-Archive-orders",
                    Targets=[{"Id": "mine", "Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:q"}])
    assert code == "ManagedRuleException"
    code, _ = error(events.disable_rule, Name="Events-Archive-orders")
    assert code == "ManagedRuleException"

    # Its target is the archive itself: matching events are archived, never delivered or
    # dead-lettered.
    put(events, 1)
    assert events.describe_archive(ArchiveName="orders")["EventCount"] == 1
    rule_arn = f"arn:aws:events:{REGION}:{ACCOUNT}:rule/Events-Archive-orders"
    assert eddy.metric("eddy_rule_matched_events_total", rule="Events-Archive-orders") >= 1
    time.sleep(1)
    assert eddy.metric("eddy_delivery_attempts_total", rule=rule_arn) == 0

    # The rule follows the archive's pattern, and goes with the archive.
    events.update_archive(ArchiveName="orders", EventPattern=json.dumps({"source": ["other"]}))
    rule = events.describe_rule(Name="Events-Archive-orders")
    assert json.loads(rule["EventPattern"]) == {
        "source": ["other"], "replay-name": [{"exists": False}]}
    events.delete_archive(ArchiveName="orders")
    assert events.list_rules()["Rules"] == []


def test_a_users_rule_with_the_archive_rules_name_is_left_alone(aws):
    events, _ = aws
    pattern = json.dumps({"source": ["mine"]})
    events.put_rule(Name="Events-Archive-orders", EventPattern=pattern)
    events.create_archive(ArchiveName="orders", EventSourceArn=BUS_ARN)
    rule = events.describe_rule(Name="Events-Archive-orders")
    assert "ManagedBy" not in rule and rule["EventPattern"] == pattern
    events.delete_archive(ArchiveName="orders")
    assert events.describe_rule(Name="Events-Archive-orders")["EventPattern"] == pattern


def test_archive_on_a_custom_bus_and_list_filters(aws):
    events, _ = aws
    bus_arn = events.create_event_bus(Name="b")["EventBusArn"]
    events.create_archive(ArchiveName="on-b", EventSourceArn=bus_arn)
    events.create_archive(ArchiveName="on-default", EventSourceArn=BUS_ARN)
    names = lambda **kw: [a["ArchiveName"] for a in events.list_archives(**kw)["Archives"]]
    assert names() == ["on-b", "on-default"]
    assert names(EventSourceArn=bus_arn) == ["on-b"]
    assert names(NamePrefix="on-d") == ["on-default"]
    assert names(State="ENABLED") == ["on-b", "on-default"]
    assert names(State="DISABLED") == []


def test_archive_errors(aws, eddy):
    events, _ = aws
    long = "a" * 49
    assert error(events.create_archive, ArchiveName=long, EventSourceArn=BUS_ARN) == (
        "ValidationException",
        f" 1 validation error detected: Value '{long}' at 'archiveName' failed to satisfy "
        "constraint: Member must have length less than or equal to 48")
    missing = f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/nope"
    assert error(events.create_archive, ArchiveName="a", EventSourceArn=missing) == (
        "ResourceNotFoundException", "Event bus nope does not exist.")
    assert error(events.create_archive, ArchiveName="a", EventSourceArn=BUS_ARN,
                 EventPattern="{bad") == (
        "InvalidEventPatternException", "Event pattern is not valid. Reason: Invalid JSON")
    code, msg = error(events.create_archive, ArchiveName="a", EventSourceArn=BUS_ARN,
                      EventPattern=json.dumps({"source": "shop"}))
    assert code == "InvalidEventPatternException"
    assert msg.startswith("Event pattern is not valid. Reason: 'source' must be an object or an array")
    code, msg = error(events.create_archive, ArchiveName="a b", EventSourceArn=BUS_ARN)
    assert code == "ValidationException" and "at 'archiveName'" in msg
    code, msg = error(events.create_archive, ArchiveName="a", EventSourceArn="default")
    assert code == "ValidationException" and "at 'eventSourceArn'" in msg
    # boto3 checks the minimum itself; a raw call reaches the server.
    status, _, body = eddy.aws_call("AWSEvents.CreateArchive", {
        "ArchiveName": "a", "EventSourceArn": BUS_ARN, "RetentionDays": -1})
    assert status == 400 and body["__type"] == "ValidationException"
    assert body["message"] == (
        "1 validation error detected: Value '-1' at 'retentionDays' failed to satisfy "
        "constraint: Member must have value greater than or equal to 0")

    events.create_archive(ArchiveName="a", EventSourceArn=BUS_ARN)
    assert error(events.create_archive, ArchiveName="a", EventSourceArn=BUS_ARN) == (
        "ResourceAlreadyExistsException", "Archive a already exists.")
    assert error(events.update_archive, ArchiveName="zz") == (
        "ResourceNotFoundException", "Archive zz does not exist.")
    assert error(events.update_archive, ArchiveName="a", EventPattern="[")[0] == \
        "InvalidEventPatternException"
    assert error(events.delete_archive, ArchiveName="zz") == (
        "ResourceNotFoundException", "Archive zz does not exist.")

    assert error(events.list_archives, NamePrefix="a", State="ENABLED") == (
        "ValidationException",
        "At most one filter is allowed for ListArchives. Use either : State, EventSourceArn, "
        "or NamePrefix.")
    assert error(events.list_archives, State="invalid") == (
        "ValidationException",
        "1 validation error detected: Value 'invalid' at 'state' failed to satisfy constraint: "
        "Member must satisfy enum value set: "
        "[ENABLED, DISABLED, CREATING, UPDATING, CREATE_FAILED, UPDATE_FAILED]")


def test_list_archives_pages(aws):
    events, _ = aws
    for i in range(5):
        events.create_archive(ArchiveName=f"a{i}", EventSourceArn=BUS_ARN)
    seen, token, pages = [], None, 0
    while True:
        kw = {"NextToken": token} if token else {}
        r = events.list_archives(Limit=2, **kw)
        pages += 1
        seen += [a["ArchiveName"] for a in r["Archives"]]
        token = r.get("NextToken")
        if not token:
            break
    assert seen == [f"a{i}" for i in range(5)] and pages == 3
    # boto3's paginator walks the same pages.
    pager = events.get_paginator("list_archives") if events.can_paginate("list_archives") else None
    if pager:
        names = [a["ArchiveName"] for p in pager.paginate(PaginationConfig={"PageSize": 2})
                 for a in p["Archives"]]
        assert names == seen


def test_archive_counts_matching_events_since_creation(aws):
    events, _ = aws
    put(events, 0)  # before the archive: not in it
    events.create_archive(ArchiveName="shop", EventSourceArn=BUS_ARN,
                          EventPattern=json.dumps({"source": ["shop"]}))
    events.create_archive(ArchiveName="all", EventSourceArn=BUS_ARN)
    put(events, 1)
    put(events, 2)
    put(events, 3, source="other")
    put(events, 4, bus=None, when=ts(1))  # event time far in the past: still archived
    shop = events.describe_archive(ArchiveName="shop")
    everything = events.describe_archive(ArchiveName="all")
    assert shop["EventCount"] == 3 and everything["EventCount"] == 4
    assert 0 < shop["SizeBytes"] < everything["SizeBytes"]
    listed = {a["ArchiveName"]: a for a in events.list_archives()["Archives"]}
    assert listed["shop"]["EventCount"] == 3 and listed["all"]["EventCount"] == 4
    # Events on another bus are not in these archives.
    events.create_event_bus(Name="b")
    put(events, 5, bus="b")
    assert events.describe_archive(ArchiveName="all")["EventCount"] == 4


# ---------------------------------------------------------------------------------------------
# Replays


def start(events, name, start_time, end_time, archive="arch", filter_arns=None, bus_arn=BUS_ARN):
    dest = {"Arn": bus_arn}
    if filter_arns is not None:
        dest["FilterArns"] = filter_arns
    return events.start_replay(
        ReplayName=name,
        EventSourceArn=f"arn:aws:events:{REGION}:{ACCOUNT}:archive/{archive}",
        EventStartTime=start_time, EventEndTime=end_time, Destination=dest)


def test_replay_delivers_archived_events_in_event_time_order(aws):
    events, sqs = aws
    events.create_archive(ArchiveName="arch", EventSourceArn=BUS_ARN)
    # Put out of event-time order; one before the window, one at its (exclusive) end.
    ids = {}
    for n, minute in [(3, 3), (1, 1), (9, 0), (2, 2), (10, 10), (4, 3)]:
        ids[n] = put(events, n, when=ts(minute))
    # The rule exists only now, so the queue receives nothing but the replay.
    url, _ = rule_to_queue(events, sqs, "r", "q")
    r = start(events, "rp", ts(1), ts(10))
    assert r["ReplayArn"] == f"arn:aws:events:{REGION}:{ACCOUNT}:replay/rp"
    assert r["State"] == "STARTING" and "ReplayStartTime" in r

    d = wait_state(events, "rp", {"COMPLETED", "FAILED"})
    assert d["State"] == "COMPLETED", d
    assert d["ReplayName"] == "rp" and d["Destination"] == {"Arn": BUS_ARN}
    assert d["EventSourceArn"] == f"arn:aws:events:{REGION}:{ACCOUNT}:archive/arch"
    assert d["EventStartTime"] == ts(1) and d["EventEndTime"] == ts(10)
    assert d["EventLastReplayedTime"] == ts(3)
    assert d["ReplayEndTime"] >= d["ReplayStartTime"]

    got = drain(sqs, url, 4)
    assert [b["detail"]["n"] for b in got] == [1, 2, 3, 4]
    assert all(b["replay-name"] == "rp" for b in got)
    assert [b["id"] for b in got] == [ids[1], ids[2], ids[3], ids[4]]
    assert drain(sqs, url, 1, timeout=1.5) == []

    # Replayed events are not archived again.
    assert events.describe_archive(ArchiveName="arch")["EventCount"] == 6
    listed = events.list_replays()["Replays"]
    assert [x["ReplayName"] for x in listed] == ["rp"] and listed[0]["State"] == "COMPLETED"


def test_replay_respects_the_archive_pattern_and_filter_arns(aws):
    events, sqs = aws
    events.create_archive(ArchiveName="arch", EventSourceArn=BUS_ARN,
                          EventPattern=json.dumps({"detail": {"n": [1, 2]}}))
    for n in (1, 2, 3):
        put(events, n, when=ts(5, n))
    url1, arn1 = rule_to_queue(events, sqs, "r1", "q1")
    url2, _ = rule_to_queue(events, sqs, "r2", "q2")
    start(events, "only-r1", ts(0), ts(30), filter_arns=[arn1])
    assert wait_state(events, "only-r1", {"COMPLETED", "FAILED"})["State"] == "COMPLETED"
    got = drain(sqs, url1, 2)
    assert sorted(b["detail"]["n"] for b in got) == [1, 2]
    assert all(b["replay-name"] == "only-r1" for b in got)
    assert drain(sqs, url2, 1, timeout=1.5) == []
    assert events.describe_replay(ReplayName="only-r1")["Destination"]["FilterArns"] == [arn1]

    # Without FilterArns every rule of the bus gets the replay.
    start(events, "all-rules", ts(0), ts(30))
    assert wait_state(events, "all-rules", {"COMPLETED", "FAILED"})["State"] == "COMPLETED"
    assert len(drain(sqs, url1, 2)) == 2 and len(drain(sqs, url2, 2)) == 2


def test_replay_on_a_custom_bus(aws):
    events, sqs = aws
    bus_arn = events.create_event_bus(Name="b")["EventBusArn"]
    events.create_archive(ArchiveName="arch", EventSourceArn=bus_arn)
    put(events, 1, when=ts(1), bus="b")
    put(events, 2, when=ts(1))  # default bus: not in the archive
    url, _ = rule_to_queue(events, sqs, "r", "q", bus="b")
    start(events, "rb", ts(0), ts(30), bus_arn=bus_arn)
    assert wait_state(events, "rb", {"COMPLETED", "FAILED"})["State"] == "COMPLETED"
    got = drain(sqs, url, 1)
    assert [b["detail"]["n"] for b in got] == [1]
    assert drain(sqs, url, 1, timeout=1.0) == []


def test_cancel_replay(aws):
    events, _ = aws
    events.create_archive(ArchiveName="arch", EventSourceArn=BUS_ARN)
    start(events, "rp", ts(0), ts(30))
    r = events.cancel_replay(ReplayName="rp")
    assert r["ReplayArn"].endswith(":replay/rp") and r["State"] == "CANCELLING"
    d = events.describe_replay(ReplayName="rp")
    assert d["State"] == "CANCELLED" and "ReplayEndTime" in d
    msg = "Replay rp is not in a valid state for this operation."
    assert error(events.cancel_replay, ReplayName="rp") == ("IllegalStatusException", msg)

    start(events, "done", ts(0), ts(30))
    assert wait_state(events, "done", {"COMPLETED"})["State"] == "COMPLETED"
    assert error(events.cancel_replay, ReplayName="done") == (
        "IllegalStatusException", "Replay done is not in a valid state for this operation.")
    assert error(events.cancel_replay, ReplayName="nope") == (
        "ResourceNotFoundException", "Replay nope does not exist.")


def test_replay_errors(aws):
    events, _ = aws
    events.create_archive(ArchiveName="arch", EventSourceArn=BUS_ARN)
    events.create_event_bus(Name="b")
    b_arn = f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/b"
    assert error(start, events=events, name="x", start_time=ts(0), end_time=ts(1),
                 bus_arn=f"arn:aws:events:{REGION}:{ACCOUNT}:archive/arch") == (
        "ValidationException",
        "Parameter Destination.Arn is not valid. Reason: Must contain an event bus ARN.")
    assert error(start, events=events, name="x", start_time=ts(0), end_time=ts(1),
                 bus_arn=f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/nope") == (
        "ResourceNotFoundException", "Event bus nope does not exist.")
    assert error(start, events=events, name="x", start_time=ts(0), end_time=ts(1),
                 archive="missing") == (
        "ValidationException",
        "Parameter EventSourceArn is not valid. Reason: Archive missing does not exist.")
    assert error(start, events=events, name="x", start_time=ts(0), end_time=ts(1),
                 bus_arn=b_arn) == (
        "ValidationException",
        "Parameter Destination.Arn is not valid. Reason: Cross event bus replay is not permitted.")
    end_msg = ("ValidationException",
               "Parameter EventEndTime is not valid. Reason: EventStartTime must be before "
               "EventEndTime.")
    assert error(start, events=events, name="x", start_time=ts(2), end_time=ts(1)) == end_msg
    assert error(start, events=events, name="x", start_time=ts(1), end_time=ts(1)) == end_msg
    code, msg = error(start, events=events, name="a b", start_time=ts(0), end_time=ts(1))
    assert code == "ValidationException" and "at 'replayName'" in msg

    start(events, "x", ts(0), ts(1))
    assert error(start, events=events, name="x", start_time=ts(0), end_time=ts(1)) == (
        "ResourceAlreadyExistsException", "Replay x already exists.")
    assert error(events.describe_replay, ReplayName="nope") == (
        "ResourceNotFoundException", "Replay nope does not exist.")
    assert error(events.list_replays, NamePrefix="x", State="RUNNING") == (
        "ValidationException",
        "At most one filter is allowed for ListReplays. Use either : State, EventSourceArn, "
        "or NamePrefix.")
    assert error(events.list_replays, State="invalid") == (
        "ValidationException",
        "1 validation error detected: Value 'invalid' at 'state' failed to satisfy constraint: "
        "Member must satisfy enum value set: "
        "[CANCELLED, CANCELLING, COMPLETED, FAILED, RUNNING, STARTING]")


def test_list_replays_filters_and_pages(aws):
    events, _ = aws
    events.create_archive(ArchiveName="arch", EventSourceArn=BUS_ARN)
    events.create_archive(ArchiveName="other", EventSourceArn=BUS_ARN)
    for i in range(4):
        start(events, f"r{i}", ts(0), ts(1))
    start(events, "x", ts(0), ts(1), archive="other")
    for name in ["r0", "r1", "r2", "r3", "x"]:
        wait_state(events, name, {"COMPLETED"})
    names = lambda **kw: [r["ReplayName"] for r in events.list_replays(**kw)["Replays"]]
    assert names() == ["r0", "r1", "r2", "r3", "x"]
    assert names(NamePrefix="r") == ["r0", "r1", "r2", "r3"]
    assert names(EventSourceArn=f"arn:aws:events:{REGION}:{ACCOUNT}:archive/other") == ["x"]
    assert names(State="COMPLETED") == ["r0", "r1", "r2", "r3", "x"]
    assert names(State="RUNNING") == []
    seen, token = [], None
    while True:
        kw = {"NextToken": token} if token else {}
        r = events.list_replays(Limit=2, **kw)
        assert len(r["Replays"]) <= 2
        seen += [x["ReplayName"] for x in r["Replays"]]
        token = r.get("NextToken")
        if not token:
            break
    assert seen == ["r0", "r1", "r2", "r3", "x"]


def test_archives_and_replays_survive_a_restart(fresh_dir):
    server = Eddy(fresh_dir).start()
    try:
        events, sqs = server.client("events"), server.client("sqs")
        events.create_archive(ArchiveName="arch", EventSourceArn=BUS_ARN)
        for n in (1, 2, 3):
            put(events, n, when=ts(n))
        url, _ = rule_to_queue(events, sqs, "r", "q")
        start(events, "rp", ts(0), ts(30))
        # Killed while the replay is still STARTING.
        server.stop(sig_kill=True)
        server = Eddy(fresh_dir).start()
        events, sqs = server.client("events"), server.client("sqs")
        assert events.describe_archive(ArchiveName="arch")["EventCount"] == 3
        d = wait_state(events, "rp", {"COMPLETED", "FAILED"})
        assert d["State"] == "COMPLETED", d
        got = drain(sqs, url, 3)
        assert [b["detail"]["n"] for b in got] == [1, 2, 3]
        assert all(b["replay-name"] == "rp" for b in got)
    finally:
        server.stop()

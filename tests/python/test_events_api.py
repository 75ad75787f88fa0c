"""EventBridge API through boto3 against the real eddy binary: every operation, its errors,
pagination, and that bad input changes nothing."""

import http.client
import json
import os
import re
import subprocess
import urllib.parse
import uuid

import pytest
from botocore.exceptions import ClientError

from conftest import Eddy, eddy_bin

ACCOUNT = "123456789012"
REGION = "us-east-1"


def err(excinfo):
    e = excinfo.value.response["Error"]
    return e["Code"], e["Message"]


# --- PutEvents -------------------------------------------------------------------------------

def test_put_events_returns_ids_in_request_order_with_partial_failures(events):
    resp = events.put_events(Entries=[
        {"Source": "app", "DetailType": "t", "Detail": json.dumps({"a": 1})},
        {"Source": "app", "DetailType": "t"},
        {"Source": "app", "DetailType": "t", "Detail": "[1]"},
        {"DetailType": "t", "Detail": "{}"},
        {"Source": "app", "DetailType": "t", "Detail": "{}", "EventBusName": "nope"},
        {"Source": "app", "DetailType": "t", "Detail": "{}", "Resources": ["arn:aws:s3:::b"]},
    ])
    assert resp["FailedEntryCount"] == 4
    e = resp["Entries"]
    assert uuid.UUID(e[0]["EventId"])
    assert "ErrorCode" not in e[0]
    assert e[1] == {"ErrorCode": "InvalidArgument",
                    "ErrorMessage": "Parameter Detail is not valid. Reason: Detail is a required argument."}
    assert e[2] == {"ErrorCode": "MalformedDetail", "ErrorMessage": "Detail is malformed."}
    assert e[3] == {"ErrorCode": "InvalidArgument",
                    "ErrorMessage": "Parameter Source is not valid. Reason: Source is a required argument."}
    assert e[4]["ErrorCode"] == "ResourceNotFoundException"
    assert "EventId" not in e[4]
    assert uuid.UUID(e[5]["EventId"])


def test_put_events_rejects_more_than_ten_entries(events):
    entries = [{"Source": "a", "DetailType": "b", "Detail": "{}"}] * 11
    with pytest.raises(ClientError) as ex:
        events.put_events(Entries=entries)
    assert err(ex) == ("ValidationException",
                       "1 validation error detected: Value '[PutEventsRequestEntry]' at 'entries' "
                       "failed to satisfy constraint: Member must have length less than or equal to 10")
    assert ex.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_put_events_enforces_the_total_size_limit(eddy, events):
    before = eddy.metric("eddy_events_put_total", bus="default")
    big = json.dumps({"x": "a" * (256 * 1024)})
    with pytest.raises(ClientError) as ex:
        events.put_events(Entries=[{"Source": "a", "DetailType": "b", "Detail": big}])
    assert err(ex) == ("ValidationException",
                       "Total size of the entries in the request is over the limit.")
    assert eddy.metric("eddy_events_put_total", bus="default") == before


def test_put_events_to_a_custom_bus_by_name_and_arn(events):
    arn = events.create_event_bus(Name="orders")["EventBusArn"]
    r = events.put_events(Entries=[
        {"Source": "a", "DetailType": "b", "Detail": "{}", "EventBusName": "orders"},
        {"Source": "a", "DetailType": "b", "Detail": "{}", "EventBusName": arn},
    ])
    assert r["FailedEntryCount"] == 0


def test_matching_rules_are_counted(eddy, events):
    events.put_rule(Name="big", EventPattern=json.dumps(
        {"source": ["shop"], "detail": {"amount": [{"numeric": [">", 100]}]}}))
    events.put_rule(Name="off", EventPattern=json.dumps({"source": ["shop"]}), State="DISABLED")
    events.put_events(Entries=[
        {"Source": "shop", "DetailType": "o", "Detail": json.dumps({"amount": 150})},
        {"Source": "shop", "DetailType": "o", "Detail": json.dumps({"amount": 50})},
        {"Source": "other", "DetailType": "o", "Detail": json.dumps({"amount": 500})},
    ])
    assert eddy.metric("eddy_rule_matched_events_total", rule="big") == 1
    assert eddy.metric("eddy_rule_matched_events_total", rule="off") == 0


# --- TestEventPattern ------------------------------------------------------------------------

EVENT = {
    "id": "e1", "account": ACCOUNT, "source": "com.shop", "time": "2026-01-01T00:00:00Z",
    "region": REGION, "resources": [], "detail-type": "Order",
    "detail": {"amount": 250, "state": "NEW"},
}


def test_test_event_pattern_matches_and_rejects(events):
    yes = events.test_event_pattern(
        EventPattern=json.dumps({"source": ["com.shop"], "detail": {"state": ["NEW"]}}),
        Event=json.dumps(EVENT))
    assert yes["Result"] is True
    no = events.test_event_pattern(
        EventPattern=json.dumps({"source": ["com.other"]}), Event=json.dumps(EVENT))
    assert no["Result"] is False


def test_test_event_pattern_reports_invalid_patterns(events):
    with pytest.raises(ClientError) as ex:
        events.test_event_pattern(EventPattern="{not json", Event=json.dumps(EVENT))
    code, msg = err(ex)
    assert code == "InvalidEventPatternException"
    assert msg.startswith("Event pattern is not valid. Reason: ")


def test_test_event_pattern_requires_a_full_event(events):
    with pytest.raises(ClientError) as ex:
        events.test_event_pattern(EventPattern=json.dumps({"source": ["a"]}),
                                  Event=json.dumps({"source": "a"}))
    assert err(ex)[0] == "ValidationException"


# --- Rules -----------------------------------------------------------------------------------

def test_rule_lifecycle(events):
    pattern = json.dumps({"source": ["a"]})
    arn = events.put_rule(Name="r1", EventPattern=pattern, Description="d")["RuleArn"]
    assert arn == f"arn:aws:events:{REGION}:{ACCOUNT}:rule/r1"
    d = events.describe_rule(Name="r1")
    assert d["Name"] == "r1" and d["Arn"] == arn and d["EventPattern"] == pattern
    assert d["State"] == "ENABLED" and d["Description"] == "d"
    assert d["EventBusName"] == "default" and d["CreatedBy"] == ACCOUNT
    events.disable_rule(Name="r1")
    assert events.describe_rule(Name="r1")["State"] == "DISABLED"
    events.enable_rule(Name="r1")
    assert events.describe_rule(Name="r1")["State"] == "ENABLED"
    # PutRule on an existing rule updates it in place.
    assert events.put_rule(Name="r1", EventPattern=pattern, Description="e")["RuleArn"] == arn
    assert events.describe_rule(Name="r1")["Description"] == "e"
    events.delete_rule(Name="r1")
    with pytest.raises(ClientError) as ex:
        events.describe_rule(Name="r1")
    assert err(ex) == ("ResourceNotFoundException", "Rule r1 does not exist.")
    # Deleting what is not there succeeds, as in AWS.
    events.delete_rule(Name="r1")


def test_rule_on_custom_bus_has_bus_in_arn(events):
    events.create_event_bus(Name="orders")
    arn = events.put_rule(Name="r", EventBusName="orders",
                          EventPattern=json.dumps({"source": ["a"]}))["RuleArn"]
    assert arn == f"arn:aws:events:{REGION}:{ACCOUNT}:rule/orders/r"
    assert events.list_rules()["Rules"] == []
    assert [r["Name"] for r in events.list_rules(EventBusName="orders")["Rules"]] == ["r"]


def test_rule_errors(events):
    with pytest.raises(ClientError) as ex:
        events.enable_rule(Name="missing")
    assert err(ex) == ("ResourceNotFoundException", "Rule missing does not exist.")
    with pytest.raises(ClientError) as ex:
        events.put_rule(Name="bad name", EventPattern="{}")
    assert err(ex) == ("ValidationException",
                       "1 validation error detected: Value 'bad name' at 'name' failed to satisfy "
                       "constraint: Member must satisfy regular expression pattern: [\\.\\-_A-Za-z0-9]+")
    with pytest.raises(ClientError) as ex:
        events.put_rule(Name="r", EventPattern=json.dumps({"source": "a"}))
    assert err(ex)[0] == "InvalidEventPatternException"
    with pytest.raises(ClientError) as ex:
        events.put_rule(Name="r")
    assert err(ex)[0] == "ValidationException"
    events.create_event_bus(Name="b")
    with pytest.raises(ClientError) as ex:
        events.put_rule(Name="r", EventBusName="b", ScheduleExpression="rate(5 minutes)")
    assert err(ex) == ("ValidationException",
                       "ScheduleExpression is supported only on the default event bus.")
    with pytest.raises(ClientError) as ex:
        events.put_rule(Name="r", ScheduleExpression="rate(5 minute)")
    assert err(ex) == ("ValidationException", "Parameter ScheduleExpression is not valid.")
    with pytest.raises(ClientError) as ex:
        events.put_rule(Name="r", EventBusName="nope", EventPattern=json.dumps({"source": ["a"]}))
    assert err(ex) == ("ResourceNotFoundException", "Event bus nope does not exist.")
    with pytest.raises(ClientError) as ex:
        events.put_rule(Name="r", EventPattern=json.dumps({"source": ["a"]}), State="ON")
    assert err(ex)[0] == "ValidationException"
    # None of that stored anything.
    assert events.list_rules()["Rules"] == []
    assert events.list_rules(EventBusName="b")["Rules"] == []


def test_scheduled_rule_is_stored(events):
    events.put_rule(Name="tick", ScheduleExpression="rate(1 minute)")
    assert events.describe_rule(Name="tick")["ScheduleExpression"] == "rate(1 minute)"


def test_list_rules_prefix_and_pagination(eddy, events):
    for i in range(7):
        events.put_rule(Name=f"app-{i}", EventPattern=json.dumps({"source": ["a"]}))
    events.put_rule(Name="other", EventPattern=json.dumps({"source": ["a"]}))
    names, token = [], None
    while True:
        kw = {"NamePrefix": "app-", "Limit": 3}
        if token:
            kw["NextToken"] = token
        page = events.list_rules(**kw)
        assert len(page["Rules"]) <= 3
        names += [r["Name"] for r in page["Rules"]]
        token = page.get("NextToken")
        if not token:
            break
    assert names == [f"app-{i}" for i in range(7)]
    paginator = events.get_paginator("list_rules")
    all_names = [r["Name"] for p in paginator.paginate(PaginationConfig={"PageSize": 2})
                 for r in p["Rules"]]
    assert all_names == [f"app-{i}" for i in range(7)] + ["other"]
    # boto3 checks Limit's minimum itself, so send this one raw.
    status, _, body = eddy.aws_call("AWSEvents.ListRules", {"Limit": 0})
    assert status == 400 and body["__type"] == "ValidationException"
    assert body["message"].endswith("Member must have value greater than or equal to 1")
    with pytest.raises(ClientError) as ex:
        events.list_rules(NextToken="garbage")
    assert err(ex)[0] == "ValidationException"


# --- Targets ---------------------------------------------------------------------------------

QUEUE = f"arn:aws:sqs:{REGION}:{ACCOUNT}:q"


def test_targets_lifecycle(events):
    events.put_rule(Name="r", EventPattern=json.dumps({"source": ["a"]}))
    r = events.put_targets(Rule="r", Targets=[
        {"Id": "t1", "Arn": QUEUE, "Input": json.dumps({"k": 1})},
        {"Id": "t2", "Arn": QUEUE, "InputPath": "$.detail",
         "RetryPolicy": {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 120},
         "DeadLetterConfig": {"Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:dlq"}},
        {"Id": "t3", "Arn": QUEUE, "InputTransformer": {
            "InputPathsMap": {"s": "$.source"}, "InputTemplate": '{"src": <s>}'}},
    ])
    assert r == {"FailedEntryCount": 0, "FailedEntries": [], "ResponseMetadata": r["ResponseMetadata"]}
    targets = events.list_targets_by_rule(Rule="r")["Targets"]
    assert [t["Id"] for t in targets] == ["t1", "t2", "t3"]
    assert targets[1]["RetryPolicy"] == {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 120}
    assert targets[2]["InputTransformer"]["InputTemplate"] == '{"src": <s>}'
    # Same id replaces.
    events.put_targets(Rule="r", Targets=[{"Id": "t1", "Arn": QUEUE, "Input": "{}"}])
    t1 = [t for t in events.list_targets_by_rule(Rule="r")["Targets"] if t["Id"] == "t1"][0]
    assert t1["Input"] == "{}"
    with pytest.raises(ClientError) as ex:
        events.delete_rule(Name="r")
    assert err(ex) == ("ValidationException", "Rule can't be deleted since it has targets.")
    r = events.remove_targets(Rule="r", Ids=["t1", "t2", "nope"])
    assert r["FailedEntryCount"] == 1 and r["FailedEntries"][0]["TargetId"] == "nope"
    events.remove_targets(Rule="r", Ids=["t3"])
    assert events.list_targets_by_rule(Rule="r")["Targets"] == []
    events.delete_rule(Name="r")


def test_target_errors_change_nothing(events):
    events.put_rule(Name="r", EventPattern=json.dumps({"source": ["a"]}))
    with pytest.raises(ClientError) as ex:
        events.put_targets(Rule="r", Targets=[{"Id": "t", "Arn": "not-an-arn"}])
    assert err(ex) == ("ValidationException",
                       "Parameter not-an-arn is not valid. Reason: Provided Arn is not in correct format.")
    with pytest.raises(ClientError) as ex:
        events.put_targets(Rule="r", Targets=[{"Id": "t", "Arn": QUEUE, "Input": "{}", "InputPath": "$"}])
    assert err(ex)[0] == "ValidationException"
    with pytest.raises(ClientError) as ex:
        events.put_targets(Rule="r", Targets=[
            {"Id": "t", "Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:q.fifo"}])
    assert err(ex) == ("ValidationException", "Parameter(s) SqsParameters must be specified for target: t.")
    with pytest.raises(ClientError) as ex:
        events.put_targets(Rule="r", Targets=[
            {"Id": "t", "Arn": QUEUE, "RetryPolicy": {"MaximumRetryAttempts": 186}}])
    assert err(ex) == ("ValidationException",
                       "1 validation error detected: Value '186' at 'targets.1.member.retryPolicy."
                       "maximumRetryAttempts' failed to satisfy constraint: Member must have value "
                       "less than or equal to 185")
    with pytest.raises(ClientError) as ex:
        events.put_targets(Rule="missing", Targets=[{"Id": "t", "Arn": QUEUE}])
    assert err(ex) == ("ResourceNotFoundException", "Rule missing does not exist on EventBus default.")
    with pytest.raises(ClientError) as ex:
        events.put_targets(Rule="r", Targets=[{"Id": f"t{i}", "Arn": QUEUE} for i in range(6)])
    assert err(ex)[0] == "LimitExceededException"
    assert events.list_targets_by_rule(Rule="r")["Targets"] == []


def test_list_rule_names_by_target(events):
    for name in ["a", "b", "c"]:
        events.put_rule(Name=name, EventPattern=json.dumps({"source": ["x"]}))
        events.put_targets(Rule=name, Targets=[{"Id": "1", "Arn": QUEUE}, {"Id": "2", "Arn": QUEUE}])
    events.put_rule(Name="d", EventPattern=json.dumps({"source": ["x"]}))
    assert events.list_rule_names_by_target(TargetArn=QUEUE)["RuleNames"] == ["a", "b", "c"]
    page = events.list_rule_names_by_target(TargetArn=QUEUE, Limit=2)
    assert page["RuleNames"] == ["a", "b"]
    rest = events.list_rule_names_by_target(TargetArn=QUEUE, NextToken=page["NextToken"])
    assert rest["RuleNames"] == ["c"] and "NextToken" not in rest


def test_list_targets_pagination(events):
    events.put_rule(Name="r", EventPattern=json.dumps({"source": ["x"]}))
    events.put_targets(Rule="r", Targets=[{"Id": f"t{i}", "Arn": QUEUE} for i in range(5)])
    page = events.list_targets_by_rule(Rule="r", Limit=2)
    ids = [t["Id"] for t in page["Targets"]]
    while page.get("NextToken"):
        page = events.list_targets_by_rule(Rule="r", Limit=2, NextToken=page["NextToken"])
        ids += [t["Id"] for t in page["Targets"]]
    assert ids == [f"t{i}" for i in range(5)]


# --- Buses -----------------------------------------------------------------------------------

def test_bus_lifecycle(events):
    r = events.create_event_bus(Name="orders", Description="the orders",
                                Tags=[{"Key": "team", "Value": "shop"}])
    arn = f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/orders"
    assert r["EventBusArn"] == arn and r["Description"] == "the orders"
    d = events.describe_event_bus(Name="orders")
    assert d["Name"] == "orders" and d["Arn"] == arn and "CreationTime" in d
    assert events.describe_event_bus(Name=arn)["Name"] == "orders"
    assert events.describe_event_bus()["Name"] == "default"
    u = events.update_event_bus(Name="orders", Description="changed")
    assert u["Description"] == "changed"
    names = [b["Name"] for b in events.list_event_buses()["EventBuses"]]
    assert names == ["default", "orders"]
    assert [b["Name"] for b in events.list_event_buses(NamePrefix="ord")["EventBuses"]] == ["orders"]
    assert events.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "team", "Value": "shop"}]
    events.put_rule(Name="r", EventBusName="orders", EventPattern=json.dumps({"source": ["a"]}))
    events.delete_event_bus(Name="orders")
    with pytest.raises(ClientError) as ex:
        events.describe_event_bus(Name="orders")
    assert err(ex) == ("ResourceNotFoundException", "Event bus orders does not exist.")
    # Its rules went with it: a new bus of the same name starts empty.
    events.create_event_bus(Name="orders")
    assert events.list_rules(EventBusName="orders")["Rules"] == []


def test_bus_errors(events):
    events.create_event_bus(Name="b")
    with pytest.raises(ClientError) as ex:
        events.create_event_bus(Name="b")
    assert err(ex) == ("ResourceAlreadyExistsException", "Event bus b already exists.")
    with pytest.raises(ClientError) as ex:
        events.create_event_bus(Name="default")
    assert err(ex)[0] == "ResourceAlreadyExistsException"
    with pytest.raises(ClientError) as ex:
        events.delete_event_bus(Name="default")
    assert err(ex) == ("ValidationException", "Cannot delete event bus default.")
    with pytest.raises(ClientError) as ex:
        events.create_event_bus(Name="bad name!")
    assert err(ex)[0] == "ValidationException"
    with pytest.raises(ClientError) as ex:
        events.update_event_bus(Name="nope", Description="x")
    assert err(ex) == ("ResourceNotFoundException", "Event bus nope does not exist.")


def test_list_event_buses_pagination(events):
    for i in range(5):
        events.create_event_bus(Name=f"bus-{i}")
    seen, token = [], None
    while True:
        kw = {"Limit": 2}
        if token:
            kw["NextToken"] = token
        page = events.list_event_buses(**kw)
        seen += [b["Name"] for b in page["EventBuses"]]
        token = page.get("NextToken")
        if not token:
            break
    assert seen == [f"bus-{i}" for i in range(5)] + ["default"]


# --- Tags ------------------------------------------------------------------------------------

def test_tags_on_rules(eddy, events):
    arn = events.put_rule(Name="r", EventPattern=json.dumps({"source": ["a"]}),
                          Tags=[{"Key": "a", "Value": "1"}])["RuleArn"]
    events.tag_resource(ResourceARN=arn, Tags=[{"Key": "b", "Value": "2"}, {"Key": "a", "Value": "3"}])
    tags = events.list_tags_for_resource(ResourceARN=arn)["Tags"]
    assert sorted((t["Key"], t["Value"]) for t in tags) == [("a", "3"), ("b", "2")]
    events.untag_resource(ResourceARN=arn, TagKeys=["a"])
    assert events.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "b", "Value": "2"}]
    missing = f"arn:aws:events:{REGION}:{ACCOUNT}:rule/missing"
    with pytest.raises(ClientError) as ex:
        events.tag_resource(ResourceARN=missing, Tags=[{"Key": "a", "Value": "1"}])
    assert err(ex) == ("ResourceNotFoundException", "Rule missing does not exist on EventBus default.")
    status, _, body = eddy.aws_call("AWSEvents.TagResource",
                                    {"ResourceARN": arn, "Tags": [{"Key": "", "Value": "1"}]})
    assert status == 400 and body["__type"] == "ValidationException"


# --- Permissions -----------------------------------------------------------------------------

def test_permissions(events):
    events.put_permission(Action="events:PutEvents", Principal="111111111111", StatementId="one")
    events.put_permission(Action="events:PutEvents", Principal="*", StatementId="two")
    policy = json.loads(events.describe_event_bus()["Policy"])
    sids = [s["Sid"] for s in policy["Statement"]]
    assert sids == ["one", "two"]
    assert policy["Statement"][0]["Principal"] == {"AWS": "arn:aws:iam::111111111111:root"}
    assert policy["Statement"][0]["Resource"] == f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/default"
    events.remove_permission(StatementId="one")
    policy = json.loads(events.describe_event_bus()["Policy"])
    assert [s["Sid"] for s in policy["Statement"]] == ["two"]
    with pytest.raises(ClientError) as ex:
        events.remove_permission(StatementId="one")
    assert err(ex) == ("ResourceNotFoundException", "Statement with the provided id does not exist.")
    events.remove_permission(RemoveAllPermissions=True)
    assert "Policy" not in events.describe_event_bus()
    with pytest.raises(ClientError) as ex:
        events.put_permission(Action="sqs:Send", Principal="111111111111", StatementId="x")
    assert err(ex)[0] == "ValidationException"


# --- Regions ---------------------------------------------------------------------------------

def test_regions_are_separate(eddy, events):
    west = eddy.client("events", region="us-west-2")
    arn = west.put_rule(Name="r", EventPattern=json.dumps({"source": ["a"]}))["RuleArn"]
    assert arn == f"arn:aws:events:us-west-2:{ACCOUNT}:rule/r"
    assert events.list_rules()["Rules"] == []
    assert [r["Name"] for r in west.list_rules()["Rules"]] == ["r"]


@pytest.mark.parametrize("expr", ["rate(1 hours)", "rate(0 minutes)", "cron(0 12 * * ?)",
                                  "cron(0 12 * * * *)", "cron(*/60 * * * ? *)",
                                  "at(2030-01-01T00:00:00)", "every minute"])
def test_invalid_schedule_expressions_are_rejected(events, expr):
    with pytest.raises(ClientError) as ex:
        events.put_rule(Name="r", ScheduleExpression=expr)
    assert err(ex) == ("ValidationException", "Parameter ScheduleExpression is not valid.")


@pytest.mark.parametrize("expr", ["rate(5 minutes)", "cron(0 12 * * ? *)", "cron(15 10 ? * 6L 2030-2031)",
                                  "cron(0/15 * ? * MON-FRI *)"])
def test_valid_schedule_expressions_are_accepted(events, expr):
    events.put_rule(Name="r", ScheduleExpression=expr)
    assert events.describe_rule(Name="r")["ScheduleExpression"] == expr


# --- Hostile input: one clear answer each (issue 14) -----------------------------------------

# Raw HTTP requests carry what AWS SDKs send (the endpoint requires an AWS Authorization header).
RAW_EVENTS_HEADERS = {
    "X-Amz-Target": "AWSEvents.PutEvents",
    "Content-Type": "application/x-amz-json-1.1",
    "Authorization": "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/events/aws4_request, "
                     "SignedHeaders=host, Signature=0",
}

TOO_DEEP = {"ErrorCode": "MalformedDetail",
            "ErrorMessage": "Detail is malformed. Reason: it is nested deeper than 100 levels."}


def nested_arrays(depth):
    return "[" * depth + "1" + "]" * depth


def test_put_events_refuses_a_detail_nested_too_deeply_per_entry(eddy, events):
    # A rule on a path inside the deep value, so matching walks into it: this used to answer 500
    # for the whole batch.
    events.put_rule(Name="deep", EventPattern=json.dumps({"detail": {"a": [{"exists": True}]}}))
    before = eddy.metric("eddy_events_put_total", bus="default")
    matched = eddy.metric("eddy_rule_matched_events_total", bus="default", rule="deep")
    resp = events.put_events(Entries=[
        {"Source": "app", "DetailType": "t", "Detail": json.dumps({"a": 1})},
        {"Source": "app", "DetailType": "t", "Detail": '{"a":%s}' % nested_arrays(600)},
        # 100 levels (the Detail object and 99 arrays) is the limit.
        {"Source": "app", "DetailType": "t", "Detail": '{"a":%s}' % nested_arrays(99)},
        {"Source": "app", "DetailType": "t", "Detail": '{"a":%s}' % nested_arrays(100)},
        {"Source": "app", "DetailType": "t", "Detail": '{"a":%s}' % nested_arrays(100000)},
    ])
    assert resp["FailedEntryCount"] == 3
    e = resp["Entries"]
    assert uuid.UUID(e[0]["EventId"]) and uuid.UUID(e[2]["EventId"])
    assert e[1] == e[3] == e[4] == TOO_DEEP
    assert eddy.metric("eddy_events_put_total", bus="default") == before + 2
    assert eddy.metric("eddy_rule_matched_events_total", bus="default", rule="deep") == matched + 2


def test_lone_surrogates_are_refused_wherever_they_are(eddy, events):
    # In the request itself (boto3 writes "\ud800" as that escape): no Rust string holds it, so the
    # request is not one eddy can read.
    with pytest.raises(ClientError) as ex:
        events.put_events(Entries=[{"Source": "a\ud800", "DetailType": "t", "Detail": "{}"}])
    assert err(ex)[0] == "SerializationException"
    assert ex.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    # Inside the Detail text: that entry is refused, the others are put.
    resp = events.put_events(Entries=[
        {"Source": "app", "DetailType": "t", "Detail": '{"a":"\\ud800"}'},
        {"Source": "app", "DetailType": "t", "Detail": '{"a":"x\\udfffy"}'},
        {"Source": "app", "DetailType": "t", "Detail": '{"a":"\\ud83d\\ude00"}'},
    ])
    assert resp["FailedEntryCount"] == 2
    lone = {"ErrorCode": "MalformedDetail",
            "ErrorMessage": "Detail is malformed. Reason: it contains a \\u escape of a lone "
                            "UTF-16 surrogate."}
    assert resp["Entries"][0] == resp["Entries"][1] == lone
    assert uuid.UUID(resp["Entries"][2]["EventId"])
    # In a pattern: refused, not decoded to U+FFFD.
    with pytest.raises(ClientError) as ex:
        events.put_rule(Name="r", EventPattern='{"source":["\\ud800"]}')
    assert err(ex) == ("InvalidEventPatternException",
                       "Event pattern is not valid. Reason: Invalid JSON: a \\u escape names a "
                       "lone UTF-16 surrogate")
    # In a target's constant Input.
    events.put_rule(Name="r", EventPattern=json.dumps({"source": ["app"]}))
    with pytest.raises(ClientError) as ex:
        events.put_targets(Rule="r", Targets=[{
            "Id": "t", "Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:q", "Input": '{"a":"\\udc00"}'}])
    assert err(ex) == ("ValidationException", "Input for target t is not valid JSON text.")


def test_put_events_refuses_a_source_with_control_characters(events):
    resp = events.put_events(Entries=[
        {"Source": "my\x00app", "DetailType": "t", "Detail": "{}"},
        {"Source": "my\napp", "DetailType": "t", "Detail": "{}"},
        {"Source": "my\x7fapp", "DetailType": "t", "Detail": "{}"},
        {"Source": "my.app", "DetailType": "t", "Detail": "{}"},
    ])
    assert resp["FailedEntryCount"] == 3
    bad = {"ErrorCode": "InvalidArgument",
           "ErrorMessage": "Parameter Source is not valid. Reason: Source must not contain control "
                           "characters."}
    assert resp["Entries"][:3] == [bad, bad, bad]
    assert uuid.UUID(resp["Entries"][3]["EventId"])


def test_test_event_pattern_refuses_events_nested_too_deeply(events):
    def event(detail):
        return ('{"id":"1","account":"1","source":"a","time":"2026-01-01T00:00:00Z","region":"r",'
                '"resources":[],"detail-type":"d","detail":%s}' % detail)
    ok = events.test_event_pattern(EventPattern=json.dumps({"source": ["a"]}),
                                   Event=event('{"a":%s}' % nested_arrays(99)))
    assert ok["Result"] is True
    for depth in (100, 110, 5000):
        with pytest.raises(ClientError) as ex:
            events.test_event_pattern(EventPattern=json.dumps({"source": ["a"]}),
                                      Event=event('{"a":%s}' % nested_arrays(depth)))
        assert err(ex) == ("ValidationException", "Parameter Event is not valid. Reason: Event is "
                                                  "nested deeper than 101 levels.")


def test_put_events_answers_the_whole_batch_over_raw_http(eddy, events):
    """The same per-entry answer for a client that is not boto3; the batch is never a 500."""
    body = json.dumps({"Entries": [
        {"Source": "app", "DetailType": "t", "Detail": '{"a":%s}' % nested_arrays(2000)},
        {"Source": "app", "DetailType": "t", "Detail": "{}"},
    ]}).encode()
    status, _, raw = eddy.post("/", body, RAW_EVENTS_HEADERS)
    assert status == 200, raw
    resp = json.loads(raw)
    assert resp["FailedEntryCount"] == 1
    assert resp["Entries"][0] == TOO_DEEP


def budget_detail(n):
    """A Detail on which the `combinatorial` rule's array-consistency search needs about n⁴ steps:
    `a.x` has n candidates, every element of `a` but the last also holds the forbidden `a.z`,
    and `b`, `c`, `d` multiply the choices by n³ before each candidate is refused."""
    elems = [{"x": 1, "z": 1}] * (n - 1) + [{"x": 1}]
    ones = [1] * n
    return json.dumps({"a": elems, "b": ones, "c": ones, "d": ones})


COMBINATORIAL = {"detail": {"a": {"x": [1], "z": [{"exists": False}]},
                            "b": [1], "c": [1], "d": [1]}}


def test_a_search_that_gives_up_is_counted_logged_once_and_does_not_match(fresh_dir):
    """A full search would match the large event (the last element of `a` has no `z`), but it
    needs millions of steps: the matcher gives up, the rule does not match that event, and eddy
    counts it per rule in /metrics and warns once per rule."""
    log_path = os.path.join(fresh_dir, "stderr.log")
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [eddy_bin(), "serve", "--dev", "--data-dir", os.path.join(fresh_dir, "data"),
             "--aws-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0"],
            stdout=subprocess.PIPE, stderr=log, text=True)
        try:
            line = proc.stdout.readline()
            m = re.search(r"aws=(http://\S+) http=(http://\S+)", line)
            assert m, line
            server = Eddy(fresh_dir)
            server.proc, server.aws, server.http = proc, m.group(1), m.group(2)
            ev = server.client("events")
            ev.put_rule(Name="combinatorial", EventPattern=json.dumps(COMBINATORIAL))
            ev.put_rule(Name="plain", EventPattern=json.dumps({"source": ["app"]}))
            exhausted = ("eddy_pattern_search_budget_exhausted_total",
                         {"bus": "default", "rule": "combinatorial"})
            matched = ("eddy_rule_matched_events_total", {"bus": "default", "rule": "combinatorial"})
            # Small enough to decide exactly: it matches, nothing is counted.
            resp = ev.put_events(Entries=[{"Source": "app", "DetailType": "t",
                                           "Detail": budget_detail(8)}])
            assert resp["FailedEntryCount"] == 0
            assert server.metric(matched[0], **matched[1]) == 1
            assert server.metric(exhausted[0], **exhausted[1]) == 0
            # Too large: accepted, not matched by `combinatorial`, counted each time.
            for _ in range(3):
                resp = ev.put_events(Entries=[{"Source": "app", "DetailType": "t",
                                               "Detail": budget_detail(40)}])
                assert resp["FailedEntryCount"] == 0
            assert server.metric(exhausted[0], **exhausted[1]) == 3
            assert server.metric(matched[0], **matched[1]) == 1
            assert server.metric("eddy_rule_matched_events_total", bus="default", rule="plain") == 4
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    with open(log_path) as f:
        warnings = [l for l in f if "array-consistency search ran out of steps" in l]
    assert len(warnings) == 1, warnings
    assert "combinatorial" in warnings[0] and "WARN" in warnings[0]


def test_a_bus_route_answers_400_for_a_body_nested_too_deeply(eddy, events):
    """An HTTP route integrated with PutEvents puts the request body as the Detail: a body nested
    past the limit is the client's mistake (400 with the reason), never a 500."""
    apigw = eddy.client("apigatewayv2")
    api_id = apigw.create_api(Name="events", ProtocolType="HTTP")["ApiId"]
    integ = apigw.create_integration(
        ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationSubtype="EventBridge-PutEvents",
        PayloadFormatVersion="1.0",
        RequestParameters={"Source": "shop", "DetailType": "OrderPlaced", "Detail": "$request.body"})
    apigw.create_route(ApiId=api_id, RouteKey="POST /orders",
                       Target=f"integrations/{integ['IntegrationId']}")

    def post(body):
        u = urllib.parse.urlparse(eddy.http)
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=20)
        conn.request("POST", f"/_api/{api_id}/orders", body=body,
                     headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        out = r.status, r.read()
        conn.close()
        return out

    status, body = post(('{"a":%s}' % nested_arrays(99)).encode())
    assert status == 202, body
    status, body = post(('{"a":%s}' % nested_arrays(110)).encode())
    assert status == 400, body
    assert b"Detail is malformed. Reason: it is nested deeper than 100 levels." in body

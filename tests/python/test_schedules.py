"""Schedules end to end: scheduled rules and EventBridge Scheduler schedules fire on eddy's clock,
which `POST /_eddy/clock` moves in --dev mode; ticks survive restarts without firing twice.

Each test runs its own server: the clock only moves forward, so tests must not share one."""

import datetime as dt
import json
import time
from zoneinfo import ZoneInfo

import pytest
from botocore.exceptions import ClientError

from conftest import Eddy

ROLE = "arn:aws:iam::123456789012:role/scheduler"


@pytest.fixture
def server(fresh_dir):
    s = Eddy(fresh_dir).start()
    yield s
    s.stop()


def clock(server):
    status, body = server.get("/_eddy/clock")
    assert status == 200
    return json.loads(body)


def now_ms(server):
    return int(dt.datetime.fromisoformat(clock(server)["now"]).timestamp() * 1000)


def move(server, **body):
    status, _, raw = server.post("/_eddy/clock", json.dumps(body).encode())
    return status, json.loads(raw)


def queue(server, name):
    sqs = server.client("sqs")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return sqs, url, arn


def drain(sqs, url, want, timeout=15):
    """Receives until `want` messages arrived (or the timeout), deleting them."""
    got = []
    deadline = time.time() + timeout
    while len(got) < want and time.time() < deadline:
        r = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                AttributeNames=["SentTimestamp"])
        for m in r.get("Messages", []):
            got.append(m)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return got


def count(sqs, url):
    a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(a["Attributes"]["ApproximateNumberOfMessages"])


def iso(ms):
    return dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_clock_moves_forward_only(server):
    before = now_ms(server)
    status, body = move(server, advance_seconds=3600)
    assert status == 200
    assert now_ms(server) >= before + 3_600_000
    assert dt.datetime.fromisoformat(body["now"]).timestamp() * 1000 >= before + 3_600_000
    status, body = move(server, set="2001-01-01T00:00:00Z")
    assert status == 400 and "backwards" in body["message"]
    status, body = move(server, advance_seconds=-5)
    assert status == 400 and "backwards" in body["message"]
    status, body = move(server, advance_seconds=1, set="2099-01-01T00:00:00Z")
    assert status == 400


def test_cron_in_paris_fires_at_local_noon_across_the_dst_change(server):
    year = dt.datetime.fromisoformat(clock(server)["now"]).year + 1
    assert move(server, set=f"{year}-03-25T00:00:00Z")[0] == 200
    sqs, url, arn = queue(server, "paris")
    sched = server.client("scheduler")
    sched.create_schedule(
        Name="noon", ScheduleExpression="cron(0 12 * * ? *)",
        ScheduleExpressionTimezone="Europe/Paris", FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": arn, "RoleArn": ROLE},
    )
    status, _ = move(server, set=f"{year}-04-02T00:00:00Z")
    assert status == 200
    got = drain(sqs, url, 8)
    times = sorted(json.loads(m["Body"])["time"] for m in got)
    paris = ZoneInfo("Europe/Paris")
    expected = [
        iso(dt.datetime(year, 3, d, 12, tzinfo=paris).timestamp() * 1000) for d in range(25, 32)
    ] + [iso(dt.datetime(year, 4, 1, 12, tzinfo=paris).timestamp() * 1000)]
    assert times == expected
    # Before the change noon in Paris is 11:00Z, after it 10:00Z.
    assert times[0].endswith("T11:00:00Z") and times[-1].endswith("T10:00:00Z")
    body = json.loads(got[0]["Body"])
    assert body["resources"] == ["arn:aws:scheduler:us-east-1:123456789012:schedule/default/noon"]


def test_rate_rule_fires_every_five_minutes_only_to_its_own_targets(server):
    sqs, url, arn = queue(server, "ticks")
    _, other_url, other_arn = queue(server, "others")
    events = server.client("events")
    before = now_ms(server)
    rule_arn = events.put_rule(Name="every5", ScheduleExpression="rate(5 minutes)")["RuleArn"]
    after = now_ms(server)
    events.put_targets(Rule="every5", Targets=[{"Id": "q", "Arn": arn}])
    # A pattern rule for aws.events on the same bus never sees scheduled events.
    events.put_rule(Name="spy", EventPattern=json.dumps({"source": ["aws.events"]}))
    events.put_targets(Rule="spy", Targets=[{"Id": "q", "Arn": other_arn}])
    status, _ = move(server, advance_seconds=30 * 60)
    assert status == 200
    got = drain(sqs, url, 6)
    assert len(got) == 6
    bodies = sorted((json.loads(m["Body"]) for m in got), key=lambda b: b["time"])
    stamps = [dt.datetime.fromisoformat(b["time"]).timestamp() * 1000 for b in bodies]
    assert all(b - a == 300_000 for a, b in zip(stamps, stamps[1:]))
    assert before // 1000 * 1000 + 300_000 <= stamps[0] <= after // 1000 * 1000 + 300_000
    for b in bodies:
        assert b["source"] == "aws.events"
        assert b["detail-type"] == "Scheduled Event"
        assert b["resources"] == [rule_arn]
        assert b["detail"] == {}
    assert drain(sqs, url, 1, timeout=1) == []
    assert count(sqs, other_url) == 0
    # Disabled: no more ticks.
    events.disable_rule(Name="every5")
    move(server, advance_seconds=30 * 60)
    assert drain(sqs, url, 1, timeout=2) == []


def test_one_time_schedule_with_delete_fires_once_and_is_gone(server):
    sqs, url, arn = queue(server, "once")
    sched = server.client("scheduler")
    at = dt.datetime.fromtimestamp(now_ms(server) / 1000 + 120, dt.timezone.utc)
    sched.create_schedule(
        Name="once", ScheduleExpression=f"at({at.strftime('%Y-%m-%dT%H:%M:%S')})",
        FlexibleTimeWindow={"Mode": "OFF"}, ActionAfterCompletion="DELETE",
        Target={"Arn": arn, "RoleArn": ROLE, "Input": "hello once"},
    )
    assert sched.get_schedule(Name="once")["ActionAfterCompletion"] == "DELETE"
    assert drain(sqs, url, 1, timeout=1) == []
    move(server, advance_seconds=300)
    got = drain(sqs, url, 1)
    assert [m["Body"] for m in got] == ["hello once"]
    with pytest.raises(ClientError) as e:
        sched.get_schedule(Name="once")
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    move(server, advance_seconds=3600)
    assert drain(sqs, url, 1, timeout=2) == []


def test_bus_target_gets_a_putevents_entry(server):
    sqs, url, arn = queue(server, "from-bus")
    events = server.client("events")
    events.put_rule(Name="mine", EventPattern=json.dumps({"source": ["my.app"]}))
    events.put_targets(Rule="mine", Targets=[{"Id": "q", "Arn": arn}])
    sched = server.client("scheduler")
    sched.create_schedule(
        Name="to-bus", ScheduleExpression="rate(1 hour)", FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": "arn:aws:events:us-east-1:123456789012:event-bus/default", "RoleArn": ROLE,
                "Input": json.dumps({"job": "nightly"}),
                "EventBridgeParameters": {"Source": "my.app", "DetailType": "Job Due"}},
    )
    got = drain(sqs, url, 1)
    body = json.loads(got[0]["Body"])
    assert body["source"] == "my.app"
    assert body["detail-type"] == "Job Due"
    assert body["detail"] == {"job": "nightly"}


def test_restart_does_not_fire_a_recorded_tick_again(fresh_dir):
    s = Eddy(fresh_dir).start()
    try:
        sqs, url, arn = queue(s, "restart")
        sched = s.client("scheduler")
        # A rate schedule without StartDate fires at once, then every hour.
        sched.create_schedule(
            Name="hourly", ScheduleExpression="rate(1 hour)", FlexibleTimeWindow={"Mode": "OFF"},
            Target={"Arn": arn, "RoleArn": ROLE, "Input": "tick"},
        )
        deadline = time.time() + 10
        while count(sqs, url) < 1 and time.time() < deadline:
            time.sleep(0.05)
        assert count(sqs, url) == 1
    finally:
        s.stop()
    s = Eddy(fresh_dir).start()
    try:
        sqs = s.client("sqs")
        url = sqs.get_queue_url(QueueName="restart")["QueueUrl"]
        time.sleep(1.5)
        assert count(sqs, url) == 1
        assert s.client("scheduler").get_schedule(Name="hourly")["State"] == "ENABLED"
    finally:
        s.stop()


def test_scheduler_api_shapes_and_errors(server):
    sched = server.client("scheduler")
    target = {"Arn": "arn:aws:sqs:us-east-1:123456789012:q", "RoleArn": ROLE}
    arn = sched.create_schedule(Name="a", ScheduleExpression="rate(5 minutes)",
                                FlexibleTimeWindow={"Mode": "OFF"}, Target=target)["ScheduleArn"]
    assert arn == "arn:aws:scheduler:us-east-1:123456789012:schedule/default/a"
    with pytest.raises(ClientError) as e:
        sched.create_schedule(Name="a", ScheduleExpression="rate(5 minutes)",
                              FlexibleTimeWindow={"Mode": "OFF"}, Target=target)
    assert e.value.response["Error"]["Code"] == "ConflictException"
    assert e.value.response["Error"]["Message"] == "Schedule a already exists."
    with pytest.raises(ClientError) as e:
        sched.create_schedule(Name="b", ScheduleExpression="rate(5 minute)",
                              FlexibleTimeWindow={"Mode": "OFF"}, Target=target)
    assert e.value.response["Error"]["Code"] == "ValidationException"
    assert e.value.response["Error"]["Message"] == "Invalid Schedule Expression rate(5 minute)."
    with pytest.raises(ClientError) as e:
        sched.get_schedule(Name="nope")
    assert e.value.response["Error"]["Message"] == "Schedule nope does not exist."
    with pytest.raises(ClientError) as e:
        sched.create_schedule(Name="c", GroupName="nogroup", ScheduleExpression="rate(5 minutes)",
                              FlexibleTimeWindow={"Mode": "OFF"}, Target=target)
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert e.value.response["Error"]["Message"] == "Schedule group nogroup does not exist."

    g = sched.create_schedule_group(Name="jobs", Tags=[{"Key": "eddy:missed-ticks", "Value": "all"}])
    for i in range(5):
        sched.create_schedule(Name=f"job-{i}", GroupName="jobs", ScheduleExpression="cron(0 3 * * ? *)",
                              ScheduleExpressionTimezone="Asia/Tokyo", State="DISABLED" if i % 2 else "ENABLED",
                              FlexibleTimeWindow={"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 15},
                              Target=target)
    got = sched.get_schedule(Name="job-1", GroupName="jobs")
    assert got["State"] == "DISABLED"
    assert got["ScheduleExpressionTimezone"] == "Asia/Tokyo"
    assert got["FlexibleTimeWindow"] == {"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 15}
    assert got["Target"]["RetryPolicy"] == {"MaximumEventAgeInSeconds": 86400, "MaximumRetryAttempts": 185}
    assert got["CreationDate"].year >= 2026

    page = sched.list_schedules(GroupName="jobs", MaxResults=2)
    assert [s["Name"] for s in page["Schedules"]] == ["job-0", "job-1"]
    rest = sched.list_schedules(GroupName="jobs", NextToken=page["NextToken"])
    assert [s["Name"] for s in rest["Schedules"]] == ["job-2", "job-3", "job-4"]
    enabled = sched.list_schedules(State="ENABLED", NamePrefix="job-")
    assert [s["Name"] for s in enabled["Schedules"]] == ["job-0", "job-2", "job-4"]
    assert enabled["Schedules"][0]["Target"] == {"Arn": target["Arn"]}

    sched.update_schedule(Name="job-1", GroupName="jobs", ScheduleExpression="rate(1 day)",
                          FlexibleTimeWindow={"Mode": "OFF"}, Target=target)
    got = sched.get_schedule(Name="job-1", GroupName="jobs")
    assert got["State"] == "ENABLED" and got["ScheduleExpression"] == "rate(1 day)"

    groups = sched.list_schedule_groups()["ScheduleGroups"]
    assert [x["Name"] for x in groups] == ["default", "jobs"]
    assert sched.get_schedule_group(Name="jobs")["State"] == "ACTIVE"
    tags = sched.list_tags_for_resource(ResourceArn=g["ScheduleGroupArn"])["Tags"]
    assert tags == [{"Key": "eddy:missed-ticks", "Value": "all"}]
    sched.tag_resource(ResourceArn=g["ScheduleGroupArn"], Tags=[{"Key": "team", "Value": "ops"}])
    sched.untag_resource(ResourceArn=g["ScheduleGroupArn"], TagKeys=["eddy:missed-ticks"])
    tags = sched.list_tags_for_resource(ResourceArn=g["ScheduleGroupArn"])["Tags"]
    assert tags == [{"Key": "team", "Value": "ops"}]
    with pytest.raises(ClientError) as e:
        sched.create_schedule_group(Name="jobs")
    assert e.value.response["Error"]["Code"] == "ConflictException"

    sched.delete_schedule_group(Name="jobs")
    with pytest.raises(ClientError) as e:
        sched.get_schedule(Name="job-0", GroupName="jobs")
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    sched.delete_schedule(Name="a")
    with pytest.raises(ClientError) as e:
        sched.delete_schedule(Name="a")
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_realtime_rules_fire_within_a_second_of_their_minute_mark(server):
    """The one real-time check (up to ~62 s): a cron rule fires within a second of the minute
    mark, a rate(1 minute) rule within a second of creation + 1 minute."""
    sqs, url, arn = queue(server, "realtime")
    events = server.client("events")
    created = now_ms(server)
    events.put_rule(Name="rate", ScheduleExpression="rate(1 minute)")
    events.put_targets(Rule="rate", Targets=[{"Id": "q", "Arn": arn, "Input": '"rate"'}])
    events.put_rule(Name="cron", ScheduleExpression="cron(* * * * ? *)")
    events.put_targets(Rule="cron", Targets=[{"Id": "q", "Arn": arn}])
    got = {}
    deadline = time.time() + 64
    while len(got) < 2 and time.time() < deadline:
        for m in drain(sqs, url, 1, timeout=1):
            kind = "rate" if m["Body"] == '"rate"' else "cron"
            got.setdefault(kind, (m, int(m["Attributes"]["SentTimestamp"])))
    assert set(got) == {"rate", "cron"}
    cron_body = json.loads(got["cron"][0]["Body"])
    mark = dt.datetime.fromisoformat(cron_body["time"]).timestamp() * 1000
    assert mark % 60_000 == 0
    assert 0 <= got["cron"][1] - mark < 1000
    rate_mark = created // 1000 * 1000 + 60_000
    # The rule was created up to a few ms after `created`: its anchor is that second or the next.
    assert -1000 <= got["rate"][1] - rate_mark < 2000


def test_a_clock_move_that_would_fire_millions_of_ticks_is_refused_and_changes_nothing(server):
    sqs, url, arn = queue(server, "flood")
    events = server.client("events")
    events.put_rule(Name="every5", ScheduleExpression="rate(5 minutes)")
    events.put_targets(Rule="every5", Targets=[{"Id": "q", "Arn": arn}])
    sched = server.client("scheduler")
    sched.create_schedule(
        Name="daily", ScheduleExpression="rate(1 day)", FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": arn, "RoleArn": ROLE},
    )
    assert len(drain(sqs, url, 1)) == 1, "a rate schedule fires at its start"
    before = clock(server)
    # 73 years of a 5-minute rule: 7.7 million ticks.
    status, body = move(server, advance_seconds=73 * 365 * 86400)
    assert status == 400, body
    message = body["message"]
    assert "more than 100000" in message
    assert "rule `default/every5`" in message and "schedule `default/daily`" in message
    assert message.index("every5") < message.index("daily"), "the heaviest schedule comes first"
    assert "the clock was not moved" in message
    after = clock(server)
    assert after["offset_ms"] == before["offset_ms"]
    assert drain(sqs, url, 1, timeout=1) == []
    # The same through `set`; and a move within the bound still fires every tick, in order.
    status, body = move(server, set="2099-01-01T00:00:00Z")
    assert status == 400 and "every5" in body["message"]
    events.remove_targets(Rule="every5", Ids=["q"])
    events.delete_rule(Name="every5")
    status, _ = move(server, advance_seconds=3 * 86400)
    assert status == 200
    assert len(drain(sqs, url, 3)) == 3

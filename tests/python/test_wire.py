"""The AWS endpoint at the wire level: headers, error shapes, bad input, operations endpoints,
the aws CLI, and that definitions survive a restart."""

import json
import subprocess

from conftest import PG_STORE, Eddy, aws_cli

JSON11 = "application/x-amz-json-1.1"


def test_every_response_has_a_request_id(eddy):
    status, headers, _ = eddy.aws_call("AWSEvents.ListEventBuses", {})
    assert status == 200
    assert headers.get("x-amzn-RequestId") or headers.get("x-amzn-requestid")
    status, headers, body = eddy.aws_call("AWSEvents.Nope", {})
    assert status == 400
    assert body["__type"] == "UnknownOperationException"
    assert headers.get("x-amzn-requestid") or headers.get("x-amzn-RequestId")


def test_malformed_json_is_a_serialization_exception(eddy):
    status, _, body = eddy.aws_call("AWSEvents.PutRule", b"{nope")
    assert status == 400 and body["__type"] == "SerializationException"
    status, _, body = eddy.aws_call("AWSEvents.PutRule", {"Name": ["list"]})
    assert status == 400 and body["__type"] == "SerializationException"
    status, _, body = eddy.aws_call("AWSEvents.PutEvents", {"Entries": "x"})
    assert status == 400 and body["__type"] == "SerializationException"


def test_missing_target_header_and_unknown_service(eddy):
    status, _, raw = eddy.post("/", b"{}")
    assert status == 400 and json.loads(raw)["__type"] == "UnknownOperationException"
    status, _, body = eddy.aws_call("AmazonFoo.Bar", {})
    assert status == 400 and body["__type"] == "UnknownOperationException"


def test_oversized_body_is_rejected_without_a_500(eddy):
    big = b'{"Entries":[{"Source":"a","DetailType":"b","Detail":"' + b"x" * (9 * 1024 * 1024) + b'"}]}'
    status, _, raw = eddy.post("/", big, {"X-Amz-Target": "AWSEvents.PutEvents"})
    assert status == 413
    assert json.loads(raw)["__type"] == "RequestEntityTooLargeException"


def test_region_comes_from_the_credential_scope(eddy):
    eddy.post("/moto-api/reset")
    auth = ("AWS4-HMAC-SHA256 Credential=AKID/20260101/eu-central-1/events/aws4_request, "
            "SignedHeaders=host, Signature=abc")
    status, _, raw = eddy.post("/", json.dumps({"Name": "x"}).encode(), {
        "X-Amz-Target": "AWSEvents.CreateEventBus", "Content-Type": JSON11, "Authorization": auth})
    assert status == 200
    assert json.loads(raw)["EventBusArn"] == "arn:aws:events:eu-central-1:123456789012:event-bus/x"


def test_health_and_metrics(eddy):
    status, body = eddy.get("/_eddy/health")
    health = json.loads(body)
    if PG_STORE:
        # On a shared store the health also shows the cluster as this node sees it.
        assert health.pop("node") and health.pop("cluster")["nodes"], health
    assert status == 200 and health == {"status": "ok"}
    # Some families appear with their first sample: match one event (order-independent test).
    c = eddy.client()
    c.put_rule(Name="metrics-probe", EventPattern=json.dumps({"source": ["metrics"]}))
    c.put_events(Entries=[{"Source": "metrics", "DetailType": "t", "Detail": "{}"},
                          {"Source": "metrics", "DetailType": "t", "Detail": "{}",
                           "EventBusName": "no-such-bus"}])
    status, text = eddy.get("/metrics")
    assert status == 200
    for name in ["eddy_events_put", "eddy_rule_matched_events", "eddy_store_commit_seconds",
                 "eddy_events_failed_entries"]:
        assert f"# TYPE {name}" in text


def test_reset_wipes_everything(eddy):
    c = eddy.client()
    c.create_event_bus(Name="gone")
    status, _, raw = eddy.post("/_eddy/reset")
    assert status == 200 and json.loads(raw) == {"status": "ok"}
    assert [b["Name"] for b in c.list_event_buses()["EventBuses"]] == ["default"]


def test_reset_needs_dev_mode(fresh_dir):
    from conftest import eddy_bin
    import re
    proc = subprocess.Popen([eddy_bin(), "serve", "--data-dir", fresh_dir, "--aws-listen",
                             "127.0.0.1:0", "--http-listen", "127.0.0.1:0"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = proc.stdout.readline()
        aws = re.search(r"aws=(\S+)", line).group(1)
        import urllib.request, urllib.error
        try:
            urllib.request.urlopen(urllib.request.Request(aws + "/_eddy/reset", data=b"", method="POST"))
            assert False, "reset must be refused without --dev"
        except urllib.error.HTTPError as e:
            assert e.code == 403
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_http_listener_answers_like_api_gateway(eddy):
    import urllib.request, urllib.error
    try:
        urllib.request.urlopen(eddy.http + "/nothing")
        assert False
    except urllib.error.HTTPError as e:
        assert e.code == 404
        assert json.loads(e.read()) == {"message": "Not Found"}


def test_definitions_survive_restart(fresh_dir):
    first = Eddy(fresh_dir).start()
    c = first.client()
    c.create_event_bus(Name="orders")
    c.put_rule(Name="r", EventBusName="orders", EventPattern=json.dumps({"source": ["a"]}))
    c.put_targets(Rule="r", EventBusName="orders",
                  Targets=[{"Id": "t", "Arn": "arn:aws:sqs:us-east-1:123456789012:q"}])
    first.stop(sig_kill=True)
    second = Eddy(fresh_dir).start()
    try:
        c = second.client()
        assert [r["Name"] for r in c.list_rules(EventBusName="orders")["Rules"]] == ["r"]
        assert [t["Id"] for t in c.list_targets_by_rule(Rule="r", EventBusName="orders")["Targets"]] == ["t"]
        # The rebuilt matcher is live: a matching event is counted.
        c.put_events(Entries=[{"Source": "a", "DetailType": "t", "Detail": "{}", "EventBusName": "orders"}])
        assert second.metric("eddy_rule_matched_events_total", rule="r") == 1
    finally:
        second.stop()


def test_aws_cli_talks_to_eddy(eddy):
    eddy.post("/moto-api/reset")
    code, out, err = aws_cli(eddy, "events", "create-event-bus", "--name", "cli-bus")
    assert code == 0, err
    assert json.loads(out)["EventBusArn"].endswith(":event-bus/cli-bus")
    code, out, err = aws_cli(eddy, "events", "put-events", "--entries",
                             json.dumps([{"Source": "cli", "DetailType": "t", "Detail": "{}",
                                          "EventBusName": "cli-bus"}]))
    assert code == 0, err
    assert json.loads(out)["FailedEntryCount"] == 0
    code, out, err = aws_cli(eddy, "events", "describe-rule", "--name", "nope")
    assert code != 0
    assert "ResourceNotFoundException" in err and "Rule nope does not exist." in err

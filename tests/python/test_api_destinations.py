"""Connections and API destinations: the control plane through boto3, and HTTP deliveries to a
local recording server (authorisation, HTTP parameters, retries, dead letters, rate limits)."""

import base64
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest
from botocore.exceptions import ClientError


class Recorder:
    """A local HTTP endpoint that records every request and answers from a script per path."""

    def __init__(self):
        self.requests = []
        self.script = {}  # path -> list of statuses, consumed in order; 200 after
        self.lock = threading.Lock()
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self):
                n = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(n).decode() if n else ""
                u = urlparse(self.path)
                with recorder.lock:
                    recorder.requests.append({
                        "method": self.command, "path": u.path, "query": parse_qs(u.query),
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "body": body, "at": time.monotonic(),
                    })
                    statuses = recorder.script.get(u.path, [])
                    status = statuses.pop(0) if statuses else 200
                if u.path == "/token":
                    payload = json.dumps({"access_token": "tok-123", "expires_in": 3600}).encode()
                else:
                    payload = b"{}"
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, path, n, timeout=15):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = [r for r in self.requests if r["path"].startswith(path)]
            if len(got) >= n:
                return got
            time.sleep(0.02)
        return [r for r in self.requests if r["path"].startswith(path)]


@pytest.fixture
def rec():
    r = Recorder()
    yield r
    r.server.shutdown()


@pytest.fixture
def aws(eddy):
    eddy.post("/moto-api/reset")
    return eddy.client("events"), eddy.client("sqs")


API_KEY = {"ApiKeyAuthParameters": {"ApiKeyName": "x-api-key", "ApiKeyValue": "s3cret"}}


def destination(events, name, endpoint, auth_type="API_KEY", auth=API_KEY, method="POST", rate=None):
    conn = events.create_connection(Name=f"{name}-conn", AuthorizationType=auth_type,
                                    AuthParameters=auth)["ConnectionArn"]
    kw = {"InvocationRateLimitPerSecond": rate} if rate else {}
    return events.create_api_destination(Name=name, ConnectionArn=conn, InvocationEndpoint=endpoint,
                                         HttpMethod=method, **kw)["ApiDestinationArn"]


def put_many(events, numbers):
    """One PutEvents call with an entry `{"i": n}` for each n (at most 10)."""
    r = events.put_events(Entries=[{"Source": "shop", "DetailType": "o", "Detail": json.dumps({"i": i})}
                                   for i in numbers])
    assert r["FailedEntryCount"] == 0


def route(events, arn, **target):
    events.put_rule(Name="r", EventPattern=json.dumps({"source": ["shop"]}))
    events.put_targets(Rule="r", Targets=[{"Id": "t", "Arn": arn, **target}])


def put(events, detail):
    r = events.put_events(Entries=[{"Source": "shop", "DetailType": "Order", "Detail": json.dumps(detail)}])
    assert r["FailedEntryCount"] == 0
    return r["Entries"][0]["EventId"]


def test_connection_and_destination_lifecycle(aws):
    events, _ = aws
    c = events.create_connection(Name="c", AuthorizationType="BASIC", Description="d",
                                 AuthParameters={"BasicAuthParameters": {"Username": "u", "Password": "p"},
                                                 "InvocationHttpParameters": {"HeaderParameters": [
                                                     {"Key": "h", "Value": "hidden", "IsValueSecret": True},
                                                     {"Key": "v", "Value": "shown", "IsValueSecret": False}]}})
    assert c["ConnectionState"] == "AUTHORIZED"
    assert c["ConnectionArn"].startswith("arn:aws:events:us-east-1:123456789012:connection/c/")
    d = events.describe_connection(Name="c")
    assert d["AuthParameters"]["BasicAuthParameters"] == {"Username": "u"}
    headers = d["AuthParameters"]["InvocationHttpParameters"]["HeaderParameters"]
    assert {"Key": "h", "IsValueSecret": True} in headers
    assert {"Key": "v", "Value": "shown", "IsValueSecret": False} in headers
    with pytest.raises(ClientError) as ex:
        events.create_connection(Name="c", AuthorizationType="BASIC",
                                 AuthParameters={"BasicAuthParameters": {"Username": "u", "Password": "p"}})
    assert ex.value.response["Error"]["Code"] == "ResourceAlreadyExistsException"
    with pytest.raises(ClientError) as ex:
        events.create_connection(Name="x", AuthorizationType="API_KEY",
                                 AuthParameters={"BasicAuthParameters": {"Username": "u", "Password": "p"}})
    assert ex.value.response["Error"]["Code"] == "ValidationException"
    a = events.create_api_destination(Name="d", ConnectionArn=c["ConnectionArn"],
                                      InvocationEndpoint="https://example.com/hook", HttpMethod="POST")
    assert a["ApiDestinationState"] == "ACTIVE"
    dd = events.describe_api_destination(Name="d")
    assert dd["InvocationRateLimitPerSecond"] == 300 and dd["HttpMethod"] == "POST"
    assert [x["Name"] for x in events.list_api_destinations()["ApiDestinations"]] == ["d"]
    assert [x["Name"] for x in events.list_connections()["Connections"]] == ["c"]
    events.update_api_destination(Name="d", InvocationRateLimitPerSecond=10)
    assert events.describe_api_destination(Name="d")["InvocationRateLimitPerSecond"] == 10
    with pytest.raises(ClientError) as ex:
        events.delete_connection(Name="c")
    assert ex.value.response["Error"]["Code"] == "ValidationException"
    events.delete_api_destination(Name="d")
    events.delete_connection(Name="c")
    with pytest.raises(ClientError) as ex:
        events.describe_connection(Name="c")
    assert ex.value.response["Error"] == {"Code": "ResourceNotFoundException", "Message": "Connection 'c' does not exist."}
    with pytest.raises(ClientError) as ex:
        events.create_api_destination(Name="d", ConnectionArn=c["ConnectionArn"],
                                      InvocationEndpoint="https://example.com", HttpMethod="POST")
    assert ex.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_api_key_delivery_with_http_parameters_and_transformer(eddy, aws, rec):
    events, _ = aws
    arn = destination(events, "hook", rec.url + "/orders/*/items/*")
    route(events, arn,
          HttpParameters={"PathParameterValues": ["o1", "i2"], "HeaderParameters": {"x-team": "shop"},
                          "QueryStringParameters": {"src": "eddy"}},
          InputTransformer={"InputPathsMap": {"n": "$.detail.n"}, "InputTemplate": '{"number": <n>}'})
    put(events, {"n": 5})
    [r] = rec.wait("/orders", 1)
    assert r["method"] == "POST" and r["path"] == "/orders/o1/items/i2"
    assert r["query"] == {"src": ["eddy"]}
    assert r["headers"]["x-api-key"] == "s3cret" and r["headers"]["x-team"] == "shop"
    assert r["headers"]["content-type"].startswith("application/json")
    assert json.loads(r["body"]) == {"number": 5}
    # Delivered means done: no work item is left to deliver again.
    deadline = time.monotonic() + 5
    while eddy.metric("eddy_store_work_items") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert eddy.metric("eddy_store_work_items") == 0


def test_basic_and_oauth_authorization(aws, rec):
    events, _ = aws
    basic = destination(events, "b", rec.url + "/basic", auth_type="BASIC",
                        auth={"BasicAuthParameters": {"Username": "user", "Password": "pw"}})
    oauth = destination(events, "o", rec.url + "/oauth", auth_type="OAUTH_CLIENT_CREDENTIALS", auth={
        "OAuthParameters": {"ClientParameters": {"ClientID": "id", "ClientSecret": "sec"},
                            "AuthorizationEndpoint": rec.url + "/token", "HttpMethod": "POST"}})
    events.put_rule(Name="r", EventPattern=json.dumps({"source": ["shop"]}))
    events.put_targets(Rule="r", Targets=[{"Id": "b", "Arn": basic}, {"Id": "o", "Arn": oauth}])
    event_id = put(events, {"x": 1})
    [b] = rec.wait("/basic", 1)
    assert b["headers"]["authorization"] == "Basic " + base64.b64encode(b"user:pw").decode()
    assert json.loads(b["body"])["id"] == event_id
    [o] = rec.wait("/oauth", 1)
    assert o["headers"]["authorization"] == "Bearer tok-123"
    [t] = rec.wait("/token", 1)
    assert t["headers"]["authorization"] == "Basic " + base64.b64encode(b"id:sec").decode()
    assert "grant_type=client_credentials" in t["body"]


def test_server_errors_and_throttling_are_retried(aws, rec):
    events, _ = aws
    rec.script["/flaky"] = [500, 429]
    arn = destination(events, "flaky", rec.url + "/flaky")
    route(events, arn)
    put(events, {})
    got = rec.wait("/flaky", 3)
    assert len(got) == 3
    time.sleep(0.5)
    assert len(rec.wait("/flaky", 4, timeout=0.5)) == 3  # delivered on the third try, then done


def test_client_errors_go_straight_to_the_dead_letter_queue(aws, rec):
    events, sqs = aws
    rec.script["/bad"] = [400, 400, 400]
    dlq = sqs.create_queue(QueueName="dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    arn = destination(events, "bad", rec.url + "/bad")
    route(events, arn, DeadLetterConfig={"Arn": dlq_arn})
    event_id = put(events, {})
    deadline = time.monotonic() + 10
    msgs = []
    while not msgs and time.monotonic() < deadline:
        msgs = sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=1, MessageAttributeNames=["All"]).get("Messages", [])
    assert json.loads(msgs[0]["Body"])["id"] == event_id
    assert msgs[0]["MessageAttributes"]["ERROR_CODE"]["StringValue"] == "HTTP_400"
    assert msgs[0]["MessageAttributes"]["TARGET_ARN"]["StringValue"] == arn
    assert len(rec.wait("/bad", 1)) == 1


def test_invocation_rate_limit_is_honoured(aws, rec):
    events, _ = aws
    arn = destination(events, "slow", rec.url + "/slow", rate=5)
    route(events, arn)
    put_many(events, range(10))
    put_many(events, range(10, 15))
    got = rec.wait("/slow", 15)
    assert len(got) == 15
    span = got[-1]["at"] - got[0]["at"]
    # A burst of 5, then 5 per second: the last of 15 arrives about 2 s after the first.
    assert span >= 1.5, span


def test_a_raised_rate_limit_applies_to_deliveries_already_waiting(aws, rec):
    events, _ = aws
    arn = destination(events, "held", rec.url + "/held", rate=1)
    route(events, arn)
    put_many(events, range(10))
    # At 1 per second, 10 events take about 9 s; the first one goes at once.
    assert len(rec.wait("/held", 1)) >= 1
    events.update_api_destination(Name="held", InvocationRateLimitPerSecond=300)
    raised = time.monotonic()
    got = rec.wait("/held", 10, timeout=8)
    assert len(got) == 10
    # The waiting deliveries pick the new limit up after their current wait (at most 1 s).
    assert got[-1]["at"] - raised < 3, got[-1]["at"] - raised


def test_exhausted_retries_reach_the_dead_letter_queue_with_the_condition(aws, rec):
    events, sqs = aws
    rec.script["/down"] = [503] * 10
    dlq = sqs.create_queue(QueueName="dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    arn = destination(events, "down", rec.url + "/down")
    route(events, arn, DeadLetterConfig={"Arn": dlq_arn},
          RetryPolicy={"MaximumRetryAttempts": 1, "MaximumEventAgeInSeconds": 60})
    event_id = put(events, {})
    deadline = time.monotonic() + 15
    msgs = []
    while not msgs and time.monotonic() < deadline:
        msgs = sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=1, MessageAttributeNames=["All"]).get("Messages", [])
    attrs = {k: v["StringValue"] for k, v in msgs[0]["MessageAttributes"].items()}
    assert json.loads(msgs[0]["Body"])["id"] == event_id
    assert attrs["ERROR_CODE"] == "HTTP_503"
    assert attrs["EXHAUSTED_RETRY_CONDITION"] == "MaximumRetryAttempts"
    assert attrs["RETRY_ATTEMPTS"] == "1"
    # The first attempt and one retry, nothing more.
    assert len(rec.wait("/down", 2)) == 2


def test_retry_schedule_and_event_age_on_the_dev_clock(fresh_dir, rec):
    """Backoff and MaximumEventAgeInSeconds follow eddy's clock: moving it two minutes forward
    runs the retries that fall due and then gives up on the event's age, without waiting."""
    from conftest import Eddy
    server = Eddy(fresh_dir).start()
    try:
        events, sqs = server.client("events"), server.client("sqs")
        rec.script["/down"] = [503] * 1000
        dlq = sqs.create_queue(QueueName="dlq")["QueueUrl"]
        arn = destination(events, "down", rec.url + "/down")
        route(events, arn, DeadLetterConfig={"Arn": "arn:aws:sqs:us-east-1:123456789012:dlq"},
              RetryPolicy={"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 120})
        event_id = put(events, {})
        assert len(rec.wait("/down", 1)) == 1
        # Without the clock moving, the retries wait (the first within 1 s, then up to 2, 4, 8 s
        # of full jitter): far fewer than one a second happen in real time.
        time.sleep(1.5)
        before = len(rec.requests)
        assert before <= 4
        counts = []
        for _ in range(13):
            status, _, _ = server.post("/_eddy/clock", json.dumps({"advance_seconds": 10}).encode())
            assert status == 200
            time.sleep(0.25)
            counts.append(len(rec.requests))
        # Exponential backoff: retries keep coming as the clock moves, but they thin out.
        assert counts[-1] > before + 2, counts
        assert counts[-1] < 40, counts
        msgs = []
        deadline = time.monotonic() + 10
        while not msgs and time.monotonic() < deadline:
            msgs = sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=1,
                                       MessageAttributeNames=["All"]).get("Messages", [])
        attrs = {k: v["StringValue"] for k, v in msgs[0]["MessageAttributes"].items()}
        assert json.loads(msgs[0]["Body"])["id"] == event_id
        assert attrs["EXHAUSTED_RETRY_CONDITION"] == "MaximumEventAgeInSeconds"
        attempts = len(rec.requests)
        assert int(attrs["RETRY_ATTEMPTS"]) in (attempts - 1, attempts)
        time.sleep(0.5)
        assert len(rec.requests) == attempts, "no attempts after the event was dead-lettered"
    finally:
        server.stop()

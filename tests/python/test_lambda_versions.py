"""Lambda versions, aliases, resource policies and function URLs with boto3, curl and plain
HTTP, pinned to AWS's documented behaviour.

Sources: botocore's `lambda/2015-03-31/service-2.json` (paths, status codes, members), AWS's
Lambda API reference (API_PublishVersion, API_CreateAlias, API_AliasRoutingConfiguration,
API_AddPermission, API_GetPolicy, API_CreateFunctionUrlConfig, API_Invoke) and the developer
guide's "Lambda function URLs" pages (payload format 2.0, response mapping, CORS). Error texts
are the ones AWS answers (quoted in AWS's docs and in its users' bug reports)."""

import base64
import gzip
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile

import pytest
from botocore.exceptions import ClientError

from conftest import Eddy, wait_for

ROLE = "arn:aws:iam::123456789012:role/lambda-role"
ARN = "arn:aws:lambda:us-east-1:123456789012:function:"

APP = '''
import json, os

def handler(event, context):
    out = os.environ.get("OUT")
    if out:
        with open(out, "a") as f:
            f.write(json.dumps({"version": context.function_version,
                                "arn": context.invoked_function_arn}) + "\\n")
    if "requestContext" in event:
        return {"statusCode": 201, "headers": {"x-fn": "@TAG@", "content-type": "application/json"},
                "cookies": ["a=1", "b=2"], "body": json.dumps(event)}
    return {"tag": "@TAG@", "version": context.function_version,
            "arn": context.invoked_function_arn}
'''


def code(tag):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("app.py", APP.replace("@TAG@", tag))
    return buf.getvalue()


@pytest.fixture(scope="module")
def server():
    d = tempfile.mkdtemp(prefix="eddy-versions-")
    s = Eddy(d, ["--python", sys.executable, "--function-user", "current"]).start()
    yield s
    s.stop()
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def lam(server):
    assert server.post("/moto-api/reset")[0] == 200
    return server.client("lambda")


def create(lam, name="fn", tag="A", **extra):
    r = lam.create_function(FunctionName=name, Runtime="python3.11", Role=ROLE,
                            Handler="app.handler", Code={"ZipFile": code(tag)}, **extra)
    lam.get_waiter("function_active_v2").wait(FunctionName=name)
    return r


def invoke(lam, name, payload=None, **kw):
    r = lam.invoke(FunctionName=name, Payload=json.dumps(payload or {}).encode(), **kw)
    return r, json.loads(r["Payload"].read())


def error(call):
    with pytest.raises(ClientError) as e:
        call()
    r = e.value.response
    return r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"], r["Error"]["Message"]


def test_versions_are_immutable_snapshots(lam):
    create(lam, tag="A", Description="first")
    v1 = lam.publish_version(FunctionName="fn")
    assert v1["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert v1["Version"] == "1" and v1["FunctionArn"] == ARN + "fn:1"
    # The description defaults to the function's.
    assert v1["Description"] == "first"
    # Nothing changed since version 1: publishing answers version 1 again.
    assert lam.publish_version(FunctionName="fn")["Version"] == "1"
    lam.update_function_code(FunctionName="fn", ZipFile=code("B"))
    lam.get_waiter("function_updated_v2").wait(FunctionName="fn")
    code_sha = lam.get_function(FunctionName="fn")["Configuration"]["CodeSha256"]
    assert error(lambda: lam.publish_version(FunctionName="fn", CodeSha256="nope")) == (
        "InvalidParameterValueException", 400,
        f"CodeSHA256 (nope) is different from current CodeSHA256 in $LATEST ({code_sha}). "
        "Please try again with the CodeSHA256 in $LATEST.")
    v2 = lam.publish_version(FunctionName="fn", CodeSha256=code_sha, Description="second")
    assert v2["Version"] == "2" and v2["Description"] == "second"
    versions = lam.list_versions_by_function(FunctionName="fn")["Versions"]
    assert [v["Version"] for v in versions] == ["$LATEST", "1", "2"]
    assert [v["FunctionArn"] for v in versions] == [ARN + "fn:$LATEST", ARN + "fn:1", ARN + "fn:2"]
    page = lam.list_versions_by_function(FunctionName="fn", MaxItems=2)
    assert len(page["Versions"]) == 2 and page["NextMarker"]
    rest = lam.list_versions_by_function(FunctionName="fn", Marker=page["NextMarker"])
    assert [v["Version"] for v in rest["Versions"]] == ["2"]
    # Each version runs its own code, and knows its version and the ARN it was invoked by.
    r, body = invoke(lam, "fn", Qualifier="1")
    assert body == {"tag": "A", "version": "1", "arn": ARN + "fn:1"}
    assert r["ExecutedVersion"] == "1"
    r, body = invoke(lam, ARN + "fn:2")
    assert body["tag"] == "B" and body["version"] == "2" and r["ExecutedVersion"] == "2"
    r, body = invoke(lam, "fn")
    assert body["tag"] == "B" and body["version"] == "$LATEST" and r["ExecutedVersion"] == "$LATEST"
    # A version's configuration is read by qualifier and does not follow $LATEST.
    lam.update_function_configuration(FunctionName="fn", Timeout=30)
    lam.get_waiter("function_updated_v2").wait(FunctionName="fn")
    c1 = lam.get_function_configuration(FunctionName="fn", Qualifier="1")
    assert c1["Timeout"] == 3 and c1["Version"] == "1" and c1["FunctionArn"] == ARN + "fn:1"
    assert lam.get_function(FunctionName="fn:2")["Configuration"]["Version"] == "2"
    assert error(lambda: invoke(lam, "fn", Qualifier="9")) == (
        "ResourceNotFoundException", 404, f"Function not found: {ARN}fn:9")
    assert error(lambda: lam.get_function(FunctionName="fn:1", Qualifier="2"))[0] == \
        "InvalidParameterValueException"
    # Deleting a version; $LATEST cannot be deleted alone; numbers are never reused.
    lam.delete_function(FunctionName="fn", Qualifier="1")
    assert error(lambda: lam.delete_function(FunctionName="fn", Qualifier="$LATEST")) == (
        "InvalidParameterValueException", 400,
        "$LATEST version cannot be deleted without deleting the function.")
    assert [v["Version"] for v in lam.list_versions_by_function(FunctionName="fn")["Versions"]] \
        == ["$LATEST", "2"]
    lam.update_function_configuration(FunctionName="fn", Timeout=31)
    lam.get_waiter("function_updated_v2").wait(FunctionName="fn")
    assert lam.publish_version(FunctionName="fn")["Version"] == "3"


def test_publish_on_create_and_on_code_update(lam):
    r = create(lam, Publish=True)
    assert r["Version"] == "1" and r["FunctionArn"] == ARN + "fn"
    u = lam.update_function_code(FunctionName="fn", ZipFile=code("B"), Publish=True)
    assert u["Version"] == "2" and u["FunctionArn"] == ARN + "fn:2"
    assert invoke(lam, "fn", Qualifier="1")[1]["tag"] == "A"
    assert invoke(lam, "fn", Qualifier="2")[1]["tag"] == "B"


def test_aliases(lam):
    create(lam, Publish=True)
    lam.update_function_code(FunctionName="fn", ZipFile=code("B"), Publish=True)
    a = lam.create_alias(FunctionName="fn", Name="live", FunctionVersion="1", Description="prod")
    assert a["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert a["AliasArn"] == ARN + "fn:live" and a["FunctionVersion"] == "1"
    assert a["Description"] == "prod" and "RoutingConfig" not in a
    got = lam.get_alias(FunctionName="fn", Name="live")
    assert got["RevisionId"] == a["RevisionId"]
    assert error(lambda: lam.create_alias(FunctionName="fn", Name="live", FunctionVersion="1")) \
        == ("ResourceConflictException", 409, f"Alias already exists: {ARN}fn:live")
    assert error(lambda: lam.create_alias(FunctionName="fn", Name="12", FunctionVersion="1")) == (
        "ValidationException", 400,
        "1 validation error detected: Value '12' at 'name' failed to satisfy constraint: Member "
        "must satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)")
    assert error(lambda: lam.create_alias(FunctionName="fn", Name="x", FunctionVersion="7")) == (
        "ResourceNotFoundException", 404, f"Function not found: {ARN}fn:7")
    assert error(lambda: lam.get_alias(FunctionName="fn", Name="nope")) == (
        "ResourceNotFoundException", 404, f"Cannot find alias arn: {ARN}fn:nope")
    assert error(lambda: lam.update_alias(FunctionName="fn", Name="nope", FunctionVersion="1")) \
        == ("ResourceNotFoundException", 404, f"Alias not found: {ARN}fn:nope")
    assert error(lambda: lam.update_alias(FunctionName="fn", Name="live", RevisionId="stale"))[:2] \
        == ("PreconditionFailedException", 412)
    # Invocations through the alias run its version; the context names the alias.
    r, body = invoke(lam, "fn:live")
    assert body == {"tag": "A", "version": "1", "arn": ARN + "fn:live"}
    assert r["ExecutedVersion"] == "1"
    # Routing refusals, as AWS words them.
    assert error(lambda: lam.update_alias(FunctionName="fn", Name="live", RoutingConfig={
        "AdditionalVersionWeights": {"1": 0.5}})) == (
        "InvalidParameterValueException", 400,
        "Invalid function version 1. Function version 1 is already included in routing "
        "configuration.")
    assert error(lambda: lam.update_alias(FunctionName="fn", Name="live", RoutingConfig={
        "AdditionalVersionWeights": {"2": 0.5, "3": 0.1}}))[:2] == \
        ("InvalidParameterValueException", 400)
    assert error(lambda: lam.create_alias(FunctionName="fn", Name="lat", FunctionVersion="$LATEST",
                                          RoutingConfig={"AdditionalVersionWeights": {"1": 0.5}})) \
        == ("InvalidParameterValueException", 400,
            "$LATEST is not supported for an alias pointing to more than 1 version")
    # 90/10: a thousand invocations split within statistical bounds (p = 0.1, sd ~ 9.5).
    u = lam.update_alias(FunctionName="fn", Name="live",
                         RoutingConfig={"AdditionalVersionWeights": {"2": 0.1}})
    assert u["RoutingConfig"] == {"AdditionalVersionWeights": {"2": 0.1}}
    assert u["RevisionId"] != a["RevisionId"]
    executed = [invoke(lam, "fn", Qualifier="live")[0]["ExecutedVersion"] for _ in range(1000)]
    twos = executed.count("2")
    assert executed.count("1") + twos == 1000
    assert 55 <= twos <= 145, twos
    listed = lam.list_aliases(FunctionName="fn")["Aliases"]
    assert [x["Name"] for x in listed] == ["live"]
    assert lam.list_aliases(FunctionName="fn", FunctionVersion="2")["Aliases"] == []
    # A version an alias uses cannot be deleted.
    assert error(lambda: lam.delete_function(FunctionName="fn", Qualifier="2")) == (
        "ResourceConflictException", 409,
        "Unable to delete version because the following aliases reference it: [live]")
    lam.delete_alias(FunctionName="fn", Name="live")
    lam.delete_alias(FunctionName="fn", Name="live")  # gone already: no error, as AWS
    lam.delete_function(FunctionName="fn", Qualifier="2")


POLICY_DOC = {"Version": "2012-10-17", "Id": "default"}


def test_permissions(lam):
    create(lam, Publish=True)
    lam.create_alias(FunctionName="fn", Name="live", FunctionVersion="1")
    r = lam.add_permission(FunctionName="fn", StatementId="events", Action="lambda:InvokeFunction",
                           Principal="events.amazonaws.com",
                           SourceArn="arn:aws:events:us-east-1:123456789012:rule/r",
                           SourceAccount="123456789012")
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 201
    statement = {
        "Sid": "events", "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
        "Action": "lambda:InvokeFunction", "Resource": ARN + "fn",
        "Condition": {"StringEquals": {"AWS:SourceAccount": "123456789012"},
                      "ArnLike": {"AWS:SourceArn": "arn:aws:events:us-east-1:123456789012:rule/r"}},
    }
    assert json.loads(r["Statement"]) == statement
    lam.add_permission(FunctionName="fn", StatementId="acct", Action="lambda:*",
                       Principal="111122223333")
    p = lam.get_policy(FunctionName="fn")
    doc = json.loads(p["Policy"])
    assert {k: doc[k] for k in POLICY_DOC} == POLICY_DOC
    assert doc["Statement"][0] == statement
    assert doc["Statement"][1]["Principal"] == {"AWS": "arn:aws:iam::111122223333:root"}
    assert p["RevisionId"] == lam.get_function(FunctionName="fn")["Configuration"]["RevisionId"]
    assert error(lambda: lam.add_permission(FunctionName="fn", StatementId="events",
                                            Action="lambda:InvokeFunction",
                                            Principal="sns.amazonaws.com")) == (
        "ResourceConflictException", 409,
        "The statement id (events) provided already exists. Please provide a new statement id, "
        "or remove the existing statement.")
    assert error(lambda: lam.add_permission(FunctionName="fn", StatementId="x",
                                            Action="sqs:SendMessage", Principal="*")) == (
        "ValidationException", 400,
        "1 validation error detected: Value 'sqs:SendMessage' at 'action' failed to satisfy "
        "constraint: Member must satisfy regular expression pattern: "
        "(lambda:[*]|lambda:[a-zA-Z]+|[*])")
    assert error(lambda: lam.add_permission(FunctionName="fn", StatementId="x",
                                            Action="lambda:InvokeFunction", Principal="*",
                                            Qualifier="$LATEST")) == (
        "InvalidParameterValueException", 400,
        "We currently do not support adding policies for $LATEST.")
    # Policies are per qualifier.
    lam.add_permission(FunctionName="fn", StatementId="alias", Action="lambda:InvokeFunction",
                       Principal="s3.amazonaws.com", Qualifier="live")
    alias_doc = json.loads(lam.get_policy(FunctionName="fn", Qualifier="live")["Policy"])
    assert [s["Sid"] for s in alias_doc["Statement"]] == ["alias"]
    assert alias_doc["Statement"][0]["Resource"] == ARN + "fn:live"
    assert error(lambda: lam.get_policy(FunctionName="fn", Qualifier="nope")) == (
        "ResourceNotFoundException", 404, f"Cannot find alias arn: {ARN}fn:nope")
    assert error(lambda: lam.remove_permission(FunctionName="fn", StatementId="missing")) == (
        "ResourceNotFoundException", 404, "Statement missing is not found in resource policy.")
    lam.remove_permission(FunctionName="fn", StatementId="events")
    lam.remove_permission(FunctionName="fn", StatementId="acct")
    assert error(lambda: lam.get_policy(FunctionName="fn")) == (
        "ResourceNotFoundException", 404, "The resource you requested does not exist.")
    assert error(lambda: lam.remove_permission(FunctionName="fn", StatementId="acct")) == (
        "ResourceNotFoundException", 404, "No policy is associated with the given resource.")
    assert error(lambda: lam.get_policy(FunctionName="nofn"))[:2] == \
        ("ResourceNotFoundException", 404)


def test_rule_to_alias_target_with_its_permission(server, lam, tmp_path):
    """The Terraform/CDK flow: a function, a version, an alias, the permission EventBridge
    needs, a rule targeting the alias; an event runs the alias's version."""
    out = tmp_path / "calls.jsonl"
    create(lam, Environment={"Variables": {"OUT": str(out)}}, Publish=True)
    lam.update_function_configuration(FunctionName="fn", Timeout=10)
    lam.get_waiter("function_updated_v2").wait(FunctionName="fn")
    lam.create_alias(FunctionName="fn", Name="live", FunctionVersion="1")
    events = server.client("events")
    rule = events.put_rule(Name="r", EventPattern=json.dumps({"source": ["app"]}))
    lam.add_permission(FunctionName="fn", StatementId="events", Action="lambda:InvokeFunction",
                       Principal="events.amazonaws.com", SourceArn=rule["RuleArn"],
                       Qualifier="live")
    events.put_targets(Rule="r", Targets=[{"Id": "t", "Arn": ARN + "fn:live"}])
    assert events.put_events(Entries=[{"Source": "app", "DetailType": "d", "Detail": "{}"}])[
        "FailedEntryCount"] == 0
    wait_for(lambda: out.exists() and out.read_text().strip())
    call = json.loads(out.read_text().splitlines()[0])
    assert call == {"version": "1", "arn": ARN + "fn:live"}


def url_request(server, url_id, path="/", method="GET", headers=None, body=None):
    host = f"{url_id}.lambda-url.us-east-1.localhost"
    req = urllib.request.Request(server.http + path, data=body, method=method,
                                 headers={"Host": host, **(headers or {})})
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def test_function_urls(server, lam):
    create(lam, Publish=True)
    lam.create_alias(FunctionName="fn", Name="live", FunctionVersion="1")
    c = lam.create_function_url_config(FunctionName="fn", AuthType="NONE", Cors={
        "AllowOrigins": ["http://app.example"], "AllowMethods": ["POST"],
        "AllowHeaders": ["x-custom"], "MaxAge": 60})
    assert c["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert c["AuthType"] == "NONE" and c["InvokeMode"] == "BUFFERED"
    assert c["FunctionArn"] == ARN + "fn" and c["CreationTime"].endswith("Z")
    url = c["FunctionUrl"]
    url_id = url.split("//")[1].split(".")[0]
    assert len(url_id) == 32 and url_id.isalnum() and url_id.lower() == url_id
    port = server.http.rsplit(":", 1)[1]
    assert url == f"http://{url_id}.lambda-url.us-east-1.localhost:{port}/"
    got = lam.get_function_url_config(FunctionName="fn")
    assert got["FunctionUrl"] == url and got["Cors"]["MaxAge"] == 60 and got["LastModifiedTime"]
    assert error(lambda: lam.create_function_url_config(FunctionName="fn", AuthType="NONE")) == (
        "ResourceConflictException", 409,
        f"Failed to create function url config for [functionArn = {ARN}fn]. Error message:  "
        "FunctionUrlConfig exists for this Lambda function")
    assert error(lambda: lam.create_function_url_config(FunctionName="fn", AuthType="NONE",
                                                        Qualifier="1"))[:2] == \
        ("ValidationException", 400)
    assert error(lambda: lam.get_function_url_config(FunctionName="fn", Qualifier="live")) == (
        "ResourceNotFoundException", 404, "The resource you requested does not exist.")
    assert error(lambda: lam.create_function_url_config(FunctionName="nofn", AuthType="NONE")) \
        == ("ResourceNotFoundException", 404, "Function does not exist")

    # The URL invokes the function with payload format 2.0 and maps its answer.
    status, headers, body = url_request(server, url_id, "/items/7?a=1&a=2", "POST",
                                        {"Content-Type": "application/json",
                                         "Cookie": "k=v", "Origin": "http://app.example"},
                                        b'{"hello": "world"}')
    assert status == 201 and headers["x-fn"] == "A"
    assert headers.get_all("set-cookie") == ["a=1", "b=2"]
    assert headers["access-control-allow-origin"] == "http://app.example"
    event = json.loads(body)
    assert event["version"] == "2.0" and event["routeKey"] == "$default"
    assert event["rawPath"] == "/items/7" and event["rawQueryString"] == "a=1&a=2"
    assert event["queryStringParameters"] == {"a": "1,2"} and event["cookies"] == ["k=v"]
    assert event["body"] == '{"hello": "world"}' and event["isBase64Encoded"] is False
    rc = event["requestContext"]
    assert rc["apiId"] == url_id and rc["domainPrefix"] == url_id
    assert rc["domainName"] == f"{url_id}.lambda-url.us-east-1.localhost"
    assert rc["accountId"] == "anonymous" and rc["stage"] == "$default"
    assert rc["http"]["method"] == "POST" and rc["http"]["path"] == "/items/7"
    assert "pathParameters" not in event or event["pathParameters"] is None

    # A preflight is answered from the URL's CORS settings; the function never sees it.
    status, headers, _ = url_request(server, url_id, "/x", "OPTIONS", {
        "Origin": "http://app.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "x-custom"})
    assert status == 200
    assert headers["access-control-allow-origin"] == "http://app.example"
    assert "POST" in headers["access-control-allow-methods"]
    assert headers["access-control-max-age"] == "60"
    status, headers, _ = url_request(server, url_id, "/", "GET", {"Origin": "http://evil.example"})
    assert status == 201 and "access-control-allow-origin" not in headers

    # curl reaches it by name: *.localhost is loopback.
    out = subprocess.run(["curl", "-s", "-i", url + "curl?x=1"], capture_output=True, text=True,
                         timeout=30)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("HTTP/1.1 201"), out.stdout[:200]
    assert '"rawPath": "/curl"' in out.stdout

    # An alias's URL runs the alias's version; an unknown URL id is refused.
    a = lam.create_function_url_config(FunctionName="fn", Qualifier="live", AuthType="NONE")
    assert a["FunctionArn"] == ARN + "fn:live"
    alias_id = a["FunctionUrl"].split("//")[1].split(".")[0]
    assert alias_id != url_id
    assert [x["FunctionArn"] for x in lam.list_function_url_configs(FunctionName="fn")[
        "FunctionUrlConfigs"]] == [ARN + "fn", ARN + "fn:live"]
    assert url_request(server, "0" * 32)[0] == 403
    # AWS_IAM URLs refuse unsigned requests.
    u = lam.update_function_url_config(FunctionName="fn", AuthType="AWS_IAM")
    assert u["AuthType"] == "AWS_IAM" and u["Cors"]["AllowOrigins"] == ["http://app.example"]
    assert url_request(server, url_id)[0] == 403
    lam.delete_function_url_config(FunctionName="fn")
    assert error(lambda: lam.delete_function_url_config(FunctionName="fn")) == (
        "ResourceNotFoundException", 404, "The resource you requested does not exist.")
    assert url_request(server, url_id)[0] == 403
    # Deleting the function deletes its URLs.
    lam.delete_function(FunctionName="fn")
    assert url_request(server, alias_id)[0] == 403


def test_versions_survive_a_restart(tmp_path):
    d = str(tmp_path / "data")
    s = Eddy(d, ["--python", sys.executable, "--function-user", "current"]).start()
    try:
        lam = s.client("lambda")
        create(lam, Publish=True)
        lam.update_function_code(FunctionName="fn", ZipFile=code("B"), Publish=True)
        lam.create_alias(FunctionName="fn", Name="live", FunctionVersion="1")
        url_id = lam.create_function_url_config(FunctionName="fn", Qualifier="live",
                                                AuthType="NONE")["FunctionUrl"]
    finally:
        s.stop(sig_kill=True)
    s = Eddy(d, ["--python", sys.executable, "--function-user", "current"]).start()
    try:
        lam = s.client("lambda")
        assert invoke(lam, "fn", Qualifier="live")[1]["tag"] == "A"
        assert invoke(lam, "fn", Qualifier="2")[1]["tag"] == "B"
        assert invoke(lam, "fn")[1]["tag"] == "B"
        url_id = url_id.split("//")[1].split(".")[0]
        status, headers, _ = url_request(s, url_id)
        assert status == 201 and headers["x-fn"] == "A"
    finally:
        s.stop()


def test_routes_and_event_invoke_configs_on_qualified_functions(server, lam, tmp_path):
    out = tmp_path / "calls.jsonl"
    create(lam, Environment={"Variables": {"OUT": str(out)}}, Publish=True)
    lam.update_function_code(FunctionName="fn", ZipFile=code("B"))
    lam.get_waiter("function_updated_v2").wait(FunctionName="fn")
    lam.create_alias(FunctionName="fn", Name="live", FunctionVersion="1")
    # An HTTP API whose integration is the alias runs version 1.
    api = server.client("apigatewayv2").create_api(Name="a", ProtocolType="HTTP",
                                                    Target=ARN + "fn:live")
    req = urllib.request.Request(f"{server.http}/_api/{api['ApiId']}/hello", method="GET")
    with urllib.request.urlopen(req) as r:
        assert r.status == 201 and r.headers["x-fn"] == "A"
    assert json.loads(out.read_text().splitlines()[-1]) == {"version": "1", "arn": ARN + "fn:live"}
    # The event invoke config's FunctionArn is qualified only when the request was.
    c = lam.put_function_event_invoke_config(FunctionName="fn", MaximumRetryAttempts=0)
    assert c["FunctionArn"] == ARN + "fn"
    c = lam.get_function_event_invoke_config(FunctionName="fn", Qualifier="$LATEST")
    assert c["FunctionArn"] == ARN + "fn:$LATEST"
    # Asynchronous invocations of an alias run its version.
    lam.invoke(FunctionName="fn", Qualifier="live", InvocationType="Event", Payload=b"{}")
    wait_for(lambda: len(out.read_text().splitlines()) == 2)
    assert json.loads(out.read_text().splitlines()[-1]) == {"version": "1", "arn": ARN + "fn:live"}


def test_tracing_config_is_kept(lam):
    r = create(lam, TracingConfig={"Mode": "Active"})
    assert r["TracingConfig"] == {"Mode": "Active"}
    u = lam.update_function_configuration(FunctionName="fn", TracingConfig={"Mode": "PassThrough"})
    assert u["TracingConfig"] == {"Mode": "PassThrough"}
    assert error(lambda: lam.update_function_configuration(
        FunctionName="fn", TracingConfig={"Mode": "Loud"}))[:2] == ("ValidationException", 400)


def test_a_queue_mapped_to_an_alias_runs_its_version(server, lam, tmp_path):
    out = tmp_path / "calls.jsonl"
    create(lam, Environment={"Variables": {"OUT": str(out)}}, Publish=True)
    lam.update_function_code(FunctionName="fn", ZipFile=code("B"))
    lam.get_waiter("function_updated_v2").wait(FunctionName="fn")
    lam.create_alias(FunctionName="fn", Name="live", FunctionVersion="1")
    sqs = server.client("sqs")
    url = sqs.create_queue(QueueName="work", Attributes={"VisibilityTimeout": "30"})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"]
    m = lam.create_event_source_mapping(FunctionName="fn:live", EventSourceArn=arn, BatchSize=1)
    assert m["FunctionArn"] == ARN + "fn:live"
    assert error(lambda: lam.create_event_source_mapping(FunctionName="fn:nope",
                                                          EventSourceArn=arn))[:2] == \
        ("ResourceNotFoundException", 404)
    sqs.send_message(QueueUrl=url, MessageBody="hi")
    wait_for(lambda: out.exists() and out.read_text().strip())
    assert json.loads(out.read_text().splitlines()[0]) == {"version": "1", "arn": ARN + "fn:live"}


def test_a_functions_own_logs_count_into_its_groups_metric_filters(server, lam):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("app.py", "def handler(event, context):\n    print('ERROR boom')\n"
                             "    return 1\n")
    lam.create_function(FunctionName="noisy", Runtime="python3.11", Role=ROLE,
                        Handler="app.handler", Code={"ZipFile": buf.getvalue()})
    lam.get_waiter("function_active_v2").wait(FunctionName="noisy")
    server.client("logs").put_metric_filter(
        logGroupName="/aws/lambda/noisy", filterName="errors", filterPattern="ERROR",
        metricTransformations=[{"metricName": "Errors", "metricNamespace": "Fn",
                                "metricValue": "1"}])
    for _ in range(3):
        invoke(lam, "noisy")
    labels = {"group": "/aws/lambda/noisy", "filter": "errors", "namespace": "Fn",
              "metric": "Errors"}
    wait_for(lambda: server.metric("eddy_log_metric_filter_value_total", **labels) == 3.0)


SINK = '''
import base64, gzip, json, os

def handler(event, context):
    data = json.loads(gzip.decompress(base64.b64decode(event["awslogs"]["data"])))
    with open(os.environ["OUT"], "a") as f:
        f.write(json.dumps(data) + "\\n")
'''


def test_subscription_filters_deliver_logs_payloads(server, lam, tmp_path):
    """PutSubscriptionFilter to a function (CloudWatch Logs' gzip + base64 `awslogs` event, as
    the Lambda developer guide's "Using Lambda with CloudWatch Logs" shows it) and to a queue;
    events written by PutLogEvents and by another function's own output are delivered."""
    out = tmp_path / "sink.jsonl"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("app.py", SINK)
    lam.create_function(FunctionName="sink", Runtime="python3.11", Role=ROLE,
                        Handler="app.handler", Code={"ZipFile": buf.getvalue()},
                        Environment={"Variables": {"OUT": str(out)}})
    lam.get_waiter("function_active_v2").wait(FunctionName="sink")
    logs = server.client("logs")
    sqs = server.client("sqs")
    q = sqs.create_queue(QueueName="shipped")["QueueUrl"]
    q_arn = sqs.get_queue_attributes(QueueUrl=q, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"]
    logs.create_log_group(logGroupName="/app/sub")
    logs.create_log_stream(logGroupName="/app/sub", logStreamName="web")
    logs.put_subscription_filter(logGroupName="/app/sub", filterName="errors",
                                 filterPattern="ERROR", destinationArn=ARN + "sink")
    logs.put_subscription_filter(logGroupName="/app/sub", filterName="all",
                                 filterPattern="", destinationArn=q_arn)
    got = logs.describe_subscription_filters(logGroupName="/app/sub")["subscriptionFilters"]
    assert sorted(f["filterName"] for f in got) == ["all", "errors"]
    with pytest.raises(ClientError) as ex:
        logs.put_subscription_filter(logGroupName="/app/sub", filterName="third",
                                     filterPattern="", destinationArn=q_arn)
    assert ex.value.response["Error"]["Code"] == "LimitExceededException"
    with pytest.raises(ClientError) as ex:
        logs.put_subscription_filter(logGroupName="/app/sub", filterName="all",
                                     filterPattern="", destinationArn=ARN + "missing")
    assert ex.value.response["Error"]["Code"] == "InvalidParameterException"
    now = int(time.time() * 1000)
    logs.put_log_events(logGroupName="/app/sub", logStreamName="web", logEvents=[
        {"timestamp": now, "message": "ERROR disk"}, {"timestamp": now + 1, "message": "ok"}])
    wait_for(lambda: out.exists() and out.read_text().strip())
    data = json.loads(out.read_text().splitlines()[0])
    assert data["messageType"] == "DATA_MESSAGE" and data["owner"] == "123456789012"
    assert data["logGroup"] == "/app/sub" and data["logStream"] == "web"
    assert data["subscriptionFilters"] == ["errors"]
    assert [e["message"] for e in data["logEvents"]] == ["ERROR disk"]
    m = sqs.receive_message(QueueUrl=q, WaitTimeSeconds=5)["Messages"][0]
    shipped = json.loads(gzip.decompress(base64.b64decode(m["Body"])))
    assert [e["message"] for e in shipped["logEvents"]] == ["ERROR disk", "ok"]

    # A function's own logs, to the sink through its group's filter.
    zbuf = io.BytesIO()
    with zipfile.ZipFile(zbuf, "w") as z:
        z.writestr("app.py", "def handler(event, context):\n    print('ERROR from worker')\n")
    lam.create_function(FunctionName="worker", Runtime="python3.11", Role=ROLE,
                        Handler="app.handler", Code={"ZipFile": zbuf.getvalue()})
    lam.get_waiter("function_active_v2").wait(FunctionName="worker")
    logs.put_subscription_filter(logGroupName="/aws/lambda/worker", filterName="errors",
                                 filterPattern="ERROR", destinationArn=ARN + "sink")
    invoke(lam, "worker")
    wait_for(lambda: len(out.read_text().splitlines()) == 2, timeout=20)
    worker = json.loads(out.read_text().splitlines()[1])
    assert worker["logGroup"] == "/aws/lambda/worker"
    assert any("ERROR from worker" in e["message"] for e in worker["logEvents"])
    logs.delete_subscription_filter(logGroupName="/app/sub", filterName="errors")
    assert [f["filterName"] for f in logs.describe_subscription_filters(
        logGroupName="/app/sub")["subscriptionFilters"]] == ["all"]

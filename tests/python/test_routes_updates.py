"""API Gateway v2 beyond create and delete: UpdateIntegration, UpdateAuthorizer, UpdateStage,
tags on APIs and stages, and HTTP_PROXY integrations forwarding to a real HTTP backend.

Sources: botocore's `apigatewayv2/2018-11-29/service-2.json` (paths, members, status codes) and
AWS's HTTP API developer guide ("Working with HTTP proxy integrations", "Transforming API
requests and responses" for parameter mapping)."""

import http.server
import json
import threading

import pytest
from botocore.exceptions import ClientError

from test_routes import call, clients, server, web_function  # noqa: F401 (fixtures)

ACCOUNT = "123456789012"


def error(fn):
    with pytest.raises(ClientError) as e:
        fn()
    r = e.value.response
    return r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"], r["Error"]["Message"]


def test_updates_and_tags(server, clients):  # noqa: F811
    apigw, lam = clients
    arn = web_function(lam)
    api = apigw.create_api(Name="a", ProtocolType="HTTP", Tags={"team": "x"})
    api_id = api["ApiId"]
    i = apigw.create_integration(ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=arn,
                                 PayloadFormatVersion="2.0")
    u = apigw.update_integration(ApiId=api_id, IntegrationId=i["IntegrationId"],
                                 TimeoutInMillis=5000, Description="slow backend")
    assert u["TimeoutInMillis"] == 5000 and u["Description"] == "slow backend"
    assert u["IntegrationUri"] == arn and u["PayloadFormatVersion"] == "2.0"
    assert apigw.get_integration(ApiId=api_id, IntegrationId=i["IntegrationId"])[
        "TimeoutInMillis"] == 5000
    assert error(lambda: apigw.update_integration(ApiId=api_id, IntegrationId="nope",
                                                  TimeoutInMillis=100)) == (
        "NotFoundException", 404, f"Invalid Integration identifier specified {ACCOUNT}:nope")
    assert error(lambda: apigw.update_integration(ApiId=api_id, IntegrationId=i["IntegrationId"],
                                                  TimeoutInMillis=40000))[:2] == \
        ("BadRequestException", 400)

    a = apigw.create_authorizer(ApiId=api_id, Name="auth", AuthorizerType="REQUEST",
                                AuthorizerUri=arn, IdentitySource=["$request.header.x-token"],
                                AuthorizerPayloadFormatVersion="2.0",
                                AuthorizerResultTtlInSeconds=60)
    ua = apigw.update_authorizer(ApiId=api_id, AuthorizerId=a["AuthorizerId"], Name="renamed",
                                 AuthorizerResultTtlInSeconds=0,
                                 AuthorizerCredentialsArn=f"arn:aws:iam::{ACCOUNT}:role/r")
    assert ua["Name"] == "renamed" and ua["AuthorizerResultTtlInSeconds"] == 0
    assert ua["AuthorizerUri"] == arn and ua["IdentitySource"] == ["$request.header.x-token"]
    assert ua["AuthorizerCredentialsArn"] == f"arn:aws:iam::{ACCOUNT}:role/r"
    assert error(lambda: apigw.update_authorizer(ApiId=api_id, AuthorizerId="zz", Name="x")) == (
        "NotFoundException", 404, f"Invalid Authorizer identifier specified {ACCOUNT}:zz")

    s = apigw.create_stage(ApiId=api_id, StageName="prod", StageVariables={"v": "1"})
    assert s["DefaultRouteSettings"]["DetailedMetricsEnabled"] is False
    group = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:access"
    us = apigw.update_stage(ApiId=api_id, StageName="prod", Description="live",
                            StageVariables={"v": "2"},
                            AccessLogSettings={"DestinationArn": group,
                                               "Format": "$context.requestId"},
                            DefaultRouteSettings={"DetailedMetricsEnabled": True,
                                                  "ThrottlingBurstLimit": 10,
                                                  "ThrottlingRateLimit": 5.0})
    assert us["Description"] == "live" and us["StageVariables"] == {"v": "2"}
    assert us["AccessLogSettings"] == {"DestinationArn": group, "Format": "$context.requestId"}
    assert us["DefaultRouteSettings"] == {"DetailedMetricsEnabled": True,
                                          "ThrottlingBurstLimit": 10, "ThrottlingRateLimit": 5.0}
    assert us["LastUpdatedDate"] >= s["CreatedDate"]
    assert apigw.get_stage(ApiId=api_id, StageName="prod")["StageVariables"] == {"v": "2"}
    assert error(lambda: apigw.update_stage(ApiId=api_id, StageName="dev", Description="x")) == (
        "NotFoundException", 404, f"Invalid Stage identifier specified {ACCOUNT}:dev")

    api_arn = f"arn:aws:apigateway:us-east-1::/apis/{api_id}"
    assert apigw.get_tags(ResourceArn=api_arn)["Tags"] == {"team": "x"}
    apigw.tag_resource(ResourceArn=api_arn, Tags={"env": "dev"})
    assert apigw.get_tags(ResourceArn=api_arn)["Tags"] == {"team": "x", "env": "dev"}
    apigw.untag_resource(ResourceArn=api_arn, TagKeys=["team"])
    assert apigw.get_tags(ResourceArn=api_arn)["Tags"] == {"env": "dev"}
    assert apigw.get_api(ApiId=api_id)["Tags"] == {"env": "dev"}
    stage_arn = f"{api_arn}/stages/prod"
    apigw.tag_resource(ResourceArn=stage_arn, Tags={"tier": "1"})
    assert apigw.get_tags(ResourceArn=stage_arn)["Tags"] == {"tier": "1"}
    assert apigw.get_stage(ApiId=api_id, StageName="prod")["Tags"] == {"tier": "1"}
    assert error(lambda: apigw.get_tags(
        ResourceArn="arn:aws:apigateway:us-east-1::/apis/missing"))[:2] == \
        ("NotFoundException", 404)


class Backend(http.server.BaseHTTPRequestHandler):
    """Answers every request with what it received, as JSON, status 218."""

    def _answer(self):
        if self.path.startswith("/backend/redirect"):
            self.send_response(302)
            self.send_header("location", "/elsewhere")
            self.send_header("content-length", "0")
            self.end_headers()
            return
        n = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(n).decode() if n else ""
        out = json.dumps({"method": self.command, "path": self.path,
                          "headers": {k.lower(): v for k, v in self.headers.items()},
                          "body": body}).encode()
        self.send_response(218)
        self.send_header("content-type", "application/json")
        self.send_header("x-backend", "yes")
        self.send_header("content-length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    do_GET = do_POST = do_PUT = do_DELETE = _answer

    def log_message(self, *args):
        pass


@pytest.fixture
def backend():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Backend)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()


def test_http_proxy_integration(server, clients, backend):  # noqa: F811
    apigw, _ = clients
    api_id = apigw.create_api(Name="p", ProtocolType="HTTP")["ApiId"]
    i = apigw.create_integration(
        ApiId=api_id, IntegrationType="HTTP_PROXY", IntegrationMethod="ANY",
        IntegrationUri=backend + "/backend/{proxy}", PayloadFormatVersion="1.0",
        RequestParameters={"append:header.x-item": "$request.path.proxy",
                           "overwrite:querystring.fixed": "yes",
                           "remove:header.x-secret": "''"})
    assert i["IntegrationType"] == "HTTP_PROXY" and i["IntegrationMethod"] == "ANY"
    apigw.create_route(ApiId=api_id, RouteKey="ANY /items/{proxy+}",
                       Target=f"integrations/{i['IntegrationId']}")
    apigw.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
    status, headers, body = call(server, "POST", f"/_api/{api_id}/items/7/toys?a=1",
                                 body=b'{"x": 1}',
                                 headers={"content-type": "application/json",
                                          "x-secret": "s", "x-keep": "k"})
    assert status == 218 and headers["x-backend"] == "yes"
    seen = json.loads(body)
    assert seen["method"] == "POST"
    assert seen["path"] == "/backend/7/toys?a=1&fixed=yes"
    assert seen["body"] == '{"x": 1}'
    assert seen["headers"]["x-item"] == "7/toys" and seen["headers"]["x-keep"] == "k"
    assert "x-secret" not in seen["headers"]
    assert seen["headers"]["x-forwarded-for"] == "127.0.0.1"
    # A parameter stays one path segment: decoded `?` is escaped again, `..` is refused.
    status, _, body = call(server, "GET", f"/_api/{api_id}/items/a%3Fadmin%3D1")
    assert status == 218 and json.loads(body)["path"] == "/backend/a%3Fadmin%3D1?fixed=yes"
    assert call(server, "GET", f"/_api/{api_id}/items/..%2F..%2Fetc")[0] == 400
    # The backend's redirect is the caller's to follow.
    status, headers, _ = call(server, "GET", f"/_api/{api_id}/items/redirect")
    assert status == 302 and headers["location"] == "/elsewhere"
    # A backend that is not there is a 500; a refused address is never contacted.
    apigw.update_integration(ApiId=api_id, IntegrationId=i["IntegrationId"],
                             IntegrationUri="http://127.0.0.1:9/{proxy}")
    assert call(server, "GET", f"/_api/{api_id}/items/1")[0] == 500
    apigw.update_integration(ApiId=api_id, IntegrationId=i["IntegrationId"],
                             IntegrationUri="http://169.254.169.254/latest/meta-data")
    assert call(server, "GET", f"/_api/{api_id}/items/1")[0] == 500
    # Bad URIs and mapping keys are refused when the integration is made.
    assert error(lambda: apigw.create_integration(ApiId=api_id, IntegrationType="HTTP_PROXY",
                                                  IntegrationMethod="GET",
                                                  IntegrationUri="ftp://x"))[:2] == \
        ("BadRequestException", 400)
    assert error(lambda: apigw.create_integration(
        ApiId=api_id, IntegrationType="HTTP_PROXY", IntegrationMethod="GET",
        IntegrationUri=backend, RequestParameters={"rewrite:body": "x"}))[:2] == \
        ("BadRequestException", 400)


def test_named_stages_serve_their_paths(server, clients):  # noqa: F811
    """A stage named `prod` serves `/prod/...` with its own stage variables (API Gateway's stage
    URLs); `$default` serves the rest."""
    apigw, lam = clients
    arn = web_function(lam)
    api_id = apigw.create_api(Name="s", ProtocolType="HTTP", Target=arn,
                              RouteKey="GET /items")["ApiId"]
    apigw.update_stage(ApiId=api_id, StageName="$default", StageVariables={"env": "default"})
    apigw.create_stage(ApiId=api_id, StageName="prod", StageVariables={"env": "prod"})
    status, _, body = call(server, "GET", f"/_api/{api_id}/prod/items")
    assert status == 200, body
    event = json.loads(body)
    assert event["requestContext"]["stage"] == "prod"
    assert event["stageVariables"] == {"env": "prod"}
    status, _, body = call(server, "GET", f"/_api/{api_id}/items")
    assert status == 200 and json.loads(body)["requestContext"]["stage"] == "$default"
    assert json.loads(body)["stageVariables"] == {"env": "default"}
    assert call(server, "GET", f"/_api/{api_id}/dev/items")[0] == 404

"""HTTP routes with boto3's `apigatewayv2` client: quick create with a function target, routes,
integrations (function, bus, queue), authorizers and stages, then plain HTTP calls to the routes
listener through `/_api/{apiId}` and through the Host header `{apiId}.execute-api.localhost`."""

import http.client
import json
import shutil
import tempfile
import urllib.parse

import pytest
from botocore.exceptions import ClientError

from conftest import Eddy
from test_lambda import ROLE, rust_zip


@pytest.fixture(scope="module")
def server():
    d = tempfile.mkdtemp(prefix="eddy-routes-")
    s = Eddy(d, ["--function-user", "current"]).start()
    yield s
    s.stop()
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def clients(server):
    status, _, _ = server.post("/moto-api/reset")
    assert status == 200
    return server.client("apigatewayv2"), server.client("lambda")


def call(server, method, path, body=None, headers=None):
    """One request to the routes listener; returns (status, headers, body bytes)."""
    u = urllib.parse.urlparse(server.http)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=20)
    conn.request(method, path, body=body, headers=headers or {})
    r = conn.getresponse()
    out = r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    conn.close()
    return out


def web_function(lam, name="web", handler="http"):
    arn = lam.create_function(FunctionName=name, Runtime="provided.al2023", Role=ROLE,
                              Handler=handler, Code={"ZipFile": rust_zip()})["FunctionArn"]
    return arn


def test_quick_create_and_call_through_path_prefix_and_host(server, clients):
    apigw, lam = clients
    arn = web_function(lam)
    api = apigw.create_api(Name="quick", ProtocolType="HTTP", Target=arn,
                           RouteKey="ANY /items/{id}")
    assert api["ResponseMetadata"]["HTTPStatusCode"] == 201
    api_id = api["ApiId"]
    port = urllib.parse.urlparse(server.http).port
    assert api["ApiEndpoint"] == f"http://{api_id}.execute-api.localhost:{port}"
    assert api["ProtocolType"] == "HTTP"
    assert apigw.get_api(ApiId=api_id)["Name"] == "quick"
    assert [a["ApiId"] for a in apigw.get_apis()["Items"]] == [api_id]
    routes = apigw.get_routes(ApiId=api_id)["Items"]
    assert [r["RouteKey"] for r in routes] == ["ANY /items/{id}"]
    integ = apigw.get_integrations(ApiId=api_id)["Items"][0]
    assert integ["IntegrationType"] == "AWS_PROXY" and integ["PayloadFormatVersion"] == "2.0"
    assert apigw.get_stages(ApiId=api_id)["Items"][0]["StageName"] == "$default"

    status, headers, body = call(server, "POST", f"/_api/{api_id}/items/42?q=1&q=2",
                                 body=b'{"n": 1}',
                                 headers={"Content-Type": "application/json", "Cookie": "a=1; b=2",
                                          "X-Status": "201"})
    assert status == 201, body
    event = json.loads(body)
    assert event["version"] == "2.0"
    assert event["rawPath"] == "/items/42"
    assert event["pathParameters"] == {"id": "42"}
    assert event["queryStringParameters"] == {"q": "1,2"}
    assert event["cookies"] == ["a=1", "b=2"]
    assert event["requestContext"]["http"]["method"] == "POST"
    assert event["requestContext"]["apiId"] == api_id
    assert "apigw-requestid" in headers
    assert server.metric("eddy_http_requests_total", api=api_id, route="ANY /items/{id}",
                         status="201") == 1

    # The Host header form: what a client using ApiEndpoint sends.
    status, _, body = call(server, "GET", "/items/7",
                           headers={"Host": f"{api_id}.execute-api.localhost:{port}"})
    assert status == 200
    assert json.loads(body)["pathParameters"] == {"id": "7"}

    status, _, body = call(server, "GET", f"/_api/{api_id}/nope")
    assert (status, json.loads(body)) == (404, {"message": "Not Found"})

    apigw.delete_api(ApiId=api_id)
    status, _, _ = call(server, "GET", f"/_api/{api_id}/items/1")
    assert status == 404


def test_routes_integrations_authorizers_and_errors(server, clients):
    apigw, lam = clients
    arn = web_function(lam)
    gate = web_function(lam, "gate", "authorizer")
    api_id = apigw.create_api(Name="shop", ProtocolType="HTTP")["ApiId"]
    fn = apigw.create_integration(ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=arn,
                                  PayloadFormatVersion="1.0")
    assert fn["PayloadFormatVersion"] == "1.0"
    auth = apigw.create_authorizer(
        ApiId=api_id, Name="gate", AuthorizerType="REQUEST",
        AuthorizerUri=f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{gate}/invocations",
        IdentitySource=["$request.header.Authorization"], AuthorizerPayloadFormatVersion="2.0",
        EnableSimpleResponses=True, AuthorizerResultTtlInSeconds=0)
    assert apigw.get_authorizers(ApiId=api_id)["Items"][0]["Name"] == "gate"
    route = apigw.create_route(ApiId=api_id, RouteKey="GET /v1/{proxy+}",
                               Target=f"integrations/{fn['IntegrationId']}",
                               AuthorizationType="CUSTOM", AuthorizerId=auth["AuthorizerId"])
    assert apigw.get_route(ApiId=api_id, RouteId=route["RouteId"])["RouteKey"] == "GET /v1/{proxy+}"

    status, _, body = call(server, "GET", f"/_api/{api_id}/v1/a/b", headers={"Authorization": "allow"})
    assert status == 200, body
    event = json.loads(body)
    assert event["version"] == "1.0" and event["pathParameters"] == {"proxy": "a/b"}
    assert event["requestContext"]["authorizer"]["user"] == "u1"
    status, _, _ = call(server, "GET", f"/_api/{api_id}/v1/a", headers={"Authorization": "deny"})
    assert status == 403

    # Errors in AWS's shapes.
    with pytest.raises(ClientError) as e:
        apigw.create_route(ApiId=api_id, RouteKey="GET /v1/{other+}")
    assert e.value.response["Error"]["Code"] == "ConflictException"
    with pytest.raises(ClientError) as e:
        apigw.get_api(ApiId="missing")
    assert e.value.response["Error"]["Code"] == "NotFoundException"
    with pytest.raises(ClientError) as e:
        apigw.create_route(ApiId=api_id, RouteKey="GET no-slash")
    assert e.value.response["Error"]["Code"] == "BadRequestException"

    apigw.delete_route(ApiId=api_id, RouteId=route["RouteId"])
    assert apigw.get_routes(ApiId=api_id)["Items"] == []


def test_bus_route_event_reaches_a_queue(server, clients):
    apigw, _ = clients
    sqs = server.client("sqs")
    events = server.client("events")
    url = sqs.create_queue(QueueName="orders")["QueueUrl"]
    events.put_rule(Name="orders", EventPattern=json.dumps({"source": ["shop"]}))
    events.put_targets(Rule="orders", Targets=[
        {"Id": "q", "Arn": "arn:aws:sqs:us-east-1:123456789012:orders"}])
    api_id = apigw.create_api(Name="events", ProtocolType="HTTP")["ApiId"]
    integ = apigw.create_integration(
        ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationSubtype="EventBridge-PutEvents",
        PayloadFormatVersion="1.0",
        RequestParameters={"Source": "shop", "DetailType": "OrderPlaced",
                           "Detail": "$request.body"})
    apigw.create_route(ApiId=api_id, RouteKey="POST /orders",
                       Target=f"integrations/{integ['IntegrationId']}")
    status, _, body = call(server, "POST", f"/_api/{api_id}/orders", body=b'{"order": 1}',
                           headers={"Content-Type": "application/json"})
    assert status == 202, body
    event_id = json.loads(body)["eventId"]
    msgs = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=5)["Messages"]
    event = json.loads(msgs[0]["Body"])
    assert event["id"] == event_id and event["detail"] == {"order": 1}
    status, _, _ = call(server, "POST", f"/_api/{api_id}/orders", body=b"not json")
    assert status == 400


def test_aws_cli_quick_create_and_curl(server, clients):
    from test_wire import aws_cli
    _, lam = clients
    arn = web_function(lam, "cli-fn", "simple")
    code, out, err = aws_cli(server, "apigatewayv2", "create-api", "--name", "cli",
                             "--protocol-type", "HTTP", "--target", arn)
    assert code == 0, err
    api = json.loads(out)
    code, out, err = aws_cli(server, "apigatewayv2", "get-apis")
    assert code == 0, err
    assert [a["ApiId"] for a in json.loads(out)["Items"]] == [api["ApiId"]]
    # Quick create without RouteKey: the $default route answers every path.
    host = urllib.parse.urlparse(api["ApiEndpoint"]).netloc
    status, headers, body = call(server, "GET", "/anything/at/all", headers={"Host": host})
    assert (status, json.loads(body)) == (200, {"hello": "world"})
    assert headers["content-type"] == "application/json"
    code, _, err = aws_cli(server, "apigatewayv2", "delete-api", "--api-id", api["ApiId"])
    assert code == 0, err

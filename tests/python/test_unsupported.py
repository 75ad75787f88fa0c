"""What eddy does not serve fails in the request's own protocol, so the real clients report it
as an AWS error naming the service and the operation (not a response they cannot parse); and
the oldest SDKs work against it: the oldest that speaks every protocol as today's SDKs do, and
the last one that speaks SQS in the query protocol.

The oldest-SDK tests install pinned old boto3 and botocore releases from PyPI into
`.venv-oldest/` at the repository root (once; gitignored) and run a script with them against a
running eddy."""

import json
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request

import pytest
from botocore.exceptions import ClientError

from conftest import AUTHORIZATION, ROOT, aws_cli

# The oldest boto3 that speaks every protocol as today's SDKs do: SQS's AWS JSON 1.0 protocol
# arrived for good in boto3/botocore 1.34.90 (EventBridge and CloudWatch Logs are JSON 1.1,
# Lambda, Scheduler and API Gateway v2 rest-json, in every release since each service appeared).
OLDEST_BOTO3 = "1.34.90"
# The newest boto3 that still sends SQS requests in the query protocol (which eddy serves too).
LAST_SQS_QUERY_BOTO3 = "1.34.89"


def client_error(call):
    with pytest.raises(ClientError) as e:
        call()
    return e.value.response["Error"]["Code"], e.value.response["Error"]["Message"], e.value


def test_unserved_query_services_are_answered_in_the_query_protocol(eddy):
    code, message, e = client_error(lambda: eddy.client("iam").list_users())
    assert code == "InvalidAction"
    assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert message.startswith("eddy does not implement IAM (ListUsers) yet; it serves EventBridge")
    assert e.response["ResponseMetadata"]["RequestId"]


def test_unserved_sns_actions_name_the_action(eddy):
    code, message, e = client_error(lambda: eddy.client("sns").list_platform_applications())
    assert code == "InvalidAction"
    assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert message.startswith(
        "eddy does not implement the SNS operation ListPlatformApplications yet")


def test_sts_is_answered_in_the_query_protocol(eddy):
    code, message, _ = client_error(lambda: eddy.client("sts").get_caller_identity())
    assert code == "InvalidAction"
    assert "eddy does not implement STS (GetCallerIdentity)" in message


def test_an_s3_operation_eddy_does_not_serve_is_answered_in_s3s_words(eddy):
    s3 = eddy.client("s3")
    s3.create_bucket(Bucket="unserved")
    code, _, e = client_error(lambda: s3.get_bucket_website(Bucket="unserved"))
    assert code == "NotImplemented"
    assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 501
    s3.delete_bucket(Bucket="unserved")


def test_an_unknown_json_service_names_itself(eddy):
    code, message, _ = client_error(lambda: eddy.client("stepfunctions").list_state_machines())
    assert code == "UnknownOperationException"
    assert message.startswith(
        "eddy does not implement Step Functions (AWSStepFunctions.ListStateMachines) yet")


def test_an_unknown_rest_json_service_names_itself(eddy):
    code, message, e = client_error(lambda: eddy.client("iot").list_things())
    assert code == "UnknownOperationException"
    assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert message.startswith("eddy does not implement IoT (GET /things) yet")


def test_unknown_operations_of_served_services_name_both(eddy):
    status, _, body = eddy.aws_call("AWSEvents.NoSuchOp", {})
    assert status == 400 and body["__type"] == "UnknownOperationException"
    assert body["message"].startswith(
        "eddy does not implement the EventBridge operation AWSEvents.NoSuchOp yet")
    status, _, raw = eddy.post("/", b"{}", {"X-Amz-Target": "AmazonSQS.NoSuchOp",
                                             "Content-Type": "application/x-amz-json-1.0"})
    assert status == 400
    assert json.loads(raw)["message"].startswith(
        "eddy does not implement the SQS operation AmazonSQS.NoSuchOp yet")
    req = urllib.request.Request(eddy.aws + "/2015-03-31/nope", headers={
        "Authorization": AUTHORIZATION.replace("/events/", "/lambda/")})
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req)
    assert e.value.code == 404
    assert json.loads(e.value.read())["message"].startswith(
        "eddy does not implement the Lambda operation GET /2015-03-31/nope yet")


def test_unsupported_requests_count_as_unknown(eddy):
    before = eddy.metric("eddy_aws_requests_total", operation="unknown", outcome="InvalidAction")
    client_error(lambda: eddy.client("sts").get_caller_identity())
    after = eddy.metric("eddy_aws_requests_total", operation="unknown", outcome="InvalidAction")
    assert after == before + 1
    assert eddy.metric("eddy_aws_requests_total", operation="GetCallerIdentity") == 0


def test_query_action_text_is_escaped_and_bounded(eddy):
    action = "<x>&" + "A" * 500
    form = urllib.parse.urlencode({"Action": action, "Version": "2010-03-31"}).encode()
    status, headers, raw = eddy.post("/", form, {
        "Content-Type": "application/x-www-form-urlencoded",
        "Authorization": AUTHORIZATION.replace("/events/", "/sns/")})
    assert status == 400
    assert {k.lower(): v for k, v in headers.items()}["content-type"] == "text/xml"
    text = raw.decode()
    assert "&lt;x&gt;&amp;" in text and "<x>" not in text
    assert len(text) < 1200


@pytest.mark.parametrize("args, words", [
    (["iam", "list-users"], "(InvalidAction) when calling the ListUsers operation: eddy does "
                            "not implement IAM (ListUsers)"),
    (["s3api", "get-bucket-website", "--bucket", "none-such"], "(NotImplemented) when calling the "
                                                                "GetBucketWebsite operation"),
    (["stepfunctions", "list-state-machines"], "eddy does not implement Step Functions"),
])
def test_the_aws_cli_prints_the_message(eddy, args, words):
    code, _, err = aws_cli(eddy, *args)
    assert code != 0
    assert words in err, err
    assert "parse" not in err.lower()


# The oldest supported SDK.

def old_boto3(version):
    """The python of a virtualenv under `.venv-oldest/` holding boto3 `version`, made once."""
    home = os.path.join(ROOT, ".venv-oldest", f"boto3-{version}")
    python = os.path.join(home, "bin", "python")
    marker = os.path.join(home, "installed")
    if os.path.exists(marker):
        return python
    # A half-made one (an interrupted install) is made again.
    shutil.rmtree(home, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", home], check=True)
    out = subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         f"boto3=={version}", f"botocore=={version}"],
        capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, f"cannot install boto3 and botocore {version} from PyPI: {out.stderr}"
    open(marker, "w").close()
    return python


def run_with(python, eddy, script):
    out = subprocess.run([python, "-c", script, eddy.aws], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


CLIENT = """
import json, sys, time
import boto3, botocore
from botocore.config import Config
from botocore.exceptions import ClientError

def client(service):
    return boto3.client(service, endpoint_url=sys.argv[1], region_name="us-east-1",
                        aws_access_key_id="test", aws_secret_access_key="test",
                        config=Config(retries={"max_attempts": 1}))
"""

SMOKE = CLIENT + """
events, sqs = client("events"), client("sqs")
url = sqs.create_queue(QueueName="oldest-sdk")["QueueUrl"]
arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
events.put_rule(Name="oldest-sdk", EventPattern=json.dumps({"source": ["oldest.sdk"]}))
events.put_targets(Rule="oldest-sdk", Targets=[{"Id": "q", "Arn": arn}])
put = events.put_events(Entries=[{"Source": "oldest.sdk", "DetailType": "t", "Detail": "{}"}])
assert put["FailedEntryCount"] == 0, put
sqs.send_message(QueueUrl=url, MessageBody="direct")
seen, deadline = set(), time.time() + 15
while len(seen) < 2 and time.time() < deadline:
    for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                 WaitTimeSeconds=1).get("Messages", []):
        seen.add("direct" if m["Body"] == "direct" else json.loads(m["Body"])["source"])
        sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
assert seen == {"direct", "oldest.sdk"}, seen
assert "Functions" in client("lambda").list_functions()
assert "Schedules" in client("scheduler").list_schedules()
assert "logGroups" in client("logs").describe_log_groups()
assert "Items" in client("apigatewayv2").get_apis()
print(boto3.__version__, botocore.__version__)
"""


def test_the_oldest_supported_boto3_speaks_every_served_protocol(eddy):
    eddy.post("/moto-api/reset")
    out = run_with(old_boto3(OLDEST_BOTO3), eddy, SMOKE)
    assert out.split() == [OLDEST_BOTO3, OLDEST_BOTO3]


SQS_QUERY = CLIENT + """
sqs = client("sqs")
assert sqs.meta.service_model.protocol == "query", sqs.meta.service_model.protocol
url = sqs.create_queue(QueueName="query-sdk")["QueueUrl"]
assert sqs.list_queues()["QueueUrls"] == [url]
sqs.send_message(QueueUrl=url, MessageBody="over the query protocol")
[m] = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"]
sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
try:
    sqs.get_queue_url(QueueName="missing")
except sqs.exceptions.QueueDoesNotExist as e:
    error = e.response["Error"]
else:
    raise SystemExit("get_queue_url found a missing queue")
print(json.dumps({"body": m["Body"], "error": error}))
"""


def test_an_sdk_speaking_sqs_query_works_too(eddy):
    """SDKs older than the oldest that speaks every protocol eddy serves differ only in SQS,
    which they speak in the query protocol: eddy serves that too (see test_sqs_query.py)."""
    eddy.post("/moto-api/reset")
    out = json.loads(run_with(old_boto3(LAST_SQS_QUERY_BOTO3), eddy, SQS_QUERY))
    assert out["body"] == "over the query protocol"
    assert out["error"]["Code"] == "AWS.SimpleQueueService.NonExistentQueue"
    assert out["error"]["Message"] == "The specified queue does not exist."

"""Functions through the Lambda API with boto3 and the aws CLI: an unmodified Rust function
(built on the official `lambda_runtime` crate) and an unmodified Python function run through the
official `awslambdaric` runtime client, as warm local processes."""

import base64
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile

import pytest
from botocore.exceptions import ClientError

from conftest import Eddy, eddy_bin

ROLE = "arn:aws:iam::123456789012:role/lambda-role"


def function_bin():
    path = os.environ.get("EDDY_TEST_FUNCTION") or os.path.join(
        os.path.dirname(eddy_bin()), "eddy-test-function")
    if not os.path.exists(path):
        raise RuntimeError(f"test function not found at {path}: run `cargo build --workspace`")
    return path


def rust_zip():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        info = zipfile.ZipInfo("bootstrap")
        info.external_attr = (0o100755 << 16)
        with open(function_bin(), "rb") as f:
            z.writestr(info, f.read())
    return buf.getvalue()


PY_APP = '''
import json, os, time

def handler(event, context):
    if event.get("fail"):
        raise ValueError("python failed on purpose")
    if event.get("sleep"):
        time.sleep(event["sleep"])
    print("hello from python", event.get("n"))
    return {"python": True, "event": event, "request_id": context.aws_request_id,
            "remaining_ms": context.get_remaining_time_in_millis(),
            "function_name": context.function_name, "env": os.environ.get("MY_SETTING")}
'''


def py_zip(source=PY_APP):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("app.py", source)
    return buf.getvalue()


@pytest.fixture(scope="module")
def lam_server():
    d = tempfile.mkdtemp(prefix="eddy-lambda-")
    server = Eddy(d, ["--python", sys.executable, "--function-user", "current"]).start()
    yield server
    server.stop()
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def lam(lam_server):
    status, _, _ = lam_server.post("/moto-api/reset")
    assert status == 200
    return lam_server.client("lambda")


def create_rust(lam, name="echo", handler="echo", **extra):
    return lam.create_function(FunctionName=name, Runtime="provided.al2023", Role=ROLE,
                               Handler=handler, Code={"ZipFile": rust_zip()}, **extra)


def invoke(lam, name, payload, **kw):
    r = lam.invoke(FunctionName=name, Payload=json.dumps(payload).encode(), **kw)
    body = r["Payload"].read()
    return r, json.loads(body) if body else None


def test_create_get_list_update_delete(lam):
    zipped = rust_zip()
    r = create_rust(lam, Environment={"Variables": {"MY_SETTING": "on"}}, Timeout=5, MemorySize=256)
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert r["FunctionArn"] == "arn:aws:lambda:us-east-1:123456789012:function:echo"
    assert r["State"] == "Active" and r["Version"] == "$LATEST"
    assert r["Timeout"] == 5 and r["MemorySize"] == 256
    assert r["CodeSize"] == len(zipped)
    import hashlib
    assert r["CodeSha256"] == base64.b64encode(hashlib.sha256(zipped).digest()).decode()
    lam.get_waiter("function_active_v2").wait(FunctionName="echo")
    g = lam.get_function(FunctionName="echo")
    assert g["Configuration"]["Environment"]["Variables"] == {"MY_SETTING": "on"}
    assert g["Code"]["RepositoryType"] == "S3"
    assert [f["FunctionName"] for f in lam.list_functions()["Functions"]] == ["echo"]
    c = lam.update_function_configuration(FunctionName="echo", Timeout=9,
                                          Environment={"Variables": {"MY_SETTING": "off"}})
    assert c["Timeout"] == 9 and c["RevisionId"] != r["RevisionId"]
    _, body = invoke(lam, "echo", {"a": 1})
    assert body["env"]["MY_SETTING"] == "off"
    lam.delete_function(FunctionName="echo")
    with pytest.raises(ClientError) as e:
        lam.get_function(FunctionName="echo")
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert e.value.response["Error"]["Message"] == \
        "Function not found: arn:aws:lambda:us-east-1:123456789012:function:echo"


def test_create_errors(lam):
    create_rust(lam)
    with pytest.raises(ClientError) as e:
        create_rust(lam)
    assert e.value.response["Error"]["Code"] == "ResourceConflictException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    with pytest.raises(ClientError) as e:
        create_rust(lam, name="e2", Environment={"Variables": {"AWS_REGION": "x"}})
    assert e.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert "Reserved keys used in this request: AWS_REGION" in e.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as e:
        create_rust(lam, name="e3", Timeout=901)
    assert e.value.response["Error"]["Code"] == "ValidationException"
    assert "Member must have value less than or equal to 900" in e.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as e:
        lam.create_function(FunctionName="e4", Runtime="nodejs22.x", Role=ROLE, Handler="x",
                            Code={"ZipFile": rust_zip()})
    assert e.value.response["Error"]["Code"] == "InvalidParameterValueException"
    with pytest.raises(ClientError) as e:
        lam.create_function(FunctionName="e5", Runtime="provided.al2023", Role=ROLE, Handler="x",
                            Code={"ZipFile": b"not a zip"})
    assert e.value.response["Error"]["Code"] == "InvalidParameterValueException"
    with pytest.raises(ClientError) as e:
        lam.create_function(FunctionName="e6", Runtime="provided.al2023", Role="nope",
                            Handler="x", Code={"ZipFile": rust_zip()})
    assert e.value.response["Error"]["Code"] == "ValidationException"
    names = [f["FunctionName"] for f in lam.list_functions()["Functions"]]
    assert names == ["echo"], "failed creates must change nothing"


def zip_entries(*entries):
    """A zip of (name, bytes, unix mode) entries."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data, mode in entries:
            info = zipfile.ZipInfo(name)
            info.create_system = 3
            info.external_attr = mode << 16
            z.writestr(info, data)
    return buf.getvalue()


def test_a_refused_zip_says_which_entry_and_why(lam):
    """A zip Lambda cannot unzip is InvalidParameterValueException (400) with AWS's sentence (as
    real calls answer it: CloudTrail and SDK errors quoted in aws-samples/aws-rds-snapshot-
    management#4, boto/boto3#488), and eddy adds the entry and the reason, on CreateFunction
    and UpdateFunctionCode alike."""
    aws = "Could not unzip uploaded file. Please check your file, then try to upload again."

    def refused(call, **kw):
        with pytest.raises(ClientError) as e:
            call(**kw)
        r = e.value.response
        assert r["Error"]["Code"] == "InvalidParameterValueException"
        assert r["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert r["Error"]["Message"].startswith(aws + " (")
        return r["Error"]["Message"][len(aws) + 2:-1]

    def create(code):
        return lam.create_function(FunctionName="z", Runtime="provided.al2023", Role=ROLE,
                                   Handler="echo", Code={"ZipFile": code})

    reason = refused(create, code=zip_entries(("ok.txt", b"x", 0o100644),
                                              ("../../etc/evil", b"x", 0o100644)))
    assert reason.startswith("entry `../../etc/evil` has an unsafe path"), reason
    reason = refused(create, code=zip_entries(("link", b"/etc/passwd", 0o120777)))
    assert reason == "entry `link` is a symbolic link; function code cannot hold links"
    reason = refused(create, code=b"PK\x03\x04 not really a zip")
    assert reason.startswith("the file is not a zip archive: "), reason
    assert lam.list_functions()["Functions"] == [], "refused code must create nothing"

    create_rust(lam, name="z")
    reason = refused(lam.update_function_code, FunctionName="z",
                     ZipFile=zip_entries(("a", b"x", 0o100644), ("a/b", b"y", 0o100644)))
    assert reason.startswith("entry `a/b` cannot be unpacked: another entry is in its way"), reason
    # The function still runs its previous code.
    _, body = invoke(lam, "z", {"still": "here"})
    assert body["event"] == {"still": "here"}


def test_invoke_sync_headers_and_log_tail(lam):
    create_rust(lam)
    ctx = base64.b64encode(json.dumps({"custom": {"k": "v"}, "env": {}}).encode()).decode()
    r, body = invoke(lam, "echo", {"hello": "world"}, LogType="Tail", ClientContext=ctx)
    assert r["StatusCode"] == 200 and "FunctionError" not in r
    assert r["ExecutedVersion"] == "$LATEST"
    assert body["event"] == {"hello": "world"}
    assert body["context"]["client_context"]["custom"] == {"k": "v"}
    assert body["env"]["AWS_LAMBDA_FUNCTION_NAME"] == "echo"
    assert body["env"]["AWS_ENDPOINT_URL"] == os.environ.get("X", body["env"]["AWS_ENDPOINT_URL"])
    log = base64.b64decode(r["LogResult"]).decode()
    rid = r["ResponseMetadata"]["RequestId"]
    assert f"START RequestId: {rid} Version: $LATEST" in log
    assert f"END RequestId: {rid}" in log and f"REPORT RequestId: {rid}" in log
    # Invoke by ARN and partial ARN.
    _, body = invoke(lam, "arn:aws:lambda:us-east-1:123456789012:function:echo", {"n": 2})
    assert body["context"]["invoked_function_arn"] == \
        "arn:aws:lambda:us-east-1:123456789012:function:echo"
    _, body = invoke(lam, "123456789012:function:echo", {"n": 3})
    assert body["event"] == {"n": 3}


def test_function_errors_timeouts_and_crashes(lam):
    create_rust(lam, name="fail", handler="fail")
    r, body = invoke(lam, "fail", {"reason": "nope"})
    assert r["StatusCode"] == 200 and r["FunctionError"] == "Unhandled"
    assert "failed on purpose: nope" in body["errorMessage"]
    create_rust(lam, name="sleepy", handler="sleep", Timeout=1)
    r, body = invoke(lam, "sleepy", {"ms": 3000})
    assert r["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Sandbox.Timedout"
    assert body["errorMessage"].endswith("Task timed out after 1.00 seconds")
    create_rust(lam, name="crash", handler="exit")
    r, body = invoke(lam, "crash", {})
    assert r["FunctionError"] == "Unhandled" and body["errorType"] == "Runtime.ExitError"


def test_invoke_errors(lam):
    create_rust(lam)
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName="echo", Payload=b"{not json")
    assert e.value.response["Error"]["Code"] == "InvalidRequestContentException"
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName="missing", Payload=b"{}")
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName="echo", Payload=b"{}", Qualifier="7")
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    r = lam.invoke(FunctionName="echo", Payload=b"{}", InvocationType="DryRun")
    assert r["StatusCode"] == 204
    big = json.dumps({"x": "y" * (6 * 1024 * 1024)}).encode()
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName="echo", Payload=big)
    assert e.value.response["Error"]["Code"] == "RequestTooLargeException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413


def test_reserved_concurrency_throttles(lam):
    create_rust(lam, name="slow", handler="sleep")
    lam.put_function_concurrency(FunctionName="slow", ReservedConcurrentExecutions=1)
    assert lam.get_function_concurrency(FunctionName="slow")["ReservedConcurrentExecutions"] == 1
    import threading
    # Warm first, so the long invocation holds the one slot at once (a cold start on a busy
    # machine can take longer than the wait below).
    invoke(lam, "slow", {"ms": 1})
    t = threading.Thread(target=lambda: invoke(lam, "slow", {"ms": 3000}))
    t.start()
    time.sleep(1.0)
    with pytest.raises(ClientError) as e:
        invoke(lam, "slow", {"ms": 1})
    assert e.value.response["Error"]["Code"] == "TooManyRequestsException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    t.join()


CAPACITY_PROVIDER = "arn:aws:lambda:us-east-1:123456789012:capacity-provider:fleet"


def test_managed_instances_run_several_invocations_per_process(lam, lam_server):
    cfg = {"LambdaManagedInstancesCapacityProviderConfig": {
        "CapacityProviderArn": CAPACITY_PROVIDER, "PerExecutionEnvironmentMaxConcurrency": 4}}
    r = create_rust(lam, name="lmi", handler="sleep", CapacityProviderConfig=cfg)
    assert r["CapacityProviderConfig"] == cfg
    assert lam.get_function_configuration(FunctionName="lmi")["CapacityProviderConfig"] == cfg
    import concurrent.futures
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        bodies = [b for _, b in pool.map(lambda n: invoke(lam, "lmi", {"ms": 1500, "n": n}),
                                         range(4))]
    assert {b["event"]["n"] for b in bodies} == {0, 1, 2, 3}
    assert {b["env"]["AWS_LAMBDA_MAX_CONCURRENCY"] for b in bodies} == {"4"}
    assert len({b["pid"] for b in bodies}) == 1, "four invocations, one process"
    # All four slept at the same time: the latest start comes before the earliest end.
    starts, ends = [b["slept"][0] for b in bodies], [b["slept"][1] for b in bodies]
    assert max(starts) < min(ends), bodies
    # An update without PerExecutionEnvironmentMaxConcurrency: the configuration shows it
    # absent, and the new instances run eddy's default of 16 per process.
    c = lam.update_function_configuration(FunctionName="lmi", CapacityProviderConfig={
        "LambdaManagedInstancesCapacityProviderConfig": {"CapacityProviderArn": CAPACITY_PROVIDER}})
    assert c["CapacityProviderConfig"] == {"LambdaManagedInstancesCapacityProviderConfig": {
        "CapacityProviderArn": CAPACITY_PROVIDER}}
    _, body = invoke(lam, "lmi", {"ms": 1})
    assert body["env"]["AWS_LAMBDA_MAX_CONCURRENCY"] == "16"


def test_managed_instances_config_is_validated(lam, lam_server):
    from botocore.config import Config
    raw = lam_server.client("lambda", config=Config(parameter_validation=False))
    bad = [
        ({"CapacityProviderArn": "arn:aws:lambda:us-east-1:123456789012:function:f"},
         "capacityProviderConfig.lambdaManagedInstancesCapacityProviderConfig.capacityProviderArn"),
        ({"CapacityProviderArn": CAPACITY_PROVIDER, "PerExecutionEnvironmentMaxConcurrency": 0},
         "Member must have value greater than or equal to 1"),
        ({"CapacityProviderArn": CAPACITY_PROVIDER, "PerExecutionEnvironmentMaxConcurrency": 1601},
         "Member must have value less than or equal to 1600"),
        ({"CapacityProviderArn": CAPACITY_PROVIDER, "ExecutionEnvironmentMemoryGiBPerVCpu": 1.0},
         "executionEnvironmentMemoryGiBPerVCpu"),
    ]
    for config, message in bad:
        with pytest.raises(ClientError) as e:
            raw.create_function(FunctionName="lmi-bad", Runtime="provided.al2023", Role=ROLE,
                                Handler="echo", Code={"ZipFile": rust_zip()},
                                CapacityProviderConfig={
                                    "LambdaManagedInstancesCapacityProviderConfig": config})
        assert e.value.response["Error"]["Code"] == "ValidationException", config
        assert message in e.value.response["Error"]["Message"], e.value.response["Error"]
    assert lam.list_functions()["Functions"] == [], "failed creates must change nothing"


def test_update_code_replaces_instances(lam, tmp_path):
    lam.create_function(FunctionName="py", Runtime="python3.12", Role=ROLE, Handler="app.handler",
                        Code={"ZipFile": py_zip()})
    _, body = invoke(lam, "py", {"n": 1})
    assert body["python"] is True
    lam.update_function_code(FunctionName="py",
                             ZipFile=py_zip("def handler(e, c):\n    return {'version': 2}\n"))
    _, body = invoke(lam, "py", {})
    assert body == {"version": 2}


def test_python_function_through_awslambdaric(lam):
    lam.create_function(FunctionName="py", Runtime="python3.12", Role=ROLE, Handler="app.handler",
                        Code={"ZipFile": py_zip()}, Timeout=7,
                        Environment={"Variables": {"MY_SETTING": "py-on"}})
    t0 = time.time()
    r, body = invoke(lam, "py", {"n": 7}, LogType="Tail")
    cold = time.time() - t0
    assert "FunctionError" not in r, body
    assert body["python"] is True and body["event"] == {"n": 7}
    assert body["function_name"] == "py" and body["env"] == "py-on"
    assert 5000 < body["remaining_ms"] <= 7000
    assert body["request_id"] == r["ResponseMetadata"]["RequestId"]
    assert "hello from python 7" in base64.b64decode(r["LogResult"]).decode()
    r, body = invoke(lam, "py", {"fail": True})
    assert r["FunctionError"] == "Unhandled"
    assert body["errorType"] == "ValueError" and body["errorMessage"] == "python failed on purpose"
    assert cold < 10


def test_python_import_error_is_reported(lam):
    lam.create_function(FunctionName="broken", Runtime="python3.12", Role=ROLE,
                        Handler="app.handler", Code={"ZipFile": py_zip("import no_such_module\n")})
    r, body = invoke(lam, "broken", {})
    assert r["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.ImportModuleError", body
    assert "no_such_module" in body["errorMessage"]


def test_local_code_directory(lam, tmp_path):
    code = tmp_path / "code"
    code.mkdir()
    (code / "app.py").write_text("def handler(e, c):\n    return {'local': 1}\n")
    lam.create_function(FunctionName="dev", Runtime="python3.12", Role=ROLE, Handler="app.handler",
                        Code={"S3Bucket": "hot-reload", "S3Key": str(code)})
    _, body = invoke(lam, "dev", {})
    assert body == {"local": 1}
    with pytest.raises(ClientError) as e:
        lam.create_function(FunctionName="s3", Runtime="python3.12", Role=ROLE,
                            Handler="app.handler", Code={"S3Bucket": "my-bucket", "S3Key": "k.zip"})
    assert e.value.response["Error"]["Code"] == "InvalidParameterValueException"


def test_async_invoke_with_on_failure_and_on_success_destinations(lam, lam_server):
    sqs = lam_server.client("sqs")
    ok_q = sqs.create_queue(QueueName="ok")["QueueUrl"]
    bad_q = sqs.create_queue(QueueName="bad")["QueueUrl"]
    create_rust(lam, name="echo", handler="echo")
    create_rust(lam, name="fail", handler="fail")
    arn = "arn:aws:sqs:us-east-1:123456789012:"
    lam.put_function_event_invoke_config(
        FunctionName="echo", DestinationConfig={"OnSuccess": {"Destination": arn + "ok"}})
    cfg = lam.put_function_event_invoke_config(
        FunctionName="fail", MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": arn + "bad"}})
    assert cfg["MaximumRetryAttempts"] == 0
    r = lam.invoke(FunctionName="echo", InvocationType="Event", Payload=b'{"k": 1}')
    assert r["StatusCode"] == 202
    r = lam.invoke(FunctionName="fail", InvocationType="Event", Payload=b'{"reason": "x"}')
    assert r["StatusCode"] == 202
    ok = sqs.receive_message(QueueUrl=ok_q, WaitTimeSeconds=10)["Messages"]
    rec = json.loads(ok[0]["Body"])
    assert rec["requestContext"]["condition"] == "Success"
    assert rec["requestPayload"] == {"k": 1}
    assert rec["responsePayload"]["event"] == {"k": 1}
    bad = sqs.receive_message(QueueUrl=bad_q, WaitTimeSeconds=10)["Messages"]
    rec = json.loads(bad[0]["Body"])
    assert rec["requestContext"]["condition"] == "RetriesExhausted"
    assert rec["requestContext"]["approximateInvokeCount"] == 1
    assert rec["responseContext"]["functionError"] == "Unhandled"
    assert "failed on purpose: x" in rec["responsePayload"]["errorMessage"]
    with pytest.raises(ClientError) as e:
        lam.put_function_event_invoke_config(FunctionName="fail", MaximumRetryAttempts=3)
    assert e.value.response["Error"]["Code"] == "ValidationException"


def test_rule_delivers_events_to_a_function(lam, lam_server):
    events = lam_server.client("events")
    sqs = lam_server.client("sqs")
    out = sqs.create_queue(QueueName="results")["QueueUrl"]
    create_rust(lam, name="echo", handler="echo")
    lam.put_function_event_invoke_config(
        FunctionName="echo",
        DestinationConfig={"OnSuccess": {"Destination": "arn:aws:sqs:us-east-1:123456789012:results"}})
    events.put_rule(Name="to-fn", EventPattern=json.dumps({"source": ["shop"]}))
    events.put_targets(Rule="to-fn", Targets=[{
        "Id": "fn", "Arn": "arn:aws:lambda:us-east-1:123456789012:function:echo"}])
    events.put_events(Entries=[{"Source": "shop", "DetailType": "OrderPlaced",
                                "Detail": json.dumps({"order": 42})}])
    msgs = sqs.receive_message(QueueUrl=out, WaitTimeSeconds=10)["Messages"]
    rec = json.loads(msgs[0]["Body"])
    assert rec["responsePayload"]["event"]["detail"] == {"order": 42}
    assert rec["responsePayload"]["event"]["source"] == "shop"


def test_function_logs_in_cloudwatch_logs(lam, lam_server):
    logs = lam_server.client("logs")
    create_rust(lam, name="talk", handler="log")
    invoke(lam, "talk", {"lines": 2})
    deadline = time.time() + 5
    messages = []
    while time.time() < deadline:
        got = logs.filter_log_events(logGroupName="/aws/lambda/talk")["events"]
        messages = [e["message"] for e in got]
        if any(m.startswith("REPORT") for m in messages):
            break
        time.sleep(0.2)
    assert "log line 1" in messages
    assert any(m.startswith("START RequestId:") for m in messages)


def test_every_line_printed_before_the_response_comes_before_end_and_in_the_tail(lam):
    """The runtime prints, then posts its response: the printed lines must be logged before the
    invocation's END line and be in its LogType=Tail, however the pipe reader was scheduled."""
    create_rust(lam, name="chatty", handler="log")
    for attempt in range(30):
        r, _ = invoke(lam, "chatty", {"lines": 60}, LogType="Tail")
        tail = base64.b64decode(r["LogResult"]).decode()
        lines = tail.splitlines()
        end = next(i for i, line in enumerate(lines) if line.startswith("END RequestId:"))
        assert lines[end - 1] == "log line 59", (attempt, lines[max(0, end - 3):end + 1])


def test_aws_cli_invoke(lam, lam_server, tmp_path):
    create_rust(lam)
    out = tmp_path / "out.json"
    env = dict(os.environ, AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test",
               AWS_DEFAULT_REGION="us-east-1")
    cli = os.path.join(os.path.dirname(sys.executable), "aws")
    r = subprocess.run([cli, "--endpoint-url", lam_server.aws, "lambda", "invoke",
                        "--function-name", "echo",
                        "--payload", '{"from": "cli"}', str(out)],
                       env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["StatusCode"] == 200
    assert json.loads(out.read_text())["event"] == {"from": "cli"}


def test_async_invocations_survive_sigkill(fresh_dir):
    """Every Event invocation eddy answered 202 for runs after a SIGKILL and restart."""
    import threading
    server = Eddy(fresh_dir, ["--function-user", "current"]).start()
    lam = server.client("lambda")
    sqs = server.client("sqs")
    sqs.create_queue(QueueName="done")
    create_rust(lam, name="echo", handler="echo")
    lam.put_function_event_invoke_config(
        FunctionName="echo",
        DestinationConfig={"OnSuccess": {"Destination": "arn:aws:sqs:us-east-1:123456789012:done"}})
    accepted = []
    stop = threading.Event()

    def load(k):
        c = server.client("lambda")
        i = 0
        while not stop.is_set():
            try:
                r = c.invoke(FunctionName="echo", InvocationType="Event",
                             Payload=json.dumps({"k": k, "i": i}).encode())
            except Exception:
                return
            if r["StatusCode"] == 202:
                accepted.append((k, i))
            i += 1

    threads = [threading.Thread(target=load, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    time.sleep(1.5)
    server.stop(sig_kill=True)
    stop.set()
    for t in threads:
        t.join()
    assert len(accepted) > 50
    server = Eddy(fresh_dir, ["--function-user", "current"]).start()
    try:
        sqs = server.client("sqs")
        url = sqs.get_queue_url(QueueName="done")["QueueUrl"]
        seen = set()
        deadline = time.time() + 60
        while time.time() < deadline and not set(accepted) <= seen:
            for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                         WaitTimeSeconds=1).get("Messages", []):
                p = json.loads(m["Body"])["requestPayload"]
                seen.add((p["k"], p["i"]))
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        lost = set(accepted) - seen
        assert not lost, f"{len(lost)} of {len(accepted)} accepted invocations lost"
    finally:
        server.stop()


def test_schedule_invokes_a_function(lam, lam_server):
    sqs = lam_server.client("sqs")
    scheduler = lam_server.client("scheduler")
    url = sqs.create_queue(QueueName="ticks")["QueueUrl"]
    create_rust(lam, name="echo", handler="echo")
    lam.put_function_event_invoke_config(
        FunctionName="echo",
        DestinationConfig={"OnSuccess": {"Destination": "arn:aws:sqs:us-east-1:123456789012:ticks"}})
    scheduler.create_schedule(
        Name="every-minute", ScheduleExpression="rate(1 minute)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": "arn:aws:lambda:us-east-1:123456789012:function:echo",
                "RoleArn": "arn:aws:iam::123456789012:role/scheduler",
                "Input": json.dumps({"job": "tick"})})
    status, _, raw = lam_server.post("/_eddy/clock", json.dumps({"advance_seconds": 61}).encode())
    assert status == 200, raw
    msgs = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=10)["Messages"]
    rec = json.loads(msgs[0]["Body"])
    assert rec["requestPayload"] == {"job": "tick"}
    assert rec["responsePayload"]["event"] == {"job": "tick"}


def test_rule_to_a_failing_function_lands_in_on_failure(lam, lam_server):
    events = lam_server.client("events")
    sqs = lam_server.client("sqs")
    url = sqs.create_queue(QueueName="failures")["QueueUrl"]
    create_rust(lam, name="fail", handler="fail")
    lam.put_function_event_invoke_config(
        FunctionName="fail", MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": "arn:aws:sqs:us-east-1:123456789012:failures"}})
    events.put_rule(Name="to-fail", EventPattern=json.dumps({"source": ["shop"]}))
    events.put_targets(Rule="to-fail", Targets=[{
        "Id": "fn", "Arn": "arn:aws:lambda:us-east-1:123456789012:function:fail",
        "InputPath": "$.detail"}])
    events.put_events(Entries=[{"Source": "shop", "DetailType": "OrderPlaced",
                                "Detail": json.dumps({"reason": "out of stock"})}])
    msgs = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=10)["Messages"]
    rec = json.loads(msgs[0]["Body"])
    assert rec["requestContext"]["condition"] == "RetriesExhausted"
    assert rec["requestPayload"] == {"reason": "out of stock"}
    assert "failed on purpose: out of stock" in rec["responsePayload"]["errorMessage"]

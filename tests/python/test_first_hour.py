"""What a newcomer hits in their first hour, each a bug once (issue 17): `eddy apply` with a URL,
tool artefacts that are not code changes, API-made resources the manifest leaves alone unless
adopted, one server per data directory, plain logs when not on a terminal, `--count 0`, match
counts labelled as since start, functions checked when they are created rather than at their
first invocation, and the small tools (`eddy init`, `eddy status`, `eddy queue list`,
`eddy functions list`)."""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap

import pytest
from botocore.exceptions import ClientError

from conftest import Eddy, eddy_bin, wait_for

MANIFEST = textwrap.dedent("""\
    version = 1

    [queues.jobs]
    visibility_timeout = 45

    [functions.hello]
    code = "functions/hello"
    runtime = "python3.12"
    handler = "app.handler"
    """)

APP = "def handler(event, context):\n    return {'hello': event}\n"


def run(*args, cwd=None, check=True, timeout=60):
    r = subprocess.run([eddy_bin(), *args], cwd=cwd, capture_output=True, text=True,
                       timeout=timeout)
    if check:
        assert r.returncode == 0, (args, r.stdout, r.stderr)
    return r


@pytest.fixture
def project():
    d = tempfile.mkdtemp(prefix="eddy-first-hour-")
    os.makedirs(os.path.join(d, "functions", "hello"))
    with open(os.path.join(d, "functions", "hello", "app.py"), "w") as f:
        f.write(APP)
    with open(os.path.join(d, "eddy.toml"), "w") as f:
        f.write(MANIFEST)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def server(project):
    """A server with no manifest of its own (started elsewhere), as `eddy apply` finds one."""
    data = tempfile.mkdtemp(prefix="eddy-first-hour-data-")
    s = Eddy(data, ["--python", sys.executable, "--function-user", "current"],
             cwd=data).start()
    yield s
    s.stop()
    shutil.rmtree(data, ignore_errors=True)


def test_apply_takes_a_url_as_every_other_subcommand_does(project, server):
    r = run("apply", "--endpoint", server.aws, cwd=project)
    assert "2 created" in r.stdout, r.stdout
    # And host:port, as before.
    r = run("apply", "--endpoint", server.aws.removeprefix("http://"), cwd=project)
    assert "0 created, 0 updated, 0 deleted, 2 unchanged" in r.stdout, r.stdout
    # A server that is not there is named, with what to do.
    r = run("apply", "--endpoint", "http://127.0.0.1:9", cwd=project, check=False)
    assert r.returncode == 1 and "cannot reach eddy at http://127.0.0.1:9" in r.stderr, r.stderr


def test_caches_and_editor_files_are_not_code_changes(project, server):
    run("apply", "--endpoint", server.aws, cwd=project)
    code = os.path.join(project, "functions", "hello")
    # What Python, editors and tools leave beside the code.
    os.makedirs(os.path.join(code, "__pycache__"))
    with open(os.path.join(code, "__pycache__", "app.cpython-311.pyc"), "wb") as f:
        f.write(b"\0" * 64)
    for name in ["app.py~", ".app.py.swp", "4913", ".#app.py", "stale.pyc"]:
        with open(os.path.join(code, name), "w") as f:
            f.write("x")
    os.makedirs(os.path.join(code, "node_modules", ".cache"))
    with open(os.path.join(code, "node_modules", ".cache", "x"), "w") as f:
        f.write("x")
    r = run("apply", "--endpoint", server.aws, cwd=project)
    assert "0 updated" in r.stdout, r.stdout
    # A real edit still is one.
    with open(os.path.join(code, "app.py"), "a") as f:
        f.write("# edited\n")
    r = run("apply", "--endpoint", server.aws, cwd=project)
    assert "updated function hello" in r.stdout and "1 updated" in r.stdout, r.stdout


def test_resources_made_through_the_api_are_left_alone_unless_adopted(project, server):
    sqs = server.client("sqs")
    url = sqs.create_queue(QueueName="jobs", Attributes={"VisibilityTimeout": "7"})["QueueUrl"]
    r = run("apply", "--endpoint", server.aws, cwd=project, check=False)
    assert r.returncode == 1, r.stdout
    assert "queue `jobs` already exists" in r.stderr and "--adopt" in r.stderr, r.stderr
    # Nothing changed: not the queue, and the function was not created either.
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])
    assert attrs["Attributes"]["VisibilityTimeout"] == "7"
    with pytest.raises(ClientError):
        server.client("lambda").get_function(FunctionName="hello")
    # The dry run says the same.
    r = run("apply", "--endpoint", server.aws, "--dry-run", cwd=project, check=False)
    assert r.returncode == 1 and "already exists" in r.stderr, r.stderr
    # Adopted: the manifest manages it from now on.
    r = run("apply", "--endpoint", server.aws, "--adopt", cwd=project)
    assert "created queue jobs" in r.stdout, r.stdout
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])
    assert attrs["Attributes"]["VisibilityTimeout"] == "45"
    r = run("apply", "--endpoint", server.aws, cwd=project)
    assert "2 unchanged" in r.stdout, r.stdout


def test_a_second_server_on_a_data_directory_in_use_refuses_to_start(fresh_dir):
    first = Eddy(fresh_dir).start()
    try:
        r = subprocess.run(
            [eddy_bin(), "serve", "--data-dir", fresh_dir, "--aws-listen", "127.0.0.1:0",
             "--http-listen", "127.0.0.1:0"],
            capture_output=True, text=True, timeout=30)
        assert r.returncode == 1
        assert "another eddy is already running on the data directory" in r.stderr, r.stderr
        assert str(first.proc.pid) in r.stderr, r.stderr
    finally:
        first.stop()
    # Once the first one is gone (even killed), the directory is free again.
    again = Eddy(fresh_dir).start()
    again.stop(sig_kill=True)
    Eddy(fresh_dir).start().stop()


def test_logs_are_plain_when_not_on_a_terminal(fresh_dir):
    log = os.path.join(fresh_dir, "stderr.log")
    with open(log, "w") as err:
        proc = subprocess.Popen(
            [eddy_bin(), "serve", "--data-dir", os.path.join(fresh_dir, "data"),
             "--http-listen", "127.0.0.1:0",
             "--allow-unauthenticated-remote", "--aws-listen", "0.0.0.0:0"],
            stdout=subprocess.PIPE, stderr=err, text=True,
            env={**os.environ, "EDDY_LOG": "info"})
        try:
            assert "eddy ready" in proc.stdout.readline()
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    text = open(log).read()
    # The exposure warning is logged; without colour codes.
    assert "WARN" in text, text
    assert "\x1b[" not in text, repr(text)


def test_tail_count_zero_exits_and_rules_say_their_counts_are_since_start(server):
    r = run("events", "tail", "--count", "0", "--endpoint", server.aws, timeout=10)
    assert r.stdout == ""
    server.client("events").put_rule(Name="r", EventPattern='{"source": ["x"]}')
    r = run("rules", "--endpoint", server.aws)
    assert "r " in r.stdout
    assert "since this eddy process started" in r.stderr, r.stderr


def test_a_function_that_cannot_start_says_so_when_it_is_created(fresh_dir, project):
    server = Eddy(fresh_dir, ["--python", "/nonexistent/python3", "--function-user", "current"],
                  cwd=project).start()
    try:
        lam = server.client("lambda")
        import io
        import zipfile
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr("app.py", APP)
        r = lam.create_function(FunctionName="f", Runtime="python3.12", Role="arn:aws:iam::123456789012:role/x",
                                Handler="app.handler", Code={"ZipFile": buf.getvalue()})
        assert r["State"] == "Failed", r
        assert r["StateReasonCode"] == "InvalidRuntime"
        assert "cannot find the Python interpreter `/nonexistent/python3`" in r["StateReason"]
        assert "--python" in r["StateReason"]
        # The manifest's apply says it too, naming the function.
        out = run("apply", "--endpoint", server.aws, cwd=project)
        assert "warning: function `hello` cannot start yet" in out.stderr, out.stderr
        # And `eddy functions list`.
        out = run("functions", "list", "--endpoint", server.aws)
        assert "cannot start" in out.stdout and "/nonexistent/python3" in out.stdout, out.stdout
    finally:
        server.stop()


def test_a_python_the_function_user_cannot_run_is_named_with_the_two_ways_out(fresh_dir):
    if os.geteuid() != 0:
        pytest.skip("functions run as their own users only when eddy runs as root")
    # An interpreter in a directory only root can enter, as a virtualenv under /root is.
    private = tempfile.mkdtemp(prefix="eddy-private-python-")
    os.chmod(private, 0o700)
    python = os.path.join(private, "python")
    os.symlink(sys.executable, python)
    server = Eddy(fresh_dir, ["--python", python, "--function-user", "auto"]).start()
    try:
        import io
        import zipfile
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr("app.py", APP)
        r = server.client("lambda").create_function(
            FunctionName="f", Runtime="python3.12", Role="arn:aws:iam::123456789012:role/x",
            Handler="app.handler", Code={"ZipFile": buf.getvalue()})
        assert r["State"] == "Failed", r
        reason = r["StateReason"]
        assert "as user 2000" in reason and "--function-user current" in reason, reason
        assert "/opt/eddy-python" in reason, reason
    finally:
        server.stop()
        shutil.rmtree(private, ignore_errors=True)


def test_init_writes_a_starter_that_validates_runs_and_shows_in_status(fresh_dir):
    app = os.path.join(fresh_dir, "app")
    r = run("init", app)
    assert "wrote" in r.stdout and "eddy serve" in r.stdout
    assert "ok" in run("validate", os.path.join(app, "eddy.toml")).stdout
    # Never over what is there.
    r = run("init", app, check=False)
    assert r.returncode == 1 and "already exists" in r.stderr
    server = Eddy(os.path.join(app, ".eddy"),
                  ["--python", sys.executable, "--function-user", "current"], cwd=app).start()
    try:
        import urllib.request
        req = urllib.request.Request(server.http + "/orders", method="POST",
                                     data=json.dumps({"id": "7", "total": 250}).encode())
        with urllib.request.urlopen(req) as resp:
            assert resp.status == 202
        assert wait_for(lambda: "big-orders" in run("queue", "list", "--endpoint", server.aws).stdout
                        and re.search(r"big-orders\s+1\s", run("queue", "list", "--endpoint",
                                                                 server.aws).stdout))
        r = run("status", "--endpoint", server.aws)
        for expected in ["BUSES (2)", "orders/big-orders", "QUEUES (2)", "FUNCTIONS (1)",
                         "handle-order", "HTTP APIS (1)", "POST /orders"]:
            assert expected in r.stdout, (expected, r.stdout)
        status = json.loads(run("status", "--json", "--endpoint", server.aws).stdout)
        assert status["functions"][0]["state"] == "ready", status["functions"]
        # The function got the event.
        assert wait_for(lambda: "order 7 placed" in run(
            "logs", "handle-order", "--endpoint", server.aws, check=False).stdout, timeout=30)
        listed = json.loads(run("functions", "list", "--json", "--endpoint", server.aws).stdout)
        assert listed[0]["name"] == "handle-order" and listed[0]["warm_instances"] >= 1, listed
    finally:
        server.stop()


def test_status_shows_a_schedule_s_next_tick(server):
    sched = server.client("scheduler")
    sched.create_schedule(Name="nightly", ScheduleExpression="cron(0 2 * * ? *)",
                          FlexibleTimeWindow={"Mode": "OFF"},
                          Target={"Arn": "arn:aws:sqs:us-east-1:123456789012:q",
                                  "RoleArn": "arn:aws:iam::123456789012:role/x"})
    status = json.loads(run("status", "--json", "--endpoint", server.aws).stdout)
    (s,) = status["schedules"]
    assert s["name"] == "nightly" and s["next_tick"].endswith("T02:00:00Z"), s

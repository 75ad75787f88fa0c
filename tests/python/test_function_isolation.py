"""Functions cannot read each other's code, the data directory or the store: when eddy runs as
root with `--function-user auto` (the default), each function runs as its own user and its
unpacked code is readable by that user only."""

import os
import stat
import subprocess
import sys

import pytest

from conftest import Eddy, embedded_only
from test_lambda import ROLE, create_rust, invoke, py_zip

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason="running functions as other users needs eddy to run as root")

FIRST_ID, LAST_ID = 2_000_000_000, 2_000_065_535


@pytest.fixture
def isolated(fresh_dir):
    server = Eddy(fresh_dir, ["--python", sys.executable, "--function-user", "auto"]).start()
    yield server, fresh_dir
    server.stop()


def revision_dir(data, name):
    """The one revision directory of a function's unpacked code."""
    root = os.path.join(data, "functions", "us-east-1", name)
    revisions = [r for r in os.listdir(root) if not r.startswith(".")]
    assert len(revisions) == 1, revisions
    return os.path.join(root, revisions[0])


def probe(lam, name, read=(), listing=()):
    r, body = invoke(lam, name, {"read": list(read), "list": list(listing)})
    assert "FunctionError" not in r, body
    return body


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_functions_cannot_read_each_others_code_or_list_the_data_directory(isolated):
    server, data = isolated
    lam = server.client("lambda")
    create_rust(lam, name="a", handler="fs")
    create_rust(lam, name="b", handler="fs")
    # B runs first, so its code has been given to B's user when A looks at it.
    b = probe(lam, "b")
    a_code, b_code = revision_dir(data, "a"), revision_dir(data, "b")
    a = probe(lam, "a",
              read=[os.path.join(a_code, "bootstrap"), os.path.join(b_code, "bootstrap")],
              listing=[a_code, b_code, os.path.dirname(b_code), data,
                       os.path.join(data, "functions"),
                       os.path.join(data, "functions", "us-east-1")])
    assert FIRST_ID <= a["uid"] <= LAST_ID and FIRST_ID <= b["uid"] <= LAST_ID
    assert a["uid"] != b["uid"] and a["gid"] != b["gid"]
    assert a["read"] == {os.path.join(a_code, "bootstrap"): "ok",
                         os.path.join(b_code, "bootstrap"): "denied"}
    assert a["list"] == {a_code: "ok", b_code: "denied", os.path.dirname(b_code): "denied",
                         data: "denied", os.path.join(data, "functions"): "denied",
                         os.path.join(data, "functions", "us-east-1"): "denied"}
    # On disk: the data directory and the directories above the code can be passed through,
    # not listed; each function's code belongs to eddy and that function's group only.
    assert mode(data) == 0o711
    for d in ["functions", "functions/us-east-1", "functions/us-east-1/b"]:
        assert mode(os.path.join(data, d)) == 0o711, d
    st = os.stat(os.path.join(b_code, "bootstrap"))
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (0, b["gid"], 0o750)
    assert (os.stat(b_code).st_gid, mode(b_code)) == (b["gid"], 0o750)


@embedded_only
def test_functions_cannot_read_the_store(isolated):
    """The store's files are 0600 in a 0711 directory: a function that knows their names still
    cannot open them."""
    server, data = isolated
    lam = server.client("lambda")
    create_rust(lam, name="a", handler="fs",
                Environment={"Variables": {"EDDY_SECRET": "do-not-leak"}})
    files = [os.path.join(data, f) for f in ("eddy.db", "eddy.db-wal")]
    assert all(os.path.exists(f) for f in files), os.listdir(data)
    a = probe(lam, "a", read=files)
    assert a["read"] == {f: "denied" for f in files}


def test_python_functions_run_as_their_own_users(isolated):
    """An unmodified Python function (awslambdaric) runs under a user that has no passwd entry,
    and reads its own code."""
    # The interpreter must be one other users can run (a pyenv under /root is not).
    try:
        usable = subprocess.run([sys.executable, "-c", "import awslambdaric"], cwd="/",
                                user=LAST_ID, group=LAST_ID, extra_groups=[],
                                capture_output=True, check=False).returncode == 0
    except PermissionError:
        usable = False
    if not usable:
        pytest.skip(f"{sys.executable} cannot import awslambdaric as another user "
                    f"(run the suite from a virtualenv any user can read)")
    server, data = isolated
    lam = server.client("lambda")
    source = ("import os\n"
              "def handler(event, context):\n"
              "    return {'uid': os.getuid(), 'code': open('app.py').read()[:9]}\n")
    lam.create_function(FunctionName="py", Runtime="python3.12", Role=ROLE,
                        Handler="app.handler", Code={"ZipFile": py_zip(source)})
    create_rust(lam, name="rust", handler="echo")
    r, body = invoke(lam, "py", {})
    assert "FunctionError" not in r, body
    assert FIRST_ID <= body["uid"] <= LAST_ID and body["code"] == "import os"
    _, other = invoke(lam, "rust", {})
    assert other["uid"] != body["uid"]


def test_code_follows_the_function_user_across_restarts(fresh_dir):
    """Ownership is applied at deploy, so code unpacked under one `--function-user` runs under
    another after a restart, and the data directory's modes follow."""
    def run(user):
        server = Eddy(fresh_dir, ["--function-user", user]).start()
        try:
            lam = server.client("lambda")
            if not lam.list_functions()["Functions"]:
                create_rust(lam, name="a", handler="fs")
            code = revision_dir(fresh_dir, "a")
            body = probe(lam, "a", read=[os.path.join(code, "bootstrap")])
            assert body["read"] == {os.path.join(code, "bootstrap"): "ok"}, (user, body)
            return body, code
        finally:
            server.stop()

    body, code = run("auto")
    assert FIRST_ID <= body["uid"] <= LAST_ID
    assert mode(fresh_dir) == 0o711 and mode(code) == 0o750
    body, code = run("65534")
    assert (body["uid"], body["gid"]) == (65534, 65534)
    assert os.stat(code).st_gid == 65534 and mode(fresh_dir) == 0o711
    body, code = run("current")
    assert body["uid"] == 0
    assert mode(fresh_dir) == 0o700
    for d in ["functions", "functions/us-east-1", "functions/us-east-1/a"]:
        assert mode(os.path.join(fresh_dir, d)) == 0o700, d
    assert mode(code) == 0o700 and mode(os.path.join(code, "bootstrap")) == 0o700
    body, _ = run("auto")
    assert FIRST_ID <= body["uid"] <= LAST_ID

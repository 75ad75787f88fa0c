"""Black-box fixtures: start the real `eddy serve` binary on free ports and talk to it with boto3,
the aws CLI and raw HTTP, as a user would."""

import atexit
import glob
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

import boto3
import pytest
from botocore.config import Config

# What AWS requests sent with plain HTTP carry: eddy does not check signatures yet, but refuses AWS
# requests without an AWS `Authorization` header (a web page could send those).
AUTHORIZATION = ("AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/events/aws4_request, "
                 "SignedHeaders=host, Signature=0")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


# `EDDY_TEST_STORE=postgres://...`: every server the tests start keeps its state in PostgreSQL,
# one schema per data directory (a restart on the same directory finds its state again), instead
# of the embedded store. `scripts/test` runs the suite once each way.
PG_STORE = os.environ.get("EDDY_TEST_STORE", "")
if not PG_STORE.startswith(("postgres://", "postgresql://")):
    PG_STORE = ""
_schemas = set()


def psql():
    found = shutil.which("psql") or next(iter(sorted(glob.glob("/usr/lib/postgresql/*/bin/psql"))), None)
    if not found:
        raise RuntimeError("EDDY_TEST_STORE names PostgreSQL but no psql was found")
    return found


def pg_store_uri(data_dir):
    """The store URI of the server on `data_dir`: its own schema in the test database."""
    schema = "eddy_t_" + hashlib.sha1(os.path.realpath(data_dir).encode()).hexdigest()[:16]
    if schema not in _schemas:
        subprocess.run([psql(), PG_STORE, "-qc", f"CREATE SCHEMA IF NOT EXISTS {schema}"],
                       check=True, stdout=subprocess.DEVNULL)
        _schemas.add(schema)
    sep = "&" if "?" in PG_STORE else "?"
    return f"{PG_STORE}{sep}options=-c%20search_path%3D{schema}"


@atexit.register
def _drop_schemas():
    if PG_STORE and _schemas:
        drops = "; ".join(f"DROP SCHEMA IF EXISTS {s} CASCADE" for s in sorted(_schemas))
        subprocess.run([psql(), PG_STORE, "-qc", drops], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)


embedded_only = pytest.mark.skipif(
    bool(PG_STORE), reason="about the embedded store's own files (EDDY_TEST_STORE is PostgreSQL)")


def store_args(data_dir, args=()):
    """`--store` for a server on `data_dir` when the suite runs on PostgreSQL (and `args` names
    no store of its own)."""
    if PG_STORE and "--store" not in args:
        return ["--store", pg_store_uri(data_dir)]
    return []


def eddy_bin():
    path = os.environ.get("EDDY_BIN") or os.path.join(ROOT, "target", "debug", "eddy")
    if not os.path.exists(path):
        raise RuntimeError(f"eddy binary not found at {path}: run `cargo build -p eddy` first")
    return path


class Eddy:
    """One running `eddy serve` process on a data directory."""

    def __init__(self, data_dir, extra_args=(), cwd=None, code_roots=(tempfile.gettempdir(),)):
        self.data_dir = data_dir
        self.extra_args = list(extra_args)
        self.cwd = cwd
        # Tests keep function code in temporary directories; tests of the code roots themselves
        # pass `code_roots=()` (the working directory is then the only root).
        self.code_roots = list(code_roots)
        self.proc = None
        self.aws = None
        self.http = None

    def start(self):
        self.proc = subprocess.Popen(
            [eddy_bin(), "serve", "--dev", "--data-dir", self.data_dir,
             "--aws-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0",
             *[a for d in self.code_roots for a in ("--code-root", d)],
             *store_args(self.data_dir, self.extra_args), *self.extra_args],
            stdout=subprocess.PIPE, stderr=self._log(), text=True, cwd=self.cwd,
        )
        line = self.proc.stdout.readline()
        m = re.search(r"aws=(http://\S+) http=(http://\S+)", line)
        if not m:
            self.proc.kill()
            raise RuntimeError(f"eddy did not print its addresses: {line!r}")
        self.aws, self.http = m.group(1), m.group(2)
        return self

    @staticmethod
    def _log():
        """Where the server's log goes: `EDDY_TEST_LOGS=DIR` keeps each server's in DIR."""
        logs = os.environ.get("EDDY_TEST_LOGS")
        if not logs:
            return subprocess.DEVNULL
        os.makedirs(logs, exist_ok=True)
        return open(os.path.join(logs, f"eddy-{time.time():.6f}.log"), "w")

    def stop(self, sig_kill=False):
        if self.proc and self.proc.poll() is None:
            if sig_kill:
                self.proc.kill()
            else:
                self.proc.terminate()
            self.proc.wait(timeout=20)

    def client(self, service="events", region="us-east-1", config=None):
        base = Config(retries={"max_attempts": 1})
        return boto3.client(
            service, endpoint_url=self.aws, region_name=region,
            aws_access_key_id="test", aws_secret_access_key="test",
            config=base.merge(config) if config else base,
        )

    def post(self, path, body=b"", headers=None):
        headers = {"Authorization": AUTHORIZATION, **(headers or {})}
        req = urllib.request.Request(self.aws + path, data=body, method="POST", headers=headers)
        try:
            with urllib.request.urlopen(req) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    def get(self, path):
        req = urllib.request.Request(self.aws + path, headers={"Authorization": AUTHORIZATION})
        with urllib.request.urlopen(req) as r:
            return r.status, r.read().decode()

    def aws_call(self, target, body):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        status, headers, raw = self.post("/", data, {
            "X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.1"})
        return status, headers, json.loads(raw) if raw else None

    def metric(self, name, **labels):
        """The value of one Prometheus sample, or 0 when absent."""
        _, text = self.get("/metrics")
        for line in text.splitlines():
            if line.startswith("#"):
                continue
            key, _, value = line.rpartition(" ")
            if not key.startswith(name):
                continue
            got = dict(re.findall(r'(\w+)="([^"]*)"', key))
            base = key.split("{")[0]
            if base == name and all(got.get(k) == v for k, v in labels.items()):
                return float(value)
        return 0.0


def aws_cli(eddy, *args, timeout=60):
    """Runs the virtualenv's aws CLI against `eddy`: (exit status, stdout, stderr)."""
    env = dict(os.environ, AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test",
               AWS_DEFAULT_REGION="us-east-1", AWS_PAGER="")
    out = subprocess.run([os.path.join(os.path.dirname(sys.executable), "aws"),
                          "--endpoint-url", eddy.aws, *args],
                         env=env, capture_output=True, text=True, timeout=timeout)
    return out.returncode, out.stdout, out.stderr


def wait_for(predicate, timeout=15):
    """Polls `predicate` every 0.1 s until it holds (True) or `timeout` seconds pass (False)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


@pytest.fixture(scope="session")
def eddy():
    d = tempfile.mkdtemp(prefix="eddy-test-")
    server = Eddy(d).start()
    yield server
    server.stop()
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def fresh_dir():
    d = tempfile.mkdtemp(prefix="eddy-test-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def events(eddy):
    """An EventBridge client on a wiped server (moto-style reset before each test)."""
    status, _, _ = eddy.post("/moto-api/reset")
    assert status == 200
    return eddy.client("events")

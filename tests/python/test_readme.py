"""The documentation works as written: README.md's Quickstart runs as it stands, as root and as
an ordinary user (`scripts/quickstart`), and every manifest in the repository and every `toml`
block in the documentation validates."""

import glob
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile

import pytest

from conftest import ROOT, eddy_bin


def port_free(port):
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def quickstart(*args):
    for port in (4566, 3000):
        assert port_free(port), f"the Quickstart needs port {port}, which something else holds"
    env = {**os.environ, "EDDY_BIN": eddy_bin(),
           # The aws CLI of the suite's virtualenv.
           "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")}
    r = subprocess.run([os.path.join(ROOT, "scripts", "quickstart"), *args], env=env,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]
    assert "order 1 placed" in r.stdout and "order 2 placed" in r.stdout, r.stdout
    # The queue got the big order, in the shape the rule's input path gives.
    assert '{"id":"1","total":250}' in r.stdout, r.stdout
    print(r.stdout.splitlines()[-1])


def test_the_quickstart_runs_as_it_stands():
    quickstart()


def test_the_quickstart_runs_as_an_ordinary_user():
    if os.geteuid() != 0:
        pytest.skip("this run is an ordinary user's already")
    quickstart("--user", "eddy-quickstart")


def manifests():
    found = []
    for path in glob.glob(os.path.join(ROOT, "examples", "**", "eddy.toml"), recursive=True):
        found.append(("file", path))
    for doc in [os.path.join(ROOT, "README.md"), *glob.glob(os.path.join(ROOT, "docs", "*.md")),
                *glob.glob(os.path.join(ROOT, "examples", "*", "README.md"))]:
        for i, block in enumerate(re.findall(r"```toml\n(.*?)```", open(doc).read(), re.S)):
            found.append(("block", f"{os.path.relpath(doc, ROOT)}#{i + 1}", block))
    return found


@pytest.mark.parametrize("manifest", manifests(), ids=lambda m: os.path.relpath(m[1], ROOT)
                         if m[0] == "file" else m[1])
def test_every_manifest_validates(manifest):
    if manifest[0] == "file":
        r = subprocess.run([eddy_bin(), "validate", manifest[1]], capture_output=True, text=True)
        assert r.returncode == 0, r.stdout + r.stderr
        return
    d = tempfile.mkdtemp(prefix="eddy-doc-manifest-")
    try:
        block = manifest[2]
        # The files a documented block names exist in a real project.
        for code in re.findall(r'^code = "([^"]+)"', block, re.M):
            os.makedirs(os.path.join(d, code), exist_ok=True)
        for jwks in re.findall(r'jwks_file = "([^"]+)"', block):
            with open(os.path.join(d, jwks), "w") as f:
                f.write('{"keys": []}')
        path = os.path.join(d, "eddy.toml")
        with open(path, "w") as f:
            f.write(block)
        r = subprocess.run([eddy_bin(), "validate", path], capture_output=True, text=True)
        assert r.returncode == 0, r.stdout + r.stderr
    finally:
        shutil.rmtree(d, ignore_errors=True)

"""The documentation works as written: every manifest in the repository and every `toml` block
in the documentation validates. (README.md's Quickstart runs as it stands in its own step of
scripts/test: `scripts/quickstart`, on a fresh clone with its build, as root and as an ordinary
user.)"""

import glob
import os
import re
import shutil
import subprocess
import tempfile

import pytest

from conftest import ROOT, eddy_bin


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


def examples():
    text = open(os.path.join(ROOT, "README.md")).read()
    return re.findall(r"<!-- example -->\n```(sh|python)\n(.*?)```", text, re.S)


@pytest.mark.parametrize("example", examples(), ids=lambda e: f"{e[0]}: {e[1].splitlines()[0]}")
def test_each_readme_example_runs_on_its_own(example, fresh_dir):
    """Each example runs by itself against a fresh eddy, with the environment the Quickstart's
    `export` line sets."""
    import sys
    from conftest import Eddy
    server = Eddy(fresh_dir).start()
    try:
        env = {**os.environ, "AWS_ENDPOINT_URL": server.aws, "AWS_ACCESS_KEY_ID": "test",
               "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1",
               "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"]}
        kind, body = example
        cmd = ["bash", "-euo", "pipefail", "-c", body] if kind == "sh" else [sys.executable, "-c", body]
        r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stdout + r.stderr
        if '# {"amount":150}' in body:
            assert '{"amount":150}' in r.stdout, r.stdout
    finally:
        server.stop()

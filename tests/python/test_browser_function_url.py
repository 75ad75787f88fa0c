"""A web page calling a function URL from another origin, in a real browser (Debian's Chromium,
headless, driven by Selenium): the URL's CORS settings answer the browser's preflight and let
the page read the answer; a URL whose settings do not name the page's origin is refused."""

import os
import shutil
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import Eddy
from test_browser_s3 import browser  # noqa: F401 (fixture)
from test_lambda_versions import create

PAGE = b"""<!doctype html>
<title>waiting</title>
<script>
const url = decodeURIComponent(location.hash.slice(1));
fetch(url + "orders?from=page", {method: "POST",
      headers: {"Content-Type": "application/json", "X-Custom": "1"}, body: '{"n": 1}'})
  .then(r => r.json().then(b => {
    document.title = "status " + r.status + " " + r.headers.get("x-fn") + " " + b.rawPath;
  }))
  .catch(e => { document.title = "failed " + e.name; });
</script>
"""


@pytest.fixture(scope="module")
def server():
    d = tempfile.mkdtemp(prefix="eddy-browser-url-")
    s = Eddy(d, ["--python", sys.executable, "--function-user", "current"]).start()
    yield s
    s.stop()
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def page_origin():
    class Page(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(PAGE)))
            self.end_headers()
            self.wfile.write(PAGE)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def call_from_page(browser, page_origin, url):  # noqa: F811
    from urllib.parse import quote

    from selenium.webdriver.support.ui import WebDriverWait
    call_from_page.n = getattr(call_from_page, "n", 0) + 1
    browser.get(f"{page_origin}/page.html?n={call_from_page.n}#{quote(url, safe='')}")
    WebDriverWait(browser, 20).until(lambda b: b.title != "waiting")
    logs = os.environ.get("EDDY_TEST_LOGS")
    if logs:
        os.makedirs(logs, exist_ok=True)
        browser.save_screenshot(
            os.path.join(logs, f"browser-url-{call_from_page.n}-{browser.title.split()[0]}.png"))
    return browser.title


def test_a_page_calls_a_function_url_under_its_cors_settings(server, page_origin, browser):  # noqa: F811
    lam = server.client("lambda")
    create(lam, name="web")
    allowed = lam.create_function_url_config(FunctionName="web", AuthType="NONE", Cors={
        "AllowOrigins": [page_origin], "AllowMethods": ["POST"],
        "AllowHeaders": ["content-type", "x-custom"], "ExposeHeaders": ["x-fn"]})
    title = call_from_page(browser, page_origin, allowed["FunctionUrl"])
    assert title == "status 201 A /orders", title

    create(lam, name="other")
    refused = lam.create_function_url_config(FunctionName="other", AuthType="NONE", Cors={
        "AllowOrigins": ["http://somewhere.else"], "AllowMethods": ["POST"]})
    assert call_from_page(browser, page_origin, refused["FunctionUrl"]) == "failed TypeError"

"""A web page uploading to a bucket through a presigned PUT, in a real browser (Debian's Chromium,
headless, driven by Selenium): allowed by the bucket's CORS rules, refused without them."""

import os
import shutil
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import Eddy

PAGE = b"""<!doctype html>
<title>waiting</title>
<script>
const url = decodeURIComponent(location.hash.slice(1));
fetch(url, {method: "PUT", headers: {"Content-Type": "text/plain"}, body: "hello from a browser"})
  .then(r => { document.title = "status " + r.status + " " + (r.headers.get("ETag") || ""); })
  .catch(e => { document.title = "failed " + e.name; });
</script>
"""


def chromedriver():
    driver = os.environ.get("EDDY_CHROMEDRIVER") or shutil.which("chromedriver")
    browser = os.environ.get("EDDY_CHROMIUM") or shutil.which("chromium")
    if not driver or not browser:
        pytest.skip("no Chromium and ChromeDriver here: scripts/chromium installs them "
                    "(scripts/test runs it)")
    return browser, driver


@pytest.fixture(scope="module")
def server():
    d = tempfile.mkdtemp(prefix="eddy-browser-")
    s = Eddy(d).start()
    yield s
    s.stop()
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def page_origin():
    """A web page on its own origin (another port of the loopback)."""
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


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    binary, driver = chromedriver()
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(arg)
    b = webdriver.Chrome(service=Service(driver), options=options)
    yield b
    b.quit()


def upload_from_page(browser, page_origin, url):
    from selenium.webdriver.support.ui import WebDriverWait
    from urllib.parse import quote
    # A new document each time (a changed `#` alone would not run the page again).
    upload_from_page.n = getattr(upload_from_page, "n", 0) + 1
    browser.get(f"{page_origin}/upload.html?n={upload_from_page.n}#{quote(url, safe='')}")
    WebDriverWait(browser, 20).until(lambda b: b.title != "waiting")
    logs = os.environ.get("EDDY_TEST_LOGS")
    if logs:
        os.makedirs(logs, exist_ok=True)
        browser.save_screenshot(os.path.join(logs, f"browser-s3-{browser.title.split()[0]}.png"))
    return browser.title


def test_a_page_uploads_through_a_presigned_put_under_the_buckets_cors(server, page_origin, browser):
    s3 = server.client("s3", config=Config(signature_version="s3v4"))
    s3.create_bucket(Bucket="avatars")
    s3.put_bucket_cors(Bucket="avatars", CORSConfiguration={"CORSRules": [{
        "AllowedOrigins": [page_origin], "AllowedMethods": ["PUT"], "AllowedHeaders": ["*"],
        "ExposeHeaders": ["ETag"]}]})
    url = s3.generate_presigned_url("put_object", ExpiresIn=300, Params={
        "Bucket": "avatars", "Key": "from-browser.txt", "ContentType": "text/plain"})
    title = upload_from_page(browser, page_origin, url)
    assert title.startswith("status 200 "), title
    assert title.split()[2].strip('"'), "the ETag was exposed to the page"
    got = s3.get_object(Bucket="avatars", Key="from-browser.txt")
    assert got["Body"].read() == b"hello from a browser"
    assert got["ContentType"] == "text/plain"


def test_a_bucket_without_cors_rules_refuses_the_page(server, page_origin, browser):
    s3 = server.client("s3", config=Config(signature_version="s3v4"))
    s3.create_bucket(Bucket="private")
    url = s3.generate_presigned_url("put_object", ExpiresIn=300,
                                    Params={"Bucket": "private", "Key": "nope.txt"})
    title = upload_from_page(browser, page_origin, url)
    assert title == "failed TypeError", title
    with pytest.raises(ClientError):
        s3.head_object(Bucket="private", Key="nope.txt")

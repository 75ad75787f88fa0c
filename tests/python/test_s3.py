"""S3 through boto3, the aws CLI and raw HTTP: buckets, objects with their metadata, checksums
and ETags, ranges and conditions, listings with delimiters, versioning, multipart uploads,
presigned URLs (with curl-like plain HTTP, and a web page's CORS preflight), object events to
EventBridge rules, queues and Python functions, hostile keys, and crashes with kill -9."""

import base64
import hashlib
import io
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import zlib

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import PG_STORE, Eddy, aws_cli, wait_for
from test_lambda import ROLE, py_zip

ACCOUNT = "123456789012"


@pytest.fixture(scope="module")
def server():
    d = tempfile.mkdtemp(prefix="eddy-s3-")
    s = Eddy(d, ["--python", sys.executable, "--function-user", "current"]).start()
    yield s
    s.stop()
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def s3(server):
    status, _, _ = server.post("/moto-api/reset")
    assert status == 200
    return server.client("s3")


def error(call):
    with pytest.raises(ClientError) as e:
        call()
    r = e.value.response
    return r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"]


def raw(method, url, body=None, headers=None):
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


def queue(sqs, name):
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def receive(sqs, url, n, timeout=15):
    got = []
    deadline = time.time() + timeout
    while len(got) < n and time.time() < deadline:
        r = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for m in r.get("Messages", []):
            got.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return got


def test_buckets_are_created_listed_and_deleted_with_s3s_errors(s3):
    s3.create_bucket(Bucket="photos")
    s3.create_bucket(Bucket="logs-eu", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["logs-eu", "photos"]
    assert s3.get_bucket_location(Bucket="photos")["LocationConstraint"] is None
    assert s3.get_bucket_location(Bucket="logs-eu")["LocationConstraint"] == "eu-west-1"
    s3.head_bucket(Bucket="photos")
    assert error(lambda: s3.create_bucket(Bucket="photos")) == ("BucketAlreadyOwnedByYou", 409)
    assert error(lambda: s3.create_bucket(Bucket="Bad_Name")) == ("InvalidBucketName", 400)
    assert error(lambda: s3.head_bucket(Bucket="missing"))[1] == 404
    assert error(lambda: s3.put_object(Bucket="missing", Key="k", Body=b"x")) == ("NoSuchBucket", 404)
    s3.put_object(Bucket="photos", Key="a.jpg", Body=b"x")
    assert error(lambda: s3.delete_bucket(Bucket="photos")) == ("BucketNotEmpty", 409)
    s3.delete_object(Bucket="photos", Key="a.jpg")
    s3.delete_bucket(Bucket="photos")
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["logs-eu"]


def test_objects_keep_their_bytes_metadata_etag_and_checksums(s3):
    s3.create_bucket(Bucket="bkt")
    body = b"Hello world"
    r = s3.put_object(Bucket="bkt", Key="docs/hello.txt", Body=body, ContentType="text/plain",
                      Metadata={"Owner": "ann"}, CacheControl="max-age=60", Tagging="team=web&env=dev",
                      ChecksumAlgorithm="SHA256")
    assert r["ETag"] == '"%s"' % hashlib.md5(body).hexdigest()
    assert r["ChecksumSHA256"] == base64.b64encode(hashlib.sha256(body).digest()).decode()
    g = s3.get_object(Bucket="bkt", Key="docs/hello.txt", ChecksumMode="ENABLED")
    assert g["Body"].read() == body
    assert g["ContentType"] == "text/plain" and g["Metadata"] == {"owner": "ann"}
    assert g["CacheControl"] == "max-age=60" and g["ContentLength"] == len(body)
    assert g["ETag"] == r["ETag"] and g["ChecksumSHA256"] == r["ChecksumSHA256"]
    assert g["TagCount"] == 2
    tags = s3.get_object_tagging(Bucket="bkt", Key="docs/hello.txt")["TagSet"]
    assert sorted((t["Key"], t["Value"]) for t in tags) == [("env", "dev"), ("team", "web")]
    h = s3.head_object(Bucket="bkt", Key="docs/hello.txt")
    assert h["ContentLength"] == len(body) and h["ETag"] == r["ETag"]
    # The SDK's default integrity protection (CRC32 in an aws-chunked trailer or a header).
    s3.put_object(Bucket="bkt", Key="crc", Body=b"abc" * 1000)
    g = s3.get_object(Bucket="bkt", Key="crc", ChecksumMode="ENABLED")
    assert g["Body"].read() == b"abc" * 1000
    crc = base64.b64encode((zlib.crc32(b"abc" * 1000)).to_bytes(4, "big")).decode()
    assert g.get("ChecksumCRC32") in (crc, None) or g.get("ChecksumCRC64NVME")
    # An empty object, and a large one that is not kept inline.
    s3.put_object(Bucket="bkt", Key="empty", Body=b"")
    assert s3.get_object(Bucket="bkt", Key="empty")["Body"].read() == b""
    big = os.urandom(3 * 1024 * 1024 + 17)
    s3.put_object(Bucket="bkt", Key="big", Body=big)
    assert s3.get_object(Bucket="bkt", Key="big")["Body"].read() == big
    assert error(lambda: s3.get_object(Bucket="bkt", Key="nope")) == ("NoSuchKey", 404)


def test_wrong_digests_are_refused_and_change_nothing(s3):
    s3.create_bucket(Bucket="bkt")
    wrong_md5 = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    assert error(lambda: s3.put_object(Bucket="bkt", Key="k", Body=b"data", ContentMD5=wrong_md5)) == (
        "BadDigest", 400)
    wrong_crc = base64.b64encode((zlib.crc32(b"other")).to_bytes(4, "big")).decode()
    assert error(lambda: s3.put_object(Bucket="bkt", Key="k", Body=b"data", ChecksumCRC32=wrong_crc))[1] == 400
    assert error(lambda: s3.put_object(Bucket="bkt", Key="k", Body=b"data", ContentMD5="bm90LWEtbWQ1"))[0] in (
        "InvalidDigest", "BadDigest")
    assert s3.list_objects_v2(Bucket="bkt")["KeyCount"] == 0
    right = base64.b64encode(hashlib.md5(b"data").digest()).decode()
    s3.put_object(Bucket="bkt", Key="k", Body=b"data", ContentMD5=right)
    assert s3.get_object(Bucket="bkt", Key="k")["Body"].read() == b"data"


def test_ranges_and_conditional_requests(s3):
    s3.create_bucket(Bucket="bkt")
    body = bytes(range(256)) * 4
    etag = s3.put_object(Bucket="bkt", Key="k", Body=body)["ETag"]
    r = s3.get_object(Bucket="bkt", Key="k", Range="bytes=10-19")
    assert r["Body"].read() == body[10:20] and r["ContentRange"] == f"bytes 10-19/{len(body)}"
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert s3.get_object(Bucket="bkt", Key="k", Range="bytes=-5")["Body"].read() == body[-5:]
    assert s3.get_object(Bucket="bkt", Key="k", Range="bytes=1000-")["Body"].read() == body[1000:]
    assert error(lambda: s3.get_object(Bucket="bkt", Key="k", Range="bytes=5000-")) == ("InvalidRange", 416)
    assert error(lambda: s3.get_object(Bucket="bkt", Key="k", IfNoneMatch=etag))[1] == 304
    assert error(lambda: s3.get_object(Bucket="bkt", Key="k", IfMatch='"nope"')) == ("PreconditionFailed", 412)
    assert s3.get_object(Bucket="bkt", Key="k", IfMatch=etag)["Body"].read() == body
    future = "Wed, 01 Jan 2100 00:00:00 GMT"
    assert error(lambda: s3.get_object(Bucket="bkt", Key="k", IfModifiedSince=future))[1] == 304
    # Conditional writes.
    assert error(lambda: s3.put_object(Bucket="bkt", Key="k", Body=b"x", IfNoneMatch="*")) == (
        "PreconditionFailed", 412)
    s3.put_object(Bucket="bkt", Key="new", Body=b"x", IfNoneMatch="*")


def test_listings_group_10000_keys_by_delimiter_and_page_through_them(s3):
    s3.create_bucket(Bucket="many")
    keys = [f"dir{d:02d}/file{i:04d}" for d in range(20) for i in range(495)] + [
        f"top{i:03d}" for i in range(100)]
    assert len(keys) == 10000

    def put(chunk):
        c = s3._endpoint and s3  # the client is thread-safe for calls
        for k in chunk:
            c.put_object(Bucket="many", Key=k, Body=b"")
    threads = [threading.Thread(target=put, args=(keys[i::8],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    r = s3.list_objects_v2(Bucket="many", Delimiter="/")
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == [f"dir{d:02d}/" for d in range(20)]
    assert [o["Key"] for o in r["Contents"]] == [f"top{i:03d}" for i in range(100)]
    assert r["KeyCount"] == 120 and not r["IsTruncated"]
    seen = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket="many"):
        seen += [o["Key"] for o in page["Contents"]]
    assert seen == sorted(keys)
    seen = []
    for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket="many", Prefix="dir07/", PaginationConfig={"PageSize": 100}):
        seen += [o["Key"] for o in page["Contents"]]
    assert seen == [f"dir07/file{i:04d}" for i in range(495)]
    r = s3.list_objects_v2(Bucket="many", Delimiter="/", MaxKeys=5, StartAfter="dir03/zzz")
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["dir04/", "dir05/", "dir06/", "dir07/", "dir08/"]
    assert r["IsTruncated"]
    r2 = s3.list_objects_v2(Bucket="many", Delimiter="/", MaxKeys=5,
                            ContinuationToken=r["NextContinuationToken"])
    assert [p["Prefix"] for p in r2["CommonPrefixes"]][0] == "dir09/"
    v1 = s3.list_objects(Bucket="many", Prefix="top", MaxKeys=10, Marker="top050")
    assert [o["Key"] for o in v1["Contents"]] == [f"top{i:03d}" for i in range(51, 61)]


def test_versioning_keeps_versions_and_delete_markers(s3):
    s3.create_bucket(Bucket="ver")
    s3.put_object(Bucket="ver", Key="k", Body=b"before versioning")
    s3.put_bucket_versioning(Bucket="ver", VersioningConfiguration={"Status": "Enabled"})
    assert s3.get_bucket_versioning(Bucket="ver")["Status"] == "Enabled"
    v1 = s3.put_object(Bucket="ver", Key="k", Body=b"one")["VersionId"]
    v2 = s3.put_object(Bucket="ver", Key="k", Body=b"two")["VersionId"]
    assert v1 != v2 and v1 != "null"
    assert s3.get_object(Bucket="ver", Key="k")["Body"].read() == b"two"
    assert s3.get_object(Bucket="ver", Key="k", VersionId=v1)["Body"].read() == b"one"
    assert s3.get_object(Bucket="ver", Key="k", VersionId="null")["Body"].read() == b"before versioning"
    d = s3.delete_object(Bucket="ver", Key="k")
    assert d["DeleteMarker"] is True
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="ver", Key="k")
    assert e.value.response["Error"]["Code"] == "NoSuchKey"
    assert e.value.response["ResponseMetadata"]["HTTPHeaders"].get("x-amz-delete-marker") == "true"
    r = s3.list_object_versions(Bucket="ver")
    assert [(x["VersionId"], x["IsLatest"]) for x in r["Versions"]] == [(v2, False), (v1, False), ("null", False)]
    assert [(m["VersionId"], m["IsLatest"]) for m in r["DeleteMarkers"]] == [(d["VersionId"], True)]
    assert s3.list_objects_v2(Bucket="ver")["KeyCount"] == 0
    s3.delete_object(Bucket="ver", Key="k", VersionId=d["VersionId"])
    assert s3.get_object(Bucket="ver", Key="k")["Body"].read() == b"two"
    s3.delete_object(Bucket="ver", Key="k", VersionId=v2)
    assert s3.get_object(Bucket="ver", Key="k")["Body"].read() == b"one"
    s3.put_bucket_versioning(Bucket="ver", VersioningConfiguration={"Status": "Suspended"})
    assert s3.put_object(Bucket="ver", Key="k", Body=b"suspended").get("VersionId") in (None, "null")
    assert s3.get_object(Bucket="ver", Key="k", VersionId=v1)["Body"].read() == b"one"


def test_multipart_uploads_complete_abort_and_refuse_bad_parts(s3):
    s3.create_bucket(Bucket="mpu")
    part1 = os.urandom(5 * 1024 * 1024)
    part2 = os.urandom(1234)
    up = s3.create_multipart_upload(Bucket="mpu", Key="big.bin", ContentType="application/x-test",
                                    ChecksumAlgorithm="CRC32")
    uid = up["UploadId"]
    e1 = s3.upload_part(Bucket="mpu", Key="big.bin", UploadId=uid, PartNumber=1, Body=part1,
                        ChecksumAlgorithm="CRC32")
    e2 = s3.upload_part(Bucket="mpu", Key="big.bin", UploadId=uid, PartNumber=2, Body=part2,
                        ChecksumAlgorithm="CRC32")
    parts = s3.list_parts(Bucket="mpu", Key="big.bin", UploadId=uid)["Parts"]
    assert [(p["PartNumber"], p["Size"]) for p in parts] == [(1, len(part1)), (2, len(part2))]
    assert [u["UploadId"] for u in s3.list_multipart_uploads(Bucket="mpu")["Uploads"]] == [uid]
    assert error(lambda: s3.complete_multipart_upload(
        Bucket="mpu", Key="big.bin", UploadId=uid,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": '"0000"'}]})) == ("InvalidPart", 400)
    done = s3.complete_multipart_upload(
        Bucket="mpu", Key="big.bin", UploadId=uid,
        MultipartUpload={"Parts": [
            {"PartNumber": 1, "ETag": e1["ETag"], "ChecksumCRC32": e1["ChecksumCRC32"]},
            {"PartNumber": 2, "ETag": e2["ETag"], "ChecksumCRC32": e2["ChecksumCRC32"]}]})
    md5s = hashlib.md5(hashlib.md5(part1).digest() + hashlib.md5(part2).digest()).hexdigest()
    assert done["ETag"] == f'"{md5s}-2"'
    g = s3.get_object(Bucket="mpu", Key="big.bin")
    assert g["Body"].read() == part1 + part2 and g["ContentType"] == "application/x-test"
    assert s3.get_object(Bucket="mpu", Key="big.bin", PartNumber=2)["Body"].read() == part2
    assert s3.list_multipart_uploads(Bucket="mpu").get("Uploads", []) == []
    # Too small a part (not the last), and an aborted upload.
    up = s3.create_multipart_upload(Bucket="mpu", Key="small")["UploadId"]
    a = s3.upload_part(Bucket="mpu", Key="small", UploadId=up, PartNumber=1, Body=b"a")["ETag"]
    b = s3.upload_part(Bucket="mpu", Key="small", UploadId=up, PartNumber=2, Body=b"b")["ETag"]
    assert error(lambda: s3.complete_multipart_upload(
        Bucket="mpu", Key="small", UploadId=up,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": a}, {"PartNumber": 2, "ETag": b}]})) == (
        "EntityTooSmall", 400)
    assert error(lambda: s3.complete_multipart_upload(
        Bucket="mpu", Key="small", UploadId=up,
        MultipartUpload={"Parts": [{"PartNumber": 2, "ETag": b}, {"PartNumber": 1, "ETag": a}]})) == (
        "InvalidPartOrder", 400)
    s3.abort_multipart_upload(Bucket="mpu", Key="small", UploadId=up)
    assert error(lambda: s3.upload_part(Bucket="mpu", Key="small", UploadId=up, PartNumber=3,
                                        Body=b"c")) == ("NoSuchUpload", 404)
    # A part copied from an object's range.
    up = s3.create_multipart_upload(Bucket="mpu", Key="copied")["UploadId"]
    c = s3.upload_part_copy(Bucket="mpu", Key="copied", UploadId=up, PartNumber=1,
                            CopySource={"Bucket": "mpu", "Key": "big.bin"}, CopySourceRange="bytes=0-99")
    s3.complete_multipart_upload(Bucket="mpu", Key="copied", UploadId=up, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": c["CopyPartResult"]["ETag"]}]})
    assert s3.get_object(Bucket="mpu", Key="copied")["Body"].read() == part1[:100]


def test_copy_object_shares_data_and_replaces_metadata(s3):
    s3.create_bucket(Bucket="src")
    s3.create_bucket(Bucket="dst")
    s3.put_object(Bucket="src", Key="a", Body=os.urandom(200_000), Metadata={"x": "1"})
    data = s3.get_object(Bucket="src", Key="a")["Body"].read()
    r = s3.copy_object(Bucket="dst", Key="b", CopySource="src/a")
    assert r["CopyObjectResult"]["ETag"] == '"%s"' % hashlib.md5(data).hexdigest()
    assert s3.head_object(Bucket="dst", Key="b")["Metadata"] == {"x": "1"}
    s3.copy_object(Bucket="dst", Key="c", CopySource="src/a", MetadataDirective="REPLACE",
                   Metadata={"y": "2"}, ContentType="image/png")
    h = s3.head_object(Bucket="dst", Key="c")
    assert h["Metadata"] == {"y": "2"} and h["ContentType"] == "image/png"
    s3.delete_object(Bucket="src", Key="a")
    assert s3.get_object(Bucket="dst", Key="b")["Body"].read() == data
    assert error(lambda: s3.copy_object(Bucket="dst", Key="b", CopySource="dst/b"))[0] == "InvalidRequest"
    r = s3.delete_objects(Bucket="dst", Delete={"Objects": [{"Key": "b"}, {"Key": "c"}, {"Key": "zz"}]})
    assert sorted(d["Key"] for d in r["Deleted"]) == ["b", "c", "zz"]
    assert s3.list_objects_v2(Bucket="dst")["KeyCount"] == 0


def test_presigned_urls_work_with_plain_http_and_expire(server, s3):
    s3.create_bucket(Bucket="share")
    put_url = s3.generate_presigned_url("put_object", Params={"Bucket": "share", "Key": "up.txt"},
                                        ExpiresIn=300)
    status, _, _ = raw("PUT", put_url, b"uploaded with a presigned URL")
    assert status == 200
    get_url = s3.generate_presigned_url("get_object", Params={"Bucket": "share", "Key": "up.txt"})
    status, _, body = raw("GET", get_url)
    assert (status, body) == (200, b"uploaded with a presigned URL")
    expired = s3.generate_presigned_url("get_object", Params={"Bucket": "share", "Key": "up.txt"},
                                        ExpiresIn=1)
    time.sleep(2.1)
    status, _, body = raw("GET", expired)
    assert status == 403 and b"<Code>AccessDenied</Code>" in body and b"Request has expired" in body
    # Without any credentials, nothing.
    status, _, _ = raw("GET", f"{server.aws}/share/up.txt")
    assert status == 403


def test_a_web_page_uploads_through_a_presigned_put_only_under_the_buckets_cors(server, s3):
    s3.create_bucket(Bucket="web")
    url = s3.generate_presigned_url("put_object", Params={"Bucket": "web", "Key": "avatar.png"})
    origin = "http://app.example.test"
    preflight = {"Origin": origin, "Access-Control-Request-Method": "PUT",
                 "Access-Control-Request-Headers": "content-type"}
    status, _, _ = raw("OPTIONS", url, headers=preflight)
    assert status == 403, "no CORS configuration: no page may use the bucket"
    status, _, _ = raw("PUT", url, b"png", headers={"Origin": origin})
    assert status == 403
    s3.put_bucket_cors(Bucket="web", CORSConfiguration={"CORSRules": [{
        "AllowedOrigins": [origin], "AllowedMethods": ["PUT", "GET"], "AllowedHeaders": ["*"],
        "ExposeHeaders": ["ETag"], "MaxAgeSeconds": 600}]})
    status, headers, _ = raw("OPTIONS", url, headers=preflight)
    assert status == 200
    assert headers["access-control-allow-origin"] == origin
    assert "PUT" in headers["access-control-allow-methods"]
    status, headers, _ = raw("PUT", url, b"png", headers={"Origin": origin, "Content-Type": "image/png"})
    assert status == 200 and headers["access-control-allow-origin"] == origin
    assert s3.get_object(Bucket="web", Key="avatar.png")["Body"].read() == b"png"
    status, _, _ = raw("PUT", url, b"x", headers={"Origin": "http://evil.example"})
    assert status == 403
    rules = s3.get_bucket_cors(Bucket="web")["CORSRules"]
    assert rules[0]["AllowedOrigins"] == [origin]


def test_virtual_hosted_addressing(server, s3):
    s3.create_bucket(Bucket="vhost")
    s3.put_object(Bucket="vhost", Key="dir/a.txt", Body=b"by host")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "vhost", "Key": "dir/a.txt"})
    port = server.aws.rsplit(":", 1)[1]
    # The same object through `vhost.s3.localhost`, resolved to the loopback by hand.
    path_and_query = url.split(f":{port}", 1)[1].replace("/vhost/", "/", 1)
    status, _, body = raw("GET", f"{server.aws}{path_and_query}",
                          headers={"Host": f"vhost.s3.localhost:{port}"})
    assert (status, body) == (200, b"by host")
    client = server.client("s3", config=Config(s3={"addressing_style": "path"}))
    assert client.get_object(Bucket="vhost", Key="dir/a.txt")["Body"].read() == b"by host"


def test_hostile_keys_and_names(s3, server):
    s3.create_bucket(Bucket="keys")
    s3.put_object(Bucket="keys", Key="../../etc/passwd", Body=b"just a key")
    assert s3.get_object(Bucket="keys", Key="../../etc/passwd")["Body"].read() == b"just a key"
    assert not os.path.exists(os.path.join(server.data_dir, "..", "..", "etc", "passwd.eddy"))
    s3.put_object(Bucket="keys", Key="k" * 1024, Body=b"longest")
    assert error(lambda: s3.put_object(Bucket="keys", Key="k" * 1025, Body=b"x"))[0] == "KeyTooLongError"
    s3.put_object(Bucket="keys", Key="ünïcødé/ключ 🙂", Body=b"utf8")
    assert s3.get_object(Bucket="keys", Key="ünïcødé/ключ 🙂")["Body"].read() == b"utf8"
    for bad in ("ab", "a" * 64, "UPPER", "-dash", "a..b", "10.0.0.1"):
        assert error(lambda: s3.create_bucket(Bucket=bad))[1] == 400, bad
    s3.create_bucket(Bucket="a" * 63)
    auth = {"Authorization": "AWS4-HMAC-SHA256 Credential=t/20260101/us-east-1/s3/aws4_request, "
                             "SignedHeaders=host, Signature=0"}
    status, _, body = raw("PUT", f"{server.aws}/keys/a%00b", b"x", auth)
    assert status == 400 and b"<Code>InvalidArgument</Code>" in body and b"NUL" in body
    status, _, body = raw("PUT", f"{server.aws}/Bad_Name", None, auth)
    assert status == 400 and b"<Message>The specified bucket is not valid.</Message>" in body
    assert b"<RequestId>" in body
    # A chunked body whose framing lies is refused, and nothing is kept.
    status, _, body = raw("PUT", f"{server.aws}/keys/chunked", b"5\r\nab", {
        **auth, "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        "Content-Encoding": "aws-chunked", "x-amz-decoded-content-length": "5"})
    assert 400 <= status < 500, (status, body)
    assert error(lambda: s3.head_object(Bucket="keys", Key="chunked"))[1] == 404
    # Objects are stored in blobs named by eddy, never by keys.
    for root, _, files in os.walk(os.path.join(server.data_dir, "objects")):
        for f in files:
            assert len(f) == 32 and all(c in "0123456789abcdef" for c in f), f


def test_the_aws_cli_copies_syncs_lists_and_removes(server, s3, tmp_path):
    assert aws_cli(server, "s3", "mb", "s3://cli")[0] == 0
    src = tmp_path / "src"
    (src / "nested").mkdir(parents=True)
    (src / "a.txt").write_bytes(b"alpha")
    (src / "nested" / "b.txt").write_bytes(b"beta")
    big = os.urandom(20 * 1024 * 1024 + 5)
    (src / "big.bin").write_bytes(big)
    code, out, err = aws_cli(server, "s3", "cp", str(src / "big.bin"), "s3://cli/big.bin")
    assert code == 0, err
    head = s3.head_object(Bucket="cli", Key="big.bin")
    assert head["ContentLength"] == len(big) and "-" in head["ETag"], "a multipart upload"
    code, _, err = aws_cli(server, "s3", "sync", str(src), "s3://cli/tree")
    assert code == 0, err
    code, out, _ = aws_cli(server, "s3", "ls", "s3://cli/tree/", "--recursive")
    assert sorted(line.split()[-1] for line in out.splitlines()) == [
        "tree/a.txt", "tree/big.bin", "tree/nested/b.txt"]
    dest = tmp_path / "back"
    code, _, err = aws_cli(server, "s3", "cp", "s3://cli/big.bin", str(dest))
    assert code == 0, err
    assert dest.read_bytes() == big
    code, out, _ = aws_cli(server, "s3api", "get-object-tagging", "--bucket", "cli", "--key", "big.bin")
    assert code == 0 and json.loads(out)["TagSet"] == []
    assert aws_cli(server, "s3", "rm", "s3://cli", "--recursive")[0] == 0
    assert aws_cli(server, "s3", "rb", "s3://cli")[0] == 0
    assert "cli" not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_object_events_reach_an_eventbridge_rule_with_s3s_detail(server, s3):
    sqs, events = server.client("sqs"), server.client("events")
    url, arn = queue(sqs, "object-events")
    events.put_rule(Name="uploads", EventPattern=json.dumps({
        "source": ["aws.s3"], "detail-type": ["Object Created", "Object Deleted"],
        "detail": {"bucket": {"name": ["uploads"]}}}))
    events.put_targets(Rule="uploads", Targets=[{"Id": "q", "Arn": arn}])
    s3.create_bucket(Bucket="uploads")
    s3.put_bucket_notification_configuration(
        Bucket="uploads", NotificationConfiguration={"EventBridgeConfiguration": {}})
    assert "EventBridgeConfiguration" in s3.get_bucket_notification_configuration(Bucket="uploads")
    s3.put_object(Bucket="uploads", Key="photos/cat.jpg", Body=b"meow")
    s3.delete_object(Bucket="uploads", Key="photos/cat.jpg")
    got = receive(sqs, url, 2)
    assert [e["detail-type"] for e in got] == ["Object Created", "Object Deleted"]
    created = got[0]
    assert created["source"] == "aws.s3" and created["resources"] == ["arn:aws:s3:::uploads"]
    assert created["region"] == "us-east-1" and created["account"] == ACCOUNT
    d = created["detail"]
    assert d["version"] == "0" and d["bucket"] == {"name": "uploads"}
    assert d["object"]["key"] == "photos/cat.jpg" and d["object"]["size"] == 4
    assert d["object"]["etag"] == hashlib.md5(b"meow").hexdigest() and d["object"]["sequencer"]
    assert d["reason"] == "PutObject" and d["request-id"] and d["source-ip-address"] == "127.0.0.1"
    assert got[1]["detail"]["deletion-type"] == "Permanently Deleted"


def test_classic_notifications_to_a_queue_filter_by_prefix_and_suffix(server, s3):
    sqs = server.client("sqs")
    url, arn = queue(sqs, "thumbnails")
    s3.create_bucket(Bucket="images")
    assert error(lambda: s3.put_bucket_notification_configuration(
        Bucket="images", NotificationConfiguration={"QueueConfigurations": [{
            "QueueArn": arn.replace("thumbnails", "missing"), "Events": ["s3:ObjectCreated:*"]}]}))[0] == (
        "InvalidArgument")
    fifo = sqs.create_queue(QueueName="x.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    fifo_arn = sqs.get_queue_attributes(QueueUrl=fifo, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    assert error(lambda: s3.put_bucket_notification_configuration(
        Bucket="images", NotificationConfiguration={"QueueConfigurations": [{
            "QueueArn": fifo_arn, "Events": ["s3:ObjectCreated:*"]}]}))[0] == "InvalidArgument"
    s3.put_bucket_notification_configuration(Bucket="images", NotificationConfiguration={
        "QueueConfigurations": [{
            "Id": "jpgs", "QueueArn": arn, "Events": ["s3:ObjectCreated:*"],
            "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "in/"},
                                               {"Name": "suffix", "Value": ".jpg"}]}}}]})
    test_event = receive(sqs, url, 1)
    assert test_event[0]["Event"] == "s3:TestEvent" and test_event[0]["Bucket"] == "images"
    s3.put_object(Bucket="images", Key="in/red flower.jpg", Body=b"jpg")
    s3.put_object(Bucket="images", Key="in/notes.txt", Body=b"txt")
    s3.put_object(Bucket="images", Key="out/a.jpg", Body=b"jpg")
    got = receive(sqs, url, 2, timeout=5)
    assert len(got) == 1
    rec = got[0]["Records"][0]
    assert rec["eventVersion"] == "2.1" and rec["eventSource"] == "aws:s3"
    assert rec["eventName"] == "ObjectCreated:Put" and rec["awsRegion"] == "us-east-1"
    assert rec["s3"]["configurationId"] == "jpgs"
    assert rec["s3"]["bucket"]["name"] == "images" and rec["s3"]["bucket"]["arn"] == "arn:aws:s3:::images"
    assert rec["s3"]["object"]["key"] == "in/red+flower.jpg" and rec["s3"]["object"]["size"] == 3
    cfg = s3.get_bucket_notification_configuration(Bucket="images")["QueueConfigurations"][0]
    assert cfg["Id"] == "jpgs" and cfg["QueueArn"] == arn


PY_S3 = '''
def handler(event, context):
    return {"got": event}
'''


def test_a_python_function_gets_the_s3_event_record(server, s3):
    sqs, lam = server.client("sqs"), server.client("lambda")
    out_url, out_arn = queue(sqs, "results")
    lam.create_function(FunctionName="on-upload", Runtime="python3.12", Role=ROLE,
                        Handler="app.handler", Code={"ZipFile": py_zip(PY_S3)})
    lam.put_function_event_invoke_config(
        FunctionName="on-upload", DestinationConfig={"OnSuccess": {"Destination": out_arn}})
    s3.create_bucket(Bucket="inbox")
    fn = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:on-upload"
    s3.put_bucket_notification_configuration(Bucket="inbox", NotificationConfiguration={
        "LambdaFunctionConfigurations": [{"LambdaFunctionArn": fn, "Events": ["s3:ObjectCreated:Put"]}]})
    s3.put_object(Bucket="inbox", Key="report.csv", Body=b"a,b\n")
    got = receive(sqs, out_url, 1, timeout=30)
    assert len(got) == 1
    rec = got[0]["responsePayload"]["got"]["Records"][0]
    assert rec["eventName"] == "ObjectCreated:Put" and rec["s3"]["object"]["key"] == "report.csv"
    assert rec["s3"]["object"]["eTag"] == hashlib.md5(b"a,b\n").hexdigest()


def blob_files(data_dir):
    found = []
    for root, _, files in os.walk(os.path.join(data_dir, "objects", "blobs")):
        found += files
    return found


def test_kill_9_keeps_acknowledged_objects_and_leaves_no_orphans(fresh_dir):
    server = Eddy(fresh_dir).start()
    try:
        s3 = server.client("s3")
        s3.create_bucket(Bucket="crash")
        kept = {f"k{i}": os.urandom(100_000 + i) for i in range(20)}
        for k, v in kept.items():
            s3.put_object(Bucket="crash", Key=k, Body=v)
        up = s3.create_multipart_upload(Bucket="crash", Key="partial")["UploadId"]
        s3.upload_part(Bucket="crash", Key="partial", UploadId=up, PartNumber=1,
                       Body=os.urandom(5 * 1024 * 1024))
        # A large PUT in flight when the process dies.
        def slow_body():
            yield os.urandom(4 * 1024 * 1024)
            time.sleep(5)
            yield b"never"
        req = urllib.request.Request(
            server.aws + "/crash/in-flight", data=slow_body(), method="PUT",
            headers={"Authorization": "AWS4-HMAC-SHA256 Credential=t/20260101/us-east-1/s3/aws4_request, "
                                      "SignedHeaders=host, Signature=0",
                     "Content-Length": str(8 * 1024 * 1024)})
        t = threading.Thread(target=lambda: pytest.raises(Exception, urllib.request.urlopen, req))
        t.start()
        time.sleep(1.0)
        server.proc.send_signal(signal.SIGKILL)
        server.proc.wait()
        t.join()
        server = Eddy(fresh_dir).start()
        s3 = server.client("s3")
        for k, v in kept.items():
            assert s3.get_object(Bucket="crash", Key=k)["Body"].read() == v
        assert error(lambda: s3.head_object(Bucket="crash", Key="in-flight"))[1] == 404
        assert [u["UploadId"] for u in s3.list_multipart_uploads(Bucket="crash")["Uploads"]] == [up]
        s3.abort_multipart_upload(Bucket="crash", Key="partial", UploadId=up)
        if PG_STORE:
            return  # nodes sharing a store sweep only blobs an hour old (another may be writing)
        # Every blob left is an object's: 20 objects, no orphan of the killed PUT or part.
        assert wait_for(lambda: len(blob_files(fresh_dir)) == 20, timeout=10), blob_files(fresh_dir)
        assert os.listdir(os.path.join(fresh_dir, "objects", "tmp")) == []
    finally:
        server.stop()


def test_functions_take_their_code_from_a_bucket(server, s3):
    lam = server.client("lambda")
    s3.create_bucket(Bucket="artifacts")
    s3.put_object(Bucket="artifacts", Key="builds/fn.zip", Body=py_zip(PY_S3))
    lam.create_function(FunctionName="from-s3", Runtime="python3.12", Role=ROLE, Handler="app.handler",
                        Code={"S3Bucket": "artifacts", "S3Key": "builds/fn.zip"})
    out = lam.invoke(FunctionName="from-s3", Payload=b'{"n": 1}')
    assert json.loads(out["Payload"].read()) == {"got": {"n": 1}}
    s3.put_object(Bucket="artifacts", Key="builds/fn2.zip",
                  Body=py_zip('def handler(event, context):\n    return "v2"\n'))
    lam.update_function_code(FunctionName="from-s3", S3Bucket="artifacts", S3Key="builds/fn2.zip")
    assert wait_for(lambda: json.loads(lam.invoke(FunctionName="from-s3")["Payload"].read()) == "v2")
    with pytest.raises(ClientError) as e:
        lam.create_function(FunctionName="missing", Runtime="python3.12", Role=ROLE, Handler="app.handler",
                            Code={"S3Bucket": "artifacts", "S3Key": "nope.zip"})
    assert e.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert "NoSuchKey" in e.value.response["Error"]["Message"]


def test_a_topic_destination_fans_object_events_out(server, s3):
    sns, sqs = server.client("sns"), server.client("sqs")
    url, arn = queue(sqs, "via-topic")
    topic = sns.create_topic(Name="uploads")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn,
                  Attributes={"RawMessageDelivery": "true"})
    s3.create_bucket(Bucket="fanout")
    s3.put_bucket_notification_configuration(Bucket="fanout", NotificationConfiguration={
        "TopicConfigurations": [{"TopicArn": topic, "Events": ["s3:ObjectRemoved:*"]}]})
    assert receive(sqs, url, 1)[0]["Event"] == "s3:TestEvent"
    s3.put_object(Bucket="fanout", Key="a", Body=b"x")
    s3.delete_object(Bucket="fanout", Key="a")
    got = receive(sqs, url, 1)
    assert got[0]["Records"][0]["eventName"] == "ObjectRemoved:Delete"
    assert got[0]["Records"][0]["s3"]["object"]["key"] == "a"


def test_the_aws_cli_moves_a_gibibyte_both_ways_byte_for_byte(server, s3, tmp_path):
    s3.create_bucket(Bucket="big")
    src = tmp_path / "gib.bin"
    block = os.urandom(1024 * 1024)
    digest = hashlib.sha256()
    with open(src, "wb") as f:
        for i in range(1024):
            chunk = i.to_bytes(4, "big") + block[4:]
            digest.update(chunk)
            f.write(chunk)
    code, _, err = aws_cli(server, "s3", "cp", str(src), "s3://big/gib.bin", timeout=600)
    assert code == 0, err
    src.unlink()
    head = s3.head_object(Bucket="big", Key="gib.bin")
    assert head["ContentLength"] == 1024 ** 3 and "-" in head["ETag"]
    back = tmp_path / "back.bin"
    code, _, err = aws_cli(server, "s3", "cp", "s3://big/gib.bin", str(back), timeout=600)
    assert code == 0, err
    got = hashlib.sha256()
    with open(back, "rb") as f:
        while chunk := f.read(8 * 1024 * 1024):
            got.update(chunk)
    assert got.hexdigest() == digest.hexdigest()
    s3.delete_object(Bucket="big", Key="gib.bin")

//! S3 (rest-xml over paths, query strings and headers): every method on buckets and keys drawn
//! from S3's vocabulary and hostile values, with the subresources eddy serves and some it does
//! not, the headers that steer operations (ranges, conditions, copy sources, checksums, tags,
//! `aws-chunked` bodies) and XML or junk bodies.

use axum::http::{Method, StatusCode};
use proptest::prelude::*;

use super::{Call, Fixture, Sender, Shape, check_reply, pct, sender};

const BUCKETS: &[&str] = &[
    "bkt", "ver", "missing", "Bad_Name", "ab", "a..b", "xn--x", "",
];

fn bucket() -> BoxedStrategy<String> {
    prop_oneof![
        8 => prop::sample::select(BUCKETS).prop_map(str::to_owned),
        1 => "[a-z0-9.-]{0,70}",
    ]
    .boxed()
}

const KEYS: &[&str] = &[
    "k",
    "a/b/c.txt",
    "../../etc/passwd",
    "dir/",
    "\u{0}",
    "sp ace+plus",
    "ключ🙂",
    "%",
    "k?x=1",
];

fn key() -> BoxedStrategy<String> {
    prop_oneof![
        8 => prop::sample::select(KEYS).prop_map(str::to_owned),
        1 => "\\PC{0,30}",
        1 => (1000usize..1100).prop_map(|n| "k".repeat(n)),
    ]
    .boxed()
}

const QUERIES: &[&str] = &[
    "",
    "uploads",
    "uploadId=@UPLOAD@",
    "uploadId=nope",
    "partNumber=1&uploadId=@UPLOAD@",
    "partNumber=0&uploadId=@UPLOAD@",
    "partNumber=10001&uploadId=@UPLOAD@",
    "partNumber=-1",
    "partNumber=2",
    "versionId=null",
    "versionId=nope",
    "versioning",
    "cors",
    "policy",
    "tagging",
    "notification",
    "location",
    "delete",
    "list-type=2",
    "list-type=2&delimiter=/&max-keys=1",
    "list-type=2&max-keys=-1",
    "list-type=2&continuation-token=%FF%FE",
    "list-type=2&start-after=k&prefix=a",
    "versions",
    "versions&key-marker=k&version-id-marker=nope",
    "marker=k&max-keys=2",
    "encoding-type=url",
    "max-uploads=0&uploads",
    "part-number-marker=x&uploadId=@UPLOAD@",
    "acl",
    "website",
    "lifecycle",
    "select&select-type=2",
    "attributes",
    "restore",
];

const HEADERS: &[(&str, &str)] = &[
    ("range", "bytes=0-3"),
    ("range", "bytes=-2"),
    ("range", "bytes=5-1"),
    ("range", "bytes=99999999999999999999-"),
    ("range", "chars=1-2"),
    ("if-match", "\"nope\""),
    ("if-none-match", "*"),
    ("if-modified-since", "Wed, 01 Jan 2100 00:00:00 GMT"),
    ("if-unmodified-since", "not a date"),
    ("x-amz-copy-source", "bkt/k"),
    ("x-amz-copy-source", "/missing/k?versionId=x"),
    ("x-amz-copy-source", "%%%"),
    ("x-amz-copy-source-range", "bytes=0-1"),
    ("x-amz-copy-source-range", "bytes=9-1"),
    ("x-amz-metadata-directive", "REPLACE"),
    ("x-amz-tagging-directive", "REPLACE"),
    ("content-md5", "AAAAAAAAAAAAAAAAAAAAAA=="),
    ("content-md5", "not base64"),
    ("x-amz-checksum-crc32", "AAAAAA=="),
    ("x-amz-checksum-sha256", "??"),
    ("x-amz-checksum-algorithm", "CRC64NVME"),
    ("x-amz-checksum-algorithm", "MD4"),
    ("x-amz-sdk-checksum-algorithm", "CRC32"),
    ("x-amz-checksum-type", "FULL_OBJECT"),
    ("x-amz-tagging", "a=b&a=c"),
    ("x-amz-tagging", "%ZZ"),
    ("x-amz-meta-owner", "ann"),
    ("content-type", "text/plain"),
    ("x-amz-content-sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"),
    ("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"),
    (
        "x-amz-content-sha256",
        "0000000000000000000000000000000000000000000000000000000000000000",
    ),
    ("x-amz-decoded-content-length", "5"),
    ("x-amz-decoded-content-length", "-1"),
    ("x-amz-trailer", "x-amz-checksum-crc32"),
    ("content-encoding", "aws-chunked"),
    ("x-amz-bucket-object-lock-enabled", "true"),
];

const BODIES: &[&str] = &[
    "",
    "data",
    "5\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\n",
    "5;chunk-signature=00\r\nhello\r\n0;chunk-signature=00\r\n\r\n",
    "ffffffffffffffffff\r\n",
    "<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>",
    "<VersioningConfiguration><Status>Maybe</Status></VersioningConfiguration>",
    "<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>",
    "<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>PATCH</AllowedMethod></CORSRule></CORSConfiguration>",
    "<Tagging><TagSet><Tag><Key>a</Key><Value>b</Value></Tag></TagSet></Tagging>",
    "<Tagging><TagSet><Tag><Key>aws:x</Key><Value>b</Value></Tag></TagSet></Tagging>",
    "<NotificationConfiguration><EventBridgeConfiguration/></NotificationConfiguration>",
    "<NotificationConfiguration><QueueConfiguration><Queue>arn:aws:sqs:us-east-1:123456789012:none</Queue><Event>s3:ObjectCreated:*</Event></QueueConfiguration></NotificationConfiguration>",
    "<NotificationConfiguration><QueueConfiguration><Queue>x</Queue><Event>s3:Bogus</Event><Filter><S3Key><FilterRule><Name>middle</Name><Value>a</Value></FilterRule></S3Key></Filter></QueueConfiguration></NotificationConfiguration>",
    "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>\"x\"</ETag></Part></CompleteMultipartUpload>",
    "<CompleteMultipartUpload><Part><PartNumber>2</PartNumber><ETag>\"x\"</ETag></Part><Part><PartNumber>1</PartNumber><ETag>\"y\"</ETag></Part></CompleteMultipartUpload>",
    "<CompleteMultipartUpload></CompleteMultipartUpload>",
    "<Delete><Object><Key>k</Key></Object><Object><Key>a/b/c.txt</Key><VersionId>nope</VersionId></Object></Delete>",
    "{\"Version\":\"2012-10-17\",\"Statement\":[]}",
    "<CreateBucketConfiguration><LocationConstraint>eu-west-1</LocationConstraint></CreateBucketConfiguration>",
    "<",
    "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><Tagging><TagSet><Tag><Key>&e;</Key><Value>v</Value></Tag></TagSet></Tagging>",
];

#[derive(Debug, Clone)]
struct Case {
    method: Method,
    bucket: String,
    key: Option<String>,
    query: &'static str,
    headers: Vec<(&'static str, &'static str)>,
    body: Vec<u8>,
    sender: Sender,
}

fn case() -> BoxedStrategy<Case> {
    let method = prop::sample::select(
        &[
            Method::GET,
            Method::PUT,
            Method::POST,
            Method::DELETE,
            Method::HEAD,
            Method::OPTIONS,
        ][..],
    );
    let body = prop_oneof![
        6 => prop::sample::select(BODIES).prop_map(|b| b.as_bytes().to_vec()),
        1 => proptest::collection::vec(any::<u8>(), 0..300),
    ];
    (
        method,
        bucket(),
        prop::option::weighted(0.7, key()),
        prop_oneof![1 => Just(""), 2 => prop::sample::select(QUERIES)],
        proptest::collection::vec(prop::sample::select(HEADERS), 0..3),
        body,
        sender(),
    )
        .prop_map(|(method, bucket, key, query, headers, body, sender)| Case {
            method,
            bucket,
            key,
            query,
            headers,
            body,
            sender,
        })
        .boxed()
}

fn uri(bucket: &str, key: Option<&str>, query: &str) -> String {
    let mut u = format!("/{}", pct(bucket));
    if let Some(k) = key {
        u.push('/');
        u.push_str(&k.split('/').map(pct).collect::<Vec<_>>().join("/"));
    }
    if !query.is_empty() {
        u.push('?');
        u.push_str(query);
    }
    u
}

fn put(path: &str, body: &str) -> Call {
    Call::new(Method::PUT, path)
        .header("content-length", body.len().to_string())
        .body(body.as_bytes().to_vec())
        .signed("s3")
}

/// Operations that must succeed at least once in a run.
const REACHED: &[&str] = &["PUT object", "GET object", "GET bucket"];

#[test]
fn no_request_panics_or_answers_5xx() {
    let fx = Fixture::new();
    fx.setup(put("/bkt", ""));
    fx.setup(put("/ver", ""));
    fx.setup(put(
        "/ver?versioning",
        "<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>",
    ));
    fx.setup(put("/bkt/k", "hello"));
    let created = fx.setup(Call::new(Method::POST, "/bkt/k?uploads").signed("s3"));
    let text = created.text();
    let upload = text
        .split("<UploadId>")
        .nth(1)
        .and_then(|r| r.split("</UploadId>").next())
        .expect("an upload id")
        .to_owned();
    let cases = proptest::collection::vec(case(), 1..8);
    fx.check(1024, cases, |fx, cases: Vec<Case>| {
        for case in cases {
            let query = case.query.replace("@UPLOAD@", &upload);
            let mut c = Call::new(
                case.method.clone(),
                uri(&case.bucket, case.key.as_deref(), &query),
            )
            .header("content-length", case.body.len().to_string())
            .body(case.body.clone());
            for (name, value) in &case.headers {
                c = c.header(name, *value);
            }
            let c = case.sender.prepare(c, "s3");
            let reply = fx.rt.block_on(fx.send(&c))?;
            if case.sender == Sender::Sdk {
                let what = if case.key.is_some() {
                    "object"
                } else {
                    "bucket"
                };
                fx.record(&format!("{} {what}", case.method), &reply);
            }
            // S3 answers 501 NotImplemented for what it does not do: the one 5xx that is
            // S3's own word, not a failure.
            let not_implemented = reply.status == StatusCode::NOT_IMPLEMENTED
                && (c.method == Method::HEAD
                    || reply.text().contains("<Code>NotImplemented</Code>"));
            // 304 answers a conditional GET or HEAD whose object did not change.
            if !not_implemented && reply.status != StatusCode::NOT_MODIFIED {
                check_reply(Shape::RestXml, &c, &reply)?;
            }
            if reply.text().contains("root:") {
                return Err(format!("a file's content leaked: {c:?}"));
            }
            if case.sender.refused() && reply.status != StatusCode::FORBIDDEN {
                return Err(format!(
                    "a request from {:?} was not refused: {c:?} answered {}",
                    case.sender, reply.status
                ));
            }
        }
        Ok(())
    });
    fx.assert_reached(REACHED);
}

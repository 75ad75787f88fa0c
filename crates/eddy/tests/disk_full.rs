//! Disk full, black box: the real `eddy serve` with its data directory on a small tmpfs.
//! PutEvents until the disk is full: the client gets 503 `ServiceUnavailable` saying the store is
//! full (never a 500), SQS says the same in its query-protocol header, and `/_eddy/health`
//! answers 503. Then space returns (a filler file on the same tmpfs is removed): health turns ok
//! by itself, PutEvents works again, and every event acknowledged before and after reaches the
//! rule's queue target and is in the store.
//!
//! Mounting needs root; otherwise the test runs itself again inside a user and mount namespace
//! (`unshare --user --map-root-user --mount`), or says why it skipped.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

mod common;
use common::Server;
use eddy_testkit::tmpfs::on_tmpfs;

#[derive(Debug)]
struct Reply {
    status: u16,
    headers: HashMap<String, String>,
    body: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

/// One HTTP/1.1 request on its own connection.
fn request(addr: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Reply {
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let mut conn = BufReader::new(TcpStream::connect(addr).expect("connect"));
    conn.get_mut()
        .write_all(head.as_bytes())
        .and_then(|()| conn.get_mut().write_all(body.as_bytes()))
        .expect("send");
    let mut line = String::new();
    conn.read_line(&mut line).expect("status line");
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {line:?}"));
    let mut headers = HashMap::new();
    loop {
        line.clear();
        conn.read_line(&mut line).expect("header");
        if line.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
        }
    }
    let len = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut buf = vec![0; len];
    conn.read_exact(&mut buf).expect("body");
    Reply {
        status,
        headers,
        body: String::from_utf8_lossy(&buf).into_owned(),
    }
}

/// An AWS JSON call (`service` is the SigV4 scope's service: `events` or `sqs`).
fn aws(addr: &str, service: &str, target: &str, body: &Value) -> Reply {
    let auth = format!(
        "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/{service}/aws4_request, \
         SignedHeaders=host, Signature=0"
    );
    let content_type = if service == "sqs" {
        "application/x-amz-json-1.0"
    } else {
        "application/x-amz-json-1.1"
    };
    request(
        addr,
        "POST",
        "/",
        &[
            ("X-Amz-Target", target),
            ("Content-Type", content_type),
            ("Authorization", &auth),
        ],
        &body.to_string(),
    )
}

fn health(addr: &str) -> Reply {
    request(addr, "GET", "/_eddy/health", &[], "")
}

/// PutEvents of `n` entries with `size` bytes of detail each; the ids when all were
/// acknowledged, `Err(reply)` otherwise.
fn put(addr: &str, n: usize, size: usize) -> Result<Vec<String>, Reply> {
    let entries: Vec<Value> = (0..n)
        .map(|i| {
            json!({"Source": "disk.full", "DetailType": "t",
                   "Detail": json!({"i": i, "pad": "x".repeat(size)}).to_string()})
        })
        .collect();
    let reply = aws(
        addr,
        "events",
        "AWSEvents.PutEvents",
        &json!({ "Entries": entries }),
    );
    if reply.status != 200 {
        return Err(reply);
    }
    let v = reply.json();
    assert_eq!(v["FailedEntryCount"], 0, "{}", reply.body);
    Ok(v["Entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e["EventId"].as_str().expect("event id").to_owned())
        .collect())
}

#[test]
fn disk_full_answers_503_and_everything_resumes_when_space_returns() {
    on_tmpfs(
        "disk_full_answers_503_and_everything_resumes_when_space_returns",
        "16m",
        |fs| full_then_resume(fs.path()),
    );
}

fn full_then_resume(root: &Path) {
    // The store gets 3 MiB, and 13 MiB more when space returns: most of its data is still in
    // SQLite's write-ahead log then (it checkpoints every 1000 pages), and the first checkpoint
    // after the disk was full needs about as much again in the database file.
    let filler = root.join("filler");
    std::fs::write(&filler, vec![1u8; 13 * 1024 * 1024]).expect("filler");
    let data_dir = root.join("data");
    let logs = tempfile::tempdir().expect("log dir");
    let log = logs.path().join("eddy.log");
    let mut server = Server::start(
        &data_dir,
        Stdio::from(std::fs::File::create(&log).expect("log file")),
    );
    let addr = server.aws.clone();

    let r = aws(
        &addr,
        "sqs",
        "AmazonSQS.CreateQueue",
        &json!({"QueueName": "sink"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let queue_url = r.json()["QueueUrl"].as_str().expect("url").to_owned();
    let rule = json!({"Name": "all", "EventPattern": r#"{"source":["disk.full"]}"#});
    let r = aws(&addr, "events", "AWSEvents.PutRule", &rule);
    assert_eq!(r.status, 200, "{}", r.body);
    let targets = json!({"Rule": "all", "Targets": [
        {"Id": "q", "Arn": "arn:aws:sqs:us-east-1:123456789012:sink"}]});
    let r = aws(&addr, "events", "AWSEvents.PutTargets", &targets);
    assert_eq!(r.status, 200, "{}", r.body);

    // Fill the disk: 10 events of 20 KB per request (each also copied to the queue).
    let started = Instant::now();
    let mut acked: Vec<String> = Vec::new();
    let full = loop {
        match put(&addr, 10, 20_000) {
            Ok(ids) => acked.extend(ids),
            Err(reply) => break reply,
        }
        assert!(acked.len() < 1000, "4 MiB never filled up");
    };
    let filled_after = started.elapsed();
    let full_sizes = sizes(&data_dir);
    assert_eq!(full.status, 503, "a full disk is a 503, not: {}", full.body);
    let error = full.json();
    assert_eq!(error["__type"], "ServiceUnavailable", "{}", full.body);
    let message = format!(
        "the store is full: no space left on the file system of `{}`",
        data_dir.display()
    );
    assert_eq!(error["message"], message.as_str());
    assert!(
        !acked.is_empty(),
        "the disk was full before the first event"
    );

    // Health reports the last write's outcome: a small write that still fitted (the delivery
    // engine settling an earlier event, in the room the refused batch left) may report the
    // store writable again in between; another refused write reports it full.
    let mut tries = 0;
    let h = loop {
        let h = health(&addr);
        if h.status == 503 || tries == 5 {
            break h;
        }
        tries += 1;
        match put(&addr, 10, 20_000) {
            Ok(ids) => acked.extend(ids),
            Err(again) => assert_eq!(again.status, 503, "{}", again.body),
        }
    };
    assert_eq!(h.status, 503, "health while full: {}", h.body);
    assert_eq!(
        h.headers.get("content-type").map(String::as_str),
        Some("application/json")
    );
    assert_eq!(
        h.json(),
        json!({"status": "unavailable", "store": "full", "message": message})
    );

    // SQS reports it too, with the query-protocol code SDKs read.
    let send = json!({"QueueUrl": queue_url, "MessageBody": "y".repeat(240_000)});
    let r = aws(&addr, "sqs", "AmazonSQS.SendMessage", &send);
    assert_eq!(r.status, 503, "{}", r.body);
    assert_eq!(r.json()["message"], message.as_str());
    assert_eq!(
        r.headers.get("x-amzn-query-error").map(String::as_str),
        Some("ServiceUnavailable;Receiver")
    );

    // Still full a moment later: eddy keeps answering 503, never 500.
    std::thread::sleep(Duration::from_millis(300));
    let again = put(&addr, 10, 20_000).expect_err("still no space");
    assert_eq!(again.status, 503, "{}", again.body);

    // Space returns: health turns ok by itself, with no client write.
    std::fs::remove_file(&filler).expect("remove filler");
    let freed = Instant::now();
    loop {
        let h = health(&addr);
        if h.status == 200 {
            assert_eq!(h.json(), json!({"status": "ok"}));
            break;
        }
        assert_eq!(h.status, 503, "{}", h.body);
        assert!(
            freed.elapsed() < Duration::from_secs(5),
            "health still says full 5 s after space returned"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let healthy_after = freed.elapsed();
    for _ in 0..3 {
        acked.extend(put(&addr, 10, 1_000).expect("PutEvents after space returned"));
    }

    // Every acknowledged event reaches the queue, exactly once.
    let wanted: HashSet<&str> = acked.iter().map(String::as_str).collect();
    let mut received: HashMap<String, u32> = HashMap::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !wanted.iter().all(|id| received.contains_key(*id)) {
        assert!(
            Instant::now() < deadline,
            "{} of {} acknowledged events never reached the queue",
            wanted
                .iter()
                .filter(|id| !received.contains_key(**id))
                .count(),
            wanted.len()
        );
        let r = aws(
            &addr,
            "sqs",
            "AmazonSQS.ReceiveMessage",
            &json!({"QueueUrl": queue_url, "MaxNumberOfMessages": 10, "VisibilityTimeout": 600}),
        );
        assert_eq!(r.status, 200, "{} ({})", r.body, sizes(&data_dir));
        let messages = r.json()["Messages"].as_array().cloned().unwrap_or_default();
        if messages.is_empty() {
            std::thread::sleep(Duration::from_millis(100));
        }
        for m in messages {
            let event: Value =
                serde_json::from_str(m["Body"].as_str().expect("body")).expect("event json");
            *received
                .entry(event["id"].as_str().expect("id").to_owned())
                .or_default() += 1;
        }
    }
    let duplicates: u32 = received.values().map(|n| n - 1).sum();
    assert_eq!(duplicates, 0, "events delivered twice");
    let unacknowledged = received.len() - wanted.len();
    server.stop();

    // And the store holds every acknowledged event (and none that was refused).
    let db = rusqlite::Connection::open(data_dir.join("eddy.db")).expect("open store");
    let mut st = db.prepare("SELECT id FROM events").expect("query");
    let stored: HashSet<String> = st
        .query_map([], |r| r.get::<_, String>(0))
        .expect("rows")
        .map(|r| r.expect("id"))
        .collect();
    assert!(wanted.iter().all(|id| stored.contains(*id)));
    assert_eq!(stored.len(), wanted.len(), "refused events were stored");

    let log_text = std::fs::read_to_string(&log).expect("log");
    let log_lines = log_text.lines().count();
    eprintln!(
        "{} events acknowledged; disk full after {filled_after:?} ({full_sizes}); healthy \
         {healthy_after:?} after space returned; {unacknowledged} unacknowledged events \
         delivered; {log_lines} log lines",
        acked.len()
    );
    assert_eq!(unacknowledged, 0);
    assert!(
        log_lines < 100,
        "eddy logged {log_lines} lines:\n{log_text}"
    );
}

fn sizes(dir: &Path) -> String {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| {
                    format!(
                        "{:?} {}",
                        e.file_name(),
                        e.metadata().map_or(0, |m| m.len())
                    )
                })
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

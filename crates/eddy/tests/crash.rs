//! Crash tests: concurrent PutEvents clients, SIGKILL mid-load, restart on the same data
//! directory. Every event whose PutEvents returned an EventId must be in the store exactly once
//! with its matched work item, and every such event must reach its queue target.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

mod common;
use common::Server;

fn start(data_dir: &std::path::Path) -> Server {
    Server::start(data_dir, Stdio::null())
}

/// One AWS JSON 1.1 call on a keep-alive connection; returns (status, body).
fn call(
    conn: &mut BufReader<TcpStream>,
    target: &str,
    body: &str,
) -> std::io::Result<(u16, String)> {
    let req = format!(
        "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Amz-Target: {target}\r\nAuthorization: \
         AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/events/aws4_request, \
         SignedHeaders=host, Signature=0\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    conn.get_mut().write_all(req.as_bytes())?;
    let mut line = String::new();
    if conn.read_line(&mut line)? == 0 {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mut len = 0;
    loop {
        line.clear();
        if conn.read_line(&mut line)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        if line.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':')
            && k.eq_ignore_ascii_case("content-length")
        {
            len = v.trim().parse().unwrap_or(0);
        }
    }
    let mut buf = vec![0; len];
    conn.read_exact(&mut buf)?;
    Ok((status, String::from_utf8_lossy(&buf).into_owned()))
}

fn connect(addr: &str) -> BufReader<TcpStream> {
    BufReader::new(TcpStream::connect(addr).expect("connect"))
}

#[test]
fn sigkill_mid_load_loses_no_acknowledged_event() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = start(dir.path());
    let mut c = connect(&server.aws);
    let rule = serde_json::json!({"Name": "all", "EventPattern": r#"{"source":["crash.test"]}"#});
    assert_eq!(
        call(&mut c, "AWSEvents.PutRule", &rule.to_string())
            .expect("put rule")
            .0,
        200
    );
    let targets = serde_json::json!({"Rule": "all", "Targets": [
        {"Id": "q", "Arn": "arn:aws:sqs:us-east-1:123456789012:q"}]});
    assert_eq!(
        call(&mut c, "AWSEvents.PutTargets", &targets.to_string())
            .expect("targets")
            .0,
        200
    );

    let acked = load_until_killed(&mut server, "crash.test", Duration::from_millis(1500));
    assert!(
        acked.len() > 100,
        "the load barely ran: {} events acknowledged",
        acked.len()
    );

    // Restart on the same directory: recovery must succeed and the server must answer.
    let mut server = start(dir.path());
    let mut c = connect(&server.aws);
    let (status, _) = call(&mut c, "AWSEvents.ListRules", "{}").expect("list rules after restart");
    assert_eq!(status, 200);
    server.child.kill().expect("stop");
    server.child.wait().expect("reap");

    let db = rusqlite::Connection::open(dir.path().join("eddy.db")).expect("open store");
    let mut counts: HashMap<String, u32> = HashMap::new();
    let mut st = db.prepare("SELECT id FROM events").expect("query");
    for id in st.query_map([], |r| r.get::<_, String>(0)).expect("rows") {
        *counts.entry(id.expect("id")).or_default() += 1;
    }
    let mut st = db
        .prepare(
            "SELECT e.id FROM work w JOIN events e ON e.seq = w.event_seq
             UNION ALL SELECT e.id FROM dead d JOIN events e ON e.seq = d.event_seq",
        )
        .expect("query work");
    let with_work: HashSet<String> = st
        .query_map([], |r| r.get::<_, String>(0))
        .expect("rows")
        .map(|r| r.expect("id"))
        .collect();
    let mut missing = 0;
    for id in &acked {
        match counts.get(id) {
            Some(1) => {}
            Some(n) => panic!("event {id} stored {n} times"),
            None => missing += 1,
        }
        assert!(
            missing > 0 || with_work.contains(id),
            "event {id} has no work item"
        );
    }
    assert_eq!(
        missing,
        0,
        "{missing} of {} acknowledged events were lost",
        acked.len()
    );
    eprintln!(
        "acknowledged {} events; store holds {} (unacknowledged extras: {})",
        acked.len(),
        counts.len(),
        counts.len() - acked.len()
    );
}

/// PutEvents load from several clients until the server is killed; returns the acknowledged ids.
fn load_until_killed(server: &mut Server, source: &str, run_for: Duration) -> Vec<String> {
    let stop = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::new();
    for client in 0..6 {
        let addr = server.aws.clone();
        let stop = stop.clone();
        let source = source.to_owned();
        clients.push(std::thread::spawn(move || {
            let mut acked = Vec::new();
            let mut conn = connect(&addr);
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let entries: Vec<_> = (0..10)
                    .map(|i| {
                        serde_json::json!({"Source": source, "DetailType": "t",
                            "Detail": format!("{{\"client\":{client},\"n\":{n},\"i\":{i}}}")})
                    })
                    .collect();
                n += 1;
                let body = serde_json::json!({ "Entries": entries }).to_string();
                match call(&mut conn, "AWSEvents.PutEvents", &body) {
                    Ok((200, reply)) => {
                        let v: serde_json::Value = serde_json::from_str(&reply).expect("json");
                        for e in v["Entries"].as_array().expect("entries") {
                            if let Some(id) = e["EventId"].as_str() {
                                acked.push(id.to_owned());
                            }
                        }
                    }
                    Ok((status, reply)) => panic!("unexpected {status}: {reply}"),
                    Err(_) => break, // the server died under us
                }
            }
            acked
        }));
    }
    std::thread::sleep(run_for);
    server.child.kill().expect("SIGKILL eddy");
    server.child.wait().expect("reap");
    stop.store(true, Ordering::Relaxed);
    clients
        .into_iter()
        .flat_map(|c| c.join().expect("client"))
        .collect()
}

#[test]
fn sigkill_mid_delivery_still_delivers_every_acknowledged_event_to_the_queue() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = start(dir.path());
    let mut c = connect(&server.aws);
    let (status, _) =
        call(&mut c, "AmazonSQS.CreateQueue", r#"{"QueueName":"sink"}"#).expect("queue");
    assert_eq!(status, 200);
    let rule =
        serde_json::json!({"Name": "all", "EventPattern": r#"{"source":["crash.delivery"]}"#});
    assert_eq!(
        call(&mut c, "AWSEvents.PutRule", &rule.to_string())
            .expect("rule")
            .0,
        200
    );
    let targets = serde_json::json!({"Rule": "all", "Targets": [
        {"Id": "q", "Arn": "arn:aws:sqs:us-east-1:123456789012:sink"}]});
    assert_eq!(
        call(&mut c, "AWSEvents.PutTargets", &targets.to_string())
            .expect("targets")
            .0,
        200
    );

    let acked = load_until_killed(&mut server, "crash.delivery", Duration::from_millis(1500));
    assert!(
        acked.len() > 100,
        "the load barely ran: {} events acknowledged",
        acked.len()
    );

    // Restart and let the engine finish what was owed.
    let db_path = restart_and_drain(dir.path());

    let db = rusqlite::Connection::open(&db_path).expect("open store");
    let mut delivered: HashMap<String, u32> = HashMap::new();
    let mut st = db
        .prepare("SELECT body FROM messages WHERE queue = 'us-east-1:sink'")
        .expect("q");
    for body in st.query_map([], |r| r.get::<_, String>(0)).expect("rows") {
        let v: serde_json::Value = serde_json::from_str(&body.expect("body")).expect("event json");
        *delivered
            .entry(v["id"].as_str().expect("id").to_owned())
            .or_default() += 1;
    }
    let lost = acked
        .iter()
        .filter(|id| !delivered.contains_key(*id))
        .count();
    let duplicates: u32 = delivered.values().map(|n| n - 1).sum();
    eprintln!(
        "acknowledged {}; delivered {} distinct events; duplicates {duplicates}",
        acked.len(),
        delivered.len()
    );
    assert_eq!(
        lost, 0,
        "{lost} acknowledged events never reached the queue"
    );
    // Queue targets commit the message and the work item's removal together: no duplicates.
    assert_eq!(duplicates, 0);
}

/// A local HTTP endpoint that counts the requests each event id arrived in.
fn recording_endpoint() -> (String, Arc<std::sync::Mutex<HashMap<String, u32>>>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind receiver");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    let seen: Arc<std::sync::Mutex<HashMap<String, u32>>> = Arc::default();
    let record = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let record = record.clone();
            std::thread::spawn(move || {
                let mut r = BufReader::new(stream);
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let mut len = 0;
                    loop {
                        line.clear();
                        if r.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        if line.trim().is_empty() {
                            break;
                        }
                        if let Some((k, v)) = line.split_once(':')
                            && k.eq_ignore_ascii_case("content-length")
                        {
                            len = v.trim().parse().unwrap_or(0);
                        }
                    }
                    let mut body = vec![0; len];
                    if r.read_exact(&mut body).is_err() {
                        return;
                    }
                    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&body)
                        && let Some(id) = v["id"].as_str()
                    {
                        let mut seen = record.lock().expect("lock");
                        *seen.entry(id.to_owned()).or_default() += 1;
                    }
                    let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
                    if r.get_mut().write_all(ok).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (url, seen)
}

#[test]
fn sigkill_mid_http_delivery_delivers_every_acknowledged_event_at_least_once() {
    let (url, seen) = recording_endpoint();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = start(dir.path());
    let mut c = connect(&server.aws);
    let conn = serde_json::json!({"Name": "c", "AuthorizationType": "API_KEY",
        "AuthParameters": {"ApiKeyAuthParameters": {"ApiKeyName": "k", "ApiKeyValue": "v"}}});
    let (status, reply) =
        call(&mut c, "AWSEvents.CreateConnection", &conn.to_string()).expect("connection");
    assert_eq!(status, 200, "{reply}");
    let conn_arn =
        serde_json::from_str::<serde_json::Value>(&reply).expect("json")["ConnectionArn"].clone();
    let dest = serde_json::json!({"Name": "d", "ConnectionArn": conn_arn,
        "InvocationEndpoint": url, "HttpMethod": "POST"});
    let (status, reply) =
        call(&mut c, "AWSEvents.CreateApiDestination", &dest.to_string()).expect("destination");
    assert_eq!(status, 200, "{reply}");
    let dest_arn =
        serde_json::from_str::<serde_json::Value>(&reply).expect("json")["ApiDestinationArn"]
            .clone();
    let rule = serde_json::json!({"Name": "all", "EventPattern": r#"{"source":["crash.http"]}"#});
    assert_eq!(
        call(&mut c, "AWSEvents.PutRule", &rule.to_string())
            .expect("rule")
            .0,
        200
    );
    let targets = serde_json::json!({"Rule": "all", "Targets": [{"Id": "h", "Arn": dest_arn}]});
    assert_eq!(
        call(&mut c, "AWSEvents.PutTargets", &targets.to_string())
            .expect("targets")
            .0,
        200
    );

    let acked = load_until_killed(&mut server, "crash.http", Duration::from_millis(1500));
    assert!(
        acked.len() > 100,
        "the load barely ran: {} events acknowledged",
        acked.len()
    );

    restart_and_drain(dir.path());

    let seen = seen.lock().expect("lock");
    let lost = acked.iter().filter(|id| !seen.contains_key(*id)).count();
    let duplicates: u32 = seen.values().map(|n| n - 1).sum();
    eprintln!(
        "acknowledged {}; delivered {} distinct events over HTTP; duplicates {duplicates}",
        acked.len(),
        seen.len()
    );
    assert_eq!(
        lost, 0,
        "{lost} acknowledged events never reached the HTTP target"
    );
}

/// Restarts eddy on `dir`, waits until every owed delivery is done, stops it, and returns the
/// store's path for inspection.
fn restart_and_drain(dir: &std::path::Path) -> std::path::PathBuf {
    let mut server = start(dir);
    let db_path = dir.join("eddy.db");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let db = rusqlite::Connection::open(&db_path).expect("open store");
        let left: i64 = db
            .query_row("SELECT count(*) FROM work", [], |r| r.get(0))
            .expect("count");
        if left == 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{left} deliveries still owed after 60 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    server.child.kill().expect("stop");
    server.child.wait().expect("reap");
    db_path
}

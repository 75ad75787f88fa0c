//! Property tests, one per service: no request to SQS, SNS, Lambda, Scheduler, API Gateway v2,
//! CloudWatch Logs or eddy's own endpoints (`/_eddy/*`, `/moto-api/reset`, `/metrics`) makes
//! eddy panic, hang or answer 5xx, and every error has its protocol's wire shape:
//!
//! * AWS JSON 1.0/1.1 (SQS, Logs): a JSON body with `__type` and `message`;
//! * rest-json (Lambda, Scheduler, API Gateway v2): an `x-amzn-ErrorType` header and a JSON body
//!   with `message`;
//! * eddy's own endpoints: a JSON body with `message`.
//!
//! Requests are built from each service's operations (botocore's service models) and a
//! vocabulary of its member names and telling values, plus hostile bodies (random bytes, JSON
//! nested past every limit, huge numbers, lone surrogate escapes, invalid UTF-8, long strings),
//! random path segments, query strings and headers, and requests a browser could send (a
//! foreign `Origin`, a rebinding `Host`, no credentials).
//!
//! Each test shares one server ([`Fixture`]) across its cases, so what earlier cases created
//! (queues, functions, APIs, schedules) is there for later ones to act on, and the cost of
//! opening a store is paid once. Functions never run a process: their code root holds nothing
//! runnable and the Python interpreter is a path that does not exist. `PROPTEST_CASES` overrides
//! each test's number of cases.

mod admin;
mod apigateway;
mod lambda;
mod logs;
mod s3;
mod scheduler;
mod sns;
mod sqs;

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, Method, Request, StatusCode};
use eddy_server::{App, ServerConfig};
use http_body_util::BodyExt;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Map, Value};
use tower::ServiceExt;

/// Replaced in request paths and bodies by the fixture's code root (the one directory where
/// function code may live).
pub const CODE_ROOT: &str = "@CODE_ROOT@";
/// Replaced in request paths and bodies by an id an earlier answer carried (an API's id, a
/// route's, ...): see [`Fixture::capture`]. `@KEY@` names one captured under `KEY` only.
pub const CAPTURED: &str = "@ID@";

/// A zip holding one file that is not runnable (`readme.txt`), base64-encoded.
pub const ZIP_NOTHING_RUNNABLE: &str = "UEsDBBQAAAAAAO+4hF17feteEQAAABEAAAAKAAAAcmVhZG1lLnR4dG5vdGhpbmcgcnVubmFibGUKUEsBAhQDFAAAAAAA77iEXXt9614RAAAAEQAAAAoAAAAAAAAAAAAAAIABAAAAAHJlYWRtZS50eHRQSwUGAAAAAAEAAQA4AAAAOQAAAAAA";
/// A zip whose one entry climbs out of its directory (`../escape.txt`), base64-encoded.
pub const ZIP_ESCAPING: &str = "UEsDBBQAAAAAAO+4hF2DFtyMAQAAAAEAAAANAAAALi4vZXNjYXBlLnR4dHhQSwECFAMUAAAAAADvuIRdgxbcjAEAAAABAAAADQAAAAAAAAAAAAAAgAEAAAAALi4vZXNjYXBlLnR4dFBLBQYAAAAAAQABADsAAAAsAAAAAAA=";

/// A request as the tests build it (kept printable for failure reports).
#[derive(Clone)]
pub struct Call {
    pub method: Method,
    /// Path and query, already percent-encoded.
    pub uri: String,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
}

impl Debug for Call {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut body = String::from_utf8_lossy(&self.body).into_owned();
        if body.len() > 400 {
            let mut end = 400;
            while !body.is_char_boundary(end) {
                end -= 1;
            }
            body = format!("{}... ({} bytes)", &body[..end], self.body.len());
        }
        let headers: Vec<String> = self
            .headers
            .iter()
            .map(|(k, v)| format!("{k}: {}", String::from_utf8_lossy(v)))
            .collect();
        write!(f, "{} {} {headers:?} {body}", self.method, self.uri)
    }
}

impl Call {
    pub fn new(method: Method, uri: impl Into<String>) -> Self {
        Self {
            method,
            uri: uri.into(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn header(mut self, name: &str, value: impl Into<Vec<u8>>) -> Self {
        self.headers.push((name.to_owned(), value.into()));
        self
    }

    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// Signed-looking credentials for `service`'s signing name (eddy does not check the
    /// signature yet, only that an AWS `Authorization` is there).
    pub fn signed(self, service: &str) -> Self {
        self.header("authorization", authorization(service))
    }
}

pub fn authorization(service: &str) -> String {
    format!(
        "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/{service}/aws4_request, \
         SignedHeaders=host, Signature=0"
    )
}

/// An answer: its head, and its body unless it is a stream (`/_eddy/tail`).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Option<Bytes>,
}

impl Reply {
    pub fn json(&self) -> Option<Value> {
        self.body
            .as_ref()
            .and_then(|b| serde_json::from_slice(b).ok())
    }

    fn text(&self) -> String {
        match &self.body {
            Some(b) => String::from_utf8_lossy(b).into_owned(),
            None => "(stream)".to_owned(),
        }
    }
}

/// The scheduler and the delivery engine, running ([`Fixture::start_background`]).
pub struct Background {
    stop: tokio::sync::watch::Sender<bool>,
    tasks: Vec<(&'static str, tokio::task::JoinHandle<()>)>,
}

/// One server for a whole test, driven through the AWS listener's router without a socket.
pub struct Fixture {
    pub rt: tokio::runtime::Runtime,
    pub app: Arc<App>,
    router: Router,
    pub code_root: PathBuf,
    /// Ids answers carried, by their key, for later requests to name (`@KEY@`, `@ID@`).
    captured: Mutex<BTreeMap<String, Vec<String>>>,
    /// Bumped per substitution, so `@ID@` names different captured ids.
    turn: Mutex<usize>,
    /// Per operation: how many requests succeeded, how many were sent, and the last error.
    stats: Mutex<BTreeMap<String, (usize, usize, String)>>,
    _dir: tempfile::TempDir,
}

impl Default for Fixture {
    fn default() -> Self {
        Self::new()
    }
}

impl Fixture {
    pub fn new() -> Self {
        Self::with_clock(eddy_server::clock::Clock::system())
    }

    /// A fixture whose clock stands still until moved (`app.clock`).
    pub fn with_clock(clock: eddy_server::clock::Clock) -> Self {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let dir = tempfile::tempdir().expect("tempdir");
        let code_root = dir.path().join("code");
        std::fs::create_dir(&code_root).expect("code root");
        std::fs::write(code_root.join("readme.txt"), "nothing runnable\n").expect("readme");
        let mut config = ServerConfig::new(dir.path().join("data"));
        config.dev = true;
        // Durability is not under test here; skip the fsyncs to run more cases.
        config.sync = false;
        config.code_roots =
            eddy_server::config::CodeRoots::new([code_root.clone()]).expect("code roots");
        // No function can run: `provided` functions find no `bootstrap` in the code root, and
        // Python functions no interpreter.
        config.pythons.default = dir.path().join("no-python-here");
        let app: Arc<App> = rt
            .block_on(App::open_with_clock(config, clock))
            .expect("open app");
        let router = app.aws_router();
        let code_root = std::fs::canonicalize(&code_root).expect("canonical code root");
        Self {
            rt,
            app,
            router,
            code_root,
            captured: Mutex::new(BTreeMap::new()),
            turn: Mutex::new(0),
            stats: Mutex::new(BTreeMap::new()),
            _dir: dir,
        }
    }

    /// Replaces the placeholders in `text`: [`CODE_ROOT`], [`CAPTURED`], and `@KEY@` for each
    /// `KEY` of [`Fixture::capture`] (an id captured under that key).
    fn substitute(&self, text: &[u8]) -> Vec<u8> {
        self.substitute_as(text, |s| s.to_owned())
    }

    /// [`Fixture::substitute`], each value written by `write` (percent-encoding in a URI).
    fn substitute_as(&self, text: &[u8], write: impl Fn(&str) -> String) -> Vec<u8> {
        let mut out = text.to_vec();
        let root = write(&self.code_root.display().to_string());
        out = replace(&out, CODE_ROOT.as_bytes(), |_| root.clone().into_bytes());
        let captured = self.captured.lock().expect("captured").clone();
        let mut turn = self.turn.lock().expect("turn");
        let mut pick = |pool: &[String]| {
            *turn += 1;
            write(
                pool.get(*turn % pool.len().max(1))
                    .map_or("none", String::as_str),
            )
            .into_bytes()
        };
        for (key, pool) in &captured {
            out = replace(&out, format!("@{key}@").as_bytes(), |_| pick(pool));
        }
        let all: Vec<String> = captured.values().flatten().cloned().collect();
        replace(&out, CAPTURED.as_bytes(), |_| pick(&all))
    }

    /// Remembers the string values of `keys` anywhere in `reply`'s JSON body, each under its
    /// key, for `@KEY@` and `@ID@` in later requests.
    pub fn capture(&self, reply: &Reply, keys: &[&str]) {
        fn walk(v: &Value, keys: &[&str], out: &mut BTreeMap<String, Vec<String>>) {
            match v {
                Value::Object(m) => {
                    for (k, v) in m {
                        if let Value::String(s) = v
                            && keys.contains(&k.as_str())
                        {
                            let pool = out.entry(k.clone()).or_default();
                            if !pool.contains(s) {
                                pool.push(s.clone());
                            }
                            // Keep pools small, so `@KEY@` often names something that still
                            // exists.
                            let n = pool.len();
                            if n > 16 {
                                pool.drain(..n - 16);
                            }
                        }
                        walk(v, keys, out);
                    }
                }
                Value::Array(a) => a.iter().for_each(|v| walk(v, keys, out)),
                _ => {}
            }
        }
        if let Some(v) = reply.json() {
            walk(&v, keys, &mut self.captured.lock().expect("captured"));
        }
    }

    /// Sends `call` through the AWS listener's router. A panic in a handler, or an answer (or
    /// its body) that takes longer than 30 s, is an error.
    pub async fn send(&self, call: &Call) -> Result<Reply, String> {
        let uri = self.substitute_as(call.uri.as_bytes(), pct);
        let uri = String::from_utf8_lossy(&uri).into_owned();
        let mut b = Request::builder().method(call.method.clone()).uri(&uri);
        for (k, v) in &call.headers {
            // A value no header can hold is not sent (no client could send it either).
            if let Ok(v) = HeaderValue::from_bytes(&self.substitute(v)) {
                b = b.header(k.as_str(), v);
            }
        }
        let req = b
            .body(Body::from(self.substitute(&call.body)))
            .map_err(|e| format!("cannot build {call:?}: {e}"))?;
        let router = self.router.clone();
        let task = tokio::spawn(async move {
            let res = router.oneshot(req).await.expect("infallible");
            let (parts, body) = res.into_parts();
            let streamed = parts
                .headers
                .get("content-type")
                .is_some_and(|v| v.as_bytes().starts_with(b"application/x-ndjson"));
            // A stream (`/_eddy/tail`) is checked by its head only.
            let body = if streamed {
                None
            } else {
                Some(body.collect().await.map(|b| b.to_bytes()))
            };
            (parts, body)
        });
        let (parts, body) = match tokio::time::timeout(Duration::from_secs(30), task).await {
            Err(_) => return Err(format!("no answer within 30 s to {call:?}")),
            Ok(Err(e)) if e.is_panic() => {
                let p = e.into_panic();
                let msg = p
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_default();
                return Err(format!("panicked ({msg}) on {call:?}"));
            }
            Ok(Err(e)) => return Err(format!("task failed ({e}) on {call:?}")),
            Ok(Ok(answer)) => answer,
        };
        let body = match body {
            None => None,
            Some(Ok(b)) => Some(b),
            Some(Err(e)) => return Err(format!("body failed ({e}) on {call:?}")),
        };
        Ok(Reply {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }

    /// Starts the scheduler and the delivery engine, so that what the requests define also
    /// fires and is delivered (retries and destinations included, as the clock moves). They
    /// run while a request is being answered.
    pub fn start_background(&self) -> Background {
        let (stop, rx) = tokio::sync::watch::channel(false);
        let _guard = self.rt.enter();
        let scheduler = eddy_server::scheduler::spawn(self.app.core().clone(), rx.clone())
            .expect("scheduler spawned");
        let delivery = tokio::spawn(eddy_server::delivery::run(self.app.core().clone(), rx));
        Background {
            stop,
            tasks: vec![("scheduler", scheduler), ("delivery engine", delivery)],
        }
    }

    /// Fails if a background task stopped (it panicked), and otherwise stops them.
    pub fn stop_background(&self, b: Background) {
        for (name, task) in &b.tasks {
            assert!(!task.is_finished(), "the {name} stopped during the run");
        }
        let _sent = b.stop.send(true);
        for (name, task) in b.tasks {
            if let Err(e) = self.rt.block_on(task) {
                panic!("the {name} failed: {e}");
            }
        }
    }

    /// Moves the clock forward as `POST /_eddy/clock` does: what falls due fires first.
    pub fn advance(&self, ms: i64) -> Result<(), String> {
        self.rt.block_on(async {
            self.app.scheduler.sync().await;
            self.app.clock.advance(ms).map_err(|e| e.to_string())?;
            self.app.scheduler.sync().await;
            // Let the delivery engine take what fell due.
            tokio::task::yield_now().await;
            Ok(())
        })
    }

    /// Counts an answer to an operation (`label`).
    pub fn record(&self, label: &str, reply: &Reply) {
        let mut stats = self.stats.lock().expect("stats");
        let entry = stats.entry(label.to_owned()).or_default();
        entry.0 += usize::from(reply.status.is_success());
        entry.1 += 1;
        if !reply.status.is_success() {
            entry.2 = reply.text().chars().take(160).collect();
        }
    }

    /// Fails unless each of `labels` succeeded at least once: a test whose requests all fail
    /// early (a fixture or protocol change making every request a 403, say) proves nothing.
    /// With `EDDY_NO_PANIC_STATS` set, prints what succeeded how often.
    pub fn assert_reached(&self, labels: &[&str]) {
        let stats = self.stats.lock().expect("stats");
        if std::env::var_os("EDDY_NO_PANIC_STATS").is_some() {
            for (label, (ok, all, error)) in stats.iter() {
                eprintln!("{ok:>5} / {all:>5}  {label}  {error}");
            }
        }
        let missed: Vec<&&str> = labels
            .iter()
            .filter(|l| stats.get(**l).is_none_or(|(ok, ..)| *ok == 0))
            .collect();
        assert!(
            missed.is_empty(),
            "these operations never succeeded, so the code behind them was not reached: \
             {missed:?}"
        );
    }

    /// Sends `call` and fails unless it succeeded (for setting a fixture up).
    pub fn setup(&self, call: Call) -> Reply {
        let reply = self.rt.block_on(self.send(&call)).expect("setup call");
        assert!(
            reply.status.is_success(),
            "setup {call:?} answered {}: {}",
            reply.status,
            reply.text()
        );
        reply
    }

    /// Runs `test` on `cases` values of `strategy` (or `PROPTEST_CASES`), on this fixture.
    pub fn check<S>(
        &self,
        cases: u32,
        strategy: S,
        test: impl Fn(&Self, S::Value) -> Result<(), String>,
    ) where
        S: Strategy,
        S::Value: Debug,
    {
        let cases = std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|c| c.parse().ok())
            .unwrap_or(cases);
        let config = Config {
            cases,
            // Cases share the server's state, so a saved case would not replay the same way.
            failure_persistence: None,
            max_shrink_iters: 200,
            ..Config::default()
        };
        let mut runner = TestRunner::new(config);
        if let Err(e) = runner.run(&strategy, |v| test(self, v).map_err(TestCaseError::fail)) {
            panic!("{e}");
        }
    }
}

fn replace(text: &[u8], from: &[u8], mut to: impl FnMut(usize) -> Vec<u8>) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    let mut n = 0;
    while i < text.len() {
        if text[i..].starts_with(from) {
            out.extend(to(n));
            n += 1;
            i += from.len();
        } else {
            out.push(text[i]);
            i += 1;
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Wire shapes

/// How a service words its errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// AWS JSON 1.0/1.1: `{"__type": CODE, "message": TEXT}`.
    AwsJson,
    /// rest-json: `x-amzn-ErrorType: CODE` and `{"message": TEXT, ...}`.
    RestJson,
    /// eddy's own endpoints: `{"message": TEXT, ...}`.
    Eddy,
    /// A form-encoded `Action=` call (the AWS query protocol: SNS, or a service eddy does not
    /// serve): the query protocol's `text/xml` `<ErrorResponse>` with a `Code` and a `Message`,
    /// or the AWS JSON shape when it was refused before any service saw it.
    AwsQuery,
    /// S3's rest-xml: `application/xml` `<Error>` with a `Code` and a `Message`.
    RestXml,
}

/// The properties every answer has: no 5xx (a full store's 503 cannot happen here), no
/// informational or redirect status, a JSON body (or none) on success, and the protocol's error
/// shape on failure.
pub fn check_reply(shape: Shape, call: &Call, reply: &Reply) -> Result<(), String> {
    let status = reply.status;
    let fail = |why: &str| {
        Err(format!(
            "{why}: {call:?} answered {status} {:?} {}",
            reply.headers,
            reply.text()
        ))
    };
    if status.is_server_error() {
        return fail("server error for client input");
    }
    if !status.is_success() && !status.is_client_error() {
        return fail("neither success nor client error");
    }
    if status == StatusCode::METHOD_NOT_ALLOWED && !reply.headers.contains_key("allow") {
        return fail("405 without `Allow`");
    }
    let Some(body) = &reply.body else {
        return Ok(());
    };
    // An answer to HEAD has no body.
    if call.method == Method::HEAD {
        return Ok(());
    }
    if status.is_success() {
        if body.is_empty() || !is_json_reply(reply) {
            return Ok(());
        }
        return match serde_json::from_slice::<Value>(body) {
            Ok(_) => Ok(()),
            Err(_) => fail("success with a body that is not JSON"),
        };
    }
    let xml = reply
        .headers
        .get("content-type")
        .is_some_and(|t| t.as_bytes().starts_with(b"text/xml"));
    if shape == Shape::AwsQuery && xml {
        let text = String::from_utf8_lossy(body);
        let element = |name: &str| {
            let open = format!("<{name}>");
            let start = text.find(&open)? + open.len();
            let len = text[start..].find(&format!("</{name}>"))?;
            Some(text[start..start + len].to_owned())
        };
        if !text.contains("<ErrorResponse><Error>")
            || element("Code").is_none_or(|c| c.is_empty())
            || element("Message").is_none_or(|m| m.is_empty())
        {
            return fail("query-protocol error without `ErrorResponse`, `Code` and `Message`");
        }
        return Ok(());
    }
    if shape == Shape::RestXml {
        let text = String::from_utf8_lossy(body);
        let has = |name: &str| {
            text.split(&format!("<{name}>"))
                .nth(1)
                .and_then(|r| r.split(&format!("</{name}>")).next())
                .is_some_and(|v| !v.is_empty())
        };
        if body.is_empty() && call.method == Method::HEAD {
            return Ok(());
        }
        if !text.contains("<Error>") || !has("Code") || !has("Message") {
            // Refused before S3 saw it (the browser boundary, missing credentials): eddy's
            // AWS JSON shape.
            if serde_json::from_slice::<Value>(body).is_ok_and(|v| v["__type"].is_string()) {
                return Ok(());
            }
            return fail("S3 error without `<Error>`, `Code` and `Message`");
        }
        return Ok(());
    }
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return fail("error without a JSON body");
    };
    if !v["message"].is_string() {
        return fail("error without `message`");
    }
    match shape {
        Shape::AwsJson | Shape::AwsQuery => {
            if v["__type"].as_str().is_none_or(str::is_empty) {
                return fail("AWS JSON error without `__type`");
            }
        }
        Shape::RestJson => {
            let code = reply
                .headers
                .get("x-amzn-errortype")
                .and_then(|h| h.to_str().ok());
            if code.is_none_or(str::is_empty) {
                return fail("rest-json error without `x-amzn-ErrorType`");
            }
        }
        Shape::Eddy | Shape::RestXml => {}
    }
    Ok(())
}

/// Whether a successful reply says its body is JSON (`/metrics` is text, an `Invoke` answers
/// what the function returned).
fn is_json_reply(reply: &Reply) -> bool {
    reply
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.contains("json"))
}

// ---------------------------------------------------------------------------------------------
// Strategies shared by the services

/// A service's vocabulary: member names, telling values, and valid requests to start from.
pub struct Vocab {
    pub keys: &'static [&'static str],
    pub strings: &'static [&'static str],
    /// Valid requests: `(OPERATION, JSON body)` for AWS JSON services, `("METHOD /path", JSON
    /// body)` for rest-json ones (`{}` in the path is a path parameter). Cases mutate them, so
    /// that many requests get past the first checks to the code behind them.
    pub seeds: &'static [(&'static str, &'static str)],
}

/// Values every service gets besides its own.
const COMMON_STRINGS: &[&str] = &[
    "",
    " ",
    "null",
    "true",
    "0",
    "-1",
    "1e400",
    "\u{0}",
    "\u{1f}",
    "\u{7f}",
    "\u{feff}",
    "\u{fffe}",
    "\u{10ffff}",
    "é",
    "💥",
    "..",
    "../../etc/passwd",
    "/",
    "/etc/passwd",
    "%00",
    "%zz",
    "*",
    "?",
    "arn:",
    "arn:aws:sqs:us-east-1:123456789012:q",
    "arn:aws:lambda:us-east-1:123456789012:function:f",
    "arn:aws:events:us-east-1:123456789012:event-bus/default",
    "2027-01-01T00:00:00Z",
    CODE_ROOT,
    CAPTURED,
];

/// Numbers at and just past the limits the APIs check.
fn number() -> impl Strategy<Value = Value> {
    let telling: &'static [f64] = &[
        0.0,
        -0.0,
        0.5,
        1.0,
        -1.0,
        2.0,
        10.0,
        11.0,
        50.0,
        51.0,
        100.0,
        101.0,
        128.0,
        200.0,
        256.0,
        512.0,
        900.0,
        901.0,
        1000.0,
        1001.0,
        1024.0,
        1440.0,
        3600.0,
        10_000.0,
        10_001.0,
        10_240.0,
        30_000.0,
        43_200.0,
        43_201.0,
        86_400.0,
        1_209_600.0,
        4_294_967_296.0,
        9_007_199_254_740_993.0,
        1_798_761_600.0,
        253_402_300_800.0,
        -62_135_596_800.0,
        1.0e15,
        1.0e19,
        1.0e300,
        -1.0e300,
        f64::MAX,
        f64::MIN,
        f64::MIN_POSITIVE,
    ];
    prop_oneof![
        3 => prop::sample::select(telling).prop_map(|f| {
            if f.fract() == 0.0 && f.abs() < 9.0e15 {
                Value::from(f as i64)
            } else {
                serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)
            }
        }),
        1 => Just(Value::from(i64::MAX)),
        1 => Just(Value::from(i64::MIN)),
        1 => Just(Value::from(u64::MAX)),
        1 => any::<i64>().prop_map(Value::from),
        1 => any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
    ]
}

fn string(strings: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop_oneof![
        6 => prop::sample::select(strings).prop_map(str::to_owned),
        2 => prop::sample::select(COMMON_STRINGS).prop_map(str::to_owned),
        2 => ".{0,24}",
        1 => (1usize..70_000).prop_map(|n| "x".repeat(n)),
    ]
}

fn leaf(strings: &'static [&'static str]) -> impl Strategy<Value = Value> {
    prop_oneof![
        1 => Just(Value::Null),
        1 => any::<bool>().prop_map(Value::Bool),
        3 => number(),
        6 => string(strings).prop_map(Value::String),
    ]
}

/// Any JSON value, objects keyed by the vocabulary.
pub fn json(v: &Vocab) -> BoxedStrategy<Value> {
    let keys = v.keys;
    leaf(v.strings)
        .prop_recursive(4, 48, 6, move |inner| {
            prop_oneof![
                1 => prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                3 => object(keys, inner),
            ]
        })
        .boxed()
}

fn object(
    keys: &'static [&'static str],
    value: impl Strategy<Value = Value>,
) -> impl Strategy<Value = Value> {
    prop::collection::vec(
        (
            prop_oneof![
                12 => prop::sample::select(keys).prop_map(str::to_owned),
                1 => "[A-Za-z]{0,12}",
            ],
            value,
        ),
        0..8,
    )
    .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>()))
}

/// JSON text no well-behaved client sends: nested past every depth limit, numbers no `f64`
/// holds, escapes of lone UTF-16 surrogates, bytes that are not UTF-8, very long strings and
/// arrays, and JSON that is not JSON.
fn hostile_values() -> Vec<Vec<u8>> {
    let nest = |open: &str, close: &str, depth: usize, inner: &str| {
        format!("{}{inner}{}", open.repeat(depth), close.repeat(depth)).into_bytes()
    };
    vec![
        nest("[", "]", 64, "1"),
        nest("[", "]", 127, "1"),
        nest("[", "]", 129, "1"),
        nest("[", "]", 100_000, ""),
        nest("{\"a\":", "}", 60, "1"),
        nest("{\"a\":", "}", 200, "1"),
        nest("{\"Detail\":", "}", 110, "{}"),
        b"1e999999".to_vec(),
        b"-1e999999".to_vec(),
        b"123456789012345678901234567890".to_vec(),
        b"18446744073709551616".to_vec(),
        b"-9223372036854775809".to_vec(),
        b"1.7976931348623157e309".to_vec(),
        b"4.9e-325".to_vec(),
        b"-0".to_vec(),
        b"0.1e-999999".to_vec(),
        br#""\ud800""#.to_vec(),
        br#""\udfff\ud800""#.to_vec(),
        br#""x\udc00y""#.to_vec(),
        br#""\u0000""#.to_vec(),
        br#""\uffff\ufffe""#.to_vec(),
        br#""\ud83d\udca5""#.to_vec(),
        b"\"\xff\xfe\"".to_vec(),
        b"\"\xc0\x80\"".to_vec(),
        b"\"\xed\xa0\x80\"".to_vec(),
        b"\"\xf4\x90\x80\x80\"".to_vec(),
        format!("\"{}\"", "a".repeat(300_000)).into_bytes(),
        format!("[{}0]", "0,".repeat(60_000)).into_bytes(),
        format!("{{\"{}\":1}}", "k".repeat(100_000)).into_bytes(),
        br#"{"a":1,"a":2}"#.to_vec(),
        b"NaN".to_vec(),
        b"Infinity".to_vec(),
        b"{".to_vec(),
        b"\"unterminated".to_vec(),
        b"{} trailing".to_vec(),
        b"\xef\xbb\xbf{}".to_vec(),
        b"[,]".to_vec(),
    ]
}

/// A hostile value, alone or as a vocabulary member's value.
fn hostile(keys: &'static [&'static str]) -> impl Strategy<Value = Vec<u8>> {
    let values = hostile_values();
    prop_oneof![
        1 => prop::sample::select(values.clone()),
        3 => (prop::sample::select(keys), prop::sample::select(values)).prop_map(|(k, v)| {
            let mut out = format!("{{\"{k}\":").into_bytes();
            out.extend(v);
            out.push(b'}');
            out
        }),
    ]
}

/// A change to a seed request's body.
#[derive(Debug, Clone)]
enum Mutation {
    /// Replaces a member or element by one of the same kind: a string by `string`, a number by
    /// `number`, a boolean by its negation, anything else by `other`.
    Alike {
        string: String,
        number: Value,
        other: Value,
    },
    /// Replaces a member or element.
    Set(Value),
    Remove,
    /// Adds a member to an object (the root when the chosen node is not an object).
    Insert(&'static str, Value),
    /// Replaces a member or element by hostile JSON text (see [`hostile_values`]).
    Hostile(Vec<u8>),
}

/// Stands for a hostile value in a seed until the seed is written out.
const HOSTILE: &str = "@HOSTILE@";

/// Every member and element of `doc` as JSON pointers, root excluded.
fn pointers(doc: &Value, at: &str, out: &mut Vec<String>) {
    match doc {
        Value::Object(m) => {
            for (k, v) in m {
                let p = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
                out.push(p.clone());
                pointers(v, &p, out);
            }
        }
        Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                let p = format!("{at}/{i}");
                out.push(p.clone());
                pointers(v, &p, out);
            }
        }
        _ => {}
    }
}

fn mutate(doc: &mut Value, at: prop::sample::Index, m: Mutation) {
    let mut all = Vec::new();
    pointers(doc, "", &mut all);
    let target = if all.is_empty() {
        String::new()
    } else {
        all[at.index(all.len())].clone()
    };
    match m {
        Mutation::Alike {
            string,
            number,
            other,
        } => {
            if let Some(slot) = doc.pointer_mut(&target) {
                *slot = match slot {
                    Value::String(_) => Value::String(string),
                    Value::Number(_) => number,
                    Value::Bool(b) => Value::Bool(!*b),
                    _ => other,
                };
            }
        }
        Mutation::Set(v) => {
            if let Some(slot) = doc.pointer_mut(&target) {
                *slot = v;
            }
        }
        Mutation::Hostile(_) => {
            if let Some(slot) = doc.pointer_mut(&target) {
                *slot = Value::String(HOSTILE.to_owned());
            }
        }
        Mutation::Remove => {
            let Some((parent, last)) = target.rsplit_once('/') else {
                return;
            };
            let last = last.replace("~1", "/").replace("~0", "~");
            match doc.pointer_mut(parent) {
                Some(Value::Object(m)) => {
                    m.remove(&last);
                }
                Some(Value::Array(a)) => {
                    if let Ok(i) = last.parse::<usize>()
                        && i < a.len()
                    {
                        a.remove(i);
                    }
                }
                _ => {}
            }
        }
        Mutation::Insert(k, v) => match doc.pointer_mut(&target) {
            Some(Value::Object(m)) => {
                m.insert(k.to_owned(), v);
            }
            _ => {
                if let Value::Object(m) = doc {
                    m.insert(k.to_owned(), v);
                }
            }
        },
    }
}

/// A seed request of the vocabulary, mutated: `(its key, its body)`.
pub fn seeded(v: &Vocab) -> BoxedStrategy<(&'static str, Vec<u8>)> {
    let mutation = prop_oneof![
        4 => (string(v.strings), number(), json(v)).prop_map(|(string, number, other)| {
            Mutation::Alike { string, number, other }
        }),
        1 => json(v).prop_map(Mutation::Set),
        1 => prop::sample::select(hostile_values()).prop_map(Mutation::Hostile),
        1 => Just(Mutation::Remove),
        2 => (prop::sample::select(v.keys), json(v)).prop_map(|(k, v)| Mutation::Insert(k, v)),
    ];
    (
        prop::sample::select(v.seeds),
        prop::collection::vec((any::<prop::sample::Index>(), mutation), 0..4),
    )
        .prop_map(|((key, text), mutations)| {
            let mut doc: Value = serde_json::from_str(text).expect("a seed is JSON");
            let mut hostile = Vec::new();
            for (at, m) in mutations {
                if let Mutation::Hostile(h) = &m {
                    hostile.clone_from(h);
                }
                mutate(&mut doc, at, m);
            }
            let text = doc.to_string().into_bytes();
            let marker = format!("\"{HOSTILE}\"");
            (key, replace(&text, marker.as_bytes(), |_| hostile.clone()))
        })
        .boxed()
}

/// A request body: mostly a JSON object of the vocabulary, sometimes hostile, random bytes,
/// empty, or a JSON document that is not an object.
pub fn body(v: &Vocab) -> BoxedStrategy<Vec<u8>> {
    prop_oneof![
        10 => object(v.keys, json(v)).prop_map(|v| v.to_string().into_bytes()),
        3 => hostile(v.keys),
        1 => prop::collection::vec(any::<u8>(), 0..64),
        1 => Just(Vec::new()),
        1 => json(v).prop_map(|v| v.to_string().into_bytes()),
    ]
    .boxed()
}

/// How a request reaches eddy besides the service's own protocol: mostly as an SDK sends it,
/// sometimes as a browser or a bare `curl` would.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sender {
    /// Signed for `us-east-1`, no `Host` (the router sees none).
    Sdk,
    /// Signed for another region (or a credential scope eddy cannot read).
    Region(&'static str),
    /// With a `Host` that names eddy on this machine.
    LocalHost(&'static str),
    /// No `Authorization` header.
    Unsigned,
    /// A web page on another origin.
    ForeignOrigin(&'static str),
    /// A `Host` that is not eddy's (DNS rebinding).
    ForeignHost(&'static [u8]),
    /// `Sec-Fetch-Site: cross-site` without an `Origin`.
    CrossSite,
}

/// `Host` values that do not name eddy.
const FOREIGN_HOSTS: &[&[u8]] = &[
    b"evil.example:4566",
    b"localhost.evil.example",
    b"127.0.0.1.nip.io",
    b"\xff\xfe",
];

pub fn sender() -> impl Strategy<Value = Sender> {
    prop_oneof![
        40 => Just(Sender::Sdk),
        2 => prop::sample::select(&["eu-west-1", "ap-southeast-2", "x", "", "bad region!"][..])
            .prop_map(Sender::Region),
        2 => prop::sample::select(
            &["localhost:4566", "127.0.0.1:4566", "[::1]:4566", "sqs.localhost", "LOCALHOST."][..]
        )
        .prop_map(Sender::LocalHost),
        1 => Just(Sender::Unsigned),
        1 => prop::sample::select(
            &["http://evil.example", "null", "http://localhost.evil.example", "file://"][..]
        )
        .prop_map(Sender::ForeignOrigin),
        1 => prop::sample::select(FOREIGN_HOSTS).prop_map(Sender::ForeignHost),
        1 => Just(Sender::CrossSite),
    ]
}

impl Sender {
    /// `call` as this sender sends it, for a service signing as `service`.
    pub fn prepare(self, call: Call, service: &str) -> Call {
        match self {
            Self::Sdk => call.signed(service),
            Self::Region(region) => call.header(
                "authorization",
                format!(
                    "AWS4-HMAC-SHA256 Credential=test/20260101/{region}/{service}/aws4_request, \
                     SignedHeaders=host, Signature=0"
                ),
            ),
            Self::LocalHost(host) => call.signed(service).header("host", host),
            Self::Unsigned => call,
            Self::ForeignOrigin(origin) => call.signed(service).header("origin", origin),
            Self::ForeignHost(host) => call.signed(service).header("host", host),
            Self::CrossSite => call.signed(service).header("sec-fetch-site", "cross-site"),
        }
    }

    /// Whether eddy must refuse what this sender sends (with 403) whatever it is.
    pub fn refused(self) -> bool {
        matches!(
            self,
            Self::Unsigned | Self::ForeignOrigin(_) | Self::ForeignHost(_) | Self::CrossSite
        )
    }
}

/// `s` percent-encoded as a path segment or query component (unreserved bytes kept).
pub fn pct(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// One request through the AWS JSON protocol (`X-Amz-Target: PREFIX.OPERATION`), and how it
/// is sent.
#[derive(Debug, Clone)]
pub struct JsonCase {
    pub operation: &'static str,
    pub body: Vec<u8>,
    pub sender: Sender,
    pub wire: JsonWire,
}

/// Variations of the AWS JSON wire form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonWire {
    /// As SDKs send it.
    Normal,
    /// No `X-Amz-Target`.
    NoTarget,
    /// The target without a `.OPERATION`.
    BareTarget,
    /// A form-encoded body with `Action=` (the query protocol SQS once spoke).
    Query,
}

pub fn json_case(operations: &'static [&'static str], v: &Vocab) -> BoxedStrategy<JsonCase> {
    let request = prop_oneof![
        3 => (prop::sample::select(operations), body(v)),
        2 => seeded(v),
    ];
    (
        request,
        sender(),
        prop_oneof![
            40 => Just(JsonWire::Normal),
            1 => Just(JsonWire::NoTarget),
            1 => Just(JsonWire::BareTarget),
            1 => Just(JsonWire::Query),
        ],
    )
        .prop_map(|((operation, body), sender, wire)| JsonCase {
            operation,
            body,
            sender,
            wire,
        })
        .boxed()
}

impl JsonCase {
    /// The request for a service whose targets start `prefix` (`AmazonSQS`), with content type
    /// `content_type`, signing as `service`.
    pub fn call(&self, prefix: &str, content_type: &str, service: &str) -> Call {
        let mut call = Call::new(Method::POST, "/");
        match self.wire {
            JsonWire::Normal => {
                call = call
                    .header("x-amz-target", format!("{prefix}.{}", self.operation))
                    .header("content-type", content_type)
                    .body(self.body.clone());
            }
            JsonWire::NoTarget => {
                call = call
                    .header("content-type", content_type)
                    .body(self.body.clone());
            }
            JsonWire::BareTarget => {
                call = call
                    .header("x-amz-target", prefix)
                    .header("content-type", content_type)
                    .body(self.body.clone());
            }
            JsonWire::Query => {
                call = call
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(format!(
                        "Action={}&Version=2012-11-05&QueueUrl=%2F123456789012%2Fq&Body={}",
                        self.operation,
                        pct(&String::from_utf8_lossy(&self.body))
                    ));
            }
        }
        self.sender.prepare(call, service)
    }
}

/// Runs a JSON-protocol case and checks its answer; returns it for further checks.
pub fn run_json_case(
    fx: &Fixture,
    case: &JsonCase,
    prefix: &str,
    content_type: &str,
    service: &str,
) -> Result<Reply, String> {
    let call = case.call(prefix, content_type, service);
    let reply = fx.rt.block_on(fx.send(&call))?;
    if case.sender == Sender::Sdk && case.wire == JsonWire::Normal {
        fx.record(case.operation, &reply);
    }
    let shape = if case.wire == JsonWire::Query {
        Shape::AwsQuery
    } else {
        Shape::AwsJson
    };
    check_reply(shape, &call, &reply)?;
    if case.sender.refused() && reply.status != StatusCode::FORBIDDEN {
        return Err(format!(
            "a request from {:?} was not refused: {call:?} answered {}",
            case.sender, reply.status
        ));
    }
    Ok(reply)
}

// ---------------------------------------------------------------------------------------------
// rest-json requests

/// A rest-json service's wire vocabulary.
pub struct RestVocab {
    /// The SigV4 signing name.
    pub service: &'static str,
    /// `(METHOD, PATH)` of each operation (botocore's `requestUri`); `{}` is a path parameter,
    /// `{KEY}` one that is mostly an id captured under `KEY` (see [`Fixture::capture`]).
    pub routes: &'static [(&'static str, &'static str)],
    /// Telling path parameters (names, ARNs, ids).
    pub segments: &'static [&'static str],
    pub query_keys: &'static [&'static str],
    pub query_values: &'static [&'static str],
    /// Headers the service reads, with telling values.
    pub headers: &'static [(&'static str, &'static [&'static str])],
    pub body: Vocab,
}

#[derive(Debug, Clone)]
pub struct RestCase {
    /// `METHOD /path/{}`: the operation, for [`Fixture::record`].
    pub label: String,
    pub call: Call,
    pub sender: Sender,
}

const METHODS: &[&str] = &["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"];

/// Path parameters no client should send.
const ODD_SEGMENTS: &[&str] = &[
    "%zz", "%", "%2F", "%00", "%C0%AF", "%FF%FE", "..", ".", "%2e%2e", "a%20b", "%25", "%E2%80",
];

fn segment(v: &'static RestVocab) -> impl Strategy<Value = String> {
    prop_oneof![
        8 => prop::sample::select(v.segments).prop_map(pct),
        2 => Just(CAPTURED.to_owned()),
        1 => prop::sample::select(ODD_SEGMENTS).prop_map(str::to_owned),
        1 => ".{1,16}".prop_map(|s| pct(&s)),
        1 => (1usize..2000).prop_map(|n| "n".repeat(n)),
    ]
}

fn query(v: &'static RestVocab) -> impl Strategy<Value = String> {
    let pair = (
        prop_oneof![
            6 => prop::sample::select(v.query_keys).prop_map(str::to_owned),
            1 => "[A-Za-z]{0,8}",
        ],
        prop_oneof![
            6 => prop::sample::select(v.query_values).prop_map(pct),
            2 => prop::sample::select(COMMON_STRINGS).prop_map(pct),
            1 => prop::sample::select(ODD_SEGMENTS).prop_map(str::to_owned),
            1 => ".{0,12}".prop_map(|s| pct(&s)),
        ],
    );
    prop_oneof![
        8 => prop::collection::vec(pair, 0..4).prop_map(|pairs| {
            pairs
                .into_iter()
                .map(|(k, v)| format!("{}={v}", pct(&k)))
                .collect::<Vec<_>>()
                .join("&")
        }),
        1 => prop::sample::select(&["&&", "=", "a=%zz&=b&", "%", "a+b=c+d", "x=1&x=2"][..])
            .prop_map(str::to_owned),
    ]
}

fn header(v: &'static RestVocab) -> impl Strategy<Value = (String, Vec<u8>)> {
    prop_oneof![
        6 => prop::sample::select(v.headers).prop_flat_map(|(name, values)| {
            prop::sample::select(values).prop_map(move |value| (name.to_owned(), value.as_bytes().to_vec()))
        }),
        1 => prop::sample::select(v.headers)
            .prop_map(|(name, _)| (name.to_owned(), b"\xff\xfe bytes".to_vec())),
        1 => prop::sample::select(v.headers)
            .prop_map(|(name, _)| (name.to_owned(), "x".repeat(9000).into_bytes())),
    ]
}

pub fn rest_case(v: &'static RestVocab) -> BoxedStrategy<RestCase> {
    let request = prop_oneof![
        3 => (prop::sample::select(v.routes), body(&v.body)),
        2 => seeded(&v.body).prop_map(|(route, body)| {
            (route.split_once(' ').unwrap_or(("POST", route)), body)
        }),
    ];
    let path = (
        request,
        prop::collection::vec((segment(v), prop::bool::weighted(0.8)), 4),
        prop_oneof![10 => Just(None), 1 => segment(v).prop_map(Some)],
    )
        .prop_map(|(((method, template), body), segs, extra)| {
            let mut segs = segs.into_iter();
            let mut path = String::new();
            let mut rest = template;
            while let Some((before, after)) = rest.split_once('{') {
                path.push_str(before);
                let (name, after) = after.split_once('}').unwrap_or((after, ""));
                let (random, typed) = segs.next().unwrap_or_default();
                if typed && !name.is_empty() {
                    path.push_str(&format!("@{name}@"));
                } else {
                    path.push_str(&random);
                }
                rest = after;
            }
            path.push_str(rest);
            let mut label = template.to_owned();
            if let Some(x) = extra {
                path = format!("{path}/{x}");
                label.push_str("/{}");
            }
            (method, path, label, body)
        });
    (
        path,
        prop_oneof![8 => Just(None), 1 => prop::sample::select(METHODS).prop_map(Some)],
        prop::option::weighted(0.4, query(v)),
        prop::collection::vec(header(v), 0..3),
        prop_oneof![
            8 => Just(Some("application/json")),
            1 => Just(None),
            1 => Just(Some("text/plain")),
        ],
        sender(),
    )
        .prop_map(
            move |(
                (method, path, label, body),
                other_method,
                query,
                headers,
                content_type,
                sender,
            )| {
                let method = other_method.unwrap_or(method);
                let label = format!("{method} {label}");
                let mut uri = path;
                if let Some(q) = query {
                    uri = format!("{uri}?{q}");
                }
                let mut call = Call::new(
                    Method::from_bytes(method.as_bytes()).unwrap_or(Method::GET),
                    uri,
                )
                .body(body);
                if let Some(ct) = content_type {
                    call = call.header("content-type", ct);
                }
                for (k, v) in headers {
                    call = call.header(&k, v);
                }
                RestCase {
                    label,
                    call: sender.prepare(call, v.service),
                    sender,
                }
            },
        )
        .boxed()
}

/// Runs a rest-json case and checks its answer; returns it for further checks.
pub fn run_rest_case(fx: &Fixture, case: &RestCase) -> Result<Reply, String> {
    let reply = fx.rt.block_on(fx.send(&case.call))?;
    if case.sender == Sender::Sdk {
        fx.record(&case.label, &reply);
    }
    check_reply(Shape::RestJson, &case.call, &reply)?;
    if case.sender.refused() && reply.status != StatusCode::FORBIDDEN {
        return Err(format!(
            "a request from {:?} was not refused: {:?} answered {}",
            case.sender, case.call, reply.status
        ));
    }
    Ok(reply)
}

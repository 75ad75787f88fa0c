//! The function runtime with a real `lambda_runtime` function: warm reuse, environment, errors,
//! panics, crashes, timeouts, concurrency, memory limit, logs (invalid UTF-8, huge lines), code
//! updates, and (as root) each function as its own user, reading only its own code.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use eddy_runtime::{
    FUNCTION_IDS, FunctionSpec, FunctionUsers, Invocation, LogLine, LogSink, Pools, RuntimeConfig,
    RuntimeKind,
};
use serde_json::{Value, json};

struct Collect(Mutex<Vec<LogLine>>);

impl LogSink for Collect {
    fn write(&self, line: LogLine) {
        self.0.lock().unwrap().push(line);
    }
}

use common::code_dir;

fn spec(code: &Path, handler: &str) -> FunctionSpec {
    FunctionSpec {
        name: format!("fn-{handler}"),
        arn: format!("arn:aws:lambda:us-east-1:123456789012:function:fn-{handler}"),
        version: "$LATEST".into(),
        runtime: RuntimeKind::parse("provided.al2023").unwrap(),
        handler: handler.into(),
        code_dir: code.to_owned(),
        private_code: false,
        opt_dir: None,
        timeout: Duration::from_secs(3),
        memory_mb: 128,
        environment: BTreeMap::from([("MY_SETTING".to_owned(), "on".to_owned())]),
        concurrency: 4,
        instance_concurrency: 1,
        region: "us-east-1".into(),
        revision: "r1".into(),
    }
}

fn pools() -> (Arc<Pools>, Arc<Collect>) {
    let sink = Arc::new(Collect(Mutex::new(Vec::new())));
    let pools = Arc::new(Pools::new(
        RuntimeConfig::new("http://127.0.0.1:4566"),
        sink.clone(),
    ));
    (pools, sink)
}

fn inv(payload: Value) -> Invocation {
    Invocation {
        payload: payload.to_string().into(),
        tail: true,
        ..Invocation::default()
    }
}

fn body(o: &eddy_runtime::Outcome) -> Value {
    serde_json::from_slice(&o.payload).unwrap()
}

#[tokio::test]
async fn echo_is_warm_after_the_first_call_and_sees_a_lambda_environment() {
    let (_d, code) = code_dir();
    let (pools, _) = pools();
    let pool = pools.deploy("us-east-1/echo", spec(&code, "echo"));
    let first = pool.invoke(inv(json!({"n": 1}))).await.unwrap();
    assert!(first.cold);
    assert_eq!(first.function_error, None, "{:?}", first.payload);
    let b = body(&first);
    assert_eq!(b["event"], json!({"n": 1}));
    assert_eq!(b["context"]["request_id"], first.request_id.as_str());
    assert_eq!(
        b["context"]["invoked_function_arn"],
        "arn:aws:lambda:us-east-1:123456789012:function:fn-echo"
    );
    let deadline = b["context"]["deadline"].as_u64().unwrap() as i64;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    assert!(
        deadline > now + 2000 && deadline <= now + 3100,
        "{deadline} vs {now}"
    );
    assert!(
        b["context"]["xray_trace_id"]
            .as_str()
            .unwrap()
            .starts_with("Root=1-")
    );
    let env = &b["env"];
    assert_eq!(env["_HANDLER"], "echo");
    assert_eq!(env["MY_SETTING"], "on");
    assert_eq!(env["AWS_LAMBDA_FUNCTION_NAME"], "fn-echo");
    assert_eq!(env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"], "128");
    assert_eq!(env["AWS_LAMBDA_LOG_GROUP_NAME"], "/aws/lambda/fn-echo");
    assert_eq!(env["AWS_ENDPOINT_URL"], "http://127.0.0.1:4566");
    assert_eq!(env["AWS_EXECUTION_ENV"], "AWS_Lambda_provided.al2023");
    assert_eq!(env["LAMBDA_TASK_ROOT"], code.display().to_string());
    assert!(
        env.get("HOME").is_none(),
        "eddy's environment leaked: {env}"
    );
    assert_eq!(b["cwd"], code.display().to_string());
    assert_eq!(b["nofile"], "1024");
    // As root, the function runs as its own user (see `functions_run_as_their_own_users`).
    let uid = b["uid"].as_u64().unwrap() as u32;
    match pool.user() {
        Some((u, _)) => {
            assert!(rustix_is_root());
            assert!(FUNCTION_IDS.contains(&u));
            assert_eq!(uid, u);
        }
        None => assert!(!rustix_is_root()),
    }
    let second = pool.invoke(inv(json!({"n": 2}))).await.unwrap();
    assert!(!second.cold);
    assert_eq!(body(&second)["event"], json!({"n": 2}));
    assert_eq!(pool.idle_count(), 1);
}

fn rustix_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
}

#[tokio::test]
async fn errors_panics_and_crashes_fail_the_invocation_cleanly() {
    let (_d, code) = code_dir();
    let (pools, _) = pools();
    let fail = pools.deploy("fail", spec(&code, "fail"));
    let o = fail.invoke(inv(json!({"reason": "bad"}))).await.unwrap();
    assert_eq!(o.function_error, Some("Unhandled"));
    let b = body(&o);
    assert!(
        b["errorMessage"]
            .as_str()
            .unwrap()
            .contains("failed on purpose: bad"),
        "{b}"
    );
    // A handled error leaves the instance warm.
    let o = fail.invoke(inv(json!({}))).await.unwrap();
    assert!(!o.cold);

    let panic = pools.deploy("panic", spec(&code, "panic"));
    let o = panic.invoke(inv(json!({}))).await.unwrap();
    assert_eq!(o.function_error, Some("Unhandled"));
    assert!(
        String::from_utf8_lossy(&o.payload).contains("panicked on purpose"),
        "{:?}",
        o.payload
    );

    let exit = pools.deploy("exit", spec(&code, "exit"));
    let o = exit.invoke(inv(json!({}))).await.unwrap();
    assert_eq!(o.function_error, Some("Unhandled"));
    let b = body(&o);
    assert_eq!(b["errorType"], "Runtime.ExitError");
    assert!(
        b["errorMessage"]
            .as_str()
            .unwrap()
            .ends_with("Runtime exited with error: exit status 3"),
        "{b}"
    );
    // The crashed instance is replaced.
    let o = exit.invoke(inv(json!({}))).await.unwrap();
    assert!(o.cold);
}

#[tokio::test]
async fn a_timeout_kills_the_instance_and_says_so() {
    let (_d, code) = code_dir();
    let (pools, _) = pools();
    let mut s = spec(&code, "sleep");
    s.timeout = Duration::from_secs(1);
    let pool = pools.deploy("sleep", s);
    let o = pool.invoke(inv(json!({"ms": 5000}))).await.unwrap();
    assert_eq!(o.function_error, Some("Unhandled"));
    let b = body(&o);
    assert_eq!(b["errorType"], "Sandbox.Timedout");
    assert_eq!(
        b["errorMessage"],
        format!(
            "RequestId: {} Error: Task timed out after 1.00 seconds",
            o.request_id
        )
    );
    let o = pool.invoke(inv(json!({"ms": 1}))).await.unwrap();
    assert_eq!(o.function_error, None);
    assert!(o.cold, "the timed-out instance must not be reused");
}

#[tokio::test]
async fn concurrency_bounds_the_instances() {
    let (_d, code) = code_dir();
    let (pools, _) = pools();
    let mut s = spec(&code, "sleep");
    s.concurrency = 1;
    let pool = pools.deploy("sleep1", s);
    let p2 = pool.clone();
    let slow = tokio::spawn(async move { p2.invoke(inv(json!({"ms": 800}))).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let err = pool.invoke(inv(json!({"ms": 1}))).await.unwrap_err();
    assert_eq!(err, eddy_runtime::InvokeError::TooManyRequests);
    assert!(slow.await.unwrap().is_ok());
}

#[tokio::test]
async fn a_managed_instance_runs_several_invocations_in_one_process() {
    let (_d, code) = code_dir();
    let (pools, sink) = pools();
    let mut s = spec(&code, "sleep");
    s.concurrency = 6;
    s.instance_concurrency = 3;
    let pool = pools.deploy("lmi", s);
    let started = std::time::Instant::now();
    let calls: Vec<_> = (0..6)
        .map(|i| {
            let p = pool.clone();
            tokio::spawn(async move { p.invoke(inv(json!({"ms": 600, "n": i}))).await })
        })
        .collect();
    let mut pids = std::collections::BTreeSet::new();
    let mut ids = std::collections::BTreeSet::new();
    for c in calls {
        let o = c.await.unwrap().unwrap();
        assert_eq!(o.function_error, None, "{:?}", o.payload);
        let b = body(&o);
        assert_eq!(b["env"]["AWS_LAMBDA_MAX_CONCURRENCY"], "3");
        assert_eq!(b["context"]["request_id"], o.request_id.as_str());
        pids.insert(b["pid"].as_u64().unwrap());
        ids.insert(o.request_id);
    }
    // Six 600 ms calls at once: two processes of three, all running together.
    assert_eq!(pids.len(), 2, "{pids:?}");
    assert_eq!(ids.len(), 6);
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
    // Every invocation has its own START, END and REPORT.
    let lines = sink.0.lock().unwrap().clone();
    for id in &ids {
        for kind in ["START", "END", "REPORT"] {
            let prefix = format!("{kind} RequestId: {id}");
            assert_eq!(
                lines
                    .iter()
                    .filter(|l| l.message.starts_with(&prefix))
                    .count(),
                1,
                "{prefix}"
            );
        }
    }
    // Warm again: a seventh call reuses a free slot, no new process.
    let o = pool.invoke(inv(json!({"ms": 1}))).await.unwrap();
    assert!(!o.cold);
    assert!(pids.contains(&body(&o)["pid"].as_u64().unwrap()));
}

#[tokio::test]
async fn memory_size_is_enforced() {
    let (_d, code) = code_dir();
    let (pools, _) = pools();
    let pool = pools.deploy("mem", spec(&code, "memory"));
    let o = pool.invoke(inv(json!({"mb": 8}))).await.unwrap();
    assert_eq!(o.function_error, None, "{:?}", o.payload);
    let o = pool.invoke(inv(json!({"mb": 300}))).await.unwrap();
    assert_eq!(o.function_error, Some("Unhandled"));
    assert_eq!(body(&o)["errorType"], "Runtime.OutOfMemory");
}

#[tokio::test]
async fn logs_are_framed_and_tailed() {
    let (_d, code) = code_dir();
    let (pools, sink) = pools();
    let pool = pools.deploy("log", spec(&code, "log"));
    let o = pool.invoke(inv(json!({"lines": 3}))).await.unwrap();
    let tail = &o.log_tail;
    assert!(
        tail.starts_with(&format!(
            "START RequestId: {} Version: $LATEST\n",
            o.request_id
        )),
        "{tail}"
    );
    assert!(tail.contains("log line 2\n"), "{tail}");
    assert!(
        tail.contains(&format!("END RequestId: {}\n", o.request_id)),
        "{tail}"
    );
    assert!(tail.contains("\tInit Duration: "), "{tail}");
    let lines = sink.0.lock().unwrap();
    assert!(lines.iter().all(|l| l.group == "/aws/lambda/fn-log"));
    assert!(
        lines
            .iter()
            .any(|l| l.message.starts_with("REPORT RequestId: "))
    );
}

#[tokio::test]
async fn oversized_responses_fail() {
    let (_d, code) = code_dir();
    let (pools, _) = pools();
    let pool = pools.deploy("big", spec(&code, "big"));
    let o = pool.invoke(inv(json!({"bytes": 7_000_000}))).await.unwrap();
    assert_eq!(o.function_error, Some("Unhandled"));
    assert_eq!(body(&o)["errorType"], "Function.ResponseSizeTooLarge");
    let o = pool.invoke(inv(json!({"bytes": 10}))).await.unwrap();
    assert_eq!(o.function_error, None, "{:?} {}", o.payload, o.log_tail);
}

#[tokio::test]
async fn a_new_revision_drains_warm_instances() {
    let (_d, code) = code_dir();
    let (pools, _) = pools();
    let pool = pools.deploy("echo", spec(&code, "echo"));
    assert!(pool.invoke(inv(json!({}))).await.unwrap().cold);
    assert!(!pool.invoke(inv(json!({}))).await.unwrap().cold);
    let mut s = spec(&code, "echo");
    s.revision = "r2".into();
    s.environment.insert("MY_SETTING".into(), "off".into());
    pools.deploy("echo", s);
    let o = pool.invoke(inv(json!({}))).await.unwrap();
    assert!(o.cold);
    assert_eq!(body(&o)["env"]["MY_SETTING"], "off");
}

#[tokio::test]
async fn a_missing_bootstrap_is_an_invalid_entrypoint() {
    let dir = tempfile::tempdir().unwrap();
    let (pools, _) = pools();
    let pool = pools.deploy("none", spec(dir.path(), "echo"));
    let o = pool.invoke(inv(json!({}))).await.unwrap();
    assert_eq!(o.function_error, Some("Unhandled"));
    assert_eq!(body(&o)["errorType"], "Runtime.InvalidEntrypoint");
}

#[tokio::test]
async fn a_process_that_exits_before_polling_fails_the_invocation() {
    let (_d, code) = code_dir();
    let (pools, _) = pools();
    let pool = pools.deploy("initfail", spec(&code, "init-fail"));
    let o = pool.invoke(inv(json!({}))).await.unwrap();
    assert_eq!(o.function_error, Some("Unhandled"));
    assert_eq!(body(&o)["errorType"], "Runtime.ExitError");
}

#[tokio::test]
async fn idle_instances_are_reaped() {
    let (_d, code) = code_dir();
    let sink = Arc::new(Collect(Mutex::new(Vec::new())));
    let mut config = RuntimeConfig::new("http://127.0.0.1:4566");
    config.idle_timeout = Duration::from_millis(100);
    let pools = Arc::new(Pools::new(config, sink));
    let pool = pools.deploy("echo", spec(&code, "echo"));
    assert!(pool.invoke(inv(json!({}))).await.unwrap().cold);
    assert_eq!(pool.idle_count(), 1);
    pool.reap(std::time::Instant::now());
    assert_eq!(pool.idle_count(), 1, "used just now: kept");
    tokio::time::sleep(Duration::from_millis(200)).await;
    pool.reap(std::time::Instant::now());
    assert_eq!(pool.idle_count(), 0);
    assert!(pool.invoke(inv(json!({}))).await.unwrap().cold);
}

fn lines_of(sink: &Collect) -> Vec<String> {
    sink.0
        .lock()
        .unwrap()
        .iter()
        .map(|l| l.message.clone())
        .collect()
}

#[tokio::test]
async fn output_that_is_not_utf8_keeps_the_logs_flowing() {
    let (_d, code) = code_dir();
    let (pools, sink) = pools();
    let pool = pools.deploy("bytes", spec(&code, "invalid-utf8"));
    let o = pool.invoke(inv(json!({"lines": 3}))).await.unwrap();
    assert_eq!(o.function_error, None, "{:?}", o.payload);
    assert!(
        o.log_tail
            .contains("not utf-8: \u{FFFD}\u{FFFD}\u{FFFD}(\n"),
        "{}",
        o.log_tail
    );
    assert!(o.log_tail.contains("log line 2\n"), "{}", o.log_tail);
    // The same process again, writing far more than a pipe holds (64 KiB) after the bad bytes:
    // it would block, and time out, if its output were no longer read.
    let o = pool.invoke(inv(json!({"lines": 20_000}))).await.unwrap();
    assert!(!o.cold);
    assert_eq!(o.function_error, None, "{:?}", o.payload);
    let lines = lines_of(&sink);
    assert!(lines.iter().any(|l| l == "log line 19999"));
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.starts_with("not utf-8: "))
            .count(),
        2
    );
}

#[tokio::test]
async fn a_huge_line_is_split_and_later_lines_still_come() {
    let (_d, code) = code_dir();
    let (pools, sink) = pools();
    let pool = pools.deploy("long", spec(&code, "long-line"));
    let o = pool.invoke(inv(json!({"bytes": 600_000}))).await.unwrap();
    assert_eq!(o.function_error, None, "{:?}", o.payload);
    let lines = lines_of(&sink);
    let max = eddy_runtime::logs::MAX_LINE_BYTES;
    let xs: Vec<usize> = lines
        .iter()
        .filter(|l| l.starts_with('x'))
        .map(String::len)
        .collect();
    assert_eq!(xs, [max, max, 600_000 - 2 * max]);
    assert!(lines.iter().all(|l| l.len() <= max));
    let after = lines
        .iter()
        .position(|l| l == "after the long line")
        .unwrap();
    let last_x = lines.iter().rposition(|l| l.starts_with('x')).unwrap();
    assert!(after > last_x);
    let o = pool.invoke(inv(json!({"bytes": 10}))).await.unwrap();
    assert!(!o.cold);
    assert!(
        o.log_tail.contains("xxxxxxxxxx\nafter the long line\n"),
        "{}",
        o.log_tail
    );
}

/// A private code directory like eddy's own: `root/NAME` holding the test function, readable by
/// eddy only, under a directory others may pass through but not list.
fn private_code(root: &Path, name: &str) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o711)).unwrap();
    let code = root.join(name);
    std::fs::create_dir(&code).unwrap();
    std::fs::copy(
        env!("CARGO_BIN_EXE_eddy-test-function"),
        code.join("bootstrap"),
    )
    .unwrap();
    std::fs::write(code.join("secret.txt"), name).unwrap();
    std::fs::set_permissions(
        code.join("bootstrap"),
        std::fs::Permissions::from_mode(0o700),
    )
    .unwrap();
    std::fs::set_permissions(
        code.join("secret.txt"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    std::fs::set_permissions(&code, std::fs::Permissions::from_mode(0o700)).unwrap();
    code
}

#[tokio::test]
async fn functions_run_as_their_own_users_and_read_only_their_own_code() {
    if !rustix_is_root() {
        eprintln!("skipped: running functions as other users needs root");
        return;
    }
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let dir = tempfile::tempdir().unwrap();
    let code_a = private_code(dir.path(), "a");
    let code_b = private_code(dir.path(), "b");
    let mut config = RuntimeConfig::new("http://127.0.0.1:4566");
    config.users = FunctionUsers::PerFunction;
    let sink = Arc::new(Collect(Mutex::new(Vec::new())));
    let pools = Arc::new(Pools::new(config, sink));
    let mut a = spec(&code_a, "fs");
    a.private_code = true;
    let mut b = spec(&code_b, "fs");
    b.private_code = true;
    let pool_a = pools.deploy("us-east-1/a", a);
    let pool_b = pools.deploy("us-east-1/b", b);
    let (uid_a, gid_a) = pool_a.user().unwrap();
    let (uid_b, _) = pool_b.user().unwrap();
    assert_ne!(uid_a, uid_b);
    assert!(FUNCTION_IDS.contains(&uid_a) && FUNCTION_IDS.contains(&uid_b));
    // B has started once, so its code is given to B's user.
    let o = pool_b.invoke(inv(json!({}))).await.unwrap();
    assert_eq!(body(&o)["uid"], uid_b);
    let s = |p: &Path| p.display().to_string();
    let probe = json!({
        "read": [s(&code_a.join("secret.txt")), s(&code_a.join("bootstrap")),
                 s(&code_b.join("secret.txt")), s(&code_b.join("bootstrap"))],
        "list": [s(&code_a), s(&code_b), s(dir.path())],
    });
    let o = pool_a.invoke(inv(probe)).await.unwrap();
    assert_eq!(o.function_error, None, "{:?}", o.payload);
    let r = body(&o);
    assert_eq!(
        (r["uid"].as_u64(), r["gid"].as_u64()),
        (Some(uid_a.into()), Some(gid_a.into()))
    );
    assert_eq!(r["read"][s(&code_a.join("secret.txt"))], "ok", "{r}");
    assert_eq!(r["read"][s(&code_a.join("bootstrap"))], "ok", "{r}");
    assert_eq!(r["read"][s(&code_b.join("secret.txt"))], "denied", "{r}");
    assert_eq!(r["read"][s(&code_b.join("bootstrap"))], "denied", "{r}");
    assert_eq!(r["list"][s(&code_a)], "ok", "{r}");
    assert_eq!(r["list"][s(&code_b)], "denied", "{r}");
    assert_eq!(r["list"][s(dir.path())], "denied", "{r}");
    // A's code: eddy's, A's group, nothing for others; A cannot change it.
    for (p, mode) in [
        (code_a.clone(), 0o750),
        (code_a.join("bootstrap"), 0o750),
        (code_a.join("secret.txt"), 0o640),
    ] {
        let m = std::fs::metadata(&p).unwrap();
        assert_eq!(
            (m.uid(), m.gid(), m.permissions().mode() & 0o777),
            (0, gid_a, mode),
            "{}",
            p.display()
        );
    }
    // A new function under a removed one's key gets an id of its own while the old pool lives.
    pools.remove("us-east-1/a");
    let again = pools.deploy("us-east-1/a", spec(&code_a, "echo"));
    assert_ne!(again.user().unwrap().0, uid_a);
    drop(pool_a);
}

#[tokio::test]
async fn one_shared_user_or_eddy_s_own_keep_their_meaning() {
    if !rustix_is_root() {
        eprintln!("skipped: running functions as other users needs root");
        return;
    }
    let (_d, code) = code_dir();
    for (users, want) in [
        (
            FunctionUsers::Shared {
                uid: 65534,
                gid: 65534,
            },
            65534,
        ),
        (FunctionUsers::Current, 0),
    ] {
        let mut config = RuntimeConfig::new("http://127.0.0.1:4566");
        config.users = users;
        let pools = Arc::new(Pools::new(config, Arc::new(eddy_runtime::DiscardLogs)));
        let a = pools.deploy("a", spec(&code, "echo"));
        let b = pools.deploy("b", spec(&code, "echo"));
        for p in [a, b] {
            let o = p.invoke(inv(json!({}))).await.unwrap();
            assert_eq!(body(&o)["uid"], want, "{users:?}");
        }
    }
}

/// Sends one raw request to a Runtime API port and returns the status line and the body.
async fn raw(addr: &str, request: String) -> (String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(request.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(2), s.read_to_end(&mut out)).await;
    assert!(
        read.is_ok(),
        "the Runtime API kept a refused request waiting"
    );
    let text = String::from_utf8_lossy(&out).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (
        head.lines().next().unwrap_or("").to_owned(),
        body.to_owned(),
    )
}

#[tokio::test]
async fn the_runtime_api_refuses_web_pages_and_rebinding_names() {
    let (_d, code) = code_dir();
    let (pools, _) = pools();
    let pool = pools.deploy("us-east-1/echo", spec(&code, "echo"));
    let first = pool.invoke(inv(json!({}))).await.unwrap();
    let api = body(&first)["env"]["AWS_LAMBDA_RUNTIME_API"]
        .as_str()
        .unwrap()
        .to_owned();
    // A page whose name resolved to 127.0.0.1 (DNS rebinding) trying to read the next event.
    let (status, body_text) = raw(
        &api,
        format!(
            "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: evil.example:{}\r\n\
             Connection: close\r\n\r\n",
            api.rsplit(':').next().unwrap()
        ),
    )
    .await;
    assert!(status.contains("403"), "{status} {body_text}");
    assert!(body_text.contains("evil.example"), "{body_text}");
    // A page posting an answer ("simple request": no preflight).
    let (status, _) = raw(
        &api,
        format!(
            "POST /2018-06-01/runtime/invocation/x/response HTTP/1.1\r\nHost: {api}\r\n\
             Origin: http://evil.example\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\
             Connection: close\r\n\r\n{{}}"
        ),
    )
    .await;
    assert!(status.contains("403"), "{status}");
    // The runtime client itself still works.
    let again = pool.invoke(inv(json!({"n": 2}))).await.unwrap();
    assert_eq!(body(&again)["event"], json!({"n": 2}));
}

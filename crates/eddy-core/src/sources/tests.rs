//! The mappings' operations and the pollers on a real core (a temporary store), and one real
//! function: a custom-runtime `bootstrap` speaking the Runtime API to the runtime's own
//! per-instance listener (no server needed).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use super::definition::USER_INITIATED;
use super::event::Settlement;
use super::poller::{self, Batch};
use super::*;
use crate::functions::{CodeLocation, FunctionDef};
use crate::queues::{OutMessage, QueueDef};

const R: &str = "us-east-1";

async fn core(dir: &std::path::Path) -> Arc<Core> {
    Core::open(
        crate::config::ServerConfig::new(dir),
        crate::clock::Clock::system(),
        Box::new(|_| Ok(Vec::new())),
    )
    .await
    .expect("open")
}

async fn queue(core: &Core, name: &str, attrs: &[(&str, &str)]) -> QueueDef {
    let attrs: BTreeMap<String, String> = attrs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    core.queues
        .create(R, name, attrs, Default::default())
        .await
        .expect("queue")
}

async fn function(core: &Core, code: &std::path::Path, name: &str) {
    core.functions
        .put(FunctionDef {
            region: R.into(),
            name: name.into(),
            runtime: "python3.12".into(),
            role: "arn:aws:iam::000000000000:role/r".into(),
            handler: "app.handler".into(),
            description: String::new(),
            timeout: 3,
            memory_size: 128,
            environment: BTreeMap::new(),
            code: CodeLocation::Local {
                path: code.to_owned(),
            },
            code_sha256: String::new(),
            code_size: 0,
            last_modified_ms: 0,
            revision_id: "1".into(),
            reserved_concurrency: None,
            event_invoke: None,
            tags: BTreeMap::new(),
            architectures: Vec::new(),
            ephemeral_storage: None,
            capacity_provider: None,
            tracing_mode: None,
            versions: Default::default(),
            last_version: 0,
            aliases: Default::default(),
            policy: Default::default(),
            urls: Default::default(),
            layers: Vec::new(),
            opt_dir: None,
        })
        .await
        .expect("function");
}

fn arn(name: &str) -> String {
    format!("arn:aws:sqs:{R}:000000000000:{name}")
}

fn new(function: &str, queue: &str) -> NewMapping {
    NewMapping {
        function: function.into(),
        event_source_arn: arn(queue),
        enabled: None,
        batch_size: None,
        maximum_batching_window_in_seconds: None,
        scaling_config: None,
        filter_criteria: Vec::new(),
        function_response_types: Vec::new(),
    }
}

#[tokio::test]
async fn mappings_are_checked_stored_listed_updated_and_deleted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let core = core(&dir.path().join("data")).await;
    queue(&core, "q", &[]).await;
    queue(&core, "q.fifo", &[("FifoQueue", "true")]).await;
    function(&core, dir.path(), "f").await;
    function(&core, dir.path(), "g").await;

    // Refusals, one rule each.
    let refused = |r: Result<EventSourceMappingDef, SourceError>| r.expect_err("refused");
    assert!(matches!(
        refused(create(&core, R, new("nope", "q")).await),
        SourceError::FunctionNotFound(_)
    ));
    assert!(matches!(
        refused(create(&core, R, new("f", "nope")).await),
        SourceError::QueueNotFound(_)
    ));
    let mut other = new("f", "q");
    other.event_source_arn = "arn:aws:sqs:eu-west-1:000000000000:q".into();
    assert!(matches!(
        refused(create(&core, R, other).await),
        SourceError::OtherRegion(_)
    ));
    let mut topic = new("f", "q");
    topic.event_source_arn = "arn:aws:sns:us-east-1:000000000000:t".into();
    assert!(matches!(
        refused(create(&core, R, topic).await),
        SourceError::NotQueueArn(_)
    ));
    queue(&core, "short", &[("VisibilityTimeout", "1")]).await;
    assert!(matches!(
        refused(create(&core, R, new("f", "short")).await),
        SourceError::VisibilityTimeout {
            queue_secs: 1,
            function_secs: 3
        }
    ));
    let mut big = new("f", "q");
    big.batch_size = Some(100);
    assert!(matches!(
        refused(create(&core, R, big).await),
        SourceError::WindowRequired { batch_size: 100 }
    ));
    let mut negative = new("f", "q");
    negative.batch_size = Some(-1);
    assert!(matches!(
        refused(create(&core, R, negative).await),
        SourceError::BatchSize { value: -1, .. }
    ));
    let mut fifo_window = new("f", "q.fifo");
    fifo_window.maximum_batching_window_in_seconds = Some(1);
    assert!(matches!(
        refused(create(&core, R, fifo_window).await),
        SourceError::FifoWindow
    ));
    let mut bad_type = new("f", "q");
    bad_type.function_response_types = vec!["Nope".into()];
    assert!(matches!(
        refused(create(&core, R, bad_type).await),
        SourceError::ResponseType(_)
    ));
    assert!(core.sources.all().is_empty(), "refusals store nothing");

    // Created by ARN, answered `Creating`, then read `Enabled`.
    let mut req = new("arn:aws:lambda:us-east-1:000000000000:function:f", "q");
    req.batch_size = Some(100);
    req.maximum_batching_window_in_seconds = Some(2);
    req.function_response_types = vec!["ReportBatchItemFailures".into()];
    let made = create(&core, R, req).await.expect("create");
    assert_eq!(made.state, MappingState::Creating);
    assert_eq!(made.function_name, "f");
    assert_eq!(made.state_transition_reason, USER_INITIATED);
    let got = core.sources.get(R, &made.uuid).expect("stored");
    assert_eq!(got.state, MappingState::Enabled);
    assert_eq!(got.batch_size, 100);
    assert!(got.reports_item_failures());

    // One mapping per queue and function.
    match refused(create(&core, R, new("f", "q")).await) {
        SourceError::Exists { uuid } => assert_eq!(uuid, made.uuid),
        e => panic!("{e:?}"),
    }
    let fifo = create(&core, R, new("g", "q.fifo")).await.expect("create");
    let g_on_q = create(&core, R, new("g", "q")).await.expect("create");

    // Lists, by function and by queue.
    assert_eq!(core.sources.list(R, None, None).len(), 3);
    let of_g = core.sources.list(R, Some("g"), None);
    assert_eq!(of_g.len(), 2);
    assert_eq!(core.sources.list(R, Some("g"), Some(&arn("q"))).len(), 1);
    assert_eq!(core.sources.list(R, None, Some(&arn("q"))).len(), 2);
    assert!(core.sources.list("eu-west-1", None, None).is_empty());

    // Updates: disabling, enabling, settings checked as on create.
    let off = MappingUpdate {
        enabled: Some(false),
        ..MappingUpdate::default()
    };
    let answer = update(&core, R, &made.uuid, off).await.expect("update");
    assert_eq!(answer.state, MappingState::Disabling);
    assert_eq!(
        core.sources.get(R, &made.uuid).expect("kept").state,
        MappingState::Disabled
    );
    let on = MappingUpdate {
        enabled: Some(true),
        batch_size: Some(5),
        filter_criteria: Some(vec![r#"{"body":{"a":["b"]}}"#.into()]),
        scaling_config: Some(ScalingConfig {
            maximum_concurrency: Some(2),
        }),
        ..MappingUpdate::default()
    };
    let answer = update(&core, R, &made.uuid, on).await.expect("update");
    assert_eq!(answer.state, MappingState::Enabling);
    let now = core.sources.get(R, &made.uuid).expect("kept");
    assert_eq!((now.batch_size, now.concurrency(false)), (5, 2));
    assert_eq!(now.filter_criteria.len(), 1);
    let too_big = MappingUpdate {
        batch_size: Some(11),
        ..MappingUpdate::default()
    };
    let _window_kept_so_allowed = update(&core, R, &made.uuid, too_big)
        .await
        .expect("the window of 2 s allows 11");
    let fifo_big = MappingUpdate {
        batch_size: Some(11),
        ..MappingUpdate::default()
    };
    assert!(matches!(
        update(&core, R, &fifo.uuid, fifo_big).await,
        Err(SourceError::BatchSize { max: 10, .. })
    ));
    let bad_filter = MappingUpdate {
        filter_criteria: Some(vec!["{".into()]),
        ..MappingUpdate::default()
    };
    assert!(matches!(
        update(&core, R, &made.uuid, bad_filter).await,
        Err(SourceError::Filter { .. })
    ));
    // Moving g's mapping of q to f would make a second mapping of q to f.
    let to_f = MappingUpdate {
        function: Some("f".into()),
        ..MappingUpdate::default()
    };
    assert!(matches!(
        update(&core, R, &g_on_q.uuid, to_f).await,
        Err(SourceError::Exists { .. })
    ));
    let plain = MappingUpdate::default();
    assert_eq!(
        update(&core, R, &fifo.uuid, plain)
            .await
            .expect("update")
            .state,
        MappingState::Updating
    );

    // A restart loads what the store holds.
    let again = Core::open_with_store(
        crate::config::ServerConfig::new(dir.path().join("data")),
        crate::clock::Clock::system(),
        core.store.clone(),
        Box::new(|_| Ok(Vec::new())),
    )
    .await
    .expect("reopen");
    assert_eq!(
        again.sources.get(R, &made.uuid),
        core.sources.get(R, &made.uuid)
    );
    assert_eq!(again.sources.all().len(), 3);

    // Deletes.
    let gone = delete(&core, R, &made.uuid).await.expect("delete");
    assert_eq!(gone.state, MappingState::Deleting);
    assert!(core.sources.get(R, &made.uuid).is_none());
    assert!(matches!(
        delete(&core, R, &made.uuid).await,
        Err(SourceError::NotFound(_))
    ));
    assert!(matches!(
        update(&core, R, &made.uuid, MappingUpdate::default()).await,
        Err(SourceError::NotFound(_))
    ));
}

/// A mapping of `queue` to a function named `function`, not stored (the pollers' steps take
/// it as given).
fn mapping(function: &str, queue: &str, filters: &[&str], report: bool) -> EventSourceMappingDef {
    EventSourceMappingDef {
        region: R.into(),
        uuid: "m".into(),
        function_name: function.into(),
        qualifier: None,
        event_source_arn: arn(queue),
        batch_size: 10,
        maximum_batching_window_in_seconds: 0,
        scaling_config: None,
        filter_criteria: filters.iter().map(|f| (*f).to_owned()).collect(),
        function_response_types: if report {
            vec![FunctionResponseType::ReportBatchItemFailures]
        } else {
            Vec::new()
        },
        state: MappingState::Enabled,
        state_transition_reason: USER_INITIATED.into(),
        last_modified_ms: 0,
    }
}

async fn send(core: &Core, q: &QueueDef, bodies: &[&str]) -> Vec<String> {
    let out = bodies
        .iter()
        .map(|b| OutMessage {
            body: (*b).to_owned(),
            ..OutMessage::default()
        })
        .collect();
    core.queues
        .send(q, out)
        .await
        .expect("send")
        .into_iter()
        .map(|s| s.message_id)
        .collect()
}

#[tokio::test]
async fn messages_matching_no_filter_are_deleted_without_an_invocation() {
    let dir = tempfile::tempdir().expect("tempdir");
    let core = core(dir.path()).await;
    let q = queue(&core, "q", &[]).await;
    send(
        &core,
        &q,
        &[r#"{"kind":"drop"}"#, r#"{"kind":"keep"}"#, "plain text"],
    )
    .await;
    // No function of this name: what passes the filters stays on the queue, in flight.
    let def = mapping("absent", "q", &[r#"{"body":{"kind":["keep"]}}"#], false);
    let filters =
        definition::compile_filters(&def.filter_criteria, core.sources.limits()).expect("filters");
    let batch = poller::collect(&core, &def, &q).await.expect("receive");
    assert_eq!(batch.messages.len(), 3);
    poller::process(&core, &def, &q, &filters, batch).await;
    let stats = core.queues.stats(&q).await.expect("stats");
    assert_eq!((stats.visible, stats.in_flight), (0, 1));
}

#[tokio::test]
async fn a_batch_response_deletes_all_but_the_reported_failures() {
    let dir = tempfile::tempdir().expect("tempdir");
    let core = core(dir.path()).await;
    // Visibility 0: what is not deleted can be received again at once.
    let q = queue(&core, "q", &[("VisibilityTimeout", "0")]).await;
    let ids = send(&core, &q, &["a", "b", "c"]).await;
    let def = mapping("f", "q", &[], true);
    let Batch { messages, .. } = poller::collect(&core, &def, &q).await.expect("receive");
    assert_eq!(messages.len(), 3);
    let response = format!(
        r#"{{"batchItemFailures":[{{"itemIdentifier":"{}"}}]}}"#,
        ids[1]
    );
    let keys: Vec<&str> = messages.iter().map(|m| m.message_id.as_str()).collect();
    let settlement = event::settle(response.as_bytes(), &keys, true);
    poller::settle(&core, &def, &q, &messages, &settlement).await;
    let left = core
        .queues
        .receive(&q, 10, 30, Duration::ZERO)
        .await
        .expect("receive");
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].message_id, ids[1]);
    assert_eq!(left[0].receive_count, 2);
    // A whole-batch failure deletes nothing; a success deletes the rest.
    poller::settle(&core, &def, &q, &left, &Settlement::None).await;
    assert_eq!(core.queues.stats(&q).await.expect("stats").in_flight, 1);
    poller::settle(&core, &def, &q, &left, &Settlement::All).await;
    let stats = core.queues.stats(&q).await.expect("stats");
    assert_eq!((stats.visible, stats.in_flight), (0, 0));
}

#[tokio::test]
async fn a_batching_window_collects_until_the_batch_is_full() {
    let dir = tempfile::tempdir().expect("tempdir");
    let core = core(dir.path()).await;
    let q = queue(&core, "q", &[]).await;
    let bodies: Vec<String> = (0..25).map(|i| i.to_string()).collect();
    let bodies: Vec<&str> = bodies.iter().map(String::as_str).collect();
    send(&core, &q, &bodies).await;
    let def = EventSourceMappingDef {
        batch_size: 22,
        maximum_batching_window_in_seconds: 5,
        ..mapping("f", "q", &[], false)
    };
    let started = std::time::Instant::now();
    let batch = poller::collect(&core, &def, &q).await.expect("receive");
    assert_eq!(batch.messages.len(), 22);
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "full before the window ends"
    );
    // Window 0: what one receive gives.
    let batch = poller::collect(&core, &mapping("f", "q", &[], false), &q)
        .await
        .expect("receive");
    assert_eq!(batch.messages.len(), 3);
}

#[tokio::test]
async fn one_receive_takes_a_batch_per_free_slot_in_queue_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let core = core(dir.path()).await;
    let q = queue(&core, "q", &[]).await;
    let bodies: Vec<String> = (0..25).map(|i| i.to_string()).collect();
    let bodies: Vec<&str> = bodies.iter().map(String::as_str).collect();
    send(&core, &q, &bodies).await;
    let def = EventSourceMappingDef {
        batch_size: 4,
        ..mapping("f", "q", &[], false)
    };
    // Two slots: two batches of four; the rest stays visible.
    let batches = poller::collect_batches(&core, &def, &q, 2)
        .await
        .expect("receive");
    let got: Vec<Vec<&str>> = batches
        .iter()
        .map(|b| b.messages.iter().map(|m| m.body.as_str()).collect())
        .collect();
    assert_eq!(
        got,
        vec![vec!["0", "1", "2", "3"], vec!["4", "5", "6", "7"]]
    );
    let stats = core.queues.stats(&q).await.expect("stats");
    assert_eq!((stats.visible, stats.in_flight), (17, 8));
    // Fewer messages than slots: as many batches as they fill.
    let batches = poller::collect_batches(&core, &def, &q, 10)
        .await
        .expect("receive");
    let sizes: Vec<usize> = batches.iter().map(|b| b.messages.len()).collect();
    assert_eq!(sizes, vec![4, 4, 4, 4, 1]);
}

#[test]
fn slots_grow_under_a_backlog_up_to_the_limit() {
    let slots = poller::Slots::new(5, 12);
    assert_eq!(slots.semaphore.available_permits(), 5);
    slots.grow();
    assert_eq!(slots.semaphore.available_permits(), 10);
    slots.grow();
    slots.grow();
    assert_eq!(slots.semaphore.available_permits(), 12);
    let mapping = mapping("f", "q", &[], false);
    assert_eq!(
        (mapping.concurrency(false), mapping.concurrency_limit(false)),
        (5, definition::DEFAULT_SCALE_LIMIT)
    );
    assert_eq!(
        (mapping.concurrency(true), mapping.concurrency_limit(true)),
        (1, 1)
    );
}

#[tokio::test]
async fn pollers_follow_the_mappings() {
    let dir = tempfile::tempdir().expect("tempdir");
    let core = core(&dir.path().join("data")).await;
    let q = queue(&core, "q", &[]).await;
    function(&core, dir.path(), "f").await;
    // A filter nothing matches: the poller deletes every message without invoking.
    let mut req = new("f", "q");
    req.filter_criteria = vec![r#"{"body":{"never":["x"]}}"#.into()];
    let m = create(&core, R, req).await.expect("create");
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let runner = tokio::spawn(run(core.clone(), stop));
    send(&core, &q, &["1", "2"]).await;
    let drained = async {
        loop {
            let s = core.queues.stats(&q).await.expect("stats");
            if s.visible + s.in_flight == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), drained)
        .await
        .expect("the poller drained the queue");
    // Disabled: the poller stops, messages stay.
    let off = MappingUpdate {
        enabled: Some(false),
        ..MappingUpdate::default()
    };
    update(&core, R, &m.uuid, off).await.expect("disable");
    tokio::time::sleep(Duration::from_millis(200)).await;
    send(&core, &q, &["3"]).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(core.queues.stats(&q).await.expect("stats").visible, 1);
    // Enabled again, then its function deleted: the poller (in a long poll) stops at once and
    // takes no message.
    let on = MappingUpdate {
        enabled: Some(true),
        ..MappingUpdate::default()
    };
    update(&core, R, &m.uuid, on).await.expect("enable");
    tokio::time::timeout(Duration::from_secs(10), async {
        while core.queues.stats(&q).await.expect("stats").visible > 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the poller drained the queue again");
    core.functions
        .delete_function(R, "f")
        .await
        .expect("delete function");
    tokio::time::sleep(Duration::from_millis(200)).await;
    send(&core, &q, &["4"]).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let s = core.queues.stats(&q).await.expect("stats");
    assert_eq!((s.visible, s.in_flight), (1, 0));
    let _stopped = stop_tx.send(true).is_ok();
    tokio::time::timeout(Duration::from_secs(5), runner)
        .await
        .expect("run ends on stop")
        .expect("run");
}

/// A real function on a custom runtime (`provided.al2023`): its `bootstrap`, a Python script
/// with no dependencies, speaks the Runtime API, appends every event it gets to `$OUT`, fails
/// a batch holding a `crash` body, and reports the records whose body is `fail` as failures.
const BOOTSTRAP: &str = r#"#!/usr/bin/python3
import json, os, urllib.request
api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime/invocation/"
while True:
    with urllib.request.urlopen(api + "next") as r:
        rid = r.headers["Lambda-Runtime-Aws-Request-Id"]
        event = json.loads(r.read())
    with open(os.environ["OUT"], "a") as f:
        f.write(json.dumps(event) + "\n")
    records = event["Records"]
    if any(rec["body"] == "crash" for rec in records):
        path, reply = "/error", {"errorMessage": "crash", "errorType": "Crash"}
    else:
        failed = [{"itemIdentifier": rec["messageId"]} for rec in records if rec["body"] == "fail"]
        path, reply = "/response", {"batchItemFailures": failed}
    post = urllib.request.Request(api + rid + path, data=json.dumps(reply).encode(), method="POST")
    urllib.request.urlopen(post).read()
"#;

#[tokio::test]
async fn a_real_function_gets_the_batch_and_its_reported_failures_stay() {
    use std::os::unix::fs::PermissionsExt;
    if !std::path::Path::new("/usr/bin/python3").exists() {
        eprintln!("skipped: no /usr/bin/python3 for the test function's bootstrap");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let code = dir.path().join("code");
    std::fs::create_dir(&code).expect("code dir");
    let bootstrap = code.join("bootstrap");
    std::fs::write(&bootstrap, BOOTSTRAP).expect("bootstrap");
    std::fs::set_permissions(&bootstrap, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let out = dir.path().join("events.jsonl");
    let mut config = crate::config::ServerConfig::new(dir.path().join("data"));
    config.function_user = crate::config::FunctionUser::Current;
    let core = Core::open(
        config,
        crate::clock::Clock::system(),
        Box::new(|_| Ok(Vec::new())),
    )
    .await
    .expect("open");
    let q = queue(&core, "q", &[]).await;
    function(&core, &code, "worker").await;
    let mut def = core.functions.get(R, "worker").expect("function");
    def.runtime = "provided.al2023".into();
    def.handler = "bootstrap".into();
    def.environment
        .insert("OUT".into(), out.display().to_string());
    core.functions.put(def).await.expect("function");

    let mut req = new("worker", "q");
    req.function_response_types = vec!["ReportBatchItemFailures".into()];
    req.filter_criteria = vec![r#"{"body":[{"anything-but":["skip"]}]}"#.into()];
    create(&core, R, req).await.expect("create");
    let sent = send(&core, &q, &["ok1", "fail", "skip", "ok2"]).await;
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let runner = tokio::spawn(run(core.clone(), stop));

    let events = |n: usize| {
        let out = out.clone();
        async move {
            loop {
                let text = std::fs::read_to_string(&out).unwrap_or_default();
                let lines: Vec<serde_json::Value> = text
                    .lines()
                    .map(|l| serde_json::from_str(l).expect("event"))
                    .collect();
                if lines.len() >= n {
                    return lines;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    let settled = |visible: u64, in_flight: u64| {
        let (core, q) = (core.clone(), q.clone());
        async move {
            loop {
                let s = core.queues.stats(&q).await.expect("stats");
                if (s.visible, s.in_flight) == (visible, in_flight) {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    let within = Duration::from_secs(30);
    let got = tokio::time::timeout(within, events(1))
        .await
        .expect("the function was invoked");
    let records = got[0]["Records"].as_array().expect("records");
    let mut bodies: Vec<&str> = records
        .iter()
        .map(|r| r["body"].as_str().expect("body"))
        .collect();
    bodies.sort_unstable();
    assert_eq!(bodies, ["fail", "ok1", "ok2"], "`skip` was filtered out");
    for r in records {
        assert_eq!(r["eventSource"], "aws:sqs");
        assert_eq!(r["eventSourceARN"], arn("q").as_str());
        assert_eq!(r["awsRegion"], R);
        assert_eq!(r["attributes"]["ApproximateReceiveCount"], "1");
        assert!(sent.iter().any(|id| r["messageId"] == id.as_str()));
    }
    // Deleted: ok1, ok2 (succeeded) and skip (filtered); `fail` waits out its visibility.
    tokio::time::timeout(within, settled(0, 1))
        .await
        .expect("all but the reported failure deleted");

    // A function error deletes nothing.
    send(&core, &q, &["crash"]).await;
    tokio::time::timeout(within, events(2))
        .await
        .expect("invoked again");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let s = core.queues.stats(&q).await.expect("stats");
    assert_eq!((s.visible, s.in_flight), (0, 2));

    let _stopped = stop_tx.send(true).is_ok();
    tokio::time::timeout(Duration::from_secs(5), runner)
        .await
        .expect("run ends on stop")
        .expect("run");
}

//! Everything eddy acknowledged survives a power loss: events (and the deliveries they owe),
//! messages and schedule ticks. The same scenario with synchronous commits off loses
//! acknowledged data, so the test can tell a store that syncs from one that does not (a crash
//! test that kills the process cannot: the page cache outlives the process).
//!
//! The store is opened through [`PowerLossDisk`]'s VFS and served over real HTTP; clients put
//! events (matched by a rule whose target is a queue), send messages and move the dev clock
//! (which fires scheduled rules), recording every id and time eddy acknowledged. The power is
//! cut while they run, at a random time or just before a random write or sync of the store's
//! files (which lands inside commits and checkpoints); the clients keep going a little (whatever
//! eddy answers after the cut counts as acknowledged too, and must survive as well); the server
//! is stopped, every file is rolled back to its last sync, and the store is opened again,
//! normally, in a fresh app, to look: the queues and rules, every acknowledged event in the log
//! and either delivered to its queue or still owed, every acknowledged message in its queue, and
//! for every scheduled rule the tick due at the last clock move answered before the cut, with
//! its event.
//!
//! Clock moves answered *after* the cut are checked too: a move whose ticks the store could not
//! record is answered 503, never 200 (it was answered 200 before the scheduler reported it).

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, RandomState};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use eddy_server::clock::{Clock, parse_rfc3339};
use eddy_server::queues::Queues;
use eddy_server::{App, ServerConfig};
use eddy_store::{EmbeddedStore, EmbeddedStoreOptions, ReceiveOptions, Store};
use eddy_testkit::Sandbox;
use eddy_testkit::powerloss::{PowerLossDisk, Reboot};
use serde_json::{Value, json};

const REGION: &str = "us-east-1";
const ACCOUNT: &str = "123456789012";
/// The queue the rule delivers matched events to.
const EVENTS_QUEUE: &str = "matched";
/// The queue clients send messages to.
const DIRECT_QUEUE: &str = "direct";
/// The queue the scheduled rules deliver their events to.
const TICKS_QUEUE: &str = "ticks";
/// Scheduled rules, `rate(1 minute)` each.
const TICK_RULES: usize = 3;
const TICK_MS: i64 = 60_000;
const EVENT_CLIENTS: usize = 3;
const MESSAGE_CLIENTS: usize = 2;
/// How long clients keep going after the power is cut.
const AFTER_CUT: Duration = Duration::from_millis(300);

/// What eddy acknowledged.
#[derive(Default)]
struct Acked {
    events: HashSet<String>,
    messages: HashSet<String>,
    /// The latest time an acknowledged dev-clock move reached: every tick due up to it was
    /// durably recorded, with its event, when the move was answered.
    clock_ms: Option<i64>,
    /// The same, for moves answered before the power was cut.
    clock_before_cut_ms: Option<i64>,
}

/// What a scenario found after the power loss.
#[derive(Debug, Default)]
struct Outcome {
    acked_events: usize,
    acked_messages: usize,
    acked_clock_ms: Option<i64>,
    acked_clock_before_cut_ms: Option<i64>,
    /// Queues and rules (created and acknowledged before the load) the fresh app does not know.
    lost_definitions: Vec<String>,
    /// Acknowledged events not in the event log.
    lost_events: Vec<String>,
    /// Acknowledged events in the log that are neither delivered to their queue nor still owed.
    lost_deliveries: Vec<String>,
    /// Acknowledged messages not in their queue.
    lost_messages: Vec<String>,
    /// Scheduled rules whose ticks acknowledged before the power cut (or their events) are
    /// gone.
    lost_ticks: Vec<String>,
    /// Scheduled rules whose acknowledged ticks are gone, counting clock moves answered after
    /// the cut too.
    lost_ticks_any_ack: Vec<String>,
    reboot: Reboot,
}

impl Outcome {
    fn lost(&self) -> usize {
        self.lost_definitions.len()
            + self.lost_events.len()
            + self.lost_deliveries.len()
            + self.lost_messages.len()
            + self.lost_ticks.len()
    }

    fn summary(&self) -> String {
        format!(
            "acknowledged {} events, {} messages, clock up to {:?} ({:?} before the cut); lost \
             definitions {:?}, {} events, {} deliveries, {} messages, ticks of {:?} ({:?} counting moves answered \
             after the cut); the reboot undid {} writes ({} bytes) and deleted {:?}",
            self.acked_events,
            self.acked_messages,
            self.acked_clock_ms.map(eddy_server::clock::fmt_ms),
            self.acked_clock_before_cut_ms
                .map(eddy_server::clock::fmt_ms),
            self.lost_definitions,
            self.lost_events.len(),
            self.lost_deliveries.len(),
            self.lost_messages.len(),
            self.lost_ticks,
            self.lost_ticks_any_ack,
            self.reboot.undone,
            self.reboot.bytes,
            self.reboot.deleted,
        )
    }
}

fn random(below: u64) -> u64 {
    RandomState::new().hash_one(0u8) % below.max(1)
}

fn queue_arn(name: &str) -> String {
    format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{name}")
}

fn tick_rule(i: usize) -> String {
    format!("tick-{i}")
}

async fn call(eddy: &Sandbox, target: &str, body: Value) -> Value {
    let (status, answer) = eddy.aws_call(target, body).await.expect("call eddy");
    assert_eq!(status, 200, "{target}: {answer}");
    answer
}

/// Queues, a rule that sends matched events to one, and scheduled rules that send theirs to
/// another. Returns the URL of the queue clients send to.
async fn set_up(eddy: &Sandbox) -> String {
    let mut direct = String::new();
    for name in [EVENTS_QUEUE, DIRECT_QUEUE, TICKS_QUEUE] {
        let answer = call(eddy, "AmazonSQS.CreateQueue", json!({"QueueName": name})).await;
        if name == DIRECT_QUEUE {
            direct = answer["QueueUrl"].as_str().expect("QueueUrl").to_owned();
        }
    }
    call(
        eddy,
        "AWSEvents.PutRule",
        json!({"Name": "to-queue", "EventPattern": r#"{"source":["power-loss"]}"#}),
    )
    .await;
    call(
        eddy,
        "AWSEvents.PutTargets",
        json!({"Rule": "to-queue", "Targets": [{"Id": "q", "Arn": queue_arn(EVENTS_QUEUE)}]}),
    )
    .await;
    for i in 0..TICK_RULES {
        call(
            eddy,
            "AWSEvents.PutRule",
            json!({"Name": tick_rule(i), "ScheduleExpression": "rate(1 minute)"}),
        )
        .await;
        call(
            eddy,
            "AWSEvents.PutTargets",
            json!({"Rule": tick_rule(i), "Targets": [{"Id": "q", "Arn": queue_arn(TICKS_QUEUE)}]}),
        )
        .await;
    }
    direct
}

/// Runs the clients until `stop`, recording what eddy acknowledged. Failures (after the power
/// is cut) are expected and not recorded.
async fn drive(
    eddy: Arc<Sandbox>,
    direct: String,
    acked: Arc<Mutex<Acked>>,
    stop: Arc<AtomicBool>,
    disk: Arc<PowerLossDisk>,
) {
    let mut clients = tokio::task::JoinSet::new();
    for c in 0..EVENT_CLIENTS {
        let (eddy, acked, stop) = (eddy.clone(), acked.clone(), stop.clone());
        clients.spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::SeqCst) {
                let entries: Vec<Value> = (0..10)
                    .map(|i| {
                        json!({"Source": "power-loss", "DetailType": "load",
                               "Detail": json!({"client": c, "n": n + i}).to_string()})
                    })
                    .collect();
                n += 10;
                let Ok((200, answer)) = eddy
                    .aws_call("AWSEvents.PutEvents", json!({"Entries": entries}))
                    .await
                else {
                    continue;
                };
                let ids = answer["Entries"].as_array().into_iter().flatten();
                let ids = ids.filter_map(|e| e["EventId"].as_str().map(str::to_owned));
                acked.lock().unwrap().events.extend(ids);
            }
        });
    }
    for c in 0..MESSAGE_CLIENTS {
        let (eddy, acked, stop, url) = (eddy.clone(), acked.clone(), stop.clone(), direct.clone());
        clients.spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::SeqCst) {
                n += 1;
                let body =
                    json!({"QueueUrl": url, "MessageBody": format!("client {c} message {n}")});
                let Ok((200, answer)) = eddy.aws_call("AmazonSQS.SendMessage", body).await else {
                    continue;
                };
                if let Some(id) = answer["MessageId"].as_str() {
                    acked.lock().unwrap().messages.insert(id.to_owned());
                }
            }
        });
    }
    {
        let (eddy, acked, stop, disk) = (eddy.clone(), acked.clone(), stop.clone(), disk.clone());
        clients.spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                let moved = eddy
                    .eddy_post("/_eddy/clock", json!({"advance_seconds": 60}))
                    .await;
                let Ok((200, answer)) = moved else { continue };
                let now = answer["now"].as_str().and_then(parse_rfc3339);
                {
                    let mut acked = acked.lock().unwrap();
                    acked.clock_ms = acked.clock_ms.max(now);
                    // Answered before the power was cut, so its ticks were recorded before.
                    if disk.powered() {
                        acked.clock_before_cut_ms = acked.clock_before_cut_ms.max(now);
                    }
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
    }
    while let Some(done) = clients.join_next().await {
        done.expect("client");
    }
}

/// Reads everything a queue holds (taking every message, visible or not).
async fn drain(store: &dyn Store, queue: &str, far_ms: i64) -> Vec<eddy_store::Message> {
    let mut all = Vec::new();
    loop {
        let opts = ReceiveOptions {
            now_ms: far_ms,
            max: 1000,
            visibility_ms: 24 * 3600 * 1000,
            fifo: false,
            redrive: None,
            retention_ms: 365 * 24 * 3600 * 1000,
        };
        let got = store
            .queue_receive(Queues::key(REGION, queue), opts)
            .await
            .expect("receive");
        if got.is_empty() {
            return all;
        }
        all.extend(got);
    }
}

fn event_id(body: &str) -> Option<String> {
    let v: Value = serde_json::from_str(body).ok()?;
    v["id"].as_str().map(str::to_owned)
}

/// Opens the rolled-back store normally, in a fresh app, and compares it with what was
/// acknowledged.
async fn check(dir: &Path, acked: &Acked, reboot: Reboot) -> Outcome {
    let path = dir.to_owned();
    let store: Arc<dyn Store> = Arc::new(
        tokio::task::spawn_blocking(move || EmbeddedStore::open(&path))
            .await
            .unwrap()
            .expect("reopen the store"),
    );
    // Beyond every time the dev clock reached, so every message is visible.
    let far_ms = acked.clock_ms.unwrap_or(0).max(Clock::system().now_ms()) + 7 * 24 * 3600 * 1000;
    let mut config = ServerConfig::new(dir);
    config.dev = true;
    let app = App::open_with_store(config, Clock::manual(far_ms), store.clone())
        .await
        .expect("a fresh app loads the store");

    let mut lost_definitions = Vec::new();
    for queue in [EVENTS_QUEUE, DIRECT_QUEUE, TICKS_QUEUE] {
        if app.queues.get(REGION, queue).is_none() {
            lost_definitions.push(format!("queue {queue}"));
        }
    }
    let rules = (0..TICK_RULES)
        .map(tick_rule)
        .chain(["to-queue".to_owned()]);
    for rule in rules {
        let known = app
            .catalog
            .read(|defs| defs.rule(REGION, "default", &rule).is_some())
            .await;
        if !known {
            lost_definitions.push(format!("rule {rule}"));
        }
    }

    let mut logged: HashMap<String, Value> = HashMap::new();
    let mut after = 0;
    loop {
        let page = app.events(after, 10_000).await.expect("events");
        let Some(last) = page.last() else { break };
        after = last.seq;
        for e in page {
            logged.insert(e.id, serde_json::from_str(&e.body).expect("event body"));
        }
    }
    let delivered: HashSet<String> = drain(&*store, EVENTS_QUEUE, far_ms)
        .await
        .iter()
        .filter_map(|m| event_id(&m.body))
        .collect();
    // What a restart's delivery engine does first: the leases of the process that lost power
    // died with it (their deadlines are on the store's clock, not the dev clock).
    store.release_leases(far_ms).await.expect("release leases");
    let owed: HashSet<String> = store
        .lease(None, far_ms, 1_000_000, 1000)
        .await
        .expect("lease")
        .into_iter()
        .map(|w| w.event_id)
        .collect();
    let sent: HashSet<String> = drain(&*store, DIRECT_QUEUE, far_ms)
        .await
        .into_iter()
        .map(|m| m.message_id)
        .collect();
    let ticks: HashMap<String, i64> = store.ticks().await.expect("ticks").into_iter().collect();

    let mut outcome = Outcome {
        acked_events: acked.events.len(),
        acked_messages: acked.messages.len(),
        acked_clock_ms: acked.clock_ms,
        acked_clock_before_cut_ms: acked.clock_before_cut_ms,
        lost_definitions,
        reboot,
        ..Outcome::default()
    };
    for id in &acked.events {
        if !logged.contains_key(id) {
            outcome.lost_events.push(id.clone());
        } else if !delivered.contains(id) && !owed.contains(id) {
            outcome.lost_deliveries.push(id.clone());
        }
    }
    for id in &acked.messages {
        if !sent.contains(id) {
            outcome.lost_messages.push(id.clone());
        }
    }
    let lost_ticks = |clock_ms: Option<i64>| {
        let mut lost = Vec::new();
        let Some(clock_ms) = clock_ms else {
            return lost;
        };
        for i in 0..TICK_RULES {
            let rule = tick_rule(i);
            let arn = format!("arn:aws:events:{REGION}:{ACCOUNT}:rule/{rule}");
            // The last tick due at the acknowledged time is less than a period before it.
            let recorded = ticks.get(&format!("rule:{REGION}:default:{rule}")).copied();
            let fired = logged.values().any(|e| {
                e["source"] == "aws.events"
                    && e["resources"][0] == arn.as_str()
                    && e["time"].as_str().and_then(parse_rfc3339) == recorded
            });
            let current = recorded.is_some_and(|t| t > clock_ms - TICK_MS);
            if !(current && fired) {
                lost.push(format!(
                    "{rule} (recorded {:?}, its event logged: {fired})",
                    recorded.map(eddy_server::clock::fmt_ms)
                ));
            }
        }
        lost
    };
    outcome.lost_ticks = lost_ticks(acked.clock_before_cut_ms);
    outcome.lost_ticks_any_ack = lost_ticks(acked.clock_ms);
    outcome
}

/// When the power goes, once the clients run.
#[derive(Debug, Clone, Copy)]
enum Cut {
    /// After this long.
    After(Duration),
    /// Just before this many more writes, truncates or syncs of the store's files reached the
    /// disk: often inside a commit, between its writes and its sync.
    AtOperation(u64),
}

impl Cut {
    fn random_time() -> Self {
        Self::After(Duration::from_millis(300 + random(900)))
    }

    fn random_operation() -> Self {
        Self::AtOperation(400 + random(2000))
    }
}

/// One power loss under load, on a store that syncs its commits or not.
async fn scenario(sync: bool, cut: Cut) -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let disk = PowerLossDisk::register().expect("register the VFS");
    let options = EmbeddedStoreOptions {
        sync,
        vfs: Some(disk.vfs_name().to_owned()),
        ..EmbeddedStoreOptions::default()
    };
    let path = dir.path().to_owned();
    let store: Arc<dyn Store> = Arc::new(
        tokio::task::spawn_blocking(move || EmbeddedStore::open_with(&path, options))
            .await
            .unwrap()
            .expect("open the store through the VFS"),
    );
    let disk = Arc::new(disk);
    let eddy = Arc::new(
        Sandbox::start_on_store(dir.path(), store.clone(), |_| {})
            .await
            .expect("start eddy"),
    );
    let direct = set_up(&eddy).await;

    let acked = Arc::new(Mutex::new(Acked::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let clients = tokio::spawn(drive(
        eddy.clone(),
        direct,
        acked.clone(),
        stop.clone(),
        disk.clone(),
    ));
    match cut {
        Cut::After(after) => {
            tokio::time::sleep(after).await;
            disk.cut_power();
        }
        Cut::AtOperation(ops) => {
            disk.cut_power_after(ops);
            let started = tokio::time::Instant::now();
            while disk.powered() {
                if started.elapsed() > Duration::from_secs(10) {
                    // The load is slower than ever measured: cut now rather than never.
                    disk.cut_power();
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    }
    tokio::time::sleep(AFTER_CUT).await;
    stop.store(true, Ordering::SeqCst);
    tokio::time::timeout(Duration::from_secs(30), clients)
        .await
        .expect("the clients stop")
        .expect("clients");

    let eddy = Arc::into_inner(eddy).expect("no client holds the sandbox");
    eddy.shutdown().await.expect("shut eddy down");
    drop(store);
    // The store's writer thread closes the database once the last handle is gone.
    let reboot = tokio::task::block_in_place(|| disk.reboot(Duration::from_secs(20)))
        .expect("every file closed, and rolled back");
    let acked = std::mem::take(&mut *acked.lock().unwrap());
    check(dir.path(), &acked, reboot).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_write_survives_a_power_loss() {
    for (round, cut) in [
        Cut::random_time(),
        Cut::random_operation(),
        Cut::random_operation(),
    ]
    .into_iter()
    .enumerate()
    {
        let outcome = scenario(true, cut).await;
        eprintln!("round {round}, power cut {cut:?}: {}", outcome.summary());
        assert!(
            outcome.acked_events > 0 && outcome.acked_messages > 0,
            "nothing acknowledged before the power loss: the round proves nothing; {}",
            outcome.summary()
        );
        assert_eq!(
            outcome.lost(),
            0,
            "acknowledged writes lost in a power loss: {}\nevents: {:?}\ndeliveries: {:?}\n\
             messages: {:?}",
            outcome.summary(),
            outcome.lost_events.iter().take(5).collect::<Vec<_>>(),
            outcome.lost_deliveries.iter().take(5).collect::<Vec<_>>(),
            outcome.lost_messages.iter().take(5).collect::<Vec<_>>(),
        );
    }
}

/// A dev-clock move answers once the ticks it fired are durable, so every tick it acknowledged
/// survives, also when the power is cut while (or before) it is answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clock_move_is_answered_only_once_its_ticks_are_durable() {
    let cut = Cut::random_time();
    let outcome = scenario(true, cut).await;
    eprintln!("power cut {cut:?}: {}", outcome.summary());
    assert!(outcome.acked_clock_ms.is_some(), "{}", outcome.summary());
    assert!(
        outcome.lost_ticks_any_ack.is_empty(),
        "acknowledged ticks lost: {}",
        outcome.summary()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_synchronous_commits_a_power_loss_loses_acknowledged_writes() {
    // With `synchronous = OFF` SQLite never syncs, so the power loss takes everything the store
    // wrote; the test must see that (it is what catches a store that forgot to sync).
    let cut = Cut::random_time();
    let outcome = scenario(false, cut).await;
    eprintln!("power cut {cut:?}: {}", outcome.summary());
    assert!(
        outcome.acked_events > 0 && outcome.acked_messages > 0,
        "nothing acknowledged: {}",
        outcome.summary()
    );
    assert!(
        !outcome.lost_events.is_empty() && !outcome.lost_messages.is_empty(),
        "without synchronous commits a power loss must lose acknowledged events and messages: {}",
        outcome.summary()
    );
}

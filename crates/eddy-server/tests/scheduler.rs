//! The scheduler on a manual clock (no sleeping): ticks fire in order at their nominal times,
//! are recorded with their events so a restart never repeats them, and ticks missed while eddy
//! was down follow the schedule's policy.

use std::collections::BTreeMap;
use std::sync::Arc;

use eddy_model::definitions::{RuleDef, RuleState, Tags, TargetDef};
use eddy_server::catalog::Change;
use eddy_server::clock::Clock;
use eddy_server::schedules::{FlexibleTimeWindow, ScheduleDef, ScheduleTarget};
use eddy_server::{App, ServerConfig, scheduler};
use tokio::sync::watch;

/// 2027-01-01T00:00:00Z.
const T0: i64 = 1_798_761_600_000;
const MIN: i64 = 60_000;

struct Running {
    app: Arc<App>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

async fn start(dir: &std::path::Path, at_ms: i64) -> Running {
    let app = App::open_with_clock(ServerConfig::new(dir), Clock::manual(at_ms))
        .await
        .expect("open");
    let (stop, rx) = watch::channel(false);
    let task = scheduler::spawn(app.core().clone(), rx).expect("spawn");
    app.scheduler.sync().await;
    Running { app, stop, task }
}

impl Running {
    /// What `POST /_eddy/clock` does.
    async fn advance(&self, ms: i64) {
        self.app.scheduler.sync().await;
        self.app.clock.advance(ms).expect("advance");
        self.app.scheduler.sync().await;
    }

    /// Stops the scheduler and closes the store.
    async fn stop(self) {
        self.stop.send(true).expect("scheduler listening");
        self.task.await.expect("scheduler task");
        drop(self.app);
        // The store's writer thread finishes the commands queued before the last handle went.
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    /// `(time, resources[0])` of every event in the log, in log order.
    async fn fired(&self) -> Vec<(String, String)> {
        self.app.scheduler.sync().await;
        let events = self.app.events(0, 10_000).await.expect("events");
        events
            .iter()
            .map(|e| {
                let v: serde_json::Value = serde_json::from_str(&e.body).expect("json");
                (
                    v["time"].as_str().unwrap_or_default().to_owned(),
                    v["resources"][0].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    }
}

fn iso(ms: i64) -> String {
    eddy_model::event::format_time(ms)
}

async fn put_rule(app: &App, name: &str, expression: &str, created_ms: i64) {
    let rule = RuleDef {
        region: "us-east-1".into(),
        bus: "default".into(),
        name: name.into(),
        event_pattern: None,
        schedule_expression: Some(expression.into()),
        state: RuleState::Enabled,
        description: None,
        role_arn: None,
        managed_by: None,
        tags: Tags::new(),
        targets: vec![TargetDef {
            id: "t".into(),
            arn: "arn:aws:sqs:us-east-1:123456789012:nowhere".into(),
            role_arn: None,
            input: None,
            input_path: None,
            input_transformer: None,
            retry_policy: None,
            dead_letter_config: None,
            other: BTreeMap::new(),
        }],
        created_ms,
    };
    app.catalog
        .mutate(|_| Ok::<_, eddy_server::core_error::CoreError>(((), vec![Change::PutRule(rule)])))
        .await
        .expect("put rule");
}

async fn put_schedule(app: &App, group: &str, name: &str, expression: &str, now: i64) {
    let def = ScheduleDef {
        region: "us-east-1".into(),
        group: group.into(),
        name: name.into(),
        schedule_expression: expression.into(),
        schedule_expression_timezone: None,
        start_ms: None,
        end_ms: None,
        description: None,
        state: "ENABLED".into(),
        kms_key_arn: None,
        flexible_time_window: FlexibleTimeWindow {
            mode: "OFF".into(),
            maximum_window_in_minutes: None,
        },
        action_after_completion: "NONE".into(),
        target: ScheduleTarget {
            arn: "arn:aws:sqs:us-east-1:123456789012:nowhere".into(),
            role_arn: "arn:aws:iam::123456789012:role/r".into(),
            input: None,
            retry_policy: None,
            dead_letter_config: None,
            event_bridge_parameters: None,
            other: BTreeMap::new(),
        },
        created_ms: now,
        modified_ms: now,
    };
    app.schedules
        .upsert("us-east-1", group, name, |_| {
            Ok::<_, eddy_server::core_error::CoreError>((def, ()))
        })
        .await
        .expect("put schedule");
}

async fn put_group(app: &App, name: &str, policy: &str) {
    let mut tags = Tags::new();
    tags.insert("eddy:missed-ticks".into(), policy.into());
    app.schedules
        .create_group("us-east-1", name, tags)
        .await
        .expect("create group");
}

const RULE: &str = "arn:aws:events:us-east-1:123456789012:rule/every5";

#[tokio::test]
async fn a_rate_rule_fires_each_tick_in_order_at_its_nominal_time() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = start(dir.path(), T0).await;
    put_rule(&s.app, "every5", "rate(5 minutes)", T0).await;
    s.advance(30 * MIN + 1).await;
    let fired = s.fired().await;
    let want: Vec<(String, String)> = (1..=6)
        .map(|k| (iso(T0 + k * 5 * MIN), RULE.to_owned()))
        .collect();
    assert_eq!(fired, want);
    // Nothing more until the next tick; then exactly one.
    s.advance(4 * MIN).await;
    assert_eq!(s.fired().await.len(), 6);
    s.advance(MIN).await;
    assert_eq!(s.fired().await.len(), 7);
    s.stop().await;
}

#[tokio::test]
async fn a_restart_fires_no_recorded_tick_again_and_the_latest_missed_tick_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = start(dir.path(), T0).await;
    put_rule(&s.app, "every5", "rate(5 minutes)", T0).await;
    s.advance(10 * MIN).await;
    assert_eq!(s.fired().await.len(), 2);
    s.stop().await;

    // Back at the same time: nothing is due again.
    let s = start(dir.path(), T0 + 10 * MIN).await;
    assert_eq!(s.fired().await.len(), 2);
    s.stop().await;

    // Down for 50 minutes (ten ticks missed): the most recent one fires, once.
    let s = start(dir.path(), T0 + 60 * MIN + 30_000).await;
    let fired = s.fired().await;
    assert_eq!(fired.len(), 3);
    assert_eq!(fired[2].0, iso(T0 + 60 * MIN));
    s.advance(4 * MIN).await;
    assert_eq!(s.fired().await.len(), 3);
    s.advance(MIN).await;
    assert_eq!(s.fired().await[3].0, iso(T0 + 65 * MIN));
    s.stop().await;
}

#[tokio::test]
async fn missed_ticks_follow_the_group_policy() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = start(dir.path(), T0).await;
    put_group(&s.app, "all", "all").await;
    put_group(&s.app, "skip", "skip").await;
    put_schedule(&s.app, "all", "a", "rate(1 minute)", T0).await;
    put_schedule(&s.app, "skip", "s", "rate(1 minute)", T0).await;
    put_schedule(&s.app, "default", "l", "rate(1 minute)", T0).await;
    // A rate schedule fires at its start (here: its creation), once each.
    assert_eq!(s.fired().await.len(), 3);
    s.stop().await;

    // Down for 3 hours: 180 ticks missed by each.
    let s = start(dir.path(), T0 + 180 * MIN).await;
    let fired = s.fired().await;
    let of = |group: &str| -> Vec<String> {
        fired
            .iter()
            .skip(3)
            .filter(|(_, r)| r.contains(&format!("schedule/{group}/")))
            .map(|(t, _)| t.clone())
            .collect()
    };
    // `all`: the most recent 100, in order.
    let want_all: Vec<String> = (81..=180).map(|k| iso(T0 + k * MIN)).collect();
    assert_eq!(of("all"), want_all);
    assert_eq!(of("skip"), Vec::<String>::new());
    assert_eq!(of("default"), vec![iso(T0 + 180 * MIN)]);
    // After start-up every policy fires every tick again.
    s.advance(MIN).await;
    let fired = s.fired().await;
    assert_eq!(fired.len(), 3 + 100 + 1 + 3);
    s.stop().await;
}

#[tokio::test]
async fn changes_take_effect_immediately() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = start(dir.path(), T0).await;
    // Created on the hour: that tick fires at once.
    put_schedule(&s.app, "default", "x", "cron(0 * * * ? *)", T0).await;
    s.advance(60 * MIN).await;
    assert_eq!(s.fired().await.len(), 2);
    // Replaced by a daily schedule: no more hourly ticks.
    put_schedule(&s.app, "default", "x", "cron(0 0 * * ? *)", T0 + 60 * MIN).await;
    s.advance(60 * MIN).await;
    assert_eq!(s.fired().await.len(), 2);
    assert!(
        s.app
            .schedules
            .delete("us-east-1", "default", "x")
            .await
            .expect("delete")
    );
    s.advance(24 * 60 * MIN).await;
    assert_eq!(s.fired().await.len(), 2);
    s.stop().await;
}

#[tokio::test]
async fn many_schedules_fire_from_a_heap() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = start(dir.path(), T0).await;
    for i in 0..2_000 {
        put_schedule(
            &s.app,
            "default",
            &format!("s{i}"),
            &format!("cron({} * * * ? *)", i % 60),
            T0,
        )
        .await;
    }
    s.advance(60 * MIN - 1).await;
    let fired = s.fired().await;
    assert_eq!(fired.len(), 2_000);
    // In time order.
    assert!(fired.windows(2).all(|w| w[0].0 <= w[1].0));
    s.stop().await;
}

async fn post_clock(app: &Arc<App>, body: &str) -> (u16, serde_json::Value) {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let req = axum::http::Request::post("/_eddy/clock")
        .body(axum::body::Body::from(body.to_owned()))
        .expect("request");
    let res = app.aws_router().oneshot(req).await.expect("infallible");
    let status = res.status().as_u16();
    let bytes = res.into_body().collect().await.expect("body").to_bytes();
    (status, serde_json::from_slice(&bytes).expect("json"))
}

#[tokio::test]
async fn the_clock_endpoint_moves_forward_only_and_only_in_dev_mode() {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = App::open_with_clock(ServerConfig::new(dir.path()), Clock::manual(T0))
        .await
        .expect("open");
    let (status, body) = post_clock(&app, r#"{"advance_seconds": 60}"#).await;
    assert_eq!(status, 403, "{body}");
    drop(app);

    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = ServerConfig::new(dir.path());
    config.dev = true;
    let app = App::open_with_clock(config, Clock::manual(T0))
        .await
        .expect("open");
    let (status, body) = post_clock(&app, r#"{"advance_seconds": 90.5}"#).await;
    assert_eq!(
        (status, body["now"].as_str()),
        (200, Some("2027-01-01T00:01:30.500Z"))
    );
    let (status, body) = post_clock(&app, r#"{"set": "2027-06-01T00:00:00Z"}"#).await;
    assert_eq!(
        (status, body["now"].as_str()),
        (200, Some("2027-06-01T00:00:00.000Z"))
    );
    let (status, body) = post_clock(&app, r#"{"set": "2027-01-01T00:00:00Z"}"#).await;
    assert_eq!(status, 400);
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("never moves backwards"))
    );
    for bad in [
        r#"{"advance_seconds": -1}"#,
        r#"{"set": "soon"}"#,
        "{}",
        "nope",
    ] {
        assert_eq!(post_clock(&app, bad).await.0, 400, "{bad}");
    }
    assert_eq!(app.clock.now_ms(), 1_811_808_000_000);
}

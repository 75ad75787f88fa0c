//! Two apps on one store see each other's changes: every cache of definitions follows the
//! store's change feed rather than its own writes (the seam several nodes sharing one store
//! stand on). Each check writes through one app and reads through the other.

use std::sync::Arc;

use eddy_model::definitions::{BusDef, RuleDef, RuleState, TargetDef};
use eddy_server::bus::PreparedEvent;
use eddy_server::catalog::Change;
use eddy_server::clock::Clock;
use eddy_server::core_error::CoreError;
use eddy_server::queues::QueueDef;
use eddy_server::{App, ServerConfig};
use eddy_store::{EmbeddedStore, Store};

const REGION: &str = "us-east-1";

fn bus(name: &str) -> BusDef {
    BusDef {
        region: REGION.into(),
        name: name.into(),
        description: None,
        event_source_name: None,
        kms_key_identifier: None,
        dead_letter_config: None,
        policy: None,
        tags: Default::default(),
        created_ms: 0,
        modified_ms: 0,
    }
}

fn rule(bus: &str, name: &str, source: &str) -> RuleDef {
    let target: TargetDef = serde_json::from_value(serde_json::json!({
        "Id": "q",
        "Arn": "arn:aws:sqs:us-east-1:000000000000:orders",
    }))
    .unwrap();
    RuleDef {
        region: REGION.into(),
        bus: bus.into(),
        name: name.into(),
        event_pattern: Some(format!(r#"{{"source":["{source}"]}}"#)),
        schedule_expression: None,
        state: RuleState::Enabled,
        description: None,
        role_arn: None,
        managed_by: None,
        tags: Default::default(),
        targets: vec![target],
        created_ms: 0,
    }
}

fn queue(name: &str) -> QueueDef {
    QueueDef {
        region: REGION.into(),
        name: name.into(),
        attributes: Default::default(),
        tags: Default::default(),
        created_ms: 0,
        modified_ms: 0,
    }
}

fn event(bus: &str, source: &str) -> Result<PreparedEvent, eddy_server::bus::EntryError> {
    Ok(PreparedEvent {
        bus: bus.to_owned(),
        source: source.to_owned(),
        detail_type: "t".to_owned(),
        detail: "{}".to_owned(),
        resources: Vec::new(),
        time_ms: None,
    })
}

/// Two apps (each with its own data directory) on one embedded store.
struct Pair {
    _dirs: [tempfile::TempDir; 3],
    store: Arc<dyn Store>,
    a: Arc<App>,
    b: Arc<App>,
}

/// Data directories for the store and two apps, and the store.
fn store() -> ([tempfile::TempDir; 3], Arc<dyn Store>) {
    let dirs = [(); 3].map(|()| tempfile::tempdir().unwrap());
    let store: Arc<dyn Store> = Arc::new(EmbeddedStore::open(dirs[0].path()).unwrap());
    (dirs, store)
}

/// An app with its own data directory on `store`.
async fn open(store: &Arc<dyn Store>, dir: &tempfile::TempDir) -> Arc<App> {
    App::open_with_store(
        ServerConfig::new(dir.path()),
        Clock::system(),
        store.clone(),
    )
    .await
    .unwrap()
}

async fn pair() -> Pair {
    let (dirs, store) = store();
    let a = open(&store, &dirs[1]).await;
    let b = open(&store, &dirs[2]).await;
    Pair {
        _dirs: dirs,
        store,
        a,
        b,
    }
}

/// Waits until `to` reflects every change `from` made.
async fn sync(from: &App, to: &App) {
    to.feed.caught_up(from.feed.version()).await;
}

async fn put_bus_and_rule(app: &App, bus_name: &str, source: &str) {
    let changes = vec![
        Change::PutBus(bus(bus_name)),
        Change::PutRule(rule(bus_name, "r", source)),
    ];
    app.catalog
        .mutate(|_| Ok::<_, CoreError>(((), changes)))
        .await
        .unwrap();
}

#[tokio::test]
async fn rules_written_by_one_app_route_events_put_through_the_other() {
    let p = pair().await;
    put_bus_and_rule(&p.a, "orders", "shop").await;
    sync(&p.a, &p.b).await;

    let snapshot =
        p.b.catalog
            .snapshot(REGION, "orders")
            .expect("bus seen by b");
    assert_eq!(snapshot.rules.len(), 1);
    let before = p.store.counts().await.unwrap().work_items;
    let now = p.b.clock.now_ms();
    let ids =
        p.b.bus
            .put(REGION, vec![event("orders", "shop")], now)
            .await
            .unwrap();
    assert!(ids[0].is_ok(), "{:?}", ids[0].as_ref().err());
    assert_eq!(
        p.store.counts().await.unwrap().work_items,
        before + 1,
        "the event put through b matched the rule written through a"
    );

    // A change of the rule through b reaches a's matcher.
    p.b.catalog
        .mutate(|_| Ok::<_, CoreError>(((), vec![Change::PutRule(rule("orders", "r", "other"))])))
        .await
        .unwrap();
    sync(&p.b, &p.a).await;
    let rule_a =
        p.a.catalog
            .read(|d| d.rule(REGION, "orders", "r").cloned())
            .await;
    assert_eq!(
        rule_a.and_then(|r| r.event_pattern).as_deref(),
        Some(r#"{"source":["other"]}"#)
    );

    // And its deletion.
    p.b.catalog
        .mutate(|_| {
            Ok::<_, CoreError>((
                (),
                vec![Change::DeleteBus {
                    region: REGION.into(),
                    name: "orders".into(),
                }],
            ))
        })
        .await
        .unwrap();
    sync(&p.b, &p.a).await;
    assert!(p.a.catalog.snapshot(REGION, "orders").is_none());
}

#[tokio::test]
async fn registries_follow_each_other() {
    let p = pair().await;
    p.b.queues
        .upsert(REGION, "jobs", |_| Ok::<_, CoreError>((queue("jobs"), ())))
        .await
        .unwrap();
    sync(&p.b, &p.a).await;
    assert!(p.a.queues.get(REGION, "jobs").is_some(), "a sees b's queue");

    p.a.queues.delete(REGION, "jobs").await.unwrap();
    sync(&p.a, &p.b).await;
    assert!(
        p.b.queues.get(REGION, "jobs").is_none(),
        "b sees a's delete"
    );
}

#[tokio::test]
async fn a_reset_empties_every_app() {
    let p = pair().await;
    put_bus_and_rule(&p.a, "orders", "shop").await;
    p.a.queues
        .upsert(REGION, "jobs", |_| Ok::<_, CoreError>((queue("jobs"), ())))
        .await
        .unwrap();
    sync(&p.a, &p.b).await;
    assert!(p.b.queues.get(REGION, "jobs").is_some());

    let version = p.store.reset().await.unwrap();
    p.a.feed.caught_up(version).await;
    p.b.feed.caught_up(version).await;
    for app in [&p.a, &p.b] {
        assert!(app.queues.get(REGION, "jobs").is_none());
        assert!(app.catalog.snapshot(REGION, "orders").is_none());
    }
}

/// An app whose follower falls more than the feed's capacity behind reloads everything from
/// the store and ends up with exactly what the store holds. `b` lives on a runtime that is not
/// driven while `a` writes, so its follower cannot keep up.
#[test]
fn a_follower_that_lags_reloads_from_the_store() {
    let writer = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let stalled = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (dirs, store) = store();
    let a = writer.block_on(open(&store, &dirs[1]));
    let b = stalled.block_on(open(&store, &dirs[2]));
    writer.block_on(async {
        put_bus_and_rule(&a, "orders", "shop").await;
        for n in 0..1_500 {
            let name = format!("q{n}");
            a.queues
                .upsert(REGION, &name, |_| Ok::<_, CoreError>((queue(&name), ())))
                .await
                .unwrap();
        }
        for n in (0..1_500).step_by(2) {
            a.queues.delete(REGION, &format!("q{n}")).await.unwrap();
        }
    });
    let version = a.feed.version();
    stalled.block_on(b.feed.caught_up(version));
    assert_eq!(b.queues.list(REGION).len(), 750);
    assert!(b.queues.get(REGION, "q1").is_some());
    assert!(b.queues.get(REGION, "q0").is_none());
    assert!(b.catalog.snapshot(REGION, "orders").is_some());
}

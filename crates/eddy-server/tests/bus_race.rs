//! An event the bus acknowledged is stored, even when its bus is deleted while the PutEvents
//! that carried it is being matched (the bus was looked up twice, and an event whose bus
//! vanished in between was acknowledged and dropped).

use std::collections::HashSet;
use std::sync::Arc;

use eddy_model::definitions::BusDef;
use eddy_server::bus::PreparedEvent;
use eddy_server::catalog::Change;
use eddy_server::core_error::CoreError;
use eddy_server::{App, ServerConfig};

fn event(bus: &str, n: usize) -> Result<PreparedEvent, eddy_server::bus::EntryError> {
    Ok(PreparedEvent {
        bus: bus.to_owned(),
        source: "race".to_owned(),
        detail_type: "t".to_owned(),
        detail: format!(r#"{{"n":{n},"pad":"{}"}}"#, "x".repeat(200)),
        resources: Vec::new(),
        time_ms: None,
    })
}

#[test]
fn acknowledged_events_survive_a_concurrent_bus_deletion() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = ServerConfig::new(dir.path());
    config.sync = false;
    let app: Arc<App> = rt.block_on(App::open(config)).unwrap();
    let acked = rt.block_on(async {
        let mut acked = HashSet::new();
        for round in 0..150 {
            let bus = BusDef {
                region: "us-east-1".into(),
                name: "racy".into(),
                description: None,
                event_source_name: None,
                kms_key_identifier: None,
                dead_letter_config: None,
                policy: None,
                tags: Default::default(),
                created_ms: 0,
                modified_ms: 0,
            };
            app.catalog
                .mutate(|_| Ok::<_, CoreError>(((), vec![Change::PutBus(bus)])))
                .await
                .unwrap();
            let put = {
                let app = app.clone();
                tokio::spawn(async move {
                    let events = (0..200).map(|n| event("racy", round * 1000 + n)).collect();
                    let now = app.clock.now_ms();
                    app.bus.put("us-east-1", events, now).await.unwrap()
                })
            };
            let delete = {
                let app = app.clone();
                tokio::spawn(async move {
                    tokio::task::yield_now().await;
                    app.catalog
                        .mutate(|_| {
                            Ok::<_, CoreError>((
                                (),
                                vec![Change::DeleteBus {
                                    region: "us-east-1".into(),
                                    name: "racy".into(),
                                }],
                            ))
                        })
                        .await
                        .unwrap();
                })
            };
            for id in put.await.unwrap().into_iter().flatten() {
                acked.insert(id);
            }
            delete.await.unwrap();
        }
        acked
    });
    let stored: HashSet<String> = rt.block_on(async {
        let mut ids = HashSet::new();
        let mut after = 0;
        loop {
            let page = app.events(after, 10_000).await.unwrap();
            let Some(last) = page.last() else { break };
            after = last.seq;
            ids.extend(page.into_iter().map(|e| e.id));
        }
        ids
    });
    let lost: Vec<_> = acked.difference(&stored).collect();
    assert!(
        !acked.is_empty(),
        "no event was acknowledged: the test proves nothing"
    );
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged events are not in the log",
        lost.len(),
        acked.len()
    );
}

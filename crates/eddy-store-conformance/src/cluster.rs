//! The nodes sharing a store ([`ClusterStore`](eddy_store::ClusterStore)): heartbeats recorded
//! on the store's clock, read back by [`nodes`](eddy_store::ClusterStore::nodes); a store alone
//! on its database leads every role, and leads nothing once it went away. (Several nodes on one
//! store are the PostgreSQL backend's own checks, in its test file.)

use std::time::Duration;

use eddy_store::NodeInfo;

use crate::{Backend, Harness, T0};

fn node(name: &str, started_ms: i64) -> NodeInfo {
    NodeInfo {
        name: name.into(),
        address: "127.0.0.1:4566".into(),
        version: "0.1.0".into(),
        started_ms,
        // Ignored: the store writes its own clock.
        last_seen_ms: 7,
    }
}

/// A heartbeat records the node with `last_seen_ms` by the store's clock (never the caller's
/// value); a later one replaces it, keeping one entry per name.
pub async fn a_heartbeat_is_recorded_on_the_stores_clock<B: Backend>() {
    let h = Harness::<B>::open().await;
    let s = h.store();
    assert!(s.nodes().await.expect("nodes").is_empty());
    s.heartbeat(node("n1", 1_000)).await.expect("heartbeat");
    let mut expected = node("n1", 1_000);
    expected.last_seen_ms = T0;
    assert_eq!(s.nodes().await.expect("nodes"), [expected.clone()]);
    h.clock().advance(5_000);
    let mut again = node("n1", 1_000);
    again.address = "10.0.0.1:4566".into();
    s.heartbeat(again).await.expect("heartbeat");
    expected.last_seen_ms = T0 + 5_000;
    expected.address = "10.0.0.1:4566".into();
    assert_eq!(s.nodes().await.expect("nodes"), [expected]);
}

/// A store with no other node leads any role it is asked about, within a few seconds, and
/// every receiver of a role agrees. A store that goes away (a crash) leads nothing: receivers
/// that outlive it read `false`; the store opened again leads.
pub async fn a_lone_store_leads<B: Backend>() {
    let mut h = Harness::<B>::open().await;
    let s = h.store();
    let mut kept = Vec::new();
    for role in ["scheduler", "janitor"] {
        let mut leads = s.leadership(role);
        tokio::time::timeout(Duration::from_secs(10), leads.wait_for(|l| *l))
            .await
            .expect("the lone store leads within 10 s")
            .expect("leadership is followed");
        assert!(*s.leadership(role).borrow(), "a second receiver agrees");
        kept.push(leads);
    }
    h.restart().await;
    for leads in &kept {
        assert!(!*leads.borrow(), "a store that went away still leads");
    }
    let mut leads = h.store().leadership("scheduler");
    tokio::time::timeout(Duration::from_secs(10), leads.wait_for(|l| *l))
        .await
        .expect("the store opened again leads within 10 s")
        .expect("leadership is followed");
}

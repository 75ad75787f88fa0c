//! This node among the nodes sharing a store: its heartbeats in the store's node registry, and
//! the cluster as this node sees it (who else is alive, whether this node fires the schedules),
//! for `/_eddy/health`. One node on the embedded store is a cluster of one.

use std::sync::Arc;
use std::time::Duration;

use eddy_store::NodeInfo;

use crate::Core;
use crate::core_error::CoreError;

/// How often a node records that it is alive.
pub const HEARTBEAT: Duration = Duration::from_secs(5);

/// A node not seen for this long (three heartbeats) is taken for gone.
pub const LIVE_MS: i64 = 15_000;

/// One node as this node sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeView {
    pub name: String,
    pub address: String,
    pub version: String,
    pub started_ms: i64,
    /// How long before this node's own latest heartbeat it was last seen (0 for this node).
    pub seen_ago_ms: i64,
    /// Seen within [`LIVE_MS`].
    pub live: bool,
}

/// The cluster as this node sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterView {
    /// This node's name.
    pub node: String,
    /// Whether this node fires the schedules (one node of the cluster does).
    pub fires_schedules: bool,
    /// Every node recorded, by name.
    pub nodes: Vec<NodeView>,
}

impl Core {
    /// This node's entry in the registry.
    fn node_info(&self, started_ms: i64) -> NodeInfo {
        NodeInfo {
            name: self.config.node.clone(),
            address: self.config.aws_endpoint.clone().unwrap_or_default(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            started_ms,
            last_seen_ms: 0,
        }
    }

    /// The cluster as this node sees it, from the store's registry.
    pub async fn cluster(&self) -> Result<ClusterView, CoreError> {
        let nodes = self.store.nodes().await?;
        // Ages are read on the store's clock: against this node's own latest heartbeat.
        let now = nodes
            .iter()
            .find(|n| n.name == self.config.node)
            .map_or_else(
                || nodes.iter().map(|n| n.last_seen_ms).max().unwrap_or(0),
                |n| n.last_seen_ms,
            );
        let nodes = nodes
            .into_iter()
            .map(|n| {
                let seen_ago_ms = (now - n.last_seen_ms).max(0);
                NodeView {
                    name: n.name,
                    address: n.address,
                    version: n.version,
                    started_ms: n.started_ms,
                    seen_ago_ms,
                    live: seen_ago_ms < LIVE_MS,
                }
            })
            .collect();
        Ok(ClusterView {
            node: self.config.node.clone(),
            fires_schedules: self.scheduler.leads(),
            nodes,
        })
    }
}

/// Records this node's heartbeat every [`HEARTBEAT`] until `stop`.
pub async fn heartbeats(core: Arc<Core>, mut stop: tokio::sync::watch::Receiver<bool>) {
    let started_ms = core.clock.now_ms();
    let mut tick = tokio::time::interval(HEARTBEAT);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        match core.store.heartbeat(core.node_info(started_ms)).await {
            Ok(()) if failing => {
                failing = false;
                tracing::info!("heartbeats recorded again");
            }
            Ok(()) => {}
            Err(e) if !failing => {
                failing = true;
                tracing::warn!(error = %e, "cannot record this node's heartbeat");
            }
            Err(_) => {}
        }
    }
}

//! Archives and replays on the durable event log (EventBridge `CreateArchive` … `CancelReplay`).
//!
//! (Being built: see issue 4, item 7.)

use std::sync::Arc;

use eddy_store::Store;

/// Archive and replay definitions and the replays in progress.
pub struct Archives {
    #[allow(dead_code)]
    store: Arc<dyn Store>,
}

impl Archives {
    pub async fn load(store: Arc<dyn Store>) -> anyhow::Result<Self> {
        Ok(Self { store })
    }

    /// Forgets everything (after the store was reset).
    pub fn clear(&self) {}
}

//! Use cases shared by every transport: each one checks its input, drives one transaction and
//! returns domain values or an [`Error`](crate::error::Error).

pub mod datasources;
pub mod executions;
pub mod lineage;
pub mod lineage_index;
pub mod paging;
pub mod publisher;
pub mod tables;
pub mod tasks;
pub mod workflows;

use std::sync::Arc;

use lineage_index::LineageIndex;

use crate::error::{Reason, Result};
use crate::storage::Store;

/// Whether a task that writes a lower layer than it reads is refused or only warned about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LayerRules {
    /// Accepted, with a LAYER_ORDER warning on the task.
    #[default]
    Warn,
    /// Refused with FAILED_PRECONDITION, reason LAYER_ORDER.
    Enforce,
}

/// The catalog of tables and tasks, and the lineage they form.
#[derive(Debug, Clone)]
pub struct Catalog {
    store: Store,
    lineage: Arc<LineageIndex>,
    layer_rules: LayerRules,
}

impl Catalog {
    /// A catalog on `store`. Its lineage index loads on the first [`Catalog::refresh_lineage`].
    pub fn new(store: Store, layer_rules: LayerRules) -> Self {
        Self { store, lineage: Arc::default(), layer_rules }
    }

    /// Brings the lineage index up to date with what every replica wrote.
    pub async fn refresh_lineage(&self) -> Result<()> {
        self.lineage.refresh(&self.store).await
    }

    /// Whether the lineage index has been loaded, so that lineage questions and cycle checks can
    /// be answered (readiness waits for it).
    pub fn lineage_loaded(&self) -> bool {
        self.lineage.is_loaded()
    }
}

/// How often a transaction that collided with a concurrent one is tried in all.
const ATTEMPTS: u32 = 6;

/// Runs `operation` again when it lost a race that a plain retry resolves (a deadlock or a busy
/// database). Each run is a fresh transaction.
async fn with_retries<T, F, Fut>(mut operation: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let mut attempt = 1;
    loop {
        match operation().await {
            Err(e) if e.reason == Reason::TransactionConflict && attempt < ATTEMPTS => {
                // A random pause, growing with each attempt, so the colliding requests spread out
                // instead of colliding again.
                let pause_ms = fastrand::u64(1..=5 << attempt);
                tokio::time::sleep(std::time::Duration::from_millis(pause_ms)).await;
                attempt += 1;
            }
            other => return other,
        }
    }
}

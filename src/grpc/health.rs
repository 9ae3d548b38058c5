//! Keeps `grpc.health.v1` truthful: SERVING only while the database answers.

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tonic_health::server::HealthReporter;

use super::{HEALTH_PROBE_TIMEOUT, set_health};
use crate::storage::Store;

/// Probes the database every `interval` until `shutdown`, flipping health when the answer
/// changes. Starts NOT_SERVING until the first probe succeeds.
pub async fn watch_database(
    store: Store,
    reporter: HealthReporter,
    interval: Duration,
    shutdown: CancellationToken,
) {
    let mut serving = None;
    loop {
        let up = matches!(tokio::time::timeout(HEALTH_PROBE_TIMEOUT, store.ping()).await, Ok(Ok(())));
        if serving != Some(up) {
            if up {
                tracing::info!("database answers: SERVING");
            } else {
                tracing::warn!("database does not answer: NOT_SERVING");
            }
            set_health(&reporter, up).await;
            serving = Some(up);
        }
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = tokio::time::sleep(interval) => {}
        }
    }
    set_health(&reporter, false).await;
}

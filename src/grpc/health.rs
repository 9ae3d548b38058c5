//! Keeps `grpc.health.v1` truthful: the catalog's services are SERVING only while the database
//! answers; `dataportal.v1.WorkflowService` only while DolphinScheduler answers too.

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tonic_health::server::HealthReporter;

use super::{HEALTH_PROBE_TIMEOUT, WORKFLOW_SERVICE_NAME, set_health};
use crate::app::Catalog;
use crate::scheduler::dolphin::DolphinClient;
use crate::storage::Store;

/// How often readiness is checked while the lineage index loads.
const LOADING_PROBE_INTERVAL: Duration = Duration::from_millis(20);

/// Probes the database every `interval` until `shutdown`, flipping health when the answer
/// changes. Starts NOT_SERVING until the first probe succeeds and the lineage index is loaded
/// (migrations are applied before the server starts), so that a replica taken into a load
/// balancer answers every call.
pub async fn watch_database(
    store: Store,
    catalog: Catalog,
    reporter: HealthReporter,
    interval: Duration,
    shutdown: CancellationToken,
) {
    let mut serving = None;
    loop {
        let answers = matches!(tokio::time::timeout(HEALTH_PROBE_TIMEOUT, store.ping()).await, Ok(Ok(())));
        let loaded = catalog.lineage_loaded();
        let up = answers && loaded;
        if serving != Some(up) {
            if up {
                tracing::info!("database answers and the lineage index is loaded: SERVING");
            } else if answers {
                tracing::info!("the lineage index is loading: NOT_SERVING");
            } else {
                tracing::warn!("database does not answer: NOT_SERVING");
            }
            set_health(&reporter, up).await;
            serving = Some(up);
        }
        // The index loads moments after start: look again soon rather than a whole interval later.
        let pause = if answers && !loaded { interval.min(LOADING_PROBE_INTERVAL) } else { interval };
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = tokio::time::sleep(pause) => {}
        }
    }
    set_health(&reporter, false).await;
}

/// Probes DolphinScheduler every `interval` until `shutdown` (when it is configured; otherwise
/// the workflow service stays NOT_SERVING: every call of it would fail with DS_NOT_CONFIGURED).
pub async fn watch_dolphin(
    client: Option<DolphinClient>,
    reporter: HealthReporter,
    interval: Duration,
    shutdown: CancellationToken,
) {
    let not_serving = tonic_health::ServingStatus::NotServing;
    reporter.set_service_status(WORKFLOW_SERVICE_NAME, not_serving).await;
    let Some(client) = client else { return };
    let mut serving = None;
    loop {
        let up = matches!(tokio::time::timeout(HEALTH_PROBE_TIMEOUT, client.ping()).await, Ok(Ok(())));
        if serving != Some(up) {
            if up {
                tracing::info!("DolphinScheduler answers: workflow service SERVING");
                reporter
                    .set_service_status(WORKFLOW_SERVICE_NAME, tonic_health::ServingStatus::Serving)
                    .await;
            } else {
                tracing::warn!("DolphinScheduler does not answer: workflow service NOT_SERVING");
                reporter.set_service_status(WORKFLOW_SERVICE_NAME, not_serving).await;
            }
            serving = Some(up);
        }
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = tokio::time::sleep(interval) => {}
        }
    }
    reporter.set_service_status(WORKFLOW_SERVICE_NAME, not_serving).await;
}

//! The routes that are not RPCs: DolphinScheduler's webhook, which takes whatever its HTTP alert
//! plugin sends (any method, any content type, the content nested as a JSON string), and the
//! Prometheus metrics.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use http::{HeaderMap, StatusCode, header};
use serde_json::json;

use super::error::RestError;
use crate::app::executions::Executions;
use crate::error::Error;

/// Where DolphinScheduler's HTTP alert plugin posts (its `url` parameter).
pub const WEBHOOK_PATH: &str = "/api/v1/callbacks/dolphinscheduler/webhook";

/// The webhook and `/metrics`.
pub fn routes(executions: Executions) -> Router {
    Router::new()
        .route(WEBHOOK_PATH, any(receive_alert))
        .with_state(executions)
        .route("/metrics", get(metrics))
}

/// Stores the instances an alert names and answers 200 at once; the reads that confirm them
/// happen later. 3.3+ counts anything but 200 as a failed delivery, and nothing is redelivered,
/// so only a report that could not be stored (the database is down) gets another status.
async fn receive_alert(
    State(executions): State<Executions>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let secret = headers.get(crate::grpc::SECRET_HEADER).and_then(|v| v.to_str().ok());
    if let Err(e) = executions.check_secret(secret) {
        return failure(e);
    }
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    match executions.report_alert(&body, content_type, query.as_deref()).await {
        Ok(alert) => {
            let instances = alert.instance_ids();
            let kind = format!("{:?}", alert.kind).to_ascii_uppercase();
            super::json_response(
                StatusCode::OK,
                &json!({ "kind": kind, "workflowInstanceIds": instances, "note": alert.note }),
            )
        }
        Err(e) => failure(e),
    }
}

/// The error as the gateway sends every error: the gRPC status as JSON, with its details.
fn failure(error: Error) -> Response {
    let status = tonic::Status::from(error);
    RestError::from_status(super::descriptor_pool(), &status).into_response()
}

async fn metrics() -> Response {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], crate::metrics::render())
        .into_response()
}

//! HTTP/JSON access to the gRPC API, in the manner of grpc-gateway, generated from the
//! descriptors: every RPC with a `google.api.http` annotation is served from one route table,
//! with no route written by hand. A request becomes the method's input message (path variables,
//! body and query parameters, in proto3 JSON), which is called in-process through the same
//! `tonic` routes the gRPC server serves; the answer is the output message in proto3 JSON, a
//! server-streaming method's answer is newline-delimited JSON, and an error is
//! `{"code", "message", "details"}` with the HTTP status grpc-gateway maps its code to.
//!
//! Besides the API: `GET /openapi.json` (an OpenAPI 3.0 document generated from the same table),
//! `GET /healthz` (the process runs) and `GET /readyz` (the database answers and the lineage index
//! is loaded).

mod call;
mod error;
mod gateway;
mod openapi;
mod request;
mod template;
pub mod webhook;

use std::sync::LazyLock;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::response::Response;
use axum::routing::get;
use http::StatusCode;
use prost_reflect::DescriptorPool;
use serde_json::{Value, json};
use tonic::service::Routes;

use crate::app::Catalog;
use crate::storage::Store;
use gateway::{Gateway, RouteTable};

/// How long `/readyz` waits for the database before reporting it down.
const READY_PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// One `google.api.http` binding: an HTTP method and path template bound to an RPC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpBinding {
    /// The HTTP method: `GET`, `POST`, `PUT`, `PATCH`, `DELETE`, or a custom rule's kind.
    pub verb: String,
    /// The path template as annotated, such as `/api/v1/tables/{table.id}`.
    pub path: String,
    /// The RPC's full name, such as `dataportal.v1.TableService.GetTable`.
    pub method: String,
    /// The annotation's body rule: empty (no body), `*` (the whole request) or a field name.
    pub body: String,
    /// Whether the RPC streams its answer (served as newline-delimited JSON).
    pub server_streaming: bool,
}

/// The API's descriptors, decoded once.
fn descriptor_pool() -> &'static DescriptorPool {
    static POOL: LazyLock<DescriptorPool> = LazyLock::new(|| {
        DescriptorPool::decode(crate::proto::FILE_DESCRIPTOR_SET)
            .expect("the compiled-in descriptors are valid")
    });
    &POOL
}

/// The route table of every annotated RPC, built once.
fn route_table() -> &'static RouteTable {
    static TABLE: LazyLock<RouteTable> = LazyLock::new(|| {
        RouteTable::from_pool(descriptor_pool())
            .unwrap_or_else(|e| panic!("the compiled-in http annotations: {e}"))
    });
    &TABLE
}

/// Every HTTP binding of the API, in the order of the descriptors.
pub fn http_rules() -> Vec<HttpBinding> {
    route_table()
        .routes()
        .iter()
        .map(|route| HttpBinding {
            verb: route.http_method.to_string(),
            path: route.template.source().to_owned(),
            method: route.method.full_name().to_owned(),
            body: route.body.rule().to_owned(),
            server_streaming: route.method.is_server_streaming(),
        })
        .collect()
}

/// The REST server: the gateway (as the fallback, so that other routes can be merged in),
/// `GET /openapi.json`, `GET /healthz` and `GET /readyz`.
pub fn router(grpc: Routes, store: Store, catalog: Catalog) -> Router {
    let gateway = Gateway::new(route_table(), descriptor_pool(), grpc);
    let openapi = Bytes::from(openapi::document(route_table()).to_string());
    Router::new()
        .route(
            "/openapi.json",
            get(move || {
                let openapi = openapi.clone();
                async move { bytes_response(StatusCode::OK, "application/json", Body::from(openapi)) }
            }),
        )
        .route("/healthz", get(|| async { json_response(StatusCode::OK, &json!({"status": "SERVING"})) }))
        .route("/readyz", get(move || ready(store.clone(), catalog.clone())))
        .fallback(move |request: Request| gateway.clone().handle(request))
}

/// 200 while the database answers and the lineage index is loaded, 503 with the reason otherwise.
async fn ready(store: Store, catalog: Catalog) -> Response {
    if !catalog.lineage_loaded() {
        return json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            &json!({"status": "NOT_SERVING", "error": "the lineage index is loading"}),
        );
    }
    match tokio::time::timeout(READY_PROBE_TIMEOUT, store.ping()).await {
        Ok(Ok(())) => json_response(StatusCode::OK, &json!({"status": "SERVING"})),
        Ok(Err(e)) => json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            &json!({"status": "NOT_SERVING", "error": e.to_string()}),
        ),
        Err(_) => json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            &json!({"status": "NOT_SERVING", "error": "the database did not answer in time"}),
        ),
    }
}

/// A JSON answer.
fn json_response(status: StatusCode, body: &Value) -> Response {
    bytes_response(status, "application/json", Body::from(body.to_string()))
}

fn bytes_response(status: StatusCode, content_type: &'static str, body: Body) -> Response {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static(content_type));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_annotated_method_is_bound() {
        let rules = http_rules();
        for service in descriptor_pool().services() {
            for method in service.methods() {
                let annotated =
                    method.options().extensions().any(|(ext, _)| ext.full_name() == "google.api.http");
                let bound = rules.iter().any(|rule| rule.method == method.full_name());
                assert_eq!(annotated, bound, "{}", method.full_name());
            }
        }
        let get_table = rules.iter().filter(|r| r.method == "dataportal.v1.TableService.GetTable").count();
        assert_eq!(get_table, 2, "additional bindings are bindings too");
        assert!(
            rules
                .iter()
                .any(|r| r.verb == "PATCH" && r.path == "/api/v1/tables/{table.id}" && r.body == "table")
        );
    }
}

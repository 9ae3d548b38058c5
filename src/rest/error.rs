//! The one shape of every REST error: `{"code", "message", "details"}` as grpc-gateway sends it,
//! with the HTTP status grpc-gateway maps each gRPC code to.

use axum::response::{IntoResponse, Response};
use http::StatusCode;
use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage};
use serde_json::{Value, json};
use tonic::Code;

/// `@type` prefix of the details, as `google.protobuf.Any` names types.
const TYPE_URL_PREFIX: &str = "type.googleapis.com/";

/// A failed REST call: the HTTP status, the gRPC code and message, and `google.rpc` details
/// already in their JSON form.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RestError {
    pub(crate) http_status: StatusCode,
    pub(crate) code: Code,
    pub(crate) message: String,
    pub(crate) details: Vec<Value>,
}

impl RestError {
    /// An error of the shim itself, without details.
    pub(crate) fn new(http_status: StatusCode, code: Code, message: impl Into<String>) -> Self {
        RestError { http_status, code, message: message.into(), details: Vec::new() }
    }

    /// A request the shim itself refuses before calling the service: INVALID_ARGUMENT with a
    /// `google.rpc.BadRequest` naming the field.
    pub(crate) fn bad_request(field: &str, description: impl Into<String>) -> Self {
        let description = description.into();
        RestError {
            http_status: StatusCode::BAD_REQUEST,
            code: Code::InvalidArgument,
            message: format!("{field}: {description}"),
            details: vec![json!({
                "@type": format!("{TYPE_URL_PREFIX}google.rpc.BadRequest"),
                "fieldViolations": [{"field": field, "description": description}],
            })],
        }
    }

    /// A path no binding matches.
    pub(crate) fn no_route(path: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, Code::NotFound, format!("no API method is bound to {path}"))
    }

    /// A path that is bound, but not for this HTTP method.
    pub(crate) fn method_not_allowed(method: &http::Method, path: &str) -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            Code::Unimplemented,
            format!("{method} is not bound to {path}"),
        )
    }

    /// A failure of the shim itself (an answer it cannot read): INTERNAL.
    pub(crate) fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, Code::Internal, message)
    }

    /// The status a gRPC call ended with; its details (an encoded `google.rpc.Status`) are
    /// decoded with the API's descriptors.
    pub(crate) fn from_status(pool: &DescriptorPool, status: &tonic::Status) -> Self {
        RestError {
            http_status: http_status(status.code()),
            code: status.code(),
            message: status.message().to_owned(),
            details: details_json(pool, status.details()),
        }
    }

    /// The JSON body.
    pub(crate) fn to_json(&self) -> Value {
        json!({"code": self.code as i32, "message": self.message, "details": self.details})
    }
}

impl IntoResponse for RestError {
    fn into_response(self) -> Response {
        super::json_response(self.http_status, &self.to_json())
    }
}

/// The HTTP status of a gRPC code, as grpc-gateway's `HTTPStatusFromCode` maps it.
pub(crate) fn http_status(code: Code) -> StatusCode {
    match code {
        Code::Ok => StatusCode::OK,
        // 499 has no name in `http`: nginx's "client closed request", which grpc-gateway uses.
        Code::Cancelled => StatusCode::from_u16(499).unwrap_or(StatusCode::BAD_REQUEST),
        Code::Unknown | Code::Internal | Code::DataLoss => StatusCode::INTERNAL_SERVER_ERROR,
        Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => StatusCode::BAD_REQUEST,
        Code::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
        Code::NotFound => StatusCode::NOT_FOUND,
        Code::AlreadyExists | Code::Aborted => StatusCode::CONFLICT,
        Code::PermissionDenied => StatusCode::FORBIDDEN,
        Code::Unauthenticated => StatusCode::UNAUTHORIZED,
        Code::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
        Code::Unimplemented => StatusCode::NOT_IMPLEMENTED,
        Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
    }
}

/// Each `google.protobuf.Any` of an encoded `google.rpc.Status` as proto3 JSON with its `@type`;
/// a type the descriptors do not know keeps its bytes, base64-encoded, as `value`.
fn details_json(pool: &DescriptorPool, encoded: &[u8]) -> Vec<Value> {
    if encoded.is_empty() {
        return Vec::new();
    }
    let Ok(status) = tonic_types::pb::Status::decode(encoded) else {
        return Vec::new();
    };
    status
        .details
        .into_iter()
        .map(|any| {
            let type_name = any.type_url.rsplit('/').next().unwrap_or_default();
            let decoded = pool
                .get_message_by_name(type_name)
                .and_then(|descriptor| DynamicMessage::decode(descriptor, any.value.as_slice()).ok())
                .and_then(|message| serde_json::to_value(&message).ok());
            match decoded {
                Some(Value::Object(mut fields)) => {
                    fields.insert("@type".to_owned(), Value::String(any.type_url));
                    Value::Object(fields)
                }
                _ => {
                    use base64::Engine as _;
                    let value = base64::engine::general_purpose::STANDARD.encode(&any.value);
                    json!({"@type": any.type_url, "value": value})
                }
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use tonic_types::{ErrorDetails, StatusExt};

    use super::*;

    #[test]
    fn http_statuses_follow_grpc_gateway() {
        let expected = [
            (Code::Ok, 200),
            (Code::Cancelled, 499),
            (Code::Unknown, 500),
            (Code::InvalidArgument, 400),
            (Code::DeadlineExceeded, 504),
            (Code::NotFound, 404),
            (Code::AlreadyExists, 409),
            (Code::PermissionDenied, 403),
            (Code::Unauthenticated, 401),
            (Code::ResourceExhausted, 429),
            (Code::FailedPrecondition, 400),
            (Code::Aborted, 409),
            (Code::OutOfRange, 400),
            (Code::Unimplemented, 501),
            (Code::Internal, 500),
            (Code::Unavailable, 503),
            (Code::DataLoss, 500),
        ];
        for (code, status) in expected {
            assert_eq!(http_status(code).as_u16(), status, "{code:?}");
        }
    }

    #[test]
    fn status_details_become_typed_json() {
        let pool = super::super::descriptor_pool();
        let mut details = ErrorDetails::new();
        details.set_error_info("TABLE_NAME_TAKEN", "dataportal", [("name".to_owned(), "ods_a".to_owned())]);
        details.add_bad_request_violation("table.name", "taken");
        let status = tonic::Status::with_error_details(Code::AlreadyExists, "taken", details);
        let error = RestError::from_status(pool, &status);
        assert_eq!(error.http_status, StatusCode::CONFLICT);
        let body = error.to_json();
        assert_eq!(body["code"], 6);
        assert_eq!(body["message"], "taken");
        let info = body["details"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["@type"].as_str().unwrap().ends_with("ErrorInfo"))
            .unwrap();
        assert_eq!(info["reason"], "TABLE_NAME_TAKEN");
        assert_eq!(info["domain"], "dataportal");
        assert_eq!(info["metadata"]["name"], "ods_a");
        let bad = body["details"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["@type"].as_str().unwrap().ends_with("BadRequest"))
            .unwrap();
        assert_eq!(bad["fieldViolations"][0]["field"], "table.name");
    }

    #[test]
    fn shim_errors_name_the_field() {
        let error = RestError::bad_request("page_size", "not an integer");
        assert_eq!(error.http_status, StatusCode::BAD_REQUEST);
        let body = error.to_json();
        assert_eq!(body["code"], 3);
        assert_eq!(body["details"][0]["@type"], "type.googleapis.com/google.rpc.BadRequest");
        assert_eq!(body["details"][0]["fieldViolations"][0]["field"], "page_size");
    }
}

//! The route table, read from the `google.api.http` option of each method in the descriptors,
//! and the handler that serves any request matching it by calling the gRPC method in-process.

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use http::{Method, StatusCode};
use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage, FieldDescriptor, MethodDescriptor, Value};
use tonic::Code;
use tonic::service::Routes;

use super::error::RestError;
use super::template::{PathMatch, PathTemplate};
use super::{call, request};

/// Largest request body accepted, the same as the gRPC server's largest message.
const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// The extension of `google.protobuf.MethodOptions` that carries a `google.api.HttpRule`.
const HTTP_RULE_EXTENSION: &str = "google.api.http";

/// What of the request the HTTP body carries.
#[derive(Debug, Clone)]
pub(crate) enum BodyRule {
    /// Nothing: every field not in the path comes from the query.
    Empty,
    /// The whole input message (`body: "*"`), but for the fields in the path.
    Whole,
    /// One field of the input message; the others come from the path and the query.
    Field(FieldDescriptor),
}

impl BodyRule {
    /// The rule as the annotation spells it.
    pub(crate) fn rule(&self) -> &str {
        match self {
            BodyRule::Empty => "",
            BodyRule::Whole => "*",
            BodyRule::Field(field) => field.name(),
        }
    }
}

/// One binding of an RPC to an HTTP method and path.
#[derive(Debug, Clone)]
pub(crate) struct Route {
    pub(crate) http_method: Method,
    pub(crate) template: PathTemplate,
    pub(crate) method: MethodDescriptor,
    pub(crate) body: BodyRule,
    /// The output field sent as the answer instead of the whole output (`response_body`).
    pub(crate) response_body: Option<FieldDescriptor>,
    /// 0 for the rule itself, 1 and on for its `additional_bindings`.
    pub(crate) binding_index: usize,
}

/// Every binding of every annotated method.
#[derive(Debug)]
pub(crate) struct RouteTable {
    routes: Vec<Route>,
}

impl RouteTable {
    /// Reads the bindings of every method of every service in `pool`.
    pub(crate) fn from_pool(pool: &DescriptorPool) -> Result<Self, String> {
        let extension = pool
            .get_extension_by_name(HTTP_RULE_EXTENSION)
            .ok_or("google/api/annotations.proto is not among the descriptors")?;
        let mut routes = Vec::new();
        for service in pool.services() {
            for method in service.methods() {
                let options = method.options();
                if !options.has_extension(&extension) {
                    continue;
                }
                let fail = |why: String| format!("{}: {why}", method.full_name());
                if method.is_client_streaming() {
                    return Err(fail("client streaming cannot be served over HTTP/JSON".into()));
                }
                let Value::Message(rule) = options.get_extension(&extension).into_owned() else {
                    return Err(fail("google.api.http is not a message".into()));
                };
                routes.push(route(&method, &rule, 0).map_err(fail)?);
                if let Some(Value::List(more)) = rule.get_field_by_name("additional_bindings").as_deref() {
                    for (i, binding) in more.iter().enumerate() {
                        let Value::Message(binding) = binding else { continue };
                        routes.push(route(&method, binding, i + 1).map_err(fail)?);
                    }
                }
            }
        }
        Ok(RouteTable { routes })
    }

    /// The bindings, in the order of the descriptors.
    pub(crate) fn routes(&self) -> &[Route] {
        &self.routes
    }

    /// The most specific binding of `path` for `method`; 404 when no binding has the path,
    /// 405 when none has it for this method.
    fn find(&self, method: &Method, path: &str) -> Result<(&Route, PathMatch), RestError> {
        let mut path_known = false;
        let mut best: Option<(&Route, PathMatch)> = None;
        for route in &self.routes {
            let Some(matched) = route.template.matches(path) else { continue };
            path_known = true;
            if route.http_method != *method {
                continue;
            }
            if best.as_ref().is_none_or(|(_, b)| matched.specificity > b.specificity) {
                best = Some((route, matched));
            }
        }
        match best {
            Some(found) => Ok(found),
            None if path_known => Err(RestError::method_not_allowed(method, path)),
            None => Err(RestError::no_route(path)),
        }
    }
}

/// One `google.api.HttpRule` (the rule itself or one of its additional bindings) as a route.
fn route(method: &MethodDescriptor, rule: &DynamicMessage, binding_index: usize) -> Result<Route, String> {
    let text = |name: &str| {
        rule.get_field_by_name(name).and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
    };
    let mut pattern = None;
    for (field, http_method) in [
        ("get", Method::GET),
        ("put", Method::PUT),
        ("post", Method::POST),
        ("delete", Method::DELETE),
        ("patch", Method::PATCH),
    ] {
        if rule.has_field_by_name(field) {
            pattern = Some((http_method, text(field)));
        }
    }
    if rule.has_field_by_name("custom")
        && let Some(Value::Message(custom)) = rule.get_field_by_name("custom").as_deref()
    {
        let kind =
            custom.get_field_by_name("kind").and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
        let path =
            custom.get_field_by_name("path").and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
        let http_method =
            Method::from_bytes(kind.as_bytes()).map_err(|_| format!("bad custom method {kind:?}"))?;
        pattern = Some((http_method, path));
    }
    let (http_method, path) = pattern.ok_or("an http rule without a pattern")?;
    let template = PathTemplate::parse(&path)?;
    let input = method.input();
    for field_path in template.field_paths() {
        let fail = |why: &str| format!("{path}: variable {}: {why}", field_path.join("."));
        let bound =
            request::leaf_fields(&input, field_path.iter().map(String::as_str)).map_err(|why| fail(&why))?;
        if bound.leaf.is_list() {
            return Err(fail("a repeated field cannot be a path variable"));
        }
    }
    let body = match text("body").as_str() {
        "" => BodyRule::Empty,
        "*" => BodyRule::Whole,
        name => BodyRule::Field(input.get_field_by_name(name).ok_or(format!("no body field {name:?}"))?),
    };
    let response_body = match text("response_body").as_str() {
        "" => None,
        name => {
            Some(method.output().get_field_by_name(name).ok_or(format!("no response_body field {name:?}"))?)
        }
    };
    Ok(Route { http_method, template, method: method.clone(), body, response_body, binding_index })
}

/// Serves any request by the route table.
#[derive(Clone)]
pub(crate) struct Gateway {
    table: &'static RouteTable,
    pool: &'static DescriptorPool,
    grpc: Routes,
}

impl Gateway {
    /// A gateway calling the services of `grpc`.
    pub(crate) fn new(table: &'static RouteTable, pool: &'static DescriptorPool, grpc: Routes) -> Self {
        Gateway { table, pool, grpc }
    }

    /// Answers one request: the method's answer, or an error as JSON.
    pub(crate) async fn handle(self, request: Request) -> Response {
        match self.serve(request).await {
            Ok(response) => response,
            Err(error) => error.into_response(),
        }
    }

    async fn serve(self, request: Request) -> Result<Response, RestError> {
        let (parts, body) = request.into_parts();
        let (route, matched) = self.table.find(&parts.method, parts.uri.path())?;
        let body = axum::body::to_bytes(body, MAX_BODY_BYTES).await.map_err(|e| {
            let too_large =
                std::error::Error::source(&e).is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
            if too_large {
                RestError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    Code::ResourceExhausted,
                    format!("the body is larger than {MAX_BODY_BYTES} bytes"),
                )
            } else {
                RestError::new(
                    StatusCode::BAD_REQUEST,
                    Code::InvalidArgument,
                    format!("the body could not be read: {e}"),
                )
            }
        })?;
        let input = request::input_message(route, matched.bindings, parts.uri.query(), &body)?;
        let started = std::time::Instant::now();
        let answer = call::call(self.grpc, self.pool, route, &parts.headers, input.encode_to_vec()).await;
        // Counted like the gRPC server counts its calls, the transport told apart.
        let method = format!("/{}/{}", route.method.parent_service().full_name(), route.method.name());
        let code = format!("{:?}", answer.as_ref().map_or_else(|e| e.code, |_| Code::Ok));
        let labels = [("method", method.as_str()), ("transport", "rest")];
        crate::metrics::count("dataportal_rpc_requests_total", &[labels[0], labels[1], ("code", &code)], 1);
        crate::metrics::observe("dataportal_rpc_duration_seconds", &labels, started.elapsed());
        answer
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> RouteTable {
        RouteTable::from_pool(super::super::descriptor_pool()).unwrap()
    }

    #[test]
    fn routes_come_from_the_annotations() {
        let table = table();
        let (route, matched) = table.find(&Method::PATCH, "/api/v1/tables/7").unwrap();
        assert_eq!(route.method.full_name(), "dataportal.v1.TableService.UpdateTable");
        assert_eq!(route.body.rule(), "table");
        assert_eq!(matched.bindings, vec![(vec!["table".to_owned(), "id".to_owned()], "7".to_owned())]);
        let (route, _) = table.find(&Method::GET, "/api/v1/tables/by-name/ods_user").unwrap();
        assert_eq!((route.method.name(), route.binding_index), ("GetTable", 1));
        let (route, _) = table.find(&Method::POST, "/api/v1/lineage:analyzeSql").unwrap();
        assert_eq!((route.method.name(), route.body.rule()), ("AnalyzeSql", "*"));
    }

    #[test]
    fn unknown_paths_and_methods_are_told_apart() {
        let table = table();
        let missing = table.find(&Method::GET, "/api/v1/nothing").unwrap_err();
        assert_eq!((missing.http_status, missing.code), (StatusCode::NOT_FOUND, Code::NotFound));
        assert!(missing.message.contains("/api/v1/nothing"));
        let wrong = table.find(&Method::PUT, "/api/v1/tables").unwrap_err();
        assert_eq!((wrong.http_status, wrong.code), (StatusCode::METHOD_NOT_ALLOWED, Code::Unimplemented));
    }
}

//! The REST (HTTP/JSON) gateway as an HTTP client sees it: every `google.api.http` binding
//! reaches its RPC, round trips go through REST alone, errors are grpc-gateway's JSON, and
//! `/openapi.json` describes every binding.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp};

crate::on_both_backends!(
    every_binding_reaches_its_method,
    tables_round_trip_through_rest,
    the_portal_design_task_and_its_lineage_through_rest,
    errors_are_json_with_the_grpc_gateway_statuses,
    openapi_describes_every_binding,
    health_readiness_and_request_ids,
    a_server_stream_is_newline_delimited_json,
);

/// An HTTP answer: its status, its `content-type`, and its body as JSON (`Null` when the body
/// is not JSON).
#[derive(Debug)]
struct Answer {
    status: u16,
    content_type: String,
    json: Value,
}

async fn send(app: &TestApp, method: &str, path: &str, body: Option<&str>) -> Answer {
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("an HTTP method");
    let mut request = reqwest::Client::new().request(method, format!("{}{path}", app.rest_url()));
    if let Some(body) = body {
        request = request.header("content-type", "application/json").body(body.to_owned());
    }
    let response = request.send().await.expect("the REST server answers");
    let status = response.status().as_u16();
    let content_type =
        response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let bytes = response.bytes().await.expect("a body");
    Answer { status, content_type, json: serde_json::from_slice(&bytes).unwrap_or(Value::Null) }
}

async fn get(app: &TestApp, path: &str) -> Answer {
    send(app, "GET", path, None).await
}

async fn post(app: &TestApp, path: &str, body: &Value) -> Answer {
    send(app, "POST", path, Some(&body.to_string())).await
}

/// The `@type`d detail of an error whose type name ends with `suffix`.
fn detail<'a>(error: &'a Value, suffix: &str) -> Option<&'a Value> {
    error["details"].as_array()?.iter().find(|d| d["@type"].as_str().is_some_and(|t| t.ends_with(suffix)))
}

/// The ErrorInfo reason of an error answer.
fn reason(answer: &Answer) -> &str {
    let info =
        detail(&answer.json, "google.rpc.ErrorInfo").unwrap_or_else(|| panic!("ErrorInfo in {answer:?}"));
    assert_eq!(info["domain"], "dataportal");
    info["reason"].as_str().unwrap_or_default()
}

/// The fields a BadRequest detail names.
fn violations(answer: &Answer) -> Vec<String> {
    detail(&answer.json, "google.rpc.BadRequest")
        .and_then(|d| d["fieldViolations"].as_array())
        .map(|v| v.iter().map(|v| v["field"].as_str().unwrap_or_default().to_owned()).collect())
        .unwrap_or_default()
}

/// A path template with every variable set to `1` (an id, or a name that does not exist).
fn filled(template: &str) -> String {
    let mut out = String::new();
    let mut in_variable = false;
    for c in template.chars() {
        match c {
            '{' => {
                in_variable = true;
                out.push('1');
            }
            '}' => in_variable = false,
            _ if !in_variable => out.push(c),
            _ => {}
        }
    }
    out
}

/// A path template in OpenAPI form: `{field=pattern}` becomes `{field}`.
fn openapi_form(template: &str) -> String {
    let mut out = String::new();
    let mut in_pattern = false;
    for c in template.chars() {
        match c {
            '=' if out.rfind('{') > out.rfind('}') => in_pattern = true,
            '}' => {
                in_pattern = false;
                out.push(c);
            }
            _ if !in_pattern => out.push(c),
            _ => {}
        }
    }
    out
}

async fn every_binding_reaches_its_method(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let rules = dataportal::rest::http_rules();
    assert!(rules.len() >= 40, "every RPC of the API is bound: {}", rules.len());
    let client = reqwest::Client::new();
    for rule in rules {
        let url = format!("{}{}", app.rest_url(), filled(&rule.path));
        let method = reqwest::Method::from_bytes(rule.verb.as_bytes()).unwrap();
        let mut request = client.request(method, &url).timeout(Duration::from_secs(30));
        if !rule.body.is_empty() {
            request = request.header("content-type", "application/json").body("{}");
        }
        let response = request.send().await.unwrap_or_else(|e| panic!("{} {url}: {e}", rule.verb));
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let what = format!("{} {} ({})", rule.verb, rule.path, rule.method);
        if rule.server_streaming && status == 200 {
            // The stream is open (a routing or UNIMPLEMENTED error would have been JSON): enough.
            assert_eq!(content_type, "application/x-ndjson", "{what}");
            continue;
        }
        let body: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap_or(Value::Null);
        assert!(content_type.starts_with("application/json"), "{what}: {content_type}");
        if (200..300).contains(&status) {
            assert!(body.is_object(), "{what}: {body}");
            continue;
        }
        assert_ne!(body["code"], 12, "{what} is not implemented: {body}");
        assert!(status != 405 && status != 501, "{what}: {status} {body}");
        let from_the_service = detail(&body, "google.rpc.ErrorInfo")
            .is_some_and(|info| info["domain"] == "dataportal")
            || detail(&body, "google.rpc.BadRequest").is_some();
        assert!(from_the_service, "{what} did not reach the service: {status} {body}");
    }
    app.stop().await;
}

fn ods_user() -> Value {
    json!({
        "name": "dw.ods_user",
        "description": "Users as the app stores them",
        "owner": "alice",
        "fields": [
            {"name": "id", "type": "bigint", "primaryKey": true},
            {"name": "email", "type": "varchar(255)", "nullable": true, "comment": "login"},
        ],
    })
}

async fn tables_round_trip_through_rest(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let created = post(&app, "/api/v1/tables", &ods_user()).await;
    assert_eq!(created.status, 200, "{created:?}");
    let table = &created.json["table"];
    let id = table["id"].as_str().expect("int64 ids are JSON strings").to_owned();
    assert_eq!(table["layer"], "LAYER_ODS", "enums are names; the layer comes from the prefix");
    assert_eq!(table["database"], "dw");
    assert_eq!(table["fields"][0]["primaryKey"], true, "JSON names");
    assert_eq!(table["fields"][1]["position"], 2);
    assert!(table["createTime"].as_str().is_some_and(|t| t.ends_with('Z')), "timestamps are RFC 3339");

    let by_id = get(&app, &format!("/api/v1/tables/{id}")).await;
    assert_eq!(by_id.status, 200);
    assert_eq!(by_id.json["table"], *table);
    let by_name = get(&app, "/api/v1/tables/by-name/dw.ods_user").await;
    assert_eq!(by_name.json["table"]["id"], id.as_str());

    let order =
        json!({"name": "dw.ods_order", "owner": "alice", "fields": [{"name": "id", "type": "bigint"}]});
    assert_eq!(post(&app, "/api/v1/tables", &order).await.status, 200);
    let dim = json!({"name": "dim_city", "owner": "bob"});
    assert_eq!(post(&app, "/api/v1/tables", &dim).await.status, 200);

    let first = get(&app, "/api/v1/tables?name_contains=ods_&owner=alice&layer=LAYER_ODS&page_size=1").await;
    assert_eq!(first.status, 200, "{first:?}");
    assert_eq!(first.json["tables"].as_array().unwrap().len(), 1);
    assert_eq!(first.json["totalSize"], 2);
    assert!(first.json["tables"][0].get("fields").is_none(), "lists are BASIC by default");
    let token = first.json["nextPageToken"].as_str().expect("a next page");
    let token: String = url::form_urlencoded::byte_serialize(token.as_bytes()).collect();
    let second = get(
        &app,
        &format!("/api/v1/tables?nameContains=ods_&owner=alice&layer=1&pageSize=1&page_token={token}"),
    )
    .await;
    assert_eq!(second.status, 200, "{second:?}");
    let names: Vec<&Value> = [&first, &second].iter().map(|page| &page.json["tables"][0]["name"]).collect();
    assert_eq!(names, [&json!("dw.ods_user"), &json!("dw.ods_order")]);
    assert!(second.json.get("nextPageToken").is_none(), "the last page has no token");
    let full = get(&app, "/api/v1/tables?view=TABLE_VIEW_FULL&name_contains=ods_user").await;
    assert_eq!(full.json["tables"][0]["fields"].as_array().unwrap().len(), 2);

    let etag = table["etag"].as_str().unwrap();
    let patch = json!({"description": "Registered users", "owner": "not-applied", "etag": etag});
    let updated = send(
        &app,
        "PATCH",
        &format!("/api/v1/tables/{id}?update_mask=description"),
        Some(&patch.to_string()),
    )
    .await;
    assert_eq!(updated.status, 200, "{updated:?}");
    assert_eq!(updated.json["table"]["description"], "Registered users");
    assert_eq!(updated.json["table"]["owner"], "alice", "only the masked field changes");
    assert_ne!(updated.json["table"]["etag"], etag);
    let stale = send(
        &app,
        "PATCH",
        &format!("/api/v1/tables/{id}?update_mask=description"),
        Some(&patch.to_string()),
    )
    .await;
    assert_eq!((stale.status, &stale.json["code"]), (409, &json!(10)), "{stale:?}");
    assert_eq!(reason(&stale), "ETAG_MISMATCH");

    let deleted = send(&app, "DELETE", &format!("/api/v1/tables/{id}"), None).await;
    assert_eq!((deleted.status, &deleted.json), (200, &json!({})));
    let gone = get(&app, &format!("/api/v1/tables/{id}")).await;
    assert_eq!(gone.status, 404);
    assert_eq!(reason(&gone), "TABLE_NOT_FOUND");
    app.stop().await;
}

async fn the_portal_design_task_and_its_lineage_through_rest(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    // The portal design's task, in proto3 JSON: the enums by their value names, the tables it
    // names registered on the way (`register_missing_tables` is a query parameter, as the body
    // is the task alone).
    let task = json!({
        "name": "load_dwd_user",
        "sql": "insert into dwd_user select * from ods_user",
        "task_type": "TASK_TYPE_BATCH",
        "engine": "ENGINE_DOLPHIN",
        "schedule": "0 3 * * *",
        "inputs": ["ods_user"],
        "outputs": ["dwd_user"],
    });
    let refused = post(&app, "/api/v1/tasks", &task).await;
    assert_eq!(refused.status, 404, "{refused:?}");
    assert_eq!(reason(&refused), "TABLE_NOT_FOUND");
    let created = post(&app, "/api/v1/tasks?register_missing_tables=true", &task).await;
    assert_eq!(created.status, 200, "{created:?}");
    let created = &created.json["task"];
    assert_eq!(created["taskType"], "TASK_TYPE_BATCH");
    assert_eq!(created["engine"], "ENGINE_DOLPHIN");
    assert_eq!(created["sql"], "insert into dwd_user select * from ods_user");
    assert_eq!(created["inputs"], json!(["ods_user"]));
    assert_eq!(created["priority"], "PRIORITY_MEDIUM");
    let id = created["id"].as_str().unwrap();
    let by_name = get(&app, "/api/v1/tasks/by-name/load_dwd_user").await;
    assert_eq!(by_name.json["task"]["id"], id);
    let dwd = get(&app, "/api/v1/tables/by-name/dwd_user").await;
    assert_eq!(dwd.json["table"]["layer"], "LAYER_DWD", "registered from its prefix");

    let graph = get(&app, "/api/v1/lineage").await;
    assert_eq!(graph.status, 200, "{graph:?}");
    let mut nodes: Vec<&str> =
        graph.json["nodes"].as_array().unwrap().iter().filter_map(|n| n["name"].as_str()).collect();
    nodes.sort();
    assert_eq!(nodes, ["dwd_user", "ods_user"]);
    let edge = &graph.json["edges"][0];
    assert_eq!(
        (&edge["source"], &edge["target"], &edge["task"]),
        (&json!("ods_user"), &json!("dwd_user"), &json!("load_dwd_user"))
    );
    let sliced = get(&app, "/api/v1/lineage?layer=LAYER_DWD").await;
    assert_eq!(sliced.json["nodes"].as_array().unwrap().len(), 1);

    let downstream = get(&app, "/api/v1/lineage/downstream?start.table=ods_user&all_depths=true").await;
    assert_eq!(downstream.status, 200, "{downstream:?}");
    let reached = downstream.json["nodes"].as_array().unwrap().iter().find(|n| n["name"] == "dwd_user");
    assert_eq!(reached.map(|n| &n["distance"]), Some(&json!(1)), "{}", downstream.json);
    let analyzed = post(
        &app,
        "/api/v1/lineage:analyzeSql",
        &json!({"sql": "insert into dwd_a select * from ods_a join dim_b using (id)"}),
    )
    .await;
    assert_eq!(analyzed.json, json!({"inputs": ["dim_b", "ods_a"], "outputs": ["dwd_a"]}));
    app.stop().await;
}

async fn errors_are_json_with_the_grpc_gateway_statuses(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    assert_eq!(post(&app, "/api/v1/tables", &ods_user()).await.status, 200);

    let duplicate = post(&app, "/api/v1/tables", &ods_user()).await;
    assert_eq!((duplicate.status, &duplicate.json["code"]), (409, &json!(6)), "{duplicate:?}");
    assert_eq!(reason(&duplicate), "TABLE_NAME_TAKEN");
    assert!(duplicate.content_type.starts_with("application/json"));

    let invalid = post(&app, "/api/v1/tables", &json!({"name": "ODS_User"})).await;
    assert_eq!((invalid.status, &invalid.json["code"]), (400, &json!(3)), "{invalid:?}");
    assert_eq!(violations(&invalid), ["table.name"]);

    let unknown_id = get(&app, "/api/v1/tables/987654").await;
    assert_eq!((unknown_id.status, &unknown_id.json["code"]), (404, &json!(5)));
    assert_eq!(reason(&unknown_id), "TABLE_NOT_FOUND");

    let malformed = send(&app, "POST", "/api/v1/tables", Some("{\"name\": ")).await;
    assert_eq!((malformed.status, &malformed.json["code"]), (400, &json!(3)), "{malformed:?}");
    assert_eq!(violations(&malformed), ["table"]);

    let unknown_field = post(&app, "/api/v1/tables", &json!({"name": "ods_x", "colour": "blue"})).await;
    assert_eq!(unknown_field.status, 400, "{unknown_field:?}");
    assert_eq!(violations(&unknown_field), ["table.colour"]);

    let wrong_type =
        post(&app, "/api/v1/tables", &json!({"name": "ods_x", "fields": [{"name": "a", "position": "one"}]}))
            .await;
    assert_eq!(wrong_type.status, 400, "{wrong_type:?}");
    assert_eq!(violations(&wrong_type), ["table.fields[0].position"]);

    let bad_query = get(&app, "/api/v1/tables?page_size=many").await;
    assert_eq!((bad_query.status, &bad_query.json["code"]), (400, &json!(3)));
    assert_eq!(violations(&bad_query), ["page_size"]);
    let bad_enum = get(&app, "/api/v1/tables?layer=GOLD").await;
    assert_eq!(violations(&bad_enum), ["layer"]);
    let unknown_parameter = get(&app, "/api/v1/tables?colour=blue").await;
    assert_eq!(violations(&unknown_parameter), ["colour"]);
    let bad_path = get(&app, "/api/v1/tables/abc").await;
    assert_eq!((bad_path.status, violations(&bad_path)), (400, vec!["id".to_owned()]));

    let no_route = get(&app, "/api/v1/nothing/here").await;
    assert_eq!((no_route.status, &no_route.json["code"]), (404, &json!(5)));
    assert!(no_route.json["message"].as_str().unwrap().contains("/api/v1/nothing/here"));
    let wrong_verb = send(&app, "PUT", "/api/v1/tables", Some("{}")).await;
    assert_eq!((wrong_verb.status, &wrong_verb.json["code"]), (405, &json!(12)), "{wrong_verb:?}");
    app.stop().await;
}

async fn openapi_describes_every_binding(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let answer = get(&app, "/openapi.json").await;
    assert_eq!(answer.status, 200);
    let doc = answer.json;
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.0.")), "{}", doc["openapi"]);

    let expected: BTreeSet<(String, String)> = dataportal::rest::http_rules()
        .iter()
        .map(|rule| (rule.verb.to_ascii_lowercase(), openapi_form(&rule.path)))
        .collect();
    let mut described = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("a path item") {
            assert!(operation["operationId"].as_str().is_some_and(|id| id.contains('_')), "{method} {path}");
            assert!(
                operation["responses"]["200"].is_object() && operation["responses"]["default"].is_object()
            );
            described.insert((method.clone(), path.clone()));
        }
    }
    assert_eq!(described, expected);

    let schemas = doc["components"]["schemas"].as_object().expect("components.schemas");
    let mut refs = Vec::new();
    collect_refs(&doc, &mut refs);
    assert!(refs.len() > 50, "{}", refs.len());
    for reference in refs {
        let name = reference.strip_prefix("#/components/schemas/").unwrap_or_else(|| panic!("{reference}"));
        assert!(schemas.contains_key(name), "{reference} resolves");
    }
    app.stop().await;
}

fn collect_refs(value: &Value, refs: &mut Vec<String>) {
    match value {
        Value::Object(fields) => {
            for (key, inner) in fields {
                match (key.as_str(), inner) {
                    ("$ref", Value::String(reference)) => refs.push(reference.clone()),
                    _ => collect_refs(inner, refs),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_refs(item, refs)),
        _ => {}
    }
}

async fn health_readiness_and_request_ids(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let health = get(&app, "/healthz").await;
    assert_eq!((health.status, &health.json), (200, &json!({"status": "SERVING"})));
    // Ready once the lineage index has loaded, moments after start.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let mut ready = get(&app, "/readyz").await;
    while ready.status != 200 && std::time::Instant::now() < deadline {
        assert_eq!(ready.json["status"], json!("NOT_SERVING"), "{}", ready.json);
        tokio::time::sleep(Duration::from_millis(10)).await;
        ready = get(&app, "/readyz").await;
    }
    assert_eq!((ready.status, &ready.json["status"]), (200, &json!("SERVING")));

    let response = reqwest::Client::new()
        .get(format!("{}/api/v1/tables", app.rest_url()))
        .header("x-request-id", "rest-request-7")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "rest-request-7", "the request id comes back");
    let generated = reqwest::get(format!("{}/healthz", app.rest_url())).await.unwrap();
    assert!(generated.headers().get("x-request-id").is_some(), "one is made when none is sent");
    app.stop().await;
}

async fn a_server_stream_is_newline_delimited_json(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let task = json!({
        "name": "load_dwd_user",
        "sql": "insert into dwd_user select * from ods_user",
        "inputs": ["ods_user"],
        "outputs": ["dwd_user"],
    });
    let created = post(&app, "/api/v1/tasks?register_missing_tables=true", &task).await;
    let task_id = created.json["task"]["id"].as_str().expect("a task").to_owned();

    let mut watch = reqwest::Client::new()
        .get(format!("{}/api/v1/executions:watch?task_id={task_id}", app.rest_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(watch.status(), 200);
    assert_eq!(watch.headers()["content-type"], "application/x-ndjson");

    let report = json!({
        "task_id": task_id,
        "status": "SUCCESS",
        "start_time": "2025-10-17T03:00:00",
        "end_time": "2025-10-17T03:04:00",
        "rows_output": 15890,
    });
    let reported = post(&app, "/api/v1/tasks/callback", &report).await;
    assert_eq!(reported.status, 200, "{reported:?}");

    // Lines arrive as the runs change; the first whole one is the run just reported.
    let mut received = Vec::new();
    let line = loop {
        if let Some(end) = received.iter().position(|b| *b == b'\n') {
            break serde_json::from_slice::<Value>(&received[..end]).expect("a JSON line");
        }
        let chunk = tokio::time::timeout(Duration::from_secs(10), watch.chunk())
            .await
            .expect("a line within 10 s")
            .unwrap()
            .expect("the stream stays open");
        received.extend_from_slice(&chunk);
    };
    let execution = &line["result"]["execution"];
    assert_eq!(execution["taskId"], task_id.as_str(), "{line}");
    drop(watch);
    app.stop().await;
}

//! The HTTP side: counting and faults, the context path, form/query binding, authentication and the
//! route table of each family (paths from `Family::names`, contract §4).

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use serde_json::{Value, json};

use crate::family::Family;
use crate::state::{DefinitionForm, MAX_TIMEOUT, Model, Page, Release, RunOptions, StartForm};
use crate::status::DsError;
use crate::time;
use crate::{Shared, StartFault};

/// DS's servlet context path; every route lives under it.
const CONTEXT: &str = "/dolphinscheduler";
/// Jetty's `max-http-form-post-size` in the default DS config (§1).
const MAX_FORM: usize = 5_000_000;
/// How long the 3.1/3.2 "master" takes to turn a start command into an instance (§9.1).
const MASTER_DELAY: Duration = Duration::from_millis(50);
/// How long the master takes to kill the tasks of a READY_STOP run and mark it STOP.
const STOP_DELAY: Duration = Duration::from_millis(50);
const PRIORITIES: [&str; 5] = ["HIGHEST", "HIGH", "MEDIUM", "LOW", "LOWEST"];

/// Request parameters: the form body of POST/PUT, the query string otherwise.
#[derive(Default)]
struct Params(Vec<(String, String)>);

impl Params {
    fn parse(bytes: &[u8]) -> Self {
        Params(form_urlencoded::parse(bytes).into_owned().collect())
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// A required parameter must be present; it may be empty (Spring binds "" to a String).
    fn required(&self, key: &str) -> Result<&str, DsError> {
        self.get(key).ok_or_else(|| DsError::binding(key))
    }

    fn required_int(&self, key: &str) -> Result<i64, DsError> {
        self.required(key)?.trim().parse().map_err(|_| DsError::binding(key))
    }

    fn optional_int(&self, key: &str) -> Result<Option<i64>, DsError> {
        match self.get(key).map(str::trim) {
            None | Some("") => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|_| DsError::binding(key)),
        }
    }

    fn int_or(&self, key: &str, default: i64) -> Result<i64, DsError> {
        Ok(self.optional_int(key)?.unwrap_or(default))
    }

    /// An enum parameter (by name, §1); `default` None makes it required.
    fn choice(&self, key: &str, allowed: &[&str], default: Option<&str>) -> Result<String, DsError> {
        match (self.get(key).filter(|v| !v.is_empty()), default) {
            (Some(v), _) if allowed.contains(&v) => Ok(v.to_string()),
            (None, Some(default)) => Ok(default.to_string()),
            _ => Err(DsError::binding(key)),
        }
    }

    fn release(&self, key: &str, default: Option<&str>) -> Result<Release, DsError> {
        let value = self.choice(key, &["ONLINE", "OFFLINE"], default)?;
        Ok(if value == "ONLINE" { Release::Online } else { Release::Offline })
    }

    /// `pageNo` and `pageSize` are required and positive on paging endpoints (§1).
    fn page(&self) -> Result<Page, DsError> {
        let positive = |key: &str| match self.required_int(key)? {
            n if n >= 1 => Ok(n as usize),
            _ => Err(DsError::invalid_param(key)),
        };
        Ok(Page { no: positive("pageNo")?, size: positive("pageSize")? })
    }

    fn text(&self, key: &str) -> String {
        self.get(key).unwrap_or_default().to_string()
    }
}

/// A path variable that must be a number (DS answers 10000 otherwise; this is how 3.1 answers the
/// 3.2-only `process-instances/trigger`, §4).
fn number(segment: &str) -> Result<i64, DsError> {
    segment.parse().map_err(|_| DsError::path_conversion(segment))
}

enum Route<'a> {
    UserInfo,
    TokensOfUser(&'a str),
    CreateToken,
    ProjectList,
    CreateProject,
    GenTaskCodes,
    Definitions(&'a str),
    DefinitionByName(&'a str),
    CreateDefinition(&'a str),
    Definition(&'a str, &'a str),
    UpdateDefinition(&'a str, &'a str),
    DeleteDefinition(&'a str, &'a str),
    ReleaseDefinition(&'a str, &'a str),
    Schedules(&'a str),
    CreateSchedule(&'a str),
    UpdateSchedule(&'a str, &'a str),
    ScheduleRelease(&'a str, &'a str, Release),
    Start(&'a str),
    Execute(&'a str),
    Trigger(&'a str),
    Instances(&'a str),
    Instance(&'a str, &'a str),
    InstanceTasks(&'a str, &'a str),
    LogDetail,
    Datasources,
}

/// The route table. Definition, instance and start paths come from the family's names, so the other
/// family's paths fall through to a 404.
fn resolve<'a>(family: Family, method: &str, segments: &[&'a str]) -> Option<Route<'a>> {
    let names = family.names();
    let route = match (method, segments) {
        ("GET", ["users", "get-user-info"]) => Route::UserInfo,
        ("GET", ["access-tokens", "user", user]) => Route::TokensOfUser(user),
        ("POST", ["access-tokens"]) => Route::CreateToken,
        ("GET", ["projects", "list"]) => Route::ProjectList,
        ("POST", ["projects"]) => Route::CreateProject,
        ("GET", ["projects", _, "task-definition", "gen-task-codes"]) => Route::GenTaskCodes,
        (_, ["projects", pc, base, rest @ ..]) if *base == names.definition_base => match (method, rest) {
            ("GET", []) => Route::Definitions(pc),
            ("POST", []) => Route::CreateDefinition(pc),
            ("GET", ["query-by-name"]) => Route::DefinitionByName(pc),
            ("GET", [code]) => Route::Definition(pc, code),
            ("PUT", [code]) => Route::UpdateDefinition(pc, code),
            ("DELETE", [code]) => Route::DeleteDefinition(pc, code),
            ("POST", [code, "release"]) => Route::ReleaseDefinition(pc, code),
            _ => return None,
        },
        (_, ["projects", pc, "schedules", rest @ ..]) => match (method, rest) {
            ("GET", []) => Route::Schedules(pc),
            ("POST", []) => Route::CreateSchedule(pc),
            ("PUT", [id]) => Route::UpdateSchedule(pc, id),
            ("POST", [id, "online"]) => Route::ScheduleRelease(pc, id, Release::Online),
            ("POST", [id, "offline"]) => Route::ScheduleRelease(pc, id, Release::Offline),
            _ => return None,
        },
        ("POST", ["projects", pc, "executors", "execute"]) => Route::Execute(pc),
        ("POST", ["projects", pc, "executors", start]) if *start == names.start_path => Route::Start(pc),
        (_, ["projects", pc, base, rest @ ..]) if *base == names.instance_base => match (method, rest) {
            ("GET", []) => Route::Instances(pc),
            // 3.1 has no trigger endpoint: `trigger` is taken for an instance id there.
            ("GET", ["trigger"]) if family != Family::V3_1 => Route::Trigger(pc),
            ("GET", [id]) => Route::Instance(pc, id),
            ("GET", [id, "tasks"]) => Route::InstanceTasks(pc, id),
            _ => return None,
        },
        ("GET", ["log", "detail"]) => Route::LogDetail,
        ("GET", ["datasources"]) => Route::Datasources,
        _ => return None,
    };
    Some(route)
}

/// An answer the fake drops on purpose: the connection is closed without one.
#[derive(Debug)]
pub(crate) struct AnswerLost;

impl std::fmt::Display for AnswerLost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the answer was lost on purpose")
    }
}

impl std::error::Error for AnswerLost {}

/// Entry point of every request.
pub(crate) async fn handle(
    shared: Arc<Shared>,
    request: Request<Incoming>,
) -> Result<Response<Body>, AnswerLost> {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path().to_string();
    let fault = shared.record(parts.method.as_str(), path.strip_prefix(CONTEXT).unwrap_or(&path));
    if let Some(delay) = fault.delay {
        tokio::time::sleep(delay).await;
    }
    if let Some(status) = fault.fail {
        return Ok(fault_page(status));
    }
    answer(&shared, &parts, body, &path).await
}

async fn answer(
    shared: &Arc<Shared>,
    parts: &Parts,
    body: Incoming,
    path: &str,
) -> Result<Response<Body>, AnswerLost> {
    let Some(rest) = path.strip_prefix(CONTEXT).and_then(|rest| rest.strip_prefix('/')) else {
        return Ok(spring_error(StatusCode::NOT_FOUND, path));
    };
    let segments: Vec<&str> = rest.split('/').collect();
    let params = match read_params(parts, body).await {
        Ok(params) => params,
        Err(e) => return Ok(envelope(StatusCode::OK, Err(e))),
    };
    let method = parts.method.as_str();
    // `/login` is the one path outside the auth interceptor (§2.1).
    if segments == ["login"] {
        return Ok(match method {
            "POST" => login(shared, &params),
            _ => spring_error(StatusCode::METHOD_NOT_ALLOWED, path),
        });
    }
    if !authorized(&shared.model(), &parts.headers) {
        // §1: an auth failure is a bare 401, no envelope.
        return Ok(Response::builder()
            .status(StatusCode::UNAUTHORIZED)
            .body(Body::empty())
            .expect("static response"));
    }
    let family = shared.family;
    Ok(match resolve(family, method, &segments) {
        Some(route) => {
            let created = matches!(
                route,
                Route::CreateToken
                    | Route::CreateProject
                    | Route::CreateDefinition(_)
                    | Route::CreateSchedule(_)
            );
            let starts = matches!(route, Route::Start(_));
            let result = run(shared, route, &params).await;
            // A start DS accepted has made its run (or handed it to the master) whatever becomes of
            // the answer.
            if starts && result.is_ok() {
                match shared.take_start_fault() {
                    Some(StartFault::Lost(silence)) => {
                        tokio::time::sleep(silence).await;
                        return Err(AnswerLost);
                    }
                    Some(StartFault::Status(status)) => return Ok(fault_page(status)),
                    None => {}
                }
            }
            // Creates are `@ResponseStatus(CREATED)`: 201 whatever the code the service answers (§1);
            // binding errors go through the exception handler instead, with 200.
            let raised = result.as_ref().is_err_and(|e| e.raised);
            let status = if created && !raised { StatusCode::CREATED } else { StatusCode::OK };
            envelope(status, result)
        }
        None if ["GET", "POST", "PUT", "DELETE"].iter().any(|m| resolve(family, m, &segments).is_some()) => {
            spring_error(StatusCode::METHOD_NOT_ALLOWED, path)
        }
        None => spring_error(StatusCode::NOT_FOUND, path),
    })
}

/// POST/PUT read only an `application/x-www-form-urlencoded` body: DS binds `@RequestParam`, so a
/// JSON body leaves every parameter missing (§1). DS would also read a query string on POST; the fake
/// does not, so a client that puts parameters there is caught. GET/DELETE read the query string.
async fn read_params(parts: &Parts, body: Incoming) -> Result<Params, DsError> {
    if parts.method != Method::POST && parts.method != Method::PUT {
        return Ok(Params::parse(parts.uri.query().unwrap_or_default().as_bytes()));
    }
    let content_type =
        parts.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if !content_type.to_ascii_lowercase().starts_with("application/x-www-form-urlencoded") {
        return Ok(Params::default());
    }
    let bytes = axum::body::to_bytes(Body::new(body), usize::MAX)
        .await
        .map_err(|e| DsError { raised: true, ..DsError::internal(&format!("cannot read the body: {e}")) })?;
    if bytes.len() > MAX_FORM {
        let detail = format!("Form is larger than max length {MAX_FORM}");
        return Err(DsError { raised: true, ..DsError::internal(&detail) });
    }
    Ok(Params::parse(&bytes))
}

/// Header `token` wins when present (an unknown or expired one fails even with a valid session);
/// otherwise the session from header `sessionId` or the `sessionId` cookie (§2).
fn authorized(model: &Model, headers: &HeaderMap) -> bool {
    if let Some(token) = headers.get("token") {
        return token.to_str().is_ok_and(|t| model.token_valid(t));
    }
    let from_header = headers.get("sessionid").and_then(|v| v.to_str().ok());
    let from_cookie = || {
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|cookies| cookies.split(';'))
            .find_map(|cookie| cookie.trim().strip_prefix("sessionId="))
    };
    from_header.or_else(from_cookie).is_some_and(|session| model.session_valid(session))
}

/// `POST /login`: data `{sessionId, securityConfigType}`, and one cookie per data entry (§2.1).
fn login(shared: &Shared, params: &Params) -> Response<Body> {
    let session = params
        .required("userName")
        .and_then(|user| Ok((user, params.required("userPassword")?)))
        .and_then(|(user, password)| shared.model().login(user, password));
    let session = match session {
        Ok(session) => session,
        Err(e) => return envelope(StatusCode::OK, Err(e)),
    };
    let data = json!({ "sessionId": session, "securityConfigType": "PASSWORD" });
    let mut response = json_response(StatusCode::OK, envelope_body(0, "login success", data));
    for cookie in [format!("sessionId={session}; HttpOnly"), "securityConfigType=PASSWORD; HttpOnly".into()] {
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

/// Binds the parameters of a route and runs it against the model.
async fn run(shared: &Arc<Shared>, route: Route<'_>, p: &Params) -> Result<Value, DsError> {
    let family = shared.family;
    let names = family.names();
    match route {
        Route::UserInfo => Ok(shared.model().user_json()),
        Route::TokensOfUser(user) => Ok(shared.model().tokens_of_user(number(user)?)),
        Route::CreateToken => {
            let user = p.required_int("userId")?;
            let expire_time = p.required("expireTime")?;
            shared.model().create_token(user, expire_time, p.get("token"))
        }
        Route::ProjectList => Ok(shared.model().projects_json()),
        Route::CreateProject => {
            let name = p.required("projectName")?;
            shared.model().create_project(name, &p.text("description"))
        }
        Route::GenTaskCodes => {
            let n = p.required_int("genNum")?;
            shared.model().gen_task_codes(n)
        }
        Route::Definitions(pc) => {
            let (pc, page) = (number(pc)?, p.page()?);
            shared.model().definitions_page(pc, &p.text("searchVal"), page)
        }
        Route::DefinitionByName(pc) => {
            let pc = number(pc)?;
            shared.model().definition_by_name(pc, p.required("name")?)
        }
        Route::CreateDefinition(pc) => {
            let (pc, form) = (number(pc)?, definition_form(family, p)?);
            shared.model().create_definition(pc, form)
        }
        Route::Definition(pc, code) => {
            let (pc, code) = (number(pc)?, number(code)?);
            shared.model().definition_dag(pc, code)
        }
        Route::UpdateDefinition(pc, code) => {
            let (pc, code, form) = (number(pc)?, number(code)?, definition_form(family, p)?);
            let release = p.release("releaseState", Some("OFFLINE"))?;
            shared.model().update_definition(pc, code, form, release)
        }
        Route::DeleteDefinition(pc, code) => {
            let (pc, code) = (number(pc)?, number(code)?);
            shared.model().delete_definition(pc, code)
        }
        Route::ReleaseDefinition(pc, code) => {
            let (pc, code, release) = (number(pc)?, number(code)?, p.release("releaseState", None)?);
            shared.model().release_definition(pc, code, release)
        }
        Route::Schedules(pc) => {
            let (pc, page) = (number(pc)?, p.page()?);
            // 3.1 requires the definition code on the list; 3.2+ make it optional (§8).
            let definition = match family {
                Family::V3_1 => Some(p.required_int(names.definition_code)?),
                _ => p.optional_int(names.definition_code)?,
            };
            shared.model().schedules_page(pc, definition, page)
        }
        Route::CreateSchedule(pc) => {
            let (pc, definition) = (number(pc)?, p.required_int(names.definition_code)?);
            let (schedule, options) = (p.required("schedule")?, run_options(family, p, true)?);
            shared.model().create_schedule(pc, definition, schedule, options)
        }
        Route::UpdateSchedule(pc, id) => {
            let (pc, id) = (number(pc)?, number(id)?);
            let (schedule, options) = (p.required("schedule")?, run_options(family, p, true)?);
            shared.model().update_schedule(pc, id, schedule, options)
        }
        Route::ScheduleRelease(pc, id, release) => {
            let (pc, id) = (number(pc)?, number(id)?);
            shared.model().set_schedule_release(pc, id, release)
        }
        Route::Start(pc) => start(shared, number(pc)?, p).await,
        Route::Execute(pc) => {
            let (pc, id, execute_type) =
                (number(pc)?, p.required_int(names.instance_id)?, p.required("executeType")?);
            let done = shared.model().execute(pc, id, execute_type)?;
            let master = Arc::clone(shared);
            if execute_type == "STOP" {
                // The API only marks the run READY_STOP; the master kills its tasks, then marks it
                // STOP (DS 3.1 `ExecutorServiceImpl.execute`, `WorkflowExecuteRunnable`).
                let delay = shared.stop_delay(STOP_DELAY);
                tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    master.model().complete_stop(id);
                });
            } else if execute_type != "PAUSE" {
                // A recovering type is a command the master carries out a little later.
                let (delay, execute_type) = (shared.master_delay(MASTER_DELAY), execute_type.to_owned());
                tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    master.model().complete_recovery(id, &execute_type);
                });
            }
            Ok(done)
        }
        Route::Trigger(pc) => {
            let (pc, trigger) = (number(pc)?, p.required_int("triggerCode")?);
            shared.model().triggered(pc, trigger)
        }
        Route::Instances(pc) => {
            let (pc, page, definition) = (number(pc)?, p.page()?, p.optional_int(names.instance_filter)?);
            shared.model().instances_page(pc, definition, page)
        }
        Route::Instance(pc, id) => {
            let (pc, id) = (number(pc)?, number(id)?);
            shared.model().instance(pc, id)
        }
        Route::InstanceTasks(pc, id) => {
            let (pc, id) = (number(pc)?, number(id)?);
            shared.model().instance_tasks(pc, id)
        }
        Route::LogDetail => {
            let task_instance = p.required_int("taskInstanceId")?;
            let count =
                |key: &str| usize::try_from(p.required_int(key)?).map_err(|_| DsError::invalid_param(key));
            let (skip, limit) = (count("skipLineNum")?, count("limit")?);
            shared.model().log(task_instance, skip, limit)
        }
        Route::Datasources => {
            let page = p.page()?;
            Ok(shared.model().datasources_json(&p.text("searchVal"), page))
        }
    }
}

/// The create/update form (§7.1). `tenantCode` is required on 3.1 and ignored by 3.2+.
fn definition_form(family: Family, p: &Params) -> Result<DefinitionForm, DsError> {
    const EXECUTION_TYPES: [&str; 4] = ["PARALLEL", "SERIAL_WAIT", "SERIAL_DISCARD", "SERIAL_PRIORITY"];
    Ok(DefinitionForm {
        name: p.required("name")?.to_string(),
        description: p.text("description"),
        global_params: p.get("globalParams").map(str::to_string),
        locations: p.get("locations").map(str::to_string),
        timeout: p.int_or("timeout", 0)?,
        task_relation_json: p.required("taskRelationJson")?.to_string(),
        task_definition_json: p.required("taskDefinitionJson")?.to_string(),
        execution_type: p.choice("executionType", &EXECUTION_TYPES, Some("PARALLEL"))?,
        tenant_code: match family.tenant_on_definition() {
            true => Some(p.required("tenantCode")?.to_string()),
            false => None,
        },
    })
}

/// Run settings of a start (`schedule` false: failureStrategy and warningType required, §9.1) or a
/// schedule (defaults END / NONE, §8). `tenantCode` exists from 3.2 on (default `default`).
fn run_options(family: Family, p: &Params, schedule: bool) -> Result<RunOptions, DsError> {
    let (failure_default, warning_default) =
        if schedule { (Some("END"), Some("NONE")) } else { (None, None) };
    Ok(RunOptions {
        failure_strategy: p.choice("failureStrategy", &["END", "CONTINUE"], failure_default)?,
        warning_type: p.choice("warningType", &["NONE", "SUCCESS", "FAILURE", "ALL"], warning_default)?,
        warning_group_id: p.int_or("warningGroupId", 0)?,
        priority: p.choice(family.names().priority, &PRIORITIES, Some("MEDIUM"))?,
        worker_group: p.get("workerGroup").filter(|w| !w.is_empty()).unwrap_or("default").to_string(),
        tenant_code: (!family.tenant_on_definition())
            .then(|| p.get("tenantCode").filter(|t| !t.is_empty()).unwrap_or("default").to_string()),
        environment_code: p.int_or("environmentCode", -1)?,
    })
}

/// Start a run (§9.1). 3.1/3.2 hand a command to the master, which creates the instance
/// `MASTER_DELAY` later; 3.1 answers null, 3.2 the trigger code. 3.3+ asks the master to create the
/// instance and answers `[id]` once it has (at once unless the master is slowed).
async fn start(shared: &Arc<Shared>, pc: i64, p: &Params) -> Result<Value, DsError> {
    let family = shared.family;
    let definition_code = p.required_int(family.names().definition_code)?;
    // Must be present, may be empty for START_PROCESS.
    p.required("scheduleTime")?;
    let options = run_options(family, p, false)?;
    // The fake simulates plain starts only: complement runs (COMPLEMENT_DATA) are refused.
    p.choice("execType", &["START_PROCESS"], Some("START_PROCESS"))?;
    p.choice("taskDependType", &["TASK_ONLY", "TASK_PRE", "TASK_POST"], Some("TASK_POST"))?;
    if family.start_has_timeout()
        && p.optional_int("timeout")?.is_some_and(|t| !(1..=MAX_TIMEOUT).contains(&t))
    {
        return Err(DsError::timeout_invalid());
    }
    let form = StartForm {
        definition_code,
        options,
        start_params: p.get("startParams").map(str::to_string),
        dry_run: p.int_or("dryRun", 0)?,
    };
    let plan = shared.model().plan_start(pc, form)?;
    let trigger = plan.trigger_code;
    let usual = if family.instance_created_later() { MASTER_DELAY } else { Duration::ZERO };
    let delay = shared.master_delay(usual);
    let master = Arc::clone(shared);
    // The master works apart from the request: a caller that stops waiting does not stop it.
    let launched = tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        master.model().launch(plan)
    });
    if family.instance_created_later() {
        return Ok(trigger.map_or(Value::Null, |code| json!(code)));
    }
    let id = launched.await.map_err(|e| DsError::internal(&format!("the master failed: {e}")))?;
    Ok(json!([id]))
}

fn envelope_body(code: i32, msg: &str, data: Value) -> Value {
    json!({ "code": code, "msg": msg, "data": data, "success": code == 0, "failed": code != 0 })
}

fn envelope(status: StatusCode, result: Result<Value, DsError>) -> Response<Body> {
    let body = match result {
        Ok(data) => envelope_body(0, "success", data),
        Err(e) => envelope_body(e.code, &e.msg, Value::Null),
    };
    json_response(status, body)
}

fn json_response(status: StatusCode, body: Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .expect("static response parts")
}

/// Spring Boot's error body for unknown paths (404) and wrong methods (405).
fn spring_error(status: StatusCode, path: &str) -> Response<Body> {
    let body = json!({
        "timestamp": time::now_iso(), "status": status.as_u16(),
        "error": status.canonical_reason().unwrap_or_default(), "path": path,
    });
    json_response(status, body)
}

/// What a proxy or load balancer in front of DS answers when DS is unhealthy.
fn fault_page(status: u16) -> Response<Body> {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    let title = format!("{} {}", status.as_u16(), status.canonical_reason().unwrap_or_default());
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/html")
        .body(Body::from(format!(
            "<html><head><title>{title}</title></head><body><h1>{title}</h1></body></html>"
        )))
        .expect("static response parts")
}

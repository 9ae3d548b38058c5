//! The model behind the fake: tokens, projects, datasources, task codes, definitions with their tasks
//! and relations, schedules, and workflow instances with their task instances. Every operation returns
//! the envelope's `data` or a `DsError`; HTTP concerns stay in `routes`.

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, HashSet};
use std::hash::BuildHasher;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};

use crate::alerts::Alerts;
use crate::checks::{self, Relation, ScheduleInput, TaskInput};
use crate::family::{Family, Names};
use crate::status::DsError;
use crate::{InstanceView, PASSWORD, ScheduleView, TaskRunView, TaskView, USER, WorkflowView, time};

/// The fake's only user, `USER`, an admin.
pub(crate) const USER_ID: i64 = 1;
const MASTER_HOST: &str = "127.0.0.1:5678";
const WORKER_HOST: &str = "127.0.0.1:1234";
/// Longest description DS accepts (code points), else 1400004.
const MAX_DESCRIPTION: usize = 255;
/// `Constants.MAX_TASK_TIMEOUT`, the bound of the start `timeout` parameter (3.1/3.2).
pub(crate) const MAX_TIMEOUT: i64 = 24 * 3600;
/// Workflow states DS treats as finished (§10.1).
const FINISHED: [&str; 4] = ["SUCCESS", "FAILURE", "STOP", "PAUSE"];
/// Task states that are final (§10.1): DS's "finished" ones plus `STOP` (3.x) and `FORCED_SUCCESS`.
const TASK_FINISHED: [&str; 7] =
    ["SUCCESS", "FAILURE", "KILL", "PAUSE", "STOP", "FORCED_SUCCESS", "NEED_FAULT_TOLERANCE"];
/// Execution types whose STOP inserts an (empty) alert on 3.1/3.2 (§11.2a).
const SERIAL_STOP_ALERTS: [&str; 2] = ["SERIAL_WAIT", "SERIAL_PRIORITY"];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Release {
    Online,
    Offline,
}

impl Release {
    pub fn as_str(self) -> &'static str {
        match self {
            Release::Online => "ONLINE",
            Release::Offline => "OFFLINE",
        }
    }
}

/// 1-based page request (`pageNo`, `pageSize`, both required and positive).
#[derive(Clone, Copy)]
pub(crate) struct Page {
    pub no: usize,
    pub size: usize,
}

struct AccessToken {
    id: i64,
    user_id: i64,
    token: String,
    expire_time: String,
    create_time: String,
}

struct Project {
    id: i64,
    code: i64,
    name: String,
    description: String,
    create_time: String,
}

struct Datasource {
    id: i64,
    name: String,
    db_type: String,
    create_time: String,
}

#[derive(Clone)]
struct TaskDef {
    id: i64,
    code: i64,
    version: i32,
    project_code: i64,
    name: String,
    task_type: String,
    params: Value,
    element: Value,
    create_time: String,
    update_time: String,
}

impl TaskDef {
    /// What a task update compares: the element without its version, with `taskParams` as an object.
    fn content(element: &Value, params: &Value) -> Value {
        let mut content = element.clone();
        if let Some(map) = content.as_object_mut() {
            map.remove("version");
            map.insert("taskParams".into(), params.clone());
        }
        content
    }
}

/// The editable part of a definition; a change bumps the definition version.
#[derive(PartialEq)]
struct DefinitionBody {
    name: String,
    description: String,
    global_params: Value,
    locations: Value,
    timeout: i64,
    tenant_code: Option<String>,
    execution_type: String,
    task_codes: Vec<i64>,
    relations: Vec<Relation>,
}

struct Definition {
    id: i64,
    code: i64,
    project_code: i64,
    version: i32,
    release: Release,
    body: DefinitionBody,
    create_time: String,
    update_time: String,
}

/// The run settings a start or a schedule carries (§8, §9.1).
#[derive(Clone)]
pub(crate) struct RunOptions {
    pub failure_strategy: String,
    pub warning_type: String,
    pub warning_group_id: i64,
    pub priority: String,
    pub worker_group: String,
    /// 3.2+ only; 3.1 runs under the definition's tenant.
    pub tenant_code: Option<String>,
    pub environment_code: i64,
}

struct Schedule {
    id: i64,
    project_code: i64,
    definition_code: i64,
    input: ScheduleInput,
    release: Release,
    options: RunOptions,
    create_time: String,
    update_time: String,
}

/// The form of the definition create/update endpoints (§7.1); JSON fields still raw.
pub(crate) struct DefinitionForm {
    pub name: String,
    pub description: String,
    pub global_params: Option<String>,
    pub locations: Option<String>,
    pub timeout: i64,
    pub task_definition_json: String,
    pub task_relation_json: String,
    pub execution_type: String,
    pub tenant_code: Option<String>,
}

/// The form of the start endpoint (§9.1), enums already checked.
pub(crate) struct StartForm {
    pub definition_code: i64,
    pub options: RunOptions,
    pub start_params: Option<String>,
    pub dry_run: i64,
}

/// Everything needed to create a workflow instance, fixed when the start is accepted.
pub(crate) struct RunPlan {
    project_code: i64,
    definition_code: i64,
    definition_version: i32,
    definition_name: String,
    execution_type: String,
    tasks: Vec<TaskDef>,
    options: RunOptions,
    tenant_code: String,
    start_params: String,
    global_params: Value,
    dry_run: i64,
    pub trigger_code: Option<i64>,
}

struct TaskRun {
    id: i64,
    name: String,
    task_code: i64,
    task_version: i32,
    task_type: String,
    /// `taskPriority` of the definition (`MEDIUM` by default).
    priority: String,
    state: String,
    start_time: String,
    end_time: Option<String>,
    /// Task instances of earlier runs stay readable (logs) but leave the instance's task list.
    current: bool,
    log_path: String,
    log: Vec<String>,
}

struct Instance {
    id: i64,
    project_code: i64,
    definition_code: i64,
    definition_version: i32,
    definition_name: String,
    /// The definition's `executionType` when the run started.
    execution_type: String,
    name: String,
    state: String,
    command_type: String,
    command_param: String,
    start_params: String,
    global_params: Value,
    run_times: i32,
    start_time: String,
    end_time: Option<String>,
    options: RunOptions,
    tenant_code: String,
    dry_run: i64,
    trigger_code: Option<i64>,
    task_defs: Vec<TaskDef>,
    tasks: Vec<TaskRun>,
}

#[derive(Default)]
struct Ids {
    token: i64,
    project: i64,
    datasource: i64,
    definition: i64,
    task: i64,
    schedule: i64,
    instance: i64,
    task_instance: i64,
}

fn next(counter: &mut i64) -> i64 {
    *counter += 1;
    *counter
}

fn random_hex(len: usize) -> String {
    let mut out = String::new();
    while out.len() < len {
        // Each RandomState has fresh keys, so this is a cheap source of unpredictable bits.
        out.push_str(&format!("{:016x}", RandomState::new().hash_one(SystemTime::now())));
    }
    out.truncate(len);
    out
}

pub(crate) struct Model {
    family: Family,
    ids: Ids,
    /// Next code for projects, definitions, tasks and triggers: snowflake-sized i64s (13+ digits).
    next_code: i64,
    /// DS keeps one session per user (§2.1).
    session: Option<String>,
    tokens: Vec<AccessToken>,
    projects: Vec<Project>,
    datasources: Vec<Datasource>,
    issued_codes: HashSet<i64>,
    /// Task definitions by code; codes are global in DS.
    tasks: HashMap<i64, TaskDef>,
    definitions: Vec<Definition>,
    schedules: Vec<Schedule>,
    instances: Vec<Instance>,
    /// Where finished runs insert their alerts.
    alerts: Arc<Alerts>,
    /// The JVM's zone (`-Duser.timezone`): alert contents are printed in it, and API dates when the
    /// user has no zone of its own.
    server_zone: jiff::tz::TimeZone,
    /// The user's `timeZone` (null in a fresh DS): API dates are printed in it when set.
    user_zone: Option<String>,
}

impl Model {
    pub fn new(family: Family, alerts: Arc<Alerts>) -> Self {
        let millis = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_millis() as i64;
        Model {
            family,
            ids: Ids::default(),
            next_code: millis * 1000,
            session: None,
            tokens: Vec::new(),
            projects: Vec::new(),
            datasources: Vec::new(),
            issued_codes: HashSet::new(),
            tasks: HashMap::new(),
            definitions: Vec::new(),
            schedules: Vec::new(),
            instances: Vec::new(),
            alerts,
            server_zone: jiff::tz::TimeZone::UTC,
            user_zone: None,
        }
    }

    /// Sets the zone of the server's JVM.
    pub fn set_server_zone(&mut self, zone: jiff::tz::TimeZone) {
        self.server_zone = zone;
    }

    /// Sets (or clears) the user's own time zone, an IANA name.
    pub fn set_user_zone(&mut self, zone: Option<String>) {
        self.user_zone = zone;
    }

    /// A stored (UTC) date as the API prints it: in the user's zone, else the server's.
    fn api_date(&self, utc: &str) -> String {
        let user = self.user_zone.as_deref().and_then(|name| jiff::tz::TimeZone::get(name).ok());
        time::in_zone(utc, user.as_ref().unwrap_or(&self.server_zone))
    }

    /// Likewise for a date that may be missing (`null`).
    fn api_date_or_null(&self, utc: Option<&String>) -> Value {
        utc.map_or(Value::Null, |utc| json!(self.api_date(utc)))
    }

    /// A stored (UTC) date as alert contents print it: in the server's zone.
    fn alert_date(&self, utc: Option<&String>) -> Value {
        utc.map_or(Value::Null, |utc| json!(time::in_zone(utc, &self.server_zone)))
    }

    fn names(&self) -> &'static Names {
        self.family.names()
    }

    fn new_code(&mut self) -> i64 {
        self.next_code += 1;
        self.next_code
    }

    fn page(&self, items: Vec<Value>, page: Page) -> Value {
        let total = items.len();
        let start = (page.no - 1).saturating_mul(page.size);
        let list: Vec<Value> = items.into_iter().skip(start).take(page.size).collect();
        let mut info = json!({
            "totalList": list, "total": total, "totalPage": total.div_ceil(page.size),
            "pageSize": page.size, "currentPage": page.no, "pageNo": page.no,
        });
        if self.family == Family::V3_1 {
            // 3.1.1's PageInfo has `start` and no `pageNo` (seen on the real server).
            info["start"] = json!(start);
            if let Some(fields) = info.as_object_mut() {
                fields.remove("pageNo");
            }
        }
        info
    }

    // ---- authentication (§2) ----

    pub fn login(&mut self, user: &str, password: &str) -> Result<String, DsError> {
        if user.is_empty() {
            return Err(DsError::user_name_null());
        }
        if user != USER || password != PASSWORD {
            return Err(DsError::login_failed());
        }
        Ok(self.session.get_or_insert_with(new_session_id).clone())
    }

    pub fn session_valid(&self, session: &str) -> bool {
        self.session.as_deref() == Some(session)
    }

    /// A token authenticates while `expire_time > now` (§2.2).
    pub fn token_valid(&self, token: &str) -> bool {
        let now = time::now();
        self.tokens.iter().any(|t| t.token == token && t.expire_time > now)
    }

    pub fn expire_tokens(&mut self) {
        let now = time::now();
        for token in &mut self.tokens {
            token.expire_time.clone_from(&now);
        }
    }

    pub fn create_token(
        &mut self,
        user_id: i64,
        expire_time: &str,
        token: Option<&str>,
    ) -> Result<Value, DsError> {
        if user_id != USER_ID {
            return Err(DsError::user_not_exist(user_id));
        }
        if !time::is_datetime(expire_time) {
            return Err(DsError::token_create_failed());
        }
        let token = AccessToken {
            id: next(&mut self.ids.token),
            user_id,
            token: token.filter(|t| !t.trim().is_empty()).map_or_else(|| random_hex(32), str::to_string),
            expire_time: expire_time.to_string(),
            create_time: time::now(),
        };
        let json = token_json(&token);
        self.tokens.push(token);
        Ok(json)
    }

    pub fn tokens_of_user(&self, user_id: i64) -> Value {
        Value::Array(self.tokens.iter().filter(|t| t.user_id == user_id).map(token_json).collect())
    }

    pub fn user_json(&self) -> Value {
        json!({
            "id": USER_ID, "userName": USER, "email": "admin@example.com", "phone": "", "userType": "ADMIN_USER",
            "tenantId": 0, "tenantCode": null, "queue": "default", "queueName": null, "state": 1,
            "timeZone": self.user_zone, "alertGroup": null, "createTime": "2024-01-01 00:00:00",
            "updateTime": "2024-01-01 00:00:00",
        })
    }

    // ---- projects, datasources, task codes (§5, §6) ----

    fn project(&self, code: i64) -> Result<&Project, DsError> {
        self.projects.iter().find(|p| p.code == code).ok_or_else(DsError::project_not_found)
    }

    fn project_json(&self, p: &Project) -> Value {
        let definitions = self.definitions.iter().filter(|d| d.project_code == p.code).count();
        let running = self.instances.iter().filter(|i| i.project_code == p.code && i.running()).count();
        json!({
            "id": p.id, "userId": USER_ID, "userName": USER, "code": p.code, "name": p.name,
            "description": p.description, "createTime": p.create_time, "updateTime": p.create_time,
            "perm": 7, "defCount": definitions, "instRunningCount": running,
        })
    }

    pub fn projects_json(&self) -> Value {
        Value::Array(self.projects.iter().map(|p| self.project_json(p)).collect())
    }

    pub fn create_project(&mut self, name: &str, description: &str) -> Result<Value, DsError> {
        check_description(description)?;
        if self.projects.iter().any(|p| p.name == name) {
            return Err(DsError::project_exists(name));
        }
        let project = Project {
            id: next(&mut self.ids.project),
            code: self.new_code(),
            name: name.to_string(),
            description: description.to_string(),
            create_time: time::now(),
        };
        let json = self.project_json(&project);
        self.projects.push(project);
        Ok(json)
    }

    pub fn add_datasource(&mut self, name: &str, db_type: &str) -> i64 {
        let id = next(&mut self.ids.datasource);
        let create_time = time::now();
        self.datasources.push(Datasource { id, name: name.into(), db_type: db_type.into(), create_time });
        id
    }

    /// `searchVal` is a LIKE match on the name.
    pub fn datasources_json(&self, search: &str, page: Page) -> Value {
        let items = self
            .datasources
            .iter()
            .rev()
            .filter(|d| d.name.contains(search))
            .map(|d| {
                json!({
                    "id": d.id, "userId": USER_ID, "userName": USER, "name": d.name, "note": "",
                    "type": d.db_type, "connectionParams": "{}", "createTime": d.create_time,
                    "updateTime": d.create_time,
                })
            })
            .collect();
        self.page(items, page)
    }

    /// `genNum` must be 1..=100 (50017). Codes are global in DS; so is the fake's record of them.
    pub fn gen_task_codes(&mut self, n: i64) -> Result<Value, DsError> {
        if !(1..=100).contains(&n) {
            return Err(DsError::data_not_valid("genNum"));
        }
        let codes: Vec<i64> = (0..n).map(|_| self.new_code()).collect();
        self.issued_codes.extend(&codes);
        Ok(json!(codes))
    }

    // ---- definitions (§7) ----

    fn definition_index(&self, project: i64, code: i64) -> Result<usize, DsError> {
        self.project(project)?;
        self.definitions
            .iter()
            .position(|d| d.project_code == project && d.code == code)
            .ok_or_else(|| DsError::definition_not_exist(self.names(), &code.to_string()))
    }

    fn schedule_of(&self, definition: i64) -> Option<&Schedule> {
        self.schedules.iter().rev().find(|s| s.definition_code == definition)
    }

    fn definition_json(&self, d: &Definition) -> Value {
        let schedule = self.schedule_of(d.code);
        let global_map: Map<String, Value> = d
            .body
            .global_params
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| Some((p["prop"].as_str()?.to_string(), p["value"].clone())))
            .collect();
        let mut json = json!({
            "id": d.id, "code": d.code, "name": d.body.name, "version": d.version,
            "releaseState": d.release.as_str(), "projectCode": d.project_code,
            "description": d.body.description, "globalParams": d.body.global_params.to_string(),
            "globalParamList": d.body.global_params, "globalParamMap": global_map,
            "createTime": d.create_time, "updateTime": d.update_time, "flag": "YES", "userId": USER_ID,
            "userName": USER, "modifyBy": USER,
            "projectName": self.project(d.project_code).map(|p| p.name.clone()).ok(),
            "locations": (!d.body.locations.is_null()).then(|| d.body.locations.to_string()),
            "scheduleReleaseState": schedule.map(|s| s.release.as_str()), "timeout": d.body.timeout,
            "warningGroupId": null, "executionType": d.body.execution_type,
        });
        if self.family.tenant_on_definition() {
            json["tenantId"] = json!(0);
            json["tenantCode"] = json!(d.body.tenant_code);
        } else {
            json["schedule"] = schedule.map_or(Value::Null, |s| self.schedule_json(s));
        }
        json
    }

    fn task_def_json(&self, t: &TaskDef) -> Value {
        let mut json = t.element.clone();
        let extra = json!({
            "id": t.id, "code": t.code, "version": t.version, "projectCode": t.project_code,
            "taskParams": t.params, "userId": USER_ID, "userName": USER, "modifyBy": USER,
            "createTime": t.create_time, "updateTime": t.update_time,
        });
        if let (Some(map), Value::Object(extra)) = (json.as_object_mut(), extra) {
            map.extend(extra);
        }
        json
    }

    fn task(&self, code: i64) -> Option<&TaskDef> {
        self.tasks.get(&code)
    }

    /// DagData: the definition, its relations (task versions filled in, §7.2 step 7) and its tasks.
    fn dag_json(&self, d: &Definition) -> Value {
        let names = self.names();
        let version = |code: i64| self.task(code).map_or(0, |t| t.version);
        let relations: Vec<Value> = d
            .body
            .relations
            .iter()
            .map(|r| {
                json!({
                    "name": r.name, names.definition_code: d.code, names.definition_version: d.version,
                    "projectCode": d.project_code, "preTaskCode": r.pre, "preTaskVersion": version(r.pre),
                    "postTaskCode": r.post, "postTaskVersion": version(r.post),
                    "conditionType": r.condition_type, "conditionParams": r.condition_params,
                    "createTime": d.create_time, "updateTime": d.update_time,
                })
            })
            .collect();
        let tasks: Vec<Value> =
            d.body.task_codes.iter().filter_map(|c| self.task(*c)).map(|t| self.task_def_json(t)).collect();
        json!({
            names.dag_definition: self.definition_json(d),
            names.dag_relations: relations,
            "taskDefinitionList": tasks,
        })
    }

    pub fn definition_dag(&self, project: i64, code: i64) -> Result<Value, DsError> {
        let index = self.definition_index(project, code)?;
        Ok(self.dag_json(&self.definitions[index]))
    }

    /// `query-by-name`. 3.1.1's query joins the definition's creator to its tenant: the user here
    /// has none (as DS's admin is installed), so 3.1 finds nothing, as the real server does.
    pub fn definition_by_name(&self, project: i64, name: &str) -> Result<Value, DsError> {
        self.project(project)?;
        if self.family == Family::V3_1 {
            return Err(DsError::definition_not_exist(self.names(), name));
        }
        self.definitions
            .iter()
            .find(|d| d.project_code == project && d.body.name == name)
            .map(|d| self.dag_json(d))
            .ok_or_else(|| DsError::definition_not_exist(self.names(), name))
    }

    pub fn definitions_page(&self, project: i64, search: &str, page: Page) -> Result<Value, DsError> {
        self.project(project)?;
        let mut found: Vec<&Definition> = self
            .definitions
            .iter()
            .filter(|d| d.project_code == project && d.body.name.contains(search))
            .collect();
        found.sort_by(|a, b| (&b.update_time, b.id).cmp(&(&a.update_time, a.id)));
        let items = found.into_iter().map(|d| self.definition_json(d)).collect();
        Ok(self.page(items, page))
    }

    /// Checks a create/update form (§7.2) and turns it into a body and the tasks to store.
    fn check_definition(&self, form: DefinitionForm) -> Result<(DefinitionBody, Vec<TaskInput>), DsError> {
        check_description(&form.description)?;
        if self.family.tenant_on_definition() {
            // DS 3.1 looks the tenant up unless it is "default"; the fake has no tenant list and only
            // refuses an empty one.
            match form.tenant_code.as_deref() {
                Some(t) if !t.trim().is_empty() => {}
                other => return Err(DsError::tenant_not_exist(other.unwrap_or_default())),
            }
        }
        let global_params = checks::json_field(form.global_params.as_deref(), "globalParams", json!([]))?;
        let locations = checks::json_field(form.locations.as_deref(), "locations", Value::Null)?;
        let issued = |code: i64| self.issued_codes.contains(&code);
        let datasource = |id: i64| self.datasources.iter().any(|d| d.id == id);
        let tasks = checks::parse_tasks(self.family, &form.task_definition_json, &issued, &datasource)?;
        let relations = checks::parse_relations(self.names(), &form.task_relation_json, &tasks)?;
        let body = DefinitionBody {
            name: form.name,
            description: form.description,
            global_params,
            locations,
            timeout: form.timeout,
            tenant_code: form.tenant_code.filter(|_| self.family.tenant_on_definition()),
            execution_type: form.execution_type,
            task_codes: tasks.iter().map(|t| t.code).collect(),
            relations,
        };
        Ok((body, tasks))
    }

    fn name_taken(&self, project: i64, name: &str, except: Option<i64>) -> bool {
        self.definitions
            .iter()
            .any(|d| d.project_code == project && d.body.name == name && Some(d.code) != except)
    }

    /// Stores the tasks: a known code updates that task, with a new version when it changed (§6).
    /// Returns whether any task was added or changed.
    fn store_tasks(&mut self, project: i64, inputs: Vec<TaskInput>) -> bool {
        let mut changed = false;
        let now = time::now();
        for input in inputs {
            let content = TaskDef::content(&input.element, &input.params);
            match self.tasks.get_mut(&input.code) {
                Some(task) if TaskDef::content(&task.element, &task.params) == content => {}
                Some(task) => {
                    task.version += 1;
                    task.name = input.name;
                    task.task_type = input.task_type;
                    task.params = input.params;
                    task.element = input.element;
                    task.update_time.clone_from(&now);
                    changed = true;
                }
                None => {
                    let id = next(&mut self.ids.task);
                    self.tasks.insert(
                        input.code,
                        TaskDef {
                            id,
                            code: input.code,
                            version: 1,
                            project_code: project,
                            name: input.name,
                            task_type: input.task_type,
                            params: input.params,
                            element: input.element,
                            create_time: now.clone(),
                            update_time: now.clone(),
                        },
                    );
                    changed = true;
                }
            }
        }
        changed
    }

    pub fn create_definition(&mut self, project: i64, form: DefinitionForm) -> Result<Value, DsError> {
        self.project(project)?;
        if self.name_taken(project, &form.name, None) {
            return Err(DsError::definition_name_exists(self.names(), &form.name));
        }
        let (body, tasks) = self.check_definition(form)?;
        self.store_tasks(project, tasks);
        let now = time::now();
        let definition = Definition {
            id: next(&mut self.ids.definition),
            code: self.new_code(),
            project_code: project,
            version: 1,
            // New definitions are OFFLINE (§7.1).
            release: Release::Offline,
            body,
            create_time: now.clone(),
            update_time: now,
        };
        let json = self.definition_json(&definition);
        self.definitions.push(definition);
        Ok(json)
    }

    /// `PUT B/{code}`: only while OFFLINE (50008); `release` ONLINE releases after the update (§7.1).
    pub fn update_definition(
        &mut self,
        project: i64,
        code: i64,
        form: DefinitionForm,
        release: Release,
    ) -> Result<Value, DsError> {
        let index = self.definition_index(project, code)?;
        if self.definitions[index].release == Release::Online {
            return Err(DsError::definition_not_editable(self.names(), code));
        }
        if self.name_taken(project, &form.name, Some(code)) {
            return Err(DsError::definition_name_exists(self.names(), &form.name));
        }
        let (body, tasks) = self.check_definition(form)?;
        let tasks_changed = self.store_tasks(project, tasks);
        let definition = &mut self.definitions[index];
        if tasks_changed || definition.body != body {
            definition.version += 1;
            definition.body = body;
            definition.update_time = time::now();
        }
        if release == Release::Online {
            self.release_definition(project, code, Release::Online)?;
        }
        Ok(self.definition_json(&self.definitions[index]))
    }

    /// §7.6: 3.1 refuses ONLINE without relations (50035); OFFLINE also takes the schedule offline.
    pub fn release_definition(
        &mut self,
        project: i64,
        code: i64,
        release: Release,
    ) -> Result<Value, DsError> {
        let index = self.definition_index(project, code)?;
        let definition = &mut self.definitions[index];
        if release == Release::Online
            && self.family.release_needs_relations()
            && definition.body.relations.is_empty()
        {
            // Unreachable through this fake's create/update (they refuse empty relation lists), kept
            // because it is the 3.1 rule.
            return Err(DsError::dag_empty(self.family.names()));
        }
        definition.release = release;
        if release == Release::Offline {
            for schedule in self.schedules.iter_mut().filter(|s| s.definition_code == code) {
                schedule.release = Release::Offline;
            }
        }
        // 3.2.1+ reimplemented release and answer `data: true`; 3.1 answers no data.
        Ok(if self.family == Family::V3_1 { Value::Null } else { json!(true) })
    }

    /// Delete needs OFFLINE (50021) and no unfinished instance (10163, §7.1).
    pub fn delete_definition(&mut self, project: i64, code: i64) -> Result<Value, DsError> {
        let index = self.definition_index(project, code)?;
        let definition = &self.definitions[index];
        if definition.release == Release::Online {
            return Err(DsError::definition_online(self.names(), &definition.body.name));
        }
        let running = self.instances.iter().filter(|i| i.definition_code == code && i.running()).count();
        if running > 0 {
            return Err(DsError::definition_running(running));
        }
        self.definitions.remove(index);
        self.schedules.retain(|s| s.definition_code != code);
        Ok(Value::Null)
    }

    // ---- schedules (§8) ----

    fn schedule_json(&self, s: &Schedule) -> Value {
        let names = self.names();
        let definition = self.definitions.iter().find(|d| d.code == s.definition_code);
        let mut json = json!({
            "id": s.id, names.definition_code: s.definition_code,
            names.definition_name: definition.map(|d| d.body.name.clone()),
            "projectName": self.project(s.project_code).map(|p| p.name.clone()).ok(),
            "definitionDescription": definition.map(|d| d.body.description.clone()),
            "startTime": s.input.start_time, "endTime": s.input.end_time, "timezoneId": s.input.timezone_id,
            "crontab": s.input.crontab, "failureStrategy": s.options.failure_strategy,
            "warningType": s.options.warning_type, "createTime": s.create_time, "updateTime": s.update_time,
            "userId": USER_ID, "userName": USER, "releaseState": s.release.as_str(),
            "warningGroupId": s.options.warning_group_id, names.priority: s.options.priority,
            "workerGroup": s.options.worker_group, "environmentCode": s.options.environment_code,
        });
        if let Some(tenant) = &s.options.tenant_code {
            json["tenantCode"] = json!(tenant);
            json["environmentName"] = Value::Null;
        }
        json
    }

    fn schedule_index(&self, project: i64, id: i64) -> Result<usize, DsError> {
        self.project(project)?;
        self.schedules
            .iter()
            .position(|s| s.id == id && s.project_code == project)
            .ok_or_else(|| DsError::schedule_not_exist(id, self.family == Family::V3_1))
    }

    fn require_online(&self, definition: &Definition) -> Result<(), DsError> {
        match definition.release {
            Release::Online => Ok(()),
            Release::Offline => {
                Err(DsError::definition_not_online(self.names(), definition.code, definition.version))
            }
        }
    }

    pub fn schedules_page(
        &self,
        project: i64,
        definition: Option<i64>,
        page: Page,
    ) -> Result<Value, DsError> {
        self.project(project)?;
        let items = self
            .schedules
            .iter()
            .rev()
            .filter(|s| s.project_code == project && definition.is_none_or(|d| s.definition_code == d))
            .map(|s| self.schedule_json(s))
            .collect();
        Ok(self.page(items, page))
    }

    /// Create: definition ONLINE (50004), 3.2+ one per definition (10204), then the schedule JSON with a
    /// crontab error of 10001.
    pub fn create_schedule(
        &mut self,
        project: i64,
        definition: i64,
        raw: &str,
        options: RunOptions,
    ) -> Result<Value, DsError> {
        let index = self.definition_index(project, definition)?;
        self.require_online(&self.definitions[index])?;
        if self.family.one_schedule_per_definition()
            && let Some(existing) = self.schedule_of(definition)
        {
            return Err(DsError::schedule_exists(definition, existing.id));
        }
        let input = checks::parse_schedule(raw, DsError::invalid_param)?;
        let now = time::now();
        let schedule = Schedule {
            id: next(&mut self.ids.schedule),
            project_code: project,
            definition_code: definition,
            input,
            // New schedules are OFFLINE; `/{id}/online` brings them up (§8).
            release: Release::Offline,
            options,
            create_time: now.clone(),
            update_time: now,
        };
        let json = self.schedule_json(&schedule);
        self.schedules.push(schedule);
        Ok(json)
    }

    /// Update: only while OFFLINE (10023); a bad crontab is 10024 here.
    pub fn update_schedule(
        &mut self,
        project: i64,
        id: i64,
        raw: &str,
        options: RunOptions,
    ) -> Result<Value, DsError> {
        let index = self.schedule_index(project, id)?;
        if self.schedules[index].release == Release::Online {
            return Err(DsError::schedule_online_no_update());
        }
        let input = checks::parse_schedule(raw, |_| DsError::cron_invalid())?;
        let schedule = &mut self.schedules[index];
        schedule.input = input;
        schedule.options = options;
        schedule.update_time = time::now();
        Ok(Value::Null)
    }

    /// Online needs the definition ONLINE (50004). 3.1 refuses a no-op change (10126).
    pub fn set_schedule_release(
        &mut self,
        project: i64,
        id: i64,
        release: Release,
    ) -> Result<Value, DsError> {
        let index = self.schedule_index(project, id)?;
        if self.schedules[index].release == release {
            return if self.family.schedule_release_strict() {
                Err(DsError::schedule_release_unchanged(release.as_str()))
            } else {
                Ok(Value::Null)
            };
        }
        if release == Release::Online {
            let definition_code = self.schedules[index].definition_code;
            let definition = self.definitions.iter().find(|d| d.code == definition_code);
            let definition = definition
                .ok_or_else(|| DsError::definition_not_exist(self.names(), &definition_code.to_string()))?;
            self.require_online(definition)?;
        }
        self.schedules[index].release = release;
        Ok(Value::Null)
    }

    // ---- inspection for tests ----

    pub fn project_code(&self, name: &str) -> Option<i64> {
        self.projects.iter().find(|p| p.name == name).map(|p| p.code)
    }

    pub fn workflow_view(&self, project: &str, name: &str) -> Option<WorkflowView> {
        let project = self.projects.iter().find(|p| p.name == project)?;
        let d = self.definitions.iter().find(|d| d.project_code == project.code && d.body.name == name)?;
        let tasks = d.body.task_codes.iter().filter_map(|c| self.task(*c));
        Some(WorkflowView {
            code: d.code,
            name: d.body.name.clone(),
            release_state: d.release.as_str().to_string(),
            tasks: tasks
                .map(|t| TaskView {
                    code: t.code,
                    version: t.version,
                    name: t.name.clone(),
                    task_type: t.task_type.clone(),
                    task_params: t.params.clone(),
                    definition: t.element.clone(),
                })
                .collect(),
            relations: d.body.relations.iter().map(|r| (r.pre, r.post)).collect(),
            locations: d.body.locations.clone(),
            global_params: d.body.global_params.clone(),
            schedule: self.schedule_of(d.code).map(|s| ScheduleView {
                id: s.id,
                crontab: s.input.crontab.clone(),
                timezone_id: s.input.timezone_id.clone(),
                start_time: s.input.start_time.clone(),
                end_time: s.input.end_time.clone(),
                release_state: s.release.as_str().to_string(),
            }),
            tenant_code: d.body.tenant_code.clone(),
        })
    }

    pub fn instance_views(&self) -> Vec<InstanceView> {
        self.instances
            .iter()
            .map(|i| InstanceView {
                id: i.id,
                workflow_code: i.definition_code,
                state: i.state.clone(),
                start_params: i.start_params.clone(),
                run_times: i.run_times,
                start_time: i.start_time.clone(),
                end_time: i.end_time.clone(),
                tasks: i
                    .tasks
                    .iter()
                    .filter(|t| t.current)
                    .map(|t| TaskRunView {
                        id: t.id,
                        name: t.name.clone(),
                        state: t.state.clone(),
                        start_time: t.start_time.clone(),
                        end_time: t.end_time.clone(),
                    })
                    .collect(),
            })
            .collect()
    }

    // ---- runs (§9, §10) ----

    /// Checks a start (definition ONLINE: 50004) and fixes what the instance will be made of.
    pub fn plan_start(&mut self, project: i64, form: StartForm) -> Result<RunPlan, DsError> {
        let index = self.definition_index(project, form.definition_code)?;
        let definition = &self.definitions[index];
        self.require_online(definition)?;
        // startParams is a flat JSON object (3.3+ also takes a Property list). DS ignores what it
        // cannot parse; the fake refuses it to surface client bugs.
        let raw = form.start_params.unwrap_or_default();
        let start_params = checks::json_field(Some(&raw), "startParams", json!({}))?;
        let list_ok = self.family == Family::V3_3 && start_params.is_array();
        if !start_params.is_object() && !list_ok {
            return Err(DsError::invalid_param("startParams"));
        }
        let tenant_code = form
            .options
            .tenant_code
            .clone()
            .or_else(|| definition.body.tenant_code.clone())
            .unwrap_or_else(|| "default".into());
        let mut global_params = definition.body.global_params.clone();
        for param in global_params.as_array_mut().into_iter().flatten() {
            if let Some(value) = param["prop"].as_str().and_then(|p| start_params.get(p)) {
                param["value"] = value.clone();
            }
        }
        let plan = RunPlan {
            project_code: project,
            definition_code: definition.code,
            definition_version: definition.version,
            definition_name: definition.body.name.clone(),
            execution_type: definition.body.execution_type.clone(),
            tasks: definition.body.task_codes.iter().filter_map(|c| self.task(*c)).cloned().collect(),
            options: form.options,
            tenant_code,
            start_params: raw,
            global_params,
            dry_run: form.dry_run,
            trigger_code: None,
        };
        Ok(if self.family == Family::V3_2 {
            RunPlan { trigger_code: Some(self.new_code()), ..plan }
        } else {
            plan
        })
    }

    /// The master's part: creates the instance in RUNNING_EXECUTION with one running task instance per
    /// task. Returns the instance id.
    pub fn launch(&mut self, plan: RunPlan) -> i64 {
        let id = next(&mut self.ids.instance);
        // DS copies the command's param into the instance: `{"StartParams":"<startParams>"}` (§9.1).
        let command_param = if plan.start_params.is_empty() {
            "{}".to_string()
        } else {
            json!({ "StartParams": plan.start_params }).to_string()
        };
        let mut instance = Instance {
            id,
            project_code: plan.project_code,
            definition_code: plan.definition_code,
            definition_version: plan.definition_version,
            name: format!("{}-1-{}", plan.definition_name, time::now_compact()),
            definition_name: plan.definition_name,
            execution_type: plan.execution_type,
            state: "RUNNING_EXECUTION".into(),
            command_type: "START_PROCESS".into(),
            command_param,
            start_params: plan.start_params,
            global_params: plan.global_params,
            run_times: 1,
            start_time: time::now(),
            end_time: None,
            options: plan.options,
            tenant_code: plan.tenant_code,
            dry_run: plan.dry_run,
            trigger_code: plan.trigger_code,
            task_defs: plan.tasks,
            tasks: Vec::new(),
        };
        self.start_tasks(&mut instance);
        self.instances.push(instance);
        id
    }

    fn start_tasks(&mut self, instance: &mut Instance) {
        for task in &mut instance.tasks {
            task.current = false;
        }
        let now = time::now();
        for def in &instance.task_defs {
            let id = next(&mut self.ids.task_instance);
            let log_path = format!(
                "/opt/dolphinscheduler/logs/{}/{}/{}/{}/{id}.log",
                &now[..10],
                instance.definition_code,
                instance.definition_version,
                instance.id
            );
            let log = vec![
                format!("[LOG-PATH]: {log_path}, [HOST]:  {WORKER_HOST}"),
                format!("[INFO] {now} - *** Begin to execute task: {} ***", def.name),
                format!("[INFO] {now} - task type: {}, task code: {}", def.task_type, def.code),
                format!("[INFO] {now} - task instance {id} is running"),
            ];
            instance.tasks.push(TaskRun {
                id,
                name: def.name.clone(),
                task_code: def.code,
                task_version: def.version,
                task_type: def.task_type.clone(),
                priority: def.element["taskPriority"].as_str().unwrap_or("MEDIUM").to_string(),
                state: "RUNNING_EXECUTION".into(),
                start_time: now.clone(),
                end_time: None,
                current: true,
                log_path,
                log,
            });
        }
    }

    fn instance_index(&self, project: i64, id: i64) -> Result<usize, DsError> {
        self.project(project)?;
        self.instances
            .iter()
            .position(|i| i.id == id && i.project_code == project)
            .ok_or_else(|| DsError::instance_not_exist(self.names(), id))
    }

    /// Instance JSON (§10.1); lists carry slim rows without commandParam and globalParams.
    fn instance_json(&self, i: &Instance, full: bool) -> Value {
        let names = self.names();
        let mut json = json!({
            "id": i.id, names.definition_code: i.definition_code, names.definition_version: i.definition_version,
            "name": i.name, "state": i.state, "recovery": "NO", "startTime": self.api_date(&i.start_time),
            "endTime": self.api_date_or_null(i.end_time.as_ref()), "runTimes": i.run_times, "host": MASTER_HOST, "commandType": i.command_type,
            "taskDependType": "TASK_POST", "maxTryTimes": 0, "failureStrategy": i.options.failure_strategy,
            "warningType": i.options.warning_type, "warningGroupId": i.options.warning_group_id,
            "scheduleTime": null, "commandStartTime": self.api_date(&i.start_time), "executorId": USER_ID,
            "executorName": USER, "tenantCode": i.tenant_code, "queue": "default", names.is_sub: "NO",
            "historyCmd": i.command_type, names.priority: i.options.priority,
            "workerGroup": i.options.worker_group, "environmentCode": i.options.environment_code,
            "timeout": 0, "dryRun": i.dry_run, "restartTime": self.api_date(&i.start_time),
            "duration": time::duration(&i.start_time, i.end_time.as_deref()),
        });
        if self.family.instance_has_project_code() {
            json["projectCode"] = json!(i.project_code);
            json["testFlag"] = json!(0);
        }
        if full {
            json["commandParam"] = json!(i.command_param);
            json["globalParams"] = json!(i.global_params.to_string());
            json["varPool"] = json!("[]");
            json["dagData"] = Value::Null;
        }
        json
    }

    fn task_run_json(&self, i: &Instance, t: &TaskRun) -> Value {
        let names = self.names();
        let mut json = json!({
            "id": t.id, "name": t.name, "taskType": t.task_type, names.instance_id: i.id,
            names.instance_name: i.name, "processDefinitionName": i.definition_name, "taskCode": t.task_code,
            "taskDefinitionVersion": t.task_version, "state": t.state,
            "firstSubmitTime": self.api_date(&t.start_time), "submitTime": self.api_date(&t.start_time),
            "startTime": self.api_date(&t.start_time), "endTime": self.api_date_or_null(t.end_time.as_ref()), "host": WORKER_HOST,
            "executePath": format!("/tmp/dolphinscheduler/exec/{}", t.id),
            "logPath": t.log_path, "retryTimes": 0, "alertFlag": "NO",
            "pid": 0, "appLink": null, "flag": "YES", "maxRetryTimes": 0, "retryInterval": 1,
            "taskInstancePriority": t.priority, "workerGroup": i.options.worker_group,
            "environmentCode": i.options.environment_code, "executorId": USER_ID, "executorName": USER,
            "varPool": null, "delayTime": 0, "dryRun": i.dry_run, "taskExecuteType": "BATCH",
            "duration": time::duration(&t.start_time, t.end_time.as_deref()),
        });
        if self.family.instance_has_project_code() {
            json["projectCode"] = json!(i.project_code);
            json["testFlag"] = json!(0);
            json["isCache"] = json!("NO");
        }
        json
    }

    pub fn instances_page(
        &self,
        project: i64,
        definition: Option<i64>,
        page: Page,
    ) -> Result<Value, DsError> {
        self.project(project)?;
        let mut found: Vec<&Instance> = self
            .instances
            .iter()
            .filter(|i| i.project_code == project && definition.is_none_or(|d| i.definition_code == d))
            .collect();
        // `start_time desc` (§10.1); ids break ties within a second.
        found.sort_by(|a, b| (&b.start_time, b.id).cmp(&(&a.start_time, a.id)));
        let items = found
            .into_iter()
            .map(|i| {
                let mut row = self.instance_json(i, false);
                // 3.1.1's list rows have the key, but null (seen on the real server).
                if self.family == Family::V3_1 {
                    row["commandParam"] = Value::Null;
                }
                row
            })
            .collect();
        Ok(self.page(items, page))
    }

    pub fn instance(&self, project: i64, id: i64) -> Result<Value, DsError> {
        let index = self.instance_index(project, id)?;
        Ok(self.instance_json(&self.instances[index], true))
    }

    pub fn instance_tasks(&self, project: i64, id: i64) -> Result<Value, DsError> {
        let instance = &self.instances[self.instance_index(project, id)?];
        let tasks: Vec<Value> =
            instance.tasks.iter().filter(|t| t.current).map(|t| self.task_run_json(instance, t)).collect();
        Ok(json!({ "taskList": tasks, self.names().instance_state: instance.state }))
    }

    /// 3.2: the instances a trigger created (empty until the master made them). The 3.3 route exists
    /// but its table is no longer written, so it stays empty there (§9.1).
    pub fn triggered(&self, project: i64, trigger: i64) -> Result<Value, DsError> {
        self.project(project)?;
        Ok(Value::Array(
            self.instances
                .iter()
                .filter(|i| i.project_code == project && i.trigger_code == Some(trigger))
                .map(|i| self.instance_json(i, true))
                .collect(),
        ))
    }

    /// `executors/execute` (§9.2): the state checks of DS's `checkExecuteType`; recovering types need
    /// the definition ONLINE. A STOP marks the run READY_STOP, as DS's API does; the master's part,
    /// [`Model::complete_stop`], follows. A recovering type (a rerun) only inserts a command, as DS
    /// 3.1's `ExecutorServiceImpl` does: the run keeps its final state until the master takes the
    /// command ([`Model::complete_recovery`]). PAUSE takes effect at once here (DS passes
    /// READY_PAUSE).
    pub fn execute(&mut self, project: i64, id: i64, execute_type: &str) -> Result<Value, DsError> {
        let index = self.instance_index(project, id)?;
        let instance = &self.instances[index];
        let state = instance.state.as_str();
        let allowed = match execute_type {
            // DS 3.1 `WorkflowExecutionStatus.canStop`: a run already READY_STOP, or finished, is
            // refused with 50006.
            "STOP" => state == "RUNNING_EXECUTION" || state == "READY_PAUSE",
            "PAUSE" => instance.running(),
            "REPEAT_RUNNING" => !instance.running(),
            "START_FAILURE_TASK_PROCESS" => state == "FAILURE",
            "RECOVER_SUSPENDED_PROCESS" => state == "PAUSE" || state == "STOP",
            _ => return Err(DsError::invalid_param("executeType")),
        };
        if !allowed {
            return Err(DsError::instance_state_forbids(self.names(), &instance.name, state, execute_type));
        }
        match execute_type {
            "STOP" => {
                let instance = &mut self.instances[index];
                instance.state = "READY_STOP".into();
                instance.command_type = "STOP".into();
            }
            "PAUSE" => self.finish(index, "PAUSE"),
            _ => {
                let code = instance.definition_code;
                if let Some(definition) = self.definitions.iter().find(|d| d.code == code) {
                    self.require_online(definition)?;
                }
            }
        }
        Ok(Value::Null)
    }

    /// The master's part of a recovering command: the run starts again (`runTimes` + 1, new task
    /// runs) unless it is running already.
    pub fn complete_recovery(&mut self, id: i64, execute_type: &str) {
        let Some(index) = self.instances.iter().position(|i| i.id == id && !i.running()) else { return };
        let mut instance = self.instances.remove(index);
        instance.state = "RUNNING_EXECUTION".into();
        instance.command_type = execute_type.to_string();
        instance.run_times += 1;
        instance.end_time = None;
        self.start_tasks(&mut instance);
        self.instances.insert(index, instance);
    }

    /// The master's part of a STOP: a run still READY_STOP has its tasks killed and is STOP.
    pub fn complete_stop(&mut self, id: i64) {
        if let Some(index) = self.instances.iter().position(|i| i.id == id && i.state == "READY_STOP") {
            self.finish(index, "STOP");
        }
    }

    /// Sets a workflow state and the matching state on its current tasks (tasks of a stopped workflow
    /// are KILLed). A finishing workflow leaves its finished tasks as they are and inserts its alert.
    fn finish(&mut self, index: usize, state: &str) {
        let instance = &mut self.instances[index];
        let was_running = instance.running();
        let now = time::now();
        let task_state = if state == "STOP" { "KILL" } else { state };
        instance.state = state.to_string();
        let finished = FINISHED.contains(&state);
        instance.end_time = finished.then(|| now.clone());
        for task in instance.tasks.iter_mut().filter(|t| t.current) {
            if finished && TASK_FINISHED.contains(&task.state.as_str()) {
                continue;
            }
            task.set_state(task_state, &now);
        }
        if was_running
            && finished
            && let Some(content) = self.alert_content(&self.instances[index])
        {
            self.alerts.emit(content);
        }
    }

    /// Test hook: drives a run to any state (e.g. "SUCCESS", "FAILURE"); false if there is no such
    /// instance (yet).
    pub fn set_instance_state(&mut self, id: i64, state: &str) -> bool {
        match self.instances.iter().position(|i| i.id == id) {
            Some(index) => {
                self.finish(index, state);
                true
            }
            None => false,
        }
    }

    /// Test hook: sets the state of the current task instance `task` of instance `id`; false if there
    /// is no such instance or task.
    pub fn set_task_state(&mut self, id: i64, task: &str, state: &str) -> bool {
        let task = self
            .instances
            .iter_mut()
            .filter(|i| i.id == id)
            .flat_map(|i| i.tasks.iter_mut())
            .find(|t| t.current && t.name == task);
        match task {
            Some(task) => {
                task.set_state(state, &time::now());
                true
            }
            None => false,
        }
    }

    /// The content of the alert a run that just finished inserts (§11.2, §11.2a), None when it
    /// inserts none: the start's `warningType` must cover the outcome and name an alert group (DS
    /// finds no plugin instance without one). 3.1/3.2 send one workflow element on SUCCESS, one
    /// element per task that did not succeed on FAILURE, an empty content on PAUSE and on the STOP of
    /// a serial workflow, and nothing on the STOP of any other; 3.3+ send one workflow element for
    /// every outcome.
    fn alert_content(&self, instance: &Instance) -> Option<String> {
        let state = instance.state.as_str();
        let wanted = match instance.options.warning_type.as_str() {
            "ALL" => true,
            "SUCCESS" => state == "SUCCESS",
            "FAILURE" => state == "FAILURE",
            _ => false,
        };
        if !wanted || instance.options.warning_group_id <= 0 {
            return None;
        }
        let project_name = self.project(instance.project_code).map(|p| p.name.clone()).ok();
        let v3_2 = self.family == Family::V3_2;
        let head = |owner: bool| {
            vec![
                ("projectCode", json!(instance.project_code)),
                ("projectName", json!(project_name)),
                ("owner", if owner { json!(USER) } else { Value::Null }),
            ]
        };
        let elements = match (self.family, state) {
            (Family::V3_3, _) => {
                // After upstream PR #17309 the failure element has no owner (§11.2a).
                let mut element = head(state != "FAILURE");
                element.extend([
                    ("workflowInstanceId", json!(instance.id)),
                    ("workflowDefinitionCode", json!(instance.definition_code)),
                    ("workflowInstanceName", json!(instance.name)),
                    ("commandType", json!(instance.command_type)),
                    ("workflowExecutionStatus", json!(state)),
                    ("modifyBy", json!(USER)),
                    ("recovery", json!("NO")),
                    ("runTimes", json!(instance.run_times)),
                    ("workflowStartTime", self.alert_date(Some(&instance.start_time))),
                    ("workflowEndTime", self.alert_date(instance.end_time.as_ref())),
                    ("workflowHost", json!(MASTER_HOST)),
                ]);
                vec![element]
            }
            (_, "SUCCESS") => {
                let mut element = head(true);
                element.extend([
                    ("processId", json!(instance.id)),
                    ("processDefinitionCode", json!(instance.definition_code)),
                    ("processName", json!(instance.name)),
                    ("processType", json!(instance.command_type)),
                    ("processState", json!(state)),
                    ("modifyBy", if v3_2 { json!(USER) } else { Value::Null }),
                    ("recovery", json!("NO")),
                    ("runTimes", json!(instance.run_times)),
                    ("processStartTime", self.alert_date(Some(&instance.start_time))),
                    ("processEndTime", self.alert_date(instance.end_time.as_ref())),
                    ("processHost", json!(MASTER_HOST)),
                ]);
                vec![element]
            }
            (_, "FAILURE") => instance
                .tasks
                .iter()
                .filter(|t| t.current && t.state != "SUCCESS")
                .map(|task| {
                    let mut element = head(true);
                    element.extend([
                        ("processId", json!(instance.id)),
                        ("processDefinitionCode", json!(instance.definition_code)),
                        ("processName", json!(instance.name)),
                        ("modifyBy", if v3_2 { json!(USER) } else { Value::Null }),
                        ("taskCode", json!(task.task_code)),
                        ("taskName", json!(task.name)),
                        ("taskType", json!(task.task_type)),
                        ("taskState", json!(task.state)),
                        ("taskStartTime", self.alert_date(Some(&task.start_time))),
                        ("taskEndTime", self.alert_date(task.end_time.as_ref())),
                        ("taskHost", json!(WORKER_HOST)),
                        // The priority's description, e.g. "medium".
                        (
                            "taskPriority",
                            if v3_2 { json!(task.priority.to_lowercase()) } else { Value::Null },
                        ),
                        ("logPath", json!(task.log_path)),
                    ]);
                    element
                })
                .collect(),
            (_, "PAUSE") => return Some(String::new()),
            (_, "STOP") if SERIAL_STOP_ALERTS.contains(&instance.execution_type.as_str()) => {
                return Some(String::new());
            }
            _ => return None,
        };
        let elements: Vec<String> = elements.iter().map(|fields| ordered_object(fields)).collect();
        Some(format!("[{}]", elements.join(",")))
    }

    /// `log/detail` (§10.3): lines after `skip`, at most `limit`; 10008 for an unknown task instance.
    pub fn log(&self, task_instance: i64, skip: usize, limit: usize) -> Result<Value, DsError> {
        let task = self
            .instances
            .iter()
            .flat_map(|i| &i.tasks)
            .find(|t| t.id == task_instance)
            .ok_or_else(DsError::task_instance_not_found)?;
        let lines: Vec<&str> = task.log.iter().skip(skip).take(limit).map(String::as_str).collect();
        Ok(json!({ "lineNum": lines.len(), "message": lines.join("\n") }))
    }
}

impl Instance {
    fn running(&self) -> bool {
        !FINISHED.contains(&self.state.as_str())
    }
}

impl TaskRun {
    /// A final state sets the end time, any other clears it.
    fn set_state(&mut self, state: &str, now: &str) {
        self.state = state.to_string();
        self.end_time = TASK_FINISHED.contains(&state).then(|| now.to_string());
        self.log.push(format!("[INFO] {now} - task {} state: {state}", self.name));
    }
}

/// A JSON object with its keys in the given order and null values left out, as DS's Jackson writes
/// alert content (`NON_NULL`, field order); `json!` objects would sort their keys.
fn ordered_object(fields: &[(&str, Value)]) -> String {
    let fields: Vec<String> =
        fields.iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| format!("{}:{v}", json!(k))).collect();
    format!("{{{}}}", fields.join(","))
}

fn token_json(t: &AccessToken) -> Value {
    json!({
        "id": t.id, "userId": t.user_id, "token": t.token, "expireTime": t.expire_time,
        "createTime": t.create_time, "updateTime": t.create_time, "userName": USER,
    })
}

fn new_session_id() -> String {
    let hex = random_hex(32);
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

fn check_description(description: &str) -> Result<(), DsError> {
    if description.chars().count() > MAX_DESCRIPTION {
        return Err(DsError::description_too_long());
    }
    Ok(())
}

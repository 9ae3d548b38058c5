//! What the client sends and reads, and its DS JSON (§7.3–§7.5, §8, §9.1, §10).
//!
//! Field names that differ between families are not spelled here: the callers pass them in from
//! `family.rs`.

use jiff::tz::TimeZone;
use serde_json::{Map, Value, json};

use crate::domain::EpochMillis;
use crate::domain::execution::parse_report_time;
use crate::error::{Error, Result};

/// The `startParams` key of the marker that finds a 3.1 run again (§9.1: 3.1 does not answer the
/// instance id, but the instance keeps the start parameters in its `commandParam`).
pub(crate) const RUN_MARKER_KEY: &str = "dataportal_run_id";

/// A workflow definition as DS holds it: its code, release state and task codes by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DagSummary {
    /// The definition code.
    pub code: i64,
    /// Whether it is online (runnable and schedulable) or offline (editable).
    pub release_state: ReleaseState,
    /// Every task definition as (name, code), so that an update can keep the codes of the tasks.
    pub tasks: Vec<(String, i64)>,
}

/// The release state of a definition or schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReleaseState {
    /// Released: can run and be scheduled, cannot be edited.
    Online,
    /// Editable, not runnable.
    Offline,
}

impl ReleaseState {
    /// The DS name.
    pub(crate) fn as_ds(self) -> &'static str {
        match self {
            ReleaseState::Online => "ONLINE",
            ReleaseState::Offline => "OFFLINE",
        }
    }

    /// `ONLINE` is online; anything else (`OFFLINE`, missing) is offline.
    fn from_ds(value: Option<&str>) -> Self {
        if value == Some("ONLINE") { ReleaseState::Online } else { ReleaseState::Offline }
    }
}

/// A whole workflow definition to create or update: DS always takes the whole DAG (§13 #11).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkflowSpec {
    /// Unique in the project.
    pub name: String,
    /// Free text.
    pub description: String,
    /// The tenant; sent as `tenantCode` on 3.1 create and update only (3.2+ takes it per run).
    pub tenant: String,
    /// Global parameters as (prop, value), sent as direct IN VARCHAR properties.
    pub global_params: Vec<(String, String)>,
    /// Workflow timeout in minutes, 0 = none.
    pub timeout_minutes: u32,
    /// The tasks, each with a code from `gen_task_codes` (or kept from the definition).
    pub tasks: Vec<TaskSpec>,
    /// Edges (pre task code, post task code); pre 0 marks a root. Sent as given: every task needs
    /// at least one edge where it is the post task (§7.4).
    pub relations: Vec<(i64, i64)>,
    /// Canvas positions (task code, x, y) for the DS UI.
    pub locations: Vec<(i64, i32, i32)>,
}

/// One task of a workflow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskSpec {
    /// Its code (§6).
    pub code: i64,
    /// Unique in the workflow.
    pub name: String,
    /// Free text.
    pub description: String,
    /// What it runs.
    pub kind: TaskKind,
    /// Retries after a failure.
    pub retries: u32,
    /// Minutes between retries.
    pub retry_interval_minutes: u32,
    /// Minutes after which the task fails; `None` = no timeout.
    pub timeout_minutes: Option<u32>,
    /// `HIGHEST`, `HIGH`, `MEDIUM`, `LOW` or `LOWEST`; empty = `MEDIUM`.
    pub priority: String,
    /// The worker group; empty = `default`.
    pub worker_group: String,
}

/// What a task runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskKind {
    /// One SQL statement on a DS datasource.
    Sql {
        /// The datasource id (see `datasource_id`).
        datasource_id: i64,
        /// Its type as DS names it (`MYSQL`, `HIVE`, ...).
        db_type: String,
        /// The statement.
        sql: String,
    },
    /// A shell script.
    Shell {
        /// The script.
        script: String,
    },
    /// A Python script.
    Python {
        /// The script.
        script: String,
    },
    /// Waits for a task of another workflow (DS DEPENDENT task, same-day "today" dependency).
    Dependent {
        /// The project of the other workflow.
        project: i64,
        /// The other workflow's definition code.
        workflow: i64,
        /// The task code waited for.
        task: i64,
    },
}

/// A schedule of a workflow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleSpec {
    /// A Quartz crontab (6 or 7 fields, `?` in one of day-of-month or day-of-week, §8).
    pub quartz_cron: String,
    /// The time zone the crontab and the times are read in, e.g. `Asia/Shanghai`.
    pub timezone: String,
    /// First fire time, `yyyy-MM-dd HH:mm:ss`.
    pub start: String,
    /// Last fire time, `yyyy-MM-dd HH:mm:ss`.
    pub end: String,
    /// The alert group told about runs; 0 = none.
    pub warning_group: i64,
    /// The worker group; empty = `default`.
    pub worker_group: String,
    /// The tenant the runs use (sent on 3.2+, where the tenant belongs to the schedule).
    pub tenant: String,
}

/// A schedule as DS holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleInfo {
    /// The schedule id.
    pub id: i64,
    /// Its Quartz crontab.
    pub crontab: String,
    /// Its time zone.
    pub timezone: String,
    /// Whether it fires.
    pub online: bool,
}

/// How to start a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartSpec {
    /// The alert group told about the run; 0 = none.
    pub warning_group: i64,
    /// The worker group; empty = `default`.
    pub worker_group: String,
    /// The tenant the run uses (sent on 3.2+; 3.1 takes the definition's).
    pub tenant: String,
    /// Values overriding global parameters (`startParams`).
    pub params: Vec<(String, String)>,
}

/// A workflow run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkflowInstance {
    /// The instance id.
    pub id: i64,
    /// The definition code it runs.
    pub workflow_code: i64,
    /// Its name (DS derives it from the definition name and the start time).
    pub name: String,
    /// The DS state name (`RUNNING_EXECUTION`, `SUCCESS`, `FAILURE`, `STOP`, ...).
    pub state: String,
    /// When it started, `yyyy-MM-dd HH:mm:ss` as DS printed it (in the API's zone).
    pub start_time: Option<String>,
    /// When it ended, likewise.
    pub end_time: Option<String>,
    /// The instant `start_time` denotes.
    pub started_at: Option<EpochMillis>,
    /// The instant `end_time` denotes.
    pub ended_at: Option<EpochMillis>,
    /// How many times it ran (a rerun increments it).
    pub run_times: i32,
    /// The master that runs it.
    pub host: String,
    /// `START_PROCESS`, `SCHEDULER`, `REPEAT_RUNNING`, ...
    pub command_type: String,
}

/// A task run of a workflow run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskInstance {
    /// The task instance id (for `task_log`).
    pub id: i64,
    /// The task name.
    pub name: String,
    /// The task definition code.
    pub task_code: i64,
    /// `SQL`, `SHELL`, ...
    pub task_type: String,
    /// The DS state name.
    pub state: String,
    /// When it started, `yyyy-MM-dd HH:mm:ss` as DS printed it (in the API's zone).
    pub start_time: Option<String>,
    /// When it ended, likewise.
    pub end_time: Option<String>,
    /// The instant `start_time` denotes.
    pub started_at: Option<EpochMillis>,
    /// The instant `end_time` denotes.
    pub ended_at: Option<EpochMillis>,
    /// The worker that runs it.
    pub host: String,
    /// Retries so far.
    pub retry_times: i32,
    /// The worker's log file.
    pub log_path: String,
}

/// What to do with a run (§9.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecuteType {
    /// Stop a running instance.
    Stop,
    /// Run a finished instance again (same id, `run_times` + 1).
    Rerun,
}

impl ExecuteType {
    /// The DS `executeType`.
    pub(crate) fn as_ds(self) -> &'static str {
        match self {
            ExecuteType::Stop => "STOP",
            ExecuteType::Rerun => "REPEAT_RUNNING",
        }
    }
}

/// A piece of a task log (§10.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogChunk {
    /// The number of lines in `message`; add it to `skip_lines` for the next piece.
    pub line_num: u32,
    /// The lines; empty at the end of the log.
    pub message: String,
}

impl WorkflowSpec {
    /// `taskDefinitionJson`: an array of task definitions (§7.3).
    pub(crate) fn task_definition_json(&self) -> Value {
        Value::Array(self.tasks.iter().map(TaskSpec::to_ds).collect())
    }

    /// `taskRelationJson`: versions are sent as 0, the server fills them in (§7.2 step 7, §7.4).
    pub(crate) fn task_relation_json(&self) -> Value {
        Value::Array(
            self.relations
                .iter()
                .map(|&(pre, post)| {
                    json!({
                        "name": "",
                        "preTaskCode": pre,
                        "preTaskVersion": 0,
                        "postTaskCode": post,
                        "postTaskVersion": 0,
                        "conditionType": "NONE",
                        "conditionParams": {},
                    })
                })
                .collect(),
        )
    }

    /// `locations` (§7.5).
    pub(crate) fn locations_json(&self) -> Value {
        Value::Array(
            self.locations.iter().map(|&(code, x, y)| json!({ "taskCode": code, "x": x, "y": y })).collect(),
        )
    }

    /// `globalParams`: a list of direct IN VARCHAR properties (§7.5).
    pub(crate) fn global_params_json(&self) -> Value {
        Value::Array(
            self.global_params
                .iter()
                .map(|(prop, value)| json!({ "prop": prop, "direct": "IN", "type": "VARCHAR", "value": value }))
                .collect(),
        )
    }
}

impl TaskSpec {
    /// One `taskDefinitionJson` element (§7.3).
    pub(crate) fn to_ds(&self) -> Value {
        let (timeout_flag, notify, timeout) = match self.timeout_minutes {
            Some(minutes) => ("OPEN", Value::from("FAILED"), minutes),
            None => ("CLOSE", Value::Null, 0),
        };
        json!({
            "code": self.code,
            "version": 0,
            "name": self.name,
            "description": self.description,
            "taskType": self.kind.task_type(),
            "taskParams": self.kind.task_params(),
            "flag": "YES",
            "isCache": "NO",
            "taskPriority": or_default(&self.priority, "MEDIUM"),
            "workerGroup": or_default(&self.worker_group, "default"),
            "environmentCode": -1,
            "failRetryTimes": self.retries,
            "failRetryInterval": self.retry_interval_minutes,
            "timeoutFlag": timeout_flag,
            "timeoutNotifyStrategy": notify,
            "timeout": timeout,
            "delayTime": 0,
            "cpuQuota": -1,
            "memoryMax": -1,
            "taskGroupId": 0,
            "taskGroupPriority": 0,
            "taskExecuteType": "BATCH",
        })
    }
}

impl TaskKind {
    /// The DS plugin name.
    pub(crate) fn task_type(&self) -> &'static str {
        match self {
            TaskKind::Sql { .. } => "SQL",
            TaskKind::Shell { .. } => "SHELL",
            TaskKind::Python { .. } => "PYTHON",
            TaskKind::Dependent { .. } => "DEPENDENT",
        }
    }

    /// `taskParams` as an object; `localParams` and `resourceList` are always present because some
    /// plugins iterate them without a null check.
    pub(crate) fn task_params(&self) -> Value {
        match self {
            // §7.3 SQL; `sendEmail` false keeps query results out of the alert channel.
            TaskKind::Sql { datasource_id, db_type, sql } => json!({
                "type": db_type,
                "datasource": datasource_id,
                "sql": sql,
                "sqlType": if is_query(sql) { "0" } else { "1" },
                "preStatements": [],
                "postStatements": [],
                "displayRows": 10,
                "sendEmail": false,
                "connParams": "",
                "localParams": [],
                "resourceList": [],
            }),
            TaskKind::Shell { script } | TaskKind::Python { script } => {
                json!({ "rawScript": script, "localParams": [], "resourceList": [] })
            }
            // The shape pydolphinscheduler sends for `Dependent(And(DependentItem(...)))`.
            TaskKind::Dependent { project, workflow, task } => json!({
                "dependence": {
                    "relation": "AND",
                    "dependTaskList": [{
                        "relation": "AND",
                        "dependItemList": [{
                            "projectCode": project,
                            "definitionCode": workflow,
                            "depTaskCode": task,
                            "cycle": "day",
                            "dateValue": "today",
                        }],
                    }],
                },
                "localParams": [],
                "resourceList": [],
            }),
        }
    }
}

impl ScheduleSpec {
    /// The `schedule` form field (§8).
    pub(crate) fn schedule_json(&self) -> Value {
        json!({
            "startTime": self.start,
            "endTime": self.end,
            "crontab": self.quartz_cron,
            "timezoneId": self.timezone,
        })
    }
}

/// `startParams`: a flat JSON object (§9.1: the object form works on every family), with the run
/// marker first when there is one.
pub(crate) fn start_params_json(marker: Option<&str>, params: &[(String, String)]) -> Value {
    let mut object = Map::new();
    if let Some(marker) = marker {
        object.insert(RUN_MARKER_KEY.to_owned(), Value::from(marker));
    }
    for (key, value) in params {
        object.insert(key.clone(), Value::from(value.as_str()));
    }
    Value::Object(object)
}

/// `warningType` for an alert group: everything when there is a group, nothing otherwise (§11.1).
pub(crate) fn warning_type(group: i64) -> &'static str {
    if group > 0 { "ALL" } else { "NONE" }
}

/// `value`, or `default` when it is blank.
pub(crate) fn or_default<'a>(value: &'a str, default: &'a str) -> &'a str {
    if value.trim().is_empty() { default } else { value }
}

/// Whether a statement returns rows (DS `sqlType` 0: the result is logged) rather than changing
/// data (`sqlType` 1). Leading comments and parentheses are skipped.
pub(crate) fn is_query(sql: &str) -> bool {
    let mut rest = sql;
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '(');
        if let Some(after) = rest.strip_prefix("--") {
            rest = after.split_once('\n').map_or("", |(_, tail)| tail);
        } else if let Some(after) = rest.strip_prefix("/*") {
            rest = after.split_once("*/").map_or("", |(_, tail)| tail);
        } else {
            break;
        }
    }
    let word: String = rest.chars().take_while(|c| c.is_ascii_alphabetic()).collect();
    matches!(
        word.to_ascii_lowercase().as_str(),
        "select" | "with" | "show" | "desc" | "describe" | "explain" | "values"
    )
}

/// An integer field; DS sends numbers, but a numeric string is accepted too.
pub(crate) fn int(value: &Value, key: &str) -> Option<i64> {
    match value.get(key)? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// The instant a DS date denotes: `yyyy-MM-dd HH:mm:ss` read in `zone` (or a date with an offset).
fn instant(date: Option<&str>, zone: &TimeZone) -> Option<EpochMillis> {
    parse_report_time(date?, zone)
}

/// A string field (`None` when missing or null).
pub(crate) fn text(value: &Value, key: &str) -> Option<String> {
    value.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// The rows of a list answer: a bare array, or the `totalList` of a `PageInfo` (§1).
pub(crate) fn rows(data: &Value) -> &[Value] {
    match data {
        Value::Array(rows) => rows,
        other => other.get("totalList").and_then(Value::as_array).map_or(&[], Vec::as_slice),
    }
}

/// The error for an answer that lacks what the contract promises.
pub(crate) fn malformed(what: &str, missing: &str) -> Error {
    Error::internal(format!("DolphinScheduler's answer to {what} has no {missing}"))
}

impl DagSummary {
    /// Reads a DagData (§7.1) whose definition object is under `definition_key`.
    pub(crate) fn from_ds(data: &Value, definition_key: &str, what: &str) -> Result<Self> {
        let definition = data.get(definition_key).ok_or_else(|| malformed(what, definition_key))?;
        let code = int(definition, "code").ok_or_else(|| malformed(what, "definition code"))?;
        let release_state = ReleaseState::from_ds(definition.get("releaseState").and_then(Value::as_str));
        let tasks = data
            .get("taskDefinitionList")
            .and_then(Value::as_array)
            .map(|tasks| {
                tasks.iter().filter_map(|task| Some((text(task, "name")?, int(task, "code")?))).collect()
            })
            .unwrap_or_default();
        Ok(DagSummary { code, release_state, tasks })
    }
}

impl ScheduleInfo {
    /// Reads a Schedule (§8).
    pub(crate) fn from_ds(value: &Value) -> Option<Self> {
        Some(ScheduleInfo {
            id: int(value, "id")?,
            crontab: text(value, "crontab").unwrap_or_default(),
            timezone: text(value, "timezoneId").unwrap_or_default(),
            online: value.get("releaseState").and_then(Value::as_str) == Some("ONLINE"),
        })
    }
}

impl WorkflowInstance {
    /// Reads an instance (§10.1) whose definition code is under `code_field`, its dates printed in
    /// `zone`.
    pub(crate) fn from_ds(value: &Value, code_field: &str, zone: &TimeZone, what: &str) -> Result<Self> {
        let start_time = text(value, "startTime");
        let end_time = text(value, "endTime");
        Ok(WorkflowInstance {
            id: int(value, "id").ok_or_else(|| malformed(what, "instance id"))?,
            workflow_code: int(value, code_field).unwrap_or_default(),
            name: text(value, "name").unwrap_or_default(),
            state: text(value, "state").unwrap_or_default(),
            started_at: instant(start_time.as_deref(), zone),
            ended_at: instant(end_time.as_deref(), zone),
            start_time,
            end_time,
            run_times: int(value, "runTimes").and_then(|n| i32::try_from(n).ok()).unwrap_or_default(),
            host: text(value, "host").unwrap_or_default(),
            command_type: text(value, "commandType").unwrap_or_default(),
        })
    }
}

impl TaskInstance {
    /// Reads a task instance (§10.2), its dates printed in `zone`.
    pub(crate) fn from_ds(value: &Value, zone: &TimeZone, what: &str) -> Result<Self> {
        let start_time = text(value, "startTime");
        let end_time = text(value, "endTime");
        Ok(TaskInstance {
            id: int(value, "id").ok_or_else(|| malformed(what, "task instance id"))?,
            name: text(value, "name").unwrap_or_default(),
            task_code: int(value, "taskCode").unwrap_or_default(),
            task_type: text(value, "taskType").unwrap_or_default(),
            state: text(value, "state").unwrap_or_default(),
            started_at: instant(start_time.as_deref(), zone),
            ended_at: instant(end_time.as_deref(), zone),
            start_time,
            end_time,
            host: text(value, "host").unwrap_or_default(),
            retry_times: int(value, "retryTimes").and_then(|n| i32::try_from(n).ok()).unwrap_or_default(),
            log_path: text(value, "logPath").unwrap_or_default(),
        })
    }
}

impl LogChunk {
    /// Reads `{lineNum, message}`, or a bare string (§10.3: some releases answer the text only).
    pub(crate) fn from_ds(data: &Value) -> Self {
        match data {
            Value::String(message) => LogChunk { line_num: count_lines(message), message: message.clone() },
            other => {
                let message = text(other, "message").unwrap_or_default();
                let line_num = int(other, "lineNum")
                    .and_then(|n| u32::try_from(n).ok())
                    .unwrap_or_else(|| count_lines(&message));
                LogChunk { line_num, message }
            }
        }
    }
}

fn count_lines(text: &str) -> u32 {
    u32::try_from(text.lines().count()).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(kind: TaskKind) -> TaskSpec {
        TaskSpec {
            code: 11,
            name: "load".into(),
            description: "d".into(),
            kind,
            retries: 2,
            retry_interval_minutes: 3,
            timeout_minutes: None,
            priority: String::new(),
            worker_group: String::new(),
        }
    }

    #[test]
    fn task_definition_has_every_field_of_the_contract() {
        let sql =
            TaskKind::Sql { datasource_id: 3, db_type: "MYSQL".into(), sql: "insert into t select 1".into() };
        let element = task(sql).to_ds();
        assert_eq!(
            element,
            json!({
                "code": 11, "version": 0, "name": "load", "description": "d", "taskType": "SQL",
                "taskParams": {
                    "type": "MYSQL", "datasource": 3, "sql": "insert into t select 1", "sqlType": "1",
                    "preStatements": [], "postStatements": [], "displayRows": 10, "sendEmail": false,
                    "connParams": "", "localParams": [], "resourceList": []
                },
                "flag": "YES", "isCache": "NO", "taskPriority": "MEDIUM", "workerGroup": "default",
                "environmentCode": -1, "failRetryTimes": 2, "failRetryInterval": 3,
                "timeoutFlag": "CLOSE", "timeoutNotifyStrategy": null, "timeout": 0, "delayTime": 0,
                "cpuQuota": -1, "memoryMax": -1, "taskGroupId": 0, "taskGroupPriority": 0,
                "taskExecuteType": "BATCH"
            })
        );
    }

    #[test]
    fn a_timeout_opens_the_flag_and_fails_the_task() {
        let mut spec = task(TaskKind::Shell { script: "echo 1".into() });
        spec.timeout_minutes = Some(30);
        spec.priority = "HIGH".into();
        spec.worker_group = "etl".into();
        let element = spec.to_ds();
        assert_eq!(element["timeoutFlag"], "OPEN");
        assert_eq!(element["timeoutNotifyStrategy"], "FAILED");
        assert_eq!(element["timeout"], 30);
        assert_eq!(element["taskPriority"], "HIGH");
        assert_eq!(element["workerGroup"], "etl");
        assert_eq!(element["taskType"], "SHELL");
        assert_eq!(
            element["taskParams"],
            json!({"rawScript": "echo 1", "localParams": [], "resourceList": []})
        );
    }

    #[test]
    fn python_sends_a_raw_script() {
        let element = task(TaskKind::Python { script: "print(1)".into() }).to_ds();
        assert_eq!(element["taskType"], "PYTHON");
        assert_eq!(element["taskParams"]["rawScript"], "print(1)");
    }

    #[test]
    fn dependent_params_follow_pydolphinscheduler() {
        let params = TaskKind::Dependent { project: 1, workflow: 2, task: 3 }.task_params();
        assert_eq!(
            params["dependence"],
            json!({
                "relation": "AND",
                "dependTaskList": [{"relation": "AND", "dependItemList": [{
                    "projectCode": 1, "definitionCode": 2, "depTaskCode": 3, "cycle": "day", "dateValue": "today"
                }]}]
            })
        );
        assert_eq!(TaskKind::Dependent { project: 1, workflow: 2, task: 3 }.task_type(), "DEPENDENT");
    }

    #[test]
    fn queries_are_told_from_statements() {
        assert!(is_query("SELECT 1"));
        assert!(is_query("  -- note\n/* c */ (select 1) union select 2"));
        assert!(is_query("with a as (select 1) select * from a"));
        assert!(is_query("show tables"));
        assert!(!is_query("insert into t select 1"));
        assert!(!is_query("INSERT OVERWRITE TABLE t SELECT 1"));
        assert!(!is_query("create table t as select 1"));
        assert!(!is_query("-- only a comment"));
        assert!(!is_query(""));
    }

    fn workflow() -> WorkflowSpec {
        WorkflowSpec {
            name: "wf".into(),
            description: String::new(),
            tenant: "etl".into(),
            global_params: vec![("dt".into(), "$[yyyyMMdd]".into())],
            timeout_minutes: 0,
            tasks: vec![task(TaskKind::Shell { script: "true".into() })],
            relations: vec![(0, 11), (11, 12)],
            locations: vec![(11, 100, 200)],
        }
    }

    #[test]
    fn relations_locations_and_global_params_have_the_contract_shape() {
        let spec = workflow();
        assert_eq!(
            spec.task_relation_json(),
            json!([
                {"name": "", "preTaskCode": 0, "preTaskVersion": 0, "postTaskCode": 11, "postTaskVersion": 0,
                 "conditionType": "NONE", "conditionParams": {}},
                {"name": "", "preTaskCode": 11, "preTaskVersion": 0, "postTaskCode": 12, "postTaskVersion": 0,
                 "conditionType": "NONE", "conditionParams": {}}
            ])
        );
        assert_eq!(spec.locations_json(), json!([{"taskCode": 11, "x": 100, "y": 200}]));
        assert_eq!(
            spec.global_params_json(),
            json!([{"prop": "dt", "direct": "IN", "type": "VARCHAR", "value": "$[yyyyMMdd]"}])
        );
        assert_eq!(spec.task_definition_json().as_array().map(Vec::len), Some(1));
    }

    #[test]
    fn schedule_and_start_params_are_flat_objects() {
        let schedule = ScheduleSpec {
            quartz_cron: "0 0 2 * * ? *".into(),
            timezone: "UTC".into(),
            start: "2024-01-01 00:00:00".into(),
            end: "2124-01-01 00:00:00".into(),
            warning_group: 0,
            worker_group: String::new(),
            tenant: "t".into(),
        };
        assert_eq!(
            schedule.schedule_json(),
            json!({"startTime": "2024-01-01 00:00:00", "endTime": "2124-01-01 00:00:00",
                   "crontab": "0 0 2 * * ? *", "timezoneId": "UTC"})
        );
        let params = vec![("k".to_owned(), "v".to_owned())];
        assert_eq!(start_params_json(Some("m-1"), &params), json!({"dataportal_run_id": "m-1", "k": "v"}));
        assert_eq!(start_params_json(None, &[]), json!({}));
        assert_eq!(warning_type(0), "NONE");
        assert_eq!(warning_type(4), "ALL");
    }

    #[test]
    fn answers_are_read_leniently() {
        let dag = json!({
            "workflowDefinition": {"code": 42, "releaseState": "ONLINE"},
            "taskDefinitionList": [{"name": "a", "code": 1}, {"name": "b", "code": "2"}]
        });
        let summary = DagSummary::from_ds(&dag, "workflowDefinition", "read").expect("dag");
        assert_eq!(summary.code, 42);
        assert_eq!(summary.release_state, ReleaseState::Online);
        assert_eq!(summary.tasks, vec![("a".to_owned(), 1), ("b".to_owned(), 2)]);
        assert!(DagSummary::from_ds(&dag, "processDefinition", "read").is_err());

        let page = json!({"totalList": [{"id": 1}], "total": 1});
        assert_eq!(rows(&page).len(), 1);
        assert_eq!(rows(&json!([{"id": 1}, {"id": 2}])).len(), 2);
        assert!(rows(&Value::Null).is_empty());

        assert_eq!(LogChunk::from_ds(&json!({"lineNum": 2, "message": "a\nb"})).line_num, 2);
        assert_eq!(LogChunk::from_ds(&json!("a\nb\nc")).line_num, 3);

        let instance = json!({"id": 7, "processDefinitionCode": 9, "state": "SUCCESS", "endTime": null,
                              "runTimes": 2, "startTime": "2024-01-01 00:00:00"});
        let shanghai = TimeZone::get("Asia/Shanghai").unwrap();
        let parsed = WorkflowInstance::from_ds(&instance, "processDefinitionCode", &shanghai, "read")
            .expect("instance");
        assert_eq!((parsed.id, parsed.workflow_code, parsed.run_times), (7, 9, 2));
        assert_eq!((parsed.end_time, parsed.ended_at), (None, None));
        assert_eq!(parsed.start_time.as_deref(), Some("2024-01-01 00:00:00"));
        // Midnight in Shanghai is 16:00 UTC the day before.
        assert_eq!(parsed.started_at, Some(1_704_038_400_000));
    }

    #[test]
    fn task_dates_are_read_in_the_zone_the_api_prints_them_in() {
        let task = json!({"id": 3, "taskCode": 5, "state": "SUCCESS",
                          "startTime": "2024-07-01 08:00:00", "endTime": "2024-07-01 08:00:09"});
        let new_york = TimeZone::get("America/New_York").unwrap();
        let parsed = TaskInstance::from_ds(&task, &new_york, "read").expect("task");
        // 08:00 in New York in July (EDT, UTC-4) is 12:00 UTC.
        assert_eq!(parsed.started_at, Some(1_719_835_200_000));
        assert_eq!(parsed.ended_at, Some(1_719_835_209_000));
        let parsed = TaskInstance::from_ds(&task, &TimeZone::UTC, "read").expect("task");
        assert_eq!(parsed.started_at, Some(1_719_820_800_000));
    }
}

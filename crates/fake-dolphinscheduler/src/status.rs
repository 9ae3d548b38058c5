//! Business errors: DS's `Status` codes with their English messages (contract §3). They travel in the
//! envelope with HTTP 200 (or 201 on creates), never as HTTP errors.

use crate::family::Names;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DsError {
    pub code: i32,
    pub msg: String,
    /// Thrown before the controller ran (parameter binding): DS's exception handler answers it with
    /// HTTP 200 even on endpoints that answer 201 (§1).
    pub raised: bool,
}

impl DsError {
    fn new(code: i32, msg: impl Into<String>) -> Self {
        DsError { code, msg: msg.into(), raised: false }
    }

    pub fn internal(detail: &str) -> Self {
        Self::new(10000, format!("Internal Server Error: {detail}"))
    }

    pub fn invalid_param(what: &str) -> Self {
        Self::new(10001, format!("request parameter {what} is not valid"))
    }

    /// A required parameter missing or not convertible. DS routes these through the endpoint's
    /// `@ApiException` status; the shared spec settles on 10001.
    pub fn binding(what: &str) -> Self {
        DsError { raised: true, ..Self::invalid_param(what) }
    }

    /// A path variable that is not a number: Spring's conversion error, answered as 10000.
    pub fn path_conversion(segment: &str) -> Self {
        let detail = format!(
            "Failed to convert value of type 'java.lang.String' to required type 'java.lang.Long'; \
             nested exception is java.lang.NumberFormatException: For input string: \"{segment}\""
        );
        DsError { raised: true, ..Self::internal(&detail) }
    }

    pub fn timeout_invalid() -> Self {
        Self::new(10002, "task timeout parameter is not valid")
    }

    pub fn user_name_null() -> Self {
        Self::new(10004, "user name is null")
    }

    pub fn task_instance_not_found() -> Self {
        Self::new(10008, "task instance not found")
    }

    pub fn user_not_exist(id: i64) -> Self {
        Self::new(10010, format!("user {id} not exists"))
    }

    pub fn login_failed() -> Self {
        Self::new(10013, "user name or password error")
    }

    pub fn tenant_not_exist(tenant: &str) -> Self {
        Self::new(10017, format!("tenant [{tenant}] not exists"))
    }

    /// What a project-scoped call answers for a missing project (3.1.1's `checkProjectAndAuth`,
    /// `PROJECT_NOT_EXIST`).
    pub fn project_not_found() -> Self {
        Self::new(10190, "This project was not found. Please refresh page.")
    }

    pub fn project_exists(name: &str) -> Self {
        Self::new(10019, format!("project {name} already exists"))
    }

    /// 3.1 names a missing schedule 10022; 3.2+ answer 10203.
    pub fn schedule_not_exist(id: i64, v3_1: bool) -> Self {
        if v3_1 {
            Self::new(10022, format!("scheduler crontab {id} does not exist"))
        } else {
            Self::new(10203, format!("schedule {id} does not exist"))
        }
    }

    pub fn schedule_online_no_update() -> Self {
        Self::new(10023, "online status does not allow update operations")
    }

    pub fn cron_invalid() -> Self {
        Self::new(10024, "scheduler crontab expression validation failure")
    }

    pub fn schedule_release_unchanged(state: &str) -> Self {
        Self::new(10126, format!("schedule release is already {state}"))
    }

    pub fn schedule_times_same() -> Self {
        Self::new(10141, "The start time must not be the same as the end")
    }

    pub fn definition_running(n: usize) -> Self {
        Self::new(10163, format!("delete definition failed: {n} instances still executing"))
    }

    pub fn definition_name_exists(names: &Names, name: &str) -> Self {
        Self::new(10168, format!("{} definition name {name} already exists", names.word))
    }

    pub fn schedule_exists(definition: i64, schedule: i64) -> Self {
        Self::new(10204, format!("workflow {definition} schedule {schedule} already exists"))
    }

    pub fn token_create_failed() -> Self {
        Self::new(70010, "create access token error")
    }

    pub fn instance_not_exist(names: &Names, id: i64) -> Self {
        Self::new(50001, format!("{} instance {id} does not exist", names.word))
    }

    pub fn definition_not_exist(names: &Names, what: &str) -> Self {
        Self::new(50003, format!("{} definition {what} does not exist", names.word))
    }

    pub fn definition_not_online(names: &Names, code: i64, version: i32) -> Self {
        Self::new(50004, format!("{} definition {code} version {version} not online", names.word))
    }

    /// DS 3.1 `PROCESS_INSTANCE_STATE_OPERATION_ERROR`, with the instance's name.
    pub fn instance_state_forbids(names: &Names, name: &str, state: &str, op: &str) -> Self {
        Self::new(
            50006,
            format!("the status of {} instance {name} is {state},Cannot perform {op} operation", names.word),
        )
    }

    pub fn definition_not_editable(names: &Names, code: i64) -> Self {
        Self::new(50008, format!("{} definition {code} does not allow edit", names.word))
    }

    pub fn data_not_valid(what: &str) -> Self {
        Self::new(50017, format!("data {what} not valid"))
    }

    pub fn dag_cycle(names: &Names) -> Self {
        Self::new(50019, format!("{} DAG has cycle", names.word))
    }

    pub fn node_param_invalid(names: &Names, node: &str) -> Self {
        Self::new(50020, format!("{} node {node} parameter invalid", names.word))
    }

    pub fn definition_online(names: &Names, name: &str) -> Self {
        Self::new(50021, format!("{} definition [{name}] is already online", names.word))
    }

    pub fn task_not_exist(codes: &str) -> Self {
        Self::new(50030, format!("task definition [{codes}] does not exist"))
    }

    pub fn dag_empty(names: &Names) -> Self {
        Self::new(50035, format!("{} dag is empty", names.word))
    }

    pub fn relation_invalid(names: &Names) -> Self {
        Self::new(50036, format!("check {} task relation error", names.word))
    }

    pub fn start_after_end() -> Self {
        Self::new(80003, "start time bigger than end time error")
    }

    pub fn description_too_long() -> Self {
        Self::new(1400004, "description is too long")
    }
}

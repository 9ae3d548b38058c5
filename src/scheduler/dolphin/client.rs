//! The calls the service makes to DolphinScheduler, in the order of §12.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use futures_util::future::try_join_all;
use serde_json::Value;
use tokio::sync::OnceCell;
use tokio::time::Instant;

use super::family::Started;
use super::model::{
    DagSummary, ExecuteType, LogChunk, ReleaseState, ScheduleInfo, ScheduleSpec, StartSpec, TaskInstance,
    WorkflowInstance, WorkflowSpec, int, malformed, or_default, rows, start_params_json, text, warning_type,
};
use super::transport::{Call, Outcome, Transport, outcome_error, unavailable};
use super::{DolphinConfig, Family};
use crate::error::{Error, ErrorKind, Reason, Result};

/// `gen-task-codes` answers at most 100 codes per call (§6).
const CODES_PER_CALL: usize = 100;
/// How long after a start call its run may still appear. 3.1/3.2 answer before their master has
/// taken the command from its queue (a busy or failing-over master takes seconds to minutes), and a
/// lost answer on any family leaves it unknown whether DS started the run at all. Within this window
/// a start whose run is not seen yet is looked for, never sent again; after it, a start that left
/// no run is taken as never made.
pub const START_SETTLE: Duration = Duration::from_secs(60);
/// First pause between lookups of a started run; doubled up to `RUN_LOOKUP_MAX_PAUSE`.
const RUN_LOOKUP_FIRST_PAUSE: Duration = Duration::from_millis(20);
const RUN_LOOKUP_MAX_PAUSE: Duration = Duration::from_millis(500);
/// Instances examined per lookup of a run by its marker: the newest first (§9.1).
const RUN_LOOKUP_PAGE: u32 = 20;
/// Definitions examined when a name lookup is confirmed by the list (those containing the name).
const NAME_SEARCH_PAGE: u32 = 100;

/// What DS answered to a start (§9.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartReceipt {
    /// 3.3+: the instance id.
    Instance(i64),
    /// 3.2: a trigger code; the master creates the instance a little later.
    Trigger(i64),
    /// 3.1: the start was accepted; the master creates the instance a little later.
    Accepted,
}

/// A DolphinScheduler client. Cheap to clone; clones share the connection pool, the token, the
/// circuit breaker, the detected family and the project cache.
#[derive(Clone)]
pub struct DolphinClient {
    inner: Arc<Inner>,
}

struct Inner {
    transport: Transport,
    configured: Option<Family>,
    detected: OnceCell<Family>,
    /// A project to run the family probes in; 0 until one is known (project codes are never 0).
    known_project: AtomicI64,
    /// Project codes by name (projects are never renamed or deleted by the service).
    projects: Mutex<HashMap<String, i64>>,
    /// The zone of DS's JVMs: API dates are in it unless the user has a zone of its own.
    server_zone: jiff::tz::TimeZone,
    /// The zone of the API's dates, once the user's settings were read (every [`DolphinClient::ping`]
    /// reads them again, so a change of the user's zone is followed).
    api_zone: RwLock<Option<jiff::tz::TimeZone>>,
}

impl fmt::Debug for DolphinClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DolphinClient")
            .field("base_url", &self.inner.transport.base_url())
            .field("family", &self.inner.configured.or_else(|| self.inner.detected.get().copied()))
            .finish_non_exhaustive()
    }
}

impl DolphinClient {
    /// A client of the DS at `config.base_url`; sends nothing until the first call.
    pub fn new(config: DolphinConfig) -> Result<Self> {
        let transport = Transport::new(&config)?;
        Ok(Self {
            inner: Arc::new(Inner {
                transport,
                configured: config.family,
                detected: OnceCell::new(),
                known_project: AtomicI64::new(0),
                projects: Mutex::new(HashMap::new()),
                server_zone: config.server_timezone,
                api_zone: RwLock::new(None),
            }),
        })
    }

    fn transport(&self) -> &Transport {
        &self.inner.transport
    }

    /// The version family: the configured one, or detected once with read-only probes in a known
    /// project (see [`DolphinClient::note_project`]) or else the first project DS lists, and cached.
    /// Fails when it must be detected and DS has no project yet.
    pub async fn family(&self) -> Result<Family> {
        if let Some(family) = self.inner.configured.or_else(|| self.inner.detected.get().copied()) {
            return Ok(family);
        }
        let project = match self.inner.known_project.load(Ordering::Relaxed) {
            0 => {
                let call = Call::get("projects/list", "list projects");
                let projects = self.transport().call(&call).await?;
                rows(&projects).iter().find_map(|project| int(project, "code")).ok_or_else(|| {
                    Error::new(
                        ErrorKind::FailedPrecondition,
                        Reason::DsNotConfigured,
                        "cannot detect the DolphinScheduler version: it has no project to probe in yet; \
                         configure the family (3.1, 3.2 or 3.3+) or create a project first",
                    )
                })?
            }
            known => known,
        };
        self.family_in(project).await
    }

    /// Tells the client a project it may run the family probes in (the first one told is used).
    /// [`DolphinClient::ensure_project`] and every call taking a project do so themselves.
    pub fn note_project(&self, project: i64) {
        // Only the first project counts; a failed exchange means one is known already.
        let _ = self.inner.known_project.compare_exchange(0, project, Ordering::Relaxed, Ordering::Relaxed);
    }

    /// The family, detected in `project` if need be.
    async fn family_in(&self, project: i64) -> Result<Family> {
        self.note_project(project);
        if let Some(family) = self.inner.configured {
            return Ok(family);
        }
        let transport = self.transport();
        self.inner.detected.get_or_try_init(|| Family::detect(transport, project)).await.copied()
    }

    /// Checks that DS answers and accepts the credentials (`GET users/get-user-info`), and notes
    /// the user's time zone.
    pub async fn ping(&self) -> Result<()> {
        self.read_api_zone().await.map(drop)
    }

    /// The zone the API prints dates in: the user's `timeZone` when it has one, else the zone of
    /// DS's JVMs (DS formats every `Date` of its JSON in the request user's zone, falling back to
    /// the JVM's). Read once, then cached until the next [`DolphinClient::ping`].
    pub async fn api_zone(&self) -> Result<jiff::tz::TimeZone> {
        let cached = self.inner.api_zone.read().unwrap_or_else(PoisonError::into_inner).clone();
        match cached {
            Some(zone) => Ok(zone),
            None => self.read_api_zone().await,
        }
    }

    async fn read_api_zone(&self) -> Result<jiff::tz::TimeZone> {
        let user = self.transport().call(&Call::get("users/get-user-info", "read the current user")).await?;
        let zone = match text(&user, "timeZone").filter(|name| !name.trim().is_empty()) {
            Some(name) => jiff::tz::TimeZone::get(name.trim()).unwrap_or_else(|_| {
                tracing::warn!(zone = %name, "the DolphinScheduler user's time zone is unknown here; \
                               reading its dates in DS_SERVER_TIMEZONE");
                self.inner.server_zone.clone()
            }),
            None => self.inner.server_zone.clone(),
        };
        *self.inner.api_zone.write().unwrap_or_else(PoisonError::into_inner) = Some(zone.clone());
        Ok(zone)
    }

    /// HTTP requests sent so far (each retry and each request of a token bootstrap counts).
    pub fn calls(&self) -> u64 {
        self.transport().calls()
    }

    /// The code of the project named `name`, created when missing (§5: there is no lookup by name,
    /// so the whole list is read). Cached per name.
    pub async fn ensure_project(&self, name: &str) -> Result<i64> {
        let cached = self.inner.projects.lock().unwrap_or_else(PoisonError::into_inner).get(name).copied();
        if let Some(code) = cached {
            return Ok(code);
        }
        let code = match self.find_project(name).await? {
            Some(code) => code,
            None => {
                let call = Call::post("projects", format!("create project {name}"))
                    .form("projectName", name)
                    .form("description", "");
                match self.transport().exchange(&call).await?.outcome() {
                    Outcome::Data(project) => {
                        int(&project, "code").ok_or_else(|| malformed(call.what(), "code"))?
                    }
                    // Created concurrently by someone else: take theirs.
                    Outcome::Refused { code: 10019, .. } => {
                        self.find_project(name).await?.ok_or_else(|| malformed("list projects", name))?
                    }
                    other => return Err(outcome_error(other, &call)),
                }
            }
        };
        self.inner.projects.lock().unwrap_or_else(PoisonError::into_inner).insert(name.to_owned(), code);
        self.note_project(code);
        Ok(code)
    }

    async fn find_project(&self, name: &str) -> Result<Option<i64>> {
        let projects = self.transport().call(&Call::get("projects/list", "list projects")).await?;
        Ok(rows(&projects)
            .iter()
            .find(|project| project.get("name").and_then(Value::as_str) == Some(name))
            .and_then(|project| int(project, "code")))
    }

    /// `n` new task codes, in batches of at most 100 sent concurrently (§6).
    pub async fn gen_task_codes(&self, project: i64, n: usize) -> Result<Vec<i64>> {
        self.note_project(project);
        let path = format!("projects/{project}/task-definition/gen-task-codes");
        let batches = (0..n).step_by(CODES_PER_CALL).map(|start| {
            let count = (n - start).min(CODES_PER_CALL);
            let call = Call::get(path.clone(), format!("generate {count} task codes")).query("genNum", count);
            async move {
                let data = self.transport().call(&call).await?;
                let codes: Vec<i64> = data
                    .as_array()
                    .map(|codes| codes.iter().filter_map(Value::as_i64).collect())
                    .unwrap_or_default();
                if codes.len() == count { Ok(codes) } else { Err(malformed(call.what(), "codes")) }
            }
        });
        Ok(try_join_all(batches).await?.into_iter().flatten().collect())
    }

    /// The definition named `name` in `project`, if any (§7.1 query-by-name; `50003` = none,
    /// confirmed by the definition list where that answer can be wrong).
    pub async fn find_workflow(&self, project: i64, name: &str) -> Result<Option<DagSummary>> {
        let family = self.family_in(project).await?;
        let definitions = family.definitions(project);
        let call = Call::get(format!("{definitions}/query-by-name"), format!("find workflow {name}"))
            .query("name", name);
        let dag = match self.transport().exchange(&call).await?.outcome() {
            Outcome::Data(dag) => dag,
            Outcome::Refused { code: 50003, .. } if family.name_lookup_needs_a_tenant() => {
                let list = Call::get(definitions.clone(), format!("look for workflow {name}"))
                    .query("searchVal", name)
                    .query("pageNo", 1)
                    .query("pageSize", NAME_SEARCH_PAGE);
                let page = self.transport().call(&list).await?;
                // searchVal matches names that contain it: only the same name counts.
                let code = rows(&page)
                    .iter()
                    .find(|d| text(d, "name").as_deref() == Some(name))
                    .and_then(|d| int(d, "code"));
                let Some(code) = code else { return Ok(None) };
                let read = Call::get(format!("{definitions}/{code}"), format!("read workflow {name}"));
                self.transport().call(&read).await?
            }
            Outcome::Refused { code: 50003, .. } => return Ok(None),
            other => return Err(outcome_error(other, &call)),
        };
        DagSummary::from_ds(&dag, family.dag_definition_key(), call.what()).map(Some)
    }

    /// Creates an (offline) definition; returns its code.
    pub async fn create_workflow(&self, project: i64, spec: &WorkflowSpec) -> Result<i64> {
        let family = self.family_in(project).await?;
        let call = Call::post(family.definitions(project), format!("create workflow {}", spec.name));
        let call = definition_form(call, family, spec);
        let definition = self.transport().call(&call).await?;
        int(&definition, "code").ok_or_else(|| malformed(call.what(), "definition code"))
    }

    /// Replaces the whole definition `code` (it must be offline, `50008`); tasks whose codes are
    /// kept are updated in place. `online_after` releases it in the same call (§7.1).
    pub async fn update_workflow(
        &self,
        project: i64,
        code: i64,
        spec: &WorkflowSpec,
        online_after: bool,
    ) -> Result<()> {
        let family = self.family_in(project).await?;
        let call = Call::put(
            format!("{}/{code}", family.definitions(project)),
            format!("update workflow {}", spec.name),
        );
        let state = if online_after { ReleaseState::Online } else { ReleaseState::Offline };
        let call = definition_form(call, family, spec).form("releaseState", state.as_ds());
        self.transport().call(&call).await.map(drop)
    }

    /// Puts a definition online (runnable, schedulable) or offline (editable; also takes its
    /// schedule offline) (§7.6). Retried: releasing twice is harmless.
    pub async fn release_workflow(&self, project: i64, code: i64, online: bool) -> Result<()> {
        let family = self.family_in(project).await?;
        let state = if online { ReleaseState::Online } else { ReleaseState::Offline };
        let call = Call::post(
            format!("{}/{code}/release", family.definitions(project)),
            format!("set workflow {code} {}", state.as_ds()),
        )
        .form("releaseState", state.as_ds())
        .idempotent();
        self.transport().call(&call).await.map(drop)
    }

    /// Deletes an offline definition without running instances or online schedule (§7.1).
    pub async fn delete_workflow(&self, project: i64, code: i64) -> Result<()> {
        let family = self.family_in(project).await?;
        let call = Call::delete(
            format!("{}/{code}", family.definitions(project)),
            format!("delete workflow {code}"),
        );
        self.transport().call(&call).await.map(drop)
    }

    /// The schedule of definition `workflow`, if any (§8).
    pub async fn find_schedule(&self, project: i64, workflow: i64) -> Result<Option<ScheduleInfo>> {
        let family = self.family_in(project).await?;
        let call = Call::get(
            format!("projects/{project}/schedules"),
            format!("find the schedule of workflow {workflow}"),
        )
        .query("pageNo", 1)
        .query("pageSize", 10)
        .query(family.definition_param(), workflow);
        let page = self.transport().call(&call).await?;
        // The filter is optional on 3.2: keep only rows of this definition when they say so.
        Ok(rows(&page)
            .iter()
            .filter(|row| int(row, family.definition_param()).is_none_or(|code| code == workflow))
            .find_map(ScheduleInfo::from_ds))
    }

    /// Creates an (offline) schedule of an online definition; returns its id (§8).
    pub async fn create_schedule(&self, project: i64, workflow: i64, s: &ScheduleSpec) -> Result<i64> {
        let family = self.family_in(project).await?;
        let call = Call::post(
            format!("projects/{project}/schedules"),
            format!("create a schedule of workflow {workflow}"),
        )
        .form(family.definition_param(), workflow);
        let call = schedule_form(call, family, s);
        let schedule = self.transport().call(&call).await?;
        int(&schedule, "id").ok_or_else(|| malformed(call.what(), "schedule id"))
    }

    /// Replaces an offline schedule (`10023` when online) (§8).
    pub async fn update_schedule(&self, project: i64, id: i64, s: &ScheduleSpec) -> Result<()> {
        let family = self.family_in(project).await?;
        let call = Call::put(format!("projects/{project}/schedules/{id}"), format!("update schedule {id}"));
        self.transport().call(&schedule_form(call, family, s)).await.map(drop)
    }

    /// Puts a schedule online (the definition must be online, `50004`) or offline. Onlining a
    /// definition never onlines its schedule (§13 #12). Retried: it is idempotent, and a schedule
    /// already in that state is success (3.1 answers `10126` "schedule release is already …").
    pub async fn set_schedule_online(&self, project: i64, id: i64, online: bool) -> Result<()> {
        self.note_project(project);
        let (action, state) = if online { ("online", "ONLINE") } else { ("offline", "OFFLINE") };
        let call = Call::post(
            format!("projects/{project}/schedules/{id}/{action}"),
            format!("set schedule {id} {state}"),
        )
        .idempotent();
        match self.transport().exchange(&call).await?.outcome() {
            Outcome::Data(_) | Outcome::Refused { code: 10126, .. } => Ok(()),
            other => Err(outcome_error(other, &call)),
        }
    }

    /// Starts a run of an online definition and returns its instance id, for a caller that keeps no
    /// record of its starts (§9.1). A fresh marker goes into `startParams`; when the answer is lost
    /// (DS may have started the run or not) or names no instance yet, the run is looked for until
    /// [`START_SETTLE`] has passed: a start whose outcome is unknown is never sent again.
    pub async fn start_workflow(&self, project: i64, workflow: i64, s: &StartSpec) -> Result<i64> {
        let marker = uuid::Uuid::new_v4().to_string();
        let trigger = match self.send_start(project, workflow, s, &marker).await {
            Ok(StartReceipt::Instance(id)) => return Ok(id),
            Ok(StartReceipt::Trigger(trigger)) => Some(trigger),
            Ok(StartReceipt::Accepted) => None,
            // The answer was lost: DS may have started the run all the same.
            Err(e) if e.reason == Reason::DsUnavailable => {
                return match self.await_run(project, workflow, &marker, None, START_SETTLE).await {
                    Ok(Some(id)) => Ok(id),
                    // Not seen, or DS cannot be asked: whether the run exists stays unknown.
                    Ok(None) | Err(_) => Err(e.with_metadata("run_marker", marker)),
                };
            }
            Err(e) => return Err(e),
        };
        self.await_run(project, workflow, &marker, trigger, START_SETTLE)
            .await?
            .ok_or_else(|| not_found_in_time(workflow, &marker))
    }

    /// Sends one start of `workflow` carrying `marker` in `startParams` on every family, and returns
    /// what DS answered (§9.1). Never retried: an error other than a refusal leaves the outcome
    /// unknown, and only [`DolphinClient::await_run`] can tell whether the run exists.
    pub async fn send_start(
        &self,
        project: i64,
        workflow: i64,
        s: &StartSpec,
        marker: &str,
    ) -> Result<StartReceipt> {
        let family = self.family_in(project).await?;
        let mut call = Call::post(family.start_path(project), format!("start workflow {workflow}"))
            .form(family.definition_param(), workflow)
            .form("scheduleTime", "")
            .form("failureStrategy", "END")
            .form("warningType", warning_type(s.warning_group))
            .form("warningGroupId", s.warning_group)
            .form("execType", "START_PROCESS")
            .form("taskDependType", "TASK_POST")
            .form(family.priority_param(), "MEDIUM")
            .form("workerGroup", or_default(&s.worker_group, "default"))
            .form("environmentCode", -1)
            .form("dryRun", 0)
            .form("startParams", start_params_json(Some(marker), &s.params));
        if !family.tenant_on_definition() {
            call = call.form("tenantCode", or_default(&s.tenant, "default"));
        }
        let data = self.transport().call(&call).await?;
        Ok(match family.started(&data, call.what())? {
            Started::Instance(id) => StartReceipt::Instance(id),
            Started::Trigger(trigger) => StartReceipt::Trigger(trigger),
            Started::Unknown => StartReceipt::Accepted,
        })
    }

    /// Looks for the run of the start that carried `marker`, for up to `patience` (one look when it
    /// is zero): through 3.2's `trigger` code when it is known, else among the newest instances of
    /// `workflow`, for one whose `commandParam` carries the marker (§9.1, §13 #20). `None` when no
    /// such run exists (yet).
    pub async fn await_run(
        &self,
        project: i64,
        workflow: i64,
        marker: &str,
        trigger: Option<i64>,
        patience: Duration,
    ) -> Result<Option<i64>> {
        let family = self.family_in(project).await?;
        let mut examined = HashSet::new();
        let mut lookup = RunLookup::new(patience);
        loop {
            let found = match trigger {
                Some(trigger) => self.triggered_run(project, workflow, trigger).await?,
                None => self.marked_run(family, project, workflow, marker, &mut examined).await?,
            };
            if found.is_some() || !lookup.pause().await {
                return Ok(found);
            }
        }
    }

    /// 3.2: the instance `process-instances/trigger` names, once the master has created it.
    async fn triggered_run(&self, project: i64, workflow: i64, trigger: i64) -> Result<Option<i64>> {
        let call =
            Call::get(Family::trigger_path(project), format!("look up the run of workflow {workflow}"))
                .query("triggerCode", trigger);
        let instances = self.transport().call(&call).await?;
        Ok(rows(&instances).iter().find_map(|row| int(row, "id")))
    }

    /// The newest instance of `workflow` whose `commandParam`
    /// (`{"StartParams":"{\"dataportal_run_id\":…}"}`) carries `marker`; instances in `examined`
    /// were read before and are skipped.
    async fn marked_run(
        &self,
        family: Family,
        project: i64,
        workflow: i64,
        marker: &str,
        examined: &mut HashSet<i64>,
    ) -> Result<Option<i64>> {
        let page = self.transport().call(&instances_page(family, project, workflow)).await?;
        for row in rows(&page) {
            let Some(id) = int(row, "id") else { continue };
            if !examined.insert(id) {
                continue;
            }
            // Scheduled and complement runs are never ours; a started run's command changes when it
            // is stopped or rerun, so other kinds are looked at.
            if text(row, "commandType").is_some_and(|kind| kind == "SCHEDULER" || kind == "COMPLEMENT_DATA") {
                continue;
            }
            // List rows carry no commandParam (3.1.1 has the key, null): the instance is read,
            // unless a row does carry it.
            let command_param = match row.get("commandParam").filter(|param| !param.is_null()) {
                Some(param) => command_param_text(param),
                None => {
                    let call =
                        Call::get(format!("{}/{id}", family.instances(project)), format!("read run {id}"));
                    let instance = self.transport().call(&call).await?;
                    instance.get("commandParam").map(command_param_text).unwrap_or_default()
                }
            };
            // The marker is a fresh UUID: finding its text anywhere in commandParam is proof
            // enough, whatever the nesting and escaping of the start parameters.
            if command_param.contains(marker) {
                return Ok(Some(id));
            }
        }
        Ok(None)
    }

    /// A run (§10.1).
    pub async fn workflow_instance(&self, project: i64, id: i64) -> Result<WorkflowInstance> {
        let family = self.family_in(project).await?;
        let call = Call::get(format!("{}/{id}", family.instances(project)), format!("read run {id}"));
        let instance = self.transport().call(&call).await?;
        let zone = self.api_zone().await?;
        WorkflowInstance::from_ds(&instance, family.definition_param(), &zone, call.what())
    }

    /// A page (from 1) of runs, newest first, of one definition or all; and the total.
    pub async fn list_workflow_instances(
        &self,
        project: i64,
        workflow: Option<i64>,
        page_no: u32,
        page_size: u32,
    ) -> Result<(Vec<WorkflowInstance>, u64)> {
        let family = self.family_in(project).await?;
        let mut call = Call::get(family.instances(project), "list runs")
            .query("pageNo", page_no.max(1))
            .query("pageSize", page_size.max(1));
        if let Some(workflow) = workflow {
            call = call.query(family.instance_filter_param(), workflow);
        }
        let page = self.transport().call(&call).await?;
        let zone = self.api_zone().await?;
        let instances = rows(&page)
            .iter()
            .map(|row| WorkflowInstance::from_ds(row, family.definition_param(), &zone, call.what()))
            .collect::<Result<Vec<_>>>()?;
        let total = int(&page, "total").and_then(|n| u64::try_from(n).ok()).unwrap_or(instances.len() as u64);
        Ok((instances, total))
    }

    /// The task runs of a run (§10.1 `…/{id}/tasks`).
    pub async fn task_instances(&self, project: i64, instance: i64) -> Result<Vec<TaskInstance>> {
        let family = self.family_in(project).await?;
        let call = Call::get(
            format!("{}/{instance}/tasks", family.instances(project)),
            format!("list the tasks of run {instance}"),
        );
        let data = self.transport().call(&call).await?;
        let tasks = data.get("taskList").and_then(Value::as_array).map_or(&[][..], Vec::as_slice);
        let zone = self.api_zone().await?;
        tasks.iter().map(|task| TaskInstance::from_ds(task, &zone, call.what())).collect()
    }

    /// Stops a running run or reruns a finished one (§9.2; the state changes asynchronously: a
    /// stopped run is READY_STOP until the master has killed its tasks). A run whose state forbids
    /// it (a stop of a run already stopping or finished: DS 3.1 answers 50006) is DS_STATE_CONFLICT.
    pub async fn execute(&self, project: i64, instance: i64, action: ExecuteType) -> Result<()> {
        let family = self.family_in(project).await?;
        let verb = match action {
            ExecuteType::Stop => "stop",
            ExecuteType::Rerun => "rerun",
        };
        let call =
            Call::post(format!("projects/{project}/executors/execute"), format!("{verb} run {instance}"))
                .form(family.instance_id_param(), instance)
                .form("executeType", action.as_ds());
        self.transport().call(&call).await.map(drop)
    }

    /// Up to `limit` log lines of a task run after the first `skip_lines` (§10.3).
    pub async fn task_log(&self, task_instance: i64, skip_lines: u32, limit: u32) -> Result<LogChunk> {
        let call = Call::get("log/detail", format!("read the log of task run {task_instance}"))
            .query("taskInstanceId", task_instance)
            .query("skipLineNum", skip_lines)
            .query("limit", limit);
        Ok(LogChunk::from_ds(&self.transport().call(&call).await?))
    }

    /// The id and database type of the datasource named exactly `name`; `DsNotFound` when none.
    pub async fn datasource_id(&self, name: &str) -> Result<(i64, String)> {
        let call = Call::get("datasources", format!("find datasource {name}"))
            .query("pageNo", 1)
            .query("pageSize", 100)
            .query("searchVal", name);
        let page = self.transport().call(&call).await?;
        rows(&page)
            .iter()
            .filter(|row| row.get("name").and_then(Value::as_str) == Some(name))
            .find_map(|row| Some((int(row, "id")?, text(row, "type")?)))
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::NotFound,
                    Reason::DsNotFound,
                    format!("DolphinScheduler has no datasource named {name}"),
                )
                .with_metadata("datasource", name)
            })
    }
}

/// The form of a definition create or update (§7.1), JSON fields as JSON strings (§1).
fn definition_form(call: Call, family: Family, spec: &WorkflowSpec) -> Call {
    let call = call
        .defining()
        .form("name", &spec.name)
        .form("description", &spec.description)
        .form("globalParams", spec.global_params_json())
        .form("locations", spec.locations_json())
        .form("timeout", spec.timeout_minutes)
        .form("taskRelationJson", spec.task_relation_json())
        .form("taskDefinitionJson", spec.task_definition_json())
        .form("executionType", "PARALLEL");
    if family.tenant_on_definition() {
        call.form("tenantCode", or_default(&spec.tenant, "default"))
    } else {
        call
    }
}

/// The form of a schedule create or update (§8), without the definition code.
fn schedule_form(call: Call, family: Family, s: &ScheduleSpec) -> Call {
    let call = call
        .defining()
        .form("schedule", s.schedule_json())
        .form("warningType", warning_type(s.warning_group))
        .form("warningGroupId", s.warning_group)
        .form("failureStrategy", "END")
        .form("workerGroup", or_default(&s.worker_group, "default"))
        .form("environmentCode", -1)
        .form(family.priority_param(), "MEDIUM");
    if family.tenant_on_definition() {
        call
    } else {
        call.form("tenantCode", or_default(&s.tenant, "default"))
    }
}

/// The newest runs of `workflow` (the list is ordered by start time, newest first).
fn instances_page(family: Family, project: i64, workflow: i64) -> Call {
    Call::get(family.instances(project), format!("list the runs of workflow {workflow}"))
        .query("pageNo", 1)
        .query("pageSize", RUN_LOOKUP_PAGE)
        .query(family.instance_filter_param(), workflow)
}

/// Paces the lookups of a started run: 20 ms doubling to 500 ms, until a deadline.
struct RunLookup {
    deadline: Instant,
    pause: Duration,
}

impl RunLookup {
    fn new(patience: Duration) -> Self {
        Self { deadline: Instant::now() + patience, pause: RUN_LOOKUP_FIRST_PAUSE }
    }

    /// Waits before the next lookup; false once the deadline has passed.
    async fn pause(&mut self) -> bool {
        let now = Instant::now();
        if now >= self.deadline {
            return false;
        }
        tokio::time::sleep(self.pause.min(self.deadline - now)).await;
        self.pause = (self.pause * 2).min(RUN_LOOKUP_MAX_PAUSE);
        true
    }
}

/// DS accepted a start but its run did not show up within [`START_SETTLE`].
fn not_found_in_time(workflow: i64, marker: &str) -> Error {
    unavailable(format!(
        "DolphinScheduler accepted the start of workflow {workflow} but its run did not appear within {} s; \
         look for the run carrying marker {marker} before starting again",
        START_SETTLE.as_secs()
    ))
    .with_metadata("run_marker", marker)
}

/// An instance's `commandParam` as text (a JSON string, or JSON itself).
fn command_param_text(param: &Value) -> String {
    match param {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

//! Workflows and their life in DolphinScheduler: edits and publish requests (stored first,
//! carried out by [`super::publisher`]), runs, instances and logs.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use super::paging::Page;
use super::with_retries;
use crate::domain::task::{Engine, Task};
use crate::domain::workflow::{
    MAX_GLOBAL_PARAMS, MAX_TASKS, PublishState, Workflow, WorkflowDef, WorkflowSchedule, find_cycle,
};
use crate::domain::{Lookup, now_millis};
use crate::error::{Error, ErrorKind, Reason, Result, Violations};
use crate::scheduler::dolphin::{
    DolphinClient, ExecuteType, LogChunk, StartSpec, TaskInstance, WorkflowInstance,
};
use crate::storage::{Store, task_not_found};

use super::Catalog;

/// How long a publish call waits for its outcome unless told to return at once.
const PUBLISH_WAIT: Duration = Duration::from_secs(30);
/// How often a waiting call looks at the database when no local worker tells it (the request
/// may be carried out by another replica).
const WAIT_POLL: Duration = Duration::from_millis(100);
/// How long a rerun waits for DolphinScheduler's master to take it: the API only queues a command,
/// and the run keeps its final state (and old task runs) until the master starts it again.
const RERUN_WAIT: Duration = Duration::from_secs(30);

/// Where and as whom workflows are published.
#[derive(Debug, Clone)]
pub struct DolphinTarget {
    /// The client.
    pub client: DolphinClient,
    /// Project every workflow of the service lives in.
    pub project: String,
    /// Tenant tasks run as (3.1: on the definition; 3.2+: on start and schedule).
    pub tenant: String,
    /// Worker group tasks run on.
    pub worker_group: String,
    /// Alert group notified when runs end (0 = none): the callbacks' route back.
    pub warning_group: i64,
    /// Time zone of schedules that name none.
    pub timezone: String,
    /// Datasource of SQL tasks that name none (empty: such tasks cannot be published).
    pub default_datasource: String,
}

/// Datasource name → (DolphinScheduler id, database type, when looked up).
type DatasourceCache = HashMap<String, (i64, String, std::time::Instant)>;

/// Workflows of the catalog and their DolphinScheduler counterparts.
#[derive(Debug, Clone)]
pub struct Workflows {
    pub(super) store: Store,
    pub(super) catalog: Catalog,
    pub(super) dolphin: Option<Arc<DolphinTarget>>,
    /// Wakes the local publisher when a request is stored.
    pub(super) requested: Arc<Notify>,
    /// Wakes waiting calls when the local publisher finished an attempt.
    pub(super) finished: Arc<Notify>,
    /// Datasource name → (DolphinScheduler id, database type), cached for a while: looking them
    /// up costs a call per datasource per publish otherwise.
    pub(super) datasources: Arc<tokio::sync::Mutex<DatasourceCache>>,
    /// The project's code, once DolphinScheduler told it.
    project_code: Arc<std::sync::OnceLock<i64>>,
}

/// A page of workflows.
#[derive(Debug)]
pub struct WorkflowPage {
    /// The page.
    pub workflows: Vec<Workflow>,
    /// Token of the next page; empty on the last.
    pub next_page_token: String,
    /// Number of all workflows.
    pub total_size: i64,
}

/// What SyncWorkflow sets.
#[derive(Debug, Clone, Default)]
pub struct SyncRequest {
    /// Tasks by id.
    pub task_ids: Vec<i64>,
    /// Tasks by name.
    pub task_names: Vec<String>,
    /// Dependencies (upstream, downstream); empty = from lineage.
    pub dependencies: Vec<(i64, i64)>,
    /// Caller's layout.
    pub positions: HashMap<i64, (i32, i32)>,
    /// Global parameters (replacing the current ones).
    pub global_params: BTreeMap<String, String>,
}

/// A page of instances.
#[derive(Debug)]
pub struct InstancePage {
    /// Newest first.
    pub instances: Vec<WorkflowInstance>,
    /// Token of the next page; empty on the last.
    pub next_page_token: String,
    /// Number of all matching instances.
    pub total_size: i64,
}

/// A page of a task log.
#[derive(Debug)]
pub struct LogPage {
    /// The lines.
    pub text: String,
    /// How many.
    pub line_count: u32,
    /// Token of the next page; empty when no more lines.
    pub next_page_token: String,
}

impl Workflows {
    /// Workflows stored in `store`, published through `dolphin` when configured.
    pub fn new(store: Store, catalog: Catalog, dolphin: Option<DolphinTarget>) -> Self {
        Self {
            store,
            catalog,
            dolphin: dolphin.map(Arc::new),
            requested: Arc::default(),
            finished: Arc::default(),
            datasources: Arc::default(),
            project_code: Arc::default(),
        }
    }

    /// The DolphinScheduler client, when one is configured.
    pub fn dolphin_client(&self) -> Option<DolphinClient> {
        self.dolphin.as_ref().map(|d| d.client.clone())
    }

    /// The code of the project workflows live in (found or created on first use).
    pub(super) async fn project(&self, target: &DolphinTarget) -> Result<i64> {
        let code = target.client.ensure_project(&target.project).await?;
        let _ = self.project_code.set(code);
        Ok(code)
    }

    /// The project's code if it is known yet, without asking DolphinScheduler.
    pub fn known_project_code(&self) -> Option<i64> {
        self.project_code.get().copied()
    }

    pub(super) fn target(&self) -> Result<&DolphinTarget> {
        self.dolphin.as_deref().ok_or_else(|| {
            Error::new(
                ErrorKind::FailedPrecondition,
                Reason::DsNotConfigured,
                "DolphinScheduler is not configured: set DS_URL and DS_TOKEN (or PYDS_USER_NAME and \
                 PYDS_USER_PASSWORD)",
            )
        })
    }

    /// Makes sure a workflow named `def.name` exists; returns it and whether this call created it.
    pub async fn ensure_workflow(&self, def: WorkflowDef) -> Result<(Workflow, bool)> {
        def.validate().into_result(())?;
        let created = with_retries(|| async {
            let mut tx = self.store.begin_write().await?;
            let id = tx.insert_workflow(&def, now_millis()).await?;
            tx.commit().await?;
            Ok(id)
        })
        .await?;
        let workflow = self.store.get_workflow(&Lookup::Name(def.name.clone())).await?;
        Ok((workflow, created.is_some()))
    }

    /// One workflow.
    pub async fn get_workflow(&self, lookup: &Lookup) -> Result<Workflow> {
        self.store.get_workflow(lookup).await
    }

    /// The DolphinScheduler task codes of a workflow's tasks, by portal task id.
    pub async fn task_codes(&self, workflow_id: i64) -> Result<BTreeMap<i64, i64>> {
        let codes = self.store.workflow_task_codes(workflow_id).await?;
        Ok(codes
            .into_iter()
            .filter_map(|(key, code)| {
                key.strip_prefix("task:").and_then(|id| id.parse().ok()).map(|id| (id, code))
            })
            .collect())
    }

    /// A page of workflows.
    pub async fn list_workflows(&self, page_size: i32, page_token: &str) -> Result<WorkflowPage> {
        let page = Page::parse(page_size, page_token, &"workflows")?;
        let (mut workflows, total_size) =
            self.store.list_workflows(page.after_id, page.fetch_limit()).await?;
        let next_page_token = page.finish(&mut workflows, |w| w.id);
        Ok(WorkflowPage { workflows, next_page_token, total_size })
    }

    /// Sets a workflow's tasks, dependencies and layout, and publishes it.
    pub async fn sync_workflow(&self, lookup: &Lookup, sync: SyncRequest, wait: bool) -> Result<Workflow> {
        self.target()?;
        let workflow = self.store.get_workflow(lookup).await?;
        let tasks = self.resolve_tasks(&sync.task_ids, &sync.task_names).await?;
        let ids: Vec<i64> = tasks.iter().map(|t| t.id).collect();
        let mut violations = Violations::default();
        if ids.is_empty() {
            violations.add("task_ids", "a workflow needs at least one task");
        }
        if ids.len() > MAX_TASKS {
            violations.add("task_ids", format!("at most {MAX_TASKS} tasks"));
        }
        check_batch(&tasks, &mut violations);
        for (i, (up, down)) in sync.dependencies.iter().enumerate() {
            for (field, id) in [("upstream_task_id", up), ("downstream_task_id", down)] {
                if !ids.contains(id) {
                    violations.add(
                        format!("dependencies[{i}].{field}"),
                        format!("task {id} is not in the workflow"),
                    );
                }
            }
        }
        if let Some(cycle) = find_cycle(&sync.dependencies) {
            let path: Vec<String> = cycle.iter().map(i64::to_string).collect();
            violations.add("dependencies", format!("form a cycle: {}", path.join(" -> ")));
        }
        for task in sync.positions.keys() {
            if !ids.contains(task) {
                violations.add("positions", format!("task {task} is not in the workflow"));
            }
        }
        violations.into_result(())?;
        check_global_params(&sync.global_params)?;
        let explicit = !sync.dependencies.is_empty();
        with_retries(|| async {
            let mut tx = self.store.begin_write().await?;
            tx.lock_workflow(workflow.id).await?;
            tx.set_workflow_tasks(workflow.id, &ids, &sync.positions, &sync.dependencies).await?;
            // Read again under the lock: a concurrent edit (a schedule, a release) must survive.
            let mut changed = self.store.get_workflow(&Lookup::Id(workflow.id)).await?;
            changed.explicit_dependencies = explicit.then(Vec::new);
            changed.global_params = sync.global_params.clone();
            tx.update_workflow(&changed, now_millis()).await?;
            tx.request_publish(workflow.id, false, now_millis()).await?;
            tx.commit().await
        })
        .await?;
        self.after_request(workflow.id, wait).await
    }

    /// Publishes a workflow as it is now; with `start`, starts it once published.
    pub async fn publish_workflow(&self, lookup: &Lookup, start: bool, wait: bool) -> Result<Workflow> {
        self.target()?;
        let workflow = self.store.get_workflow(lookup).await?;
        self.check_publishable(&workflow, start).await?;
        self.request(workflow.id, start, |_| Ok(())).await?;
        self.after_request(workflow.id, wait).await
    }

    /// Publishes a task's workflow, first creating one named after the task (with the task's
    /// schedule) when it has none.
    pub async fn publish_task(&self, lookup: &Lookup, start: bool, wait: bool) -> Result<Workflow> {
        self.target()?;
        let task = self.store.get_task(lookup).await?;
        let mut violations = Violations::default();
        check_batch(std::slice::from_ref(&task), &mut violations);
        violations.into_result(())?;
        let workflow_id = match self.store.workflows_of_tasks(&[task.id]).await?.get(&task.id) {
            Some((workflow_id, ..)) => *workflow_id,
            None => self.single_task_workflow(&task).await?,
        };
        self.publish_workflow(&Lookup::Id(workflow_id), start, wait).await
    }

    /// Creates the workflow of a task that has none: its name, owner and schedule are the task's.
    async fn single_task_workflow(&self, task: &Task) -> Result<i64> {
        let def = WorkflowDef {
            name: task.def.name.clone(),
            description: format!("Runs task {}.", task.def.name),
            owner: task.def.owner.clone(),
        };
        let (mut workflow, created) = self.ensure_workflow(def).await?;
        if !created && !workflow.task_ids.is_empty() && !workflow.task_ids.contains(&task.id) {
            return Err(Error::new(
                ErrorKind::AlreadyExists,
                Reason::WorkflowNameTaken,
                format!(
                    "the task has no workflow, and the workflow named after it ({:?}) holds other tasks",
                    task.def.name
                ),
            ));
        }
        let target = self.target()?;
        workflow.schedule = task.def.schedule.clone().map(|cron| default_schedule(cron, &target.timezone));
        with_retries(|| async {
            let mut tx = self.store.begin_write().await?;
            tx.lock_workflow(workflow.id).await?;
            tx.set_workflow_tasks(workflow.id, &[task.id], &HashMap::new(), &[]).await?;
            tx.update_workflow(&workflow, now_millis()).await?;
            tx.commit().await
        })
        .await?;
        Ok(workflow.id)
    }

    /// Puts a workflow ONLINE or OFFLINE.
    pub async fn release_workflow(&self, lookup: &Lookup, online: bool, wait: bool) -> Result<Workflow> {
        self.target()?;
        let workflow = self.store.get_workflow(lookup).await?;
        self.check_publishable(&workflow, false).await?;
        self.request(workflow.id, false, |w| {
            w.online = online;
            Ok(())
        })
        .await?;
        self.after_request(workflow.id, wait).await
    }

    /// Sets or removes a workflow's schedule; a scheduled workflow is put ONLINE.
    pub async fn schedule_workflow(
        &self,
        lookup: &Lookup,
        schedule: Option<WorkflowSchedule>,
        wait: bool,
    ) -> Result<Workflow> {
        self.target()?;
        let workflow = self.store.get_workflow(lookup).await?;
        self.check_publishable(&workflow, false).await?;
        self.request(workflow.id, false, |w| {
            if schedule.is_some() {
                w.online = true;
            }
            w.schedule = schedule.clone();
            Ok(())
        })
        .await?;
        self.after_request(workflow.id, wait).await
    }

    /// The time zone schedules default to.
    pub fn default_timezone(&self) -> Result<String> {
        Ok(self.target()?.timezone.clone())
    }

    /// Applies `change` to the workflow and stores a publish request, in one transaction.
    async fn request(
        &self,
        id: i64,
        start: bool,
        change: impl Fn(&mut Workflow) -> Result<()>,
    ) -> Result<()> {
        with_retries(|| async {
            let mut tx = self.store.begin_write().await?;
            tx.lock_workflow(id).await?;
            let mut workflow = self.store.get_workflow(&Lookup::Id(id)).await?;
            change(&mut workflow)?;
            tx.update_workflow(&workflow, now_millis()).await?;
            tx.request_publish(id, start, now_millis()).await?;
            tx.commit().await
        })
        .await
    }

    /// What can be checked before a publish request is stored (the worker checks again).
    async fn check_publishable(&self, workflow: &Workflow, start: bool) -> Result<()> {
        if workflow.task_ids.is_empty() {
            return Err(Error::new(
                ErrorKind::FailedPrecondition,
                Reason::WorkflowEmpty,
                format!("workflow {:?} has no tasks; add some with SyncWorkflow", workflow.def.name),
            ));
        }
        if start && !workflow.online {
            return Err(Error::new(
                ErrorKind::FailedPrecondition,
                Reason::DsStateConflict,
                format!("workflow {:?} is OFFLINE; release it ONLINE to start it", workflow.def.name),
            ));
        }
        let tasks = self.store.tasks_by_ids(&workflow.task_ids).await?;
        let mut violations = Violations::default();
        check_batch(&tasks, &mut violations);
        violations.into_result(())?;
        if workflow.explicit_dependencies.is_none() {
            self.external_upstreams(workflow, &tasks).await?;
        }
        Ok(())
    }

    /// Tells the local publisher, then waits (unless `wait` is false) until the workflow has
    /// settled: the newest request, this call's or a later one from another caller (on any
    /// replica), is carried out or has failed. The answer is then the final state, not a PENDING
    /// that a concurrent request put back after this one's was done.
    async fn after_request(&self, id: i64, wait: bool) -> Result<Workflow> {
        self.requested.notify_one();
        let deadline = tokio::time::Instant::now() + PUBLISH_WAIT;
        loop {
            let finished = self.finished.notified();
            let workflow = self.store.get_workflow(&Lookup::Id(id)).await?;
            let publication = &workflow.publication;
            // A FAILED state is always the newest request's: a newer one puts it back to PENDING.
            let settled = publication.published_generation >= publication.generation
                || publication.state == PublishState::Failed;
            if settled || !wait || tokio::time::Instant::now() >= deadline {
                return Ok(workflow);
            }
            let _ = tokio::time::timeout(WAIT_POLL, finished).await;
        }
    }

    /// Starts a run of a published workflow; returns the instance id.
    pub async fn start_workflow(&self, lookup: &Lookup, params: BTreeMap<String, String>) -> Result<i64> {
        let target = self.target()?;
        let workflow = self.store.get_workflow(lookup).await?;
        let code = published_code(&workflow)?;
        let project = self.project(target).await?;
        let spec = StartSpec {
            warning_group: target.warning_group,
            worker_group: target.worker_group.clone(),
            tenant: target.tenant.clone(),
            params: params.into_iter().collect(),
        };
        let instance = target.client.start_workflow(project, code, &spec).await?;
        self.follow_run(instance, workflow.id, false).await;
        Ok(instance)
    }

    /// Makes the execution poller follow a run the portal started (`hinted`: read it at once).
    /// The run happened whatever this does, so a failure is logged, not returned: polling's look
    /// for unreported runs of published workflows finds it later.
    pub(super) async fn follow_run(&self, instance: i64, workflow_id: i64, hinted: bool) {
        let Some(project) = self.known_project_code() else { return };
        let followed = async {
            let mut tx = self.store.begin_write().await?;
            tx.follow_run(instance, Some(workflow_id), project, hinted, now_millis()).await?;
            tx.commit().await
        };
        if let Err(e) = followed.await {
            tracing::warn!(instance, workflow_id, error = %e, "cannot follow a started workflow run");
        }
    }

    /// A workflow instance with its task instances.
    pub async fn workflow_instance(&self, id: i64) -> Result<(WorkflowInstance, Vec<TaskInstance>)> {
        let target = self.target()?;
        let project = self.project(target).await?;
        let (instance, tasks) = tokio::try_join!(
            target.client.workflow_instance(project, id),
            target.client.task_instances(project, id)
        )?;
        Ok((instance, tasks))
    }

    /// A page of instances of one workflow (or of the project).
    pub async fn list_instances(
        &self,
        workflow: Option<&Lookup>,
        page_size: i32,
        page_token: &str,
    ) -> Result<InstancePage> {
        let target = self.target()?;
        let code = match workflow {
            Some(lookup) => Some(published_code(&self.store.get_workflow(lookup).await?)?),
            None => None,
        };
        let size = match page_size {
            size if size < 0 => return Err(Error::invalid_field("page_size", "must not be negative")),
            0 => 20,
            size => size.min(100) as u32,
        };
        let page_no: u32 =
            match page_token {
                "" => 1,
                token => token.parse().ok().filter(|n| *n >= 1).ok_or_else(|| {
                    Error::invalid_field("page_token", "is not a token this listing issued")
                })?,
            };
        let project = self.project(target).await?;
        let (instances, total) = target.client.list_workflow_instances(project, code, page_no, size).await?;
        let next_page_token = if u64::from(page_no) * u64::from(size) < total {
            (page_no + 1).to_string()
        } else {
            String::new()
        };
        Ok(InstancePage { instances, next_page_token, total_size: total as i64 })
    }

    /// Stops or reruns an instance and returns it as it is afterwards.
    pub async fn control_instance(&self, id: i64, action: ExecuteType) -> Result<WorkflowInstance> {
        let target = self.target()?;
        let project = self.project(target).await?;
        let runs_before = match action {
            ExecuteType::Rerun => Some(target.client.workflow_instance(project, id).await?.run_times),
            ExecuteType::Stop => None,
        };
        target.client.execute(project, id, action).await?;
        let mut instance = target.client.workflow_instance(project, id).await?;
        // A rerun is carried out by the master a moment later (its run count goes up then): until
        // it is, the instance still reads as the finished run, and following it would record that
        // again and stop there.
        if let Some(before) = runs_before {
            let deadline = tokio::time::Instant::now() + RERUN_WAIT;
            while instance.run_times <= before && tokio::time::Instant::now() < deadline {
                tokio::time::sleep(WAIT_POLL * 2).await;
                instance = target.client.workflow_instance(project, id).await?;
            }
        }
        // A rerun runs the tasks again under the same instance id; a stop ends them. Either way
        // the records should follow at once.
        if let Some(workflow) = self.store.workflow_of_definition(instance.workflow_code).await? {
            self.follow_run(id, workflow, true).await;
        }
        Ok(instance)
    }

    /// A page of a task instance's log.
    pub async fn task_log(&self, task_instance: i64, page_size: i32, page_token: &str) -> Result<LogPage> {
        let target = self.target()?;
        let limit = match page_size {
            size if size < 0 => return Err(Error::invalid_field("page_size", "must not be negative")),
            0 => 1000,
            size => size.min(10_000) as u32,
        };
        let skip: u32 = match page_token {
            "" => 0,
            token => token
                .parse()
                .map_err(|_| Error::invalid_field("page_token", "is not a token this log issued"))?,
        };
        let LogChunk { message, .. } = target.client.task_log(task_instance, skip, limit).await?;
        let line_count = if message.is_empty() { 0 } else { message.lines().count() as u32 };
        // A full page may have more behind it; a short one is the end of the log so far.
        let next_page_token =
            if line_count >= limit { (skip + line_count).to_string() } else { String::new() };
        Ok(LogPage { text: message, line_count, next_page_token })
    }

    /// Tasks by id and by name; every missing one is reported.
    async fn resolve_tasks(&self, ids: &[i64], names: &[String]) -> Result<Vec<Task>> {
        let mut tasks = self.store.tasks_by_ids(ids).await?;
        let mut missing: Vec<String> =
            ids.iter().filter(|id| !tasks.iter().any(|t| t.id == **id)).map(i64::to_string).collect();
        for name in names {
            match self.store.get_task(&Lookup::Name(name.clone())).await {
                Ok(task) => tasks.push(task),
                Err(e) if e.reason == Reason::TaskNotFound => missing.push(name.clone()),
                Err(e) => return Err(e),
            }
        }
        if let Some(first) = missing.first() {
            let lookup = first.parse().map(Lookup::Id).unwrap_or_else(|_| Lookup::Name(first.clone()));
            return Err(task_not_found(&lookup).with_metadata("missing_tasks", missing.join(",")));
        }
        tasks.sort_by_key(|t| t.id);
        tasks.dedup_by_key(|t| t.id);
        Ok(tasks)
    }
}

/// A schedule from a cron alone: in `timezone`, from now for a hundred years.
pub fn default_schedule(cron: crate::domain::schedule::CronSchedule, timezone: &str) -> WorkflowSchedule {
    let (start, end) = default_schedule_window();
    WorkflowSchedule { cron, timezone: timezone.to_owned(), start, end }
}

/// Today at midnight (UTC date: a day early or late does not matter for a window this wide), and
/// the same day a hundred years on (the 28th for a 29th of February).
pub fn default_schedule_window() -> (String, String) {
    let start = format!("{} 00:00:00", &crate::domain::format_utc(now_millis() / 1000)[..10]);
    let year: i64 = start[..4].parse().unwrap_or(1970);
    let rest = start[4..].replace("-02-29", "-02-28");
    (start.clone(), format!("{:04}{rest}", year + 100))
}

/// Only BATCH tasks run on DolphinScheduler.
fn check_batch(tasks: &[Task], violations: &mut Violations) {
    for task in tasks {
        if task.def.engine != Engine::Dolphin {
            violations.add(
                "task_ids",
                format!("task {:?} is a STREAM task (it runs on Dinky, not DolphinScheduler)", task.def.name),
            );
        }
    }
}

/// The DolphinScheduler code of a published workflow.
fn published_code(workflow: &Workflow) -> Result<i64> {
    workflow.publication.workflow_code.ok_or_else(|| {
        Error::new(
            ErrorKind::FailedPrecondition,
            Reason::WorkflowNotPublished,
            format!("workflow {:?} is not published yet; publish it first", workflow.def.name),
        )
    })
}

/// Global parameters, checked.
fn check_global_params(params: &BTreeMap<String, String>) -> Result<()> {
    let mut violations = Violations::default();
    if params.len() > MAX_GLOBAL_PARAMS {
        violations.add("global_params", format!("at most {MAX_GLOBAL_PARAMS}"));
    }
    for key in params.keys() {
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.') {
            violations.add(format!("global_params[{key}]"), "names are letters, digits, '_' and '.'");
        }
    }
    violations.into_result(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::workflow::check_wall_clock;

    #[test]
    fn the_default_window_runs_a_hundred_years_from_today() {
        let (start, end) = default_schedule_window();
        assert!(check_wall_clock(&start).is_ok() && check_wall_clock(&end).is_ok(), "{start} {end}");
        assert!(start.ends_with(" 00:00:00"));
        let year = |t: &str| t[..4].parse::<i64>().unwrap();
        assert_eq!(year(&end), year(&start) + 100);
        assert_eq!(start[4..7], end[4..7], "same month");
    }
}

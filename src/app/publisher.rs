//! The publish worker: claims stored publish requests (any replica may; a row lease keeps two
//! from carrying out the same one) and makes DolphinScheduler hold the workflow as it is now.
//!
//! One attempt: build the DAG (lineage or the caller's dependencies, DEPENDENT tasks for tasks of
//! other workflows, a layered layout), reuse the task codes stored from earlier publishes and
//! mint the rest, then create the definition or take it OFFLINE and update it, release it,
//! schedule it and, when asked, start it (once: see [`Workflows::start_requested_run`]).
//! DolphinScheduler being unavailable puts the request
//! back with a growing delay (capped, so that it goes out within seconds of recovery); a refusal
//! marks it FAILED with DolphinScheduler's reason.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::lineage::Start;
use super::workflows::{DolphinTarget, Workflows};
use crate::domain::task::{Task, TaskBody};
use crate::domain::workflow::{
    DagPlan, ExternalUpstream, PlanNode, PlanTask, Publication, Workflow, plan_dag,
};
use crate::domain::{Lookup, now_millis};
use crate::error::{Error, ErrorKind, Reason, Result};
use crate::scheduler::dolphin::{
    START_SETTLE, ScheduleSpec, StartReceipt, StartSpec, TaskKind, TaskSpec, WorkflowSpec,
};
use crate::storage::{PublishClaim, PublishOutcome};

/// How long a claimed request stays this replica's: far longer than a publish takes, short
/// enough that a crashed replica's work is taken over soon.
const LEASE_MS: i64 = 60_000;
/// Retry delays: the first, and the cap (the outage-to-published delay is at most about this).
const FIRST_RETRY_MS: i64 = 250;
const MAX_RETRY_MS: i64 = 3_000;
/// How often the worker looks for requests made on other replicas, or that fell due.
const IDLE_POLL: Duration = Duration::from_millis(500);
/// How long a datasource lookup is trusted.
const DATASOURCE_TTL: Duration = Duration::from_secs(300);
/// How long one attempt looks for the run of a start before putting the request back: well within
/// the lease, so that no other replica takes the request over while it looks.
const START_LOOKUP: Duration = Duration::from_secs(5);
/// DolphinScheduler's code for "a definition of that name exists".
const DS_NAME_EXISTS: &str = "10168";

/// Runs the publish worker until `shutdown`.
pub async fn run_publisher(workflows: Workflows, owner: String, shutdown: CancellationToken) {
    if workflows.dolphin.is_none() {
        return;
    }
    loop {
        let pause = match workflows.publish_next(&owner).await {
            // A replica shutting down takes no more requests.
            Ok(true) if shutdown.is_cancelled() => break,
            Ok(true) => continue,
            Ok(false) => IDLE_POLL,
            Err(e) => {
                tracing::warn!(error = %e, "the publish worker cannot read its queue");
                IDLE_POLL
            }
        };
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = workflows.requested.notified() => {}
            () = tokio::time::sleep(pause) => {}
        }
    }
}

impl Workflows {
    /// Carries out one due request, if there is one; false when none is due.
    pub async fn publish_next(&self, owner: &str) -> Result<bool> {
        let Some(claim) = self.store.claim_publish(owner, now_millis(), LEASE_MS).await? else {
            return Ok(false);
        };
        let started = Instant::now();
        let (outcome, codes) = match self.publish_once(claim, owner).await {
            Ok((outcome, codes)) => (outcome, codes),
            Err(e) => (self.failure_outcome(claim, &e).await, BTreeMap::new()),
        };
        match &outcome {
            PublishOutcome::Published { instance, .. } => tracing::info!(
                workflow_id = claim.workflow_id,
                elapsed_ms = started.elapsed().as_millis() as u64,
                instance = ?instance,
                "workflow published"
            ),
            PublishOutcome::Retry { error, .. } => {
                tracing::warn!(workflow_id = claim.workflow_id, %error, "publish postponed")
            }
            PublishOutcome::Failed { error } => {
                tracing::warn!(workflow_id = claim.workflow_id, %error, "publish failed")
            }
        }
        if !self.store.finish_publish(claim, owner, &outcome, &codes, now_millis()).await? {
            tracing::warn!(
                workflow_id = claim.workflow_id,
                "the publish lease was lost; another replica took over"
            );
        }
        if let PublishOutcome::Published { instance: Some(instance), .. } = outcome {
            self.follow_run(instance, claim.workflow_id, false).await;
        }
        self.finished.notify_waiters();
        Ok(true)
    }

    /// Whether trying again can help: only when DolphinScheduler (or the database) was away.
    async fn failure_outcome(&self, claim: PublishClaim, error: &Error) -> PublishOutcome {
        let transient = matches!(
            error.reason,
            Reason::DsUnavailable | Reason::DatabaseUnavailable | Reason::TransactionConflict
        );
        if !transient {
            return PublishOutcome::Failed { error: error.to_string() };
        }
        let attempts = match self.store.get_workflow(&Lookup::Id(claim.workflow_id)).await {
            Ok(workflow) => workflow.publication.attempts.max(1),
            Err(_) => 1,
        };
        let delay = (FIRST_RETRY_MS << (attempts - 1).min(10)).min(MAX_RETRY_MS);
        // Jitter spreads the retries of many workflows (and replicas) after an outage.
        let delay = delay / 2 + fastrand::i64(0..=delay / 2);
        PublishOutcome::Retry { error: error.to_string(), retry_at: now_millis() + delay }
    }

    /// One attempt; returns the outcome and the task codes of every node.
    async fn publish_once(
        &self,
        claim: PublishClaim,
        owner: &str,
    ) -> Result<(PublishOutcome, BTreeMap<String, i64>)> {
        let target = self.target()?;
        let client = &target.client;
        let workflow = self.store.get_workflow(&Lookup::Id(claim.workflow_id)).await?;
        let tasks = self.store.tasks_by_ids(&workflow.task_ids).await?;
        let plan = self.plan(&workflow, &tasks).await?;
        let project = self.project(target).await?;

        let mut codes = self.store.workflow_task_codes(workflow.id).await?;
        let mut workflow_code = workflow.publication.workflow_code;
        if workflow_code.is_none() {
            // A definition of this name may exist already: made by an attempt whose answer was
            // lost, or by hand. Adopt it, and its task codes by name, rather than fail on 10168.
            if let Some(existing) = client.find_workflow(project, &workflow.def.name).await? {
                let by_name: HashMap<&str, i64> =
                    existing.tasks.iter().map(|(n, c)| (n.as_str(), *c)).collect();
                for node in &plan.nodes {
                    if let Some(code) = by_name.get(node_name(node, &tasks, &plan.waits).as_str()) {
                        codes.entry(node.key()).or_insert(*code);
                    }
                }
                workflow_code = Some(existing.code);
                self.store.record_workflow_code(claim, owner, existing.code).await?;
            }
        }
        codes.retain(|key, _| plan.nodes.iter().any(|n| n.key() == *key));
        let missing: Vec<&PlanNode> = plan.nodes.iter().filter(|n| !codes.contains_key(&n.key())).collect();
        if !missing.is_empty() {
            let fresh = client.gen_task_codes(project, missing.len()).await?;
            for (node, code) in missing.into_iter().zip(fresh) {
                codes.insert(node.key(), code);
            }
        }
        let spec = self.workflow_spec(target, project, &workflow, &tasks, &plan, &codes).await?;

        match workflow_code {
            Some(code) => {
                client.release_workflow(project, code, false).await?;
                client.update_workflow(project, code, &spec, workflow.online).await?;
            }
            None => {
                let code = match client.create_workflow(project, &spec).await {
                    Ok(code) => code,
                    Err(e) if e.metadata.get("ds_code").map(String::as_str) == Some(DS_NAME_EXISTS) => {
                        // Created meanwhile by someone else: the next attempt adopts it.
                        return Err(Error::new(
                            ErrorKind::Unavailable,
                            Reason::DsUnavailable,
                            format!("{e}; the definition appeared meanwhile and will be adopted"),
                        ));
                    }
                    Err(e) => return Err(e),
                };
                self.store.record_workflow_code(claim, owner, code).await?;
                workflow_code = Some(code);
                if workflow.online {
                    client.release_workflow(project, code, true).await?;
                }
            }
        }
        self.store.record_task_codes(claim, owner, &codes).await?;
        let code = workflow_code.ok_or_else(|| Error::internal("no workflow code after publishing"))?;

        let schedule_id = self.publish_schedule(target, project, code, &workflow).await?;
        let instance = if workflow.publication.start_requested && workflow.online {
            Some(self.start_requested_run(target, project, code, claim, owner, &workflow.publication).await?)
        } else {
            None
        };
        Ok((PublishOutcome::Published { schedule_id, instance }, codes))
    }

    /// Starts the run a request asked for, exactly once across attempts and replicas. A start call
    /// sent by an earlier attempt (whose answer was lost, whose run was slow to appear, or whose
    /// replica crashed before recording it) left its marker in the workflow row: its run is looked
    /// for by 3.2's trigger code or by that marker, and adopted. While that call is recent
    /// ([`START_SETTLE`]) it is only looked for; after that, a call that left no run never reached
    /// DolphinScheduler, and the start is sent again. The marker of a new call is stored before it
    /// is sent.
    async fn start_requested_run(
        &self,
        target: &DolphinTarget,
        project: i64,
        code: i64,
        claim: PublishClaim,
        owner: &str,
        publication: &Publication,
    ) -> Result<i64> {
        let client = &target.client;
        if let Some(marker) = &publication.start_marker {
            let sent_ms = now_millis() - publication.start_sent_at.unwrap_or(0);
            let settling = sent_ms < START_SETTLE.as_millis() as i64;
            let patience = if settling { START_LOOKUP } else { Duration::ZERO };
            if let Some(id) =
                client.await_run(project, code, marker, publication.start_trigger, patience).await?
            {
                return Ok(id);
            }
            if settling {
                return Err(run_not_seen(code, marker, sent_ms));
            }
        }
        let marker = uuid::Uuid::new_v4().to_string();
        self.store.record_start_sent(claim, owner, &marker, now_millis()).await?;
        let spec = StartSpec {
            warning_group: target.warning_group,
            worker_group: target.worker_group.clone(),
            tenant: target.tenant.clone(),
            params: Vec::new(),
        };
        // An error leaves the outcome unknown: the next attempt looks for the marker.
        let trigger = match client.send_start(project, code, &spec, &marker).await? {
            StartReceipt::Instance(id) => return Ok(id),
            StartReceipt::Trigger(trigger) => {
                self.store.record_start_trigger(claim.workflow_id, &marker, trigger).await?;
                Some(trigger)
            }
            StartReceipt::Accepted => None,
        };
        client
            .await_run(project, code, &marker, trigger, START_LOOKUP)
            .await?
            .ok_or_else(|| run_not_seen(code, &marker, START_LOOKUP.as_millis() as i64))
    }

    /// Creates or updates the schedule and puts it online (onlining a definition never onlines
    /// its schedule, §7.6). An OFFLINE definition cannot hold an online schedule: releasing it
    /// OFFLINE already took the schedule offline.
    async fn publish_schedule(
        &self,
        target: &DolphinTarget,
        project: i64,
        code: i64,
        workflow: &Workflow,
    ) -> Result<Option<i64>> {
        let client = &target.client;
        let Some(schedule) = &workflow.schedule else { return Ok(workflow.publication.schedule_id) };
        if !workflow.online {
            return Ok(workflow.publication.schedule_id);
        }
        let quartz = schedule.cron.to_quartz().map_err(|why| Error::invalid_field("schedule.cron", why))?;
        let spec = ScheduleSpec {
            quartz_cron: quartz,
            timezone: schedule.timezone.clone(),
            start: schedule.start.clone(),
            end: schedule.end.clone(),
            warning_group: target.warning_group,
            worker_group: target.worker_group.clone(),
            tenant: target.tenant.clone(),
        };
        let existing = match workflow.publication.schedule_id {
            Some(id) => Some(id),
            None => client.find_schedule(project, code).await?.map(|s| s.id),
        };
        let id = match existing {
            Some(id) => match client.update_schedule(project, id, &spec).await {
                Ok(()) => id,
                // Deleted in DolphinScheduler since: make a new one.
                Err(e) if e.reason == Reason::DsNotFound => {
                    client.create_schedule(project, code, &spec).await?
                }
                Err(e) => return Err(e),
            },
            None => client.create_schedule(project, code, &spec).await?,
        };
        client.set_schedule_online(project, id, true).await?;
        Ok(Some(id))
    }

    /// The DAG of the workflow as it is now.
    async fn plan(&self, workflow: &Workflow, tasks: &[Task]) -> Result<DagPlan> {
        let plan_tasks: Vec<PlanTask> =
            tasks.iter().map(|t| PlanTask { id: t.id, name: t.def.name.clone() }).collect();
        let (internal, external) = match &workflow.explicit_dependencies {
            Some(edges) => (edges.clone(), Vec::new()),
            None => {
                let external = self.external_upstreams(workflow, tasks).await?;
                let members: HashSet<i64> = tasks.iter().map(|t| t.id).collect();
                let mut internal = Vec::new();
                for task in tasks {
                    let deps = self.catalog.task_dependencies(&Start::TaskId(task.id)).await?;
                    internal.extend(
                        deps.upstream
                            .iter()
                            .filter(|(up, ..)| members.contains(up))
                            .map(|(up, ..)| (*up, task.id)),
                    );
                }
                (internal, external)
            }
        };
        Ok(plan_dag(&plan_tasks, &internal, &external, &workflow.positions))
    }

    /// The tasks of other workflows that tasks of this one read from (through lineage), as
    /// DEPENDENT targets. Refused when such a task is not in a published workflow (it would
    /// never run on DolphinScheduler, so nothing could wait for it). STREAM tasks are left out:
    /// their tables are always being written.
    pub(super) async fn external_upstreams(
        &self,
        workflow: &Workflow,
        tasks: &[Task],
    ) -> Result<Vec<(i64, ExternalUpstream)>> {
        // Other replicas may have written tasks this one's index has not caught up with.
        self.catalog.refresh_lineage().await?;
        let members: HashSet<i64> = tasks.iter().map(|t| t.id).collect();
        let mut wanted: Vec<(i64, i64, String, Vec<String>)> = Vec::new();
        for task in tasks {
            let deps = self.catalog.task_dependencies(&Start::TaskId(task.id)).await?;
            for (up, name, via) in deps.upstream {
                if !members.contains(&up) {
                    wanted.push((task.id, up, name, via));
                }
            }
        }
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<i64> = wanted.iter().map(|w| w.1).collect();
        let upstream_tasks = self.store.tasks_by_ids(&ids).await?;
        let homes = self.store.workflows_of_tasks(&ids).await?;
        let mut external = Vec::new();
        for (down, up, name, via) in wanted {
            let batch = upstream_tasks
                .iter()
                .any(|t| t.id == up && t.def.engine == crate::domain::task::Engine::Dolphin);
            if !batch {
                continue;
            }
            match homes.get(&up) {
                Some((_, _, Some(workflow_code), Some(task_code))) => external.push((
                    down,
                    ExternalUpstream {
                        task_id: up,
                        task_name: name,
                        workflow_code: *workflow_code,
                        task_code: *task_code,
                    },
                )),
                other => {
                    let downstream =
                        tasks.iter().find(|t| t.id == down).map(|t| t.def.name.as_str()).unwrap_or("");
                    let place = match other {
                        Some((_, home, ..)) => format!("its workflow {home:?} is not published"),
                        None => "it is in no workflow".to_owned(),
                    };
                    return Err(Error::new(
                        ErrorKind::FailedPrecondition,
                        Reason::WorkflowNotPublished,
                        format!(
                            "task {downstream:?} of workflow {:?} reads {} written by task {name:?}, but {place}; \
                             publish that task first",
                            workflow.def.name,
                            via.join(", ")
                        ),
                    )
                    .with_metadata("upstream_task", name));
                }
            }
        }
        Ok(external)
    }

    /// The DolphinScheduler definition of the plan.
    async fn workflow_spec(
        &self,
        target: &DolphinTarget,
        project: i64,
        workflow: &Workflow,
        tasks: &[Task],
        plan: &DagPlan,
        codes: &BTreeMap<String, i64>,
    ) -> Result<WorkflowSpec> {
        let code = |node: &PlanNode| {
            codes
                .get(&node.key())
                .copied()
                .ok_or_else(|| Error::internal(format!("no task code for {}", node.key())))
        };
        let externals = &plan.waits;
        let mut specs = Vec::with_capacity(plan.nodes.len());
        for node in &plan.nodes {
            let (kind, description, retries, retry_interval_minutes, timeout_minutes, priority) = match node {
                PlanNode::Task(id) => {
                    let task = tasks
                        .iter()
                        .find(|t| t.id == *id)
                        .ok_or_else(|| Error::internal(format!("task {id} vanished while publishing")))?;
                    let def = &task.def;
                    let kind = match &def.body {
                        TaskBody::Sql(sql) => {
                            let (datasource_id, db_type) =
                                self.datasource(target, &def.name, &def.datasource).await?;
                            TaskKind::Sql { datasource_id, db_type, sql: sql.clone() }
                        }
                        TaskBody::Shell(script) => TaskKind::Shell { script: script.clone() },
                        TaskBody::Python(script) => TaskKind::Python { script: script.clone() },
                    };
                    (
                        kind,
                        def.description.clone(),
                        def.retries.max(0) as u32,
                        minutes_up(def.retry_interval_secs).max(1),
                        (def.timeout_secs > 0).then(|| minutes_up(def.timeout_secs)),
                        def.priority.as_str().to_owned(),
                    )
                }
                PlanNode::WaitFor(id) => {
                    let up = externals
                        .get(id)
                        .ok_or_else(|| Error::internal(format!("no upstream for waiting node {id}")))?;
                    (
                        TaskKind::Dependent { project, workflow: up.workflow_code, task: up.task_code },
                        format!("Waits for task {} of another workflow.", up.task_name),
                        0,
                        1,
                        None,
                        "MEDIUM".to_owned(),
                    )
                }
            };
            specs.push(TaskSpec {
                code: code(node)?,
                name: node_name(node, tasks, externals),
                description,
                kind,
                retries,
                retry_interval_minutes,
                timeout_minutes,
                priority,
                worker_group: target.worker_group.clone(),
            });
        }
        let has_upstream: HashSet<&PlanNode> = plan.edges.iter().map(|(_, down)| down).collect();
        let mut relations: Vec<(i64, i64)> = Vec::with_capacity(plan.nodes.len() + plan.edges.len());
        // Every task must be the downstream end of a relation; roots hang off code 0 (§7.4).
        for node in plan.nodes.iter().filter(|n| !has_upstream.contains(n)) {
            relations.push((0, code(node)?));
        }
        for (up, down) in &plan.edges {
            relations.push((code(up)?, code(down)?));
        }
        let locations = plan
            .positions
            .iter()
            .map(|(node, (x, y))| Ok((code(node)?, *x, *y)))
            .collect::<Result<Vec<_>>>()?;
        Ok(WorkflowSpec {
            name: workflow.def.name.clone(),
            description: workflow.def.description.clone(),
            tenant: target.tenant.clone(),
            global_params: workflow.global_params.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            timeout_minutes: 0,
            tasks: specs,
            relations,
            locations,
        })
    }

    /// A datasource's DolphinScheduler id and type, by name.
    async fn datasource(&self, target: &DolphinTarget, task: &str, name: &str) -> Result<(i64, String)> {
        let name = if name.is_empty() { target.default_datasource.as_str() } else { name };
        if name.is_empty() {
            return Err(Error::new(
                ErrorKind::FailedPrecondition,
                Reason::InvalidArgument,
                format!(
                    "SQL task {task:?} names no datasource and DS_DEFAULT_DATASOURCE is not set; name a \
                     DolphinScheduler datasource"
                ),
            ));
        }
        let mut cache = self.datasources.lock().await;
        if let Some((id, db_type, at)) = cache.get(name)
            && at.elapsed() < DATASOURCE_TTL
        {
            return Ok((*id, db_type.clone()));
        }
        let (id, db_type) = target.client.datasource_id(name).await.map_err(|e| {
            if e.reason == Reason::DsNotFound {
                Error { message: format!("task {task:?}: {}", e.message), ..e }
            } else {
                e
            }
        })?;
        cache.insert(name.to_owned(), (id, db_type.clone(), Instant::now()));
        Ok((id, db_type))
    }
}

/// A start was sent `sent_ms` ago and its run is not seen yet: the request is put back, to look
/// again rather than start another run.
fn run_not_seen(code: i64, marker: &str, sent_ms: i64) -> Error {
    Error::new(
        ErrorKind::Unavailable,
        Reason::DsUnavailable,
        format!(
            "the start of workflow {code} sent {} s ago has no run in DolphinScheduler yet; looking again \
             before starting another",
            sent_ms / 1000
        ),
    )
    .with_metadata("run_marker", marker)
}

/// The DolphinScheduler task name of a node.
fn node_name(node: &PlanNode, tasks: &[Task], externals: &BTreeMap<i64, ExternalUpstream>) -> String {
    match node {
        PlanNode::Task(id) => {
            tasks.iter().find(|t| t.id == *id).map(|t| t.def.name.clone()).unwrap_or_default()
        }
        PlanNode::WaitFor(id) => {
            format!("wait_for_{}", externals.get(id).map_or_else(|| id.to_string(), |u| u.task_name.clone()))
        }
    }
}

/// Seconds to whole minutes, rounding up (DolphinScheduler counts retry intervals and timeouts
/// in minutes).
fn minutes_up(seconds: i64) -> u32 {
    u32::try_from((seconds.max(0) + 59) / 60).unwrap_or(u32::MAX)
}

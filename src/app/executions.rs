//! Runs of tasks: reports arrive (the generic callback, DolphinScheduler's alerts), are stored
//! before the sender gets its answer, and are applied to one record per run by a worker. Alerts
//! are hints: the instances they name are read from DolphinScheduler, and a poller reads the
//! instances nobody reports on. Every replica runs the workers; rows are claimed, so each
//! report and each read is carried out once.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, broadcast, mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::paging::Page;
use super::workflows::Workflows;
use crate::domain::execution::{
    ExecutionRecord, ExecutionSource, ExecutionState, ExecutionStats, Observation, RunKey, parse_report_time,
};
use crate::domain::{EpochMillis, Lookup, now_millis};
use crate::error::{Error, ErrorKind, Reason, Result, Violations};
use crate::metrics;
use crate::scheduler::dolphin::Secret;
use crate::scheduler::dolphin::alert::{Alert, AlertKind, parse_alert};
use crate::storage::{ExecutionCursor, ExecutionFilter, FollowedRun, PollOutcome, Store, StoredReport};

/// Reports written to the database in one statement at most; more wait for the next one.
const INGEST_BATCH: usize = 500;
/// Reports applied in one transaction at most.
const APPLY_BATCH: i64 = 500;
/// How long the applier lets reports gather after a batch that did not fill up.
const APPLY_GATHER: Duration = Duration::from_millis(25);
/// How long a replica holds a followed instance while it reads it.
const POLL_LEASE_MS: i64 = 60_000;
/// Longest pause between reads of an instance whose reads keep failing.
const MAX_FAILURE_BACKOFF_MS: i64 = 60_000;
/// Changes a slow watcher may fall behind by before it is told it missed some.
const EVENT_BUFFER: usize = 4096;
/// How often the live feed reads what other replicas changed.
const FEED_INTERVAL: Duration = Duration::from_millis(200);
/// Changes the live feed reads at once, at most.
const FEED_BATCH: i64 = 1000;
/// How long an id the change log skipped is looked for (its transaction may commit late).
const SKIPPED_ID_WAIT: Duration = Duration::from_secs(10);
/// How long the change log keeps a change.
const CHANGE_LOG_KEEP_MS: i64 = 3_600_000;

/// How executions are followed.
#[derive(Debug, Clone)]
pub struct ExecutionSettings {
    /// Pause between reads of a running instance; zero reads an instance only when a callback
    /// names it (callbacks alone).
    pub poll_interval: Duration,
    /// The pause grows while reads find nothing new, up to this.
    pub max_poll_interval: Duration,
    /// Pause between looks for runs of published workflows that nobody reported (scheduled
    /// runs without alerts); zero turns the look off.
    pub discover_interval: Duration,
    /// Instances read at once, at most.
    pub poll_concurrency: usize,
    /// When set, every report must carry it.
    pub callback_secret: Option<Secret>,
    /// The IANA time zone of generic reports' times without an offset (DolphinScheduler's own
    /// dates are read by its client, in the zones DolphinScheduler prints them in).
    pub timezone: String,
}

/// The generic report of one task run, as it arrived.
#[derive(Debug, Clone, Default)]
pub struct TaskRunReport {
    /// The task.
    pub task_id: i64,
    /// Its status name.
    pub status: String,
    /// When it started.
    pub start_time: String,
    /// When it ended; empty while it runs.
    pub end_time: String,
    /// Rows it wrote.
    pub rows_output: Option<i64>,
    /// The workflow instance it ran in; 0 when unknown.
    pub workflow_instance_id: i64,
    /// The worker.
    pub host: String,
}

/// A change of an execution record.
#[derive(Debug, Clone)]
pub struct ExecutionEvent {
    /// The record after the change.
    pub record: ExecutionRecord,
    /// Whether the change created it.
    pub created: bool,
}

/// A page of executions.
#[derive(Debug)]
pub struct ExecutionPage {
    /// The runs.
    pub executions: Vec<ExecutionRecord>,
    /// Token of the next page; empty on the last.
    pub next_page_token: String,
    /// Runs matching the filters over all pages.
    pub total_size: i64,
}

/// Where a table was last written from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Freshness {
    /// When the run ended.
    pub last_success_time: EpochMillis,
    /// The task.
    pub task_id: i64,
    /// The run.
    pub execution_id: i64,
}

/// A page of a run's log.
#[derive(Debug)]
pub struct ExecutionLog {
    /// The lines.
    pub text: String,
    /// How many.
    pub line_count: u32,
    /// `skip_lines` of the next page.
    pub next_skip_lines: u32,
    /// Whether this page reached the end of the log as it is now.
    pub end_of_log: bool,
}

/// A report as it is stored between receipt and application.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind")]
enum StoredPayload {
    /// The generic report, checked and normalised.
    #[serde(rename = "TASK_RUN")]
    TaskRun(TaskRunPayload),
    /// The instances an alert named.
    #[serde(rename = "DOLPHIN_ALERT")]
    Alert { runs: Vec<AlertedRun> },
}

#[derive(Debug, Serialize, Deserialize)]
struct TaskRunPayload {
    task_id: i64,
    state: String,
    status: String,
    start_time: EpochMillis,
    end_time: Option<EpochMillis>,
    rows_output: Option<i64>,
    workflow_instance_id: Option<i64>,
    host: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct AlertedRun {
    instance: i64,
    definition: Option<i64>,
    project: Option<i64>,
}

/// A report waiting for its turn to be written.
struct PendingReport {
    kind: &'static str,
    payload: String,
    received_at: EpochMillis,
    stored: oneshot::Sender<Result<()>>,
}

/// Execution reports, records and the workers behind them.
#[derive(Clone)]
pub struct Executions {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    workflows: Workflows,
    settings: ExecutionSettings,
    zone: jiff::tz::TimeZone,
    ingest: mpsc::Sender<PendingReport>,
    ingest_queue: Arc<tokio::sync::Mutex<mpsc::Receiver<PendingReport>>>,
    events: broadcast::Sender<ExecutionEvent>,
    reports_stored: Notify,
    runs_hinted: Notify,
    /// Records changed here: the live feed reads the change log at once.
    changes_written: Notify,
    /// Tasks known to exist: a report for one of them needs no lookup.
    known_tasks: Mutex<HashSet<i64>>,
    /// Cancelled when the service shuts down: live feeds end then.
    shutdown: CancellationToken,
}

impl std::fmt::Debug for Executions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Executions").field("settings", &self.inner.settings).finish_non_exhaustive()
    }
}

impl Executions {
    /// Executions stored in `store`, confirmed through `workflows`' DolphinScheduler client, until
    /// `shutdown`.
    pub fn new(
        store: Store,
        workflows: Workflows,
        settings: ExecutionSettings,
        shutdown: CancellationToken,
    ) -> Result<Executions> {
        let zone = jiff::tz::TimeZone::get(&settings.timezone).map_err(|_| {
            Error::invalid_field("ds_timezone", format!("{:?} is not a known time zone", settings.timezone))
        })?;
        let (ingest, queue) = mpsc::channel(INGEST_BATCH * 8);
        let (events, _) = broadcast::channel(EVENT_BUFFER);
        Ok(Executions {
            inner: Arc::new(Inner {
                store,
                workflows,
                settings,
                zone,
                ingest,
                ingest_queue: Arc::new(tokio::sync::Mutex::new(queue)),
                events,
                reports_stored: Notify::new(),
                runs_hinted: Notify::new(),
                changes_written: Notify::new(),
                known_tasks: Mutex::default(),
                shutdown,
            }),
        })
    }

    /// Refuses a report that does not carry the configured shared secret.
    pub fn check_secret(&self, presented: Option<&str>) -> Result<()> {
        let Some(secret) = &self.inner.settings.callback_secret else { return Ok(()) };
        let expected = secret.expose().as_bytes();
        let presented = presented.unwrap_or_default().as_bytes();
        // Compared in time that does not depend on where they differ.
        let same = expected.len() == presented.len()
            && expected.iter().zip(presented).fold(0u8, |diff, (a, b)| diff | (a ^ b)) == 0;
        if same {
            return Ok(());
        }
        metrics::count("dataportal_callbacks_rejected_total", &[("reason", "unauthenticated")], 1);
        Err(Error::new(
            ErrorKind::Unauthenticated,
            Reason::CallbackUnauthenticated,
            "the report does not carry the callback secret (header x-callback-secret)",
        ))
    }

    /// Checks and stores a generic report; returns once it is durable.
    pub async fn report_task_run(&self, report: TaskRunReport) -> Result<()> {
        let payload = self.check_report(&report)?;
        if !self.task_exists(report.task_id).await? {
            metrics::count("dataportal_callbacks_rejected_total", &[("reason", "unknown_task")], 1);
            return Err(crate::storage::task_not_found(&Lookup::Id(report.task_id)));
        }
        self.store_report("TASK_RUN", payload).await
    }

    /// Reads a DolphinScheduler alert and stores the instances it names; returns what it said.
    /// Alerts that name no instance (tests, empty content, other events) are answered, not stored.
    pub async fn report_alert(
        &self,
        body: &[u8],
        content_type: Option<&str>,
        query: Option<&str>,
    ) -> Result<Alert> {
        let alert = parse_alert(body, content_type, query);
        if alert.kind == AlertKind::Misconfigured {
            tracing::warn!(note = ?alert.note, "a DolphinScheduler alert arrived with its placeholder unreplaced: \
                           the alert plugin's body template must be {{\"content\": \"${{msg}}\"}}");
        }
        if alert.hints.is_empty() {
            metrics::count("dataportal_callbacks_received_total", &[("kind", kind_label(alert.kind))], 1);
            return Ok(alert);
        }
        let mut runs: Vec<AlertedRun> = Vec::new();
        for hint in &alert.hints {
            if !runs.iter().any(|r| r.instance == hint.workflow_instance_id) {
                runs.push(AlertedRun {
                    instance: hint.workflow_instance_id,
                    definition: hint.definition_code,
                    project: hint.project_code,
                });
            }
        }
        let payload = serde_json::to_string(&StoredPayload::Alert { runs })
            .map_err(|e| Error::internal(e.to_string()))?;
        self.store_report("DOLPHIN_ALERT", payload).await?;
        Ok(alert)
    }

    /// The stored form of a generic report, or every problem with it.
    fn check_report(&self, report: &TaskRunReport) -> Result<String> {
        let mut violations = Violations::default();
        if report.task_id <= 0 {
            violations.add("task_id", "must name a task (a positive id)");
        }
        let state = ExecutionState::from_scheduler(&report.status);
        if state.is_none() {
            violations.add(
                "status",
                "must be a run status such as SUCCESS, FAILURE, RUNNING, SUBMITTED, STOP, KILL or PAUSE",
            );
        }
        let start = parse_report_time(&report.start_time, &self.inner.zone);
        if start.is_none() {
            violations.add(
                "start_time",
                "must be a time such as 2025-10-17T03:00:00 (RFC 3339, or local to DS_TIMEZONE)",
            );
        }
        let end = match report.end_time.trim() {
            "" => None,
            text => {
                let end = parse_report_time(text, &self.inner.zone);
                match (end, start) {
                    (None, _) => violations.add("end_time", "must be a time like start_time, or empty"),
                    (Some(end), Some(start)) if end < start => {
                        violations.add("end_time", "must not be before start_time")
                    }
                    _ => {}
                }
                end
            }
        };
        if report.rows_output.is_some_and(|rows| rows < 0) {
            violations.add("rows_output", "must not be negative");
        }
        if report.workflow_instance_id < 0 {
            violations.add("workflow_instance_id", "must not be negative");
        }
        if report.host.len() > 255 {
            violations.add("host", "must be at most 255 bytes");
        }
        violations.into_result(())?;
        let (Some(state), Some(start_time)) = (state, start) else {
            return Err(Error::internal("a checked report lacks its state or start"));
        };
        let payload = StoredPayload::TaskRun(TaskRunPayload {
            task_id: report.task_id,
            state: state.as_str().to_owned(),
            status: report.status.trim().to_ascii_uppercase(),
            start_time,
            end_time: end,
            rows_output: report.rows_output,
            workflow_instance_id: Some(report.workflow_instance_id).filter(|id| *id > 0),
            host: report.host.clone(),
        });
        serde_json::to_string(&payload).map_err(|e| Error::internal(e.to_string()))
    }

    async fn task_exists(&self, task_id: i64) -> Result<bool> {
        if self.inner.known_tasks.lock().unwrap_or_else(PoisonError::into_inner).contains(&task_id) {
            return Ok(true);
        }
        let found = self.inner.store.task_names(&[task_id]).await?.contains_key(&task_id);
        if found {
            self.inner.known_tasks.lock().unwrap_or_else(PoisonError::into_inner).insert(task_id);
        }
        Ok(found)
    }

    /// Hands a report to the writers and waits until it is committed.
    async fn store_report(&self, kind: &'static str, payload: String) -> Result<()> {
        let (stored, committed) = oneshot::channel();
        let pending = PendingReport { kind, payload, received_at: now_millis(), stored };
        self.inner.ingest.send(pending).await.map_err(|_| shutting_down())?;
        committed.await.map_err(|_| shutting_down())??;
        metrics::count("dataportal_callbacks_received_total", &[("kind", kind)], 1);
        Ok(())
    }

    /// Writes queued reports, many per statement: while one batch commits the next gathers, so
    /// a burst costs a few commits rather than one per report. Two writers overlap their commits.
    pub async fn run_writers(self, shutdown: CancellationToken) {
        let writers = (0..2).map(|_| self.clone().write_reports(shutdown.clone()));
        futures_util::future::join_all(writers).await;
    }

    async fn write_reports(self, shutdown: CancellationToken) {
        loop {
            let batch = {
                let mut queue = self.inner.ingest_queue.lock().await;
                let first = tokio::select! {
                    biased;
                    report = queue.recv() => report,
                    () = shutdown.cancelled() => {
                        // New reports are refused from now on (their senders hear UNAVAILABLE);
                        // those already accepted are still written.
                        queue.close();
                        queue.recv().await
                    }
                };
                let Some(first) = first else { return };
                let mut batch = vec![first];
                while batch.len() < INGEST_BATCH {
                    match queue.try_recv() {
                        Ok(report) => batch.push(report),
                        Err(_) => break,
                    }
                }
                batch
            };
            let rows: Vec<(&str, String, EpochMillis)> =
                batch.iter().map(|r| (r.kind, r.payload.clone(), r.received_at)).collect();
            let written = super::with_retries(|| async {
                let mut tx = self.inner.store.begin_write().await?;
                tx.insert_reports(&rows).await?;
                tx.commit().await
            })
            .await;
            if let Err(e) = &written {
                tracing::warn!(error = %e, reports = batch.len(), "could not store execution reports");
            }
            for report in batch {
                let _ = report.stored.send(written.clone());
            }
            self.inner.reports_stored.notify_one();
        }
    }

    /// Applies stored reports until `shutdown`.
    pub async fn run_applier(self, shutdown: CancellationToken) {
        let mut failing = false;
        loop {
            let wait = match self.apply_reports().await {
                Ok(applied) if applied as i64 == APPLY_BATCH => Duration::ZERO,
                // A burst is under way: its next reports gather for a moment into one larger
                // batch, which costs the database far fewer statements than many small ones.
                Ok(applied) if applied > 0 => APPLY_GATHER,
                Ok(_) => {
                    if let Ok(pending) = self.inner.store.pending_reports().await {
                        metrics::set_gauge("dataportal_reports_pending", &[], pending as f64);
                    }
                    Duration::from_secs(1)
                }
                Err(e) => {
                    if !failing {
                        tracing::warn!(error = %e, "cannot apply execution reports; retrying");
                    }
                    failing = true;
                    tokio::select! {
                        () = shutdown.cancelled() => return,
                        () = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                    continue;
                }
            };
            failing = false;
            if wait == APPLY_GATHER || wait.is_zero() {
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(wait) => {}
                }
                continue;
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = self.inner.reports_stored.notified() => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Applies one batch of stored reports in one transaction; returns how many.
    pub async fn apply_reports(&self) -> Result<usize> {
        let store = &self.inner.store;
        let mut tx = store.begin_claim().await?;
        let reports = tx.claim_reports(APPLY_BATCH).await?;
        if reports.is_empty() {
            return Ok(0);
        }
        let mut runs = Vec::new();
        let mut alerted = Vec::new();
        for StoredReport { id, kind, payload } in &reports {
            match serde_json::from_str::<StoredPayload>(payload) {
                Ok(StoredPayload::TaskRun(run)) => runs.push(run),
                Ok(StoredPayload::Alert { runs }) => alerted.extend(runs),
                Err(e) => {
                    tracing::warn!(report = id, kind = %kind, error = %e, "dropping an unreadable stored report");
                    metrics::count("dataportal_callbacks_rejected_total", &[("reason", "unreadable")], 1);
                }
            }
        }
        let task_ids: Vec<i64> = runs.iter().map(|r| r.task_id).collect::<HashSet<_>>().into_iter().collect();
        let names = store.task_names(&task_ids).await?;
        let now = now_millis();
        let mut observed = Vec::new();
        for run in runs {
            let Ok(state) = run.state.parse::<ExecutionState>() else {
                metrics::count("dataportal_callbacks_rejected_total", &[("reason", "unreadable")], 1);
                continue;
            };
            let key = run.workflow_instance_id.map_or(RunKey::Started(run.start_time), RunKey::Instance);
            let observation = Observation {
                task_instance_id: None,
                task_code: None,
                state,
                scheduler_state: run.status,
                start_time: Some(run.start_time),
                end_time: run.end_time,
                rows_output: run.rows_output,
                host: run.host,
                log_path: String::new(),
                retry_times: 0,
                source: ExecutionSource::Callback,
            };
            observed.push((run.task_id, key, None, observation));
        }
        let (changed, unchanged, unknown) = record_observations(&mut tx, &names, observed, now).await?;
        let project = self.inner.workflows.known_project_code();
        let mut hinted = 0;
        for run in alerted {
            let Some(project) = run.project.or(project) else {
                tracing::warn!(
                    instance = run.instance,
                    "an alert names an instance of an unknown project; polling will find it"
                );
                continue;
            };
            let workflow = match run.definition {
                Some(code) => store.workflow_of_definition(code).await?,
                None => None,
            };
            tx.follow_run(run.instance, workflow, project, true, now).await?;
            hinted += 1;
        }
        let ids: Vec<i64> = reports.iter().map(|r| r.id).collect();
        tx.delete_reports(&ids).await?;
        tx.commit().await?;
        metrics::count("dataportal_callbacks_deduplicated_total", &[("kind", "TASK_RUN")], unchanged);
        metrics::count("dataportal_callbacks_rejected_total", &[("reason", "unknown_task")], unknown);
        if hinted > 0 {
            self.inner.runs_hinted.notify_one();
        }
        if changed > 0 {
            self.inner.changes_written.notify_one();
        }
        Ok(reports.len())
    }

    /// Reads followed instances from DolphinScheduler until `shutdown`; looks for runs of
    /// published workflows nobody reported every `discover_interval`.
    pub async fn run_poller(self, owner: String, shutdown: CancellationToken) {
        if self.inner.workflows.dolphin_client().is_none() {
            return;
        }
        let settings = &self.inner.settings;
        let mut next_discovery = tokio::time::Instant::now();
        loop {
            if !settings.discover_interval.is_zero() && tokio::time::Instant::now() >= next_discovery {
                if let Err(e) = self.discover_runs().await {
                    tracing::debug!(error = %e, "cannot look for new workflow runs");
                }
                next_discovery = tokio::time::Instant::now() + settings.discover_interval;
            }
            let read = match self.poll_due(&owner).await {
                Ok(read) => read,
                Err(e) => {
                    tracing::debug!(error = %e, "cannot claim workflow runs to read");
                    0
                }
            };
            if read > 0 {
                continue;
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = self.inner.runs_hinted.notified() => {}
                () = tokio::time::sleep(Duration::from_millis(250)) => {}
            }
        }
    }

    /// Reads the followed instances that are due; returns how many.
    pub async fn poll_due(&self, owner: &str) -> Result<usize> {
        let settings = &self.inner.settings;
        let now = now_millis();
        let lag = self.inner.store.oldest_due_run(now).await?.map_or(0, |due| now - due);
        metrics::set_gauge("dataportal_poller_lag_seconds", &[], lag as f64 / 1000.0);
        let hinted_only = settings.poll_interval.is_zero();
        let limit = (settings.poll_concurrency.max(1) * 4) as i64;
        let runs = self.inner.store.claim_due_runs(owner, now, POLL_LEASE_MS, limit, hinted_only).await?;
        let count = runs.len();
        futures_util::stream::iter(runs)
            .map(|run| self.read_run(run, owner))
            .buffer_unordered(settings.poll_concurrency.max(1))
            .for_each(|outcome| async move {
                if let Err(e) = outcome {
                    tracing::warn!(error = %e, "cannot record a workflow run");
                }
            })
            .await;
        Ok(count)
    }

    /// Reads one instance and its task runs, records them and schedules the next read.
    async fn read_run(&self, run: FollowedRun, owner: &str) -> Result<()> {
        let target = self.inner.workflows.target()?;
        let id = run.workflow_instance_id;
        let read = tokio::try_join!(
            target.client.workflow_instance(run.project_code, id),
            target.client.task_instances(run.project_code, id)
        );
        let now = now_millis();
        let outcome = match read {
            Err(e) if e.reason == Reason::DsNotFound => {
                metrics::count("dataportal_poller_reads_total", &[("outcome", "gone")], 1);
                PollOutcome::Gone { error: e.message }
            }
            Err(e) => {
                metrics::count("dataportal_poller_reads_total", &[("outcome", "failed")], 1);
                let backoff = (1_000i64 << run.failures.clamp(0, 6)).min(MAX_FAILURE_BACKOFF_MS);
                PollOutcome::Failed { error: e.message, retry_at: now + backoff }
            }
            Ok((instance, tasks)) => {
                metrics::count("dataportal_poller_reads_total", &[("outcome", "read")], 1);
                match self.record_read(&run, owner, instance, tasks, now).await {
                    Ok(()) => return Ok(()),
                    // The read stands, its recording failed (a record written by another
                    // worker at the same moment, the database away): release the claim and
                    // read again soon rather than when the lease runs out.
                    Err(e) => PollOutcome::Failed { error: e.message, retry_at: now + 500 },
                }
            }
        };
        let mut tx = self.inner.store.begin_write().await?;
        tx.finish_poll(&run, owner, &outcome, now).await?;
        tx.commit().await
    }

    /// Records what a read of a followed instance found and schedules the next read, in one
    /// transaction.
    async fn record_read(
        &self,
        run: &FollowedRun,
        owner: &str,
        instance: crate::scheduler::dolphin::WorkflowInstance,
        tasks: Vec<crate::scheduler::dolphin::TaskInstance>,
        now: EpochMillis,
    ) -> Result<()> {
        let id = run.workflow_instance_id;
        let store = &self.inner.store;
        let workflow_id = match run.workflow_id {
            Some(id) => Some(id),
            None => store.workflow_of_definition(instance.workflow_code).await?,
        };
        let task_of_code: HashMap<i64, i64> = match workflow_id {
            Some(workflow) => store
                .workflow_task_codes(workflow)
                .await?
                .into_iter()
                .filter_map(|(node, code)| node.strip_prefix("task:")?.parse().ok().map(|task| (code, task)))
                .collect(),
            None => HashMap::new(),
        };
        let names = store.task_names(&task_of_code.values().copied().collect::<Vec<_>>()).await?;
        let source = if run.hinted { ExecutionSource::Callback } else { ExecutionSource::Poll };
        let observed = tasks
            .iter()
            .filter_map(|t| {
                let task_id = *task_of_code.get(&t.task_code)?;
                let state = ExecutionState::from_scheduler(&t.state)?;
                let observation = Observation {
                    task_instance_id: Some(t.id),
                    task_code: Some(t.task_code),
                    state,
                    scheduler_state: t.state.clone(),
                    start_time: t.started_at,
                    end_time: t.ended_at,
                    rows_output: None,
                    host: t.host.clone(),
                    log_path: t.log_path.clone(),
                    retry_times: t.retry_times,
                    source,
                };
                Some((task_id, RunKey::Instance(id), workflow_id, observation))
            })
            .collect();
        let finished = ExecutionState::from_scheduler(&instance.state).is_some_and(ExecutionState::is_final);
        let mut tx = store.begin_write().await?;
        let (changes, _, _) = record_observations(&mut tx, &names, observed, now).await?;
        let changed = changes > 0 || instance.state != run.state;
        let next_poll_at = now + self.next_read_in(if changed { 0 } else { run.idle_polls + 1 });
        let outcome = PollOutcome::Read { state: instance.state, finished, changed, next_poll_at };
        tx.finish_poll(run, owner, &outcome, now).await?;
        tx.commit().await?;
        if changed {
            self.inner.changes_written.notify_one();
        }
        Ok(())
    }

    /// Milliseconds until the next read of a running instance: the poll interval, doubling after
    /// every five reads that found nothing new, up to the maximum.
    fn next_read_in(&self, idle_polls: i32) -> i64 {
        let settings = &self.inner.settings;
        let base = settings.poll_interval.as_millis() as i64;
        let max = (settings.max_poll_interval.as_millis() as i64).max(base);
        (base << (idle_polls / 5).clamp(0, 10)).min(max)
    }

    /// Follows the recent runs of published workflows that are not followed yet (runs started
    /// by DolphinScheduler's schedules, or by hand, that sent no alert).
    async fn discover_runs(&self) -> Result<()> {
        let target = self.inner.workflows.target()?;
        let store = &self.inner.store;
        let published = store.published_definitions().await?;
        if published.is_empty() {
            return Ok(());
        }
        let project = self.inner.workflows.project(target).await?;
        for (workflow_id, code) in published {
            let (instances, _) = target.client.list_workflow_instances(project, Some(code), 1, 20).await?;
            let ids: Vec<i64> = instances.iter().map(|i| i.id).collect();
            let followed: HashSet<i64> = store.followed_runs(&ids).await?.into_iter().collect();
            let new: Vec<i64> = ids.into_iter().filter(|id| !followed.contains(id)).collect();
            if new.is_empty() {
                continue;
            }
            let mut tx = store.begin_write().await?;
            for id in &new {
                tx.follow_run(*id, Some(workflow_id), project, false, now_millis()).await?;
            }
            tx.commit().await?;
            tracing::info!(workflow = workflow_id, runs = new.len(), "following runs nobody reported");
        }
        Ok(())
    }

    /// Streams the change log to this replica's watchers until `shutdown`: the changes any
    /// replica applied, read every `FEED_INTERVAL` (at once after a local change). An id the log
    /// skipped may belong to a transaction that commits later (auto-increment ids are taken
    /// before commit), so skipped ids are looked for again for `SKIPPED_ID_WAIT`. Changes older
    /// than `CHANGE_LOG_KEEP_MS` are pruned.
    pub async fn run_feed(self, shutdown: CancellationToken) {
        let store = &self.inner.store;
        let mut cursor = None;
        let mut skipped: HashMap<i64, tokio::time::Instant> = HashMap::new();
        let mut last_sent: HashMap<i64, EpochMillis> = HashMap::new();
        let mut next_prune = tokio::time::Instant::now();
        loop {
            let read = async {
                let after = match cursor {
                    Some(after) => after,
                    // Watchers see changes from when this replica started, not the history.
                    None => store.last_change_id().await?,
                };
                cursor = Some(after);
                if self.inner.events.receiver_count() == 0 {
                    // Nobody watches: move past what is there without reading it.
                    cursor = Some(store.last_change_id().await?.max(after));
                    skipped.clear();
                    return Ok::<_, Error>(());
                }
                let missing: Vec<i64> = skipped.keys().copied().collect();
                let changes = store.changes_since(after, &missing, FEED_BATCH).await?;
                let mut high = after;
                for (id, created, record) in changes {
                    skipped.remove(&id);
                    if id > high {
                        skipped.extend((high + 1..id).map(|gap| (gap, tokio::time::Instant::now())));
                        high = id;
                    }
                    // Two changes of one record read together show its latest state once.
                    if last_sent.get(&record.id) == Some(&record.updated_at) {
                        continue;
                    }
                    last_sent.insert(record.id, record.updated_at);
                    let _ = self.inner.events.send(ExecutionEvent { record, created });
                }
                cursor = Some(high);
                skipped.retain(|_, since| since.elapsed() < SKIPPED_ID_WAIT);
                if last_sent.len() > 100_000 {
                    last_sent.clear();
                }
                Ok(())
            };
            if let Err(e) = read.await {
                tracing::debug!(error = %e, "cannot read the execution change log");
            }
            if tokio::time::Instant::now() >= next_prune {
                if let Err(e) = store.prune_changes(now_millis() - CHANGE_LOG_KEEP_MS).await {
                    tracing::debug!(error = %e, "cannot prune the execution change log");
                }
                next_prune = tokio::time::Instant::now() + Duration::from_secs(60);
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = self.inner.changes_written.notified() => {}
                () = tokio::time::sleep(FEED_INTERVAL) => {}
            }
        }
    }

    /// A live feed of record changes, and the token that ends it (at shutdown: a feed never ends
    /// on its own, and the servers wait for open calls before they stop).
    pub fn watch(&self) -> (broadcast::Receiver<ExecutionEvent>, CancellationToken) {
        (self.inner.events.subscribe(), self.inner.shutdown.clone())
    }

    /// One run.
    pub async fn get_execution(&self, id: i64) -> Result<ExecutionRecord> {
        self.inner.store.get_execution(id).await
    }

    /// A page of runs, newest start first.
    pub async fn list_executions(
        &self,
        filter: ExecutionFilter,
        page_size: i32,
        page_token: &str,
    ) -> Result<ExecutionPage> {
        let page = Page::parse(page_size, page_token, &filter)?;
        let after = match page.after_id {
            0 => None,
            id => {
                let last = self.inner.store.get_execution(id).await?;
                Some(ExecutionCursor { start_time: last.start_time.unwrap_or(0), id })
            }
        };
        let (mut executions, total_size) =
            self.inner.store.list_executions(&filter, after, page.fetch_limit()).await?;
        let next_page_token = page.finish(&mut executions, |e| e.id);
        Ok(ExecutionPage { executions, next_page_token, total_size })
    }

    /// The table of this name, for a filter.
    pub async fn table_id(&self, name: &str) -> Result<i64> {
        Ok(self.inner.store.get_table(&Lookup::Name(name.to_owned())).await?.id)
    }

    /// Figures of a task's latest runs.
    pub async fn stats(
        &self,
        task_id: i64,
        since: Option<EpochMillis>,
        last_runs: i32,
    ) -> Result<ExecutionStats> {
        let limit = match last_runs {
            n if n < 0 => return Err(Error::invalid_field("last_runs", "must not be negative")),
            0 => 100,
            n => i64::from(n).min(10_000),
        };
        self.inner.store.get_task(&Lookup::Id(task_id)).await?;
        let runs = self.inner.store.recent_executions(task_id, since, limit).await?;
        Ok(ExecutionStats::of(&runs))
    }

    /// When each table was last written by a run that ended well.
    pub async fn freshness(&self, table_id: i64) -> Result<Option<Freshness>> {
        Ok(self.inner.store.table_freshness(table_id).await?.map(
            |(last_success_time, task_id, execution_id)| Freshness {
                last_success_time,
                task_id,
                execution_id,
            },
        ))
    }

    /// A page of a run's log, read from DolphinScheduler.
    pub async fn log(&self, id: i64, skip_lines: i32, limit: i32) -> Result<ExecutionLog> {
        let mut violations = Violations::default();
        if skip_lines < 0 {
            violations.add("skip_lines", "must not be negative");
        }
        if limit < 0 {
            violations.add("limit", "must not be negative");
        }
        violations.into_result(())?;
        let record = self.inner.store.get_execution(id).await?;
        let Some(task_instance) = record.task_instance_id else {
            return Err(Error::new(
                ErrorKind::FailedPrecondition,
                Reason::ExecutionHasNoLog,
                format!(
                    "execution {id} was reported without a DolphinScheduler task instance, so it has no log to read"
                ),
            ));
        };
        let limit = if limit == 0 { 1000 } else { limit.min(10_000) } as u32;
        let target = self.inner.workflows.target()?;
        let chunk = target.client.task_log(task_instance, skip_lines as u32, limit).await?;
        let line_count = if chunk.message.is_empty() { 0 } else { chunk.message.lines().count() as u32 };
        Ok(ExecutionLog {
            text: chunk.message,
            line_count,
            next_skip_lines: skip_lines as u32 + line_count,
            end_of_log: line_count < limit,
        })
    }
}

/// Applies observations (task, run, workflow, what was seen) to their records within `tx`:
/// creates missing ones, writes changed ones, and logs each change for the live feeds. Returns
/// how many records changed, how many observations changed nothing, and how many named a task
/// that does not exist.
async fn record_observations(
    tx: &mut crate::storage::Tx,
    names: &HashMap<i64, String>,
    observed: Vec<(i64, RunKey, Option<i64>, Observation)>,
    now: EpochMillis,
) -> Result<(usize, u64, u64)> {
    let keys: Vec<(i64, String)> =
        observed.iter().map(|(task, key, _, _)| (*task, key.to_string())).collect();
    let mut records: HashMap<(i64, String), (ExecutionRecord, bool)> = tx
        .lock_executions(&keys)
        .await?
        .into_iter()
        .map(|r| ((r.task_id, r.run_key.clone()), (r, false)))
        .collect();
    let mut created: HashSet<(i64, String)> = HashSet::new();
    let (mut unchanged, mut unknown) = (0, 0);
    for ((task_id, key, workflow_id, observation), map_key) in observed.into_iter().zip(keys) {
        match records.get_mut(&map_key) {
            Some((record, changed)) => {
                let mut applied = record.apply(&observation, now);
                if record.workflow_id.is_none() && workflow_id.is_some() {
                    record.workflow_id = workflow_id;
                    applied = true;
                }
                if applied {
                    *changed = true;
                } else {
                    unchanged += 1;
                }
            }
            None => match names.get(&task_id) {
                Some(name) => {
                    let record = ExecutionRecord::first(task_id, name, key, workflow_id, &observation, now);
                    records.insert(map_key.clone(), (record, true));
                    created.insert(map_key);
                }
                None => unknown += 1,
            },
        }
    }
    let mut new_records = Vec::new();
    let mut changes = Vec::new();
    for (map_key, (record, changed)) in records {
        if !changed {
            continue;
        }
        if created.contains(&map_key) {
            new_records.push(record);
        } else {
            tx.update_execution(&record).await?;
            changes.push((record.id, false));
        }
    }
    tx.insert_executions(&mut new_records).await?;
    changes.extend(new_records.iter().map(|record| (record.id, true)));
    changes.sort_unstable();
    tx.record_changes(&changes, now).await?;
    Ok((changes.len(), unchanged, unknown))
}

fn kind_label(kind: AlertKind) -> &'static str {
    match kind {
        AlertKind::Runs => "DOLPHIN_ALERT",
        AlertKind::Empty => "DOLPHIN_ALERT_EMPTY",
        AlertKind::Test => "DOLPHIN_ALERT_TEST",
        AlertKind::Misconfigured => "DOLPHIN_ALERT_MISCONFIGURED",
        AlertKind::Other => "DOLPHIN_ALERT_OTHER",
    }
}

fn shutting_down() -> Error {
    Error::new(
        ErrorKind::Unavailable,
        Reason::DatabaseUnavailable,
        "the service is shutting down; send the report again",
    )
}

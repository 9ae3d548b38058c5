//! Statements on `workflow`, `workflow_task`, `workflow_dependency` and `workflow_task_code`,
//! including the durable publish queue that lives in the `workflow` row.

use std::collections::{BTreeMap, HashMap};

use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use super::{Store, Tx, is_unique_violation, placeholders};
use crate::domain::schedule::CronSchedule;
use crate::domain::workflow::{Publication, PublishState, Workflow, WorkflowDef, WorkflowSchedule};
use crate::domain::{EpochMillis, Lookup, Version};
use crate::error::{Error, ErrorKind, Reason, Result};

macro_rules! workflow_columns {
    () => {
        "id, name, description, owner, schedule, schedule_timezone, schedule_start, schedule_end, online, \
         global_params, explicit_dependencies, version, created_at, updated_at, ds_workflow_code, \
         ds_schedule_id, publish_state, publish_generation, published_generation, publish_attempts, \
         publish_error, start_requested, last_instance_id, published_at, start_marker, start_sent_at, \
         start_trigger"
    };
}

/// A publish request a worker has claimed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublishClaim {
    /// The workflow.
    pub workflow_id: i64,
    /// The request being carried out (a newer one may arrive meanwhile).
    pub generation: i64,
}

/// How an attempt ended.
#[derive(Debug, Clone)]
pub enum PublishOutcome {
    /// DolphinScheduler has it; `instance` is the run started, if one was asked for.
    Published {
        /// The schedule's id, if the workflow has one.
        schedule_id: Option<i64>,
        /// The instance started.
        instance: Option<i64>,
    },
    /// Worth trying again at `retry_at` (DolphinScheduler was unavailable).
    Retry {
        /// Why it failed.
        error: String,
        /// Not before.
        retry_at: EpochMillis,
    },
    /// Trying again will not help until something changes.
    Failed {
        /// Why.
        error: String,
    },
}

impl Store {
    /// One workflow with its tasks, dependencies and layout.
    pub async fn get_workflow(&self, lookup: &Lookup) -> Result<Workflow> {
        let mut conn = self.pool.acquire().await?;
        let row = match lookup {
            Lookup::Id(id) => {
                sqlx::query(concat!("SELECT ", workflow_columns!(), " FROM workflow WHERE id = ?"))
                    .bind(*id)
                    .fetch_optional(&mut *conn)
                    .await?
            }
            Lookup::Name(name) => {
                sqlx::query(concat!("SELECT ", workflow_columns!(), " FROM workflow WHERE name = ?"))
                    .bind(name.as_str())
                    .fetch_optional(&mut *conn)
                    .await?
            }
        };
        let mut workflow = workflow_from_row(&row.ok_or_else(|| workflow_not_found(lookup))?)?;
        let members =
            sqlx::query("SELECT task_id, x, y FROM workflow_task WHERE workflow_id = ? ORDER BY task_id")
                .bind(workflow.id)
                .fetch_all(&mut *conn)
                .await?;
        for row in &members {
            let task: i64 = row.try_get("task_id")?;
            workflow.task_ids.push(task);
            let (x, y): (Option<i64>, Option<i64>) = (row.try_get("x")?, row.try_get("y")?);
            if let (Some(x), Some(y)) = (x, y) {
                workflow.positions.insert(task, (x as i32, y as i32));
            }
        }
        if workflow.explicit_dependencies.is_some() {
            let edges = sqlx::query(
                "SELECT upstream_task_id, downstream_task_id FROM workflow_dependency WHERE workflow_id = ? \
                 ORDER BY upstream_task_id, downstream_task_id",
            )
            .bind(workflow.id)
            .fetch_all(&mut *conn)
            .await?;
            workflow.explicit_dependencies = Some(
                edges
                    .iter()
                    .map(|r| Ok((r.try_get("upstream_task_id")?, r.try_get("downstream_task_id")?)))
                    .collect::<Result<_>>()?,
            );
        }
        Ok(workflow)
    }

    /// A page of workflows with ids above `after_id` (without tasks), and the number of all.
    pub async fn list_workflows(&self, after_id: i64, limit: i64) -> Result<(Vec<Workflow>, i64)> {
        let mut conn = self.pool.acquire().await?;
        let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM workflow").fetch_one(&mut *conn).await?;
        let rows = sqlx::query(concat!(
            "SELECT ",
            workflow_columns!(),
            " FROM workflow WHERE id > ? ORDER BY id LIMIT ?"
        ))
        .bind(after_id)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?;
        Ok((rows.iter().map(workflow_from_row).collect::<Result<_>>()?, total))
    }

    /// For each of these tasks that is in a workflow: the workflow's id, name and DolphinScheduler
    /// code, and the task's DolphinScheduler code (once published).
    pub async fn workflows_of_tasks(
        &self,
        task_ids: &[i64],
    ) -> Result<HashMap<i64, (i64, String, Option<i64>, Option<i64>)>> {
        let mut found = HashMap::new();
        for chunk in task_ids.chunks(500) {
            let sql = format!(
                "SELECT wt.task_id, w.id, w.name, w.ds_workflow_code FROM workflow_task wt \
                 JOIN workflow w ON w.id = wt.workflow_id WHERE wt.task_id IN ({})",
                placeholders(chunk.len())
            );
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for id in chunk {
                query = query.bind(*id);
            }
            for row in query.fetch_all(&self.pool).await? {
                let task: i64 = row.try_get("task_id")?;
                found.insert(
                    task,
                    (row.try_get("id")?, row.try_get("name")?, row.try_get("ds_workflow_code")?, None),
                );
            }
        }
        for (task, (workflow, _, _, code)) in found.iter_mut() {
            *code = sqlx::query_scalar(
                "SELECT ds_code FROM workflow_task_code WHERE workflow_id = ? AND node_key = ?",
            )
            .bind(*workflow)
            .bind(format!("task:{task}"))
            .fetch_optional(&self.pool)
            .await?;
        }
        Ok(found)
    }

    /// The DolphinScheduler task codes of a workflow's nodes, by node key.
    pub async fn workflow_task_codes(&self, workflow_id: i64) -> Result<BTreeMap<String, i64>> {
        let rows = sqlx::query("SELECT node_key, ds_code FROM workflow_task_code WHERE workflow_id = ?")
            .bind(workflow_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok((r.try_get("node_key")?, r.try_get("ds_code")?))).collect()
    }

    /// Claims the publish request that has waited longest and is due, for `lease_ms`.
    pub async fn claim_publish(
        &self,
        owner: &str,
        now: EpochMillis,
        lease_ms: i64,
    ) -> Result<Option<PublishClaim>> {
        let mut tx = self.begin_write().await?;
        let sql = format!(
            "SELECT id, publish_generation FROM workflow WHERE publish_state IN ('PENDING', 'PUBLISHING') \
             AND publish_next_at <= ? AND lease_until < ? ORDER BY publish_next_at, id LIMIT 1{}",
            self.dialect.claim_rows()
        );
        let row = sqlx::query(AssertSqlSafe(sql)).bind(now).bind(now).fetch_optional(&mut *tx.tx).await?;
        let Some(row) = row else { return Ok(None) };
        let claim =
            PublishClaim { workflow_id: row.try_get("id")?, generation: row.try_get("publish_generation")? };
        sqlx::query(
            "UPDATE workflow SET publish_state = 'PUBLISHING', lease_owner = ?, lease_until = ?, \
             publish_attempts = publish_attempts + 1 WHERE id = ?",
        )
        .bind(owner)
        .bind(now + lease_ms)
        .bind(claim.workflow_id)
        .execute(&mut *tx.tx)
        .await?;
        tx.commit().await?;
        Ok(Some(claim))
    }

    /// The earliest instant a publish request is due, if any waits.
    pub async fn next_publish_due(&self) -> Result<Option<EpochMillis>> {
        Ok(sqlx::query_scalar(
            "SELECT MIN(CASE WHEN lease_until > publish_next_at THEN lease_until ELSE publish_next_at END) \
             FROM workflow WHERE publish_state IN ('PENDING', 'PUBLISHING')",
        )
        .fetch_one(&self.pool)
        .await?)
    }

    /// Records the definition's code as soon as DolphinScheduler made it, so that an attempt
    /// cut short afterwards updates it instead of creating a second one.
    pub async fn record_workflow_code(&self, claim: PublishClaim, owner: &str, code: i64) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE workflow SET ds_workflow_code = ? WHERE id = ? AND lease_owner = ?")
            .bind(code)
            .bind(claim.workflow_id)
            .bind(owner)
            .execute(&mut *tx.tx)
            .await?;
        tx.commit().await
    }

    /// Records, before the start call is sent, the run marker it carries and when it is sent, so
    /// that whoever carries out the request next looks for its run instead of starting another.
    /// Refused when the lease was lost or a newer request arrived (it may ask for a run of its own):
    /// the start then waits for the next attempt.
    pub async fn record_start_sent(
        &self,
        claim: PublishClaim,
        owner: &str,
        marker: &str,
        now: EpochMillis,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let recorded = sqlx::query(
            "UPDATE workflow SET start_marker = ?, start_sent_at = ?, start_trigger = NULL \
             WHERE id = ? AND lease_owner = ? AND publish_generation = ? AND start_requested = 1",
        )
        .bind(marker)
        .bind(now)
        .bind(claim.workflow_id)
        .bind(owner)
        .bind(claim.generation)
        .execute(&mut *tx.tx)
        .await?;
        tx.commit().await?;
        if recorded.rows_affected() == 0 {
            return Err(Error::new(
                ErrorKind::Aborted,
                Reason::TransactionConflict,
                "the publish request changed hands or a newer one arrived; the start waits for the next attempt",
            ));
        }
        Ok(())
    }

    /// Records the trigger code DolphinScheduler 3.2 answered to the start that carried `marker`.
    pub async fn record_start_trigger(&self, workflow_id: i64, marker: &str, trigger: i64) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE workflow SET start_trigger = ? WHERE id = ? AND start_marker = ?")
            .bind(trigger)
            .bind(workflow_id)
            .bind(marker)
            .execute(&mut *tx.tx)
            .await?;
        tx.commit().await
    }

    /// Ends an attempt: stores the outcome (and, when published, the task codes), releases the
    /// lease. A request that arrived meanwhile leaves the workflow PENDING for another round.
    /// Returns false when the lease had been lost to another replica (its outcome wins).
    pub async fn finish_publish(
        &self,
        claim: PublishClaim,
        owner: &str,
        outcome: &PublishOutcome,
        codes: &BTreeMap<String, i64>,
        now: EpochMillis,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let newer = "CASE WHEN publish_generation > ? THEN 'PENDING' ELSE ? END";
        let result = match outcome {
            PublishOutcome::Published { schedule_id, instance } => {
                let sql = format!(
                    "UPDATE workflow SET publish_state = {newer}, published_generation = ?, publish_attempts = 0, \
                     publish_error = '', publish_next_at = 0, lease_owner = '', lease_until = 0, \
                     ds_schedule_id = ?, published_at = ?, \
                     last_instance_id = CASE WHEN ? IS NULL THEN last_instance_id ELSE ? END, \
                     start_requested = CASE WHEN publish_generation > ? THEN start_requested ELSE 0 END \
                     WHERE id = ? AND lease_owner = ?"
                );
                sqlx::query(AssertSqlSafe(sql))
                    .bind(claim.generation)
                    .bind(PublishState::Published.as_str())
                    .bind(claim.generation)
                    .bind(*schedule_id)
                    .bind(now)
                    .bind(*instance)
                    .bind(*instance)
                    .bind(claim.generation)
                    .bind(claim.workflow_id)
                    .bind(owner)
                    .execute(&mut *tx.tx)
                    .await?
            }
            PublishOutcome::Retry { error, retry_at } => {
                sqlx::query(
                    "UPDATE workflow SET publish_state = 'PENDING', publish_error = ?, publish_next_at = ?, \
                     lease_owner = '', lease_until = 0 WHERE id = ? AND lease_owner = ?",
                )
                .bind(error.as_str())
                .bind(*retry_at)
                .bind(claim.workflow_id)
                .bind(owner)
                .execute(&mut *tx.tx)
                .await?
            }
            PublishOutcome::Failed { error } => {
                let sql = format!(
                    "UPDATE workflow SET publish_state = {newer}, publish_error = ?, publish_next_at = 0, \
                     lease_owner = '', lease_until = 0, start_requested = 0 WHERE id = ? AND lease_owner = ?"
                );
                sqlx::query(AssertSqlSafe(sql))
                    .bind(claim.generation)
                    .bind(PublishState::Failed.as_str())
                    .bind(error.as_str())
                    .bind(claim.workflow_id)
                    .bind(owner)
                    .execute(&mut *tx.tx)
                    .await?
            }
        };
        if result.rows_affected() == 0 {
            return Ok(false);
        }
        if matches!(outcome, PublishOutcome::Published { .. }) {
            tx.replace_task_codes(claim.workflow_id, codes).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Records the task codes of a definition as soon as DolphinScheduler holds it, so that an
    /// attempt cut short afterwards (a run it started may exist, made of those tasks) keeps them
    /// rather than minting new ones. Nothing is written once the lease was lost.
    pub async fn record_task_codes(
        &self,
        claim: PublishClaim,
        owner: &str,
        codes: &BTreeMap<String, i64>,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let sql = format!("SELECT lease_owner FROM workflow WHERE id = ?{}", self.dialect.lock_for_update());
        let holder: Option<String> = sqlx::query_scalar(AssertSqlSafe(sql))
            .bind(claim.workflow_id)
            .fetch_optional(&mut *tx.tx)
            .await?;
        if holder.as_deref() == Some(owner) {
            tx.replace_task_codes(claim.workflow_id, codes).await?;
        }
        tx.commit().await
    }
}

impl Tx {
    /// Makes `codes` the stored task codes of the workflow's nodes.
    async fn replace_task_codes(&mut self, workflow_id: i64, codes: &BTreeMap<String, i64>) -> Result<()> {
        sqlx::query("DELETE FROM workflow_task_code WHERE workflow_id = ?")
            .bind(workflow_id)
            .execute(&mut *self.tx)
            .await?;
        for (key, code) in codes {
            sqlx::query("INSERT INTO workflow_task_code (workflow_id, node_key, ds_code) VALUES (?, ?, ?)")
                .bind(workflow_id)
                .bind(key.as_str())
                .bind(*code)
                .execute(&mut *self.tx)
                .await?;
        }
        Ok(())
    }

    /// Stores a new workflow (nothing published yet); `None` when the name is taken.
    pub async fn insert_workflow(&mut self, def: &WorkflowDef, now: EpochMillis) -> Result<Option<i64>> {
        let inserted = sqlx::query(
            "INSERT INTO workflow (name, description, owner, schedule, schedule_timezone, schedule_start, \
             schedule_end, online, global_params, explicit_dependencies, version, created_at, updated_at, \
             publish_state, publish_generation, published_generation, publish_attempts, publish_error, \
             publish_next_at, lease_owner, lease_until, start_requested) \
             VALUES (?, ?, ?, '', '', '', '', 1, '{}', 0, 1, ?, ?, 'UNPUBLISHED', 0, 0, 0, '', 0, '', 0, 0)",
        )
        .bind(def.name.as_str())
        .bind(def.description.as_str())
        .bind(def.owner.as_str())
        .bind(now)
        .bind(now)
        .execute(&mut *self.tx)
        .await;
        match inserted {
            Ok(result) => Ok(Some(self.inserted_id(&result).await?)),
            Err(e) if is_unique_violation(&e) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Locks a workflow's row until the transaction ends and returns its version; publish
    /// requests and edits of one workflow take turns here.
    pub async fn lock_workflow(&mut self, id: i64) -> Result<Version> {
        let sql = format!("SELECT version FROM workflow WHERE id = ?{}", self.dialect.lock_for_update());
        let version: Option<i64> =
            sqlx::query_scalar(AssertSqlSafe(sql)).bind(id).fetch_optional(&mut *self.tx).await?;
        version.map(Version).ok_or_else(|| workflow_not_found(&Lookup::Id(id)))
    }

    /// Saves what a caller controls of a workflow (not its tasks) and bumps its version.
    pub async fn update_workflow(&mut self, workflow: &Workflow, now: EpochMillis) -> Result<()> {
        let schedule = workflow.schedule.as_ref();
        let params = serde_json::to_string(&workflow.global_params)
            .map_err(|e| Error::internal(format!("global parameters: {e}")))?;
        sqlx::query(
            "UPDATE workflow SET description = ?, owner = ?, schedule = ?, schedule_timezone = ?, \
             schedule_start = ?, schedule_end = ?, online = ?, global_params = ?, explicit_dependencies = ?, \
             version = version + 1, updated_at = ? WHERE id = ?",
        )
        .bind(workflow.def.description.as_str())
        .bind(workflow.def.owner.as_str())
        .bind(schedule.map(|s| s.cron.to_string()).unwrap_or_default())
        .bind(schedule.map(|s| s.timezone.clone()).unwrap_or_default())
        .bind(schedule.map(|s| s.start.clone()).unwrap_or_default())
        .bind(schedule.map(|s| s.end.clone()).unwrap_or_default())
        .bind(i64::from(workflow.online))
        .bind(params)
        .bind(i64::from(workflow.explicit_dependencies.is_some()))
        .bind(now)
        .bind(workflow.id)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Makes `task_ids` (with the caller's positions) the tasks of the workflow, and `dependencies`
    /// its explicit dependencies. Fails with TASK_IN_OTHER_WORKFLOW, naming it, when a task
    /// belongs to another workflow.
    pub async fn set_workflow_tasks(
        &mut self,
        workflow_id: i64,
        task_ids: &[i64],
        positions: &HashMap<i64, (i32, i32)>,
        dependencies: &[(i64, i64)],
    ) -> Result<()> {
        for chunk in task_ids.chunks(500) {
            let sql = format!(
                "SELECT wt.task_id, w.name FROM workflow_task wt JOIN workflow w ON w.id = wt.workflow_id \
                 WHERE wt.workflow_id <> ? AND wt.task_id IN ({})",
                placeholders(chunk.len())
            );
            let mut query = sqlx::query(AssertSqlSafe(sql)).bind(workflow_id);
            for id in chunk {
                query = query.bind(*id);
            }
            if let Some(row) = query.fetch_optional(&mut *self.tx).await? {
                let (task, other): (i64, String) = (row.try_get("task_id")?, row.try_get("name")?);
                return Err(Error::new(
                    ErrorKind::FailedPrecondition,
                    Reason::TaskInOtherWorkflow,
                    format!(
                        "task {task} belongs to workflow {other:?}; a task belongs to one workflow at most"
                    ),
                )
                .with_metadata("task_id", task.to_string())
                .with_metadata("workflow", other));
            }
        }
        for table in ["workflow_task", "workflow_dependency"] {
            sqlx::query(AssertSqlSafe(format!("DELETE FROM {table} WHERE workflow_id = ?")))
                .bind(workflow_id)
                .execute(&mut *self.tx)
                .await?;
        }
        for task in task_ids {
            let position = positions.get(task);
            sqlx::query("INSERT INTO workflow_task (workflow_id, task_id, x, y) VALUES (?, ?, ?, ?)")
                .bind(workflow_id)
                .bind(*task)
                .bind(position.map(|p| i64::from(p.0)))
                .bind(position.map(|p| i64::from(p.1)))
                .execute(&mut *self.tx)
                .await
                .map_err(|e| {
                    if is_unique_violation(&e) {
                        Error::new(
                            ErrorKind::Aborted,
                            Reason::TransactionConflict,
                            format!("task {task} was just added to another workflow"),
                        )
                    } else {
                        e.into()
                    }
                })?;
        }
        for (up, down) in dependencies {
            sqlx::query(
                "INSERT INTO workflow_dependency (workflow_id, upstream_task_id, downstream_task_id) VALUES (?, ?, ?)",
            )
            .bind(workflow_id)
            .bind(*up)
            .bind(*down)
            .execute(&mut *self.tx)
            .await?;
        }
        Ok(())
    }

    /// Queues a publish of the workflow holding `task_id`, if that workflow was ever published:
    /// a change of the task then reaches DolphinScheduler without being asked for. When the task
    /// is about to be deleted (`leaving`), a workflow it is the last task of is left alone:
    /// DolphinScheduler refuses an empty definition.
    pub async fn republish_workflow_of_task(
        &mut self,
        task_id: i64,
        leaving: bool,
        now: EpochMillis,
    ) -> Result<()> {
        let others = if leaving { 1 } else { 0 };
        sqlx::query(
            "UPDATE workflow SET publish_state = 'PENDING', publish_generation = publish_generation + 1, \
             publish_attempts = 0, publish_error = '', publish_next_at = ? \
             WHERE publish_state <> 'UNPUBLISHED' \
             AND id IN (SELECT workflow_id FROM workflow_task WHERE task_id = ?) \
             AND (SELECT COUNT(*) FROM workflow_task members WHERE members.workflow_id = workflow.id) > ?",
        )
        .bind(now)
        .bind(task_id)
        .bind(others)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Queues a publish of the workflow (coalescing with one already queued) under a new
    /// generation. A start request forgets the start call an earlier request sent: it asks for a
    /// run of its own.
    pub async fn request_publish(&mut self, workflow_id: i64, start: bool, now: EpochMillis) -> Result<()> {
        sqlx::query(
            "UPDATE workflow SET publish_state = 'PENDING', publish_generation = publish_generation + 1, \
             publish_attempts = 0, publish_error = '', publish_next_at = ?, \
             start_requested = CASE WHEN ? = 1 THEN 1 ELSE start_requested END, \
             start_marker = CASE WHEN ? = 1 THEN NULL ELSE start_marker END, \
             start_sent_at = CASE WHEN ? = 1 THEN NULL ELSE start_sent_at END, \
             start_trigger = CASE WHEN ? = 1 THEN NULL ELSE start_trigger END WHERE id = ?",
        )
        .bind(now)
        .bind(i64::from(start))
        .bind(i64::from(start))
        .bind(i64::from(start))
        .bind(i64::from(start))
        .bind(workflow_id)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }
}

/// NOT_FOUND for a workflow.
pub fn workflow_not_found(lookup: &Lookup) -> Error {
    Error::new(ErrorKind::NotFound, Reason::WorkflowNotFound, format!("no workflow with {lookup}"))
}

fn workflow_from_row(row: &AnyRow) -> Result<Workflow> {
    let stored = super::unknown_stored;
    let schedule: String = row.try_get("schedule")?;
    let schedule = if schedule.is_empty() {
        None
    } else {
        Some(WorkflowSchedule {
            cron: CronSchedule::parse(&schedule).map_err(|why| stored("schedule", &why))?,
            timezone: row.try_get("schedule_timezone")?,
            start: row.try_get("schedule_start")?,
            end: row.try_get("schedule_end")?,
        })
    };
    let params: String = row.try_get("global_params")?;
    let state: String = row.try_get("publish_state")?;
    let explicit: i64 = row.try_get("explicit_dependencies")?;
    let online: i64 = row.try_get("online")?;
    let attempts: i64 = row.try_get("publish_attempts")?;
    let start_requested: i64 = row.try_get("start_requested")?;
    Ok(Workflow {
        id: row.try_get("id")?,
        def: WorkflowDef {
            name: row.try_get("name")?,
            description: row.try_get("description")?,
            owner: row.try_get("owner")?,
        },
        schedule,
        online: online != 0,
        global_params: serde_json::from_str(&params).map_err(|_| stored("global_params", &params))?,
        task_ids: Vec::new(),
        explicit_dependencies: (explicit != 0).then(Vec::new),
        positions: HashMap::new(),
        publication: Publication {
            state: PublishState::parse(&state).ok_or_else(|| stored("publish_state", &state))?,
            attempts: attempts as i32,
            last_error: row.try_get("publish_error")?,
            workflow_code: row.try_get("ds_workflow_code")?,
            schedule_id: row.try_get("ds_schedule_id")?,
            last_instance_id: row.try_get("last_instance_id")?,
            published_at: row.try_get("published_at")?,
            generation: row.try_get("publish_generation")?,
            published_generation: row.try_get("published_generation")?,
            start_requested: start_requested != 0,
            start_marker: row.try_get("start_marker")?,
            start_sent_at: row.try_get("start_sent_at")?,
            start_trigger: row.try_get("start_trigger")?,
        },
        version: Version(row.try_get("version")?),
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

//! Statements on `callback_report` (reports awaiting application), `execution` (one record per
//! run of a task) and `workflow_run` (the DolphinScheduler instances the poller follows).

use std::collections::HashMap;

use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use super::{Store, Tx, placeholders, unknown_stored};
use crate::domain::EpochMillis;
use crate::domain::execution::{ExecutionRecord, ExecutionState};
use crate::error::{Error, ErrorKind, Reason, Result};

macro_rules! execution_columns {
    () => {
        "id, task_id, run_key, task_name, workflow_id, workflow_instance_id, task_instance_id, task_code, \
         state, scheduler_state, start_time, end_time, rows_output, host, log_path, attempt, source, \
         created_at, updated_at"
    };
}

/// A report as it was stored at receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredReport {
    /// Its row.
    pub id: i64,
    /// `TASK_RUN` or `DOLPHIN_ALERT`.
    pub kind: String,
    /// The report as JSON.
    pub payload: String,
}

/// Filters of a listing of executions; they combine with AND.
#[derive(Debug, Clone, Default)]
pub struct ExecutionFilter {
    /// Only runs of this task.
    pub task_id: Option<i64>,
    /// Only runs of tasks that write this table.
    pub writes_table: Option<i64>,
    /// Only runs in this state.
    pub state: Option<ExecutionState>,
    /// Only runs that started at or after this instant.
    pub start_after: Option<EpochMillis>,
    /// Only runs that started before this instant.
    pub start_before: Option<EpochMillis>,
    /// Only runs of this workflow.
    pub workflow_id: Option<i64>,
    /// Only runs of this workflow instance.
    pub workflow_instance_id: Option<i64>,
}

/// Where a listing continues: after the run with this (start time, id), newest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExecutionCursor {
    /// Start time of the last run listed (runs without one sort as 0).
    pub start_time: EpochMillis,
    /// Its id.
    pub id: i64,
}

/// A workflow instance the poller claimed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowedRun {
    /// DolphinScheduler's instance id.
    pub workflow_instance_id: i64,
    /// The portal workflow, when known.
    pub workflow_id: Option<i64>,
    /// The DolphinScheduler project.
    pub project_code: i64,
    /// The state last read.
    pub state: String,
    /// Whether a callback asked for this read.
    pub hinted: bool,
    /// Reads in a row that found nothing new.
    pub idle_polls: i32,
    /// Reads in a row that failed.
    pub failures: i32,
}

/// How a read of a followed instance went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PollOutcome {
    /// Read: its state now, whether it ended, whether anything changed, and when to read again.
    Read {
        /// The DolphinScheduler state.
        state: String,
        /// Whether it ended (and every task run is recorded).
        finished: bool,
        /// Whether the read changed a record.
        changed: bool,
        /// The next read, if it has not ended.
        next_poll_at: EpochMillis,
    },
    /// The read failed; try again at `retry_at`.
    Failed {
        /// Why.
        error: String,
        /// Not before.
        retry_at: EpochMillis,
    },
    /// DolphinScheduler does not know the instance (deleted): stop following it.
    Gone {
        /// What DolphinScheduler said.
        error: String,
    },
}

impl Store {
    /// One execution record.
    pub async fn get_execution(&self, id: i64) -> Result<ExecutionRecord> {
        let sql = concat!("SELECT ", execution_columns!(), " FROM execution WHERE id = ?");
        let row = sqlx::query(sql).bind(id).fetch_optional(&self.pool).await?;
        row.as_ref().map(execution_from_row).transpose()?.ok_or_else(|| execution_not_found(id))
    }

    /// A page of runs, newest start first, and how many match in all.
    pub async fn list_executions(
        &self,
        filter: &ExecutionFilter,
        after: Option<ExecutionCursor>,
        limit: i64,
    ) -> Result<(Vec<ExecutionRecord>, i64)> {
        let mut conditions: Vec<&str> = Vec::new();
        let mut binds: Vec<i64> = Vec::new();
        if let Some(task) = filter.task_id {
            conditions.push("task_id = ?");
            binds.push(task);
        }
        if let Some(table) = filter.writes_table {
            conditions
                .push("task_id IN (SELECT task_id FROM task_io WHERE table_id = ? AND direction = 'OUTPUT')");
            binds.push(table);
        }
        if let Some(after) = filter.start_after {
            conditions.push("start_time >= ?");
            binds.push(after);
        }
        if let Some(before) = filter.start_before {
            conditions.push("start_time < ?");
            binds.push(before);
        }
        if let Some(workflow) = filter.workflow_id {
            conditions.push("workflow_id = ?");
            binds.push(workflow);
        }
        if let Some(instance) = filter.workflow_instance_id {
            conditions.push("workflow_instance_id = ?");
            binds.push(instance);
        }
        let state = filter.state.map(ExecutionState::as_str);
        if state.is_some() {
            conditions.push("state = ?");
        }
        let filtered = if conditions.is_empty() { "1 = 1".to_owned() } else { conditions.join(" AND ") };
        let bind_all = |sql: String| {
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for value in &binds {
                query = query.bind(*value);
            }
            if let Some(state) = state {
                query = query.bind(state);
            }
            query
        };
        let mut conn = self.pool.acquire().await?;
        let total: i64 = bind_all(format!("SELECT COUNT(*) AS n FROM execution WHERE {filtered}"))
            .fetch_one(&mut *conn)
            .await?
            .try_get("n")?;
        // COALESCE: runs whose start is unknown sort as the oldest.
        let mut page_sql = format!("SELECT {} FROM execution WHERE {filtered}", execution_columns!());
        if after.is_some() {
            page_sql
                .push_str(" AND (COALESCE(start_time, 0) < ? OR (COALESCE(start_time, 0) = ? AND id < ?))");
        }
        page_sql.push_str(" ORDER BY COALESCE(start_time, 0) DESC, id DESC LIMIT ?");
        let mut query = bind_all(page_sql);
        if let Some(cursor) = after {
            query = query.bind(cursor.start_time).bind(cursor.start_time).bind(cursor.id);
        }
        let rows = query.bind(limit).fetch_all(&mut *conn).await?;
        let runs = rows.iter().map(execution_from_row).collect::<Result<Vec<_>>>()?;
        Ok((runs, total))
    }

    /// The latest `limit` runs of a task that started at or after `since`, for its figures.
    pub async fn recent_executions(
        &self,
        task_id: i64,
        since: Option<EpochMillis>,
        limit: i64,
    ) -> Result<Vec<ExecutionRecord>> {
        let sql = concat!(
            "SELECT ",
            execution_columns!(),
            " FROM execution WHERE task_id = ? AND COALESCE(start_time, 0) >= ? \
             ORDER BY COALESCE(start_time, 0) DESC, id DESC LIMIT ?"
        );
        let rows = sqlx::query(sql)
            .bind(task_id)
            .bind(since.unwrap_or(i64::MIN))
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(execution_from_row).collect()
    }

    /// The last run that ended well of any task writing `table_id`: (end, task, execution).
    pub async fn table_freshness(&self, table_id: i64) -> Result<Option<(EpochMillis, i64, i64)>> {
        let row = sqlx::query(
            "SELECT e.end_time, e.task_id, e.id FROM execution e \
             JOIN task_io io ON io.task_id = e.task_id AND io.table_id = ? AND io.direction = 'OUTPUT' \
             WHERE e.state = 'SUCCEEDED' AND e.end_time IS NOT NULL ORDER BY e.end_time DESC, e.id DESC LIMIT 1",
        )
        .bind(table_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| Ok((r.try_get("end_time")?, r.try_get("task_id")?, r.try_get("id")?))).transpose()
    }

    /// How many reports wait to be applied.
    pub async fn pending_reports(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM callback_report").fetch_one(&self.pool).await?)
    }

    /// The instant the most overdue followed instance was due, if one is.
    pub async fn oldest_due_run(&self, now: EpochMillis) -> Result<Option<EpochMillis>> {
        Ok(sqlx::query_scalar(
            "SELECT MIN(next_poll_at) FROM workflow_run WHERE finished = 0 AND next_poll_at <= ?",
        )
        .bind(now)
        .fetch_one(&self.pool)
        .await?)
    }

    /// The id of the latest change of any execution record; 0 when there is none.
    pub async fn last_change_id(&self) -> Result<i64> {
        let id: Option<i64> =
            sqlx::query_scalar("SELECT MAX(id) FROM execution_change").fetch_one(&self.pool).await?;
        Ok(id.unwrap_or(0))
    }

    /// Changes with an id above `after`, and those of `missing` (ids skipped earlier, whose
    /// transactions may have committed since), oldest first: (change id, created, the record as
    /// it is now).
    pub async fn changes_since(
        &self,
        after: i64,
        missing: &[i64],
        limit: i64,
    ) -> Result<Vec<(i64, bool, ExecutionRecord)>> {
        let condition = if missing.is_empty() {
            "c.id > ?".to_owned()
        } else {
            format!("(c.id > ? OR c.id IN ({}))", placeholders(missing.len()))
        };
        // Rows are read by column name: every column of `e`, and the change's own two.
        let sql = format!(
            "SELECT c.id AS change_id, c.created, e.* FROM execution_change c \
             JOIN execution e ON e.id = c.execution_id WHERE {condition} ORDER BY c.id LIMIT ?"
        );
        let mut query = sqlx::query(AssertSqlSafe(sql)).bind(after);
        for id in missing {
            query = query.bind(*id);
        }
        let rows = query.bind(limit).fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                Ok((r.try_get("change_id")?, r.try_get::<i32, _>("created")? != 0, execution_from_row(r)?))
            })
            .collect()
    }

    /// Forgets changes made before `before` (epoch millis).
    pub async fn prune_changes(&self, before: EpochMillis) -> Result<()> {
        sqlx::query("DELETE FROM execution_change WHERE changed_at < ?")
            .bind(before)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Task names by id, for the ids that exist.
    pub async fn task_names(&self, ids: &[i64]) -> Result<HashMap<i64, String>> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let sql = format!("SELECT id, name FROM data_task WHERE id IN ({})", placeholders(ids.len()));
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for id in ids {
            query = query.bind(*id);
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter().map(|r| Ok((r.try_get("id")?, r.try_get("name")?))).collect()
    }

    /// The portal workflow published as DolphinScheduler definition `code`, if any.
    pub async fn workflow_of_definition(&self, code: i64) -> Result<Option<i64>> {
        Ok(sqlx::query_scalar("SELECT id FROM workflow WHERE ds_workflow_code = ?")
            .bind(code)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// The published workflows: (workflow, definition code).
    pub async fn published_definitions(&self) -> Result<Vec<(i64, i64)>> {
        let rows = sqlx::query(
            "SELECT id, ds_workflow_code FROM workflow WHERE ds_workflow_code IS NOT NULL ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok((r.try_get("id")?, r.try_get("ds_workflow_code")?))).collect()
    }

    /// Of `instance_ids`, those the poller follows already.
    pub async fn followed_runs(&self, instance_ids: &[i64]) -> Result<Vec<i64>> {
        if instance_ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT workflow_instance_id FROM workflow_run WHERE workflow_instance_id IN ({})",
            placeholders(instance_ids.len())
        );
        let mut query = sqlx::query_scalar(AssertSqlSafe(sql));
        for id in instance_ids {
            query = query.bind(*id);
        }
        Ok(query.fetch_all(&self.pool).await?)
    }

    /// Claims up to `limit` followed instances that are due, for `lease_ms`; with `hinted_only`,
    /// only those a callback named.
    pub async fn claim_due_runs(
        &self,
        owner: &str,
        now: EpochMillis,
        lease_ms: i64,
        limit: i64,
        hinted_only: bool,
    ) -> Result<Vec<FollowedRun>> {
        let mut tx = self.begin_write().await?;
        let sql = format!(
            "SELECT workflow_instance_id, workflow_id, project_code, state, hinted, idle_polls, failures \
             FROM workflow_run WHERE finished = 0 AND next_poll_at <= ? AND lease_until < ? AND hinted >= ? \
             ORDER BY next_poll_at, workflow_instance_id LIMIT ?{}",
            self.dialect.claim_rows()
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(now)
            .bind(now)
            .bind(i32::from(hinted_only))
            .bind(limit)
            .fetch_all(&mut *tx.tx)
            .await?;
        let runs = rows
            .iter()
            .map(|r| {
                Ok(FollowedRun {
                    workflow_instance_id: r.try_get("workflow_instance_id")?,
                    workflow_id: r.try_get("workflow_id")?,
                    project_code: r.try_get("project_code")?,
                    state: r.try_get("state")?,
                    hinted: r.try_get::<i32, _>("hinted")? != 0,
                    idle_polls: r.try_get("idle_polls")?,
                    failures: r.try_get("failures")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        if !runs.is_empty() {
            let ids: Vec<i64> = runs.iter().map(|r| r.workflow_instance_id).collect();
            let sql = format!(
                "UPDATE workflow_run SET lease_owner = ?, lease_until = ? WHERE workflow_instance_id IN ({})",
                placeholders(ids.len())
            );
            let mut query = sqlx::query(AssertSqlSafe(sql)).bind(owner).bind(now + lease_ms);
            for id in ids {
                query = query.bind(id);
            }
            query.execute(&mut *tx.tx).await?;
        }
        tx.commit().await?;
        Ok(runs)
    }
}

impl Tx {
    /// Stores reports as they arrived: (kind, payload JSON, receipt time), in one statement.
    pub async fn insert_reports(&mut self, reports: &[(&str, String, EpochMillis)]) -> Result<()> {
        if reports.is_empty() {
            return Ok(());
        }
        let values = vec!["(?, ?, ?)"; reports.len()].join(", ");
        let sql = format!("INSERT INTO callback_report (kind, payload, received_at) VALUES {values}");
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for (kind, payload, received_at) in reports {
            query = query.bind(*kind).bind(payload.as_str()).bind(*received_at);
        }
        query.execute(&mut *self.tx).await?;
        Ok(())
    }

    /// Claims up to `limit` of the oldest reports for this transaction (other replicas skip them;
    /// the transaction deletes what it applied).
    pub async fn claim_reports(&mut self, limit: i64) -> Result<Vec<StoredReport>> {
        let sql = format!(
            "SELECT id, kind, payload FROM callback_report ORDER BY id LIMIT ?{}",
            self.dialect.claim_rows()
        );
        let rows = sqlx::query(AssertSqlSafe(sql)).bind(limit).fetch_all(&mut *self.tx).await?;
        rows.iter()
            .map(|r| {
                Ok(StoredReport {
                    id: r.try_get("id")?,
                    kind: r.try_get("kind")?,
                    payload: r.try_get("payload")?,
                })
            })
            .collect()
    }

    /// Deletes applied reports.
    pub async fn delete_reports(&mut self, ids: &[i64]) -> Result<()> {
        for chunk in ids.chunks(500) {
            let sql = format!("DELETE FROM callback_report WHERE id IN ({})", placeholders(chunk.len()));
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for id in chunk {
                query = query.bind(*id);
            }
            query.execute(&mut *self.tx).await?;
        }
        Ok(())
    }

    /// The records of these (task, run key) pairs that exist, locked until the transaction ends.
    pub async fn lock_executions(&mut self, keys: &[(i64, String)]) -> Result<Vec<ExecutionRecord>> {
        let mut found = Vec::new();
        for chunk in keys.chunks(200) {
            let mut tasks: Vec<i64> = chunk.iter().map(|k| k.0).collect();
            tasks.sort_unstable();
            tasks.dedup();
            let mut run_keys: Vec<&str> = chunk.iter().map(|k| k.1.as_str()).collect();
            run_keys.sort_unstable();
            run_keys.dedup();
            // A superset of the pairs (every task × every key), narrowed below: one statement
            // instead of one per pair.
            let sql = format!(
                "SELECT {} FROM execution WHERE task_id IN ({}) AND run_key IN ({}){}",
                execution_columns!(),
                placeholders(tasks.len()),
                placeholders(run_keys.len()),
                self.dialect.lock_for_update()
            );
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for task in &tasks {
                query = query.bind(*task);
            }
            for key in &run_keys {
                query = query.bind(*key);
            }
            for row in query.fetch_all(&mut *self.tx).await? {
                let record = execution_from_row(&row)?;
                if chunk.iter().any(|(task, key)| *task == record.task_id && *key == record.run_key) {
                    found.push(record);
                }
            }
        }
        Ok(found)
    }

    /// Writes new records, a few hundred per statement, and sets their ids.
    pub async fn insert_executions(&mut self, records: &mut [ExecutionRecord]) -> Result<()> {
        for chunk in records.chunks_mut(200) {
            let mut insert = sqlx::QueryBuilder::new(
                "INSERT INTO execution (task_id, run_key, task_name, workflow_id, workflow_instance_id, \
                 task_instance_id, task_code, state, state_rank, scheduler_state, start_time, end_time, rows_output, \
                 host, log_path, attempt, source, created_at, updated_at) ",
            );
            insert.push_values(chunk.iter(), |mut row, r| {
                row.push_bind(r.task_id)
                    .push_bind(r.run_key.clone())
                    .push_bind(r.task_name.clone())
                    .push_bind(r.workflow_id)
                    .push_bind(r.workflow_instance_id)
                    .push_bind(r.task_instance_id)
                    .push_bind(r.task_code)
                    .push_bind(r.state.as_str())
                    .push_bind(r.state.rank())
                    .push_bind(truncate(&r.scheduler_state, 32).to_owned())
                    .push_bind(r.start_time)
                    .push_bind(r.end_time)
                    .push_bind(r.rows_output)
                    .push_bind(truncate(&r.host, 255).to_owned())
                    .push_bind(truncate(&r.log_path, 1024).to_owned())
                    .push_bind(r.attempt)
                    .push_bind(r.source.as_str())
                    .push_bind(r.created_at)
                    .push_bind(r.updated_at);
            });
            insert.build().execute(&mut *self.tx).await?;
            // The ids the statement generated, by key: read back rather than computed, as
            // MySQL does not promise consecutive ids to a multi-row insert in every lock mode.
            let keys: Vec<(i64, String)> = chunk.iter().map(|r| (r.task_id, r.run_key.clone())).collect();
            let ids: HashMap<(i64, String), i64> = self
                .lock_executions(&keys)
                .await?
                .into_iter()
                .map(|r| ((r.task_id, r.run_key), r.id))
                .collect();
            for record in chunk.iter_mut() {
                record.id = *ids
                    .get(&(record.task_id, record.run_key.clone()))
                    .ok_or_else(|| Error::internal("an inserted execution cannot be read back"))?;
            }
        }
        Ok(())
    }

    /// Appends the changes of these records (id, whether the change created it) to the log
    /// every replica's live feed reads.
    pub async fn record_changes(&mut self, changes: &[(i64, bool)], now: EpochMillis) -> Result<()> {
        for chunk in changes.chunks(500) {
            let mut insert =
                sqlx::QueryBuilder::new("INSERT INTO execution_change (execution_id, created, changed_at) ");
            insert.push_values(chunk.iter(), |mut row, (id, created)| {
                row.push_bind(*id).push_bind(i32::from(*created)).push_bind(now);
            });
            insert.build().execute(&mut *self.tx).await?;
        }
        Ok(())
    }

    /// Writes a changed record.
    pub async fn update_execution(&mut self, r: &ExecutionRecord) -> Result<()> {
        sqlx::query(
            "UPDATE execution SET workflow_id = ?, task_instance_id = ?, task_code = ?, state = ?, state_rank = ?, \
             scheduler_state = ?, start_time = ?, end_time = ?, rows_output = ?, host = ?, log_path = ?, \
             attempt = ?, source = ?, updated_at = ? WHERE id = ?",
        )
        .bind(r.workflow_id)
        .bind(r.task_instance_id)
        .bind(r.task_code)
        .bind(r.state.as_str())
        .bind(r.state.rank())
        .bind(truncate(&r.scheduler_state, 32))
        .bind(r.start_time)
        .bind(r.end_time)
        .bind(r.rows_output)
        .bind(truncate(&r.host, 255))
        .bind(truncate(&r.log_path, 1024))
        .bind(r.attempt)
        .bind(r.source.as_str())
        .bind(r.updated_at)
        .bind(r.id)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Makes the poller follow an instance. `hinted`: a callback named it, so it is read at once
    /// (again, if it had ended: a rerun keeps the instance id).
    pub async fn follow_run(
        &mut self,
        instance_id: i64,
        workflow_id: Option<i64>,
        project_code: i64,
        hinted: bool,
        now: EpochMillis,
    ) -> Result<()> {
        let sql = format!(
            "{} INTO workflow_run (workflow_instance_id, workflow_id, project_code, state, finished, hinted, \
             idle_polls, failures, last_error, next_poll_at, lease_owner, lease_until, created_at, updated_at) \
             VALUES (?, ?, ?, '', 0, ?, 0, 0, '', ?, '', 0, ?, ?)",
            self.dialect.insert_ignore()
        );
        let result = sqlx::query(AssertSqlSafe(sql))
            .bind(instance_id)
            .bind(workflow_id)
            .bind(project_code)
            .bind(i32::from(hinted))
            .bind(now)
            .bind(now)
            .bind(now)
            .execute(&mut *self.tx)
            .await?;
        if result.rows_affected() == 0 && hinted {
            sqlx::query(
                "UPDATE workflow_run SET hinted = 1, finished = 0, idle_polls = 0, next_poll_at = ?, updated_at = ? \
                 WHERE workflow_instance_id = ?",
            )
            .bind(now)
            .bind(now)
            .bind(instance_id)
            .execute(&mut *self.tx)
            .await?;
        }
        Ok(())
    }

    /// Ends a read of a followed instance and releases its lease (unless another replica took it).
    pub async fn finish_poll(
        &mut self,
        run: &FollowedRun,
        owner: &str,
        outcome: &PollOutcome,
        now: EpochMillis,
    ) -> Result<()> {
        // A failed read keeps a callback's hint: the confirmation is still owed.
        let (state, finished, hinted, idle, failures, error, next) = match outcome {
            PollOutcome::Read { state, finished, changed, next_poll_at } => {
                let idle = if *changed { 0 } else { run.idle_polls.saturating_add(1) };
                (state.as_str(), *finished, false, idle, 0, "", *next_poll_at)
            }
            PollOutcome::Failed { error, retry_at } => (
                run.state.as_str(),
                false,
                run.hinted,
                run.idle_polls,
                run.failures.saturating_add(1),
                error.as_str(),
                *retry_at,
            ),
            PollOutcome::Gone { error } => {
                (run.state.as_str(), true, false, run.idle_polls, run.failures, error.as_str(), now)
            }
        };
        sqlx::query(
            "UPDATE workflow_run SET state = ?, finished = ?, hinted = ?, idle_polls = ?, failures = ?, last_error = ?, \
             next_poll_at = ?, lease_owner = '', lease_until = 0, updated_at = ? \
             WHERE workflow_instance_id = ? AND lease_owner = ?",
        )
        .bind(state)
        .bind(i32::from(finished))
        .bind(i32::from(hinted))
        .bind(idle)
        .bind(failures)
        .bind(truncate(error, 2000))
        .bind(next)
        .bind(now)
        .bind(run.workflow_instance_id)
        .bind(owner)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }
}

/// NOT_FOUND for an execution id.
pub fn execution_not_found(id: i64) -> Error {
    Error::new(ErrorKind::NotFound, Reason::ExecutionNotFound, format!("no execution with id {id}"))
        .with_metadata("id", id.to_string())
}

/// At most `max` bytes of `text`, cut at a character boundary (columns have a size).
fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

fn execution_from_row(row: &AnyRow) -> Result<ExecutionRecord> {
    let state: String = row.try_get("state")?;
    let source: String = row.try_get("source")?;
    Ok(ExecutionRecord {
        id: row.try_get("id")?,
        task_id: row.try_get("task_id")?,
        run_key: row.try_get("run_key")?,
        task_name: row.try_get("task_name")?,
        workflow_id: row.try_get("workflow_id")?,
        workflow_instance_id: row.try_get("workflow_instance_id")?,
        task_instance_id: row.try_get("task_instance_id")?,
        task_code: row.try_get("task_code")?,
        state: state.parse().map_err(|_| unknown_stored("execution state", &state))?,
        scheduler_state: row.try_get("scheduler_state")?,
        start_time: row.try_get("start_time")?,
        end_time: row.try_get("end_time")?,
        rows_output: row.try_get("rows_output")?,
        host: row.try_get("host")?,
        log_path: row.try_get("log_path")?,
        attempt: row.try_get("attempt")?,
        source: source.parse().map_err(|_| unknown_stored("execution source", &source))?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

//! Statements on `data_task` and `task_io`.

use std::collections::HashMap;

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AssertSqlSafe, QueryBuilder, Row};

use super::lineage::Link;
use super::tables::like_pattern;
use super::{Store, Tx, is_foreign_key_violation, name_taken, placeholders};
use crate::domain::lineage::{EdgeSource, LineageWarning, TaskLinks, WarningKind};
use crate::domain::schedule::CronSchedule;
use crate::domain::task::{Engine, Priority, Task, TaskBody, TaskDef, TaskType};
use crate::domain::{EpochMillis, Lookup, Version};
use crate::error::{Error, ErrorKind, Reason, Result};

/// The columns every read of a row selects, in one place.
macro_rules! task_columns {
    () => {
        "id, name, description, owner, task_type, engine, body_kind, body, datasource, schedule, retries, \
         retry_interval_secs, timeout_secs, priority, lineage_warnings, version, created_at, updated_at"
    };
}

const INPUT: &str = "INPUT";
const OUTPUT: &str = "OUTPUT";

/// Filters of a task listing; empty strings and `None` match everything.
#[derive(Debug, Clone, Default)]
pub struct TaskFilter {
    /// Exact engine.
    pub engine: Option<Engine>,
    /// Exact type.
    pub task_type: Option<TaskType>,
    /// Exact owner.
    pub owner: String,
    /// Tasks that read the table of this name.
    pub reads_table: String,
    /// Tasks that write the table of this name.
    pub writes_table: String,
    /// Substring of the name.
    pub name_contains: String,
}

impl Store {
    /// One task with its inputs and outputs.
    pub async fn get_task(&self, lookup: &Lookup) -> Result<Task> {
        // One round trip: the task's columns repeat on each of its links (or come once with
        // NULL links).
        macro_rules! select_task_with_links {
            ($condition:literal) => {
                concat!(
                    "SELECT k.*, io.direction AS io_direction, io.source AS io_source, tb.name AS io_table FROM data_task k \
                     LEFT JOIN task_io io ON io.task_id = k.id LEFT JOIN data_table tb ON tb.id = io.table_id \
                     WHERE ",
                    $condition,
                    " ORDER BY tb.name"
                )
            };
        }
        let rows = match lookup {
            Lookup::Id(id) => {
                sqlx::query(select_task_with_links!("k.id = ?")).bind(*id).fetch_all(&self.pool).await?
            }
            Lookup::Name(name) => {
                sqlx::query(select_task_with_links!("k.name = ?"))
                    .bind(name.as_str())
                    .fetch_all(&self.pool)
                    .await?
            }
        };
        let first = rows.first().ok_or_else(|| task_not_found(lookup))?;
        let mut task = task_from_row(first)?;
        for row in &rows {
            let direction: Option<String> = row.try_get("io_direction")?;
            let source: Option<String> = row.try_get("io_source")?;
            let table: Option<String> = row.try_get("io_table")?;
            if let (Some(direction), Some(source), Some(table)) = (direction, source, table) {
                add_link(&mut task, &direction, &source, table)?;
            }
        }
        Ok(task)
    }

    /// A page of tasks with ids above `after_id`, ordered by id, and the number of all matches.
    pub async fn list_tasks(
        &self,
        filter: &TaskFilter,
        after_id: i64,
        limit: i64,
    ) -> Result<(Vec<Task>, i64)> {
        let mut conn = self.pool.acquire().await?;
        let mut count = QueryBuilder::new("SELECT COUNT(*) FROM data_task WHERE 1 = 1");
        push_task_filter(&mut count, filter);
        let total: i64 = count.build().fetch_one(&mut *conn).await?.try_get(0)?;

        let mut page = QueryBuilder::new(concat!("SELECT ", task_columns!(), " FROM data_task WHERE id > "));
        page.push_bind(after_id);
        push_task_filter(&mut page, filter);
        page.push(" ORDER BY id LIMIT ").push_bind(limit);
        let rows = page.build().fetch_all(&mut *conn).await?;
        let mut tasks = rows.iter().map(task_from_row).collect::<Result<Vec<_>>>()?;
        attach_io(&mut conn, &mut tasks).await?;
        Ok((tasks, total))
    }
}

impl Store {
    /// The tasks of these ids that exist (without their links: publishing reads those from
    /// the lineage index), in id order.
    pub async fn tasks_by_ids(&self, ids: &[i64]) -> Result<Vec<Task>> {
        let mut tasks = Vec::with_capacity(ids.len());
        // Chunks keep the statement under every driver's placeholder limit.
        for chunk in ids.chunks(500) {
            let sql = format!(
                concat!("SELECT ", task_columns!(), " FROM data_task WHERE id IN ({}) ORDER BY id"),
                placeholders(chunk.len())
            );
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for id in chunk {
                query = query.bind(*id);
            }
            for row in query.fetch_all(&self.pool).await? {
                tasks.push(task_from_row(&row)?);
            }
        }
        Ok(tasks)
    }
}

impl Tx {
    /// Stores a new task linked to its (resolved) input and output tables.
    pub async fn insert_task(
        &mut self,
        def: &TaskDef,
        links: &TaskLinks,
        io: &[Link],
        now: EpochMillis,
    ) -> Result<Task> {
        let result = bind_task(
            sqlx::query(
                "INSERT INTO data_task (name, description, owner, task_type, engine, body_kind, body, datasource, \
                 schedule, retries, retry_interval_secs, timeout_secs, priority, lineage_warnings, version, \
                 created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)",
            ),
            def,
        )
        .bind(encode_warnings(&links.warnings))
        .bind(now)
        .bind(now)
        .execute(&mut *self.tx)
        .await
        .map_err(|e| task_name_taken(e, &def.name))?;
        let id = self.inserted_id(&result).await?;
        insert_io(&mut self.tx, id, io).await?;
        Ok(Task {
            id,
            def: def.clone(),
            links: links.clone(),
            version: Version(1),
            created_at: now,
            updated_at: now,
        })
    }

    /// Replaces a task's definition and links if its version is still `expected`.
    pub async fn update_task(
        &mut self,
        id: i64,
        def: &TaskDef,
        links: &TaskLinks,
        io: &[Link],
        expected: Version,
        now: EpochMillis,
    ) -> Result<()> {
        let result = bind_task(
            sqlx::query(
                "UPDATE data_task SET name = ?, description = ?, owner = ?, task_type = ?, engine = ?, \
                 body_kind = ?, body = ?, datasource = ?, schedule = ?, retries = ?, retry_interval_secs = ?, \
                 timeout_secs = ?, priority = ?, lineage_warnings = ?, version = version + 1, updated_at = ? \
                 WHERE id = ? AND version = ?",
            ),
            def,
        )
        .bind(encode_warnings(&links.warnings))
        .bind(now)
        .bind(id)
        .bind(expected.0)
        .execute(&mut *self.tx)
        .await
        .map_err(|e| task_name_taken(e, &def.name))?;
        if result.rows_affected() == 0 {
            return Err(self
                .explain_missed_row(
                    "SELECT 1 FROM data_task WHERE id = ?",
                    id,
                    task_not_found(&Lookup::Id(id)),
                )
                .await);
        }
        sqlx::query("DELETE FROM task_io WHERE task_id = ?").bind(id).execute(&mut *self.tx).await?;
        insert_io(&mut self.tx, id, io).await?;
        Ok(())
    }

    /// Deletes a task (its links go with it) if its version is `expected` (any when `None`).
    pub async fn delete_task(&mut self, id: i64, expected: Option<Version>) -> Result<()> {
        let result = sqlx::query("DELETE FROM data_task WHERE id = ? AND (? IS NULL OR version = ?)")
            .bind(id)
            .bind(expected.map(|v| v.0))
            .bind(expected.map(|v| v.0))
            .execute(&mut *self.tx)
            .await?;
        if result.rows_affected() == 0 {
            return Err(self
                .explain_missed_row(
                    "SELECT 1 FROM data_task WHERE id = ?",
                    id,
                    task_not_found(&Lookup::Id(id)),
                )
                .await);
        }
        Ok(())
    }
}

pub fn task_not_found(lookup: &Lookup) -> Error {
    Error::new(ErrorKind::NotFound, Reason::TaskNotFound, format!("no task with {lookup}"))
}

fn task_name_taken(e: sqlx::Error, name: &str) -> Error {
    name_taken(e, Reason::TaskNameTaken, "task", name)
}

fn bind_task<'q>(
    query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    def: &'q TaskDef,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
    query
        .bind(def.name.as_str())
        .bind(def.description.as_str())
        .bind(def.owner.as_str())
        .bind(def.task_type.as_str())
        .bind(def.engine.as_str())
        .bind(def.body.kind())
        .bind(def.body.text())
        .bind(def.datasource.as_str())
        .bind(def.schedule.as_ref().map(ToString::to_string).unwrap_or_default())
        .bind(i64::from(def.retries))
        .bind(def.retry_interval_secs)
        .bind(def.timeout_secs)
        .bind(def.priority.as_str())
}

async fn insert_io(conn: &mut AnyConnection, task_id: i64, links: &[Link]) -> Result<()> {
    if links.is_empty() {
        return Ok(());
    }
    let mut insert = QueryBuilder::new("INSERT INTO task_io (task_id, table_id, direction, source) ");
    insert.push_values(links, |mut row, link| {
        row.push_bind(task_id)
            .push_bind(link.table_id)
            .push_bind(if link.is_input { INPUT } else { OUTPUT })
            .push_bind(link.source.as_str());
    });
    insert.build().execute(&mut *conn).await.map_err(|e| {
        if is_foreign_key_violation(&e) {
            Error::new(
                ErrorKind::NotFound,
                Reason::TableNotFound,
                "a table the task refers to was deleted meanwhile; retry",
            )
        } else {
            e.into()
        }
    })?;
    Ok(())
}

async fn attach_io(conn: &mut AnyConnection, tasks: &mut [Task]) -> Result<()> {
    if tasks.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "SELECT io.task_id, io.direction, io.source, t.name FROM task_io io JOIN data_table t ON t.id = io.table_id \
         WHERE io.task_id IN ({}) ORDER BY t.name",
        placeholders(tasks.len())
    );
    let mut query = sqlx::query(AssertSqlSafe(sql));
    for task in tasks.iter() {
        query = query.bind(task.id);
    }
    let mut by_task: HashMap<i64, &mut Task> = tasks.iter_mut().map(|t| (t.id, t)).collect();
    for row in query.fetch_all(&mut *conn).await? {
        let task_id: i64 = row.try_get("task_id")?;
        let direction: String = row.try_get("direction")?;
        let source: String = row.try_get("source")?;
        let name: String = row.try_get("name")?;
        if let Some(task) = by_task.get_mut(&task_id) {
            add_link(task, &direction, &source, name)?;
        }
    }
    Ok(())
}

fn push_task_filter(query: &mut QueryBuilder<sqlx::Any>, filter: &TaskFilter) {
    if let Some(engine) = filter.engine {
        query.push(" AND engine = ").push_bind(engine.as_str());
    }
    if let Some(task_type) = filter.task_type {
        query.push(" AND task_type = ").push_bind(task_type.as_str());
    }
    if !filter.owner.is_empty() {
        query.push(" AND owner = ").push_bind(filter.owner.clone());
    }
    for (table, direction) in [(&filter.reads_table, INPUT), (&filter.writes_table, OUTPUT)] {
        if !table.is_empty() {
            query
                .push(
                    " AND EXISTS (SELECT 1 FROM task_io io JOIN data_table t ON t.id = io.table_id \
                     WHERE io.task_id = data_task.id AND io.direction = ",
                )
                .push_bind(direction)
                .push(" AND t.name = ")
                .push_bind(table.clone())
                .push(")");
        }
    }
    if !filter.name_contains.is_empty() {
        query.push(" AND name LIKE ").push_bind(like_pattern(&filter.name_contains)).push(" ESCAPE '!'");
    }
}

fn task_from_row(row: &AnyRow) -> Result<Task> {
    let stored = super::unknown_stored;
    let task_type: String = row.try_get("task_type")?;
    let engine: String = row.try_get("engine")?;
    let body_kind: String = row.try_get("body_kind")?;
    let priority: String = row.try_get("priority")?;
    let schedule: String = row.try_get("schedule")?;
    let retries: i64 = row.try_get("retries")?;
    Ok(Task {
        id: row.try_get("id")?,
        def: TaskDef {
            name: row.try_get("name")?,
            description: row.try_get("description")?,
            owner: row.try_get("owner")?,
            task_type: TaskType::parse(&task_type).ok_or_else(|| stored("task_type", &task_type))?,
            engine: Engine::parse(&engine).ok_or_else(|| stored("engine", &engine))?,
            body: TaskBody::from_stored(&body_kind, row.try_get("body")?)
                .ok_or_else(|| stored("body_kind", &body_kind))?,
            datasource: row.try_get("datasource")?,
            schedule: if schedule.is_empty() {
                None
            } else {
                Some(CronSchedule::parse(&schedule).map_err(|why| stored("schedule", &why))?)
            },
            inputs: Vec::new(),
            outputs: Vec::new(),
            retries: retries as i32,
            retry_interval_secs: row.try_get("retry_interval_secs")?,
            timeout_secs: row.try_get("timeout_secs")?,
            priority: Priority::parse(&priority).ok_or_else(|| stored("priority", &priority))?,
        },
        links: TaskLinks {
            warnings: decode_warnings(row.try_get("lineage_warnings")?),
            ..TaskLinks::default()
        },
        version: Version(row.try_get("version")?),
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// Adds a stored link (rows come ordered by table name): to the links of the graph, and to
/// the declared inputs or outputs unless it was only inferred from SQL.
fn add_link(task: &mut Task, direction: &str, source: &str, table: String) -> Result<()> {
    let source = EdgeSource::parse(source)
        .ok_or_else(|| Error::internal(format!("stored link source {source:?} is unknown")))?;
    let (declared, linked) = if direction == INPUT {
        (&mut task.def.inputs, &mut task.links.inputs)
    } else {
        (&mut task.def.outputs, &mut task.links.outputs)
    };
    if source != EdgeSource::Sql {
        declared.push(table.clone());
    }
    linked.push((table, source));
    Ok(())
}

/// Stores findings one per line, `KIND<TAB>table<TAB>message`; `None` when there are none.
fn encode_warnings(warnings: &[LineageWarning]) -> Option<String> {
    if warnings.is_empty() {
        return None;
    }
    let clean = |text: &str| text.replace(['\t', '\n', '\r'], " ");
    Some(
        warnings
            .iter()
            .map(|w| format!("{}\t{}\t{}", w.kind.as_str(), clean(&w.table), clean(&w.message)))
            .collect::<Vec<_>>()
            .join("\n"),
    )
}

fn decode_warnings(stored: Option<String>) -> Vec<LineageWarning> {
    let Some(stored) = stored else { return Vec::new() };
    stored
        .lines()
        .filter_map(|line| {
            let mut parts = line.splitn(3, '\t');
            Some(LineageWarning {
                kind: WarningKind::parse(parts.next()?)?,
                table: parts.next()?.to_owned(),
                message: parts.next()?.to_owned(),
            })
        })
        .collect()
}

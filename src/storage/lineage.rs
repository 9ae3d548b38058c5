//! What the in-memory lineage index reads: a streamed bulk load, the change log, and single
//! tables or tasks to reload. Also the lock and log that task writes take.

use futures_util::TryStreamExt;
use sqlx::{AssertSqlSafe, Row};

use super::{Dialect, Store, Tx, placeholders};
use crate::domain::EpochMillis;
use crate::domain::lineage::EdgeSource;
use crate::domain::table::Layer;
use crate::error::{Error, Result};

/// A table as the lineage graph knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableNode {
    /// Table id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Database.
    pub database: String,
    /// Layer.
    pub layer: Layer,
    /// Owner.
    pub owner: String,
}

/// One link of a task to a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Link {
    /// The table.
    pub table_id: i64,
    /// Read (input) or written (output).
    pub is_input: bool,
    /// Where the link comes from.
    pub source: EdgeSource,
}

/// A task as the lineage graph knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskNode {
    /// Task id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Owner.
    pub owner: String,
    /// Its links.
    pub links: Vec<Link>,
}

/// A table or a task, as [`Store::stream_lineage`] delivers them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// A table.
    Table(TableNode),
    /// A task.
    Task(TaskNode),
}

/// What a change-log entry is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Changed {
    /// A table was created, changed or deleted.
    Table(i64),
    /// A task was created, changed or deleted.
    Task(i64),
}

impl Store {
    /// The newest change-log entry.
    pub async fn lineage_seq(&self) -> Result<i64> {
        let seq: Option<i64> =
            sqlx::query_scalar("SELECT MAX(seq) FROM lineage_change").fetch_one(&self.lineage_pool).await?;
        Ok(seq.unwrap_or(0))
    }

    /// Streams every table, then every task with its links, without holding them all in memory.
    pub async fn stream_lineage(&self, mut on_node: impl FnMut(Node) -> Result<()>) -> Result<()> {
        let mut tables = sqlx::query("SELECT id, name, database_name, layer, owner FROM data_table")
            .fetch(&self.lineage_pool);
        while let Some(row) = tables.try_next().await? {
            on_node(Node::Table(table_node(&row)?))?;
        }
        drop(tables);

        let mut tasks = sqlx::query(TASKS_WITH_LINKS).fetch(&self.lineage_pool);
        while let Some(row) = tasks.try_next().await? {
            let links: Option<String> = row.try_get("links")?;
            on_node(Node::Task(TaskNode {
                id: row.try_get("id")?,
                name: row.try_get("name")?,
                owner: row.try_get("owner")?,
                links: links.as_deref().map(decode_links).transpose()?.unwrap_or_default(),
            }))?;
        }
        Ok(())
    }

    /// Change-log entries after `seq`, oldest first, at most `limit`.
    pub async fn lineage_changes_since(&self, seq: i64, limit: i64) -> Result<Vec<(i64, Changed)>> {
        let rows = sqlx::query(
            "SELECT seq, entity, entity_id FROM lineage_change WHERE seq > ? ORDER BY seq LIMIT ?",
        )
        .bind(seq)
        .bind(limit)
        .fetch_all(&self.lineage_pool)
        .await?;
        rows.iter()
            .map(|row| {
                let entity: String = row.try_get("entity")?;
                let id: i64 = row.try_get("entity_id")?;
                let changed = if entity == "TASK" { Changed::Task(id) } else { Changed::Table(id) };
                Ok((row.try_get("seq")?, changed))
            })
            .collect()
    }

    /// The named tables as they are now (deleted ones are missing).
    pub async fn lineage_tables(&self, ids: &[i64]) -> Result<Vec<TableNode>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT id, name, database_name, layer, owner FROM data_table WHERE id IN ({})",
            placeholders(ids.len())
        );
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for id in ids {
            query = query.bind(*id);
        }
        query.fetch_all(&self.lineage_pool).await?.iter().map(table_node).collect()
    }

    /// The named tasks with their links as they are now (deleted ones are missing).
    pub async fn lineage_tasks(&self, ids: &[i64]) -> Result<Vec<TaskNode>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!("SELECT id, name, owner FROM data_task WHERE id IN ({})", placeholders(ids.len()));
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for id in ids {
            query = query.bind(*id);
        }
        let mut tasks: Vec<TaskNode> = query
            .fetch_all(&self.lineage_pool)
            .await?
            .iter()
            .map(|row| {
                Ok(TaskNode {
                    id: row.try_get("id")?,
                    name: row.try_get("name")?,
                    owner: row.try_get("owner")?,
                    links: Vec::new(),
                })
            })
            .collect::<Result<_>>()?;
        let sql = format!(
            "SELECT task_id, table_id, direction, source FROM task_io WHERE task_id IN ({})",
            placeholders(ids.len())
        );
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for id in ids {
            query = query.bind(*id);
        }
        for row in query.fetch_all(&self.lineage_pool).await? {
            let (task_id, link) = link(&row)?;
            if let Some(task) = tasks.iter_mut().find(|t| t.id == task_id) {
                task.links.push(link);
            }
        }
        Ok(tasks)
    }
}

impl Tx {
    /// Waits for, then holds until the end of the transaction, the right to change task links:
    /// writes that could close a cycle together must be checked one after the other, whichever
    /// replica takes them. Change-log entries are appended under it too, so they commit in
    /// sequence order and replicas can follow the log by its sequence alone.
    pub async fn lock_lineage(&mut self) -> Result<()> {
        match self.dialect {
            Dialect::MySql => {
                sqlx::query("SELECT id FROM lineage_lock WHERE id = 1 FOR UPDATE")
                    .fetch_optional(&mut *self.tx)
                    .await?;
            }
            // The transaction already holds SQLite's only write lock (BEGIN IMMEDIATE).
            Dialect::Sqlite => {}
        }
        Ok(())
    }

    /// Appends a change-log entry; take [`Tx::lock_lineage`] first.
    pub async fn record_lineage_change(&mut self, changed: Changed, now: EpochMillis) -> Result<()> {
        let (entity, id) = match changed {
            Changed::Table(id) => ("TABLE", id),
            Changed::Task(id) => ("TASK", id),
        };
        sqlx::query("INSERT INTO lineage_change (entity, entity_id, changed_at) VALUES (?, ?, ?)")
            .bind(entity)
            .bind(id)
            .bind(now)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }
}

fn table_node(row: &sqlx::any::AnyRow) -> Result<TableNode> {
    let layer: String = row.try_get("layer")?;
    Ok(TableNode {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        database: row.try_get("database_name")?,
        layer: Layer::parse(&layer)
            .ok_or_else(|| Error::internal(format!("stored layer {layer:?} is unknown")))?,
        owner: row.try_get("owner")?,
    })
}

/// Every task with its links folded into one text of `table_id * 8 + flags` numbers (flags:
/// 1 for an input, 2 for a link from SQL, 4 for a declared link the SQL confirms): a bulk load
/// then reads one row per task instead of one per link.
const TASKS_WITH_LINKS: &str = "SELECT k.id, k.name, k.owner, g.links FROM data_task k LEFT JOIN (\
    SELECT task_id, GROUP_CONCAT(CAST(table_id * 8 \
    + (CASE direction WHEN 'INPUT' THEN 1 ELSE 0 END) \
    + (CASE source WHEN 'SQL' THEN 2 WHEN 'BOTH' THEN 4 ELSE 0 END) AS CHAR)) AS links \
    FROM task_io GROUP BY task_id) g ON g.task_id = k.id";

fn decode_links(text: &str) -> Result<Vec<Link>> {
    text.split(',')
        .map(|code| {
            let code: i64 =
                code.trim().parse().map_err(|_| Error::internal(format!("bad link code {code:?}")))?;
            let source = match code & 6 {
                2 => EdgeSource::Sql,
                4 => EdgeSource::Both,
                _ => EdgeSource::Declared,
            };
            Ok(Link { table_id: code >> 3, is_input: code & 1 == 1, source })
        })
        .collect()
}

fn link(row: &sqlx::any::AnyRow) -> Result<(i64, Link)> {
    let direction: String = row.try_get("direction")?;
    let source: String = row.try_get("source")?;
    Ok((
        row.try_get("task_id")?,
        Link {
            table_id: row.try_get("table_id")?,
            is_input: direction == "INPUT",
            source: EdgeSource::parse(&source)
                .ok_or_else(|| Error::internal(format!("stored link source {source:?} is unknown")))?,
        },
    ))
}

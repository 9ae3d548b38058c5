//! Use cases of task definitions.

use std::collections::HashMap;

use super::paging::Page;
use super::{Catalog, LayerRules, with_retries};
use crate::domain::lineage::{SqlFinding, TaskLinks, layer_order_warnings, settle_links, sql};
use crate::domain::table::{TableDef, TableDraft};
use crate::domain::task::{Task, TaskBody, TaskDef, TaskDraft};
use crate::domain::{EpochMillis, Etag, Lookup, Version, now_millis};
use crate::error::{Error, ErrorKind, Reason, Result, Violations};
use crate::storage::{Changed, Link, TableIo, TaskFilter, Tx, table_not_found};

/// The attributes of a task an update can change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskAttribute {
    /// Unique name.
    Name,
    /// Description.
    Description,
    /// Owner.
    Owner,
    /// Batch or stream.
    TaskType,
    /// Engine.
    Engine,
    /// The script, of whichever kind.
    Body,
    /// Data source of a SQL body.
    Datasource,
    /// Cron schedule.
    Schedule,
    /// Tables read.
    Inputs,
    /// Tables written.
    Outputs,
    /// Retries.
    Retries,
    /// Wait between retries.
    RetryInterval,
    /// Run time limit.
    Timeout,
    /// Priority.
    Priority,
}

/// A page of tasks.
#[derive(Debug)]
pub struct TaskPage {
    /// The tasks.
    pub tasks: Vec<Task>,
    /// Token of the next page; empty on the last.
    pub next_page_token: String,
    /// Matches over all pages.
    pub total_size: i64,
}

impl Catalog {
    /// Creates a task and links it to its tables, all in one transaction: the declared tables,
    /// or those its SQL reads and writes when it declares none.
    pub async fn create_task(&self, draft: TaskDraft, register_missing_tables: bool) -> Result<Task> {
        let def = TaskDef::validate(draft).map_err(|v| v.nested_under("task").into_error())?;
        let links = settle_links(&def.inputs, &def.outputs, &sql_finding(&def.body).await);
        let (store, def_ref, links_ref) = (&self.store, &def, &links);
        let task = with_retries(move || async move {
            let now = now_millis();
            let mut tx = store.begin_write().await?;
            let (links, io) =
                self.resolve_links(&mut tx, def_ref, links_ref.clone(), register_missing_tables, now).await?;
            let task = tx.insert_task(def_ref, &links, &io, now).await?;
            self.check_and_log_links(&mut tx, task.id, &io, now).await?;
            tx.commit().await?;
            Ok(task)
        })
        .await?;
        self.refresh_after_write().await;
        Ok(task)
    }

    /// One task with its inputs and outputs.
    pub async fn get_task(&self, lookup: &Lookup) -> Result<Task> {
        self.store.get_task(lookup).await
    }

    /// A page of tasks matching `filter`.
    pub async fn list_tasks(
        &self,
        filter: &TaskFilter,
        page_size: i32,
        page_token: &str,
    ) -> Result<TaskPage> {
        let page = Page::parse(page_size, page_token, filter)?;
        let (mut tasks, total_size) =
            self.store.list_tasks(filter, page.after_id, page.fetch_limit()).await?;
        let next_page_token = page.finish(&mut tasks, |t| t.id);
        Ok(TaskPage { tasks, next_page_token, total_size })
    }

    /// Changes `attributes` of a task to their values in `patch`; see `update_table` for etags.
    /// A published workflow that holds the task is published again.
    /// Its links are settled again, from its declared tables and SQL as they now are.
    pub async fn update_task(
        &self,
        target: &Lookup,
        patch: TaskDraft,
        attributes: &[TaskAttribute],
        etag: Option<Etag>,
        register_missing_tables: bool,
    ) -> Result<Task> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let current = self.store.get_task(target).await?;
            if etag.is_some_and(|e| !e.matches(current.id, current.version)) {
                return Err(Error::etag_mismatch());
            }
            let mut draft = current.def.to_draft();
            apply_patch(&mut draft, &patch, attributes);
            let def = TaskDef::validate(draft).map_err(|v| v.nested_under("task").into_error())?;
            let links = settle_links(&def.inputs, &def.outputs, &sql_finding(&def.body).await);
            let now = now_millis();
            let (store, def_ref, links_ref, current_ref) = (&self.store, &def, &links, &current);
            let written = with_retries(move || async move {
                let mut tx = store.begin_write().await?;
                let (links, io) = self
                    .resolve_links(&mut tx, def_ref, links_ref.clone(), register_missing_tables, now)
                    .await?;
                tx.update_task(current_ref.id, def_ref, &links, &io, current_ref.version, now).await?;
                self.check_and_log_links(&mut tx, current_ref.id, &io, now).await?;
                tx.republish_workflow_of_task(current_ref.id, false, now).await?;
                tx.commit().await?;
                Ok(links)
            })
            .await;
            match written {
                Ok(links) => {
                    self.refresh_after_write().await;
                    return Ok(Task {
                        id: current.id,
                        def,
                        links,
                        version: Version(current.version.0 + 1),
                        created_at: current.created_at,
                        updated_at: now,
                    });
                }
                Err(e) if e.reason == Reason::EtagMismatch && etag.is_none() && attempt < 3 => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Deletes a task; its tables stay. A published workflow that holds it (and others) is
    /// published again without it.
    pub async fn delete_task(&self, id: i64, etag: Option<Etag>) -> Result<()> {
        if etag.is_some_and(|e| e.id != id) {
            return Err(Error::etag_mismatch());
        }
        let expected = etag.map(|e| e.version);
        let store = &self.store;
        with_retries(move || async move {
            let mut tx = store.begin_write().await?;
            tx.republish_workflow_of_task(id, true, now_millis()).await?;
            tx.delete_task(id, expected).await?;
            tx.lock_lineage().await?;
            tx.record_lineage_change(Changed::Task(id), now_millis()).await?;
            tx.commit().await
        })
        .await?;
        self.refresh_after_write().await;
        Ok(())
    }

    /// Resolves the settled links to registered tables (registering missing ones when asked)
    /// and adds the layer-order findings, refusing the write when layer rules are enforced.
    async fn resolve_links(
        &self,
        tx: &mut Tx,
        def: &TaskDef,
        mut links: TaskLinks,
        register_missing: bool,
        now: EpochMillis,
    ) -> Result<(TaskLinks, Vec<Link>)> {
        let names: Vec<&str> =
            links.inputs.iter().chain(&links.outputs).map(|(name, _)| name.as_str()).collect();
        let tables = resolve_tables(tx, def, &names, register_missing, now).await?;
        let table = |name: &str| {
            tables
                .iter()
                .find(|t| t.name == name)
                .cloned()
                .ok_or_else(|| table_not_found(&Lookup::Name(name.into())))
        };
        let mut io = Vec::new();
        let mut layered = (Vec::new(), Vec::new());
        for (side, is_input) in [(&links.inputs, true), (&links.outputs, false)] {
            for (name, source) in side {
                let table = table(name)?;
                io.push(Link { table_id: table.id, is_input, source: *source });
                let layers = if is_input { &mut layered.0 } else { &mut layered.1 };
                layers.push((table.name, table.layer));
            }
        }
        let layer_warnings = layer_order_warnings(&layered.0, &layered.1);
        if self.layer_rules == LayerRules::Enforce
            && let Some(first) = layer_warnings.first()
        {
            return Err(Error::new(ErrorKind::FailedPrecondition, Reason::LayerOrder, first.message.clone())
                .with_metadata("table", first.table.clone()));
        }
        links.warnings.extend(layer_warnings);
        links.warnings.sort();
        Ok((links, io))
    }

    /// Under the lineage lock (so that writes that could close a cycle together are checked one
    /// after the other, on whichever replica), checks that the task's links close no cycle with
    /// the latest graph, and logs the change for every replica's index.
    async fn check_and_log_links(
        &self,
        tx: &mut Tx,
        task_id: i64,
        io: &[Link],
        now: EpochMillis,
    ) -> Result<()> {
        tx.lock_lineage().await?;
        self.lineage.refresh(&self.store).await?;
        let inputs: Vec<i64> = io.iter().filter(|l| l.is_input).map(|l| l.table_id).collect();
        let outputs: Vec<i64> = io.iter().filter(|l| !l.is_input).map(|l| l.table_id).collect();
        let cycle = self.lineage.read(|state| {
            Ok(state.graph.cycle_if_applied(task_id, &inputs, &outputs).map(|cycle| {
                let name =
                    |id: i64| state.graph.table(id).map_or_else(|| id.to_string(), |t| t.name.to_owned());
                cycle.tables.iter().map(|id| name(*id)).collect::<Vec<_>>()
            }))
        })?;
        if let Some(path) = cycle {
            return Err(Error::new(
                ErrorKind::FailedPrecondition,
                Reason::LineageCycle,
                format!("the task's links would close a lineage cycle: {}", path.join(" -> ")),
            )
            .with_metadata("cycle", path.join(",")));
        }
        tx.record_lineage_change(Changed::Task(task_id), now).await
    }

    /// Applies this replica's own write to its index at once; a failure only delays it to the
    /// next background refresh.
    pub(crate) async fn refresh_after_write(&self) {
        if let Err(e) = self.lineage.refresh(&self.store).await {
            tracing::warn!(error = %e, "lineage index refresh after a write failed; the background refresh will retry");
        }
    }
}

/// What the task's SQL reads and writes, if its body is SQL. Parsing runs off the async
/// threads: a large script takes a while.
async fn sql_finding(body: &TaskBody) -> SqlFinding {
    let TaskBody::Sql(text) = body else { return SqlFinding::NoSql };
    let text = text.clone();
    let analyzed =
        tokio::task::spawn_blocking(move || sql::analyze(&text, sql::SqlDialect::MySql, &HashMap::new()))
            .await;
    match analyzed {
        Ok(Ok(lineage)) => SqlFinding::Parsed(lineage),
        Ok(Err(error)) => SqlFinding::Unparsed(error),
        Err(join_error) => SqlFinding::Unparsed(sql::SqlError {
            message: format!("the SQL analysis failed: {join_error}"),
            line: 0,
            column: 0,
        }),
    }
}

fn apply_patch(draft: &mut TaskDraft, patch: &TaskDraft, attributes: &[TaskAttribute]) {
    for attribute in attributes {
        match attribute {
            TaskAttribute::Name => draft.name.clone_from(&patch.name),
            TaskAttribute::Description => draft.description.clone_from(&patch.description),
            TaskAttribute::Owner => draft.owner.clone_from(&patch.owner),
            TaskAttribute::TaskType => draft.task_type = patch.task_type,
            TaskAttribute::Engine => draft.engine = patch.engine,
            TaskAttribute::Body => draft.body.clone_from(&patch.body),
            TaskAttribute::Datasource => draft.datasource.clone_from(&patch.datasource),
            TaskAttribute::Schedule => draft.schedule.clone_from(&patch.schedule),
            TaskAttribute::Inputs => draft.inputs.clone_from(&patch.inputs),
            TaskAttribute::Outputs => draft.outputs.clone_from(&patch.outputs),
            TaskAttribute::Retries => draft.retries = patch.retries,
            TaskAttribute::RetryInterval => draft.retry_interval_secs = patch.retry_interval_secs,
            TaskAttribute::Timeout => draft.timeout_secs = patch.timeout_secs,
            TaskAttribute::Priority => draft.priority = patch.priority,
        }
    }
}

/// The ids of a task's input and output tables. Unknown tables fail with TABLE_NOT_FOUND naming
/// every one of them, or, when asked, are registered with the layer their name prefix gives
/// (a name without one is refused).
async fn resolve_tables(
    tx: &mut Tx,
    def: &TaskDef,
    names: &[&str],
    register_missing: bool,
    now: EpochMillis,
) -> Result<Vec<TableIo>> {
    let mut found = tx.table_ids(names).await?;
    let mut missing: Vec<&str> =
        names.iter().copied().filter(|name| !found.iter().any(|t| t.name == *name)).collect();
    missing.sort_unstable();
    if !missing.is_empty() {
        if !register_missing {
            return Err(Error::new(
                ErrorKind::NotFound,
                Reason::TableNotFound,
                format!(
                    "no tables named {}; register them first or set register_missing_tables",
                    missing.join(", ")
                ),
            )
            .with_metadata("missing_tables", missing.join(",")));
        }
        let mut violations = Violations::default();
        let mut defs = Vec::new();
        for name in &missing {
            let side = if def.outputs.iter().any(|o| o == name) {
                "task.outputs"
            } else if def.inputs.iter().any(|i| i == name) {
                "task.inputs"
            } else {
                "task.sql"
            };
            let draft = TableDraft {
                name: (*name).to_owned(),
                owner: def.owner.clone(),
                description: format!("Registered for task {}", def.name),
                ..Default::default()
            };
            match TableDef::validate(draft) {
                Ok(table) => defs.push(table),
                Err(_) => violations.add(
                    side,
                    format!("{name:?} is not registered and has no layer prefix (ods_, dwd_, dim_, dws_, ads_) to register it with"),
                ),
            }
        }
        if !violations.is_empty() {
            return Err(violations.into_error());
        }
        tx.insert_tables_if_missing(&defs, now).await?;
        found = tx.table_ids(names).await?;
        tx.lock_lineage().await?;
        for table in found.iter().filter(|t| missing.contains(&t.name.as_str())) {
            tx.record_lineage_change(Changed::Table(table.id), now).await?;
        }
    }
    Ok(found)
}

//! The in-memory lineage index: loaded once from the database, then kept current by applying
//! the change log (this replica's writes at once, other replicas' within a refresh interval).

use std::collections::{BTreeSet, HashMap};
use std::sync::RwLock;

use crate::domain::lineage::EdgeSource;
use crate::domain::lineage::graph::{GraphBuilder, LineageGraph, TableInput, TaskInput};
use crate::error::{Error, ErrorKind, Reason, Result};
use crate::storage::{Changed, Link, Node, Store, TableNode, TaskNode};

/// Change-log entries applied per read while catching up.
const CHANGES_PER_READ: i64 = 10_000;

/// The graph and what it knows of the database.
#[derive(Debug)]
pub struct IndexState {
    /// Tables and tasks.
    pub graph: LineageGraph,
    /// Where each link of a task comes from, for tasks with links that are not plainly declared
    /// (most are, so this stays small; a missing entry means [`EdgeSource::Declared`]).
    sources: HashMap<i64, Box<[(i64, EdgeSource)]>>,
    /// The newest change-log entry applied.
    applied_seq: i64,
}

impl IndexState {
    /// Where the link of `task` to `table` comes from.
    pub fn source(&self, task: i64, table: i64) -> EdgeSource {
        self.sources
            .get(&task)
            .and_then(|links| links.iter().find(|(t, _)| *t == table))
            .map_or(EdgeSource::Declared, |(_, source)| *source)
    }

    /// Where an edge from `source` to `target` through `task` comes from: the sources of its two
    /// links when they agree, else DECLARED (only the declared side is confirmed).
    pub fn edge_source(&self, task: i64, source: i64, target: i64) -> EdgeSource {
        match (self.source(task, source), self.source(task, target)) {
            (a, b) if a == b => a,
            _ => EdgeSource::Declared,
        }
    }

    fn apply_table(&mut self, id: i64, node: Option<&TableNode>) -> Result<()> {
        match node {
            Some(t) => self
                .graph
                .upsert_table(TableInput {
                    id,
                    name: &t.name,
                    database: &t.database,
                    layer: t.layer,
                    owner: &t.owner,
                })
                .map_err(graph_error),
            None => {
                self.graph.remove_table(id);
                Ok(())
            }
        }
    }

    fn apply_task(&mut self, id: i64, node: Option<&TaskNode>) -> Result<()> {
        self.sources.remove(&id);
        let Some(task) = node else {
            self.graph.remove_task(id);
            return Ok(());
        };
        let (inputs, outputs) = split_links(&task.links);
        self.graph
            .upsert_task(TaskInput {
                id,
                name: &task.name,
                owner: &task.owner,
                inputs: &inputs,
                outputs: &outputs,
            })
            .map_err(graph_error)?;
        if let Some(sources) = undeclared_sources(task) {
            self.sources.insert(id, sources);
        }
        Ok(())
    }
}

/// The lineage index of one replica.
#[derive(Debug)]
pub struct LineageIndex {
    /// `None` until the first load succeeds (the database may be down at start).
    state: RwLock<Option<IndexState>>,
    /// One catch-up at a time.
    refreshing: tokio::sync::Mutex<()>,
}

impl Default for LineageIndex {
    fn default() -> Self {
        Self { state: RwLock::new(None), refreshing: tokio::sync::Mutex::new(()) }
    }
}

impl LineageIndex {
    /// Reads the graph under a shared lock; fails with UNAVAILABLE until it has been loaded.
    pub fn read<T>(&self, f: impl FnOnce(&IndexState) -> Result<T>) -> Result<T> {
        let state = self.state.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        match state.as_ref() {
            Some(state) => f(state),
            None => Err(Error::new(
                ErrorKind::Unavailable,
                Reason::DatabaseUnavailable,
                "the lineage index is not loaded yet: the database has not answered since the service started",
            )),
        }
    }

    /// Whether the first load has succeeded.
    pub fn is_loaded(&self) -> bool {
        self.state.read().unwrap_or_else(|p| p.into_inner()).is_some()
    }

    /// Loads the index now if it has not been loaded yet, so that a query arriving before the
    /// background load finishes waits for it instead of failing.
    pub async fn ensure_loaded(&self, store: &Store) -> Result<()> {
        if self.state.read().unwrap_or_else(|p| p.into_inner()).is_some() {
            return Ok(());
        }
        self.refresh(store).await
    }

    /// Brings the index up to date with the database: loads it whole the first time, then
    /// applies the change-log entries written since (by any replica).
    pub async fn refresh(&self, store: &Store) -> Result<()> {
        let _turn = self.refreshing.lock().await;
        let applied = self.state.read().unwrap_or_else(|p| p.into_inner()).as_ref().map(|s| s.applied_seq);
        let Some(mut applied) = applied else {
            let loaded = load(store).await?;
            *self.state.write().unwrap_or_else(|p| p.into_inner()) = Some(loaded);
            return Ok(());
        };
        loop {
            let changes = store.lineage_changes_since(applied, CHANGES_PER_READ).await?;
            let Some(&(last, _)) = changes.last() else { return Ok(()) };
            let mut tables = BTreeSet::new();
            let mut tasks = BTreeSet::new();
            for (_, changed) in &changes {
                match changed {
                    Changed::Table(id) => tables.insert(*id),
                    Changed::Task(id) => tasks.insert(*id),
                };
            }
            let table_ids: Vec<i64> = tables.into_iter().collect();
            let task_ids: Vec<i64> = tasks.into_iter().collect();
            let table_nodes = store.lineage_tables(&table_ids).await?;
            let task_nodes = store.lineage_tasks(&task_ids).await?;
            {
                let mut guard = self.state.write().unwrap_or_else(|p| p.into_inner());
                let state = guard.as_mut().ok_or_else(|| Error::internal("the lineage index vanished"))?;
                for id in &table_ids {
                    state.apply_table(*id, table_nodes.iter().find(|t| t.id == *id))?;
                }
                for id in &task_ids {
                    state.apply_task(*id, task_nodes.iter().find(|t| t.id == *id))?;
                }
                state.applied_seq = last;
            }
            applied = last;
            if (changes.len() as i64) < CHANGES_PER_READ {
                return Ok(());
            }
        }
    }
}

/// Loads the whole graph. The change-log position is read first: whatever is written during
/// the load is applied again afterwards, which is harmless (applying a change reloads the
/// entity as it is).
async fn load(store: &Store) -> Result<IndexState> {
    let applied_seq = store.lineage_seq().await?;
    let mut builder = GraphBuilder::new();
    let mut sources = HashMap::new();
    store
        .stream_lineage(|node| match node {
            Node::Table(t) => builder
                .add_table(TableInput {
                    id: t.id,
                    name: &t.name,
                    database: &t.database,
                    layer: t.layer,
                    owner: &t.owner,
                })
                .map_err(graph_error),
            Node::Task(task) => {
                let (inputs, outputs) = split_links(&task.links);
                if let Some(task_sources) = undeclared_sources(&task) {
                    sources.insert(task.id, task_sources);
                }
                builder
                    .add_task(TaskInput {
                        id: task.id,
                        name: &task.name,
                        owner: &task.owner,
                        inputs: &inputs,
                        outputs: &outputs,
                    })
                    .map_err(graph_error)
            }
        })
        .await?;
    let graph = builder.build().map_err(graph_error)?;
    Ok(IndexState { graph, sources, applied_seq })
}

/// The sources of a task's links, when any is not plainly declared.
fn undeclared_sources(task: &TaskNode) -> Option<Box<[(i64, EdgeSource)]>> {
    task.links
        .iter()
        .any(|l| l.source != EdgeSource::Declared)
        .then(|| task.links.iter().map(|l| (l.table_id, l.source)).collect())
}

fn split_links(links: &[Link]) -> (Vec<i64>, Vec<i64>) {
    let inputs = links.iter().filter(|l| l.is_input).map(|l| l.table_id).collect();
    let outputs = links.iter().filter(|l| !l.is_input).map(|l| l.table_id).collect();
    (inputs, outputs)
}

fn graph_error(e: crate::domain::lineage::graph::GraphError) -> Error {
    Error::internal(format!("lineage index: {e}"))
}

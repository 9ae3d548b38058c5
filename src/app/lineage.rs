//! Use cases of the lineage graph: traversals, impact, task dependencies, SQL analysis.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::Catalog;
use super::lineage_index::IndexState;
use crate::domain::lineage::EdgeSource;
use crate::domain::lineage::graph::{Direction, GraphFilter, NodeRef, Traversal};
use crate::domain::lineage::sql::{self, SqlDialect, SqlLineage};
use crate::domain::table::Layer;
use crate::error::{Error, Reason, Result};
use crate::storage::{table_not_found, task_not_found};

/// Where a lineage question starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    /// A table by name.
    TableName(String),
    /// A table by id.
    TableId(i64),
    /// A task by name.
    TaskName(String),
    /// A task by id.
    TaskId(i64),
}

/// A table in an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Database.
    pub database: String,
    /// Layer.
    pub layer: Layer,
    /// Owner.
    pub owner: String,
    /// Hops from the start.
    pub distance: u32,
}

/// A task in an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskNode {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Owner.
    pub owner: String,
    /// Hops from the start.
    pub distance: u32,
}

/// Data flows from `source` to `target` through `task`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge {
    /// Table read.
    pub source: (i64, String),
    /// Table written.
    pub target: (i64, String),
    /// The task.
    pub task: (i64, String),
    /// Where the link comes from.
    pub edge_source: EdgeSource,
}

/// Tables, tasks and edges: a traversal or a slice of the graph.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subgraph {
    /// Tables, nearest first.
    pub nodes: Vec<Node>,
    /// Tasks traversed.
    pub tasks: Vec<TaskNode>,
    /// Edges among the tables.
    pub edges: Vec<Edge>,
    /// Whether a limit cut the answer.
    pub truncated: bool,
}

/// Everything downstream of a node.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Impact {
    /// Tables and tasks by distance, nearest first.
    pub levels: Vec<(u32, Vec<Node>, Vec<TaskNode>)>,
    /// Every task affected.
    pub tasks: Vec<TaskNode>,
    /// Every owner affected, sorted.
    pub owners: Vec<String>,
    /// Whether the limit cut the answer.
    pub truncated: bool,
}

/// Tasks linked to a task through tables.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dependencies {
    /// (task id, task name, the tables through which) of tasks it depends on.
    pub upstream: Vec<(i64, String, Vec<String>)>,
    /// Likewise of tasks that depend on it.
    pub downstream: Vec<(i64, String, Vec<String>)>,
}

/// Deepest traversal a caller may ask for (beyond, ask for all depths).
pub const MAX_DEPTH: u32 = 1000;
/// Largest node limit.
pub const MAX_NODE_LIMIT: usize = 100_000;

impl Catalog {
    /// The whole graph, or the tables of one layer, database and/or owner with the edges
    /// between them.
    pub async fn lineage_graph(
        &self,
        layer: Option<Layer>,
        database: &str,
        owner: &str,
        limit: usize,
    ) -> Result<Subgraph> {
        self.lineage.ensure_loaded(&self.store).await?;
        self.lineage.read(|state| {
            let filter = GraphFilter {
                layers: layer.into_iter().collect(),
                database: (!database.is_empty()).then(|| database.to_owned()),
                owner: (!owner.is_empty()).then(|| owner.to_owned()),
            };
            let graph = state.graph.graph(&filter, limit);
            let nodes = graph.tables.iter().filter_map(|id| node(state, *id, 0)).collect();
            let tasks = graph.tasks.iter().filter_map(|id| task_node(state, *id, 0)).collect();
            let edges = graph.edges.iter().map(|e| edge(state, e.source, e.target, e.task)).collect();
            Ok(Subgraph { nodes, tasks, edges, truncated: graph.truncated })
        })
    }

    /// What a node reads from (`Up`) or what reads from it (`Down`), up to `depth` hops (all
    /// when `None`) and `limit` tables.
    pub async fn lineage_traverse(
        &self,
        start: &Start,
        direction: Direction,
        depth: Option<u32>,
        limit: usize,
    ) -> Result<Subgraph> {
        self.lineage.ensure_loaded(&self.store).await?;
        self.lineage.read(|state| {
            let start = resolve(state, start)?;
            let traversal =
                state.graph.traverse(start, direction, depth, limit).map_err(|_| not_found(start))?;
            Ok(subgraph(state, &traversal, start))
        })
    }

    /// Everything downstream of a node, by distance, with the tasks and owners affected.
    pub async fn lineage_impact(&self, start: &Start, limit: usize) -> Result<Impact> {
        self.lineage.ensure_loaded(&self.store).await?;
        self.lineage.read(|state| {
            let start = resolve(state, start)?;
            let impact = state.graph.impact(start, limit).map_err(|_| not_found(start))?;
            let tasks: Vec<TaskNode> =
                impact.tasks.iter().filter_map(|t| task_node(state, t.id, t.distance + 1)).collect();
            let mut levels: BTreeMap<u32, (Vec<Node>, Vec<TaskNode>)> = BTreeMap::new();
            for level in &impact.levels {
                let entry = levels.entry(level.distance).or_default();
                entry.0.extend(level.tables.iter().filter_map(|id| node(state, *id, level.distance)));
            }
            for task in &tasks {
                levels.entry(task.distance).or_default().1.push(task.clone());
            }
            Ok(Impact {
                levels: levels.into_iter().map(|(d, (nodes, tasks))| (d, nodes, tasks)).collect(),
                tasks,
                // A table or task without an owner is no one to tell.
                owners: impact.owners.iter().filter(|o| !o.is_empty()).cloned().collect(),
                truncated: impact.truncated,
            })
        })
    }

    /// The tasks a task depends on and those depending on it, with the tables between them.
    pub async fn task_dependencies(&self, task: &Start) -> Result<Dependencies> {
        self.lineage.ensure_loaded(&self.store).await?;
        self.lineage.read(|state| {
            let NodeRef::Task(id) = resolve(state, task)? else {
                return Err(Error::internal("task dependencies of a table were asked for"));
            };
            let deps = state
                .graph
                .task_dependencies(id, MAX_NODE_LIMIT)
                .map_err(|_| not_found(NodeRef::Task(id)))?;
            let Some(me) = state.graph.task(id) else { return Err(not_found(NodeRef::Task(id))) };
            let via = |other: i64, upstream: bool| -> Vec<String> {
                let Some(other) = state.graph.task(other) else { return Vec::new() };
                let (theirs, mine) =
                    if upstream { (&other.outputs, &me.inputs) } else { (&other.inputs, &me.outputs) };
                let shared: BTreeSet<String> = theirs
                    .iter()
                    .filter(|t| mine.contains(t))
                    .filter_map(|t| state.graph.table(*t).map(|t| t.name.to_owned()))
                    .collect();
                shared.into_iter().collect()
            };
            let describe = |ids: &[i64], upstream: bool| {
                ids.iter()
                    .filter_map(|t| {
                        state.graph.task(*t).map(|task| (*t, task.name.to_owned(), via(*t, upstream)))
                    })
                    .collect()
            };
            Ok(Dependencies {
                upstream: describe(&deps.upstream, true),
                downstream: describe(&deps.downstream, false),
            })
        })
    }

    /// Tables and tasks in the lineage index, and the bytes it holds on the heap.
    pub fn lineage_size(&self) -> Result<(usize, usize, usize)> {
        self.lineage
            .read(|state| Ok((state.graph.table_count(), state.graph.task_count(), state.graph.heap_bytes())))
    }

    /// The tables a SQL statement or script reads and writes.
    pub async fn analyze_sql(
        &self,
        text: String,
        dialect: SqlDialect,
        params: HashMap<String, String>,
    ) -> Result<SqlLineage> {
        let analyzed = tokio::task::spawn_blocking(move || sql::analyze(&text, dialect, &params))
            .await
            .map_err(|e| Error::internal(format!("the SQL analysis failed: {e}")))?;
        analyzed.map_err(|e| {
            let mut error =
                Error::invalid_field("sql", format!("line {}, column {}: {}", e.line, e.column, e.message));
            error.reason = Reason::SqlParseError;
            error.with_metadata("line", e.line.to_string()).with_metadata("column", e.column.to_string())
        })
    }
}

fn resolve(state: &IndexState, start: &Start) -> Result<NodeRef> {
    match start {
        Start::TableId(id) if state.graph.table(*id).is_some() => Ok(NodeRef::Table(*id)),
        Start::TaskId(id) if state.graph.contains_task(*id) => Ok(NodeRef::Task(*id)),
        Start::TableName(name) => state
            .graph
            .tables_named(name)
            .first()
            .map(|id| NodeRef::Table(*id))
            .ok_or_else(|| table_not_found(&crate::domain::Lookup::Name(name.clone()))),
        Start::TaskName(name) => state
            .graph
            .tasks_named(name)
            .first()
            .map(|id| NodeRef::Task(*id))
            .ok_or_else(|| task_not_found(&crate::domain::Lookup::Name(name.clone()))),
        Start::TableId(id) => Err(not_found(NodeRef::Table(*id))),
        Start::TaskId(id) => Err(not_found(NodeRef::Task(*id))),
    }
}

fn not_found(node: NodeRef) -> Error {
    match node {
        NodeRef::Table(id) => table_not_found(&crate::domain::Lookup::Id(id)),
        NodeRef::Task(id) => task_not_found(&crate::domain::Lookup::Id(id)),
    }
}

fn node(state: &IndexState, id: i64, distance: u32) -> Option<Node> {
    state.graph.table(id).map(|t| Node {
        id,
        name: t.name.to_owned(),
        database: t.database.to_owned(),
        layer: t.layer,
        owner: t.owner.to_owned(),
        distance,
    })
}

fn task_node(state: &IndexState, id: i64, distance: u32) -> Option<TaskNode> {
    state.graph.task(id).map(|t| TaskNode {
        id,
        name: t.name.to_owned(),
        owner: t.owner.to_owned(),
        distance,
    })
}

fn name_of_table(state: &IndexState, id: i64) -> String {
    state.graph.table(id).map_or_else(|| id.to_string(), |t| t.name.to_owned())
}

fn edge(state: &IndexState, source: i64, target: i64, task: i64) -> Edge {
    Edge {
        source: (source, name_of_table(state, source)),
        target: (target, name_of_table(state, target)),
        task: (
            task,
            state.graph.task_label(task).map_or_else(|| task.to_string(), |(name, _)| name.to_owned()),
        ),
        edge_source: state.edge_source(task, source, target),
    }
}

/// A traversal as answered. A task is placed at the distance of the tables it leads to (the
/// graph counts the table it is entered from), so that each level holds the tables and the
/// tasks that reach them; a start task stays at 0.
fn subgraph(state: &IndexState, traversal: &Traversal, start: NodeRef) -> Subgraph {
    let task_distance =
        |id: i64, entered_at: u32| if start == NodeRef::Task(id) { 0 } else { entered_at + 1 };
    Subgraph {
        nodes: traversal.tables.iter().filter_map(|t| node(state, t.id, t.distance)).collect(),
        tasks: traversal
            .tasks
            .iter()
            .filter_map(|t| task_node(state, t.id, task_distance(t.id, t.distance)))
            .collect(),
        edges: traversal.edges.iter().map(|e| edge(state, e.source, e.target, e.task)).collect(),
        truncated: traversal.truncated,
    }
}

//! In-memory lineage graph index for a data-warehouse portal.
//!
//! # Model
//!
//! * **Tables** have an external `i64` id and metadata (name, database,
//!   [`Layer`], owner).
//! * **Tasks** have an external `i64` id, a name, an owner, a set of input
//!   tables (read) and a set of output tables (written).
//! * A **lineage edge** `a -> b` exists when some task reads `a` and writes
//!   `b`. Task `B` depends on task `A` when `B` reads a table `A` writes.
//!
//! # Representation
//!
//! The graph is kept bipartite: each table has a list of reader tasks and a
//! list of writer tasks, each task a list of inputs and outputs. A task with
//! 5 inputs and 5 outputs therefore costs 10 entries per side instead of the
//! 25 table-to-table edges it implies. Everything is addressed by dense `u32`
//! slots (external `i64` ids map to slots through an index):
//!
//! * columns per slot (struct of arrays): id (4 bytes while ids are dense,
//!   see `store::IdColumn`), layer/state byte, interned (database, owner)
//!   pair for tables, interned owner for tasks;
//! * both lists of a node share one 8-byte header in a `store::PairArena`;
//! * names live in one `String` arena behind a 1-byte length prefix;
//! * id and name indexes are open-addressing tables of slots
//!   (`store::SlotTable`, 5 bytes per bucket) whose keys stay in the columns.
//!
//! At one million tables plus 875k tasks (8 layers, fan-in 1–5) the index
//! takes about 120 MB (`benches/lineage.rs` measures it; `heap_breakdown`
//! itemises it). The module uses std only and no `unsafe`.
//!
//! # Updates
//!
//! [`LineageGraph::upsert_table`], [`LineageGraph::remove_table`],
//! [`LineageGraph::upsert_task`] and [`LineageGraph::remove_task`] apply one
//! source change each, in time proportional to the lists touched. For a
//! large initial load use [`GraphBuilder`], which builds the adjacency
//! arrays in one pass.
//!
//! Referential integrity is *handled*, never refused, so changes can be
//! applied in any order (a change feed may deliver a task before the tables
//! it references, or drop a table before the tasks that use it):
//!
//! * a task referencing an unknown table id creates a **placeholder** table
//!   (no metadata) for it; a later `upsert_table` fills in the metadata;
//! * removing a table that tasks still reference drops its metadata and
//!   keeps it as a placeholder, with its edges, because the tasks still
//!   reference it;
//! * a placeholder disappears as soon as no task references it.
//!
//! The index therefore depends only on the final set of tables and tasks,
//! not on the order of the changes: an incrementally maintained graph
//! answers every query exactly like a fresh bulk build of the same data.
//!
//! # Queries
//!
//! Graph queries take an explicit result limit (except
//! [`LineageGraph::cycle_if_applied`], whose answer must be exact and which
//! stops at the first cycle), never panic, and return results in a
//! deterministic order: by distance, then by id (ids are unique, names need
//! not be). Results never depend on internal slot order or update history.
//! Unknown start nodes yield [`GraphError::UnknownTable`] /
//! [`GraphError::UnknownTask`]. Queries take `&self` and allocate scratch
//! proportional to what they visit, so they can run concurrently (e.g. the
//! graph behind an `RwLock` or swapped as an `Arc` snapshot).

#![forbid(unsafe_code)]

mod builder;
mod query;
mod store;
#[cfg(test)]
mod tests;

use std::fmt;

pub use builder::GraphBuilder;
pub use query::{
    Cycle, GraphFilter, Impact, ImpactLevel, LineageEdge, ReachedTable, ReachedTask, Subgraph,
    TaskDependencies, Traversal,
};

use store::{
    Hasher64, IdColumn, IdIndex, Interner, MAX_SLOTS, NONE, NameIndex, Overflow, PairArena, Profiles,
    StrArena, list_cap,
};

/// External table id (primary key in the metadata database).
pub type TableId = i64;
/// External task id (primary key in the scheduler database).
pub type TaskId = i64;

pub use crate::domain::table::Layer;

/// A table to insert or update (borrowed, so callers need not allocate).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TableInput<'a> {
    /// External id.
    pub id: TableId,
    /// Table name (not necessarily unique).
    pub name: &'a str,
    /// Database (schema) name.
    pub database: &'a str,
    /// Warehouse layer.
    pub layer: Layer,
    /// Owner (user or team).
    pub owner: &'a str,
}

/// A task to insert or update, with the complete sets of tables it reads and
/// writes. Duplicate ids in `inputs` / `outputs` are ignored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TaskInput<'a> {
    /// External id.
    pub id: TaskId,
    /// Task name (not necessarily unique).
    pub name: &'a str,
    /// Owner (user or team).
    pub owner: &'a str,
    /// Tables read by the task.
    pub inputs: &'a [TableId],
    /// Tables written by the task.
    pub outputs: &'a [TableId],
}

/// A node to start a query from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NodeRef {
    /// A table (defined or placeholder).
    Table(TableId),
    /// A task.
    Task(TaskId),
}

/// Direction of a traversal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Towards sources: writers of a table, then their inputs.
    Up,
    /// Towards consumers: readers of a table, then their outputs.
    Down,
}

/// Metadata of a defined table, borrowed from the graph.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TableView<'g> {
    /// External id.
    pub id: TableId,
    /// Table name.
    pub name: &'g str,
    /// Database name.
    pub database: &'g str,
    /// Warehouse layer.
    pub layer: Layer,
    /// Owner.
    pub owner: &'g str,
}

/// A task with its inputs and outputs (sorted by id).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskView<'g> {
    /// External id.
    pub id: TaskId,
    /// Task name.
    pub name: &'g str,
    /// Owner.
    pub owner: &'g str,
    /// Tables read, sorted by id.
    pub inputs: Vec<TableId>,
    /// Tables written, sorted by id.
    pub outputs: Vec<TableId>,
}

/// Errors of updates and queries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum GraphError {
    /// The start table of a query is not in the graph.
    UnknownTable(TableId),
    /// The start task of a query is not in the graph.
    UnknownTask(TaskId),
    /// More than `u32::MAX - 1` nodes, or more than `u32::MAX` list entries
    /// or name bytes; the graph is left unchanged.
    CapacityExceeded,
}

impl fmt::Display for GraphError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GraphError::UnknownTable(id) => write!(f, "unknown table {id}"),
            GraphError::UnknownTask(id) => write!(f, "unknown task {id}"),
            GraphError::CapacityExceeded => f.write_str("lineage graph capacity exceeded"),
        }
    }
}

impl std::error::Error for GraphError {}

impl From<Overflow> for GraphError {
    fn from(_: Overflow) -> Self {
        GraphError::CapacityExceeded
    }
}

/// Which list of a table's [`PairArena`] entry: A holds the reader tasks.
const READERS: bool = true;
/// B holds the writer tasks.
const WRITERS: bool = false;
/// Which list of a task's [`PairArena`] entry: A holds the input tables.
const INPUTS: bool = true;
/// B holds the output tables.
const OUTPUTS: bool = false;

/// `state` byte of a table slot: `0..=4` is the layer of a defined table.
const STATE_PLACEHOLDER: u8 = 0xFE;
const STATE_FREE: u8 = 0xFF;

/// Writes `value` at `slot` if it exists (slots come from the stores, so it
/// always does; this just keeps the write panic-free).
#[inline]
fn put<T>(v: &mut [T], slot: u32, value: T) {
    if let Some(cell) = v.get_mut(slot as usize) {
        *cell = value;
    }
}

/// Sorted, deduplicated copy of an id list.
fn sorted_unique(ids: &[i64]) -> Vec<i64> {
    let mut v = ids.to_vec();
    v.sort_unstable();
    v.dedup();
    v
}

/// Elements of sorted `a` that are not in sorted `b`.
fn sorted_difference(a: &[u32], b: &[u32]) -> Vec<u32> {
    let mut out = Vec::new();
    let mut j = 0;
    for &x in a {
        while b.get(j).is_some_and(|&y| y < x) {
            j += 1;
        }
        if b.get(j) != Some(&x) {
            out.push(x);
        }
    }
    out
}

/// Tables, struct-of-arrays by slot.
#[derive(Clone, Debug, Default)]
struct TableStore {
    ids: IdColumn,
    /// Layer code, [`STATE_PLACEHOLDER`] or [`STATE_FREE`]: one byte for both
    /// the layer and the slot's state.
    state: Vec<u8>,
    /// Interned (database, owner) pair, [`NONE`] for placeholders.
    profile: Vec<u32>,
    names: StrArena,
    /// Reader tasks (list A, [`READERS`]) and writer tasks (list B,
    /// [`WRITERS`]).
    edges: PairArena,
    index: IdIndex,
    by_name: NameIndex,
    /// Released slots, reused before the arrays grow.
    free: Vec<u32>,
    defined: usize,
    placeholders: usize,
}

impl TableStore {
    #[inline]
    fn find(&self, h: Hasher64, id: TableId) -> Option<u32> {
        self.index.find(h, &self.ids, id)
    }

    #[inline]
    fn id(&self, slot: u32) -> TableId {
        self.ids.get(slot).unwrap_or_default()
    }

    #[inline]
    fn state(&self, slot: u32) -> u8 {
        self.state.get(slot as usize).copied().unwrap_or(STATE_FREE)
    }

    #[inline]
    fn is_defined(&self, slot: u32) -> bool {
        self.state(slot) < STATE_PLACEHOLDER
    }

    fn can_alloc(&self, n: usize) -> bool {
        self.index.len().saturating_add(n) <= MAX_SLOTS
    }

    /// Moves `slot` to state `new`, keeping the counters in step.
    fn set_state(&mut self, slot: u32, new: u8) {
        let Some(cell) = self.state.get_mut(slot as usize) else {
            return;
        };
        let old = std::mem::replace(cell, new);
        match old {
            STATE_FREE => {}
            STATE_PLACEHOLDER => self.placeholders = self.placeholders.saturating_sub(1),
            _ => self.defined = self.defined.saturating_sub(1),
        }
        match new {
            STATE_FREE => {}
            STATE_PLACEHOLDER => self.placeholders += 1,
            _ => self.defined += 1,
        }
    }

    /// Allocates a placeholder slot for `id`, which must not be present.
    fn alloc(&mut self, h: Hasher64, id: TableId) -> Result<u32, GraphError> {
        let slot = match self.free.pop() {
            Some(slot) => {
                self.ids.set(slot, id);
                put(&mut self.profile, slot, NONE);
                slot
            }
            None => {
                if self.ids.len() >= MAX_SLOTS {
                    return Err(GraphError::CapacityExceeded);
                }
                let slot = self.ids.len() as u32;
                self.ids.push(id);
                self.state.push(STATE_FREE);
                self.profile.push(NONE);
                slot
            }
        };
        self.set_state(slot, STATE_PLACEHOLDER);
        self.index.insert(h, &self.ids, slot);
        Ok(slot)
    }

    /// Slot of `id`, creating a placeholder if it is unknown.
    fn slot_or_placeholder(&mut self, h: Hasher64, id: TableId) -> Result<u32, GraphError> {
        match self.find(h, id) {
            Some(slot) => Ok(slot),
            None => self.alloc(h, id),
        }
    }

    /// Sets the metadata of `slot`, making it a defined table.
    fn define(
        &mut self,
        h: Hasher64,
        slot: u32,
        name: &str,
        profile: u32,
        layer: Layer,
    ) -> Result<(), GraphError> {
        let was_defined = self.is_defined(slot);
        if !was_defined || self.names.get(slot) != name {
            // The name index hashes the current name, so unindex first.
            if was_defined {
                self.by_name.remove(h, &self.names, slot);
            }
            if let Err(e) = self.names.set(slot, name) {
                if was_defined {
                    self.by_name.insert(h, &self.names, slot);
                }
                return Err(e.into());
            }
            self.by_name.insert(h, &self.names, slot);
            self.names.maybe_compact();
        }
        put(&mut self.profile, slot, profile);
        self.set_state(slot, layer.code());
        Ok(())
    }

    /// Drops the metadata of a defined table, leaving a placeholder.
    fn undefine(&mut self, h: Hasher64, slot: u32) {
        if !self.is_defined(slot) {
            return;
        }
        self.by_name.remove(h, &self.names, slot);
        self.names.clear(slot);
        self.names.maybe_compact();
        put(&mut self.profile, slot, NONE);
        self.set_state(slot, STATE_PLACEHOLDER);
    }

    /// Frees a slot that was never indexed (a bulk-load duplicate).
    fn release_unindexed(&mut self, slot: u32) {
        self.names.clear(slot);
        put(&mut self.profile, slot, NONE);
        self.set_state(slot, STATE_FREE);
        self.free.push(slot);
    }

    /// Releases `slot` if it is a placeholder no task references.
    fn collect_if_unused(&mut self, h: Hasher64, slot: u32) {
        if self.state(slot) == STATE_PLACEHOLDER && self.edges.is_empty(slot) {
            let id = self.id(slot);
            self.index.remove(h, &self.ids, id);
            self.edges.clear(slot);
            self.set_state(slot, STATE_FREE);
            self.free.push(slot);
        }
    }

    fn heap_bytes(&self) -> usize {
        self.ids.heap_bytes()
            + self.state.capacity()
            + self.profile.capacity() * 4
            + self.names.heap_bytes()
            + self.edges.heap_bytes()
            + self.index.heap_bytes()
            + self.by_name.heap_bytes()
            + self.free.capacity() * 4
    }
}

/// Tasks, struct-of-arrays by slot.
#[derive(Clone, Debug, Default)]
struct TaskStore {
    ids: IdColumn,
    /// Interned owner; [`NONE`] marks a free slot.
    owner: Vec<u32>,
    names: StrArena,
    /// Input tables (list A, [`INPUTS`]) and output tables (list B,
    /// [`OUTPUTS`]), each sorted by slot.
    edges: PairArena,
    index: IdIndex,
    by_name: NameIndex,
    free: Vec<u32>,
}

impl TaskStore {
    #[inline]
    fn find(&self, h: Hasher64, id: TaskId) -> Option<u32> {
        self.index.find(h, &self.ids, id)
    }

    #[inline]
    fn id(&self, slot: u32) -> TaskId {
        self.ids.get(slot).unwrap_or_default()
    }

    fn can_alloc(&self, n: usize) -> bool {
        self.index.len().saturating_add(n) <= MAX_SLOTS
    }

    /// Allocates a slot for `id`, which must not be present. The slot has
    /// owner [`NONE`] until the caller sets it.
    fn alloc(&mut self, h: Hasher64, id: TaskId) -> Result<u32, GraphError> {
        let slot = match self.free.pop() {
            Some(slot) => {
                self.ids.set(slot, id);
                slot
            }
            None => {
                if self.ids.len() >= MAX_SLOTS {
                    return Err(GraphError::CapacityExceeded);
                }
                self.ids.push(id);
                self.owner.push(NONE);
                (self.ids.len() - 1) as u32
            }
        };
        self.index.insert(h, &self.ids, slot);
        Ok(slot)
    }

    /// Frees a slot that was never indexed (a bulk-load duplicate).
    fn release_unindexed(&mut self, slot: u32) {
        self.names.clear(slot);
        put(&mut self.owner, slot, NONE);
        self.free.push(slot);
    }

    /// Sets name and owner of `slot`. `is_new` slots are not name-indexed yet.
    fn set_meta(
        &mut self,
        h: Hasher64,
        slot: u32,
        is_new: bool,
        name: &str,
        owner: u32,
    ) -> Result<(), GraphError> {
        if is_new || self.names.get(slot) != name {
            if !is_new {
                self.by_name.remove(h, &self.names, slot);
            }
            if let Err(e) = self.names.set(slot, name) {
                if !is_new {
                    self.by_name.insert(h, &self.names, slot);
                }
                return Err(e.into());
            }
            self.by_name.insert(h, &self.names, slot);
            self.names.maybe_compact();
        }
        put(&mut self.owner, slot, owner);
        Ok(())
    }

    fn heap_bytes(&self) -> usize {
        self.ids.heap_bytes()
            + self.owner.capacity() * 4
            + self.names.heap_bytes()
            + self.edges.heap_bytes()
            + self.index.heap_bytes()
            + self.by_name.heap_bytes()
            + self.free.capacity() * 4
    }
}

/// The lineage graph index. See the [module documentation](self).
///
/// Cloning copies the whole index (useful for copy-on-write snapshots: clone,
/// apply a batch of changes, swap).
#[derive(Clone)]
pub struct LineageGraph {
    hasher: Hasher64,
    strings: Interner,
    profiles: Profiles,
    tables: TableStore,
    tasks: TaskStore,
}

impl Default for LineageGraph {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for LineageGraph {
    // Deliberately a summary: a derived `Debug` would dump millions of slots.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LineageGraph")
            .field("tables", &self.table_count())
            .field("placeholders", &self.placeholder_count())
            .field("tasks", &self.task_count())
            .field("heap_bytes", &self.heap_bytes())
            .finish()
    }
}

impl LineageGraph {
    /// An empty graph.
    pub fn new() -> Self {
        let hasher = Hasher64::new();
        Self {
            hasher,
            strings: Interner::new(hasher),
            profiles: Profiles::new(hasher),
            tables: TableStore::default(),
            tasks: TaskStore::default(),
        }
    }

    /// A [`GraphBuilder`] for bulk loading.
    pub fn builder() -> GraphBuilder {
        GraphBuilder::new()
    }

    /// Number of defined tables (placeholders excluded).
    pub fn table_count(&self) -> usize {
        self.tables.defined
    }

    /// Number of placeholder tables: ids referenced by tasks but not (or no
    /// longer) defined.
    pub fn placeholder_count(&self) -> usize {
        self.tables.placeholders
    }

    /// Number of tasks.
    pub fn task_count(&self) -> usize {
        self.tasks.index.len()
    }

    /// Whether the graph has no tables, placeholders or tasks.
    pub fn is_empty(&self) -> bool {
        self.tables.index.len() == 0 && self.tasks.index.len() == 0
    }

    /// Whether `id` is a node of the graph (defined or placeholder).
    pub fn contains_table(&self, id: TableId) -> bool {
        self.tables.find(self.hasher, id).is_some()
    }

    /// Whether `id` is a placeholder table (referenced, not defined).
    pub fn is_placeholder(&self, id: TableId) -> bool {
        self.tables.find(self.hasher, id).is_some_and(|s| self.tables.state(s) == STATE_PLACEHOLDER)
    }

    /// Whether task `id` exists.
    pub fn contains_task(&self, id: TaskId) -> bool {
        self.tasks.find(self.hasher, id).is_some()
    }

    /// Metadata of a defined table (`None` for unknown ids and placeholders).
    pub fn table(&self, id: TableId) -> Option<TableView<'_>> {
        let slot = self.tables.find(self.hasher, id)?;
        self.table_view(slot)
    }

    fn table_view(&self, slot: u32) -> Option<TableView<'_>> {
        let layer = Layer::from_code(self.tables.state(slot))?;
        let (database, owner) = self.table_profile(slot);
        Some(TableView {
            id: self.tables.id(slot),
            name: self.tables.names.get(slot),
            database: self.strings.get(database),
            layer,
            owner: self.strings.get(owner),
        })
    }

    /// Interned (database, owner) of a table slot.
    fn table_profile(&self, slot: u32) -> (u32, u32) {
        let profile = self.tables.profile.get(slot as usize).copied().unwrap_or(NONE);
        self.profiles.get(profile)
    }

    /// A task's name and owner, without collecting its inputs and outputs as [`Self::task`]
    /// does (answers name every task of every edge).
    pub fn task_label(&self, id: TaskId) -> Option<(&str, &str)> {
        let slot = self.tasks.find(self.hasher, id)?;
        Some((
            self.tasks.names.get(slot),
            self.strings.get(self.tasks.owner.get(slot as usize).copied().unwrap_or(NONE)),
        ))
    }

    /// A task with its inputs and outputs.
    pub fn task(&self, id: TaskId) -> Option<TaskView<'_>> {
        let slot = self.tasks.find(self.hasher, id)?;
        let ids = |list: &[u32]| {
            let mut v: Vec<TableId> = list.iter().map(|&s| self.tables.id(s)).collect();
            v.sort_unstable();
            v
        };
        Some(TaskView {
            id,
            name: self.tasks.names.get(slot),
            owner: self.strings.get(self.tasks.owner.get(slot as usize).copied().unwrap_or(NONE)),
            inputs: ids(self.tasks.edges.list(slot, INPUTS)),
            outputs: ids(self.tasks.edges.list(slot, OUTPUTS)),
        })
    }

    /// Ids of the defined tables named exactly `name`, ascending.
    pub fn tables_named(&self, name: &str) -> Vec<TableId> {
        let mut v: Vec<TableId> = self
            .tables
            .by_name
            .find(self.hasher, &self.tables.names, name)
            .iter()
            .map(|&s| self.tables.id(s))
            .collect();
        v.sort_unstable();
        v
    }

    /// The table named `name` in `database` (the smallest id if there are
    /// several).
    pub fn find_table(&self, database: &str, name: &str) -> Option<TableId> {
        let db = self.strings.lookup(database)?;
        self.tables
            .by_name
            .find(self.hasher, &self.tables.names, name)
            .iter()
            .filter(|&&s| self.table_profile(s).0 == db)
            .map(|&s| self.tables.id(s))
            .min()
    }

    /// Ids of the tasks named exactly `name`, ascending.
    pub fn tasks_named(&self, name: &str) -> Vec<TaskId> {
        let mut v: Vec<TaskId> = self
            .tasks
            .by_name
            .find(self.hasher, &self.tasks.names, name)
            .iter()
            .map(|&s| self.tasks.id(s))
            .collect();
        v.sort_unstable();
        v
    }

    /// Inserts a table or replaces its metadata. Edges are untouched; a
    /// placeholder becomes a defined table.
    ///
    /// Errors only with [`GraphError::CapacityExceeded`], leaving the graph
    /// unchanged.
    pub fn upsert_table(&mut self, table: TableInput<'_>) -> Result<(), GraphError> {
        let h = self.hasher;
        let existing = self.tables.find(h, table.id);
        if (existing.is_none() && !self.tables.can_alloc(1)) || !self.tables.names.has_room(table.name.len())
        {
            return Err(GraphError::CapacityExceeded);
        }
        let database = self.strings.intern(table.database)?;
        let owner = self.strings.intern(table.owner)?;
        let profile = self.profiles.intern(database, owner)?;
        let slot = match existing {
            Some(slot) => slot,
            None => self.tables.alloc(h, table.id)?,
        };
        let defined = self.tables.define(h, slot, table.name, profile, table.layer);
        if defined.is_err() {
            // Only possible for a fresh slot (the room was checked): undo it.
            self.tables.collect_if_unused(h, slot);
        }
        defined
    }

    /// Removes a table's metadata. Returns whether a defined table was
    /// removed.
    ///
    /// If tasks still read or write the table it stays in the graph as a
    /// placeholder with its edges (the tasks still reference it; update or
    /// remove them to cut the lineage), and vanishes once the last such task
    /// is updated or removed.
    pub fn remove_table(&mut self, id: TableId) -> bool {
        let h = self.hasher;
        let Some(slot) = self.tables.find(h, id) else {
            return false;
        };
        if !self.tables.is_defined(slot) {
            return false;
        }
        self.tables.undefine(h, slot);
        self.tables.collect_if_unused(h, slot);
        true
    }

    /// Inserts a task or replaces it, including its complete input and
    /// output sets. Unknown table ids become placeholders; tables no longer
    /// referenced by anything are released if they are placeholders.
    ///
    /// Cost: O(changed inputs/outputs x length of those tables' reader /
    /// writer lists). Errors only with [`GraphError::CapacityExceeded`],
    /// leaving the graph unchanged.
    pub fn upsert_task(&mut self, task: TaskInput<'_>) -> Result<(), GraphError> {
        let h = self.hasher;
        let inputs = sorted_unique(task.inputs);
        let outputs = sorted_unique(task.outputs);
        let existing = self.tasks.find(h, task.id);

        // Every fallible step is checked before the first mutation, so an
        // error leaves the graph exactly as it was.
        let mut new_tables = 0usize;
        let mut table_growth = 0usize;
        for (k, &id) in inputs.iter().chain(&outputs).enumerate() {
            match self.tables.find(h, id) {
                Some(s) => table_growth += self.tables.edges.growth_for_push(s),
                None => {
                    table_growth += list_cap(4);
                    if k < inputs.len() || inputs.binary_search(&id).is_err() {
                        new_tables += 1;
                    }
                }
            }
        }
        let task_growth = list_cap(inputs.len().saturating_add(outputs.len()).saturating_add(2));
        let fits = self.tables.can_alloc(new_tables)
            && (existing.is_some() || self.tasks.can_alloc(1))
            && self.tables.edges.has_room(table_growth)
            && self.tasks.edges.has_room(task_growth)
            && self.tasks.names.has_room(task.name.len());
        if !fits {
            return Err(GraphError::CapacityExceeded);
        }
        let owner = self.strings.intern(task.owner)?;

        let slot = match existing {
            Some(slot) => slot,
            None => self.tasks.alloc(h, task.id)?,
        };
        self.tasks.set_meta(h, slot, existing.is_none(), task.name, owner)?;
        let mut new_in = Vec::with_capacity(inputs.len());
        for &id in &inputs {
            new_in.push(self.tables.slot_or_placeholder(h, id)?);
        }
        let mut new_out = Vec::with_capacity(outputs.len());
        for &id in &outputs {
            new_out.push(self.tables.slot_or_placeholder(h, id)?);
        }
        self.replace_edges(slot, new_in, new_out)
    }

    /// Replaces the edges of task `task` by diffing old and new lists, so an
    /// update touching one input costs one list edit, not a rebuild.
    fn replace_edges(
        &mut self,
        task: u32,
        mut new_in: Vec<u32>,
        mut new_out: Vec<u32>,
    ) -> Result<(), GraphError> {
        let h = self.hasher;
        new_in.sort_unstable();
        new_in.dedup();
        new_out.sort_unstable();
        new_out.dedup();
        let mut old_in = self.tasks.edges.list(task, INPUTS).to_vec();
        old_in.sort_unstable();
        let mut old_out = self.tasks.edges.list(task, OUTPUTS).to_vec();
        old_out.sort_unstable();

        let dropped_in = sorted_difference(&old_in, &new_in);
        let dropped_out = sorted_difference(&old_out, &new_out);
        for &t in &dropped_in {
            self.tables.edges.remove(t, READERS, task);
        }
        for &t in &dropped_out {
            self.tables.edges.remove(t, WRITERS, task);
        }
        for t in sorted_difference(&new_in, &old_in) {
            self.tables.edges.push(t, READERS, task)?;
        }
        for t in sorted_difference(&new_out, &old_out) {
            self.tables.edges.push(t, WRITERS, task)?;
        }
        self.tasks.edges.set(task, &new_in, &new_out)?;
        for t in dropped_in.into_iter().chain(dropped_out) {
            self.tables.collect_if_unused(h, t);
        }
        self.maybe_compact_lists();
        Ok(())
    }

    fn maybe_compact_lists(&mut self) {
        self.tables.edges.maybe_compact();
        self.tasks.edges.maybe_compact();
    }

    /// Removes a task and its edges. Returns whether it existed.
    /// Placeholders referenced only by this task are released.
    pub fn remove_task(&mut self, id: TaskId) -> bool {
        let h = self.hasher;
        let Some(slot) = self.tasks.find(h, id) else {
            return false;
        };
        let inputs = self.tasks.edges.list(slot, INPUTS).to_vec();
        let outputs = self.tasks.edges.list(slot, OUTPUTS).to_vec();
        for &t in &inputs {
            self.tables.edges.remove(t, READERS, slot);
        }
        for &t in &outputs {
            self.tables.edges.remove(t, WRITERS, slot);
        }
        self.tasks.edges.clear(slot);
        for t in inputs.into_iter().chain(outputs) {
            self.tables.collect_if_unused(h, t);
        }
        self.tasks.by_name.remove(h, &self.tasks.names, slot);
        self.tasks.names.clear(slot);
        self.tasks.names.maybe_compact();
        put(&mut self.tasks.owner, slot, NONE);
        self.tasks.index.remove(h, &self.tasks.ids, id);
        self.tasks.free.push(slot);
        self.maybe_compact_lists();
        true
    }

    /// Rewrites the edge and name arenas without garbage. Updates already
    /// do this automatically when garbage exceeds half of an arena; call it
    /// after a large batch of updates to return memory early.
    pub fn compact(&mut self) {
        self.tables.edges.compact();
        self.tasks.edges.compact();
        self.tables.names.compact();
        self.tasks.names.compact();
    }

    /// Estimated heap bytes owned by the index (capacities of all arrays,
    /// arenas and hash tables; allocator overhead not included).
    pub fn heap_bytes(&self) -> usize {
        self.strings.heap_bytes() + self.tables.heap_bytes() + self.tasks.heap_bytes()
    }

    /// Heap bytes per component, for capacity planning and dashboards.
    pub fn heap_breakdown(&self) -> Vec<(&'static str, usize)> {
        let (t, k) = (&self.tables, &self.tasks);
        vec![
            ("interned strings and profiles", self.strings.heap_bytes() + self.profiles.heap_bytes()),
            (
                "table columns (id, layer, profile)",
                t.ids.heap_bytes() + t.state.capacity() + t.profile.capacity() * 4,
            ),
            ("table names", t.names.heap_bytes()),
            ("table id index", t.index.heap_bytes()),
            ("table name index", t.by_name.heap_bytes()),
            ("table readers + writers", t.edges.heap_bytes()),
            ("task columns (id, owner)", k.ids.heap_bytes() + k.owner.capacity() * 4),
            ("task names", k.names.heap_bytes()),
            ("task id index", k.index.heap_bytes()),
            ("task name index", k.by_name.heap_bytes()),
            ("task inputs + outputs", k.edges.heap_bytes()),
            ("free lists", (t.free.capacity() + k.free.capacity()) * 4),
        ]
    }

    /// Checks internal invariants (tests only).
    #[cfg(test)]
    fn check_invariants(&self) -> Result<(), String> {
        let h = self.hasher;
        self.tables.edges.check()?;
        self.tasks.edges.check()?;
        // (table, task) pairs seen from each side; both sides must agree.
        let mut table_reads = std::collections::HashSet::new();
        let mut table_writes = std::collections::HashSet::new();
        let mut task_reads = std::collections::HashSet::new();
        let mut task_writes = std::collections::HashSet::new();
        let (mut defined, mut placeholders) = (0, 0);
        for slot in 0..self.tables.ids.len() as u32 {
            let id = self.tables.id(slot);
            match self.tables.state(slot) {
                STATE_FREE => {
                    if !self.tables.edges.is_empty(slot) {
                        return Err(format!("free table slot {slot} has edges"));
                    }
                    if self.tables.find(h, id) == Some(slot) {
                        return Err(format!("free table slot {slot} indexed"));
                    }
                    continue;
                }
                STATE_PLACEHOLDER => {
                    placeholders += 1;
                    if self.tables.edges.is_empty(slot) {
                        return Err(format!("unreferenced placeholder {id}"));
                    }
                    if self.tables.profile.get(slot as usize) != Some(&NONE) {
                        return Err(format!("placeholder {id} has a profile"));
                    }
                }
                _ => {
                    defined += 1;
                    let name = self.tables.names.get(slot);
                    if !self.tables.by_name.find(h, &self.tables.names, name).contains(&slot) {
                        return Err(format!("table {id} missing from name index"));
                    }
                }
            }
            if self.tables.find(h, id) != Some(slot) {
                return Err(format!("table {id} not indexed at {slot}"));
            }
            for (side, pairs, what) in
                [(READERS, &mut table_reads, "reader"), (WRITERS, &mut table_writes, "writer")]
            {
                for &t in self.tables.edges.list(slot, side) {
                    if !pairs.insert((slot, t)) {
                        return Err(format!("duplicate {what} {t} of table {id}"));
                    }
                }
            }
        }
        if defined != self.tables.defined || placeholders != self.tables.placeholders {
            return Err("table counters out of step".into());
        }
        if self.tables.by_name.len() != defined {
            return Err("name index size".into());
        }
        if self.tables.index.len() != defined + placeholders {
            return Err("table index size".into());
        }
        let mut tasks = 0;
        for slot in 0..self.tasks.ids.len() as u32 {
            if self.tasks.owner.get(slot as usize) == Some(&NONE) {
                if !self.tasks.edges.is_empty(slot) {
                    return Err(format!("free task slot {slot} has edges"));
                }
                continue;
            }
            tasks += 1;
            let id = self.tasks.id(slot);
            if self.tasks.find(h, id) != Some(slot) {
                return Err(format!("task {id} not indexed"));
            }
            for (side, pairs) in [(INPUTS, &mut task_reads), (OUTPUTS, &mut task_writes)] {
                let list = self.tasks.edges.list(slot, side);
                if !list.windows(2).all(|w| w[0] < w[1]) {
                    return Err(format!("task {id} list not sorted/unique"));
                }
                for &t in list {
                    if self.tables.state(t) == STATE_FREE {
                        return Err(format!("task {id} references free slot {t}"));
                    }
                    pairs.insert((t, slot));
                }
            }
        }
        if tasks != self.tasks.index.len() || self.tasks.by_name.len() != tasks {
            return Err("task counts".into());
        }
        if table_reads != task_reads || table_writes != task_writes {
            return Err("table and task adjacency disagree".into());
        }
        Ok(())
    }
}

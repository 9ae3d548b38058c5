//! Bulk loading: [`GraphBuilder`].

use super::store::{MAX_SLOTS, NONE, PairArena};
use super::{GraphError, LineageGraph, STATE_FREE, TableInput, TaskInput};

/// Where a pending task's input and output ids sit in `GraphBuilder::refs`.
#[derive(Clone, Copy, Debug, Default)]
struct PendingEdges {
    start: usize,
    inputs: usize,
    outputs: usize,
}

/// Bulk loader for a [`LineageGraph`].
///
/// Tables and task metadata are appended to the graph's columns without
/// touching any hash index; task edges are only recorded. [`GraphBuilder::build`]
/// then builds the id and name indexes in bucket order (one sweep each
/// instead of a cache miss per entry), resolves the edges and lays out the
/// adjacency arrays in one pass (count, prefix-sum, fill) instead of growing
/// millions of lists one entry at a time. Tables and tasks can be added in
/// any order, and adding an id again replaces the earlier record, exactly
/// like the `upsert_*` methods: the result answers every query like the
/// graph those would produce.
#[derive(Debug)]
pub struct GraphBuilder {
    graph: LineageGraph,
    /// Input and output ids of all added tasks, flattened.
    refs: Vec<i64>,
    /// Latest edges of each task slot.
    pending: Vec<PendingEdges>,
}

impl Default for GraphBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl GraphBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        let mut graph = LineageGraph::new();
        graph.tables.index.defer();
        graph.tables.by_name.defer();
        graph.tasks.index.defer();
        graph.tasks.by_name.defer();
        Self { graph, refs: Vec::new(), pending: Vec::new() }
    }

    /// A builder with room for about `tables` tables and `tasks` tasks, which
    /// avoids regrowing the columns while loading.
    pub fn with_capacity(tables: usize, tasks: usize) -> Self {
        let mut b = Self::new();
        // Capacities are hints: `try_reserve` so an absurd hint is ignored
        // instead of panicking on capacity overflow.
        let tables = tables.min(MAX_SLOTS);
        let tasks = tasks.min(MAX_SLOTS);
        let t = &mut b.graph.tables;
        t.ids.try_reserve(tables);
        let _ = t.state.try_reserve(tables);
        let _ = t.profile.try_reserve(tables);
        t.names.try_reserve(tables, tables.saturating_mul(24));
        let k = &mut b.graph.tasks;
        k.ids.try_reserve(tasks);
        let _ = k.owner.try_reserve(tasks);
        k.names.try_reserve(tasks, tasks.saturating_mul(24));
        let _ = b.pending.try_reserve(tasks);
        let _ = b.refs.try_reserve(tasks.saturating_mul(4));
        b
    }

    /// Adds (or replaces) a table.
    pub fn add_table(&mut self, table: TableInput<'_>) -> Result<(), GraphError> {
        // With the indexes deferred this always appends a new slot; a
        // duplicate id is resolved (last one wins) in `build`.
        self.graph.upsert_table(table)
    }

    /// Adds (or replaces) a task with its inputs and outputs. Table ids are
    /// resolved in [`GraphBuilder::build`], so tables may be added later.
    pub fn add_task(&mut self, task: TaskInput<'_>) -> Result<(), GraphError> {
        let g = &mut self.graph;
        let h = g.hasher;
        let existing = g.tasks.find(h, task.id);
        if (existing.is_none() && !g.tasks.can_alloc(1)) || !g.tasks.names.has_room(task.name.len()) {
            return Err(GraphError::CapacityExceeded);
        }
        let owner = g.strings.intern(task.owner)?;
        let slot = match existing {
            Some(slot) => slot,
            None => g.tasks.alloc(h, task.id)?,
        };
        g.tasks.set_meta(h, slot, existing.is_none(), task.name, owner)?;
        let edges =
            PendingEdges { start: self.refs.len(), inputs: task.inputs.len(), outputs: task.outputs.len() };
        self.refs.extend_from_slice(task.inputs);
        self.refs.extend_from_slice(task.outputs);
        let i = slot as usize;
        if i >= self.pending.len() {
            self.pending.resize(i + 1, PendingEdges::default());
        }
        if let Some(p) = self.pending.get_mut(i) {
            *p = edges;
        }
        Ok(())
    }

    /// Resolves all task edges (unknown table ids become placeholders) and
    /// returns the finished graph.
    pub fn build(self) -> Result<LineageGraph, GraphError> {
        let GraphBuilder { mut graph, refs, pending } = self;
        let h = graph.hasher;

        // Id indexes first (dropping superseded duplicates), then names.
        let t = &mut graph.tables;
        let live = (0..t.ids.len() as u32).filter(|&s| t.state.get(s as usize) != Some(&STATE_FREE));
        for slot in t.index.rebuild(h, &t.ids, live) {
            t.release_unindexed(slot);
        }
        let defined = (0..t.ids.len() as u32)
            .filter(|&s| t.state.get(s as usize).is_some_and(|&x| x < super::STATE_PLACEHOLDER));
        t.by_name.rebuild(h, &t.names, defined);
        let k = &mut graph.tasks;
        let live = (0..k.ids.len() as u32).filter(|&s| k.owner.get(s as usize) != Some(&NONE));
        for slot in k.index.rebuild(h, &k.ids, live) {
            k.release_unindexed(slot);
        }
        let live = (0..k.ids.len() as u32).filter(|&s| k.owner.get(s as usize) != Some(&NONE));
        k.by_name.rebuild(h, &k.names, live);

        let task_slots = graph.tasks.ids.len();

        // Exact CSR of every task's inputs and outputs, as sorted unique
        // table slots.
        let mut in_off = Vec::with_capacity(task_slots + 1);
        let mut out_off = Vec::with_capacity(task_slots + 1);
        let mut in_vals: Vec<u32> = Vec::with_capacity(refs.len());
        let mut out_vals: Vec<u32> = Vec::with_capacity(task_slots);
        in_off.push(0u32);
        out_off.push(0u32);
        let mut scratch: Vec<u32> = Vec::new();
        for slot in 0..task_slots {
            let p = match graph.tasks.owner.get(slot) {
                Some(&owner) if owner != NONE => pending.get(slot).copied().unwrap_or_default(),
                _ => PendingEdges::default(), // superseded duplicate
            };
            let ins = refs.get(p.start..p.start + p.inputs).unwrap_or(&[]);
            let outs = refs.get(p.start + p.inputs..p.start + p.inputs + p.outputs).unwrap_or(&[]);
            for (ids, vals, off) in [(ins, &mut in_vals, &mut in_off), (outs, &mut out_vals, &mut out_off)] {
                scratch.clear();
                for &id in ids {
                    scratch.push(graph.tables.slot_or_placeholder(h, id)?);
                }
                scratch.sort_unstable();
                scratch.dedup();
                vals.extend_from_slice(&scratch);
                off.push(u32::try_from(vals.len()).map_err(|_| GraphError::CapacityExceeded)?);
            }
        }
        drop(refs);
        drop(pending);

        graph.tasks.edges = PairArena::from_csr(&in_off, &in_vals, &out_off, &out_vals)?;
        let table_slots = graph.tables.ids.len();
        let (r_off, r_vals) = transpose(table_slots, &in_off, &in_vals);
        drop((in_off, in_vals));
        let (w_off, w_vals) = transpose(table_slots, &out_off, &out_vals);
        drop((out_off, out_vals));
        graph.tables.edges = PairArena::from_csr(&r_off, &r_vals, &w_off, &w_vals)?;

        // Return over-reserved capacity (hash tables keep theirs: they were
        // sized for the load, and shrinking would rehash every key).
        let t = &mut graph.tables;
        t.ids.shrink_to_fit();
        t.state.shrink_to_fit();
        t.profile.shrink_to_fit();
        t.names.shrink_to_fit();
        let k = &mut graph.tasks;
        k.ids.shrink_to_fit();
        k.owner.shrink_to_fit();
        k.names.shrink_to_fit();
        Ok(graph)
    }
}

/// Reverses a CSR relation (`source -> targets`) into CSR `target ->
/// sources` (counting sort, so each list comes out ascending).
fn transpose(targets: usize, offsets: &[u32], values: &[u32]) -> (Vec<u32>, Vec<u32>) {
    let mut t_off = vec![0u32; targets + 1];
    for &v in values {
        if let Some(c) = t_off.get_mut(v as usize + 1) {
            *c += 1;
        }
    }
    // Prefix sums turn counts (at v + 1) into start offsets.
    let mut running = 0u32;
    for c in &mut t_off {
        running += *c;
        *c = running;
    }
    let mut cursor: Vec<u32> = t_off.iter().take(targets).copied().collect();
    let mut t_vals = vec![0u32; values.len()];
    for (source, w) in offsets.windows(2).enumerate() {
        let &[from, to] = w else { continue };
        for &v in values.get(from as usize..to as usize).unwrap_or(&[]) {
            if let Some(c) = cursor.get_mut(v as usize) {
                if let Some(cell) = t_vals.get_mut(*c as usize) {
                    *cell = source as u32;
                }
                *c += 1;
            }
        }
    }
    (t_off, t_vals)
}

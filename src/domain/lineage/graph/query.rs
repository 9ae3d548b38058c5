//! Read-only queries over [`LineageGraph`].
//!
//! Every query allocates its own small scratch maps (sized by what it
//! visits, never by the graph), so queries take `&self`, can run
//! concurrently from many threads, and cost nothing for untouched parts of
//! a million-table graph.

use std::collections::BTreeSet;
use std::collections::hash_map::Entry;

use super::store::{NONE, PairArena, SlotMap, SlotSet};
use super::{
    Direction, GraphError, INPUTS, Layer, LineageGraph, NodeRef, OUTPUTS, READERS, STATE_PLACEHOLDER,
    TableId, TaskId, WRITERS, sorted_unique,
};

/// A table reached by a query, with its distance in table hops.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ReachedTable {
    /// External table id.
    pub id: TableId,
    /// Number of table-to-table hops from the start (see
    /// [`LineageGraph::traverse`]).
    pub distance: u32,
}

/// A task reached by a query, with its distance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ReachedTask {
    /// External task id.
    pub id: TaskId,
    /// Distance of the nearest returned table on the task's near side (the
    /// side the traversal enters it from); the tables it leads to are one
    /// further. A start task has distance 0.
    pub distance: u32,
}

/// A lineage edge: `task` reads `source` and writes `target`. Always in data
/// flow direction, whatever the traversal direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LineageEdge {
    /// Table read.
    pub source: TableId,
    /// Table written.
    pub target: TableId,
    /// Task carrying the data.
    pub task: TaskId,
}

/// Result of [`LineageGraph::traverse`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Traversal {
    /// Reached tables ordered by (distance, id); a start table comes first
    /// with distance 0.
    pub tables: Vec<ReachedTable>,
    /// Tasks walked through, ordered by (distance, id).
    pub tasks: Vec<ReachedTask>,
    /// Every lineage edge whose two tables are in `tables`, ordered by
    /// (source, target, task).
    pub edges: Vec<LineageEdge>,
    /// Whether `node_limit` cut off tables that are within `max_depth`.
    pub truncated: bool,
}

/// One distance level of an [`Impact`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImpactLevel {
    /// Distance from the start (>= 1).
    pub distance: u32,
    /// Tables at that distance, ascending by id.
    pub tables: Vec<TableId>,
}

/// Result of [`LineageGraph::impact`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Impact {
    /// Downstream tables grouped by distance (ascending); the start node is
    /// not included.
    pub levels: Vec<ImpactLevel>,
    /// Tasks reading the start table or any affected table (the start task
    /// excluded), ordered by (distance, id); the distance is that of the
    /// nearest table they read (0 for readers of the start table).
    pub tasks: Vec<ReachedTask>,
    /// Distinct owners of the affected tables and tasks, sorted.
    pub owners: Vec<String>,
    /// Whether the limit cut off tables or tasks.
    pub truncated: bool,
}

/// Result of [`LineageGraph::task_dependencies`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TaskDependencies {
    /// Tasks writing a table the task reads, ascending by id.
    pub upstream: Vec<TaskId>,
    /// Tasks reading a table the task writes, ascending by id.
    pub downstream: Vec<TaskId>,
    /// Whether the limit cut either list.
    pub truncated: bool,
}

/// A directed cycle found by [`LineageGraph::cycle_if_applied`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cycle {
    /// Table ids along the cycle, first == last (e.g. `[a, b, a]`; a
    /// self-loop is `[a, a]`).
    pub tables: Vec<TableId>,
    /// `tasks[i]` carries `tables[i] -> tables[i + 1]`; `tasks[0]` is always
    /// the task being applied.
    pub tasks: Vec<TaskId>,
}

/// Filter for [`LineageGraph::graph`]. Empty fields match everything;
/// placeholder tables (no metadata) match only the empty filter.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GraphFilter {
    /// Accepted layers (empty = any).
    pub layers: Vec<Layer>,
    /// Required database.
    pub database: Option<String>,
    /// Required table owner.
    pub owner: Option<String>,
}

impl GraphFilter {
    fn is_empty(&self) -> bool {
        self.layers.is_empty() && self.database.is_none() && self.owner.is_none()
    }
}

/// Result of [`LineageGraph::graph`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Subgraph {
    /// Tables passing the filter, ascending by id.
    pub tables: Vec<TableId>,
    /// Tasks carrying at least one returned edge, ascending by id.
    pub tasks: Vec<TaskId>,
    /// Edges whose two tables are in `tables`, ordered by (source, target,
    /// task).
    pub edges: Vec<LineageEdge>,
    /// Whether the limit cut off matching tables.
    pub truncated: bool,
}

/// One of the two lists of a [`PairArena`]: the step a traversal takes from
/// a table to tasks, or from a task to tables.
#[derive(Clone, Copy)]
struct Side<'g> {
    arena: &'g PairArena,
    first: bool,
}

impl<'g> Side<'g> {
    #[inline]
    fn get(self, slot: u32) -> &'g [u32] {
        self.arena.list(slot, self.first)
    }
}

/// Resolved start of a traversal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Start {
    Table(u32),
    Task(u32),
}

/// Breadth-first search state shared by `traverse` and `impact`.
struct Bfs {
    /// Reached table slots with distance, in (distance, id) order, a start
    /// table first.
    order: Vec<(u32, u32)>,
    /// Membership and distance of the reached tables.
    dist: SlotMap<u32>,
    /// Tasks expanded (scanned), with the distance they were entered at.
    tasks: SlotMap<u32>,
    truncated: bool,
}

impl LineageGraph {
    fn resolve(&self, start: NodeRef) -> Result<Start, GraphError> {
        match start {
            NodeRef::Table(id) => {
                self.tables.find(self.hasher, id).map(Start::Table).ok_or(GraphError::UnknownTable(id))
            }
            NodeRef::Task(id) => {
                self.tasks.find(self.hasher, id).map(Start::Task).ok_or(GraphError::UnknownTask(id))
            }
        }
    }

    /// (table -> tasks to enter, task -> tables to reach) for `direction`.
    fn sides(&self, direction: Direction) -> (Side<'_>, Side<'_>) {
        let (tables, tasks) = (&self.tables.edges, &self.tasks.edges);
        match direction {
            Direction::Down => {
                (Side { arena: tables, first: READERS }, Side { arena: tasks, first: OUTPUTS })
            }
            Direction::Up => (Side { arena: tables, first: WRITERS }, Side { arena: tasks, first: INPUTS }),
        }
    }

    /// Sorts table slots by external id (one id lookup per slot rather than
    /// one per comparison: the lookups are the cache misses).
    fn sort_tables_by_id(&self, slots: &mut Vec<u32>) {
        let mut keyed: Vec<(TableId, u32)> = slots.iter().map(|&s| (self.tables.id(s), s)).collect();
        keyed.sort_unstable();
        slots.clear();
        slots.extend(keyed.into_iter().map(|(_, s)| s));
    }

    /// Level-synchronous BFS. Each level is completed and sorted by id
    /// before the limit is applied, so the result is exactly the first
    /// `limit` tables in (distance, id) order whatever the internal list
    /// order. Each task is scanned once, when first entered (at its
    /// minimal distance), so a task with many inputs in the frontier costs
    /// one scan of its outputs.
    fn bfs(&self, start: Start, direction: Direction, max_depth: Option<u32>, limit: usize) -> Bfs {
        let (enter, leave) = self.sides(direction);
        let mut bfs =
            Bfs { order: Vec::new(), dist: SlotMap::default(), tasks: SlotMap::default(), truncated: false };
        let mut level: Vec<u32> = Vec::new();
        let mut start_task = None;
        match start {
            Start::Table(s) => {
                bfs.dist.insert(s, 0);
                bfs.order.push((s, 0));
                level.push(s);
            }
            Start::Task(t) => start_task = Some(t),
        }
        let mut reached = 0usize;
        let mut depth = 0u32;
        let mut next: Vec<u32> = Vec::new();
        while max_depth.is_none_or(|m| depth < m) {
            let next_depth = depth.saturating_add(1);
            next.clear();
            let entered = start_task
                .take()
                .into_iter()
                .chain(level.iter().flat_map(|&table| enter.get(table).iter().copied()));
            for task in entered {
                if bfs.tasks.contains_key(&task) {
                    continue;
                }
                bfs.tasks.insert(task, depth);
                for &table in leave.get(task) {
                    if let Entry::Vacant(e) = bfs.dist.entry(table) {
                        e.insert(next_depth);
                        next.push(table);
                    }
                }
            }
            if next.is_empty() {
                break;
            }
            self.sort_tables_by_id(&mut next);
            let room = limit.saturating_sub(reached);
            if next.len() > room {
                bfs.truncated = true;
                for s in next.drain(room..) {
                    bfs.dist.remove(&s);
                }
            }
            reached += next.len();
            bfs.order.extend(next.iter().map(|&s| (s, next_depth)));
            if bfs.truncated {
                break;
            }
            std::mem::swap(&mut level, &mut next);
            depth = next_depth;
        }
        bfs
    }

    /// Breadth-first lineage traversal from a table or a task.
    ///
    /// * Distances count table hops: the direct neighbours of a start table
    ///   (through one task) are at distance 1; from a start task, its
    ///   outputs (`Down`) or inputs (`Up`) are at distance 1.
    /// * `max_depth` bounds the distance of returned tables (`None` = no
    ///   bound; `Some(0)` returns just the start).
    /// * Each table appears once, at its minimal distance. `tables` is the
    ///   prefix, in (distance, id) order, of all tables within `max_depth`,
    ///   holding at most `node_limit` tables besides a start table.
    /// * `tasks`: the tasks the search walked through (those entered from a
    ///   table whose neighbours were explored) and the task of every edge
    ///   between returned tables; at most `node_limit` of them, again the
    ///   (distance, id) prefix, plus a start task (always first).
    /// * `edges` are the lineage edges between returned tables, including
    ///   ones the search did not walk (e.g. between two tables at the depth
    ///   limit), so the result is an induced subgraph; if the task list was
    ///   cut, edges of the cut tasks are left out.
    /// * `truncated` says whether either limit cut anything.
    ///
    /// Cost: proportional to the lists of the returned tables (plus one
    /// complete level when the limit cuts it), not to the graph size.
    pub fn traverse(
        &self,
        start: NodeRef,
        direction: Direction,
        max_depth: Option<u32>,
        node_limit: usize,
    ) -> Result<Traversal, GraphError> {
        let start = self.resolve(start)?;
        let bfs = self.bfs(start, direction, max_depth, node_limit);
        let mut task_dist = bfs.tasks;
        let mut truncated = bfs.truncated;

        // Induced edges, scanned from the writer side for either direction:
        // writer lists are short (usually one task per table), reader lists
        // of hub tables can be huge.
        let mut edges: Vec<(u32, u32, u32)> = Vec::new();
        for &(target, target_dist) in &bfs.order {
            for &task in self.tables.edges.list(target, WRITERS) {
                for &source in self.tasks.edges.list(task, INPUTS) {
                    if let Some(&source_dist) = bfs.dist.get(&source) {
                        edges.push((source, target, task));
                        let near = match direction {
                            Direction::Down => source_dist,
                            Direction::Up => target_dist,
                        };
                        task_dist.entry(task).and_modify(|d| *d = (*d).min(near)).or_insert(near);
                    }
                }
            }
        }

        // Tasks obey the limit too: a hub table read by 100k tasks must not
        // turn a 1000-node request into a 100k-task answer. The start task
        // is kept like a start table; edges of cut tasks are dropped.
        let start_task = match start {
            Start::Task(t) => {
                task_dist.remove(&t);
                Some(t)
            }
            Start::Table(_) => None,
        };
        let mut tasks: Vec<(u32, TaskId, u32)> =
            task_dist.into_iter().map(|(slot, distance)| (distance, self.tasks.id(slot), slot)).collect();
        tasks.sort_unstable();
        if tasks.len() > node_limit {
            truncated = true;
            tasks.truncate(node_limit);
            let kept: SlotSet = tasks.iter().map(|t| t.2).chain(start_task).collect();
            edges.retain(|e| kept.contains(&e.2));
        }
        let mut edges: Vec<LineageEdge> = edges
            .into_iter()
            .map(|(source, target, task)| LineageEdge {
                source: self.tables.id(source),
                target: self.tables.id(target),
                task: self.tasks.id(task),
            })
            .collect();
        edges.sort_unstable();
        let tasks = start_task
            .map(|t| ReachedTask { id: self.tasks.id(t), distance: 0 })
            .into_iter()
            .chain(tasks.into_iter().map(|(distance, id, _)| ReachedTask { id, distance }))
            .collect();
        let tables = bfs
            .order
            .iter()
            .map(|&(slot, distance)| ReachedTable { id: self.tables.id(slot), distance })
            .collect();
        Ok(Traversal { tables, tasks, edges, truncated })
    }

    /// Everything downstream of a table or a task: affected tables grouped
    /// by distance, affected tasks (every task reading the start table or an
    /// affected table), and the owners of affected tables and tasks.
    ///
    /// At most `limit` tables and at most `limit` tasks are returned, each
    /// as the prefix in (distance, id) order; `truncated` reports a cut.
    pub fn impact(&self, start: NodeRef, limit: usize) -> Result<Impact, GraphError> {
        let start = self.resolve(start)?;
        let bfs = self.bfs(start, Direction::Down, None, limit);
        let start_task = match start {
            Start::Task(t) => Some(t),
            Start::Table(_) => None,
        };

        let mut levels: Vec<ImpactLevel> = Vec::new();
        let mut owners: BTreeSet<&str> = BTreeSet::new();
        let mut task_dist: SlotMap<u32> = SlotMap::default();
        for &(slot, distance) in &bfs.order {
            for &task in self.tables.edges.list(slot, READERS) {
                if Some(task) != start_task {
                    task_dist.entry(task).and_modify(|d| *d = (*d).min(distance)).or_insert(distance);
                }
            }
            if distance == 0 {
                continue; // the start table is the cause, not affected
            }
            if let Some(view) = self.table_view(slot) {
                owners.insert(view.owner);
            }
            match levels.last_mut() {
                Some(level) if level.distance == distance => {
                    level.tables.push(self.tables.id(slot));
                }
                _ => levels.push(ImpactLevel { distance, tables: vec![self.tables.id(slot)] }),
            }
        }

        let mut tasks: Vec<(u32, TaskId, u32)> =
            task_dist.into_iter().map(|(slot, d)| (d, self.tasks.id(slot), slot)).collect();
        tasks.sort_unstable();
        let mut truncated = bfs.truncated;
        if tasks.len() > limit {
            tasks.truncate(limit);
            truncated = true;
        }
        for &(_, _, slot) in &tasks {
            if let Some(&owner) = self.tasks.owner.get(slot as usize) {
                owners.insert(self.strings.get(owner));
            }
        }
        Ok(Impact {
            levels,
            tasks: tasks.into_iter().map(|(distance, id, _)| ReachedTask { id, distance }).collect(),
            owners: owners.into_iter().map(str::to_owned).collect(),
            truncated,
        })
    }

    /// Tasks this task depends on (they write a table it reads) and tasks
    /// depending on it (they read a table it writes), itself excluded. Each
    /// list holds at most `limit` ids, the smallest ones.
    pub fn task_dependencies(&self, task: TaskId, limit: usize) -> Result<TaskDependencies, GraphError> {
        let slot = self.tasks.find(self.hasher, task).ok_or(GraphError::UnknownTask(task))?;
        let collect = |tables: &[u32], tasks_of: bool| {
            let mut ids: Vec<TaskId> = tables
                .iter()
                .flat_map(|&t| self.tables.edges.list(t, tasks_of).iter().copied())
                .filter(|&t| t != slot)
                .map(|t| self.tasks.id(t))
                .collect();
            ids.sort_unstable();
            ids.dedup();
            let cut = ids.len() > limit;
            ids.truncate(limit);
            (ids, cut)
        };
        let (upstream, cut_up) = collect(self.tasks.edges.list(slot, INPUTS), WRITERS);
        let (downstream, cut_down) = collect(self.tasks.edges.list(slot, OUTPUTS), READERS);
        Ok(TaskDependencies { upstream, downstream, truncated: cut_up || cut_down })
    }

    /// Whether giving task `task` exactly these `inputs` and `outputs`
    /// (replacing its current ones, or adding it if unknown) would put it on
    /// a directed cycle of the table graph, including a self-loop (a table
    /// both read and written). Cycles elsewhere in the graph, not through
    /// the new edges, are not reported: they exist already.
    ///
    /// Returns a shortest such cycle, chosen deterministically: `[i, o, ...,
    /// i]` where `task` carries `i -> o`.
    ///
    /// Existence is decided by a bidirectional search (downstream from the
    /// outputs, upstream from the inputs, ignoring the task's current
    /// edges) that always grows the cheaper side, so the usual "no cycle"
    /// answer costs about twice the smaller of the two cones, e.g. a few
    /// tables for a task loading from ODS. Unknown table ids have no edges
    /// and can only form a self-loop.
    pub fn cycle_if_applied(&self, task: TaskId, inputs: &[TableId], outputs: &[TableId]) -> Option<Cycle> {
        let inputs = sorted_unique(inputs);
        let outputs = sorted_unique(outputs);
        if let Some(&a) = inputs.iter().find(|id| outputs.binary_search(id).is_ok()) {
            return Some(Cycle { tables: vec![a, a], tasks: vec![task] });
        }
        let skip = self.tasks.find(self.hasher, task).unwrap_or(NONE);
        let find = |ids: &[TableId]| -> Vec<u32> {
            ids.iter().filter_map(|&id| self.tables.find(self.hasher, id)).collect()
        };
        let (ins, outs) = (find(&inputs), find(&outputs));
        if ins.is_empty() || outs.is_empty() || !self.path_exists(&outs, &ins, skip) {
            return None;
        }
        self.shortest_cycle(task, &outs, &ins, skip)
    }

    /// Whether some table of `from` reaches some table of `to` without
    /// passing through task slot `skip`.
    fn path_exists(&self, from: &[u32], to: &[u32], skip: u32) -> bool {
        struct Frontier<'a> {
            frontier: Vec<u32>,
            seen: SlotSet,
            tasks: SlotSet,
            enter: Side<'a>,
            leave: Side<'a>,
        }
        impl Frontier<'_> {
            /// Work the next expansion would do (frontier list lengths).
            fn cost(&self) -> usize {
                self.frontier.iter().map(|&t| self.enter.get(t).len()).sum::<usize>() + self.frontier.len()
            }
            /// Expands one level; true when it touches `other`.
            fn expand(&mut self, other: &SlotSet, skip: u32) -> bool {
                let mut next = Vec::new();
                for &table in &self.frontier {
                    for &task in self.enter.get(table) {
                        if task == skip || !self.tasks.insert(task) {
                            continue;
                        }
                        for &t in self.leave.get(task) {
                            if other.contains(&t) {
                                return true;
                            }
                            if self.seen.insert(t) {
                                next.push(t);
                            }
                        }
                    }
                }
                self.frontier = next;
                false
            }
        }
        let side = |start: &[u32], (enter, leave)| Frontier {
            frontier: start.to_vec(),
            seen: start.iter().copied().collect(),
            tasks: SlotSet::default(),
            enter,
            leave,
        };
        let mut fwd = side(from, self.sides(Direction::Down));
        let mut bwd = side(to, self.sides(Direction::Up));
        if from.iter().any(|t| bwd.seen.contains(t)) {
            return true;
        }
        while !fwd.frontier.is_empty() && !bwd.frontier.is_empty() {
            let found = if fwd.cost() <= bwd.cost() {
                fwd.expand(&bwd.seen, skip)
            } else {
                bwd.expand(&fwd.seen, skip)
            };
            if found {
                return true;
            }
        }
        false
    }

    /// Canonical shortest path from `outs` to `ins` (avoiding task `skip`)
    /// closed into a cycle by `task`. Levels are expanded in id order and a
    /// table's parent is the first (smallest-id) table of the previous level
    /// reaching it, through the smallest-id task, so the answer does not
    /// depend on internal list order. Only run once a cycle is known to
    /// exist.
    fn shortest_cycle(&self, task: TaskId, outs: &[u32], ins: &[u32], skip: u32) -> Option<Cycle> {
        let is_input: SlotSet = ins.iter().copied().collect();
        // table -> (parent table, task from parent); roots have NONE.
        let mut parent: SlotMap<(u32, u32)> = SlotMap::default();
        let mut level = outs.to_vec();
        self.sort_tables_by_id(&mut level);
        for &o in &level {
            parent.insert(o, (NONE, NONE));
        }
        loop {
            if let Some(&hit) = level.iter().find(|&s| is_input.contains(s)) {
                return Some(self.unwind_cycle(task, hit, &parent));
            }
            if level.is_empty() {
                return None;
            }
            let mut next = Vec::new();
            for &u in &level {
                for &t in self.tables.edges.list(u, READERS) {
                    if t == skip {
                        continue;
                    }
                    for &v in self.tasks.edges.list(t, OUTPUTS) {
                        match parent.entry(v) {
                            Entry::Vacant(e) => {
                                e.insert((u, t));
                                next.push(v);
                            }
                            Entry::Occupied(mut e) => {
                                let (p, pt) = *e.get();
                                if p == u && self.tasks.id(t) < self.tasks.id(pt) {
                                    e.insert((u, t));
                                }
                            }
                        }
                    }
                }
            }
            self.sort_tables_by_id(&mut next);
            level = next;
        }
    }

    fn unwind_cycle(&self, task: TaskId, hit: u32, parent: &SlotMap<(u32, u32)>) -> Cycle {
        // Walk parents back from the input `hit` to an output root.
        let mut chain = vec![hit];
        let mut via = Vec::new();
        let mut at = hit;
        // Bounded by the map size so a broken parent chain cannot loop.
        for _ in 0..parent.len() {
            match parent.get(&at) {
                Some(&(p, t)) if p != NONE => {
                    chain.push(p);
                    via.push(t);
                    at = p;
                }
                _ => break,
            }
        }
        chain.reverse();
        via.reverse();
        // hit -task-> root -> ... -> hit
        let mut tables = vec![self.tables.id(hit)];
        tables.extend(chain.into_iter().map(|s| self.tables.id(s)));
        let mut tasks = vec![task];
        tasks.extend(via.into_iter().map(|t| self.tasks.id(t)));
        Cycle { tables, tasks }
    }

    /// All tables passing `filter` (at most `limit`, the smallest ids), the
    /// edges between them and the tasks carrying those edges.
    ///
    /// Cost: a scan of all table slots, so milliseconds at a million tables;
    /// meant for overview pages, not per-click navigation.
    pub fn graph(&self, filter: &GraphFilter, limit: usize) -> Subgraph {
        // Resolve strings once; a never-interned value matches nothing.
        let database = match &filter.database {
            Some(d) => match self.strings.lookup(d) {
                Some(id) => Some(id),
                None => return Subgraph::default(),
            },
            None => None,
        };
        let owner = match &filter.owner {
            Some(o) => match self.strings.lookup(o) {
                Some(id) => Some(id),
                None => return Subgraph::default(),
            },
            None => None,
        };
        let mut layer_mask = 0u8;
        for layer in &filter.layers {
            layer_mask |= 1 << layer.code();
        }
        let open = filter.is_empty();
        // Decide once per (database, owner) profile rather than per table.
        let profile_ok: Vec<bool> = (0..self.profiles.len() as u32)
            .map(|p| {
                let (d, o) = self.profiles.get(p);
                database.is_none_or(|want| want == d) && owner.is_none_or(|want| want == o)
            })
            .collect();

        let mut matching: Vec<(TableId, u32)> = Vec::new();
        for slot in 0..self.tables.ids.len() as u32 {
            let state = self.tables.state(slot);
            let keep = match Layer::from_code(state) {
                Some(layer) => {
                    let profile = self.tables.profile.get(slot as usize).copied();
                    (layer_mask == 0 || layer_mask & (1 << layer.code()) != 0)
                        && profile.is_some_and(|p| profile_ok.get(p as usize) == Some(&true))
                }
                None => open && state == STATE_PLACEHOLDER,
            };
            if keep {
                matching.push((self.tables.id(slot), slot));
            }
        }
        matching.sort_unstable();
        let truncated = matching.len() > limit;
        matching.truncate(limit);

        let mut member = vec![false; self.tables.ids.len()];
        for &(_, slot) in &matching {
            if let Some(m) = member.get_mut(slot as usize) {
                *m = true;
            }
        }
        let mut edges = Vec::new();
        let mut tasks = Vec::new();
        for &(target, slot) in &matching {
            for &task in self.tables.edges.list(slot, WRITERS) {
                for &source in self.tasks.edges.list(task, INPUTS) {
                    if member.get(source as usize) == Some(&true) {
                        edges.push(LineageEdge {
                            source: self.tables.id(source),
                            target,
                            task: self.tasks.id(task),
                        });
                        tasks.push(self.tasks.id(task));
                    }
                }
            }
        }
        edges.sort_unstable();
        tasks.sort_unstable();
        tasks.dedup();
        Subgraph { tables: matching.into_iter().map(|(id, _)| id).collect(), tasks, edges, truncated }
    }
}

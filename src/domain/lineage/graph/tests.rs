//! Tests: a brute-force reference model (Floyd–Warshall on small graphs)
//! compared with the index by property tests, plus unit tests for
//! incremental updates and edge cases.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;

use super::*;

// ---------------------------------------------------------------------------
// Reference model
// ---------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq, Eq)]
struct RefTable {
    name: String,
    database: String,
    layer: Layer,
    owner: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct RefTask {
    name: String,
    owner: String,
    inputs: BTreeSet<i64>,
    outputs: BTreeSet<i64>,
}

/// The warehouse as plain maps: the "source of truth" the index must agree
/// with.
#[derive(Clone, Debug, Default)]
struct Model {
    tables: BTreeMap<i64, RefTable>,
    tasks: BTreeMap<i64, RefTask>,
}

#[derive(Clone, Debug)]
enum Op {
    UpsertTable(i64, RefTable),
    RemoveTable(i64),
    UpsertTask(i64, RefTask),
    RemoveTask(i64),
}

fn table_input(id: i64, t: &RefTable) -> TableInput<'_> {
    TableInput { id, name: &t.name, database: &t.database, layer: t.layer, owner: &t.owner }
}

fn apply(g: &mut LineageGraph, m: &mut Model, op: &Op) {
    match op {
        Op::UpsertTable(id, t) => {
            g.upsert_table(table_input(*id, t)).unwrap();
            m.tables.insert(*id, t.clone());
        }
        Op::RemoveTable(id) => {
            assert_eq!(g.remove_table(*id), m.tables.remove(id).is_some());
        }
        Op::UpsertTask(id, t) => {
            let inputs: Vec<i64> = t.inputs.iter().copied().collect();
            let outputs: Vec<i64> = t.outputs.iter().copied().collect();
            g.upsert_task(TaskInput {
                id: *id,
                name: &t.name,
                owner: &t.owner,
                inputs: &inputs,
                outputs: &outputs,
            })
            .unwrap();
            m.tasks.insert(*id, t.clone());
        }
        Op::RemoveTask(id) => {
            assert_eq!(g.remove_task(*id), m.tasks.remove(id).is_some());
        }
    }
}

impl Model {
    /// Defined tables and every referenced id.
    fn nodes(&self) -> Vec<i64> {
        let mut set: BTreeSet<i64> = self.tables.keys().copied().collect();
        for t in self.tasks.values() {
            set.extend(t.inputs.iter().chain(&t.outputs));
        }
        set.into_iter().collect()
    }

    /// Bulk build (tasks added before tables, with duplicates in the edge
    /// lists, to exercise deferred resolution and dedup).
    fn bulk(&self) -> LineageGraph {
        let mut b = GraphBuilder::with_capacity(self.tables.len(), self.tasks.len());
        // Stale versions of some records first: the builder must let the
        // later ones win (and not resolve the stale edges).
        for (&id, t) in self.tables.iter().step_by(2) {
            let stale = RefTable { name: "stale".into(), layer: Layer::Ads, ..t.clone() };
            b.add_table(table_input(id, &stale)).unwrap();
        }
        for &id in self.tasks.keys().step_by(2) {
            b.add_task(TaskInput {
                id,
                name: "stale",
                owner: "stale",
                inputs: &[1000, 1001],
                outputs: &[1002],
            })
            .unwrap();
        }
        for (&id, t) in &self.tasks {
            let mut inputs: Vec<i64> = t.inputs.iter().copied().collect();
            inputs.extend(t.inputs.iter().take(1));
            let outputs: Vec<i64> = t.outputs.iter().rev().copied().collect();
            b.add_task(TaskInput { id, name: &t.name, owner: &t.owner, inputs: &inputs, outputs: &outputs })
                .unwrap();
        }
        for (&id, t) in &self.tables {
            b.add_table(table_input(id, t)).unwrap();
        }
        let g = b.build().unwrap();
        g.check_invariants().unwrap();
        g
    }

    fn near<'t>(&self, task: &'t RefTask, dir: Direction) -> &'t BTreeSet<i64> {
        match dir {
            Direction::Down => &task.inputs,
            Direction::Up => &task.outputs,
        }
    }

    fn far<'t>(&self, task: &'t RefTask, dir: Direction) -> &'t BTreeSet<i64> {
        match dir {
            Direction::Down => &task.outputs,
            Direction::Up => &task.inputs,
        }
    }
}

/// All-pairs shortest table-hop distances (Floyd–Warshall), optionally
/// ignoring one task.
struct Reference<'m> {
    m: &'m Model,
    pos: BTreeMap<i64, usize>,
    nodes: Vec<i64>,
    d: Vec<Vec<Option<u32>>>,
}

impl<'m> Reference<'m> {
    fn new(m: &'m Model, skip_task: Option<i64>) -> Self {
        let nodes = m.nodes();
        let pos: BTreeMap<i64, usize> = nodes.iter().enumerate().map(|(i, &n)| (n, i)).collect();
        let n = nodes.len();
        let mut d = vec![vec![None; n]; n];
        for (i, row) in d.iter_mut().enumerate() {
            row[i] = Some(0);
        }
        for (&tid, t) in &m.tasks {
            if Some(tid) == skip_task {
                continue;
            }
            for a in &t.inputs {
                for b in &t.outputs {
                    let (i, j) = (pos[a], pos[b]);
                    if i != j {
                        d[i][j] = Some(1);
                    }
                }
            }
        }
        // Floyd–Warshall: d[i][j] = min(d[i][j], d[i][k] + d[k][j]).
        for k in 0..n {
            let row_k = d[k].clone();
            for row in d.iter_mut() {
                let Some(ik) = row[k] else { continue };
                for (cell, kj) in row.iter_mut().zip(&row_k) {
                    if let Some(kj) = kj
                        && cell.is_none_or(|x| ik + kj < x)
                    {
                        *cell = Some(ik + kj);
                    }
                }
            }
        }
        Reference { m, pos, nodes, d }
    }

    fn dist(&self, a: i64, b: i64) -> Option<u32> {
        self.d[*self.pos.get(&a)?][*self.pos.get(&b)?]
    }

    /// Directed distance in traversal direction.
    fn hop(&self, dir: Direction, from: i64, to: i64) -> Option<u32> {
        match dir {
            Direction::Down => self.dist(from, to),
            Direction::Up => self.dist(to, from),
        }
    }

    /// Distance of every reachable table from `start`.
    fn distances(&self, start: NodeRef, dir: Direction) -> BTreeMap<i64, u32> {
        let mut out = BTreeMap::new();
        for &v in &self.nodes {
            let d = match start {
                NodeRef::Table(s) => self.hop(dir, s, v),
                NodeRef::Task(t) => self
                    .m
                    .far(&self.m.tasks[&t], dir)
                    .iter()
                    .filter_map(|&f| self.hop(dir, f, v))
                    .min()
                    .map(|x| x + 1),
            };
            if let Some(d) = d {
                out.insert(v, d);
            }
        }
        out
    }

    /// The traversal, written straight from its documented definition.
    fn traverse(&self, start: NodeRef, dir: Direction, max_depth: Option<u32>, limit: usize) -> Traversal {
        let m = self.m;
        let start_table = match start {
            NodeRef::Table(s) => Some(s),
            NodeRef::Task(_) => None,
        };
        let mut candidates: Vec<(u32, i64)> = self
            .distances(start, dir)
            .into_iter()
            .filter(|&(v, d)| Some(v) != start_table && max_depth.is_none_or(|md| d <= md))
            .map(|(v, d)| (d, v))
            .collect();
        candidates.sort();
        let truncated = candidates.len() > limit;
        // Tables below this distance had their neighbours explored.
        let explored_below = if truncated { Some(candidates[limit].0) } else { max_depth };
        candidates.truncate(limit);
        let mut reached: BTreeMap<i64, u32> = candidates.iter().map(|&(d, v)| (v, d)).collect();
        if let Some(s) = start_table {
            reached.insert(s, 0);
        }

        let mut edges = Vec::new();
        let mut tasks = Vec::new();
        for (&tid, t) in &m.tasks {
            let mut on_edge = false;
            for a in &t.inputs {
                for b in &t.outputs {
                    if reached.contains_key(a) && reached.contains_key(b) {
                        edges.push(LineageEdge { source: *a, target: *b, task: tid });
                        on_edge = true;
                    }
                }
            }
            let near: Vec<u32> = m.near(t, dir).iter().filter_map(|v| reached.get(v).copied()).collect();
            let entered = near.iter().any(|&d| explored_below.is_none_or(|below| d < below));
            if start == NodeRef::Task(tid) {
                tasks.push(ReachedTask { id: tid, distance: 0 });
            } else if entered || on_edge {
                tasks.push(ReachedTask { id: tid, distance: near.into_iter().min().unwrap() });
            }
        }
        // The start task first, then at most `limit` others.
        tasks.sort_by_key(|t| (start != NodeRef::Task(t.id), t.distance, t.id));
        let skip = usize::from(matches!(start, NodeRef::Task(_)));
        let mut truncated = truncated;
        if tasks.len() > skip + limit {
            truncated = true;
            tasks.truncate(skip + limit);
            edges.retain(|e| tasks.iter().any(|t| t.id == e.task));
        }
        edges.sort();
        let mut tables: Vec<ReachedTable> =
            candidates.into_iter().map(|(distance, id)| ReachedTable { id, distance }).collect();
        if let Some(s) = start_table {
            tables.insert(0, ReachedTable { id: s, distance: 0 });
        }
        Traversal { tables, tasks, edges, truncated }
    }

    fn impact(&self, start: NodeRef, limit: usize) -> Impact {
        let m = self.m;
        let (start_table, start_task) = match start {
            NodeRef::Table(s) => (Some(s), None),
            NodeRef::Task(t) => (None, Some(t)),
        };
        let mut affected: Vec<(u32, i64)> = self
            .distances(start, Direction::Down)
            .into_iter()
            .filter(|&(v, _)| Some(v) != start_table)
            .map(|(v, d)| (d, v))
            .collect();
        affected.sort();
        let mut truncated = affected.len() > limit;
        affected.truncate(limit);
        let mut levels: Vec<ImpactLevel> = Vec::new();
        for &(d, v) in &affected {
            match levels.last_mut() {
                Some(l) if l.distance == d => l.tables.push(v),
                _ => levels.push(ImpactLevel { distance: d, tables: vec![v] }),
            }
        }
        let mut dist: BTreeMap<i64, u32> = affected.iter().map(|&(d, v)| (v, d)).collect();
        if let Some(s) = start_table {
            dist.insert(s, 0);
        }
        let mut tasks: Vec<ReachedTask> = m
            .tasks
            .iter()
            .filter(|&(&id, _)| Some(id) != start_task)
            .filter_map(|(&id, t)| {
                let d = t.inputs.iter().filter_map(|v| dist.get(v)).min()?;
                Some(ReachedTask { id, distance: *d })
            })
            .collect();
        tasks.sort_by_key(|t| (t.distance, t.id));
        if tasks.len() > limit {
            truncated = true;
            tasks.truncate(limit);
        }
        let mut owners: BTreeSet<String> = BTreeSet::new();
        for &(_, v) in &affected {
            if let Some(t) = m.tables.get(&v) {
                owners.insert(t.owner.clone());
            }
        }
        for t in &tasks {
            owners.insert(m.tasks[&t.id].owner.clone());
        }
        Impact { levels, tasks, owners: owners.into_iter().collect(), truncated }
    }

    fn task_dependencies(&self, task: i64, limit: usize) -> TaskDependencies {
        let me = &self.m.tasks[&task];
        let pick = |f: &dyn Fn(&RefTask) -> bool| -> (Vec<i64>, bool) {
            let mut v: Vec<i64> =
                self.m.tasks.iter().filter(|&(&id, t)| id != task && f(t)).map(|(&id, _)| id).collect();
            let cut = v.len() > limit;
            v.truncate(limit);
            (v, cut)
        };
        let (upstream, a) = pick(&|t| !t.outputs.is_disjoint(&me.inputs));
        let (downstream, b) = pick(&|t| !t.inputs.is_disjoint(&me.outputs));
        TaskDependencies { upstream, downstream, truncated: a || b }
    }

    fn graph(&self, filter: &GraphFilter, limit: usize) -> Subgraph {
        let m = self.m;
        let open = filter.layers.is_empty() && filter.database.is_none() && filter.owner.is_none();
        let mut tables: Vec<i64> = self
            .nodes
            .iter()
            .copied()
            .filter(|id| match m.tables.get(id) {
                None => open,
                Some(t) => {
                    (filter.layers.is_empty() || filter.layers.contains(&t.layer))
                        && filter.database.as_ref().is_none_or(|d| *d == t.database)
                        && filter.owner.as_ref().is_none_or(|o| *o == t.owner)
                }
            })
            .collect();
        let truncated = tables.len() > limit;
        tables.truncate(limit);
        let set: BTreeSet<i64> = tables.iter().copied().collect();
        let mut edges = Vec::new();
        let mut tasks = BTreeSet::new();
        for (&tid, t) in &m.tasks {
            for a in t.inputs.intersection(&set) {
                for b in t.outputs.intersection(&set) {
                    edges.push(LineageEdge { source: *a, target: *b, task: tid });
                    tasks.insert(tid);
                }
            }
        }
        edges.sort();
        Subgraph { tables, tasks: tasks.into_iter().collect(), edges, truncated }
    }
}

/// Checks `found` against the brute force for applying (task, ins, outs).
fn check_cycle(m: &Model, task: i64, ins: &[i64], outs: &[i64], found: Option<&Cycle>) {
    let ins: BTreeSet<i64> = ins.iter().copied().collect();
    let outs: BTreeSet<i64> = outs.iter().copied().collect();
    if let Some(&a) = ins.intersection(&outs).next() {
        assert_eq!(found, Some(&Cycle { tables: vec![a, a], tasks: vec![task] }));
        return;
    }
    let r = Reference::new(m, Some(task));
    let best = outs.iter().flat_map(|&o| ins.iter().filter_map(|&i| r.dist(o, i)).collect::<Vec<_>>()).min();
    let Some(best) = best else {
        assert_eq!(found, None, "no cycle expected for {task} {ins:?} {outs:?}");
        return;
    };
    let c = found.unwrap_or_else(|| panic!("cycle expected for {task} {ins:?} {outs:?}"));
    assert_eq!(c.tables.len(), best as usize + 2, "not shortest: {c:?}");
    assert_eq!(c.tasks.len() + 1, c.tables.len());
    assert_eq!(c.tables.first(), c.tables.last());
    assert_eq!(c.tasks[0], task);
    assert!(ins.contains(&c.tables[0]) && outs.contains(&c.tables[1]));
    for k in 1..c.tasks.len() {
        let t = &m.tasks[&c.tasks[k]];
        assert_ne!(c.tasks[k], task);
        assert!(t.inputs.contains(&c.tables[k]) && t.outputs.contains(&c.tables[k + 1]));
    }
    assert_eq!(c, &canonical_cycle(m, task, &ins, &outs), "not the canonical cycle");
}

/// The documented tie-breaks, spelled out: BFS from the outputs level by
/// level in id order; a table's parent is the smallest-id table of the
/// previous level reaching it, via the smallest-id task; the first input
/// reached (smallest id in its level) closes the cycle.
fn canonical_cycle(m: &Model, task: i64, ins: &BTreeSet<i64>, outs: &BTreeSet<i64>) -> Cycle {
    let nodes: BTreeSet<i64> = m.nodes().into_iter().collect();
    let mut parent: BTreeMap<i64, Option<(i64, i64)>> = BTreeMap::new();
    let mut level: Vec<i64> = outs.intersection(&nodes).copied().collect();
    for &o in &level {
        parent.insert(o, None);
    }
    loop {
        if let Some(&hit) = level.iter().find(|v| ins.contains(v)) {
            let mut chain = vec![hit];
            let mut via = vec![];
            while let Some(Some((p, t))) = parent.get(chain.last().unwrap()) {
                via.push(*t);
                chain.push(*p);
            }
            chain.reverse();
            via.reverse();
            let mut tables = vec![hit];
            tables.extend(chain);
            let mut tasks = vec![task];
            tasks.extend(via);
            return Cycle { tables, tasks };
        }
        assert!(!level.is_empty(), "cycle expected");
        let mut next = BTreeSet::new();
        for &u in &level {
            for (&tid, t) in &m.tasks {
                if tid == task || !t.inputs.contains(&u) {
                    continue;
                }
                for &v in &t.outputs {
                    if let std::collections::btree_map::Entry::Vacant(e) = parent.entry(v) {
                        e.insert(Some((u, tid)));
                        next.insert(v);
                    }
                }
            }
        }
        level = next.into_iter().collect();
    }
}

/// Compares every query of `g` with the reference for `m`.
fn check_against_model(g: &LineageGraph, m: &Model) {
    g.check_invariants().unwrap();
    let r = Reference::new(m, None);
    let nodes = m.nodes();
    assert_eq!(g.table_count(), m.tables.len());
    assert_eq!(g.placeholder_count(), nodes.len() - m.tables.len());
    assert_eq!(g.task_count(), m.tasks.len());

    // Metadata and lookups.
    for &id in &nodes {
        assert!(g.contains_table(id));
        let view = g.table(id);
        match m.tables.get(&id) {
            Some(t) => {
                let v = view.unwrap();
                assert_eq!(
                    (v.name, v.database, v.layer, v.owner),
                    (&*t.name, &*t.database, t.layer, &*t.owner)
                );
                assert!(!g.is_placeholder(id));
            }
            None => {
                assert!(view.is_none());
                assert!(g.is_placeholder(id));
            }
        }
    }
    for name in ["a", "b", "c", "d", "zz", "stale"] {
        let want: Vec<i64> = m.tables.iter().filter(|(_, t)| t.name == name).map(|(&id, _)| id).collect();
        assert_eq!(g.tables_named(name), want);
        for db in ["x", "y", "nope"] {
            let want = m.tables.iter().find(|(_, t)| t.name == name && t.database == db).map(|(&id, _)| id);
            assert_eq!(g.find_table(db, name), want);
        }
    }
    for name in ["t1", "t2", "t3", "zz", "stale"] {
        let want: Vec<i64> = m.tasks.iter().filter(|(_, t)| t.name == name).map(|(&id, _)| id).collect();
        assert_eq!(g.tasks_named(name), want);
    }
    for (&id, t) in &m.tasks {
        let v = g.task(id).unwrap();
        assert_eq!((v.name, v.owner), (&*t.name, &*t.owner));
        assert_eq!(v.inputs, t.inputs.iter().copied().collect::<Vec<_>>());
        assert_eq!(v.outputs, t.outputs.iter().copied().collect::<Vec<_>>());
    }

    // Traversals from every node, both directions, various depths/limits.
    let starts: Vec<NodeRef> =
        nodes.iter().map(|&t| NodeRef::Table(t)).chain(m.tasks.keys().map(|&t| NodeRef::Task(t))).collect();
    for &start in &starts {
        for dir in [Direction::Down, Direction::Up] {
            for depth in [Some(0), Some(1), Some(2), Some(3), None] {
                for limit in [0, 1, 2, 4, 100] {
                    let got = g.traverse(start, dir, depth, limit).unwrap();
                    let want = r.traverse(start, dir, depth, limit);
                    assert_eq!(got, want, "{start:?} {dir:?} {depth:?} {limit}");
                }
            }
        }
        for limit in [0, 1, 3, 100] {
            assert_eq!(g.impact(start, limit).unwrap(), r.impact(start, limit), "impact {start:?} {limit}");
        }
    }
    for &id in m.tasks.keys() {
        for limit in [0, 1, 100] {
            assert_eq!(g.task_dependencies(id, limit).unwrap(), r.task_dependencies(id, limit));
        }
        // Re-applying a task's own edges: is it on a cycle?
        let t = &m.tasks[&id];
        let ins: Vec<i64> = t.inputs.iter().copied().collect();
        let outs: Vec<i64> = t.outputs.iter().copied().collect();
        check_cycle(m, id, &ins, &outs, g.cycle_if_applied(id, &ins, &outs).as_ref());
    }

    // Filtered graphs.
    let filters = [
        GraphFilter::default(),
        GraphFilter { layers: vec![Layer::Dwd, Layer::Dim], ..GraphFilter::default() },
        GraphFilter { database: Some("x".into()), ..GraphFilter::default() },
        GraphFilter {
            owner: Some("o2".into()),
            layers: vec![Layer::Ods, Layer::Ads, Layer::Dws],
            ..GraphFilter::default()
        },
        GraphFilter { database: Some("nope".into()), ..GraphFilter::default() },
    ];
    for f in &filters {
        for limit in [0, 3, 100] {
            assert_eq!(g.graph(f, limit), r.graph(f, limit), "{f:?} {limit}");
        }
    }
}

// ---------------------------------------------------------------------------
// Strategies
// ---------------------------------------------------------------------------

/// Table ids 0..12 can be defined; tasks also reference 12..15, which then
/// stay placeholders.
fn ref_table() -> impl Strategy<Value = RefTable> {
    (
        prop::sample::select(vec!["a", "b", "c", "d"]),
        prop::sample::select(vec!["x", "y"]),
        prop::sample::select(Layer::ALL.to_vec()),
        prop::sample::select(vec!["o1", "o2", "o3"]),
    )
        .prop_map(|(name, database, layer, owner)| RefTable {
            name: name.into(),
            database: database.into(),
            layer,
            owner: owner.into(),
        })
}

fn ref_task() -> impl Strategy<Value = RefTask> {
    (
        prop::sample::select(vec!["t1", "t2", "t3"]),
        prop::sample::select(vec!["o1", "o2", "o4"]),
        prop::collection::btree_set(0i64..15, 0..4),
        prop::collection::btree_set(0i64..15, 0..3),
    )
        .prop_map(|(name, owner, inputs, outputs)| RefTask {
            name: name.into(),
            owner: owner.into(),
            inputs,
            outputs,
        })
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0i64..12, ref_table()).prop_map(|(id, t)| Op::UpsertTable(id, t)),
        1 => (0i64..15).prop_map(Op::RemoveTable),
        4 => (0i64..9, ref_task()).prop_map(|(id, t)| Op::UpsertTask(id, t)),
        1 => (0i64..9).prop_map(Op::RemoveTask),
    ]
}

/// Candidate task changes for cycle checks (ids past 8 are new tasks; table
/// ids up to 16 include unknown ones).
fn change() -> impl Strategy<Value = (i64, Vec<i64>, Vec<i64>)> {
    (0i64..11, prop::collection::vec(0i64..17, 0..4), prop::collection::vec(0i64..17, 0..3))
}

/// 160 cases by default (a few seconds in debug); `PROPTEST_CASES=N` to
/// run more.
fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(160);
    ProptestConfig { cases, ..ProptestConfig::default() }
}

proptest! {
    #![proptest_config(config())]

    /// Incremental updates and a bulk build of the final state both agree
    /// with the brute-force reference on every query.
    #[test]
    fn incremental_and_bulk_match_reference(
        ops in prop::collection::vec(op(), 0..70),
        changes in prop::collection::vec(change(), 0..12),
    ) {
        let mut g = LineageGraph::new();
        let mut m = Model::default();
        for op in &ops {
            apply(&mut g, &mut m, op);
            g.check_invariants().unwrap();
        }
        let bulk = m.bulk();
        check_against_model(&g, &m);
        check_against_model(&bulk, &m);
        for (task, ins, outs) in &changes {
            let a = g.cycle_if_applied(*task, ins, outs);
            let b = bulk.cycle_if_applied(*task, ins, outs);
            prop_assert_eq!(&a, &b, "cycle answer depends on history");
            check_cycle(&m, *task, ins, outs, a.as_ref());
        }
    }

    /// The same final state reached in a different order (tasks before the
    /// tables they reference, tables removed while referenced) gives the
    /// same answers.
    #[test]
    fn order_of_changes_does_not_matter(ops in prop::collection::vec(op(), 0..50)) {
        let mut g = LineageGraph::new();
        let mut m = Model::default();
        for op in &ops {
            apply(&mut g, &mut m, op);
        }
        // Rebuild the final state incrementally: tasks first, then tables.
        let mut h = LineageGraph::new();
        let mut m2 = Model::default();
        for (&id, t) in &m.tasks {
            apply(&mut h, &mut m2, &Op::UpsertTask(id, t.clone()));
        }
        for (&id, t) in &m.tables {
            apply(&mut h, &mut m2, &Op::UpsertTable(id, t.clone()));
        }
        for &start in m.nodes().iter() {
            for dir in [Direction::Down, Direction::Up] {
                prop_assert_eq!(
                    g.traverse(NodeRef::Table(start), dir, None, 5).unwrap(),
                    h.traverse(NodeRef::Table(start), dir, None, 5).unwrap()
                );
            }
        }
        prop_assert_eq!(g.graph(&GraphFilter::default(), 100), h.graph(&GraphFilter::default(), 100));
    }
}

// ---------------------------------------------------------------------------
// Unit tests
// ---------------------------------------------------------------------------

fn table(id: i64, name: &'static str, layer: Layer, owner: &'static str) -> TableInput<'static> {
    TableInput { id, name, database: "dw", layer, owner }
}

fn task<'a>(id: i64, inputs: &'a [i64], outputs: &'a [i64]) -> TaskInput<'a> {
    TaskInput { id, name: "job", owner: "etl", inputs, outputs }
}

/// ods(1) -t10-> dwd(2) -t20-> dws(3) -t30-> ads(4), plus dim(5) read by t20.
fn chain() -> LineageGraph {
    let mut g = LineageGraph::new();
    g.upsert_table(table(1, "ods_orders", Layer::Ods, "alice")).unwrap();
    g.upsert_table(table(2, "dwd_orders", Layer::Dwd, "bob")).unwrap();
    g.upsert_table(table(3, "dws_orders", Layer::Dws, "bob")).unwrap();
    g.upsert_table(table(4, "ads_orders", Layer::Ads, "carol")).unwrap();
    g.upsert_table(table(5, "dim_shop", Layer::Dim, "dave")).unwrap();
    g.upsert_task(task(10, &[1], &[2])).unwrap();
    g.upsert_task(task(20, &[2, 5], &[3])).unwrap();
    g.upsert_task(task(30, &[3], &[4])).unwrap();
    g
}

fn rt(id: i64, distance: u32) -> ReachedTable {
    ReachedTable { id, distance }
}

fn rk(id: i64, distance: u32) -> ReachedTask {
    ReachedTask { id, distance }
}

fn e(source: i64, target: i64, task: i64) -> LineageEdge {
    LineageEdge { source, target, task }
}

#[test]
fn traverse_down_and_up_on_a_chain() {
    let g = chain();
    let down = g.traverse(NodeRef::Table(1), Direction::Down, None, 100).unwrap();
    assert_eq!(down.tables, vec![rt(1, 0), rt(2, 1), rt(3, 2), rt(4, 3)]);
    assert_eq!(down.tasks, vec![rk(10, 0), rk(20, 1), rk(30, 2)]);
    assert_eq!(down.edges, vec![e(1, 2, 10), e(2, 3, 20), e(3, 4, 30)]);
    assert!(!down.truncated);

    let up = g.traverse(NodeRef::Table(4), Direction::Up, Some(2), 100).unwrap();
    assert_eq!(up.tables, vec![rt(4, 0), rt(3, 1), rt(2, 2), rt(5, 2)]);
    assert_eq!(up.tasks, vec![rk(30, 0), rk(20, 1)]);
    assert_eq!(up.edges, vec![e(2, 3, 20), e(3, 4, 30), e(5, 3, 20)]);

    // From a task: its outputs are at distance 1.
    let from_task = g.traverse(NodeRef::Task(20), Direction::Down, None, 100).unwrap();
    assert_eq!(from_task.tables, vec![rt(3, 1), rt(4, 2)]);
    assert_eq!(from_task.tasks, vec![rk(20, 0), rk(30, 1)]);
    let from_task_up = g.traverse(NodeRef::Task(20), Direction::Up, None, 100).unwrap();
    assert_eq!(from_task_up.tables, vec![rt(2, 1), rt(5, 1), rt(1, 2)]);

    // Limit: the prefix in (distance, id) order, flagged.
    let cut = g.traverse(NodeRef::Table(4), Direction::Up, None, 2).unwrap();
    assert_eq!(cut.tables, vec![rt(4, 0), rt(3, 1), rt(2, 2)]);
    assert!(cut.truncated);
}

#[test]
fn depth_zero_and_limit_zero() {
    let g = chain();
    let t = g.traverse(NodeRef::Table(2), Direction::Down, Some(0), 10).unwrap();
    assert_eq!(t.tables, vec![rt(2, 0)]);
    assert!(t.tasks.is_empty() && t.edges.is_empty() && !t.truncated);
    let t = g.traverse(NodeRef::Task(20), Direction::Down, Some(0), 10).unwrap();
    assert!(t.tables.is_empty());
    assert_eq!(t.tasks, vec![rk(20, 0)]);
    let t = g.traverse(NodeRef::Table(2), Direction::Down, None, 0).unwrap();
    assert_eq!(t.tables, vec![rt(2, 0)]);
    assert!(t.truncated);
    let t = g.traverse(NodeRef::Table(4), Direction::Down, None, 0).unwrap();
    assert!(!t.truncated, "nothing downstream, nothing cut");
}

#[test]
fn unknown_nodes_and_empty_graph() {
    let mut g = LineageGraph::new();
    assert!(g.is_empty());
    assert_eq!(g.traverse(NodeRef::Table(1), Direction::Up, None, 10), Err(GraphError::UnknownTable(1)));
    assert_eq!(g.traverse(NodeRef::Task(7), Direction::Down, Some(3), 10), Err(GraphError::UnknownTask(7)));
    assert_eq!(g.impact(NodeRef::Table(1), 10), Err(GraphError::UnknownTable(1)));
    assert_eq!(g.task_dependencies(1, 10), Err(GraphError::UnknownTask(1)));
    assert_eq!(g.cycle_if_applied(1, &[1], &[2]), None);
    assert_eq!(g.cycle_if_applied(1, &[1], &[1]), Some(Cycle { tables: vec![1, 1], tasks: vec![1] }));
    assert_eq!(g.graph(&GraphFilter::default(), 10), Subgraph::default());
    assert!(g.table(1).is_none() && g.task(1).is_none());
    assert!(g.tables_named("x").is_empty() && g.tasks_named("x").is_empty());
    assert_eq!(g.find_table("dw", "x"), None);
    assert!(!g.remove_table(1) && !g.remove_task(1));
    assert_eq!(GraphBuilder::new().build().unwrap().graph(&GraphFilter::default(), 10), Subgraph::default());
    assert_eq!(GraphError::UnknownTask(3).to_string(), "unknown task 3".to_string());
}

#[test]
fn extreme_inputs_do_not_panic() {
    let mut g = chain();
    let huge = g.traverse(NodeRef::Table(1), Direction::Down, Some(u32::MAX), usize::MAX).unwrap();
    assert_eq!(huge.tables.len(), 4);
    g.upsert_table(TableInput { id: i64::MIN, name: "", database: "", layer: Layer::Ods, owner: "" })
        .unwrap();
    g.upsert_task(task(i64::MAX, &[i64::MIN, i64::MIN, 1], &[i64::MAX])).unwrap();
    assert!(g.is_placeholder(i64::MAX));
    assert_eq!(g.tables_named(""), vec![i64::MIN]);
    let t = g.traverse(NodeRef::Table(i64::MIN), Direction::Down, None, 10).unwrap();
    assert_eq!(t.tables, vec![rt(i64::MIN, 0), rt(i64::MAX, 1)]);
    // Absurd capacity hints are ignored rather than panicking.
    let mut b = GraphBuilder::with_capacity(usize::MAX, usize::MAX);
    b.add_table(table(1, "t", Layer::Ods, "o")).unwrap();
    assert_eq!(b.build().unwrap().table_count(), 1);
    g.upsert_task(task(5, &[], &[])).unwrap();
    assert_eq!(g.task_dependencies(5, usize::MAX).unwrap(), TaskDependencies::default());
    g.check_invariants().unwrap();
}

#[test]
fn impact_groups_by_distance_with_tasks_and_owners() {
    let mut g = chain();
    // A sink task (no outputs) reading the ADS table: still affected.
    g.upsert_task(TaskInput { id: 40, name: "export", owner: "erin", inputs: &[4], outputs: &[] }).unwrap();
    let i = g.impact(NodeRef::Table(2), 100).unwrap();
    assert_eq!(
        i.levels,
        vec![ImpactLevel { distance: 1, tables: vec![3] }, ImpactLevel { distance: 2, tables: vec![4] }]
    );
    assert_eq!(i.tasks, vec![rk(20, 0), rk(30, 1), rk(40, 2)]);
    assert_eq!(i.owners, vec!["bob", "carol", "erin", "etl"]);
    assert!(!i.truncated);
    let from_task = g.impact(NodeRef::Task(20), 1).unwrap();
    assert_eq!(from_task.levels.len(), 1);
    assert_eq!(from_task.tasks, vec![rk(30, 1)]);
    assert!(from_task.truncated);
}

#[test]
fn task_dependencies_exclude_self() {
    let mut g = chain();
    // t21 also writes table 3 and reads it (self-dependency through 3).
    g.upsert_task(task(21, &[3], &[3])).unwrap();
    let d = g.task_dependencies(20, 10).unwrap();
    assert_eq!(d.upstream, vec![10]);
    assert_eq!(d.downstream, vec![21, 30]);
    let d = g.task_dependencies(21, 10).unwrap();
    assert_eq!(d.upstream, vec![20]);
    assert_eq!(d.downstream, vec![30]);
    let d = g.task_dependencies(21, 0).unwrap();
    assert!(d.upstream.is_empty() && d.truncated);
}

#[test]
fn cycle_detection() {
    let g = chain();
    // Self-loop.
    assert_eq!(g.cycle_if_applied(99, &[3, 7], &[3]), Some(Cycle { tables: vec![3, 3], tasks: vec![99] }));
    // New task 4 -> 1 closes 1 -> 2 -> 3 -> 4 -> 1.
    assert_eq!(
        g.cycle_if_applied(99, &[4], &[1]),
        Some(Cycle { tables: vec![4, 1, 2, 3, 4], tasks: vec![99, 10, 20, 30] })
    );
    // Two-table cycle through another task: [a, b, a].
    assert_eq!(
        g.cycle_if_applied(99, &[2], &[1]),
        Some(Cycle { tables: vec![2, 1, 2], tasks: vec![99, 10] })
    );
    // Replacing t20's edges: its current edges are ignored, so 3 -> 2 via
    // t20 itself is fine, but 4 -> 2 would close 2 -> 3 -> 4 only if t20
    // still carried 2 -> 3; it does not after the replacement.
    assert_eq!(g.cycle_if_applied(20, &[3], &[2]), None);
    assert_eq!(g.cycle_if_applied(20, &[4], &[2]), None);
    // Downstream-only and unknown tables: no cycle.
    assert_eq!(g.cycle_if_applied(99, &[1, 5], &[4]), None);
    assert_eq!(g.cycle_if_applied(99, &[1000], &[1]), None);
    assert_eq!(g.cycle_if_applied(99, &[], &[]), None);
}

#[test]
fn cycle_through_current_task_edges_is_ignored() {
    let g = chain();
    // t30 today carries 3 -> 4. Re-pointing it to 4 -> 2 needs 2 ->* 4
    // without t30: 2 -> 3 exists but 3 -> 4 is t30 itself, so no cycle.
    assert_eq!(g.cycle_if_applied(30, &[4], &[2]), None);
    // A different task doing the same closes 2 -> 3 -> 4 -> 2.
    assert_eq!(
        g.cycle_if_applied(31, &[4], &[2]),
        Some(Cycle { tables: vec![4, 2, 3, 4], tasks: vec![31, 20, 30] })
    );
}

/// Incremental updates give the same answers as a fresh bulk build.
#[test]
fn incremental_updates_match_bulk_build() {
    let mut g = chain();
    let mut m = Model::default();
    for (id, name, layer, owner) in [
        (1, "ods_orders", Layer::Ods, "alice"),
        (2, "dwd_orders", Layer::Dwd, "bob"),
        (3, "dws_orders", Layer::Dws, "bob"),
        (4, "ads_orders", Layer::Ads, "carol"),
        (5, "dim_shop", Layer::Dim, "dave"),
    ] {
        m.tables
            .insert(id, RefTable { name: name.into(), database: "dw".into(), layer, owner: owner.into() });
    }
    let put_task = |m: &mut Model, id: i64, ins: &[i64], outs: &[i64]| {
        m.tasks.insert(
            id,
            RefTask {
                name: "job".into(),
                owner: "etl".into(),
                inputs: ins.iter().copied().collect(),
                outputs: outs.iter().copied().collect(),
            },
        );
    };
    put_task(&mut m, 10, &[1], &[2]);
    put_task(&mut m, 20, &[2, 5], &[3]);
    put_task(&mut m, 30, &[3], &[4]);
    check_against_model(&g, &m);

    // Update a task's inputs: t20 stops reading dim 5, starts reading 1.
    g.upsert_task(task(20, &[2, 1], &[3])).unwrap();
    put_task(&mut m, 20, &[1, 2], &[3]);
    check_against_model(&g, &m);
    check_against_model(&m.bulk(), &m);
    let d = g.traverse(NodeRef::Table(5), Direction::Down, None, 10).unwrap();
    assert_eq!(d.tables, vec![rt(5, 0)]);

    // Remove a task: lineage 1 -> 2 is gone.
    assert!(g.remove_task(10));
    m.tasks.remove(&10);
    check_against_model(&g, &m);
    assert_eq!(g.task_dependencies(20, 10).unwrap().upstream, Vec::<i64>::new());

    // Remove a table still written by t20: it stays as a placeholder node.
    assert!(g.remove_table(3));
    m.tables.remove(&3);
    check_against_model(&g, &m);
    assert!(g.table(3).is_none() && g.is_placeholder(3));
    assert_eq!(g.tables_named("dws_orders"), Vec::<i64>::new());
    let up = g.traverse(NodeRef::Table(4), Direction::Up, None, 10).unwrap();
    assert_eq!(up.tables, vec![rt(4, 0), rt(3, 1), rt(1, 2), rt(2, 2)]);
    // ... and disappears once nothing references it.
    assert!(g.remove_task(30));
    m.tasks.remove(&30);
    g.upsert_task(task(20, &[1, 2], &[])).unwrap();
    put_task(&mut m, 20, &[1, 2], &[]);
    assert!(!g.contains_table(3));
    check_against_model(&g, &m);

    // Remove an unreferenced table: gone entirely.
    assert!(g.remove_table(4));
    m.tables.remove(&4);
    assert!(!g.contains_table(4));
    check_against_model(&g, &m);
    check_against_model(&m.bulk(), &m);

    // Re-defining metadata renames and moves it in the name index.
    g.upsert_table(table(5, "dim_store", Layer::Dim, "dave")).unwrap();
    assert_eq!(g.tables_named("dim_store"), vec![5]);
    assert!(g.tables_named("dim_shop").is_empty());
    assert_eq!(g.find_table("dw", "dim_store"), Some(5));
}

#[test]
fn placeholders_are_filled_in_by_later_table_upserts() {
    let mut g = LineageGraph::new();
    g.upsert_task(task(1, &[100], &[200])).unwrap();
    assert_eq!((g.table_count(), g.placeholder_count()), (0, 2));
    assert!(g.table(100).is_none());
    g.upsert_table(table(100, "src", Layer::Ods, "a")).unwrap();
    assert_eq!((g.table_count(), g.placeholder_count()), (1, 1));
    assert_eq!(g.table(100).unwrap().name, "src");
    let f = GraphFilter { layers: vec![Layer::Ods], ..GraphFilter::default() };
    // The placeholder 200 does not pass a non-empty filter.
    assert_eq!(g.graph(&f, 10).tables, vec![100]);
    assert_eq!(g.graph(&GraphFilter::default(), 10).edges, vec![e(100, 200, 1)]);
    assert!(g.remove_task(1));
    assert_eq!((g.table_count(), g.placeholder_count()), (1, 0));
    g.check_invariants().unwrap();
}

/// Churn on a hub table exercises list relocation and arena compaction.
#[test]
fn churn_keeps_invariants_and_memory_bounded() {
    let mut g = LineageGraph::new();
    for id in 0..50 {
        g.upsert_table(table(id, "t", Layer::Dwd, "o")).unwrap();
    }
    for round in 0..40i64 {
        for task_id in 0..200i64 {
            let ins = [0, 1 + (task_id + round) % 49];
            let outs = [1 + (task_id * 7 + round) % 49];
            if ins.contains(&outs[0]) {
                continue;
            }
            g.upsert_task(task(task_id, &ins, &outs)).unwrap();
        }
        if round % 10 == 9 {
            for task_id in (0..200).step_by(3) {
                g.remove_task(task_id);
            }
        }
        g.check_invariants().unwrap();
    }
    let before = g.heap_bytes();
    g.compact();
    g.check_invariants().unwrap();
    assert!(g.heap_bytes() <= before);
    let hub = g.traverse(NodeRef::Table(0), Direction::Down, Some(1), 1000).unwrap();
    assert_eq!(hub.tasks.len(), g.task_count());
}

/// A table read by more tasks than fit the packed 16-bit list length (the
/// long-header path), and limits that cut both tables and tasks.
#[test]
fn hub_table_with_many_readers() {
    let mut g = LineageGraph::new();
    g.upsert_table(table(0, "hub", Layer::Dim, "o")).unwrap();
    let n = 70_000i64;
    for t in 1..=n {
        g.upsert_task(task(t, &[0], &[1_000_000 + t])).unwrap();
    }
    g.check_invariants().unwrap();
    let r = g.traverse(NodeRef::Table(0), Direction::Down, Some(1), 3).unwrap();
    assert_eq!(r.tables, vec![rt(0, 0), rt(1_000_001, 1), rt(1_000_002, 1), rt(1_000_003, 1)]);
    assert_eq!(r.tasks, vec![rk(1, 0), rk(2, 0), rk(3, 0)]);
    assert_eq!(r.edges, vec![e(0, 1_000_001, 1), e(0, 1_000_002, 2), e(0, 1_000_003, 3)]);
    assert!(r.truncated);
    let up = g.traverse(NodeRef::Table(1_000_500), Direction::Up, None, 10).unwrap();
    assert_eq!(up.tables, vec![rt(1_000_500, 0), rt(0, 1)]);
    let i = g.impact(NodeRef::Table(0), 5).unwrap();
    assert_eq!(i.tasks.len(), 5);
    assert!(i.truncated);
    let d = g.task_dependencies(1, 10).unwrap();
    assert!(d.upstream.is_empty() && d.downstream.is_empty());
    // Removal scans the hub's reader list; this order always finds the
    // task at the front (swap-remove moves the last reader there).
    assert!(g.remove_task(1));
    for t in (4..=n).rev() {
        assert!(g.remove_task(t));
    }
    g.check_invariants().unwrap();
    assert_eq!(g.placeholder_count(), 2);
    let r = g.traverse(NodeRef::Table(0), Direction::Down, None, 100).unwrap();
    assert_eq!(r.tables.len(), 3);
    assert!(!r.truncated);
    let before = g.heap_bytes();
    g.compact();
    assert!(g.heap_bytes() <= before);
    g.check_invariants().unwrap();
}

#[test]
fn builder_replaces_duplicates() {
    let mut b = GraphBuilder::new();
    b.add_table(table(1, "a", Layer::Ods, "x")).unwrap();
    b.add_table(table(1, "b", Layer::Dwd, "y")).unwrap();
    b.add_task(task(7, &[1], &[2])).unwrap();
    b.add_task(task(7, &[2], &[3, 3])).unwrap();
    let g = b.build().unwrap();
    g.check_invariants().unwrap();
    assert_eq!(g.table(1).unwrap().name, "b");
    assert!(g.tables_named("a").is_empty());
    let t = g.task(7).unwrap();
    assert_eq!((t.inputs, t.outputs), (vec![2], vec![3]));
    // Table 1 is defined but unreferenced; 2 and 3 are placeholders.
    assert_eq!((g.table_count(), g.placeholder_count()), (1, 2));
    assert!(g.heap_bytes() > 0);
    assert!(format!("{g:?}").contains("tasks: 1"));
}

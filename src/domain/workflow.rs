//! Workflows: named sets of batch tasks published 1:1 as DolphinScheduler workflow definitions,
//! and the plan of one publication (its DAG and the layout the DolphinScheduler UI shows).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::names::{check_task_name, check_text};
use super::schedule::CronSchedule;
use super::{EpochMillis, Version};
use crate::error::Violations;

/// Longest description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 2000;
/// Most tasks in one workflow.
pub const MAX_TASKS: usize = 5000;
/// Most global parameters of one workflow.
pub const MAX_GLOBAL_PARAMS: usize = 100;

/// Where a workflow's publication stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublishState {
    /// Never asked to be published.
    Unpublished,
    /// A publish request waits for a worker (or for DolphinScheduler to come back).
    Pending,
    /// A worker is carrying it out.
    Publishing,
    /// DolphinScheduler has the latest requested definition.
    Published,
    /// DolphinScheduler refused it; the last error says why. A new request tries again.
    Failed,
}

impl PublishState {
    /// Every state.
    pub const ALL: [PublishState; 5] = [
        PublishState::Unpublished,
        PublishState::Pending,
        PublishState::Publishing,
        PublishState::Published,
        PublishState::Failed,
    ];

    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            PublishState::Unpublished => "UNPUBLISHED",
            PublishState::Pending => "PENDING",
            PublishState::Publishing => "PUBLISHING",
            PublishState::Published => "PUBLISHED",
            PublishState::Failed => "FAILED",
        }
    }

    /// Reads the stored form.
    pub fn parse(text: &str) -> Option<PublishState> {
        PublishState::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// When a workflow runs on its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkflowSchedule {
    /// Unix cron, converted to Quartz when published.
    pub cron: CronSchedule,
    /// IANA time zone the cron is read in, such as `Asia/Shanghai`.
    pub timezone: String,
    /// First instant it may fire, `yyyy-MM-dd HH:mm:ss` in `timezone`.
    pub start: String,
    /// Last instant it may fire, likewise.
    pub end: String,
}

/// What a caller says a workflow is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkflowDef {
    /// Unique name; also the DolphinScheduler definition's name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Who answers for it.
    pub owner: String,
}

impl WorkflowDef {
    /// Checks every field, reporting all problems at once.
    pub fn validate(&self) -> Violations {
        let mut violations = Violations::default();
        // Workflow names follow the rules of task names: a single-task workflow takes its task's name.
        if let Err(why) = check_task_name(&self.name) {
            violations.add("name", why);
        }
        if let Err(why) = check_text(&self.description, MAX_DESCRIPTION_CHARS) {
            violations.add("description", why);
        }
        if let Err(why) = check_text(&self.owner, 128) {
            violations.add("owner", why);
        }
        violations
    }
}

/// Checks a `yyyy-MM-dd HH:mm:ss` wall-clock time.
pub fn check_wall_clock(text: &str) -> Result<(), String> {
    let bytes = text.as_bytes();
    let shape_ok = bytes.len() == 19
        && bytes.iter().enumerate().all(|(i, b)| match i {
            4 | 7 => *b == b'-',
            10 => *b == b' ',
            13 | 16 => *b == b':',
            _ => b.is_ascii_digit(),
        });
    if !shape_ok {
        return Err(format!("{text:?} is not a time of the form yyyy-MM-dd HH:mm:ss"));
    }
    let number = |range: std::ops::Range<usize>| text[range].parse::<u32>().unwrap_or(u32::MAX);
    let (month, day, hour, minute, second) =
        (number(5..7), number(8..10), number(11..13), number(14..16), number(17..19));
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 59 {
        return Err(format!("{text:?} is not a valid date and time"));
    }
    Ok(())
}

/// Checks an IANA time zone name loosely (`Area/City`, or `UTC`): DolphinScheduler validates it
/// for real, and a typo shows up as its refusal.
pub fn check_timezone(text: &str) -> Result<(), String> {
    let ok = text == "UTC"
        || text == "GMT"
        || (text.contains('/')
            && text.len() <= 64
            && text.chars().all(|c| c.is_ascii_alphanumeric() || "/_+-".contains(c)));
    if ok { Ok(()) } else { Err(format!("{text:?} is not an IANA time zone such as Asia/Shanghai or UTC")) }
}

/// A workflow as stored, with what is known of its DolphinScheduler counterpart.
#[derive(Debug, Clone)]
pub struct Workflow {
    /// Assigned by the service.
    pub id: i64,
    /// Name, description, owner.
    pub def: WorkflowDef,
    /// When it runs on its own; `None` = only when started.
    pub schedule: Option<WorkflowSchedule>,
    /// Whether DolphinScheduler should hold it ONLINE (runnable, schedule active).
    pub online: bool,
    /// Parameters every task of it sees (DolphinScheduler global parameters).
    pub global_params: BTreeMap<String, String>,
    /// The tasks in it, by id.
    pub task_ids: Vec<i64>,
    /// Dependencies given by the caller (upstream, downstream) — `None` when they follow lineage.
    pub explicit_dependencies: Option<Vec<(i64, i64)>>,
    /// Layout given by the caller (task id → x, y); computed for the others.
    pub positions: HashMap<i64, (i32, i32)>,
    /// The publication.
    pub publication: Publication,
    /// Bumped on every change.
    pub version: Version,
    /// When it was created.
    pub created_at: EpochMillis,
    /// When it last changed.
    pub updated_at: EpochMillis,
}

/// The DolphinScheduler side of a workflow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publication {
    /// Where it stands.
    pub state: PublishState,
    /// Publish attempts of the current request.
    pub attempts: i32,
    /// Why the last attempt failed (empty when it did not).
    pub last_error: String,
    /// The definition's code, once created.
    pub workflow_code: Option<i64>,
    /// The schedule's id, once created.
    pub schedule_id: Option<i64>,
    /// The instance the last `auto_start` (or start) created.
    pub last_instance_id: Option<i64>,
    /// When it was last published.
    pub published_at: Option<EpochMillis>,
    /// Requests made (each publish request bumps it).
    pub generation: i64,
    /// The request last carried out.
    pub published_generation: i64,
    /// Whether the pending request starts the workflow once published.
    pub start_requested: bool,
    /// The run marker of the start call an attempt sent for the pending request, if one did.
    pub start_marker: Option<String>,
    /// When that start call was sent.
    pub start_sent_at: Option<EpochMillis>,
    /// The trigger code DolphinScheduler 3.2 answered to it.
    pub start_trigger: Option<i64>,
}

/// A task as publishing sees it.
#[derive(Debug, Clone)]
pub struct PlanTask {
    /// Portal task id.
    pub id: i64,
    /// Its name (also the DolphinScheduler task's name).
    pub name: String,
}

/// A task of another workflow that a task of this one waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalUpstream {
    /// Portal id of the task waited for.
    pub task_id: i64,
    /// Its name.
    pub task_name: String,
    /// The DolphinScheduler code of its workflow.
    pub workflow_code: i64,
    /// Its DolphinScheduler task code.
    pub task_code: i64,
}

/// A node of a published DAG.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PlanNode {
    /// A task of the workflow.
    Task(i64),
    /// A DEPENDENT task that waits for a task of another workflow (by that task's id).
    WaitFor(i64),
}

impl PlanNode {
    /// The key the node's DolphinScheduler task code is stored under; stable across publishes.
    pub fn key(&self) -> String {
        match self {
            PlanNode::Task(id) => format!("task:{id}"),
            PlanNode::WaitFor(id) => format!("wait:{id}"),
        }
    }
}

/// The DAG of one publication: nodes in a stable order, edges and a position for each node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DagPlan {
    /// Every node.
    pub nodes: Vec<PlanNode>,
    /// (upstream, downstream) pairs.
    pub edges: Vec<(PlanNode, PlanNode)>,
    /// Where the DolphinScheduler UI draws each node.
    pub positions: BTreeMap<PlanNode, (i32, i32)>,
    /// What each waiting node waits for, by the id of the task waited for.
    pub waits: BTreeMap<i64, ExternalUpstream>,
}

/// Horizontal distance between layers and vertical distance between nodes of a layer, in the
/// DolphinScheduler canvas's pixels (its task boxes are about 200 × 50).
const LAYER_GAP: i32 = 280;
const ROW_GAP: i32 = 100;
const MARGIN: i32 = 60;

/// Builds the DAG of a workflow: its tasks, the edges between them (`internal`, from lineage or
/// the caller), one waiting node per task of another workflow they depend on, and a layered
/// layout (nodes in columns by longest path from a root, ordered to keep edges short) wherever
/// the caller gave no position.
pub fn plan_dag(
    tasks: &[PlanTask],
    internal: &[(i64, i64)],
    external: &[(i64, ExternalUpstream)],
    fixed_positions: &HashMap<i64, (i32, i32)>,
) -> DagPlan {
    let mut nodes: Vec<PlanNode> = tasks.iter().map(|t| PlanNode::Task(t.id)).collect();
    let waits: BTreeSet<i64> = external.iter().map(|(_, up)| up.task_id).collect();
    nodes.extend(waits.iter().map(|id| PlanNode::WaitFor(*id)));
    let mut edges: BTreeSet<(PlanNode, PlanNode)> =
        internal.iter().map(|(up, down)| (PlanNode::Task(*up), PlanNode::Task(*down))).collect();
    edges.extend(external.iter().map(|(down, up)| (PlanNode::WaitFor(up.task_id), PlanNode::Task(*down))));
    let edges: Vec<(PlanNode, PlanNode)> = edges.into_iter().collect();

    let names: HashMap<&PlanNode, String> = nodes
        .iter()
        .map(|n| {
            let name = match n {
                PlanNode::Task(id) => tasks.iter().find(|t| t.id == *id).map(|t| t.name.clone()),
                PlanNode::WaitFor(id) => {
                    external.iter().find(|(_, up)| up.task_id == *id).map(|(_, up)| up.task_name.clone())
                }
            };
            (n, name.unwrap_or_default())
        })
        .collect();
    let layers = layer_nodes(&nodes, &edges, &names);
    let mut positions = BTreeMap::new();
    for (column, layer) in layers.iter().enumerate() {
        for (row, node) in layer.iter().enumerate() {
            let fixed = match node {
                PlanNode::Task(id) => fixed_positions.get(id).copied(),
                PlanNode::WaitFor(_) => None,
            };
            let computed = (MARGIN + column as i32 * LAYER_GAP, MARGIN + row as i32 * ROW_GAP);
            positions.insert(node.clone(), fixed.unwrap_or(computed));
        }
    }
    let waits = external.iter().map(|(_, up)| (up.task_id, up.clone())).collect();
    DagPlan { nodes, edges, positions, waits }
}

/// Assigns each node to the column of its longest path from a root, then orders each column by
/// the mean row of the node's upstream nodes (the barycenter heuristic), ties by name, so that
/// edges mostly run straight and do not cross.
fn layer_nodes(
    nodes: &[PlanNode],
    edges: &[(PlanNode, PlanNode)],
    names: &HashMap<&PlanNode, String>,
) -> Vec<Vec<PlanNode>> {
    let mut upstream: HashMap<&PlanNode, Vec<&PlanNode>> = HashMap::new();
    let mut downstream: HashMap<&PlanNode, Vec<&PlanNode>> = HashMap::new();
    let mut in_degree: HashMap<&PlanNode, usize> = nodes.iter().map(|n| (n, 0)).collect();
    for (up, down) in edges {
        upstream.entry(down).or_default().push(up);
        downstream.entry(up).or_default().push(down);
        *in_degree.entry(down).or_default() += 1;
    }
    // Kahn's order; the graph is acyclic (lineage refuses cycles, explicit edges are checked),
    // but a node left over by a cycle still gets the last column rather than vanishing.
    let mut column: HashMap<&PlanNode, usize> = HashMap::new();
    let mut ready: Vec<&PlanNode> = nodes.iter().filter(|n| in_degree[n] == 0).collect();
    while let Some(node) = ready.pop() {
        let col = upstream
            .get(node)
            .map_or(0, |ups| ups.iter().filter_map(|u| column.get(u)).map(|c| c + 1).max().unwrap_or(0));
        column.insert(node, col);
        for down in downstream.get(node).into_iter().flatten() {
            let degree = in_degree.get_mut(down).expect("every edge end is a node");
            *degree -= 1;
            if *degree == 0 {
                ready.push(down);
            }
        }
    }
    let last = column.values().max().map_or(0, |c| c + 1);
    let mut layers: Vec<Vec<PlanNode>> = vec![Vec::new(); last + 1];
    for node in nodes {
        layers[column.get(node).copied().unwrap_or(last)].push(node.clone());
    }
    layers.retain(|layer| !layer.is_empty());

    let mut row: HashMap<PlanNode, f64> = HashMap::new();
    for layer in &mut layers {
        let barycenter = |node: &PlanNode| {
            let rows: Vec<f64> =
                upstream.get(node).into_iter().flatten().filter_map(|u| row.get(*u)).copied().collect();
            if rows.is_empty() { f64::MAX } else { rows.iter().sum::<f64>() / rows.len() as f64 }
        };
        layer.sort_by(|a, b| barycenter(a).total_cmp(&barycenter(b)).then_with(|| names[a].cmp(&names[b])));
        for (i, node) in layer.iter().enumerate() {
            row.insert(node.clone(), i as f64);
        }
    }
    layers
}

/// The first cycle among `edges`, as a path of task ids, if there is one.
pub fn find_cycle(edges: &[(i64, i64)]) -> Option<Vec<i64>> {
    let mut downstream: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for (up, down) in edges {
        downstream.entry(*up).or_default().push(*down);
    }
    // 0 = unseen, 1 = on the current path, 2 = done.
    let mut mark: HashMap<i64, u8> = HashMap::new();
    let mut path: Vec<i64> = Vec::new();
    fn visit(
        node: i64,
        downstream: &BTreeMap<i64, Vec<i64>>,
        mark: &mut HashMap<i64, u8>,
        path: &mut Vec<i64>,
    ) -> Option<Vec<i64>> {
        mark.insert(node, 1);
        path.push(node);
        for next in downstream.get(&node).into_iter().flatten() {
            match mark.get(next).copied().unwrap_or(0) {
                1 => {
                    let start = path.iter().position(|n| n == next).unwrap_or(0);
                    let mut cycle = path[start..].to_vec();
                    cycle.push(*next);
                    return Some(cycle);
                }
                0 => {
                    if let Some(cycle) = visit(*next, downstream, mark, path) {
                        return Some(cycle);
                    }
                }
                _ => {}
            }
        }
        path.pop();
        mark.insert(node, 2);
        None
    }
    let starts: Vec<i64> = downstream.keys().copied().collect();
    for start in starts {
        if mark.get(&start).copied().unwrap_or(0) == 0
            && let Some(cycle) = visit(start, &downstream, &mut mark, &mut path)
        {
            return Some(cycle);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tasks(ids: &[(i64, &str)]) -> Vec<PlanTask> {
        ids.iter().map(|(id, name)| PlanTask { id: *id, name: (*name).to_owned() }).collect()
    }

    #[test]
    fn lays_out_columns_by_longest_path() {
        // 1 -> 2 -> 4, 1 -> 3 -> 4, 1 -> 4: 4 sits after both 2 and 3.
        let plan = plan_dag(
            &tasks(&[(1, "a"), (2, "b"), (3, "c"), (4, "d")]),
            &[(1, 2), (1, 3), (2, 4), (3, 4), (1, 4)],
            &[],
            &HashMap::new(),
        );
        let x = |id| plan.positions[&PlanNode::Task(id)].0;
        assert_eq!(
            (x(1), x(2), x(3), x(4)),
            (MARGIN, MARGIN + LAYER_GAP, MARGIN + LAYER_GAP, MARGIN + 2 * LAYER_GAP)
        );
        let y = |id| plan.positions[&PlanNode::Task(id)].1;
        assert_ne!(y(2), y(3), "nodes of one column do not overlap");
        assert_eq!(plan.edges.len(), 5);
    }

    #[test]
    fn orders_a_column_by_its_upstream_rows_to_avoid_crossings() {
        // Roots a (row 0) and b (row 1); x reads b, y reads a: y must come above x.
        let plan = plan_dag(
            &tasks(&[(1, "a"), (2, "b"), (3, "x"), (4, "y")]),
            &[(2, 3), (1, 4)],
            &[],
            &HashMap::new(),
        );
        let y = |id| plan.positions[&PlanNode::Task(id)].1;
        assert!(y(4) < y(3), "{:?}", plan.positions);
    }

    #[test]
    fn waits_for_tasks_of_other_workflows_once_each() {
        let upstream =
            ExternalUpstream { task_id: 9, task_name: "load".into(), workflow_code: 77, task_code: 88 };
        let plan = plan_dag(
            &tasks(&[(1, "a"), (2, "b")]),
            &[],
            &[(1, upstream.clone()), (2, upstream)],
            &HashMap::new(),
        );
        assert_eq!(plan.nodes, vec![PlanNode::Task(1), PlanNode::Task(2), PlanNode::WaitFor(9)]);
        assert_eq!(
            plan.edges,
            vec![(PlanNode::WaitFor(9), PlanNode::Task(1)), (PlanNode::WaitFor(9), PlanNode::Task(2))]
        );
        assert_eq!(plan.positions[&PlanNode::WaitFor(9)].0, MARGIN);
        assert_eq!(plan.positions[&PlanNode::Task(1)].0, MARGIN + LAYER_GAP);
    }

    #[test]
    fn keeps_positions_the_caller_gave() {
        let fixed = HashMap::from([(2, (5, 7))]);
        let plan = plan_dag(&tasks(&[(1, "a"), (2, "b")]), &[(1, 2)], &[], &fixed);
        assert_eq!(plan.positions[&PlanNode::Task(2)], (5, 7));
        assert_eq!(plan.positions[&PlanNode::Task(1)], (MARGIN, MARGIN));
    }

    #[test]
    fn finds_cycles() {
        assert_eq!(find_cycle(&[(1, 2), (2, 3)]), None);
        assert_eq!(find_cycle(&[(1, 2), (2, 3), (3, 1)]), Some(vec![1, 2, 3, 1]));
        assert_eq!(find_cycle(&[(5, 5)]), Some(vec![5, 5]));
    }

    #[test]
    fn checks_times_and_zones() {
        assert!(check_wall_clock("2026-01-31 23:59:59").is_ok());
        for bad in ["2026-1-31 00:00:00", "2026-13-01 00:00:00", "2026-01-01T00:00:00", "2026-01-01 24:00:00"]
        {
            assert!(check_wall_clock(bad).is_err(), "{bad}");
        }
        assert!(check_timezone("Asia/Shanghai").is_ok());
        assert!(check_timezone("UTC").is_ok());
        assert!(check_timezone("Shanghai time").is_err());
    }

    #[test]
    fn publish_states_round_trip() {
        for state in PublishState::ALL {
            assert_eq!(PublishState::parse(state.as_str()), Some(state));
        }
    }
}

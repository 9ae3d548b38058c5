//! `dataportal.v1.LineageService`.

use tonic::{Request, Response, Status};

use super::convert::{edge_source_to_pb, layer_filter, layer_to_pb};
use crate::app::Catalog;
use crate::app::lineage::{self as uses, MAX_DEPTH, MAX_NODE_LIMIT, Start};
use crate::domain::lineage::graph::Direction;
use crate::domain::lineage::sql::SqlDialect;
use crate::error::{Error, Violations};
use crate::proto::v1 as pb;
use crate::proto::v1::lineage_service_server::LineageService;

/// Serves lineage questions from the in-memory index.
#[derive(Debug, Clone)]
pub struct LineageApi {
    catalog: Catalog,
}

impl LineageApi {
    /// Serves `catalog`.
    pub fn new(catalog: Catalog) -> Self {
        Self { catalog }
    }
}

/// Node limit when a request gives none.
const DEFAULT_NODE_LIMIT: usize = 1000;
/// Node limit of an impact question when the request gives none.
const DEFAULT_IMPACT_LIMIT: usize = 10_000;

fn start(start: Option<pb::LineageStart>) -> Result<Start, Error> {
    let invalid = |why: &str| Error::invalid_field("start", why.to_owned());
    match start.and_then(|s| s.node) {
        None => Err(invalid("is required: a table or task, by name or id")),
        Some(pb::lineage_start::Node::Table(name)) if name.is_empty() => Err(invalid("table name is empty")),
        Some(pb::lineage_start::Node::Task(name)) if name.is_empty() => Err(invalid("task name is empty")),
        Some(pb::lineage_start::Node::TableId(id) | pb::lineage_start::Node::TaskId(id)) if id <= 0 => {
            Err(invalid("an id must be positive"))
        }
        Some(pb::lineage_start::Node::Table(name)) => Ok(Start::TableName(name)),
        Some(pb::lineage_start::Node::TableId(id)) => Ok(Start::TableId(id)),
        Some(pb::lineage_start::Node::Task(name)) => Ok(Start::TaskName(name)),
        Some(pb::lineage_start::Node::TaskId(id)) => Ok(Start::TaskId(id)),
    }
}

/// The depth to follow (`None`: all) and the node limit, or every problem with them.
fn bounds(
    depth: i32,
    all_depths: bool,
    node_limit: i32,
    default_limit: usize,
) -> Result<(Option<u32>, usize), Error> {
    let mut violations = Violations::default();
    let depth = match (depth, all_depths) {
        (0, true) => None,
        (_, true) => {
            violations.add("depth", "must be 0 when all_depths is set");
            None
        }
        (0, false) => {
            violations.add("depth", format!("must be between 1 and {MAX_DEPTH}, or set all_depths"));
            None
        }
        (d, false) if d < 0 || d as u32 > MAX_DEPTH => {
            violations.add("depth", format!("must be between 1 and {MAX_DEPTH}, or set all_depths"));
            None
        }
        (d, false) => Some(d as u32),
    };
    let limit = limit(node_limit, default_limit, &mut violations);
    violations.into_result((depth, limit))
}

fn limit(node_limit: i32, default_limit: usize, violations: &mut Violations) -> usize {
    match node_limit {
        0 => default_limit,
        n if n < 0 || n as usize > MAX_NODE_LIMIT => {
            violations
                .add("node_limit", format!("must be between 1 and {MAX_NODE_LIMIT} (0 for the default)"));
            default_limit
        }
        n => n as usize,
    }
}

fn node_to_pb(node: uses::Node) -> pb::LineageNode {
    pb::LineageNode {
        table_id: node.id,
        name: node.name,
        layer: layer_to_pb(node.layer) as i32,
        owner: node.owner,
        database: node.database,
        distance: node.distance as i32,
    }
}

fn task_to_pb(task: uses::TaskNode) -> pb::LineageTask {
    pb::LineageTask { task_id: task.id, name: task.name, owner: task.owner, distance: task.distance as i32 }
}

fn edge_to_pb(edge: uses::Edge) -> pb::LineageEdge {
    pb::LineageEdge {
        source_table_id: edge.source.0,
        source: edge.source.1,
        target_table_id: edge.target.0,
        target: edge.target.1,
        task_id: edge.task.0,
        task: edge.task.1,
        edge_source: edge_source_to_pb(edge.edge_source) as i32,
    }
}

type Parts = (Vec<pb::LineageNode>, Vec<pb::LineageTask>, Vec<pb::LineageEdge>, bool);

fn parts(subgraph: uses::Subgraph) -> Parts {
    (
        subgraph.nodes.into_iter().map(node_to_pb).collect(),
        subgraph.tasks.into_iter().map(task_to_pb).collect(),
        subgraph.edges.into_iter().map(edge_to_pb).collect(),
        subgraph.truncated,
    )
}

impl LineageApi {
    async fn traverse(
        &self,
        start_node: Option<pb::LineageStart>,
        direction: Direction,
        depth: i32,
        all_depths: bool,
        node_limit: i32,
    ) -> Result<Parts, Error> {
        let start = start(start_node);
        let bounds = bounds(depth, all_depths, node_limit, DEFAULT_NODE_LIMIT);
        // Report a bad start and bad bounds together.
        let (start, (depth, limit)) = match (start, bounds) {
            (Ok(start), Ok(bounds)) => (start, bounds),
            (Err(mut a), Err(b)) => {
                a.violations.extend(b.violations);
                return Err(Error::invalid(a.violations));
            }
            (Err(e), _) | (_, Err(e)) => return Err(e),
        };
        Ok(parts(self.catalog.lineage_traverse(&start, direction, depth, limit).await?))
    }
}

#[tonic::async_trait]
impl LineageService for LineageApi {
    async fn get_lineage_graph(
        &self,
        request: Request<pb::GetLineageGraphRequest>,
    ) -> Result<Response<pb::GetLineageGraphResponse>, Status> {
        let pb::GetLineageGraphRequest { layer, database, owner, node_limit } = request.into_inner();
        let layer = layer_filter(layer)?;
        let mut violations = Violations::default();
        let limit = limit(node_limit, MAX_NODE_LIMIT, &mut violations);
        violations.into_result(())?;
        let (nodes, _, edges, truncated) =
            parts(self.catalog.lineage_graph(layer, &database, &owner, limit).await?);
        Ok(Response::new(pb::GetLineageGraphResponse { nodes, edges, truncated }))
    }

    async fn get_upstream(
        &self,
        request: Request<pb::GetUpstreamRequest>,
    ) -> Result<Response<pb::GetUpstreamResponse>, Status> {
        let pb::GetUpstreamRequest { start, depth, all_depths, node_limit } = request.into_inner();
        let (nodes, tasks, edges, truncated) =
            self.traverse(start, Direction::Up, depth, all_depths, node_limit).await?;
        Ok(Response::new(pb::GetUpstreamResponse { nodes, tasks, edges, truncated }))
    }

    async fn get_downstream(
        &self,
        request: Request<pb::GetDownstreamRequest>,
    ) -> Result<Response<pb::GetDownstreamResponse>, Status> {
        let pb::GetDownstreamRequest { start, depth, all_depths, node_limit } = request.into_inner();
        let (nodes, tasks, edges, truncated) =
            self.traverse(start, Direction::Down, depth, all_depths, node_limit).await?;
        Ok(Response::new(pb::GetDownstreamResponse { nodes, tasks, edges, truncated }))
    }

    async fn get_impact(
        &self,
        request: Request<pb::GetImpactRequest>,
    ) -> Result<Response<pb::GetImpactResponse>, Status> {
        let pb::GetImpactRequest { start: start_node, node_limit } = request.into_inner();
        let start = start(start_node)?;
        let mut violations = Violations::default();
        let limit = limit(node_limit, DEFAULT_IMPACT_LIMIT, &mut violations);
        violations.into_result(())?;
        let impact = self.catalog.lineage_impact(&start, limit).await?;
        Ok(Response::new(pb::GetImpactResponse {
            levels: impact
                .levels
                .into_iter()
                .map(|(distance, tables, tasks)| pb::ImpactLevel {
                    distance: distance as i32,
                    tables: tables.into_iter().map(node_to_pb).collect(),
                    tasks: tasks.into_iter().map(task_to_pb).collect(),
                })
                .collect(),
            affected_tasks: impact.tasks.into_iter().map(task_to_pb).collect(),
            affected_owners: impact.owners,
            truncated: impact.truncated,
        }))
    }

    async fn get_task_dependencies(
        &self,
        request: Request<pb::GetTaskDependenciesRequest>,
    ) -> Result<Response<pb::GetTaskDependenciesResponse>, Status> {
        let pb::GetTaskDependenciesRequest { task_id, task_name } = request.into_inner();
        let task = match (task_id, task_name.is_empty()) {
            (id, true) if id > 0 => Start::TaskId(id),
            (0, false) => Start::TaskName(task_name),
            _ => {
                return Err(Error::invalid_field(
                    "task_id",
                    "set a positive task_id or a task_name, not both",
                )
                .into());
            }
        };
        let deps = self.catalog.task_dependencies(&task).await?;
        let to_pb = |list: Vec<(i64, String, Vec<String>)>| {
            list.into_iter()
                .map(|(task_id, task_name, via_tables)| pb::TaskDependency { task_id, task_name, via_tables })
                .collect()
        };
        Ok(Response::new(pb::GetTaskDependenciesResponse {
            upstream: to_pb(deps.upstream),
            downstream: to_pb(deps.downstream),
        }))
    }

    async fn analyze_sql(
        &self,
        request: Request<pb::AnalyzeSqlRequest>,
    ) -> Result<Response<pb::AnalyzeSqlResponse>, Status> {
        let pb::AnalyzeSqlRequest { sql, dialect, params } = request.into_inner();
        let dialect = match pb::SqlDialect::try_from(dialect) {
            Ok(pb::SqlDialect::Unspecified | pb::SqlDialect::Mysql) => SqlDialect::MySql,
            Ok(pb::SqlDialect::Hive) => SqlDialect::Hive,
            Err(_) => {
                return Err(Error::invalid_field("dialect", format!("{dialect} is not a known value")).into());
            }
        };
        if sql.len() > crate::domain::task::MAX_BODY_BYTES {
            return Err(Error::invalid_field("sql", "is larger than a task body may be").into());
        }
        let lineage = self.catalog.analyze_sql(sql, dialect, params.into_iter().collect()).await?;
        Ok(Response::new(pb::AnalyzeSqlResponse { inputs: lineage.inputs, outputs: lineage.outputs }))
    }
}

//! Conversions between the generated API types and the domain. Generated types go no further.

use prost_types::{Duration, FieldMask, Timestamp};

use crate::app::tables::TableAttribute;
use crate::app::tasks::TaskAttribute;
use crate::domain::datasource::{DriftItem, DriftKind};
use crate::domain::execution::{ExecutionRecord, ExecutionSource, ExecutionState, ExecutionStats};
use crate::domain::lineage::{EdgeSource, LineageWarning, WarningKind};
use crate::domain::table::{Field, Layer, Table, TableDraft, TableStatus};
use crate::domain::task::{Engine, Priority, Task, TaskBody, TaskDraft, TaskType};
use crate::domain::{EpochMillis, Etag, Lookup};
use crate::error::{Error, Result, Violations};
use crate::proto::v1 as pb;
use crate::scheduler::dolphin::alert::AlertKind;

/// The resource a Get names: exactly one of a positive id and a name.
pub fn lookup(id: i64, name: String) -> Result<Lookup> {
    match (id, name.is_empty()) {
        (0, true) => Err(Error::invalid_field("id", "set id or name")),
        (id, true) if id > 0 => Ok(Lookup::Id(id)),
        (0, false) => Ok(Lookup::Name(name)),
        (id, _) if id < 0 => Err(Error::invalid_field("id", "must be positive")),
        _ => Err(Error::invalid_field("name", "set id or name, not both")),
    }
}

/// A positive id of a Delete.
pub fn id(id: i64) -> Result<i64> {
    if id > 0 { Ok(id) } else { Err(Error::invalid_field("id", "must be positive")) }
}

/// An etag a caller sent back; empty means "any version".
pub fn etag(field: &str, etag: &str) -> Result<Option<Etag>> {
    if etag.is_empty() {
        return Ok(None);
    }
    Etag::parse(etag)
        .map(Some)
        .ok_or_else(|| Error::invalid_field(field, "is not an etag this service issued"))
}

/// Milliseconds since the epoch as a protobuf timestamp.
pub fn timestamp(millis: EpochMillis) -> Option<Timestamp> {
    Some(Timestamp { seconds: millis.div_euclid(1000), nanos: (millis.rem_euclid(1000) * 1_000_000) as i32 })
}

/// An enum field's value, `None` for the unspecified zero, a violation for a number the API
/// does not define.
fn enum_value<E: TryFrom<i32>>(field: &str, value: i32, violations: &mut Violations) -> Option<E> {
    match E::try_from(value) {
        Ok(value) => Some(value),
        Err(_) => {
            violations.add(field, format!("{value} is not a known value"));
            None
        }
    }
}

// ---- tables ----

/// The domain form of a layer, `None` for unspecified.
pub fn layer_from_pb(layer: pb::Layer) -> Option<Layer> {
    match layer {
        pb::Layer::Unspecified => None,
        pb::Layer::Ods => Some(Layer::Ods),
        pb::Layer::Dwd => Some(Layer::Dwd),
        pb::Layer::Dim => Some(Layer::Dim),
        pb::Layer::Dws => Some(Layer::Dws),
        pb::Layer::Ads => Some(Layer::Ads),
    }
}

/// The API form of a layer.
pub fn layer_to_pb(layer: Layer) -> pb::Layer {
    match layer {
        Layer::Ods => pb::Layer::Ods,
        Layer::Dwd => pb::Layer::Dwd,
        Layer::Dim => pb::Layer::Dim,
        Layer::Dws => pb::Layer::Dws,
        Layer::Ads => pb::Layer::Ads,
        Layer::Unassigned => pb::Layer::Unspecified,
    }
}

/// A layer filter of a listing.
pub fn layer_filter(layer: i32) -> Result<Option<Layer>> {
    let mut violations = Violations::default();
    let layer = enum_value::<pb::Layer>("layer", layer, &mut violations).and_then(layer_from_pb);
    violations.into_result(layer)
}

/// What a caller asks a table to be, and what could not be read of it (unknown enum values).
pub fn table_draft(table: pb::Table) -> (TableDraft, Violations) {
    let pb::Table {
        source: _,
        freshness: _,
        drift: _,
        id: _,
        name,
        database,
        layer,
        owner,
        description,
        status,
        fields,
        create_time: _,
        update_time: _,
        etag: _,
    } = table;
    let mut violations = Violations::default();
    let layer = enum_value::<pb::Layer>("layer", layer, &mut violations).and_then(layer_from_pb);
    let status = match enum_value::<pb::TableStatus>("status", status, &mut violations) {
        Some(pb::TableStatus::Active) => Some(TableStatus::Active),
        Some(pb::TableStatus::Deprecated) => Some(TableStatus::Deprecated),
        Some(pb::TableStatus::Unspecified) | None => None,
    };
    let fields = fields
        .into_iter()
        .map(|f| Field {
            name: f.name,
            data_type: f.r#type,
            comment: f.comment,
            nullable: f.nullable,
            primary_key: f.primary_key,
            position: f.position,
        })
        .collect();
    let draft = TableDraft { name, database, layer, owner, description, status, fields };
    (draft, violations)
}

/// The API form of a table; `with_fields` false leaves the fields out (the BASIC view).
pub fn table_to_pb(table: Table, with_fields: bool) -> pb::Table {
    let def = table.def;
    let fields = if with_fields {
        def.fields
            .into_iter()
            .map(|f| pb::Field {
                name: f.name,
                r#type: f.data_type,
                comment: f.comment,
                nullable: f.nullable,
                primary_key: f.primary_key,
                position: f.position,
            })
            .collect()
    } else {
        Vec::new()
    };
    pb::Table {
        id: table.id,
        name: def.name,
        database: def.database,
        layer: layer_to_pb(def.layer) as i32,
        owner: def.owner,
        description: def.description,
        status: match def.status {
            TableStatus::Active => pb::TableStatus::Active,
            TableStatus::Deprecated => pb::TableStatus::Deprecated,
        } as i32,
        fields,
        create_time: timestamp(table.created_at),
        update_time: timestamp(table.updated_at),
        etag: Etag::of(table.id, table.version).to_string(),
        source: table.source.map(|s| pb::TableSource {
            data_source: s.data_source,
            rows: s.rows.unwrap_or_default(),
            data_bytes: s.data_bytes.unwrap_or_default(),
            last_modified: s.last_modified,
            sync_time: timestamp(s.synced_at),
            gone: s.gone,
        }),
        drift: table.drift.into_iter().map(drift_to_pb).collect(),
        freshness: None,
    }
}

/// A drift item for the API.
pub fn drift_to_pb(item: DriftItem) -> pb::DriftItem {
    pb::DriftItem {
        kind: match item.kind {
            DriftKind::ColumnAdded => pb::DriftKind::ColumnAdded,
            DriftKind::ColumnDropped => pb::DriftKind::ColumnDropped,
            DriftKind::ColumnRetyped => pb::DriftKind::ColumnRetyped,
            DriftKind::TableGone => pb::DriftKind::TableGone,
        } as i32,
        column: item.column,
        portal_type: item.portal_type,
        warehouse_type: item.warehouse_type,
        detect_time: timestamp(item.detected_at),
    }
}

/// The attributes an update changes: the mask's paths, or every attribute set in `table`.
pub fn table_mask(mask: Option<FieldMask>, table: &pb::Table) -> Result<Vec<TableAttribute>> {
    let paths = mask.map(|m| m.paths).unwrap_or_default();
    if paths.is_empty() {
        let set = [
            (!table.name.is_empty(), TableAttribute::Name),
            (!table.database.is_empty(), TableAttribute::Database),
            (table.layer != 0, TableAttribute::Layer),
            (!table.owner.is_empty(), TableAttribute::Owner),
            (!table.description.is_empty(), TableAttribute::Description),
            (table.status != 0, TableAttribute::Status),
            (!table.fields.is_empty(), TableAttribute::Fields),
        ];
        return non_empty(set.into_iter().filter(|(is_set, _)| *is_set).map(|(_, a)| a).collect());
    }
    parse_paths(&paths, |path| {
        Some(match path {
            "name" => TableAttribute::Name,
            "database" => TableAttribute::Database,
            "layer" => TableAttribute::Layer,
            "owner" => TableAttribute::Owner,
            "description" => TableAttribute::Description,
            "status" => TableAttribute::Status,
            "fields" => TableAttribute::Fields,
            _ => return None,
        })
    })
}

pub(super) fn non_empty<T>(attributes: Vec<T>) -> Result<Vec<T>> {
    if attributes.is_empty() {
        Err(Error::invalid_field("update_mask", "names nothing to change, and no field is set"))
    } else {
        Ok(attributes)
    }
}

pub(super) fn parse_paths<T>(paths: &[String], parse: impl Fn(&str) -> Option<T>) -> Result<Vec<T>> {
    let mut violations = Violations::default();
    let mut attributes = Vec::new();
    for (index, path) in paths.iter().enumerate() {
        match parse(path) {
            Some(attribute) => attributes.push(attribute),
            None => {
                violations.add(format!("update_mask.paths[{index}]"), format!("{path:?} cannot be updated"))
            }
        }
    }
    violations.into_result(attributes)
}

// ---- tasks ----

fn task_type_from_pb(value: pb::TaskType) -> Option<TaskType> {
    match value {
        pb::TaskType::Unspecified => None,
        pb::TaskType::Batch => Some(TaskType::Batch),
        pb::TaskType::Stream => Some(TaskType::Stream),
    }
}

fn engine_from_pb(value: pb::Engine) -> Option<Engine> {
    match value {
        pb::Engine::Unspecified => None,
        pb::Engine::Dolphin => Some(Engine::Dolphin),
        pb::Engine::Dinky => Some(Engine::Dinky),
    }
}

/// Type and engine filters of a listing.
pub fn task_kind_filters(task_type: i32, engine: i32) -> Result<(Option<TaskType>, Option<Engine>)> {
    let mut violations = Violations::default();
    let task_type =
        enum_value::<pb::TaskType>("task_type", task_type, &mut violations).and_then(task_type_from_pb);
    let engine = enum_value::<pb::Engine>("engine", engine, &mut violations).and_then(engine_from_pb);
    violations.into_result((task_type, engine))
}

fn whole_seconds(field: &str, duration: Option<Duration>, violations: &mut Violations) -> i64 {
    match duration {
        None => 0,
        Some(d) if d.nanos != 0 => {
            violations.add(field, "must be a whole number of seconds");
            0
        }
        Some(d) => d.seconds,
    }
}

/// What a caller asks a task to be, and what could not be read of it (unknown enum values,
/// fractional seconds).
pub fn task_draft(task: pb::Task) -> (TaskDraft, Violations) {
    let pb::Task {
        id: _,
        name,
        description,
        owner,
        task_type,
        engine,
        body,
        datasource,
        schedule,
        inputs,
        outputs,
        retries,
        retry_interval,
        timeout,
        priority,
        create_time: _,
        update_time: _,
        etag: _,
        linked_inputs: _,
        linked_outputs: _,
        lineage_warnings: _,
    } = task;
    let mut violations = Violations::default();
    let task_type =
        enum_value::<pb::TaskType>("task_type", task_type, &mut violations).and_then(task_type_from_pb);
    let engine = enum_value::<pb::Engine>("engine", engine, &mut violations).and_then(engine_from_pb);
    let priority = match enum_value::<pb::Priority>("priority", priority, &mut violations) {
        None | Some(pb::Priority::Unspecified) => None,
        Some(pb::Priority::Highest) => Some(Priority::Highest),
        Some(pb::Priority::High) => Some(Priority::High),
        Some(pb::Priority::Medium) => Some(Priority::Medium),
        Some(pb::Priority::Low) => Some(Priority::Low),
        Some(pb::Priority::Lowest) => Some(Priority::Lowest),
    };
    let body = body.map(|body| match body {
        pb::task::Body::Sql(text) => TaskBody::Sql(text),
        pb::task::Body::Shell(text) => TaskBody::Shell(text),
        pb::task::Body::Python(text) => TaskBody::Python(text),
    });
    let retry_interval_secs = whole_seconds("retry_interval", retry_interval, &mut violations);
    let timeout_secs = whole_seconds("timeout", timeout, &mut violations);
    let draft = TaskDraft {
        name,
        description,
        owner,
        task_type,
        engine,
        body,
        datasource,
        schedule,
        inputs,
        outputs,
        retries,
        retry_interval_secs,
        timeout_secs,
        priority,
    };
    (draft, violations)
}

/// The API form of where a link comes from.
pub fn edge_source_to_pb(source: EdgeSource) -> pb::EdgeSource {
    match source {
        EdgeSource::Declared => pb::EdgeSource::Declared,
        EdgeSource::Sql => pb::EdgeSource::Sql,
        EdgeSource::Both => pb::EdgeSource::Both,
    }
}

fn warning_to_pb(warning: LineageWarning) -> pb::LineageWarning {
    let kind = match warning.kind {
        WarningKind::UndeclaredInput => pb::LineageWarningKind::UndeclaredInput,
        WarningKind::UndeclaredOutput => pb::LineageWarningKind::UndeclaredOutput,
        WarningKind::InputNotInSql => pb::LineageWarningKind::InputNotInSql,
        WarningKind::OutputNotInSql => pb::LineageWarningKind::OutputNotInSql,
        WarningKind::LayerOrder => pb::LineageWarningKind::LayerOrder,
        WarningKind::SqlNotParsed => pb::LineageWarningKind::SqlNotParsed,
        WarningKind::SelfRead => pb::LineageWarningKind::SelfRead,
    };
    pb::LineageWarning { kind: kind as i32, table: warning.table, message: warning.message }
}

/// The API form of a task.
pub fn task_to_pb(task: Task) -> pb::Task {
    let links = |side: Vec<(String, EdgeSource)>| {
        side.into_iter()
            .map(|(table, source)| pb::TaskLink { table, source: edge_source_to_pb(source) as i32 })
            .collect()
    };
    let linked_inputs = links(task.links.inputs);
    let linked_outputs = links(task.links.outputs);
    let lineage_warnings = task.links.warnings.into_iter().map(warning_to_pb).collect();
    let def = task.def;
    pb::Task {
        id: task.id,
        name: def.name,
        description: def.description,
        owner: def.owner,
        task_type: match def.task_type {
            TaskType::Batch => pb::TaskType::Batch,
            TaskType::Stream => pb::TaskType::Stream,
        } as i32,
        engine: match def.engine {
            Engine::Dolphin => pb::Engine::Dolphin,
            Engine::Dinky => pb::Engine::Dinky,
        } as i32,
        body: Some(match def.body {
            TaskBody::Sql(text) => pb::task::Body::Sql(text),
            TaskBody::Shell(text) => pb::task::Body::Shell(text),
            TaskBody::Python(text) => pb::task::Body::Python(text),
        }),
        datasource: def.datasource,
        schedule: def.schedule.map(|s| s.to_string()).unwrap_or_default(),
        inputs: def.inputs,
        outputs: def.outputs,
        retries: def.retries,
        retry_interval: Some(Duration { seconds: def.retry_interval_secs, nanos: 0 }),
        timeout: Some(Duration { seconds: def.timeout_secs, nanos: 0 }),
        priority: match def.priority {
            Priority::Highest => pb::Priority::Highest,
            Priority::High => pb::Priority::High,
            Priority::Medium => pb::Priority::Medium,
            Priority::Low => pb::Priority::Low,
            Priority::Lowest => pb::Priority::Lowest,
        } as i32,
        create_time: timestamp(task.created_at),
        update_time: timestamp(task.updated_at),
        etag: Etag::of(task.id, task.version).to_string(),
        linked_inputs,
        linked_outputs,
        lineage_warnings,
    }
}

/// The attributes an update changes: the mask's paths, or every attribute set in `task`.
pub fn task_mask(mask: Option<FieldMask>, task: &pb::Task) -> Result<Vec<TaskAttribute>> {
    let paths = mask.map(|m| m.paths).unwrap_or_default();
    if paths.is_empty() {
        let set = [
            (!task.name.is_empty(), TaskAttribute::Name),
            (!task.description.is_empty(), TaskAttribute::Description),
            (!task.owner.is_empty(), TaskAttribute::Owner),
            (task.task_type != 0, TaskAttribute::TaskType),
            (task.engine != 0, TaskAttribute::Engine),
            (task.body.is_some(), TaskAttribute::Body),
            (!task.datasource.is_empty(), TaskAttribute::Datasource),
            (!task.schedule.is_empty(), TaskAttribute::Schedule),
            (!task.inputs.is_empty(), TaskAttribute::Inputs),
            (!task.outputs.is_empty(), TaskAttribute::Outputs),
            (task.retries != 0, TaskAttribute::Retries),
            (task.retry_interval.is_some(), TaskAttribute::RetryInterval),
            (task.timeout.is_some(), TaskAttribute::Timeout),
            (task.priority != 0, TaskAttribute::Priority),
        ];
        return non_empty(set.into_iter().filter(|(is_set, _)| *is_set).map(|(_, a)| a).collect());
    }
    parse_paths(&paths, |path| {
        Some(match path {
            "name" => TaskAttribute::Name,
            "description" => TaskAttribute::Description,
            "owner" => TaskAttribute::Owner,
            "task_type" => TaskAttribute::TaskType,
            "engine" => TaskAttribute::Engine,
            "body" | "sql" | "shell" | "python" => TaskAttribute::Body,
            "datasource" => TaskAttribute::Datasource,
            "schedule" => TaskAttribute::Schedule,
            "inputs" => TaskAttribute::Inputs,
            "outputs" => TaskAttribute::Outputs,
            "retries" => TaskAttribute::Retries,
            "retry_interval" => TaskAttribute::RetryInterval,
            "timeout" => TaskAttribute::Timeout,
            "priority" => TaskAttribute::Priority,
            _ => return None,
        })
    })
}

// ---- executions ----

/// Milliseconds since the epoch of a protobuf timestamp.
pub fn timestamp_millis(timestamp: &Timestamp) -> EpochMillis {
    timestamp.seconds.saturating_mul(1000).saturating_add(i64::from(timestamp.nanos) / 1_000_000)
}

fn execution_state_to_pb(state: ExecutionState) -> pb::ExecutionState {
    match state {
        ExecutionState::Pending => pb::ExecutionState::Pending,
        ExecutionState::Running => pb::ExecutionState::Running,
        ExecutionState::Succeeded => pb::ExecutionState::Succeeded,
        ExecutionState::Failed => pb::ExecutionState::Failed,
        ExecutionState::Stopped => pb::ExecutionState::Stopped,
        ExecutionState::Paused => pb::ExecutionState::Paused,
    }
}

/// The state a listing filters on; `None` for unspecified.
pub fn execution_state_filter(state: i32) -> Result<Option<ExecutionState>> {
    let mut violations = Violations::default();
    let state = enum_value::<pb::ExecutionState>("state", state, &mut violations);
    violations.into_result(())?;
    Ok(state.and_then(|state| match state {
        pb::ExecutionState::Unspecified => None,
        pb::ExecutionState::Pending => Some(ExecutionState::Pending),
        pb::ExecutionState::Running => Some(ExecutionState::Running),
        pb::ExecutionState::Succeeded => Some(ExecutionState::Succeeded),
        pb::ExecutionState::Failed => Some(ExecutionState::Failed),
        pb::ExecutionState::Stopped => Some(ExecutionState::Stopped),
        pb::ExecutionState::Paused => Some(ExecutionState::Paused),
    }))
}

/// The API form of an execution record.
pub fn execution_to_pb(record: ExecutionRecord) -> pb::Execution {
    let duration_ms = record.duration_ms().unwrap_or_default();
    pb::Execution {
        id: record.id,
        task_id: record.task_id,
        task_name: record.task_name,
        workflow_id: record.workflow_id.unwrap_or_default(),
        workflow_instance_id: record.workflow_instance_id.unwrap_or_default(),
        task_instance_id: record.task_instance_id.unwrap_or_default(),
        task_code: record.task_code.unwrap_or_default(),
        state: execution_state_to_pb(record.state).into(),
        scheduler_state: record.scheduler_state,
        start_time: record.start_time.and_then(timestamp),
        end_time: record.end_time.and_then(timestamp),
        duration_ms,
        rows_output: record.rows_output,
        host: record.host,
        log_path: record.log_path,
        attempt: record.attempt,
        source: match record.source {
            ExecutionSource::Callback => pb::ExecutionSource::Callback,
            ExecutionSource::Poll => pb::ExecutionSource::Poll,
        }
        .into(),
        create_time: timestamp(record.created_at),
        update_time: timestamp(record.updated_at),
    }
}

/// The API form of a task's run figures.
pub fn stats_to_pb(task_id: i64, stats: ExecutionStats) -> pb::ExecutionStats {
    pb::ExecutionStats {
        task_id,
        runs: stats.runs,
        succeeded: stats.succeeded,
        failed: stats.failed,
        in_progress: stats.in_progress,
        success_rate: stats.success_rate,
        p50_duration_ms: stats.p50_duration_ms,
        p95_duration_ms: stats.p95_duration_ms,
        last_success_time: stats.last_success_time.and_then(timestamp),
        rows_trend: stats
            .rows_trend
            .into_iter()
            .map(|(execution_id, start, rows_output)| pb::RowsPoint {
                execution_id,
                start_time: start.and_then(timestamp),
                rows_output,
            })
            .collect(),
    }
}

/// The API form of an alert's kind.
pub fn alert_kind_to_pb(kind: AlertKind) -> pb::AlertKind {
    match kind {
        AlertKind::Runs => pb::AlertKind::Runs,
        AlertKind::Empty => pb::AlertKind::Empty,
        AlertKind::Test => pb::AlertKind::Test,
        AlertKind::Misconfigured => pb::AlertKind::Misconfigured,
        AlertKind::Other => pb::AlertKind::Other,
    }
}

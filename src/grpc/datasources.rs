//! `dataportal.v1.DataSourceService`, and the conversions of data sources and sync reports.

use prost_types::FieldMask;
use tonic::{Request, Response, Status};

use super::convert::{self, drift_to_pb, non_empty, parse_paths, timestamp};
use crate::app::datasources::{DataSourceAttribute, DataSources, SyncReport};
use crate::domain::datasource::{DataSource, DataSourceDef, DataSourceKind};
use crate::domain::{Etag, Lookup};
use crate::error::{Error, Result};
use crate::proto::v1 as pb;
use crate::proto::v1::data_source_service_server::DataSourceService;

/// Serves data sources and syncs.
#[derive(Debug, Clone)]
pub struct DataSourceApi {
    data_sources: DataSources,
}

impl DataSourceApi {
    /// Serves `data_sources`.
    pub fn new(data_sources: DataSources) -> Self {
        Self { data_sources }
    }
}

#[tonic::async_trait]
impl DataSourceService for DataSourceApi {
    async fn create_data_source(
        &self,
        request: Request<pb::CreateDataSourceRequest>,
    ) -> Result<Response<pb::CreateDataSourceResponse>, Status> {
        let source = request
            .into_inner()
            .data_source
            .ok_or_else(|| Error::invalid_field("data_source", "is required"))?;
        let (def, password) = def_from_pb(source).map_err(|e| nest(e, "data_source"))?;
        let created = self.data_sources.create(def, password).await.map_err(|e| nest(e, "data_source"))?;
        Ok(Response::new(pb::CreateDataSourceResponse { data_source: Some(to_pb(created)) }))
    }

    async fn get_data_source(
        &self,
        request: Request<pb::GetDataSourceRequest>,
    ) -> Result<Response<pb::GetDataSourceResponse>, Status> {
        let pb::GetDataSourceRequest { id, name } = request.into_inner();
        let source = self.data_sources.get(&convert::lookup(id, name)?).await?;
        Ok(Response::new(pb::GetDataSourceResponse { data_source: Some(to_pb(source)) }))
    }

    async fn list_data_sources(
        &self,
        request: Request<pb::ListDataSourcesRequest>,
    ) -> Result<Response<pb::ListDataSourcesResponse>, Status> {
        let pb::ListDataSourcesRequest { page_size, page_token } = request.into_inner();
        let page = self.data_sources.list(page_size, &page_token).await?;
        Ok(Response::new(pb::ListDataSourcesResponse {
            data_sources: page.data_sources.into_iter().map(to_pb).collect(),
            next_page_token: page.next_page_token,
            total_size: page.total_size,
        }))
    }

    async fn update_data_source(
        &self,
        request: Request<pb::UpdateDataSourceRequest>,
    ) -> Result<Response<pb::UpdateDataSourceResponse>, Status> {
        let pb::UpdateDataSourceRequest { data_source, update_mask } = request.into_inner();
        let source = data_source.ok_or_else(|| Error::invalid_field("data_source", "is required"))?;
        let id = convert::id(source.id).map_err(|e| nest(e, "data_source"))?;
        let etag = convert::etag("data_source.etag", &source.etag)?;
        let attributes = mask(update_mask, &source)?;
        let (patch, password) = patch_from_pb(source);
        let updated = self.data_sources.update(id, patch, password, &attributes, etag).await?;
        Ok(Response::new(pb::UpdateDataSourceResponse { data_source: Some(to_pb(updated)) }))
    }

    async fn delete_data_source(
        &self,
        request: Request<pb::DeleteDataSourceRequest>,
    ) -> Result<Response<pb::DeleteDataSourceResponse>, Status> {
        let pb::DeleteDataSourceRequest { id, etag } = request.into_inner();
        let etag = convert::etag("etag", &etag)?;
        self.data_sources.delete(convert::id(id)?, etag).await?;
        Ok(Response::new(pb::DeleteDataSourceResponse {}))
    }

    async fn test_data_source(
        &self,
        request: Request<pb::TestDataSourceRequest>,
    ) -> Result<Response<pb::TestDataSourceResponse>, Status> {
        let pb::TestDataSourceRequest { id, name } = request.into_inner();
        let result = self.data_sources.test(&convert::lookup(id, name)?).await?;
        Ok(Response::new(pb::TestDataSourceResponse {
            server_version: result.server_version,
            databases: result.databases,
            latency_ms: result.latency.as_millis() as i64,
        }))
    }

    async fn sync_tables(
        &self,
        request: Request<pb::SyncTablesRequest>,
    ) -> Result<Response<pb::SyncTablesResponse>, Status> {
        let pb::SyncTablesRequest { id, name, databases, table_pattern } = request.into_inner();
        let lookup: Lookup = convert::lookup(id, name)?;
        let report = self.data_sources.sync(&lookup, databases, table_pattern).await?;
        Ok(Response::new(pb::SyncTablesResponse { report: Some(report_to_pb(report)) }))
    }

    async fn acknowledge_drift(
        &self,
        request: Request<pb::AcknowledgeDriftRequest>,
    ) -> Result<Response<pb::AcknowledgeDriftResponse>, Status> {
        let table_id = request.into_inner().table_id;
        if table_id <= 0 {
            return Err(Error::invalid_field("table_id", "must be positive").into());
        }
        self.data_sources.acknowledge_drift(table_id).await?;
        Ok(Response::new(pb::AcknowledgeDriftResponse {}))
    }
}

/// Field paths of the data source's violations, nested under `parent`.
fn nest(mut e: Error, parent: &str) -> Error {
    for v in &mut e.violations {
        if !v.field.starts_with(parent) {
            v.field = format!("{parent}.{}", v.field);
        }
    }
    e
}

fn kind_from_pb(kind: i32) -> Option<DataSourceKind> {
    match pb::DataSourceKind::try_from(kind) {
        Ok(pb::DataSourceKind::Doris) => Some(DataSourceKind::Doris),
        Ok(pb::DataSourceKind::Mysql) => Some(DataSourceKind::MySql),
        _ => None,
    }
}

/// A definition from a create request, and the password.
fn def_from_pb(source: pb::DataSource) -> Result<(DataSourceDef, Option<String>)> {
    let kind = kind_from_pb(source.kind).ok_or_else(|| {
        Error::invalid_field("kind", "must be DATA_SOURCE_KIND_DORIS or DATA_SOURCE_KIND_MYSQL")
    })?;
    let port = u16::try_from(source.port)
        .map_err(|_| Error::invalid_field("port", "must be between 1 and 65535"))?;
    let def = DataSourceDef {
        name: source.name,
        kind,
        host: source.host,
        port,
        user: source.user,
        default_database: source.default_database,
        options: source.options.into_iter().collect(),
        sync_interval_secs: source.sync_interval_seconds,
        sync_databases: source.sync_databases,
        sync_table_pattern: source.sync_table_pattern,
    };
    Ok((def, Some(source.password).filter(|p| !p.is_empty())))
}

/// The values of an update (only the masked ones are applied).
fn patch_from_pb(source: pb::DataSource) -> (DataSourceDef, Option<String>) {
    let def = DataSourceDef {
        name: source.name,
        kind: kind_from_pb(source.kind).unwrap_or(DataSourceKind::MySql),
        host: source.host,
        port: u16::try_from(source.port).unwrap_or(0),
        user: source.user,
        default_database: source.default_database,
        options: source.options.into_iter().collect(),
        sync_interval_secs: source.sync_interval_seconds,
        sync_databases: source.sync_databases,
        sync_table_pattern: source.sync_table_pattern,
    };
    (def, Some(source.password))
}

/// What an update changes: the mask's paths, or every set field.
fn mask(mask: Option<FieldMask>, source: &pb::DataSource) -> Result<Vec<DataSourceAttribute>> {
    let paths = mask.map(|m| m.paths).unwrap_or_default();
    if paths.is_empty() {
        let set = [
            (source.kind != 0, DataSourceAttribute::Kind),
            (!source.host.is_empty(), DataSourceAttribute::Host),
            (source.port != 0, DataSourceAttribute::Port),
            (!source.user.is_empty(), DataSourceAttribute::User),
            (!source.password.is_empty(), DataSourceAttribute::Password),
            (!source.default_database.is_empty(), DataSourceAttribute::DefaultDatabase),
            (!source.options.is_empty(), DataSourceAttribute::Options),
            (source.sync_interval_seconds != 0, DataSourceAttribute::SyncInterval),
            (!source.sync_databases.is_empty(), DataSourceAttribute::SyncDatabases),
            (!source.sync_table_pattern.is_empty(), DataSourceAttribute::SyncTablePattern),
        ];
        return non_empty(set.into_iter().filter(|(is_set, _)| *is_set).map(|(_, a)| a).collect());
    }
    if source.kind != 0 && kind_from_pb(source.kind).is_none() {
        return Err(Error::invalid_field("data_source.kind", "is not a known kind"));
    }
    parse_paths(&paths, |path| {
        Some(match path {
            "kind" => DataSourceAttribute::Kind,
            "host" => DataSourceAttribute::Host,
            "port" => DataSourceAttribute::Port,
            "user" => DataSourceAttribute::User,
            "password" => DataSourceAttribute::Password,
            "default_database" => DataSourceAttribute::DefaultDatabase,
            "options" => DataSourceAttribute::Options,
            "sync_interval_seconds" => DataSourceAttribute::SyncInterval,
            "sync_databases" => DataSourceAttribute::SyncDatabases,
            "sync_table_pattern" => DataSourceAttribute::SyncTablePattern,
            _ => return None,
        })
    })
}

/// A data source for the API: never its password.
fn to_pb(source: DataSource) -> pb::DataSource {
    let last_sync = source.last_sync_at.map(|at| pb::SyncOutcome {
        end_time: timestamp(at),
        report: serde_json::from_str::<SyncReport>(&source.last_sync_report).ok().map(report_to_pb),
        error: source.last_sync_error.clone(),
    });
    let def = source.def;
    pb::DataSource {
        id: source.id,
        etag: Etag::of(source.id, source.version).to_string(),
        kind: match def.kind {
            DataSourceKind::Doris => pb::DataSourceKind::Doris,
            DataSourceKind::MySql => pb::DataSourceKind::Mysql,
        } as i32,
        name: def.name,
        host: def.host,
        port: i32::from(def.port),
        user: def.user,
        password: String::new(),
        has_password: !source.password_sealed.is_empty(),
        default_database: def.default_database,
        options: def.options.into_iter().collect(),
        sync_interval_seconds: def.sync_interval_secs,
        sync_databases: def.sync_databases,
        sync_table_pattern: def.sync_table_pattern,
        last_sync,
        create_time: timestamp(source.created_at),
        update_time: timestamp(source.updated_at),
    }
}

fn report_to_pb(report: SyncReport) -> pb::SyncReport {
    pb::SyncReport {
        databases: report.databases,
        tables_seen: report.tables_seen as i32,
        tables_added: report.tables_added as i32,
        tables_changed: report.tables_changed as i32,
        tables_gone: report.tables_gone as i32,
        skipped: report
            .skipped
            .into_iter()
            .map(|(table, reason)| pb::SkippedTable { table, reason })
            .collect(),
        drift: report
            .drift
            .into_iter()
            .map(|(table, items)| pb::TableDriftReport {
                table,
                items: items.into_iter().map(drift_to_pb).collect(),
            })
            .collect(),
        duration_ms: report.duration_ms as i64,
    }
}

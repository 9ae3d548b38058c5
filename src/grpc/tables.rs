//! `dataportal.v1.TableService`.

use tonic::{Request, Response, Status};

use super::convert;
use crate::app::Catalog;
use crate::app::executions::Executions;
use crate::domain::table::TableDef;
use crate::error::Error;
use crate::proto::v1 as pb;
use crate::proto::v1::table_service_server::TableService;
use crate::storage::TableFilter;

/// Serves the table registry.
#[derive(Debug, Clone)]
pub struct TableApi {
    catalog: Catalog,
    executions: Executions,
}

impl TableApi {
    /// Serves `catalog`, with the freshness the runs in `executions` give each table.
    pub fn new(catalog: Catalog, executions: Executions) -> Self {
        Self { catalog, executions }
    }
}

fn required<T>(field: &str, value: Option<T>) -> Result<T, Error> {
    value.ok_or_else(|| Error::invalid_field(field, "is required"))
}

#[tonic::async_trait]
impl TableService for TableApi {
    async fn create_table(
        &self,
        request: Request<pb::CreateTableRequest>,
    ) -> Result<Response<pb::CreateTableResponse>, Status> {
        let table = required("table", request.into_inner().table)?;
        let (draft, mut violations) = convert::table_draft(table);
        if !violations.is_empty() {
            // Report what the domain finds wrong too, so the caller sees every problem at once.
            if let Err(more) = TableDef::validate(draft) {
                violations.extend(more);
            }
            return Err(violations.nested_under("table").into_error().into());
        }
        let table = self.catalog.create_table(draft).await?;
        Ok(Response::new(pb::CreateTableResponse { table: Some(convert::table_to_pb(table, true)) }))
    }

    async fn get_table(
        &self,
        request: Request<pb::GetTableRequest>,
    ) -> Result<Response<pb::GetTableResponse>, Status> {
        let pb::GetTableRequest { id, name } = request.into_inner();
        let table = self.catalog.get_table(&convert::lookup(id, name)?).await?;
        let freshness = self.executions.freshness(table.id).await?;
        let mut table = convert::table_to_pb(table, true);
        table.freshness = freshness.map(|f| pb::Freshness {
            last_success_time: convert::timestamp(f.last_success_time),
            task_id: f.task_id,
            execution_id: f.execution_id,
        });
        Ok(Response::new(pb::GetTableResponse { table: Some(table) }))
    }

    async fn list_tables(
        &self,
        request: Request<pb::ListTablesRequest>,
    ) -> Result<Response<pb::ListTablesResponse>, Status> {
        let pb::ListTablesRequest { page_size, page_token, layer, owner, database, name_contains, view } =
            request.into_inner();
        let filter = TableFilter { layer: convert::layer_filter(layer)?, owner, database, name_contains };
        let with_fields = match pb::TableView::try_from(view) {
            Ok(pb::TableView::Full) => true,
            Ok(pb::TableView::Basic | pb::TableView::Unspecified) => false,
            Err(_) => {
                return Err(Error::invalid_field("view", format!("{view} is not a known value")).into());
            }
        };
        let page = self.catalog.list_tables(&filter, page_size, &page_token, with_fields).await?;
        Ok(Response::new(pb::ListTablesResponse {
            tables: page.tables.into_iter().map(|t| convert::table_to_pb(t, with_fields)).collect(),
            next_page_token: page.next_page_token,
            total_size: i32::try_from(page.total_size).unwrap_or(i32::MAX),
        }))
    }

    async fn update_table(
        &self,
        request: Request<pb::UpdateTableRequest>,
    ) -> Result<Response<pb::UpdateTableResponse>, Status> {
        let pb::UpdateTableRequest { table, update_mask } = request.into_inner();
        let table = required("table", table)?;
        let attributes = convert::table_mask(update_mask, &table)?;
        let target =
            convert::lookup(table.id, if table.id == 0 { table.name.clone() } else { String::new() })
                .map_err(|_| {
                    Error::invalid_field("table.id", "set the id (or, with id 0, the name) of the table")
                })?;
        let etag = convert::etag("table.etag", &table.etag)?;
        let (draft, violations) = convert::table_draft(table);
        violations.nested_under("table").into_result(())?;
        let table = self.catalog.update_table(&target, draft, &attributes, etag).await?;
        Ok(Response::new(pb::UpdateTableResponse { table: Some(convert::table_to_pb(table, true)) }))
    }

    async fn delete_table(
        &self,
        request: Request<pb::DeleteTableRequest>,
    ) -> Result<Response<pb::DeleteTableResponse>, Status> {
        let pb::DeleteTableRequest { id, etag } = request.into_inner();
        self.catalog.delete_table(convert::id(id)?, convert::etag("etag", &etag)?).await?;
        Ok(Response::new(pb::DeleteTableResponse {}))
    }
}

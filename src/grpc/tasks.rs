//! `dataportal.v1.TaskService`.

use tonic::{Request, Response, Status};

use super::convert;
use crate::app::Catalog;
use crate::app::executions::Executions;
use crate::app::workflows::Workflows;
use crate::domain::task::TaskDef;
use crate::error::Error;
use crate::proto::v1 as pb;
use crate::proto::v1::task_service_server::TaskService;
use crate::storage::{ExecutionFilter, TaskFilter};

/// Serves task definitions.
#[derive(Debug, Clone)]
pub struct TaskApi {
    catalog: Catalog,
    workflows: Workflows,
    executions: Executions,
}

impl TaskApi {
    /// Serves `catalog`, publishing through `workflows`, with the runs `executions` records.
    pub fn new(catalog: Catalog, workflows: Workflows, executions: Executions) -> Self {
        Self { catalog, workflows, executions }
    }
}

/// A positive id an execution call names.
fn positive(field: &str, value: i64) -> Result<i64, Error> {
    if value > 0 { Ok(value) } else { Err(Error::invalid_field(field, "must be positive")) }
}

#[tonic::async_trait]
impl TaskService for TaskApi {
    async fn create_task(
        &self,
        request: Request<pb::CreateTaskRequest>,
    ) -> Result<Response<pb::CreateTaskResponse>, Status> {
        let pb::CreateTaskRequest { task, register_missing_tables } = request.into_inner();
        let task = task.ok_or_else(|| Error::invalid_field("task", "is required"))?;
        let (draft, mut violations) = convert::task_draft(task);
        if !violations.is_empty() {
            // Report what the domain finds wrong too, so the caller sees every problem at once.
            if let Err(more) = TaskDef::validate(draft) {
                violations.extend(more);
            }
            return Err(violations.nested_under("task").into_error().into());
        }
        let task = self.catalog.create_task(draft, register_missing_tables).await?;
        Ok(Response::new(pb::CreateTaskResponse { task: Some(convert::task_to_pb(task)) }))
    }

    async fn get_task(
        &self,
        request: Request<pb::GetTaskRequest>,
    ) -> Result<Response<pb::GetTaskResponse>, Status> {
        let pb::GetTaskRequest { id, name } = request.into_inner();
        let task = self.catalog.get_task(&convert::lookup(id, name)?).await?;
        Ok(Response::new(pb::GetTaskResponse { task: Some(convert::task_to_pb(task)) }))
    }

    async fn list_tasks(
        &self,
        request: Request<pb::ListTasksRequest>,
    ) -> Result<Response<pb::ListTasksResponse>, Status> {
        let pb::ListTasksRequest {
            page_size,
            page_token,
            engine,
            task_type,
            owner,
            reads_table,
            writes_table,
            name_contains,
        } = request.into_inner();
        let (task_type, engine) = convert::task_kind_filters(task_type, engine)?;
        let filter = TaskFilter { engine, task_type, owner, reads_table, writes_table, name_contains };
        let page = self.catalog.list_tasks(&filter, page_size, &page_token).await?;
        Ok(Response::new(pb::ListTasksResponse {
            tasks: page.tasks.into_iter().map(convert::task_to_pb).collect(),
            next_page_token: page.next_page_token,
            total_size: i32::try_from(page.total_size).unwrap_or(i32::MAX),
        }))
    }

    async fn update_task(
        &self,
        request: Request<pb::UpdateTaskRequest>,
    ) -> Result<Response<pb::UpdateTaskResponse>, Status> {
        let pb::UpdateTaskRequest { task, update_mask, register_missing_tables } = request.into_inner();
        let task = task.ok_or_else(|| Error::invalid_field("task", "is required"))?;
        let attributes = convert::task_mask(update_mask, &task)?;
        let target = convert::lookup(task.id, if task.id == 0 { task.name.clone() } else { String::new() })
            .map_err(|_| {
            Error::invalid_field("task.id", "set the id (or, with id 0, the name) of the task")
        })?;
        let etag = convert::etag("task.etag", &task.etag)?;
        let (draft, violations) = convert::task_draft(task);
        violations.nested_under("task").into_result(())?;
        let task =
            self.catalog.update_task(&target, draft, &attributes, etag, register_missing_tables).await?;
        Ok(Response::new(pb::UpdateTaskResponse { task: Some(convert::task_to_pb(task)) }))
    }

    async fn delete_task(
        &self,
        request: Request<pb::DeleteTaskRequest>,
    ) -> Result<Response<pb::DeleteTaskResponse>, Status> {
        let pb::DeleteTaskRequest { id, etag } = request.into_inner();
        self.catalog.delete_task(convert::id(id)?, convert::etag("etag", &etag)?).await?;
        Ok(Response::new(pb::DeleteTaskResponse {}))
    }

    async fn publish_task(
        &self,
        request: Request<pb::PublishTaskRequest>,
    ) -> Result<Response<pb::PublishTaskResponse>, Status> {
        let pb::PublishTaskRequest { id, name, auto_start, return_immediately } = request.into_inner();
        let workflow =
            self.workflows.publish_task(&convert::lookup(id, name)?, auto_start, !return_immediately).await?;
        let codes = self.workflows.task_codes(workflow.id).await?;
        let project_code = self.workflows.known_project_code().unwrap_or_default();
        Ok(Response::new(pb::PublishTaskResponse {
            workflow: Some(super::workflows::workflow_to_pb(workflow, codes, project_code)),
        }))
    }

    async fn list_executions(
        &self,
        request: Request<pb::ListExecutionsRequest>,
    ) -> Result<Response<pb::ListExecutionsResponse>, Status> {
        let pb::ListExecutionsRequest {
            page_size,
            page_token,
            task_id,
            table,
            state,
            start_after,
            start_before,
            workflow_id,
            workflow_instance_id,
        } = request.into_inner();
        let writes_table = match table.as_str() {
            "" => None,
            name => Some(self.executions.table_id(name).await?),
        };
        let filter = ExecutionFilter {
            task_id: Some(task_id).filter(|id| *id != 0),
            writes_table,
            state: convert::execution_state_filter(state)?,
            start_after: start_after.as_ref().map(convert::timestamp_millis),
            start_before: start_before.as_ref().map(convert::timestamp_millis),
            workflow_id: Some(workflow_id).filter(|id| *id != 0),
            workflow_instance_id: Some(workflow_instance_id).filter(|id| *id != 0),
        };
        let page = self.executions.list_executions(filter, page_size, &page_token).await?;
        Ok(Response::new(pb::ListExecutionsResponse {
            executions: page.executions.into_iter().map(convert::execution_to_pb).collect(),
            next_page_token: page.next_page_token,
            total_size: i32::try_from(page.total_size).unwrap_or(i32::MAX),
        }))
    }

    async fn get_execution(
        &self,
        request: Request<pb::GetExecutionRequest>,
    ) -> Result<Response<pb::GetExecutionResponse>, Status> {
        let id = positive("id", request.into_inner().id)?;
        let record = self.executions.get_execution(id).await?;
        Ok(Response::new(pb::GetExecutionResponse { execution: Some(convert::execution_to_pb(record)) }))
    }

    async fn get_execution_stats(
        &self,
        request: Request<pb::GetExecutionStatsRequest>,
    ) -> Result<Response<pb::GetExecutionStatsResponse>, Status> {
        let pb::GetExecutionStatsRequest { task_id, since, last_runs } = request.into_inner();
        let task_id = positive("task_id", task_id)?;
        let since = since.as_ref().map(convert::timestamp_millis);
        let stats = self.executions.stats(task_id, since, last_runs).await?;
        Ok(Response::new(pb::GetExecutionStatsResponse { stats: Some(convert::stats_to_pb(task_id, stats)) }))
    }

    async fn get_execution_log(
        &self,
        request: Request<pb::GetExecutionLogRequest>,
    ) -> Result<Response<pb::GetExecutionLogResponse>, Status> {
        let pb::GetExecutionLogRequest { id, skip_lines, limit } = request.into_inner();
        let log = self.executions.log(positive("id", id)?, skip_lines, limit).await?;
        Ok(Response::new(pb::GetExecutionLogResponse {
            text: log.text,
            line_count: i32::try_from(log.line_count).unwrap_or(i32::MAX),
            next_skip_lines: i32::try_from(log.next_skip_lines).unwrap_or(i32::MAX),
            end_of_log: log.end_of_log,
        }))
    }
}

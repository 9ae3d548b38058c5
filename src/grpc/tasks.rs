//! `dataportal.v1.TaskService`.

use tonic::{Request, Response, Status};

use super::convert;
use crate::app::Catalog;
use crate::app::workflows::Workflows;
use crate::domain::task::TaskDef;
use crate::error::Error;
use crate::proto::v1 as pb;
use crate::proto::v1::task_service_server::TaskService;
use crate::storage::TaskFilter;

/// Serves task definitions.
#[derive(Debug, Clone)]
pub struct TaskApi {
    catalog: Catalog,
    workflows: Workflows,
}

impl TaskApi {
    /// Serves `catalog`, publishing through `workflows`.
    pub fn new(catalog: Catalog, workflows: Workflows) -> Self {
        Self { catalog, workflows }
    }
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
}

//! `dataportal.v1.WorkflowService`, and the conversions of workflows and instances.

use std::collections::{BTreeMap, HashMap};

use tonic::{Request, Response, Status};

use super::convert;
use crate::app::workflows::{SyncRequest, Workflows, default_schedule_window};
use crate::domain::Etag;
use crate::domain::schedule::CronSchedule;
use crate::domain::workflow::{
    PublishState, Workflow, WorkflowDef, WorkflowSchedule, check_timezone, check_wall_clock,
};
use crate::error::{Error, Result, Violations};
use crate::proto::v1 as pb;
use crate::proto::v1::workflow_service_server::WorkflowService;
use crate::scheduler::dolphin::{ExecuteType, TaskInstance, WorkflowInstance};

/// Serves workflows.
#[derive(Debug, Clone)]
pub struct WorkflowApi {
    workflows: Workflows,
}

impl WorkflowApi {
    /// Serves `workflows`.
    pub fn new(workflows: Workflows) -> Self {
        Self { workflows }
    }

    async fn to_pb(&self, workflow: Workflow) -> Result<pb::Workflow> {
        let codes = self.workflows.task_codes(workflow.id).await?;
        let project_code = self.workflows.known_project_code().unwrap_or_default();
        Ok(workflow_to_pb(workflow, codes, project_code))
    }
}

/// The workflow of `(workflow_id, workflow_name)`.
fn workflow_lookup(id: i64, name: String) -> Result<crate::domain::Lookup> {
    convert::lookup(id, name).map_err(rename_lookup_fields)
}

fn rename_lookup_fields(mut e: Error) -> Error {
    for v in &mut e.violations {
        v.field = format!("workflow_{}", v.field);
    }
    e
}

#[tonic::async_trait]
impl WorkflowService for WorkflowApi {
    async fn ensure_workflow(
        &self,
        request: Request<pb::EnsureWorkflowRequest>,
    ) -> Result<Response<pb::EnsureWorkflowResponse>, Status> {
        let pb::EnsureWorkflowRequest { name, description, owner } = request.into_inner();
        let (workflow, created) =
            self.workflows.ensure_workflow(WorkflowDef { name, description, owner }).await?;
        Ok(Response::new(pb::EnsureWorkflowResponse { workflow: Some(self.to_pb(workflow).await?), created }))
    }

    async fn get_workflow(
        &self,
        request: Request<pb::GetWorkflowRequest>,
    ) -> Result<Response<pb::GetWorkflowResponse>, Status> {
        let pb::GetWorkflowRequest { workflow_id, workflow_name } = request.into_inner();
        let workflow = self.workflows.get_workflow(&workflow_lookup(workflow_id, workflow_name)?).await?;
        Ok(Response::new(pb::GetWorkflowResponse { workflow: Some(self.to_pb(workflow).await?) }))
    }

    async fn list_workflows(
        &self,
        request: Request<pb::ListWorkflowsRequest>,
    ) -> Result<Response<pb::ListWorkflowsResponse>, Status> {
        let pb::ListWorkflowsRequest { page_size, page_token } = request.into_inner();
        let page = self.workflows.list_workflows(page_size, &page_token).await?;
        let mut workflows = Vec::with_capacity(page.workflows.len());
        for workflow in page.workflows {
            workflows.push(self.to_pb(workflow).await?);
        }
        Ok(Response::new(pb::ListWorkflowsResponse {
            workflows,
            next_page_token: page.next_page_token,
            total_size: page.total_size,
        }))
    }

    async fn sync_workflow(
        &self,
        request: Request<pb::SyncWorkflowRequest>,
    ) -> Result<Response<pb::SyncWorkflowResponse>, Status> {
        let pb::SyncWorkflowRequest {
            workflow_id,
            workflow_name,
            task_ids,
            task_names,
            dependencies,
            positions,
            return_immediately,
            global_params,
        } = request.into_inner();
        let lookup = workflow_lookup(workflow_id, workflow_name)?;
        let sync = SyncRequest {
            task_ids,
            task_names,
            dependencies: dependencies.iter().map(|d| (d.upstream_task_id, d.downstream_task_id)).collect(),
            positions: positions.iter().map(|p| (p.task_id, (p.x, p.y))).collect::<HashMap<_, _>>(),
            global_params: global_params.into_iter().collect(),
        };
        let workflow = self.workflows.sync_workflow(&lookup, sync, !return_immediately).await?;
        Ok(Response::new(pb::SyncWorkflowResponse { workflow: Some(self.to_pb(workflow).await?) }))
    }

    async fn publish_workflow(
        &self,
        request: Request<pb::PublishWorkflowRequest>,
    ) -> Result<Response<pb::PublishWorkflowResponse>, Status> {
        let pb::PublishWorkflowRequest { workflow_id, workflow_name, auto_start, return_immediately } =
            request.into_inner();
        let lookup = workflow_lookup(workflow_id, workflow_name)?;
        let workflow = self.workflows.publish_workflow(&lookup, auto_start, !return_immediately).await?;
        Ok(Response::new(pb::PublishWorkflowResponse { workflow: Some(self.to_pb(workflow).await?) }))
    }

    async fn release_workflow(
        &self,
        request: Request<pb::ReleaseWorkflowRequest>,
    ) -> Result<Response<pb::ReleaseWorkflowResponse>, Status> {
        let pb::ReleaseWorkflowRequest { workflow_id, workflow_name, release_state, return_immediately } =
            request.into_inner();
        let lookup = workflow_lookup(workflow_id, workflow_name);
        let online = match pb::ReleaseState::try_from(release_state) {
            Ok(pb::ReleaseState::Online) => Ok(true),
            Ok(pb::ReleaseState::Offline) => Ok(false),
            _ => Err(Error::invalid_field(
                "release_state",
                "must be RELEASE_STATE_ONLINE or RELEASE_STATE_OFFLINE",
            )),
        };
        let (lookup, online) = both(lookup, online)?;
        let workflow = self.workflows.release_workflow(&lookup, online, !return_immediately).await?;
        Ok(Response::new(pb::ReleaseWorkflowResponse { workflow: Some(self.to_pb(workflow).await?) }))
    }

    async fn schedule_workflow(
        &self,
        request: Request<pb::ScheduleWorkflowRequest>,
    ) -> Result<Response<pb::ScheduleWorkflowResponse>, Status> {
        let pb::ScheduleWorkflowRequest { workflow_id, workflow_name, schedule, return_immediately } =
            request.into_inner();
        let lookup = workflow_lookup(workflow_id, workflow_name);
        let schedule = match schedule.filter(|s| !s.cron.trim().is_empty()) {
            None => Ok(None),
            Some(schedule) => schedule_from_pb(schedule, &self.workflows.default_timezone()?).map(Some),
        };
        let (lookup, schedule) = both(lookup, schedule)?;
        let workflow = self.workflows.schedule_workflow(&lookup, schedule, !return_immediately).await?;
        Ok(Response::new(pb::ScheduleWorkflowResponse { workflow: Some(self.to_pb(workflow).await?) }))
    }

    async fn start_workflow(
        &self,
        request: Request<pb::StartWorkflowRequest>,
    ) -> Result<Response<pb::StartWorkflowResponse>, Status> {
        let pb::StartWorkflowRequest { workflow_id, workflow_name, params } = request.into_inner();
        let lookup = workflow_lookup(workflow_id, workflow_name)?;
        let params: BTreeMap<String, String> = params.into_iter().collect();
        let workflow_instance_id = self.workflows.start_workflow(&lookup, params).await?;
        Ok(Response::new(pb::StartWorkflowResponse { workflow_instance_id }))
    }

    async fn get_workflow_instance(
        &self,
        request: Request<pb::GetWorkflowInstanceRequest>,
    ) -> Result<Response<pb::GetWorkflowInstanceResponse>, Status> {
        let id = instance_id(request.into_inner().workflow_instance_id)?;
        let (instance, tasks) = self.workflows.workflow_instance(id).await?;
        Ok(Response::new(pb::GetWorkflowInstanceResponse { instance: Some(instance_to_pb(instance, tasks)) }))
    }

    async fn list_workflow_instances(
        &self,
        request: Request<pb::ListWorkflowInstancesRequest>,
    ) -> Result<Response<pb::ListWorkflowInstancesResponse>, Status> {
        let pb::ListWorkflowInstancesRequest { workflow_id, workflow_name, page_size, page_token } =
            request.into_inner();
        let lookup = match (workflow_id, workflow_name.is_empty()) {
            (0, true) => None,
            _ => Some(workflow_lookup(workflow_id, workflow_name)?),
        };
        let page = self.workflows.list_instances(lookup.as_ref(), page_size, &page_token).await?;
        Ok(Response::new(pb::ListWorkflowInstancesResponse {
            instances: page.instances.into_iter().map(|i| instance_to_pb(i, Vec::new())).collect(),
            next_page_token: page.next_page_token,
            total_size: page.total_size,
        }))
    }

    async fn stop_workflow_instance(
        &self,
        request: Request<pb::StopWorkflowInstanceRequest>,
    ) -> Result<Response<pb::StopWorkflowInstanceResponse>, Status> {
        let id = instance_id(request.into_inner().workflow_instance_id)?;
        let instance = self.workflows.control_instance(id, ExecuteType::Stop).await?;
        Ok(Response::new(pb::StopWorkflowInstanceResponse {
            instance: Some(instance_to_pb(instance, Vec::new())),
        }))
    }

    async fn rerun_workflow_instance(
        &self,
        request: Request<pb::RerunWorkflowInstanceRequest>,
    ) -> Result<Response<pb::RerunWorkflowInstanceResponse>, Status> {
        let id = instance_id(request.into_inner().workflow_instance_id)?;
        let instance = self.workflows.control_instance(id, ExecuteType::Rerun).await?;
        Ok(Response::new(pb::RerunWorkflowInstanceResponse {
            instance: Some(instance_to_pb(instance, Vec::new())),
        }))
    }

    async fn get_task_log(
        &self,
        request: Request<pb::GetTaskLogRequest>,
    ) -> Result<Response<pb::GetTaskLogResponse>, Status> {
        let pb::GetTaskLogRequest { task_instance_id, page_size, page_token } = request.into_inner();
        if task_instance_id <= 0 {
            return Err(Error::invalid_field("task_instance_id", "must be positive").into());
        }
        let page = self.workflows.task_log(task_instance_id, page_size, &page_token).await?;
        Ok(Response::new(pb::GetTaskLogResponse {
            text: page.text,
            line_count: page.line_count as i32,
            next_page_token: page.next_page_token,
        }))
    }
}

/// Both results, or every violation of both.
fn both<A, B>(a: Result<A>, b: Result<B>) -> Result<(A, B)> {
    match (a, b) {
        (Ok(a), Ok(b)) => Ok((a, b)),
        (Err(mut a), Err(b)) if !a.violations.is_empty() && !b.violations.is_empty() => {
            a.violations.extend(b.violations);
            Err(Error::invalid(a.violations))
        }
        (Err(e), _) | (_, Err(e)) => Err(e),
    }
}

fn instance_id(id: i64) -> Result<i64> {
    if id > 0 { Ok(id) } else { Err(Error::invalid_field("workflow_instance_id", "must be positive")) }
}

/// A schedule from the API, with defaults: the service's time zone, from today for 100 years.
fn schedule_from_pb(schedule: pb::WorkflowSchedule, default_timezone: &str) -> Result<WorkflowSchedule> {
    let mut violations = Violations::default();
    let cron = CronSchedule::parse(&schedule.cron)
        .and_then(|cron| cron.to_quartz().map(|_| cron))
        .map_err(|why| violations.add("schedule.cron", why))
        .ok();
    let timezone = if schedule.timezone.is_empty() { default_timezone.to_owned() } else { schedule.timezone };
    if let Err(why) = check_timezone(&timezone) {
        violations.add("schedule.timezone", why);
    }
    let (default_start, default_end) = default_schedule_window();
    let start = if schedule.start_time.is_empty() { default_start } else { schedule.start_time };
    let end = if schedule.end_time.is_empty() { default_end } else { schedule.end_time };
    for (field, value) in [("schedule.start_time", &start), ("schedule.end_time", &end)] {
        if let Err(why) = check_wall_clock(value) {
            violations.add(field, why);
        }
    }
    // The fixed-width form compares as text.
    if check_wall_clock(&start).is_ok() && check_wall_clock(&end).is_ok() && start >= end {
        violations.add("schedule.end_time", "must be after start_time");
    }
    match (cron, violations.is_empty()) {
        (Some(cron), true) => Ok(WorkflowSchedule { cron, timezone, start, end }),
        _ => Err(violations.into_error()),
    }
}

fn publish_state_to_pb(state: PublishState) -> pb::PublishState {
    match state {
        PublishState::Unpublished => pb::PublishState::Unpublished,
        PublishState::Pending => pb::PublishState::Pending,
        PublishState::Publishing => pb::PublishState::Publishing,
        PublishState::Published => pb::PublishState::Published,
        PublishState::Failed => pb::PublishState::Failed,
    }
}

/// A workflow for the API.
pub fn workflow_to_pb(workflow: Workflow, task_codes: BTreeMap<i64, i64>, project_code: i64) -> pb::Workflow {
    let p = &workflow.publication;
    let publication = pb::Publication {
        state: publish_state_to_pb(p.state) as i32,
        attempts: p.attempts,
        last_error: p.last_error.clone(),
        project_code,
        workflow_code: p.workflow_code.unwrap_or_default(),
        schedule_id: p.schedule_id.unwrap_or_default(),
        last_instance_id: p.last_instance_id.unwrap_or_default(),
        publish_time_ms: p.published_at.unwrap_or_default(),
        task_codes: task_codes.into_iter().collect(),
    };
    pb::Workflow {
        id: workflow.id,
        etag: Etag::of(workflow.id, workflow.version).to_string(),
        schedule: workflow.schedule.map(|s| pb::WorkflowSchedule {
            quartz_cron: s.cron.to_quartz().unwrap_or_default(),
            cron: s.cron.to_string(),
            timezone: s.timezone,
            start_time: s.start,
            end_time: s.end,
        }),
        release_state: if workflow.online { pb::ReleaseState::Online } else { pb::ReleaseState::Offline }
            as i32,
        global_params: workflow.global_params.into_iter().collect(),
        task_ids: workflow.task_ids,
        explicit_dependencies: workflow.explicit_dependencies.is_some(),
        dependencies: workflow
            .explicit_dependencies
            .unwrap_or_default()
            .into_iter()
            .map(|(up, down)| pb::WorkflowDependency { upstream_task_id: up, downstream_task_id: down })
            .collect(),
        publication: Some(publication),
        name: workflow.def.name,
        description: workflow.def.description,
        owner: workflow.def.owner,
        create_time_ms: workflow.created_at,
        update_time_ms: workflow.updated_at,
    }
}

/// Whether DolphinScheduler counts a workflow state as final (§10.1; unknown names are not).
fn is_final(state: &str) -> bool {
    matches!(state, "SUCCESS" | "FAILURE" | "STOP" | "PAUSE" | "BLOCK")
}

fn instance_to_pb(instance: WorkflowInstance, tasks: Vec<TaskInstance>) -> pb::WorkflowInstance {
    pb::WorkflowInstance {
        id: instance.id,
        workflow_code: instance.workflow_code,
        finished: is_final(&instance.state),
        state: instance.state,
        name: instance.name,
        start_time: instance.start_time.unwrap_or_default(),
        end_time: instance.end_time.unwrap_or_default(),
        started_at: instance.started_at.and_then(convert::timestamp),
        ended_at: instance.ended_at.and_then(convert::timestamp),
        run_times: instance.run_times,
        host: instance.host,
        command_type: instance.command_type,
        tasks: tasks
            .into_iter()
            .map(|t| pb::TaskInstance {
                id: t.id,
                name: t.name,
                task_code: t.task_code,
                task_type: t.task_type,
                state: t.state,
                start_time: t.start_time.unwrap_or_default(),
                end_time: t.end_time.unwrap_or_default(),
                started_at: t.started_at.and_then(convert::timestamp),
                ended_at: t.ended_at.and_then(convert::timestamp),
                host: t.host,
                retry_times: t.retry_times,
            })
            .collect(),
    }
}

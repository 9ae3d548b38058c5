//! The gRPC transport: services, health, reflection and the middleware every call goes through.

mod callbacks;
mod convert;
mod datasources;
mod health;
mod lineage;
mod metrics;
mod status;
mod tables;
mod tasks;
mod workflows;

use std::time::Duration;

use tonic::service::Routes;
use tonic_health::pb::health_server::{Health, HealthServer};
use tonic_health::server::HealthReporter;

pub use callbacks::SECRET_HEADER;
pub use health::{watch_database, watch_dolphin};
pub use metrics::RpcMetricsLayer;

use crate::app::Catalog;
use crate::app::datasources::DataSources;
use crate::app::executions::Executions;
use crate::app::workflows::Workflows;
use crate::proto::v1::callback_service_server::CallbackServiceServer;
use crate::proto::v1::data_source_service_server::DataSourceServiceServer;
use crate::proto::v1::lineage_service_server::LineageServiceServer;
use crate::proto::v1::table_service_server::TableServiceServer;
use crate::proto::v1::task_service_server::TaskServiceServer;
use crate::proto::v1::workflow_service_server::WorkflowServiceServer;

/// Names of the services whose health follows the database.
const SERVICE_NAMES: [&str; 5] = [
    <TableServiceServer<tables::TableApi> as tonic::server::NamedService>::NAME,
    <TaskServiceServer<tasks::TaskApi> as tonic::server::NamedService>::NAME,
    <LineageServiceServer<lineage::LineageApi> as tonic::server::NamedService>::NAME,
    <DataSourceServiceServer<datasources::DataSourceApi> as tonic::server::NamedService>::NAME,
    <CallbackServiceServer<callbacks::CallbackApi> as tonic::server::NamedService>::NAME,
];

/// Every gRPC service of the API, plus health and reflection (v1, and v1alpha for grpcurl and
/// other older clients).
pub fn routes(
    catalog: &Catalog,
    workflows: &Workflows,
    data_sources: &DataSources,
    executions: &Executions,
    health: HealthServer<impl Health>,
) -> Routes {
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(crate::proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let reflection_v1 = reflection().build_v1().expect("the compiled-in descriptors are valid");
    let reflection_v1alpha = reflection().build_v1alpha().expect("the compiled-in descriptors are valid");
    Routes::new(health)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(TableServiceServer::new(tables::TableApi::new(catalog.clone(), executions.clone())))
        .add_service(TaskServiceServer::new(tasks::TaskApi::new(
            catalog.clone(),
            workflows.clone(),
            executions.clone(),
        )))
        .add_service(CallbackServiceServer::new(callbacks::CallbackApi::new(executions.clone())))
        .add_service(WorkflowServiceServer::new(workflows::WorkflowApi::new(workflows.clone())))
        .add_service(DataSourceServiceServer::new(datasources::DataSourceApi::new(data_sources.clone())))
        .add_service(LineageServiceServer::new(lineage::LineageApi::new(catalog.clone())))
}

/// The name under which health reports whether DolphinScheduler answers.
const WORKFLOW_SERVICE_NAME: &str =
    <WorkflowServiceServer<workflows::WorkflowApi> as tonic::server::NamedService>::NAME;

/// How long a health probe of the database may take before the service counts as down.
const HEALTH_PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Sets every service (and the server as a whole, `""`) to `serving`.
pub async fn set_health(reporter: &HealthReporter, serving: bool) {
    let status =
        if serving { tonic_health::ServingStatus::Serving } else { tonic_health::ServingStatus::NotServing };
    for name in std::iter::once("").chain(SERVICE_NAMES) {
        reporter.set_service_status(name, status).await;
    }
}

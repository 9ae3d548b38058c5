//! `dataportal.v1.CallbackService`: execution reports in, execution changes out.

use std::pin::Pin;

use futures_util::Stream;
use tokio::sync::broadcast::error::RecvError;
use tonic::{Request, Response, Status};

use super::convert;
use crate::app::executions::{Executions, TaskRunReport};
use crate::error::{Error, ErrorKind, Reason};
use crate::proto::v1 as pb;
use crate::proto::v1::callback_service_server::CallbackService;

/// The header (gRPC metadata) that carries the shared secret of callbacks.
pub const SECRET_HEADER: &str = "x-callback-secret";

/// Serves execution reports and the live feed of execution changes.
#[derive(Debug, Clone)]
pub struct CallbackApi {
    executions: Executions,
}

impl CallbackApi {
    /// Serves `executions`.
    pub fn new(executions: Executions) -> Self {
        Self { executions }
    }

    fn check_secret<T>(&self, request: &Request<T>) -> Result<(), Error> {
        let presented = request.metadata().get(SECRET_HEADER).and_then(|v| v.to_str().ok());
        self.executions.check_secret(presented)
    }
}

type EventStream = Pin<Box<dyn Stream<Item = Result<pb::WatchExecutionsResponse, Status>> + Send>>;

#[tonic::async_trait]
impl CallbackService for CallbackApi {
    async fn report_task_run(
        &self,
        request: Request<pb::ReportTaskRunRequest>,
    ) -> Result<Response<pb::ReportTaskRunResponse>, Status> {
        self.check_secret(&request)?;
        let pb::ReportTaskRunRequest {
            task_id,
            status,
            start_time,
            end_time,
            rows_output,
            workflow_instance_id,
            host,
        } = request.into_inner();
        let report =
            TaskRunReport { task_id, status, start_time, end_time, rows_output, workflow_instance_id, host };
        self.executions.report_task_run(report).await?;
        Ok(Response::new(pb::ReportTaskRunResponse {}))
    }

    async fn report_dolphin_alert(
        &self,
        request: Request<pb::ReportDolphinAlertRequest>,
    ) -> Result<Response<pb::ReportDolphinAlertResponse>, Status> {
        self.check_secret(&request)?;
        let pb::ReportDolphinAlertRequest { body, content_type } = request.into_inner();
        let content_type = Some(content_type.as_str()).filter(|c| !c.is_empty());
        let alert = self.executions.report_alert(body.as_bytes(), content_type, None).await?;
        Ok(Response::new(pb::ReportDolphinAlertResponse {
            kind: convert::alert_kind_to_pb(alert.kind).into(),
            workflow_instance_ids: alert.instance_ids(),
            note: alert.note.unwrap_or_default(),
        }))
    }

    type WatchExecutionsStream = EventStream;

    async fn watch_executions(
        &self,
        request: Request<pb::WatchExecutionsRequest>,
    ) -> Result<Response<Self::WatchExecutionsStream>, Status> {
        let pb::WatchExecutionsRequest { task_id, workflow_id } = request.into_inner();
        let (mut events, shutdown) = self.executions.watch();
        let stream = async_stream(move |sender| async move {
            loop {
                let received = tokio::select! {
                    // The caller went away: stop even if no change matches for a long time.
                    () = sender.closed() => return,
                    () = shutdown.cancelled() => return,
                    received = events.recv() => received,
                };
                let event = match received {
                    Ok(event) => event,
                    Err(RecvError::Closed) => return,
                    Err(RecvError::Lagged(missed)) => {
                        let error = Error::new(
                            ErrorKind::Aborted,
                            Reason::WatchLagged,
                            format!(
                                "the watch fell behind by {missed} changes; list executions and watch again"
                            ),
                        );
                        let _ = sender.send(Err(error.into())).await;
                        return;
                    }
                };
                let record = &event.record;
                if (task_id != 0 && record.task_id != task_id)
                    || (workflow_id != 0 && record.workflow_id != Some(workflow_id))
                {
                    continue;
                }
                let message = pb::WatchExecutionsResponse {
                    workflow_id: record.workflow_id.unwrap_or_default(),
                    created: event.created,
                    execution: Some(convert::execution_to_pb(event.record)),
                };
                if sender.send(Ok(message)).await.is_err() {
                    return;
                }
            }
        });
        Ok(Response::new(stream))
    }
}

/// A stream fed by a task that stops when the receiver is dropped.
fn async_stream<F, Fut>(produce: F) -> EventStream
where
    F: FnOnce(tokio::sync::mpsc::Sender<Result<pb::WatchExecutionsResponse, Status>>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let (sender, receiver) = tokio::sync::mpsc::channel(64);
    tokio::spawn(produce(sender));
    Box::pin(tokio_stream::wrappers::ReceiverStream::new(receiver))
}

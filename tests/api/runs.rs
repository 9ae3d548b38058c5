//! Runs started and stopped through the portal, against a fake DolphinScheduler of each family: a
//! start makes exactly one run whatever happens to its answer (lost, a proxy's 5xx, a slow master,
//! a replica crashing before it recorded the run), and a stop goes through READY_STOP as
//! DolphinScheduler's do, or is refused as DolphinScheduler refuses it.

use std::time::Duration;

use dataportal::config::{DolphinArgs, ExecutionArgs, Settings};
use dataportal::proto::v1 as pb;
use dataportal::scheduler::dolphin::Secret;
use fake_dolphinscheduler::{FakeDolphinScheduler, Family};
use sqlx::Connection;
use tokio::time::Instant;
use tonic::Code;

use crate::helpers::{Backend, TestApp, TestDatabase, failure, test_settings};

crate::on_every_family!(
    a_lost_start_answer_is_resolved_by_its_marker,
    a_server_error_after_the_run_was_made_starts_nothing_more,
    a_slow_master_is_waited_for_not_started_twice,
    a_replica_crashing_after_the_start_call_leaves_its_run_to_the_next,
    the_start_call_resolves_lost_and_failed_answers_by_the_marker,
    a_stop_goes_through_ready_stop_and_ends_stopped,
    a_stop_of_a_stopping_or_finished_run_is_refused,
);

const DATASOURCE: &str = "warehouse";

/// A server on `database` publishing to `fake`, following running instances every 100 ms.
fn settings(fake: &FakeDolphinScheduler, database: &TestDatabase) -> Settings {
    let mut settings = test_settings(&database.url);
    settings.serve.dolphin = DolphinArgs {
        url: Some(fake.base_url()),
        token: Some(Secret::new(fake.token())),
        default_datasource: DATASOURCE.into(),
        ..DolphinArgs::default()
    };
    settings.serve.executions = ExecutionArgs {
        execution_poll_interval_ms: 100,
        execution_max_poll_interval_ms: 200,
        execution_discover_interval_secs: 0,
        ..ExecutionArgs::default()
    };
    settings
}

async fn fake(family: Family) -> FakeDolphinScheduler {
    let fake = FakeDolphinScheduler::start(family).await;
    fake.add_datasource(DATASOURCE, "MYSQL");
    fake
}

async fn spawn(backend: Backend, family: Family) -> (TestApp, FakeDolphinScheduler) {
    let fake = fake(family).await;
    let database = TestDatabase::new(backend).await;
    let settings = settings(&fake, &database);
    (TestApp::spawn_with(database, settings).await, fake)
}

/// A one-task SQL task named `load_{name}`.
async fn create_task(app: &mut TestApp, name: &str) -> pb::Task {
    let task = pb::Task {
        name: format!("load_{name}"),
        body: Some(pb::task::Body::Sql(format!("insert into dwd_{name} select * from ods_{name}"))),
        ..Default::default()
    };
    app.tasks
        .create_task(pb::CreateTaskRequest { task: Some(task), register_missing_tables: true })
        .await
        .unwrap()
        .into_inner()
        .task
        .unwrap()
}

/// Publishes the task's workflow with `auto_start`, without waiting; returns the workflow's id.
async fn publish_and_start(app: &mut TestApp, task: &pb::Task) -> i64 {
    let request = pb::PublishTaskRequest {
        id: task.id,
        auto_start: true,
        return_immediately: true,
        ..Default::default()
    };
    app.tasks.publish_task(request).await.unwrap().into_inner().workflow.unwrap().id
}

/// Publishes the task's workflow (no start); returns the workflow's id.
async fn publish(app: &mut TestApp, task: &pb::Task) -> i64 {
    let request = pb::PublishTaskRequest { id: task.id, ..Default::default() };
    let workflow = app.tasks.publish_task(request).await.unwrap().into_inner().workflow.unwrap();
    assert_eq!(workflow.publication.as_ref().unwrap().state, pb::PublishState::Published as i32);
    workflow.id
}

async fn start(app: &mut TestApp, workflow_id: i64) -> i64 {
    let request = pb::StartWorkflowRequest { workflow_id, ..Default::default() };
    app.workflows.start_workflow(request).await.unwrap().into_inner().workflow_instance_id
}

/// Polls `probe` every 50 ms until it returns Some, failing the test after `patience`.
async fn eventually<T, F, Fut>(patience: Duration, what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + patience;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(Instant::now() < deadline, "{what} did not happen within {patience:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the workflow is published with a run recorded; returns that run's instance id.
async fn published_run(app: &mut TestApp, workflow_id: i64, patience: Duration) -> i64 {
    eventually(patience, "a published run", || {
        let mut workflows = app.workflows.clone();
        async move {
            let request = pb::GetWorkflowRequest { workflow_id, ..Default::default() };
            let workflow = workflows.get_workflow(request).await.unwrap().into_inner().workflow.unwrap();
            let publication = workflow.publication.unwrap();
            let done =
                publication.state == pb::PublishState::Published as i32 && publication.last_instance_id > 0;
            done.then_some(publication.last_instance_id)
        }
    })
    .await
}

/// Start calls DolphinScheduler received.
fn start_calls(fake: &FakeDolphinScheduler) -> usize {
    fake.requests()
        .iter()
        .filter(|(method, path)| {
            method == "POST"
                && (path.ends_with("/executors/start-process-instance")
                    || path.ends_with("/executors/start-workflow-instance"))
        })
        .count()
}

/// The task's execution records, once there are `n` (or more: the test then fails on the count).
async fn executions(app: &mut TestApp, task: &pb::Task, n: usize) -> Vec<pb::Execution> {
    let request = pb::ListExecutionsRequest { task_id: task.id, ..Default::default() };
    eventually(Duration::from_secs(10), "the execution records", || {
        let (mut tasks, request) = (app.tasks.clone(), request.clone());
        async move {
            let runs = tasks.list_executions(request).await.unwrap().into_inner().executions;
            (runs.len() >= n).then_some(runs)
        }
    })
    .await
}

/// Exactly one start call, one instance in DolphinScheduler (the one recorded) and one execution
/// record of it.
async fn one_run(app: &mut TestApp, fake: &FakeDolphinScheduler, task: &pb::Task, instance: i64) {
    assert_eq!(start_calls(fake), 1, "one start call: {:?}", fake.requests());
    let instances: Vec<i64> = fake.instances().iter().map(|i| i.id).collect();
    assert_eq!(instances, vec![instance], "one run in DolphinScheduler");
    let runs = executions(app, task, 1).await;
    assert_eq!(runs.len(), 1, "one execution record: {runs:#?}");
    assert_eq!(runs[0].workflow_instance_id, instance);
}

/// (a) The start call creates the run, then the connection closes without an answer: the next
/// attempt finds the run by its marker.
async fn a_lost_start_answer_is_resolved_by_its_marker(backend: Backend, family: Family) {
    let (mut app, fake) = spawn(backend, family).await;
    let task = create_task(&mut app, "lost").await;
    fake.lose_next_start_answer(Duration::ZERO);
    let workflow = publish_and_start(&mut app, &task).await;
    let instance = published_run(&mut app, workflow, Duration::from_secs(20)).await;
    one_run(&mut app, &fake, &task, instance).await;
    app.stop().await;
}

/// (c) A proxy answers 502 after DolphinScheduler created the run.
async fn a_server_error_after_the_run_was_made_starts_nothing_more(backend: Backend, family: Family) {
    let (mut app, fake) = spawn(backend, family).await;
    let task = create_task(&mut app, "proxied").await;
    fake.fail_next_start_answer(502);
    let workflow = publish_and_start(&mut app, &task).await;
    let instance = published_run(&mut app, workflow, Duration::from_secs(20)).await;
    one_run(&mut app, &fake, &task, instance).await;
    app.stop().await;
}

/// (b) The master creates the run 10 s after the start call: longer than an attempt looks (5 s)
/// and, on 3.3+, as long as the client waits for the answer (10 s). Later attempts keep looking
/// within `START_SETTLE` instead of starting again.
async fn a_slow_master_is_waited_for_not_started_twice(backend: Backend, family: Family) {
    let (mut app, fake) = spawn(backend, family).await;
    let task = create_task(&mut app, "slow").await;
    fake.set_master_delay(Duration::from_secs(10));
    let asked = Instant::now();
    let workflow = publish_and_start(&mut app, &task).await;
    let instance = published_run(&mut app, workflow, Duration::from_secs(40)).await;
    assert!(asked.elapsed() >= Duration::from_secs(10), "the run appeared only after 10 s");
    one_run(&mut app, &fake, &task, instance).await;
    app.stop().await;
}

/// (d) A replica sends the start and crashes before recording the run; its lease runs out and
/// another replica on the same database takes the request over, finds the marker and adopts the
/// run.
async fn a_replica_crashing_after_the_start_call_leaves_its_run_to_the_next(
    backend: Backend,
    family: Family,
) {
    let fake = fake(family).await;
    let database = TestDatabase::new(backend).await;
    let mut crashing = settings(&fake, &database);
    // Its start call stays unanswered until it gives up, long after the lease was taken from it.
    crashing.serve.dolphin.timeout_secs = 3;
    fake.lose_next_start_answer(Duration::from_secs(60));
    let mut first = TestApp::spawn_with(database.shared(), crashing).await;
    let task = create_task(&mut first, "crash").await;
    let workflow = publish_and_start(&mut first, &task).await;
    eventually(Duration::from_secs(10), "the run", || async { (!fake.instances().is_empty()).then_some(()) })
        .await;
    // The first replica is gone for the database: it stops taking requests, and its lease has run
    // out in the hands of nobody, so nothing it does any more is recorded.
    let first_stopped = tokio::spawn(first.shutdown_only());
    abandon_publish_lease(&database.url, workflow).await;

    let second_settings = settings(&fake, &database);
    let mut second = TestApp::spawn_with(database, second_settings).await;
    let instance = published_run(&mut second, workflow, Duration::from_secs(20)).await;
    one_run(&mut second, &fake, &task, instance).await;
    first_stopped.await.unwrap();
    second.stop().await;
}

/// What a crashed replica leaves: a publish lease that has expired, held by no live replica.
async fn abandon_publish_lease(database_url: &str, workflow_id: i64) {
    let sql = "UPDATE workflow SET lease_owner = 'crashed-replica', lease_until = 0 WHERE id = ?";
    if database_url.starts_with("sqlite:") {
        let mut conn = sqlx::SqliteConnection::connect(database_url).await.unwrap();
        sqlx::query(sql).bind(workflow_id).execute(&mut conn).await.unwrap();
    } else {
        let mut conn = sqlx::MySqlConnection::connect(database_url).await.unwrap();
        sqlx::query(sql).bind(workflow_id).execute(&mut conn).await.unwrap();
    }
}

/// The StartWorkflow call: an answer lost, then one replaced by a proxy's 502, after the run was
/// made; each call returns its own run, found by the marker, and nothing starts twice.
async fn the_start_call_resolves_lost_and_failed_answers_by_the_marker(backend: Backend, family: Family) {
    let (mut app, fake) = spawn(backend, family).await;
    let task = create_task(&mut app, "direct").await;
    let workflow = publish(&mut app, &task).await;
    fake.lose_next_start_answer(Duration::ZERO);
    let lost = start(&mut app, workflow).await;
    fake.fail_next_start_answer(503);
    let failed = start(&mut app, workflow).await;
    assert_eq!(start_calls(&fake), 2, "{:?}", fake.requests());
    let instances: Vec<i64> = fake.instances().iter().map(|i| i.id).collect();
    assert_eq!(instances, vec![lost, failed], "one run per start call");
    let mut recorded: Vec<i64> =
        executions(&mut app, &task, 2).await.iter().map(|r| r.workflow_instance_id).collect();
    recorded.sort_unstable();
    assert_eq!(recorded, vec![lost, failed], "one execution record per run");
    app.stop().await;
}

async fn instance_state(app: &mut TestApp, id: i64) -> String {
    let request = pb::GetWorkflowInstanceRequest { workflow_instance_id: id };
    app.workflows.get_workflow_instance(request).await.unwrap().into_inner().instance.unwrap().state
}

fn execution_state(run: &pb::Execution) -> pb::ExecutionState {
    pb::ExecutionState::try_from(run.state).unwrap()
}

/// The stop answers with the run READY_STOP, its task still running (recorded RUNNING); once the
/// master killed the task the run is STOP and its record STOPPED.
async fn a_stop_goes_through_ready_stop_and_ends_stopped(backend: Backend, family: Family) {
    let (mut app, fake) = spawn(backend, family).await;
    let task = create_task(&mut app, "stopped").await;
    let workflow = publish(&mut app, &task).await;
    let instance = start(&mut app, workflow).await;
    let running = executions(&mut app, &task, 1).await;
    assert_eq!(execution_state(&running[0]), pb::ExecutionState::Running);
    // Long enough to see the READY_STOP phase; the test waits for its end, not for the delay.
    fake.set_stop_delay(Duration::from_secs(2));

    let request = pb::StopWorkflowInstanceRequest { workflow_instance_id: instance };
    let stopping =
        app.workflows.stop_workflow_instance(request).await.unwrap().into_inner().instance.unwrap();
    assert_eq!(stopping.state, "READY_STOP");
    assert!(!stopping.finished, "{stopping:?}");
    let run = &executions(&mut app, &task, 1).await[0];
    assert_eq!(
        (execution_state(run), run.scheduler_state.as_str()),
        (pb::ExecutionState::Running, "RUNNING_EXECUTION")
    );
    assert_eq!(instance_state(&mut app, instance).await, "READY_STOP", "still stopping");

    let stopped = eventually(Duration::from_secs(10), "the STOPPED record", || {
        let mut tasks = app.tasks.clone();
        let request = pb::ListExecutionsRequest { task_id: task.id, ..Default::default() };
        async move {
            let runs = tasks.list_executions(request).await.unwrap().into_inner().executions;
            runs.iter().all(|r| execution_state(r) == pb::ExecutionState::Stopped).then_some(runs)
        }
    })
    .await;
    assert_eq!(stopped.len(), 1, "{stopped:#?}");
    assert_eq!((stopped[0].id, stopped[0].scheduler_state.as_str()), (running[0].id, "KILL"));
    assert!(stopped[0].end_time.is_some());
    assert_eq!(instance_state(&mut app, instance).await, "STOP");
    app.stop().await;
}

/// A run already stopping (READY_STOP) or finished cannot be stopped: DolphinScheduler answers
/// 50006, and the caller gets FAILED_PRECONDITION with the stable reason DS_STATE_CONFLICT.
async fn a_stop_of_a_stopping_or_finished_run_is_refused(backend: Backend, family: Family) {
    let (mut app, fake) = spawn(backend, family).await;
    let task = create_task(&mut app, "refused").await;
    let workflow = publish(&mut app, &task).await;
    let stopping = start(&mut app, workflow).await;
    fake.set_stop_delay(Duration::from_secs(30));
    let request = pb::StopWorkflowInstanceRequest { workflow_instance_id: stopping };
    app.workflows.stop_workflow_instance(request).await.unwrap();
    let again = failure(app.workflows.stop_workflow_instance(request).await);
    assert_eq!(
        (again.code, again.reason.as_str()),
        (Code::FailedPrecondition, "DS_STATE_CONFLICT"),
        "{again:?}"
    );
    assert_eq!(again.metadata["ds_code"], "50006");
    assert!(again.message.contains("READY_STOP"), "{again:?}");

    let finished = start(&mut app, workflow).await;
    eventually(Duration::from_secs(5), "the second run", || async {
        fake.instances().iter().any(|i| i.id == finished).then_some(())
    })
    .await;
    fake.set_instance_state(finished, "SUCCESS");
    let request = pb::StopWorkflowInstanceRequest { workflow_instance_id: finished };
    let refused = failure(app.workflows.stop_workflow_instance(request).await);
    assert_eq!((refused.code, refused.reason.as_str()), (Code::FailedPrecondition, "DS_STATE_CONFLICT"));
    assert!(refused.message.contains("SUCCESS") && refused.message.contains("STOP"), "{refused:?}");
    app.stop().await;
}

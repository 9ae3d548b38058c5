//! The times of recorded runs are DolphinScheduler's instants, whatever the zones involved:
//! DolphinScheduler prints API dates in its user's time zone or else its JVM's, and alert
//! contents in its JVM's; the service, its schedules and its callers may be in others. Runs found
//! by polling and runs reported by alerts are checked against the fake's own clock, to the
//! second, together with what is derived from them (table freshness, time filters).

use std::time::Duration;

use dataportal::config::{DolphinArgs, ExecutionArgs};
use dataportal::proto::v1 as pb;
use dataportal::scheduler::dolphin::Secret;
use fake_dolphinscheduler::{AlertReceiver, FakeDolphinScheduler, Family, TaskRunView};

use crate::helpers::{Backend, TestApp, TestDatabase, test_settings};
use crate::tables::create_table;
use crate::tasks::create_example_task;

crate::on_every_family!(
    polled_runs_keep_dolphinschedulers_instants,
    alerted_runs_keep_dolphinschedulers_instants,
    the_time_zone_of_dolphinschedulers_user_is_followed,
);

const DATASOURCE: &str = "warehouse";
/// The zone of the fake's JVM: half an hour off any whole-hour zone, so that no mistake of whole
/// hours (or a swap of zones) goes unseen.
const SERVER_ZONE: &str = "Asia/Kolkata";
/// The zone of the service's schedules and offset-less callbacks (its default), unlike the others.
const PORTAL_ZONE: &str = "Asia/Shanghai";

/// How the service follows runs and which zone it is told DolphinScheduler's servers run in.
struct Setup {
    poll: bool,
    server_zone: &'static str,
    /// The time zone of the fake's user, if it has one.
    user_zone: Option<&'static str>,
}

async fn spawn(backend: Backend, family: Family, setup: Setup) -> (TestApp, FakeDolphinScheduler) {
    let fake = FakeDolphinScheduler::start(family).await;
    fake.set_server_timezone(SERVER_ZONE);
    fake.set_user_timezone(setup.user_zone);
    fake.add_datasource(DATASOURCE, "MYSQL");
    let database = TestDatabase::new(backend).await;
    let mut settings = test_settings(&database.url);
    settings.serve.dolphin = DolphinArgs {
        url: Some(fake.base_url()),
        token: Some(Secret::new(fake.token())),
        default_datasource: DATASOURCE.into(),
        warning_group_id: 1,
        timezone: PORTAL_ZONE.into(),
        server_timezone: setup.server_zone.into(),
        ..DolphinArgs::default()
    };
    settings.serve.executions = ExecutionArgs {
        execution_poll_interval_ms: if setup.poll { 100 } else { 0 },
        execution_max_poll_interval_ms: 200,
        execution_discover_interval_secs: 0,
        ..ExecutionArgs::default()
    };
    let app = TestApp::spawn_with(database, settings).await;
    let webhook = format!("{}/api/v1/callbacks/dolphinscheduler/webhook", app.rest_url());
    fake.send_alerts_to(AlertReceiver::new(webhook));
    (app, fake)
}

/// Milliseconds since the epoch of one of the fake's stored dates (`yyyy-MM-dd HH:mm:ss`, UTC).
fn utc_millis(date: &str) -> i64 {
    let civil: jiff::civil::DateTime = date.replacen(' ', "T", 1).parse().expect("a fake date");
    civil.to_zoned(jiff::tz::TimeZone::UTC).expect("in UTC").timestamp().as_millisecond()
}

fn millis(timestamp: &prost_types::Timestamp) -> i64 {
    timestamp.seconds * 1000 + i64::from(timestamp.nanos) / 1_000_000
}

fn at(millis: i64) -> Option<prost_types::Timestamp> {
    Some(prost_types::Timestamp { seconds: millis.div_euclid(1000), nanos: 0 })
}

/// Publishes the portal design's example task with auto_start, lets the fake's master create the
/// instance and end it well a little later; returns the instance id.
async fn run_example(app: &mut TestApp, fake: &FakeDolphinScheduler) -> i64 {
    create_table(app, "ods_user").await;
    create_table(app, "dwd_user").await;
    let task = create_example_task(app).await;
    let published = app
        .tasks
        .publish_task(pb::PublishTaskRequest { id: task.id, auto_start: true, ..Default::default() })
        .await
        .expect("publish")
        .into_inner();
    let instance = published.workflow.and_then(|w| w.publication).map(|p| p.last_instance_id).unwrap_or(0);
    assert!(instance > 0, "the start is answered with the instance");
    wait_until("the master creates the instance", || fake.instances().iter().any(|i| i.id == instance)).await;
    // A second apart, so that a swapped start and end would show.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    fake.set_instance_state(instance, "SUCCESS");
    instance
}

async fn wait_until(what: &str, done: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(tokio::time::Instant::now() < deadline, "{what}: never happened");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The one finished record of `instance`, once it is there.
async fn finished_run(app: &mut TestApp, instance: i64) -> pb::Execution {
    let request = pb::ListExecutionsRequest { workflow_instance_id: instance, ..Default::default() };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let runs = app.tasks.list_executions(request.clone()).await.expect("list").into_inner().executions;
        if let [run] = runs.as_slice()
            && run.state == pb::ExecutionState::Succeeded as i32
        {
            return run.clone();
        }
        assert!(tokio::time::Instant::now() < deadline, "the run never ended well: {runs:#?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The fake's task run of `instance` (the example workflow has one task).
fn task_run(fake: &FakeDolphinScheduler, instance: i64) -> TaskRunView {
    let instance = fake.instances().into_iter().find(|i| i.id == instance).expect("the instance");
    let [task] = instance.tasks.as_slice() else { panic!("one task run: {:?}", instance.tasks) };
    task.clone()
}

/// The record's start and end are the fake's, to the second, and so are the table's freshness and
/// the time filters of the run list.
async fn assert_true_times(app: &mut TestApp, fake: &FakeDolphinScheduler, instance: i64) {
    let run = finished_run(app, instance).await;
    let truth = task_run(fake, instance);
    let start = utc_millis(&truth.start_time);
    let end = utc_millis(truth.end_time.as_deref().expect("the task ended"));
    assert!(end >= start + 1000, "the fake's run lasted over a second: {truth:?}");
    assert_eq!(run.start_time.as_ref().map(millis), Some(start), "start of {run:?} vs the fake's {truth:?}");
    assert_eq!(run.end_time.as_ref().map(millis), Some(end), "end of {run:?} vs the fake's {truth:?}");
    assert_eq!(run.duration_ms, end - start);

    let table = app
        .tables
        .get_table(pb::GetTableRequest { name: "dwd_user".into(), ..Default::default() })
        .await
        .expect("get table")
        .into_inner()
        .table
        .expect("the table");
    let freshness = table.freshness.expect("the table was written");
    assert_eq!(
        (freshness.last_success_time.as_ref().map(millis), freshness.execution_id),
        (Some(end), run.id)
    );

    let count = |after: Option<i64>, before: Option<i64>| {
        let request = pb::ListExecutionsRequest {
            start_after: after.and_then(at),
            start_before: before.and_then(at),
            ..Default::default()
        };
        let mut client = app.tasks.clone();
        async move { client.list_executions(request).await.expect("list").into_inner().total_size }
    };
    assert_eq!(count(Some(start - 1000), Some(start + 1000)).await, 1, "a window around the true start");
    assert_eq!(count(Some(start + 1000), None).await, 0, "the run started before this");
    assert_eq!(count(None, Some(start - 1000)).await, 0, "the run started after this");

    let workflow = app
        .workflows
        .get_workflow_instance(pb::GetWorkflowInstanceRequest { workflow_instance_id: instance })
        .await
        .expect("get instance")
        .into_inner()
        .instance
        .expect("the instance");
    let task = workflow.tasks.first().expect("its task");
    assert_eq!(task.started_at.as_ref().map(millis), Some(start), "{task:?}");
    assert_eq!(task.ended_at.as_ref().map(millis), Some(end), "{task:?}");
}

async fn polled_runs_keep_dolphinschedulers_instants(backend: Backend, family: Family) {
    let (mut app, fake) =
        spawn(backend, family, Setup { poll: true, server_zone: SERVER_ZONE, user_zone: None }).await;
    fake.drop_alerts(true);
    let instance = run_example(&mut app, &fake).await;
    assert_true_times(&mut app, &fake, instance).await;
    app.stop().await;
}

async fn alerted_runs_keep_dolphinschedulers_instants(backend: Backend, family: Family) {
    let (mut app, fake) =
        spawn(backend, family, Setup { poll: false, server_zone: SERVER_ZONE, user_zone: None }).await;
    let instance = run_example(&mut app, &fake).await;
    assert_true_times(&mut app, &fake, instance).await;
    let run = finished_run(&mut app, instance).await;
    assert_eq!(run.source, pb::ExecutionSource::Callback as i32, "recorded because of the alert: {run:?}");
    app.stop().await;
}

async fn the_time_zone_of_dolphinschedulers_user_is_followed(backend: Backend, family: Family) {
    // The service is told the server's zone wrongly (UTC), but the user has a zone of its own,
    // which the API prints dates in: the client reads it from the user's settings.
    let setup = Setup { poll: true, server_zone: "UTC", user_zone: Some("America/New_York") };
    let (mut app, fake) = spawn(backend, family, setup).await;
    fake.drop_alerts(true);
    let instance = run_example(&mut app, &fake).await;
    assert_true_times(&mut app, &fake, instance).await;
    app.stop().await;
}

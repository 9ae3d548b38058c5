//! Runs of tasks as a client sees them: reported through the generic callback, through
//! DolphinScheduler's own alerts (sent by the fake as each version family sends them), found by
//! polling, or all at once; duplicates, reordering and outages end in one correct record per run.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use dataportal::config::{DolphinArgs, ExecutionArgs};
use dataportal::proto::v1 as pb;
use dataportal::scheduler::dolphin::Secret;
use fake_dolphinscheduler::{AlertReceiver, FakeDolphinScheduler, Family};
use tonic::Code;

use crate::health::CuttableProxy;
use crate::helpers::{Backend, TestApp, TestDatabase, failure, test_settings};
use crate::tables::create_table;
use crate::tasks::create_example_task;

crate::on_every_family!(
    a_run_is_recorded_through_callbacks_alone,
    a_run_is_recorded_through_polling_alone,
    duplicate_late_and_reordered_alerts_with_polling_end_in_one_record_per_run,
);

crate::on_both_backends!(
    the_portal_design_callback_is_recorded_once_with_stats_and_freshness,
    bad_callbacks_are_refused_and_store_nothing,
    a_configured_secret_is_required,
    watch_streams_the_changes_of_the_runs_asked_for,
    a_watch_on_one_replica_streams_what_another_recorded,
);

const DATASOURCE: &str = "warehouse";
const WARNING_GROUP: i64 = 1;

/// How the test server follows runs.
#[derive(Debug, Clone, Copy)]
enum Follow {
    /// Only the instances an alert names are read.
    CallbacksOnly,
    /// Running instances are read every 100 ms.
    Polling,
}

async fn spawn(backend: Backend, family: Family, follow: Follow) -> (TestApp, FakeDolphinScheduler) {
    let fake = FakeDolphinScheduler::start(family).await;
    fake.add_datasource(DATASOURCE, "MYSQL");
    let database = TestDatabase::new(backend).await;
    let mut settings = test_settings(&database.url);
    settings.serve.dolphin = DolphinArgs {
        url: Some(fake.base_url()),
        token: Some(Secret::new(fake.token())),
        default_datasource: DATASOURCE.into(),
        warning_group_id: WARNING_GROUP,
        ..DolphinArgs::default()
    };
    settings.serve.executions = ExecutionArgs {
        execution_poll_interval_ms: match follow {
            Follow::CallbacksOnly => 0,
            Follow::Polling => 100,
        },
        execution_max_poll_interval_ms: 200,
        execution_discover_interval_secs: 0,
        ..ExecutionArgs::default()
    };
    let app = TestApp::spawn_with(database, settings).await;
    fake.send_alerts_to(AlertReceiver::new(webhook_url(&app)));
    (app, fake)
}

fn webhook_url(app: &TestApp) -> String {
    format!("{}/api/v1/callbacks/dolphinscheduler/webhook", app.rest_url())
}

/// The runs of a workflow instance, once `done` holds for them (within 10 s).
async fn runs_when(
    app: &mut TestApp,
    request: pb::ListExecutionsRequest,
    done: impl Fn(&[pb::Execution]) -> bool,
) -> Vec<pb::Execution> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let runs = app.tasks.list_executions(request.clone()).await.unwrap().into_inner().executions;
        if done(&runs) {
            return runs;
        }
        assert!(tokio::time::Instant::now() < deadline, "runs never got there: {runs:#?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn of_instance(instance: i64) -> pb::ListExecutionsRequest {
    pb::ListExecutionsRequest { workflow_instance_id: instance, ..Default::default() }
}

fn state(run: &pb::Execution) -> pb::ExecutionState {
    pb::ExecutionState::try_from(run.state).unwrap()
}

fn source(run: &pb::Execution) -> pb::ExecutionSource {
    pb::ExecutionSource::try_from(run.source).unwrap()
}

/// The portal design's example task, with the tables it reads and writes.
async fn example_task_with_tables(app: &mut TestApp) -> pb::Task {
    create_table(app, "ods_user").await;
    create_table(app, "dwd_user").await;
    create_example_task(app).await
}

/// Publishes the portal design's example task with auto_start; returns (task, instance id).
async fn start_example(app: &mut TestApp) -> (pb::Task, i64) {
    let task = example_task_with_tables(app).await;
    let workflow = app
        .tasks
        .publish_task(pb::PublishTaskRequest { id: task.id, auto_start: true, ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .workflow
        .unwrap();
    let instance = workflow.publication.unwrap().last_instance_id;
    assert!(instance > 0);
    (task, instance)
}

/// Waits until the fake's master created the instance (3.1/3.2 create it a little later).
async fn wait_for_instance(fake: &FakeDolphinScheduler, id: i64) {
    for _ in 0..200 {
        if fake.instances().iter().any(|i| i.id == id) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("instance {id} never appeared");
}

async fn a_run_is_recorded_through_callbacks_alone(backend: Backend, family: Family) {
    let (mut app, fake) = spawn(backend, family, Follow::CallbacksOnly).await;
    let (task, instance) = start_example(&mut app).await;
    wait_for_instance(&fake, instance).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = app.tasks.list_executions(of_instance(instance)).await.unwrap().into_inner();
    assert!(before.executions.is_empty(), "without polling nothing is read before an alert: {before:?}");

    fake.set_instance_state(instance, "SUCCESS");
    let runs = runs_when(&mut app, of_instance(instance), |runs| !runs.is_empty()).await;
    assert_eq!(runs.len(), 1, "{runs:#?}");
    let run = &runs[0];
    assert_eq!((run.task_id, run.task_name.as_str()), (task.id, "load_dwd_user"));
    assert_eq!(state(run), pb::ExecutionState::Succeeded);
    assert_eq!(run.scheduler_state, "SUCCESS");
    assert_eq!(source(run), pb::ExecutionSource::Callback, "an alert, confirmed by reading the instance");
    assert!(run.task_instance_id > 0 && run.task_code > 0 && run.workflow_id > 0, "{run:?}");
    assert!(!run.host.is_empty() && !run.log_path.is_empty(), "{run:?}");
    assert!(run.start_time.is_some() && run.end_time.is_some(), "{run:?}");
    assert_eq!(run.attempt, 1);

    let sent = fake.alerts_sent();
    assert!(!sent.is_empty() && sent.iter().all(|a| a.status == Some(200)), "{sent:?}");
    let log = app
        .tasks
        .get_execution_log(pb::GetExecutionLogRequest { id: run.id, ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    assert!(log.text.contains("[LOG-PATH]") && log.line_count > 0 && log.end_of_log, "{log:?}");
    app.stop().await;
}

async fn a_run_is_recorded_through_polling_alone(backend: Backend, family: Family) {
    let (mut app, fake) = spawn(backend, family, Follow::Polling).await;
    fake.drop_alerts(true);
    let (_, instance) = start_example(&mut app).await;
    let running = runs_when(&mut app, of_instance(instance), |runs| {
        runs.len() == 1 && state(&runs[0]) == pb::ExecutionState::Running
    })
    .await;
    assert_eq!(source(&running[0]), pb::ExecutionSource::Poll);
    assert!(running[0].end_time.is_none());

    fake.set_instance_state(instance, "FAILURE");
    let runs = runs_when(&mut app, of_instance(instance), |runs| {
        runs.iter().all(|r| state(r) == pb::ExecutionState::Failed)
    })
    .await;
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].id, running[0].id, "the same record moved on");
    assert_eq!(source(&runs[0]), pb::ExecutionSource::Poll);
    assert!(runs[0].end_time.is_some() && runs[0].duration_ms >= 0);

    // A rerun is a second attempt of the same run, followed at once.
    app.workflows
        .rerun_workflow_instance(pb::RerunWorkflowInstanceRequest { workflow_instance_id: instance })
        .await
        .unwrap();
    let rerun = runs_when(&mut app, of_instance(instance), |runs| runs.iter().all(|r| r.attempt == 2)).await;
    assert_eq!((rerun.len(), state(&rerun[0])), (1, pb::ExecutionState::Running), "{rerun:?}");
    assert!(rerun[0].task_instance_id > runs[0].task_instance_id);
    app.stop().await;
}

async fn duplicate_late_and_reordered_alerts_with_polling_end_in_one_record_per_run(
    backend: Backend,
    family: Family,
) {
    let (mut app, fake) = spawn(backend, family, Follow::Polling).await;
    // 3.2 re-POSTs an alert when a delivery fails; here every alert arrives twice.
    fake.send_alerts_to(AlertReceiver { repeat: 2, ..AlertReceiver::new(webhook_url(&app)) });
    create_table(&mut app, "ods_a").await;
    let extract = create_named_task(&mut app, "extract_a", "insert into dwd_a select * from ods_a").await;
    let load = create_named_task(&mut app, "load_a", "insert into dws_a select * from dwd_a").await;
    let workflow = app
        .workflows
        .ensure_workflow(pb::EnsureWorkflowRequest { name: "wf_a".into(), ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .workflow
        .unwrap();
    app.workflows
        .sync_workflow(pb::SyncWorkflowRequest {
            workflow_id: workflow.id,
            task_ids: vec![extract.id, load.id],
            ..Default::default()
        })
        .await
        .unwrap();
    let start = || pb::StartWorkflowRequest { workflow_id: workflow.id, ..Default::default() };
    app.workflows
        .publish_workflow(pb::PublishWorkflowRequest { workflow_id: workflow.id, ..Default::default() })
        .await
        .unwrap();

    // Two runs whose alerts are held back and then delivered newest first.
    fake.hold_alerts();
    let first = app.workflows.start_workflow(start()).await.unwrap().into_inner().workflow_instance_id;
    let second = app.workflows.start_workflow(start()).await.unwrap().into_inner().workflow_instance_id;
    wait_for_instance(&fake, first).await;
    wait_for_instance(&fake, second).await;
    fake.set_task_state(first, "extract_a", "SUCCESS");
    fake.set_instance_state(first, "FAILURE");
    fake.set_instance_state(second, "SUCCESS");
    fake.release_alerts(true);

    let failed = runs_when(&mut app, of_instance(first), |runs| {
        runs.len() == 2 && runs.iter().all(|r| r.end_time.is_some())
    })
    .await;
    let by_task =
        |runs: &[pb::Execution], task: i64| runs.iter().find(|r| r.task_id == task).cloned().unwrap();
    assert_eq!(state(&by_task(&failed, extract.id)), pb::ExecutionState::Succeeded);
    assert_eq!(state(&by_task(&failed, load.id)), pb::ExecutionState::Failed);
    let succeeded = runs_when(&mut app, of_instance(second), |runs| {
        runs.len() == 2 && runs.iter().all(|r| state(r) == pb::ExecutionState::Succeeded)
    })
    .await;

    // Whatever else arrives (the alerts again, a late generic RUNNING report), nothing changes.
    for alert in fake.alerts_sent() {
        let posted = reqwest::Client::new()
            .post(webhook_url(&app))
            .header("content-type", alert.content_type.clone())
            .body(alert.body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(posted.status(), 200);
    }
    let late = pb::ReportTaskRunRequest {
        task_id: load.id,
        status: "RUNNING".into(),
        start_time: "2025-10-17T03:00:00".into(),
        workflow_instance_id: second,
        ..Default::default()
    };
    app.callbacks.report_task_run(late).await.unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    let all = app
        .tasks
        .list_executions(pb::ListExecutionsRequest { workflow_id: workflow.id, ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(all.total_size, 4, "one record per (instance, task): {all:#?}");
    let again = |id: i64| all.executions.iter().find(|r| r.id == id).cloned().unwrap();
    for run in failed.iter().chain(&succeeded) {
        let now = again(run.id);
        assert_eq!((now.state, now.attempt, now.end_time), (run.state, 1, run.end_time), "{now:?}");
    }
    app.stop().await;
}

async fn create_named_task(app: &mut TestApp, name: &str, sql: &str) -> pb::Task {
    let task =
        pb::Task { name: name.into(), body: Some(pb::task::Body::Sql(sql.into())), ..Default::default() };
    let request = pb::CreateTaskRequest { task: Some(task), register_missing_tables: true };
    app.tasks.create_task(request).await.unwrap().into_inner().task.unwrap()
}

/// `POST /api/v1/tasks/callback` with the portal design's example, for task `task_id`.
fn example_report(task_id: i64) -> pb::ReportTaskRunRequest {
    pb::ReportTaskRunRequest {
        task_id,
        status: "SUCCESS".into(),
        start_time: "2025-10-17T03:00:00".into(),
        end_time: "2025-10-17T03:04:00".into(),
        rows_output: Some(15890),
        ..Default::default()
    }
}

async fn the_portal_design_callback_is_recorded_once_with_stats_and_freshness(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    create_table(&mut app, "ods_user").await;
    let dwd_user = create_table(&mut app, "dwd_user").await;
    let task = create_example_task(&mut app).await;

    let body = r#"{"task_id":TASK,"status":"SUCCESS","start_time":"2025-10-17T03:00:00","end_time":"2025-10-17T03:04:00","rows_output":15890}"#
        .replace("TASK", &task.id.to_string());
    let http = reqwest::Client::new();
    for _ in 0..3 {
        let posted = http
            .post(format!("{}/api/v1/tasks/callback", app.rest_url()))
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(posted.status(), 200, "{:?}", posted.text().await);
    }
    // A late RUNNING of the same run changes nothing.
    app.callbacks
        .report_task_run(pb::ReportTaskRunRequest {
            status: "RUNNING".into(),
            end_time: String::new(),
            ..example_report(task.id)
        })
        .await
        .unwrap();
    let by_task = pb::ListExecutionsRequest { task_id: task.id, ..Default::default() };
    let runs = runs_when(&mut app, by_task.clone(), |runs| !runs.is_empty()).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let runs_later = app.tasks.list_executions(by_task).await.unwrap().into_inner();
    assert_eq!(runs_later.total_size, 1, "duplicates are one run: {runs_later:?}");
    let run = &runs[0];
    assert_eq!(state(run), pb::ExecutionState::Succeeded);
    assert_eq!(run.rows_output, Some(15890));
    assert_eq!(run.duration_ms, 240_000);
    // Times without an offset are DolphinScheduler's zone (Asia/Shanghai by default).
    assert_eq!(run.start_time.unwrap().seconds, 1_760_641_200);
    assert_eq!(source(run), pb::ExecutionSource::Callback);
    assert_eq!(run.workflow_instance_id, 0);

    let got = app.tasks.get_execution(pb::GetExecutionRequest { id: run.id }).await.unwrap().into_inner();
    assert_eq!(got.execution.as_ref(), Some(run));

    // A second, failed run a day later.
    let next = pb::ReportTaskRunRequest {
        status: "FAILED".into(),
        start_time: "2025-10-18T03:00:00+08:00".into(),
        end_time: "2025-10-18T03:01:00+08:00".into(),
        rows_output: Some(0),
        ..example_report(task.id)
    };
    app.callbacks.report_task_run(next).await.unwrap();
    let both =
        runs_when(&mut app, pb::ListExecutionsRequest { task_id: task.id, ..Default::default() }, |r| {
            r.len() == 2
        })
        .await;
    assert_eq!(state(&both[0]), pb::ExecutionState::Failed, "newest first");

    let stats = app
        .tasks
        .get_execution_stats(pb::GetExecutionStatsRequest { task_id: task.id, ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .stats
        .unwrap();
    assert_eq!((stats.runs, stats.succeeded, stats.failed), (2, 1, 1));
    assert!((stats.success_rate - 0.5).abs() < 1e-9);
    assert_eq!((stats.p50_duration_ms, stats.p95_duration_ms), (240_000, 240_000));
    assert_eq!(stats.last_success_time.unwrap().seconds, 1_760_641_440);
    assert_eq!(stats.rows_trend.iter().map(|p| p.rows_output).collect::<Vec<_>>(), vec![15890, 0]);

    // Filters and paging.
    let failed = pb::ListExecutionsRequest { state: pb::ExecutionState::Failed as i32, ..Default::default() };
    assert_eq!(app.tasks.list_executions(failed).await.unwrap().into_inner().total_size, 1);
    let of_table = pb::ListExecutionsRequest { table: "dwd_user".into(), page_size: 1, ..Default::default() };
    let page = app.tasks.list_executions(of_table.clone()).await.unwrap().into_inner();
    assert_eq!((page.executions.len(), page.total_size), (1, 2));
    let rest = app
        .tasks
        .list_executions(pb::ListExecutionsRequest { page_token: page.next_page_token, ..of_table })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rest.executions[0].id, run.id, "the second page holds the older run");
    let window = pb::ListExecutionsRequest {
        start_after: Some(prost_types::Timestamp { seconds: 1_760_700_000, nanos: 0 }),
        ..Default::default()
    };
    assert_eq!(app.tasks.list_executions(window).await.unwrap().into_inner().total_size, 1);

    // The table the task writes is as fresh as the last run that ended well.
    let table = app
        .tables
        .get_table(pb::GetTableRequest { id: dwd_user.id, name: String::new() })
        .await
        .unwrap()
        .into_inner()
        .table
        .unwrap();
    let freshness = table.freshness.expect("a successful write is recorded");
    assert_eq!((freshness.task_id, freshness.execution_id), (task.id, run.id));
    assert_eq!(freshness.last_success_time.unwrap().seconds, 1_760_641_440);

    let metrics = http.get(format!("{}/metrics", app.rest_url())).send().await.unwrap().text().await.unwrap();
    for series in [
        "dataportal_callbacks_received_total{kind=\"TASK_RUN\"}",
        "dataportal_callbacks_deduplicated_total{kind=\"TASK_RUN\"}",
        "dataportal_rpc_requests_total{method=\"/dataportal.v1.CallbackService/ReportTaskRun\",transport=\"rest\",code=\"Ok\"}",
        "dataportal_rpc_duration_seconds_count{method=\"/dataportal.v1.TaskService/ListExecutions\",transport=\"grpc\"}",
    ] {
        assert!(metrics.contains(series), "{series} in {metrics}");
    }

    let no_log = failure(
        app.tasks.get_execution_log(pb::GetExecutionLogRequest { id: run.id, ..Default::default() }).await,
    );
    assert_eq!((no_log.code, no_log.reason.as_str()), (Code::FailedPrecondition, "EXECUTION_HAS_NO_LOG"));
    app.stop().await;
}

async fn bad_callbacks_are_refused_and_store_nothing(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    let task = example_task_with_tables(&mut app).await;

    let unknown = failure(app.callbacks.report_task_run(example_report(task.id + 100)).await);
    assert_eq!((unknown.code, unknown.reason.as_str()), (Code::NotFound, "TASK_NOT_FOUND"));
    let bad = pb::ReportTaskRunRequest {
        task_id: task.id,
        status: "DONE-ISH".into(),
        start_time: "yesterday".into(),
        end_time: "2025-10-17T02:00:00".into(),
        rows_output: Some(-1),
        ..Default::default()
    };
    let refused = failure(app.callbacks.report_task_run(bad).await);
    assert_eq!(refused.code, Code::InvalidArgument);
    assert_eq!(refused.fields, ["status", "start_time", "rows_output"], "{refused:?}");
    let backwards =
        pb::ReportTaskRunRequest { end_time: "2025-10-17T02:00:00".into(), ..example_report(task.id) };
    assert_eq!(failure(app.callbacks.report_task_run(backwards).await).fields, ["end_time"]);
    let missing = failure(app.callbacks.report_task_run(pb::ReportTaskRunRequest::default()).await);
    assert_eq!(missing.fields, ["task_id", "status", "start_time"]);

    // Alerts the webhook accepts but that name no run.
    let http = reqwest::Client::new();
    for (content_type, body) in [
        ("text/plain; charset=UTF-8", r#"{"content":""}"#),
        (
            "application/json",
            r#"{"content":"[{\"message\":\" This is a test alert message form DolphinScheduler\"}]"}"#,
        ),
        ("application/json", r#"{"content":"$msg"}"#),
        ("text/plain", "not json at all"),
    ] {
        let posted = http
            .post(webhook_url(&app))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(posted.status(), 200, "{body}");
    }
    let ignored = app
        .callbacks
        .report_dolphin_alert(pb::ReportDolphinAlertRequest {
            body: r#"{"content":"$msg"}"#.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ignored.kind, pb::AlertKind::Misconfigured as i32);

    tokio::time::sleep(Duration::from_millis(500)).await;
    let all = app.tasks.list_executions(pb::ListExecutionsRequest::default()).await.unwrap().into_inner();
    assert_eq!(all.total_size, 0, "{all:?}");
    let unknown_run = failure(app.tasks.get_execution(pb::GetExecutionRequest { id: 999 }).await);
    assert_eq!((unknown_run.code, unknown_run.reason.as_str()), (Code::NotFound, "EXECUTION_NOT_FOUND"));
    let no_task = failure(
        app.tasks
            .get_execution_stats(pb::GetExecutionStatsRequest { task_id: 999, ..Default::default() })
            .await,
    );
    assert_eq!(no_task.reason, "TASK_NOT_FOUND");
    let no_table = pb::ListExecutionsRequest { table: "dwd_nowhere".into(), ..Default::default() };
    assert_eq!(failure(app.tasks.list_executions(no_table).await).reason, "TABLE_NOT_FOUND");
    let bad_page = pb::GetExecutionLogRequest { id: 1, skip_lines: -1, limit: -5 };
    assert_eq!(failure(app.tasks.get_execution_log(bad_page).await).fields, ["skip_lines", "limit"]);
    app.stop().await;
}

async fn a_configured_secret_is_required(backend: Backend) {
    let database = TestDatabase::new(backend).await;
    let mut settings = test_settings(&database.url);
    settings.serve.executions.callback_secret = Some(Secret::new("s3cret"));
    let mut app = TestApp::spawn_with(database, settings).await;
    let task = example_task_with_tables(&mut app).await;

    let refused = failure(app.callbacks.report_task_run(example_report(task.id)).await);
    assert_eq!((refused.code, refused.reason.as_str()), (Code::Unauthenticated, "CALLBACK_UNAUTHENTICATED"));
    assert!(!refused.message.contains("s3cret"));
    let mut request = tonic::Request::new(example_report(task.id));
    request.metadata_mut().insert("x-callback-secret", "s3cret".parse().unwrap());
    app.callbacks.report_task_run(request).await.unwrap();

    let http = reqwest::Client::new();
    let alert = r#"{"content":"[{\"processId\":5,\"processState\":\"SUCCESS\"}]"}"#;
    let without = http.post(webhook_url(&app)).body(alert).send().await.unwrap();
    assert_eq!(without.status(), 401);
    let with =
        http.post(webhook_url(&app)).header("X-Callback-Secret", "s3cret").body(alert).send().await.unwrap();
    assert_eq!(with.status(), 200);
    let rest = http
        .post(format!("{}/api/v1/tasks/callback", app.rest_url()))
        .body(
            serde_json::json!({"task_id": task.id, "status": "SUCCESS", "start_time": "2025-10-17T03:00:00"})
                .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(rest.status(), 401);
    app.stop().await;
}

async fn watch_streams_the_changes_of_the_runs_asked_for(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    let task = example_task_with_tables(&mut app).await;
    let other =
        create_named_task(&mut app, "load_other", "insert into dwd_other select * from ods_user").await;

    let mut watch = app
        .callbacks
        .watch_executions(pb::WatchExecutionsRequest { task_id: task.id, ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    app.callbacks.report_task_run(example_report(other.id)).await.unwrap();
    let running = pb::ReportTaskRunRequest {
        status: "RUNNING".into(),
        end_time: String::new(),
        ..example_report(task.id)
    };
    app.callbacks.report_task_run(running).await.unwrap();
    app.callbacks.report_task_run(example_report(task.id)).await.unwrap();

    let first = next(&mut watch).await;
    let execution = first.execution.unwrap();
    assert_eq!(execution.task_id, task.id, "the other task's run is filtered out");
    let states: Vec<_> = if first.created && state(&execution) == pb::ExecutionState::Running {
        let second = next(&mut watch).await;
        assert!(!second.created);
        vec![state(&execution), state(second.execution.as_ref().unwrap())]
    } else {
        // Both reports were applied in one batch: one event with the final state.
        vec![state(&execution)]
    };
    assert_eq!(states.last(), Some(&pb::ExecutionState::Succeeded), "{states:?}");
    app.stop().await;
}

async fn a_watch_on_one_replica_streams_what_another_recorded(backend: Backend) {
    let mut first = TestApp::spawn(backend).await;
    let settings = test_settings(&first.database.url);
    let mut second = TestApp::spawn_with(first.database.shared(), settings).await;
    let task = example_task_with_tables(&mut first).await;

    let mut watch = first
        .callbacks
        .watch_executions(pb::WatchExecutionsRequest { task_id: task.id, ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    second.callbacks.report_task_run(example_report(task.id)).await.unwrap();
    let event = next(&mut watch).await;
    let execution = event.execution.unwrap();
    assert!(event.created);
    assert_eq!((execution.task_id, state(&execution)), (task.id, pb::ExecutionState::Succeeded));
    second.shutdown_only().await;
    first.stop().await;
}

async fn next(watch: &mut tonic::Streaming<pb::WatchExecutionsResponse>) -> pb::WatchExecutionsResponse {
    tokio::time::timeout(Duration::from_secs(10), watch.message()).await.unwrap().unwrap().expect("an event")
}

/// MariaDB goes away in the middle of a stream of reports and comes back: every report that got
/// an answer of success is recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_during_ingestion_loses_no_acknowledged_report() {
    let database = TestDatabase::new(Backend::MariaDb).await;
    let proxy = CuttableProxy::start_for_mariadb().await;
    let settings = test_settings(&database.url_via(&proxy.address));
    let mut app = TestApp::spawn_with(database, settings).await;
    let task = example_task_with_tables(&mut app).await;

    let stop = Arc::new(AtomicBool::new(false));
    let mut senders = Vec::new();
    // Each report is a run of its own: sender s, report n starts at 2025-01-01T00:s:00Z + n ms.
    let base_ms: i64 = 1_735_689_600_000;
    for sender in 0..8i64 {
        let mut client = app.callbacks.clone();
        let stop = stop.clone();
        senders.push(tokio::spawn(async move {
            let (mut acknowledged, mut refused) = (Vec::new(), 0);
            let mut n = 0i64;
            while !stop.load(Ordering::SeqCst) && n < 60_000 {
                let start_ms = base_ms + sender * 60_000 + n;
                let start = format!("2025-01-01T00:{sender:02}:{:02}.{:03}Z", n / 1000, n % 1000);
                let report = pb::ReportTaskRunRequest {
                    start_time: start,
                    end_time: String::new(),
                    ..example_report(task.id)
                };
                match client.report_task_run(report).await {
                    Ok(_) => acknowledged.push(start_ms),
                    Err(status) => {
                        assert_eq!(status.code(), Code::Unavailable, "{status:?}");
                        refused += 1;
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
                n += 1;
            }
            (acknowledged, refused)
        }));
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    proxy.set_cut(true);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    proxy.set_cut(false);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop.store(true, Ordering::SeqCst);
    let mut acknowledged = HashSet::new();
    let mut refused = 0;
    for sender in senders {
        let (acked, failed) = sender.await.unwrap();
        acknowledged.extend(acked);
        refused += failed;
    }
    assert!(refused > 0, "the outage was felt by the senders");
    assert!(acknowledged.len() > 100, "reports flowed before and after: {}", acknowledged.len());

    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let recorded = recorded_starts(&mut app, task.id).await;
        let lost: Vec<_> = acknowledged.difference(&recorded).collect();
        if lost.is_empty() {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{} acknowledged reports were lost", lost.len());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    app.stop().await;
}

/// The start times (epoch millis) of every recorded run of a task.
async fn recorded_starts(app: &mut TestApp, task_id: i64) -> HashSet<i64> {
    let mut starts = HashSet::new();
    let mut page_token = String::new();
    loop {
        let request =
            pb::ListExecutionsRequest { task_id, page_size: 1000, page_token, ..Default::default() };
        let Ok(page) = app.tasks.list_executions(request).await else { return starts };
        let page = page.into_inner();
        starts.extend(
            page.executions
                .iter()
                .filter_map(|r| r.start_time)
                .map(|t| t.seconds * 1000 + i64::from(t.nanos) / 1_000_000),
        );
        if page.next_page_token.is_empty() {
            return starts;
        }
        page_token = page.next_page_token;
    }
}

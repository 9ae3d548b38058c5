//! Workflows published to a fake DolphinScheduler of each version family, as a client sees them.

use std::time::Duration;

use dataportal::config::DolphinArgs;
use dataportal::proto::v1 as pb;
use dataportal::scheduler::dolphin::Secret;
use fake_dolphinscheduler::{FakeDolphinScheduler, Family};
use tonic::Code;

use crate::helpers::{Backend, TestApp, TestDatabase, failure, test_settings};
use crate::tables::create_table;
use crate::tasks::{create_example_task, example_task};

crate::on_every_family!(
    the_example_task_is_published_with_auto_start_and_its_instance_returned,
    republishing_after_a_change_keeps_task_codes,
    a_task_of_another_workflow_becomes_a_dependent_task,
    a_schedule_is_online_in_quartz_form,
    an_outage_delays_but_loses_no_publish,
    a_wrong_password_gives_ds_login_failed,
    instances_are_read_stopped_rerun_and_logged,
    two_replicas_create_a_workflow_once,
    a_changed_or_deleted_task_reaches_dolphinscheduler_unasked,
);

crate::on_both_backends!(
    without_dolphinscheduler_the_catalog_serves_and_workflow_calls_say_so,
    bad_workflow_requests_are_refused_before_anything_is_stored,
);

const DATASOURCE: &str = "warehouse";

/// Settings of a server publishing to `fake` (family detected), with a default datasource.
fn dolphin_args(fake: &FakeDolphinScheduler) -> DolphinArgs {
    DolphinArgs {
        url: Some(fake.base_url()),
        token: Some(Secret::new(fake.token())),
        default_datasource: DATASOURCE.into(),
        ..DolphinArgs::default()
    }
}

async fn spawn(backend: Backend, family: Family) -> (TestApp, FakeDolphinScheduler) {
    let fake = FakeDolphinScheduler::start(family).await;
    fake.add_datasource(DATASOURCE, "MYSQL");
    let database = TestDatabase::new(backend).await;
    let mut settings = test_settings(&database.url);
    settings.serve.dolphin = dolphin_args(&fake);
    (TestApp::spawn_with(database, settings).await, fake)
}

async fn create_task(
    app: &mut TestApp,
    name: &str,
    sql: &str,
    inputs: &[&str],
    outputs: &[&str],
) -> pb::Task {
    let task = pb::Task {
        name: name.into(),
        body: Some(pb::task::Body::Sql(sql.into())),
        inputs: inputs.iter().map(|s| (*s).to_owned()).collect(),
        outputs: outputs.iter().map(|s| (*s).to_owned()).collect(),
        ..Default::default()
    };
    app.tasks
        .create_task(pb::CreateTaskRequest { task: Some(task), register_missing_tables: true })
        .await
        .unwrap_or_else(|e| panic!("create task {name}: {e:?}"))
        .into_inner()
        .task
        .unwrap()
}

async fn ensure(app: &mut TestApp, name: &str) -> pb::Workflow {
    app.workflows
        .ensure_workflow(pb::EnsureWorkflowRequest { name: name.into(), ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .workflow
        .unwrap()
}

async fn sync(app: &mut TestApp, workflow: &pb::Workflow, tasks: &[&pb::Task]) -> pb::Workflow {
    app.workflows
        .sync_workflow(pb::SyncWorkflowRequest {
            workflow_id: workflow.id,
            task_ids: tasks.iter().map(|t| t.id).collect(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .workflow
        .unwrap()
}

async fn get(app: &mut TestApp, id: i64) -> pb::Workflow {
    app.workflows
        .get_workflow(pb::GetWorkflowRequest { workflow_id: id, ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .workflow
        .unwrap()
}

fn publication(workflow: &pb::Workflow) -> &pb::Publication {
    workflow.publication.as_ref().expect("publication")
}

fn state(workflow: &pb::Workflow) -> pb::PublishState {
    pb::PublishState::try_from(publication(workflow).state).unwrap()
}

async fn the_example_task_is_published_with_auto_start_and_its_instance_returned(
    backend: Backend,
    family: Family,
) {
    let (mut app, fake) = spawn(backend, family).await;
    create_table(&mut app, "ods_user").await;
    create_table(&mut app, "dwd_user").await;
    let task = create_example_task(&mut app).await;

    let published = app
        .tasks
        .publish_task(pb::PublishTaskRequest { id: task.id, auto_start: true, ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .workflow
        .unwrap();
    assert_eq!(state(&published), pb::PublishState::Published, "{published:?}");
    assert_eq!(published.name, "load_dwd_user", "a task without a workflow gets one named after it");
    let p = publication(&published);
    assert!(p.last_instance_id > 0, "auto_start returns the instance id: {p:?}");
    assert!(p.project_code > 0 && p.workflow_code > 0);
    assert!(p.task_codes.get(&task.id).copied().unwrap_or(0) > 0, "{p:?}");

    let definition = fake.workflow("data-portal", "load_dwd_user").expect("the definition exists");
    assert_eq!(definition.code, p.workflow_code);
    assert_eq!(definition.release_state, "ONLINE");
    assert_eq!(definition.tasks.len(), 1);
    let ds_task = &definition.tasks[0];
    assert_eq!((ds_task.code, ds_task.task_type.as_str()), (p.task_codes[&task.id], "SQL"));
    assert_eq!(ds_task.task_params["sql"], "insert into dwd_user select * from ods_user");
    assert_eq!(definition.relations, vec![(0, ds_task.code)], "the one task is a root");
    let schedule = definition.schedule.expect("the task's schedule is published");
    assert_eq!(schedule.crontab, "0 0 3 * * ? *");
    assert_eq!(schedule.release_state, "ONLINE");

    let instances = fake.instances();
    assert_eq!(instances.len(), 1, "started once");
    assert_eq!(instances[0].id, p.last_instance_id);
    assert_eq!(instances[0].workflow_code, p.workflow_code);

    let instance = app
        .workflows
        .get_workflow_instance(pb::GetWorkflowInstanceRequest { workflow_instance_id: p.last_instance_id })
        .await
        .unwrap()
        .into_inner()
        .instance
        .unwrap();
    assert_eq!(instance.workflow_code, p.workflow_code);
    assert_eq!(instance.state, "RUNNING_EXECUTION");
    assert!(!instance.finished);
    assert_eq!(instance.tasks.len(), 1);
    assert_eq!(instance.tasks[0].task_code, ds_task.code);
    app.stop().await;
}

async fn republishing_after_a_change_keeps_task_codes(backend: Backend, family: Family) {
    let (mut app, fake) = spawn(backend, family).await;
    let load =
        create_task(&mut app, "load_orders", "insert into dwd_orders select * from ods_orders", &[], &[])
            .await;
    let agg = create_task(
        &mut app,
        "agg_orders",
        "insert into dws_orders select count(*) from dwd_orders",
        &[],
        &[],
    )
    .await;
    let workflow = ensure(&mut app, "orders").await;
    let first = sync(&mut app, &workflow, &[&load, &agg]).await;
    assert_eq!(state(&first), pb::PublishState::Published, "{first:?}");
    let codes = publication(&first).task_codes.clone();
    let definition = fake.workflow("data-portal", "orders").unwrap();
    let (load_code, agg_code) = (codes[&load.id], codes[&agg.id]);
    let mut relations = definition.relations.clone();
    relations.sort();
    assert_eq!(relations, vec![(0, load_code), (load_code, agg_code)], "the order comes from lineage");
    let x = |code: i64| {
        definition.locations.as_array().unwrap().iter().find(|l| l["taskCode"] == code).unwrap()["x"]
            .as_i64()
            .unwrap()
    };
    assert!(x(load_code) < x(agg_code), "the layout reads left to right: {:?}", definition.locations);

    // Change one task and add another: codes of the existing ones stay.
    let mut changed = agg.clone();
    changed.body = Some(pb::task::Body::Sql("insert into dws_orders select count(1) from dwd_orders".into()));
    app.tasks.update_task(pb::UpdateTaskRequest { task: Some(changed), ..Default::default() }).await.unwrap();
    let report =
        create_task(&mut app, "report_orders", "insert into ads_orders select * from dws_orders", &[], &[])
            .await;
    let second = sync(&mut app, &workflow, &[&load, &agg, &report]).await;
    assert_eq!(state(&second), pb::PublishState::Published, "{second:?}");
    let new_codes = &publication(&second).task_codes;
    assert_eq!((new_codes[&load.id], new_codes[&agg.id]), (load_code, agg_code));
    assert!(new_codes[&report.id] > 0 && new_codes[&report.id] != agg_code);
    let definition = fake.workflow("data-portal", "orders").unwrap();
    assert_eq!(definition.code, publication(&first).workflow_code, "the same definition is updated");
    assert_eq!(definition.release_state, "ONLINE", "offline, update, online");
    let agg_task = definition.tasks.iter().find(|t| t.code == agg_code).unwrap();
    assert!(agg_task.task_params["sql"].as_str().unwrap().contains("count(1)"));
    assert!(agg_task.version >= 2, "the changed task got a new version: {}", agg_task.version);

    // Publishing again with nothing changed keeps everything too.
    let third = app
        .workflows
        .publish_workflow(pb::PublishWorkflowRequest { workflow_id: workflow.id, ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .workflow
        .unwrap();
    assert_eq!(&publication(&third).task_codes, new_codes);
    app.stop().await;
}

async fn a_task_of_another_workflow_becomes_a_dependent_task(backend: Backend, family: Family) {
    let (mut app, fake) = spawn(backend, family).await;
    let upstream =
        create_task(&mut app, "load_items", "insert into dwd_items select * from ods_items", &[], &[]).await;
    let downstream =
        create_task(&mut app, "agg_items", "insert into dws_items select count(*) from dwd_items", &[], &[])
            .await;
    let daily = ensure(&mut app, "daily").await;
    let reports = ensure(&mut app, "reports").await;
    app.workflows
        .sync_workflow(pb::SyncWorkflowRequest {
            workflow_id: daily.id,
            task_ids: vec![upstream.id],
            return_immediately: true,
            ..Default::default()
        })
        .await
        .unwrap();
    // Wait until `daily` is out, then publish `reports`, whose task reads what `daily` writes.
    let daily = wait_for(&mut app, daily.id, pb::PublishState::Published).await;
    let reports = sync(&mut app, &reports, &[&downstream]).await;
    assert_eq!(state(&reports), pb::PublishState::Published, "{reports:?}");

    let definition = fake.workflow("data-portal", "reports").unwrap();
    assert_eq!(definition.tasks.len(), 2, "the task and the one waiting for the other workflow");
    let dependent = definition.tasks.iter().find(|t| t.task_type == "DEPENDENT").expect("a DEPENDENT task");
    let item = &dependent.task_params["dependence"]["dependTaskList"][0]["dependItemList"][0];
    assert_eq!(item["definitionCode"], publication(&daily).workflow_code);
    assert_eq!(item["depTaskCode"], publication(&daily).task_codes[&upstream.id]);
    let agg_code = publication(&reports).task_codes[&downstream.id];
    assert!(definition.relations.contains(&(dependent.code, agg_code)), "{:?}", definition.relations);
    app.stop().await;
}

/// Polls a workflow until its publication reaches `wanted` (or fails the test after 20 s).
async fn wait_for(app: &mut TestApp, id: i64, wanted: pb::PublishState) -> pb::Workflow {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let workflow = get(app, id).await;
        if state(&workflow) == wanted {
            return workflow;
        }
        assert!(tokio::time::Instant::now() < deadline, "still {:?}: {workflow:?}", state(&workflow));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn a_schedule_is_online_in_quartz_form(backend: Backend, family: Family) {
    let (mut app, fake) = spawn(backend, family).await;
    let task =
        create_task(&mut app, "load_users", "insert into dwd_users select * from ods_users", &[], &[]).await;
    let workflow = ensure(&mut app, "users").await;
    sync(&mut app, &workflow, &[&task]).await;
    let schedule = |cron: &str| pb::ScheduleWorkflowRequest {
        workflow_id: workflow.id,
        schedule: Some(pb::WorkflowSchedule {
            cron: cron.into(),
            timezone: "Asia/Shanghai".into(),
            start_time: "2026-01-01 00:00:00".into(),
            end_time: "2126-01-01 00:00:00".into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    let scheduled =
        app.workflows.schedule_workflow(schedule("5 4 * * *")).await.unwrap().into_inner().workflow.unwrap();
    assert_eq!(state(&scheduled), pb::PublishState::Published, "{scheduled:?}");
    assert_eq!(scheduled.schedule.as_ref().unwrap().quartz_cron, "0 5 4 * * ? *");
    let ds = fake.workflow("data-portal", "users").unwrap().schedule.expect("a schedule");
    assert_eq!((ds.crontab.as_str(), ds.timezone_id.as_str()), ("0 5 4 * * ? *", "Asia/Shanghai"));
    assert_eq!((ds.start_time.as_str(), ds.release_state.as_str()), ("2026-01-01 00:00:00", "ONLINE"));

    // A new cron updates the same schedule (DolphinScheduler 3.2+ allows one per definition).
    let rescheduled = app
        .workflows
        .schedule_workflow(schedule("0 9 * * 1-5"))
        .await
        .unwrap()
        .into_inner()
        .workflow
        .unwrap();
    assert_eq!(state(&rescheduled), pb::PublishState::Published, "{rescheduled:?}");
    let again = fake.workflow("data-portal", "users").unwrap().schedule.unwrap();
    assert_eq!(again.id, ds.id);
    assert_eq!(again.crontab, "0 0 9 ? * MON,TUE,WED,THU,FRI *");
    assert_eq!(again.release_state, "ONLINE", "onlined again after the update");

    let bad = failure(app.workflows.schedule_workflow(schedule("0 9 1 * MON")).await);
    assert_eq!(
        (bad.code, bad.fields.as_slice()),
        (Code::InvalidArgument, ["schedule.cron".to_owned()].as_slice())
    );
    app.stop().await;
}

async fn an_outage_delays_but_loses_no_publish(backend: Backend, family: Family) {
    let (mut app, fake) = spawn(backend, family).await;
    let task =
        create_task(&mut app, "load_stock", "insert into dwd_stock select * from ods_stock", &[], &[]).await;
    fake.go_down().await;
    let pending = app
        .tasks
        .publish_task(pb::PublishTaskRequest { id: task.id, return_immediately: true, ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .workflow
        .unwrap();
    assert!(matches!(state(&pending), pb::PublishState::Pending | pb::PublishState::Publishing));
    // While DolphinScheduler is down the request stays, with the reason, and is retried.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let waiting = get(&mut app, pending.id).await;
    assert!(
        matches!(state(&waiting), pb::PublishState::Pending | pb::PublishState::Publishing),
        "{waiting:?}"
    );
    assert!(publication(&waiting).last_error.contains("DS_UNAVAILABLE"), "{waiting:?}");
    assert!(publication(&waiting).attempts >= 2, "retried: {waiting:?}");

    fake.come_back().await;
    let back = tokio::time::Instant::now();
    let published = wait_for(&mut app, pending.id, pb::PublishState::Published).await;
    assert!(back.elapsed() < Duration::from_secs(8), "published {:?} after recovery", back.elapsed());
    assert_eq!(
        publication(&published).workflow_code,
        fake.workflow("data-portal", "load_stock").unwrap().code
    );
    assert_eq!(publication(&published).last_error, "");
    app.stop().await;
}

async fn a_wrong_password_gives_ds_login_failed(backend: Backend, family: Family) {
    let fake = FakeDolphinScheduler::start(family).await;
    let database = TestDatabase::new(backend).await;
    let mut settings = test_settings(&database.url);
    settings.serve.dolphin = DolphinArgs {
        url: Some(fake.base_url()),
        user: fake_dolphinscheduler::USER.into(),
        password: Some(Secret::new("not-the-password")),
        ..DolphinArgs::default()
    };
    let mut app = TestApp::spawn_with(database, settings).await;
    let listed =
        failure(app.workflows.list_workflow_instances(pb::ListWorkflowInstancesRequest::default()).await);
    assert_eq!(listed.reason, "DS_LOGIN_FAILED", "{listed:?}");
    assert!(!listed.message.contains("not-the-password"));

    let task = create_task(&mut app, "load_x", "insert into dwd_x select * from ods_x", &[], &[]).await;
    let failed = app
        .tasks
        .publish_task(pb::PublishTaskRequest { id: task.id, ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .workflow
        .unwrap();
    assert_eq!(
        state(&failed),
        pb::PublishState::Failed,
        "a refused login is not retried forever: {failed:?}"
    );
    assert!(publication(&failed).last_error.contains("DS_LOGIN_FAILED"), "{failed:?}");
    app.stop().await;
}

async fn instances_are_read_stopped_rerun_and_logged(backend: Backend, family: Family) {
    let (mut app, fake) = spawn(backend, family).await;
    let task = create_task(&mut app, "load_y", "insert into dwd_y select * from ods_y", &[], &[]).await;
    let workflow = ensure(&mut app, "y").await;
    sync(&mut app, &workflow, &[&task]).await;
    let started = app
        .workflows
        .start_workflow(pb::StartWorkflowRequest { workflow_id: workflow.id, ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .workflow_instance_id;
    assert!(fake.instances().iter().any(|i| i.id == started));

    let listed = app
        .workflows
        .list_workflow_instances(pb::ListWorkflowInstancesRequest {
            workflow_id: workflow.id,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.instances.iter().map(|i| i.id).collect::<Vec<_>>(), vec![started]);

    let stopped = app
        .workflows
        .stop_workflow_instance(pb::StopWorkflowInstanceRequest { workflow_instance_id: started })
        .await
        .unwrap()
        .into_inner()
        .instance
        .unwrap();
    assert!(matches!(stopped.state.as_str(), "READY_STOP" | "STOP"), "{stopped:?}");
    let rerun_refused = failure(
        app.workflows
            .stop_workflow_instance(pb::StopWorkflowInstanceRequest { workflow_instance_id: started })
            .await,
    );
    assert_eq!(rerun_refused.reason, "DS_STATE_CONFLICT", "a stopped instance cannot be stopped again");
    // Only a finished run can be rerun: the master ends the stop a little after the call.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let request = pb::GetWorkflowInstanceRequest { workflow_instance_id: started };
        let instance =
            app.workflows.get_workflow_instance(request).await.unwrap().into_inner().instance.unwrap();
        if instance.state == "STOP" {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the stop never ended: {instance:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let rerun = app
        .workflows
        .rerun_workflow_instance(pb::RerunWorkflowInstanceRequest { workflow_instance_id: started })
        .await
        .unwrap()
        .into_inner()
        .instance
        .unwrap();
    assert_eq!((rerun.id, rerun.run_times), (started, 2));

    let instance = app
        .workflows
        .get_workflow_instance(pb::GetWorkflowInstanceRequest { workflow_instance_id: started })
        .await
        .unwrap()
        .into_inner()
        .instance
        .unwrap();
    let task_instance = instance.tasks.first().expect("a task instance").id;
    let first = app
        .workflows
        .get_task_log(pb::GetTaskLogRequest {
            task_instance_id: task_instance,
            page_size: 1,
            page_token: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.line_count, 1);
    assert!(!first.next_page_token.is_empty(), "more lines follow");
    let rest = app
        .workflows
        .get_task_log(pb::GetTaskLogRequest {
            task_instance_id: task_instance,
            page_size: 1000,
            page_token: first.next_page_token,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(rest.line_count >= 1 && !rest.text.contains(&first.text), "{rest:?}");

    let missing = failure(
        app.workflows
            .get_workflow_instance(pb::GetWorkflowInstanceRequest { workflow_instance_id: 999_999 })
            .await,
    );
    assert_eq!((missing.code, missing.reason.as_str()), (Code::NotFound, "DS_NOT_FOUND"));
    app.stop().await;
}

async fn two_replicas_create_a_workflow_once(backend: Backend, family: Family) {
    let (mut first, fake) = spawn(backend, family).await;
    let mut settings = test_settings(&first.database.url);
    settings.serve.dolphin = dolphin_args(&fake);
    let mut second = TestApp::spawn_with(first.database.shared(), settings).await;
    let task = create_task(&mut first, "load_z", "insert into dwd_z select * from ods_z", &[], &[]).await;
    let request = pb::PublishTaskRequest { id: task.id, ..Default::default() };
    let (a, b) = tokio::join!(first.tasks.publish_task(request.clone()), second.tasks.publish_task(request));
    let (a, b) = (a.unwrap().into_inner().workflow.unwrap(), b.unwrap().into_inner().workflow.unwrap());
    // Both calls wait for the outcome, whichever replica carried the publish out.
    assert_eq!((state(&a), state(&b)), (pb::PublishState::Published, pb::PublishState::Published));
    let published = wait_for(&mut first, a.id, pb::PublishState::Published).await;
    assert_eq!(a.id, b.id, "one workflow");
    let creates = fake
        .requests()
        .iter()
        .filter(|(method, path)| {
            method == "POST"
                && (path.ends_with("/process-definition") || path.ends_with("/workflow-definition"))
        })
        .count();
    assert_eq!(creates, 1, "created once: {:?}", fake.requests());
    assert_eq!(fake.workflow("data-portal", "load_z").unwrap().code, publication(&published).workflow_code);
    second.shutdown_only().await;
    first.stop().await;
}

async fn without_dolphinscheduler_the_catalog_serves_and_workflow_calls_say_so(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    create_table(&mut app, "ods_user").await;
    create_table(&mut app, "dwd_user").await;
    let task = create_example_task(&mut app).await;
    let refused =
        failure(app.tasks.publish_task(pb::PublishTaskRequest { id: task.id, ..Default::default() }).await);
    assert_eq!((refused.code, refused.reason.as_str()), (Code::FailedPrecondition, "DS_NOT_CONFIGURED"));
    assert!(refused.message.contains("DS_URL"));
    let health = app
        .health
        .check(tonic_health::pb::HealthCheckRequest { service: "dataportal.v1.WorkflowService".into() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(health.status, tonic_health::pb::health_check_response::ServingStatus::NotServing as i32);
    // Workflows themselves are still kept.
    let ensured = app
        .workflows
        .ensure_workflow(pb::EnsureWorkflowRequest { name: "later".into(), ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    assert!(ensured.created);
    assert_eq!(state(ensured.workflow.as_ref().unwrap()), pb::PublishState::Unpublished);
    assert_eq!(example_task().name, task.name);
    app.stop().await;
}

async fn bad_workflow_requests_are_refused_before_anything_is_stored(backend: Backend) {
    let fake = FakeDolphinScheduler::start(Family::V3_3).await;
    fake.add_datasource(DATASOURCE, "MYSQL");
    let database = TestDatabase::new(backend).await;
    let mut settings = test_settings(&database.url);
    settings.serve.dolphin = dolphin_args(&fake);
    let mut app = TestApp::spawn_with(database, settings).await;
    let a = create_task(&mut app, "task_a", "insert into dwd_a select * from ods_a", &[], &[]).await;
    let b = create_task(&mut app, "task_b", "insert into dwd_b select * from ods_b", &[], &[]).await;
    let workflow = ensure(&mut app, "w").await;
    let again = app
        .workflows
        .ensure_workflow(pb::EnsureWorkflowRequest { name: "w".into(), ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    assert!(!again.created, "ensure is idempotent");
    assert_eq!(again.workflow.unwrap().id, workflow.id);
    let empty = failure(
        app.workflows
            .publish_workflow(pb::PublishWorkflowRequest { workflow_id: workflow.id, ..Default::default() })
            .await,
    );
    assert_eq!((empty.code, empty.reason.as_str()), (Code::FailedPrecondition, "WORKFLOW_EMPTY"));

    let unknown = failure(
        app.workflows
            .sync_workflow(pb::SyncWorkflowRequest {
                workflow_id: workflow.id,
                task_names: vec!["task_a".into(), "nope".into()],
                ..Default::default()
            })
            .await,
    );
    assert_eq!((unknown.code, unknown.reason.as_str()), (Code::NotFound, "TASK_NOT_FOUND"));
    assert_eq!(unknown.metadata["missing_tasks"], "nope");

    let cycle = failure(
        app.workflows
            .sync_workflow(pb::SyncWorkflowRequest {
                workflow_id: workflow.id,
                task_ids: vec![a.id, b.id],
                dependencies: vec![
                    pb::WorkflowDependency { upstream_task_id: a.id, downstream_task_id: b.id },
                    pb::WorkflowDependency { upstream_task_id: b.id, downstream_task_id: a.id },
                ],
                positions: vec![pb::TaskPosition { task_id: 12345, x: 1, y: 1 }],
                ..Default::default()
            })
            .await,
    );
    assert_eq!(cycle.code, Code::InvalidArgument);
    assert_eq!(cycle.fields, vec!["dependencies".to_owned(), "positions".to_owned()]);

    let stream = pb::Task {
        name: "stream_c".into(),
        body: Some(pb::task::Body::Sql("insert into dwd_c select * from ods_c".into())),
        task_type: pb::TaskType::Stream as i32,
        ..Default::default()
    };
    let stream = app
        .tasks
        .create_task(pb::CreateTaskRequest { task: Some(stream), register_missing_tables: true })
        .await
        .unwrap()
        .into_inner()
        .task
        .unwrap();
    let streaming =
        failure(app.tasks.publish_task(pb::PublishTaskRequest { id: stream.id, ..Default::default() }).await);
    assert_eq!(
        (streaming.code, streaming.fields.as_slice()),
        (Code::InvalidArgument, ["task_ids".to_owned()].as_slice())
    );

    let untouched = get(&mut app, workflow.id).await;
    assert!(untouched.task_ids.is_empty(), "nothing half-written: {untouched:?}");
    assert_eq!(state(&untouched), pb::PublishState::Unpublished);

    // A task belongs to one workflow at most.
    sync(&mut app, &workflow, &[&a]).await;
    let other = ensure(&mut app, "other").await;
    let taken = failure(
        app.workflows
            .sync_workflow(pb::SyncWorkflowRequest {
                workflow_id: other.id,
                task_ids: vec![a.id],
                ..Default::default()
            })
            .await,
    );
    assert_eq!((taken.code, taken.reason.as_str()), (Code::FailedPrecondition, "TASK_IN_OTHER_WORKFLOW"));
    assert_eq!(taken.metadata["workflow"], "w");

    let offline = app
        .workflows
        .release_workflow(pb::ReleaseWorkflowRequest {
            workflow_id: workflow.id,
            release_state: pb::ReleaseState::Offline as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .workflow
        .unwrap();
    assert_eq!(state(&offline), pb::PublishState::Published, "{offline:?}");
    assert_eq!(fake.workflow("data-portal", "w").unwrap().release_state, "OFFLINE");
    let start = failure(
        app.workflows
            .start_workflow(pb::StartWorkflowRequest { workflow_id: workflow.id, ..Default::default() })
            .await,
    );
    assert_eq!(start.reason, "DS_STATE_CONFLICT", "DolphinScheduler refuses to start an OFFLINE workflow");
    let bad_state = failure(
        app.workflows
            .release_workflow(pb::ReleaseWorkflowRequest { workflow_id: workflow.id, ..Default::default() })
            .await,
    );
    assert_eq!(bad_state.fields, vec!["release_state".to_owned()]);
    app.stop().await;
}

async fn a_changed_or_deleted_task_reaches_dolphinscheduler_unasked(backend: Backend, family: Family) {
    let (mut app, fake) = spawn(backend, family).await;
    let keep =
        create_task(&mut app, "load_keep", "insert into dwd_keep select * from ods_keep", &[], &[]).await;
    let drop =
        create_task(&mut app, "load_drop", "insert into dwd_drop select * from ods_drop", &[], &[]).await;
    let workflow = ensure(&mut app, "unasked").await;
    let published = sync(&mut app, &workflow, &[&keep, &drop]).await;
    assert_eq!(state(&published), pb::PublishState::Published, "{published:?}");
    let keep_code = publication(&published).task_codes[&keep.id];

    let mut changed = keep.clone();
    changed.body = Some(pb::task::Body::Sql("insert into dwd_keep select distinct * from ods_keep".into()));
    app.tasks.update_task(pb::UpdateTaskRequest { task: Some(changed), ..Default::default() }).await.unwrap();
    let sql_of_keep = |fake: &FakeDolphinScheduler| {
        fake.workflow("data-portal", "unasked")
            .and_then(|w| w.tasks.into_iter().find(|t| t.code == keep_code))
            .map(|t| t.task_params["sql"].as_str().unwrap_or_default().to_owned())
            .unwrap_or_default()
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while !sql_of_keep(&fake).contains("distinct") {
        assert!(tokio::time::Instant::now() < deadline, "the change did not reach DolphinScheduler");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    app.tasks.delete_task(pb::DeleteTaskRequest { id: drop.id, ..Default::default() }).await.unwrap();
    let task_count =
        |fake: &FakeDolphinScheduler| fake.workflow("data-portal", "unasked").map_or(0, |w| w.tasks.len());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while task_count(&fake) != 1 {
        assert!(tokio::time::Instant::now() < deadline, "the deleted task is still in DolphinScheduler");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let after = wait_for(&mut app, workflow.id, pb::PublishState::Published).await;
    assert_eq!(publication(&after).task_codes.keys().copied().collect::<Vec<_>>(), vec![keep.id]);
    assert_eq!(publication(&after).task_codes[&keep.id], keep_code, "the kept task keeps its code");
    app.stop().await;
}

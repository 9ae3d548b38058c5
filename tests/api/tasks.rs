//! Task definitions as a client sees them.

use dataportal::proto::v1 as pb;
use prost_types::{Duration, FieldMask};
use tonic::Code;

use crate::helpers::{Backend, TestApp, failure};
use crate::tables::{create_table, futures_join_all};

crate::on_both_backends!(
    the_portal_design_example_is_created_and_read_back,
    unknown_tables_are_named_or_registered_on_request,
    list_filters_by_engine_owner_and_tables,
    update_replaces_links_and_refuses_stale_etags,
    bad_tasks_report_every_violation,
    racing_creates_of_one_task_name_have_one_winner,
);

/// The portal design's example task (§7.1) as the API expresses it.
pub fn example_task() -> pb::Task {
    pb::Task {
        name: "load_dwd_user".into(),
        body: Some(pb::task::Body::Sql("insert into dwd_user select * from ods_user".into())),
        task_type: pb::TaskType::Batch as i32,
        engine: pb::Engine::Dolphin as i32,
        schedule: "0 3 * * *".into(),
        inputs: vec!["ods_user".into()],
        outputs: vec!["dwd_user".into()],
        ..Default::default()
    }
}

pub async fn create_example_task(app: &mut TestApp) -> pb::Task {
    app.tasks
        .create_task(pb::CreateTaskRequest { task: Some(example_task()), register_missing_tables: false })
        .await
        .expect("create the example task")
        .into_inner()
        .task
        .expect("task")
}

async fn the_portal_design_example_is_created_and_read_back(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    create_table(&mut app, "ods_user").await;
    create_table(&mut app, "dwd_user").await;
    let created = create_example_task(&mut app).await;
    assert!(created.id > 0);
    assert_eq!(created.priority, pb::Priority::Medium as i32, "priority defaults to MEDIUM");
    assert_eq!(created.etag, format!("{}-v1", created.id));

    let by_name =
        app.tasks.get_task(pb::GetTaskRequest { id: 0, name: "load_dwd_user".into() }).await.unwrap();
    let read = by_name.into_inner().task.unwrap();
    assert_eq!(read, created);
    assert_eq!(read.body, example_task().body);
    assert_eq!((read.inputs, read.outputs), (vec!["ods_user".to_owned()], vec!["dwd_user".to_owned()]));
    assert_eq!(read.schedule, "0 3 * * *");
    let by_id = app.tasks.get_task(pb::GetTaskRequest { id: created.id, name: String::new() }).await.unwrap();
    assert_eq!(by_id.into_inner().task.unwrap().id, created.id);

    // Type and engine may be left out: BATCH on DOLPHIN, as the portal design's columns default.
    let defaults = app
        .tasks
        .create_task(pb::CreateTaskRequest {
            task: Some(pb::Task {
                name: "load_dwd_user_again".into(),
                task_type: 0,
                engine: 0,
                retries: 3,
                retry_interval: Some(Duration { seconds: 60, nanos: 0 }),
                timeout: Some(Duration { seconds: 3600, nanos: 0 }),
                priority: pb::Priority::High as i32,
                datasource: "doris".into(),
                ..example_task()
            }),
            register_missing_tables: false,
        })
        .await
        .unwrap()
        .into_inner()
        .task
        .unwrap();
    assert_eq!(
        (defaults.task_type, defaults.engine),
        (pb::TaskType::Batch as i32, pb::Engine::Dolphin as i32)
    );
    let read = app.tasks.get_task(pb::GetTaskRequest { id: defaults.id, name: String::new() }).await.unwrap();
    let read = read.into_inner().task.unwrap();
    assert_eq!(
        (read.retries, read.priority, read.datasource.as_str()),
        (3, pb::Priority::High as i32, "doris")
    );
    assert_eq!(read.retry_interval.unwrap().seconds, 60);
    assert_eq!(read.timeout.unwrap().seconds, 3600);

    let missing = failure(app.tasks.get_task(pb::GetTaskRequest { id: 424_242, name: String::new() }).await);
    assert_eq!((missing.code, missing.reason.as_str()), (Code::NotFound, "TASK_NOT_FOUND"));
    app.stop().await;
}

async fn unknown_tables_are_named_or_registered_on_request(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    create_table(&mut app, "ods_user").await;
    let task = pb::Task {
        inputs: vec!["ods_user".into(), "ods_order".into()],
        outputs: vec!["dws_user_orders".into()],
        ..example_task()
    };
    let refused = failure(
        app.tasks
            .create_task(pb::CreateTaskRequest { task: Some(task.clone()), register_missing_tables: false })
            .await,
    );
    assert_eq!((refused.code, refused.reason.as_str()), (Code::NotFound, "TABLE_NOT_FOUND"));
    assert_eq!(refused.metadata.get("missing_tables").map(String::as_str), Some("dws_user_orders,ods_order"));
    assert!(refused.message.contains("ods_order") && refused.message.contains("dws_user_orders"));

    let no_prefix = failure(
        app.tasks
            .create_task(pb::CreateTaskRequest {
                task: Some(pb::Task { outputs: vec!["user_orders".into()], ..task.clone() }),
                register_missing_tables: true,
            })
            .await,
    );
    assert_eq!(no_prefix.code, Code::InvalidArgument);
    assert_eq!(no_prefix.fields, ["task.outputs"]);
    let tables = app.tables.list_tables(pb::ListTablesRequest::default()).await.unwrap().into_inner();
    assert_eq!(tables.total_size, 1, "a refused task registers no table");

    let created = app
        .tasks
        .create_task(pb::CreateTaskRequest { task: Some(task), register_missing_tables: true })
        .await
        .unwrap()
        .into_inner()
        .task
        .unwrap();
    assert_eq!(created.outputs, ["dws_user_orders"]);
    let registered =
        app.tables.get_table(pb::GetTableRequest { id: 0, name: "dws_user_orders".into() }).await.unwrap();
    assert_eq!(registered.into_inner().table.unwrap().layer, pb::Layer::Dws as i32);
    let order = app.tables.get_table(pb::GetTableRequest { id: 0, name: "ods_order".into() }).await.unwrap();
    assert_eq!(order.into_inner().table.unwrap().layer, pb::Layer::Ods as i32);
    app.stop().await;
}

async fn list_filters_by_engine_owner_and_tables(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    let tasks = [
        ("load_a", "alice", pb::Engine::Dolphin, vec!["ods_a"], vec!["dwd_a"]),
        ("load_b", "bob", pb::Engine::Dolphin, vec!["ods_a", "ods_b"], vec!["dwd_b"]),
        ("stream_c", "alice", pb::Engine::Dinky, vec!["ods_b"], vec!["dwd_c"]),
    ];
    for (name, owner, engine, inputs, outputs) in tasks {
        app.tasks
            .create_task(pb::CreateTaskRequest {
                task: Some(pb::Task {
                    name: name.into(),
                    owner: owner.into(),
                    engine: engine as i32,
                    task_type: 0,
                    inputs: inputs.into_iter().map(Into::into).collect(),
                    outputs: outputs.into_iter().map(Into::into).collect(),
                    ..example_task()
                }),
                register_missing_tables: true,
            })
            .await
            .unwrap();
    }
    let names = |response: pb::ListTasksResponse| -> Vec<String> {
        response.tasks.into_iter().map(|t| t.name).collect()
    };
    let list = |request: pb::ListTasksRequest| {
        let mut client = app.tasks.clone();
        async move { client.list_tasks(request).await.unwrap().into_inner() }
    };
    assert_eq!(
        names(list(pb::ListTasksRequest { engine: pb::Engine::Dinky as i32, ..Default::default() }).await),
        ["stream_c"]
    );
    assert_eq!(
        names(
            list(pb::ListTasksRequest { task_type: pb::TaskType::Batch as i32, ..Default::default() }).await
        ),
        ["load_a", "load_b"]
    );
    assert_eq!(
        names(list(pb::ListTasksRequest { owner: "alice".into(), ..Default::default() }).await),
        ["load_a", "stream_c"]
    );
    assert_eq!(
        names(list(pb::ListTasksRequest { reads_table: "ods_a".into(), ..Default::default() }).await),
        ["load_a", "load_b"]
    );
    assert_eq!(
        names(list(pb::ListTasksRequest { writes_table: "dwd_c".into(), ..Default::default() }).await),
        ["stream_c"]
    );
    assert_eq!(
        names(list(pb::ListTasksRequest { reads_table: "dwd_c".into(), ..Default::default() }).await),
        Vec::<String>::new()
    );
    let first = list(pb::ListTasksRequest { page_size: 2, ..Default::default() }).await;
    assert_eq!(first.total_size, 3);
    let second = list(pb::ListTasksRequest {
        page_size: 2,
        page_token: first.next_page_token.clone(),
        ..Default::default()
    })
    .await;
    assert_eq!(names(first), ["load_a", "load_b"]);
    assert_eq!((names(second.clone()), second.next_page_token), (vec!["stream_c".to_owned()], String::new()));
    app.stop().await;
}

async fn update_replaces_links_and_refuses_stale_etags(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    for name in ["ods_user", "dwd_user", "ods_device"] {
        create_table(&mut app, name).await;
    }
    let created = create_example_task(&mut app).await;
    let updated = app
        .tasks
        .update_task(pb::UpdateTaskRequest {
            task: Some(pb::Task {
                id: created.id,
                inputs: vec!["ods_user".into(), "ods_device".into()],
                schedule: "30 4 * * 1-5".into(),
                body: Some(pb::task::Body::Sql(
                    "insert into dwd_user select u.* from ods_user u join ods_device d".into(),
                )),
                etag: created.etag.clone(),
                ..Default::default()
            }),
            update_mask: Some(FieldMask { paths: vec!["inputs".into(), "schedule".into(), "sql".into()] }),
            register_missing_tables: false,
        })
        .await
        .unwrap()
        .into_inner()
        .task
        .unwrap();
    assert_eq!(updated.inputs, ["ods_device", "ods_user"]);
    assert_eq!(updated.outputs, ["dwd_user"], "outputs are not in the mask");
    assert_eq!(updated.schedule, "30 4 * * 1-5");
    assert_eq!(updated.etag, format!("{}-v2", created.id));
    let read = app.tasks.get_task(pb::GetTaskRequest { id: created.id, name: String::new() }).await.unwrap();
    assert_eq!(read.into_inner().task.unwrap(), updated);
    let readers = app
        .tasks
        .list_tasks(pb::ListTasksRequest { reads_table: "ods_device".into(), ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(readers.total_size, 1);

    let stale = failure(
        app.tasks
            .update_task(pb::UpdateTaskRequest {
                task: Some(pb::Task {
                    id: created.id,
                    owner: "mallory".into(),
                    etag: created.etag.clone(),
                    ..Default::default()
                }),
                update_mask: Some(FieldMask { paths: vec!["owner".into()] }),
                register_missing_tables: false,
            })
            .await,
    );
    assert_eq!((stale.code, stale.reason.as_str()), (Code::Aborted, "ETAG_MISMATCH"));

    let unknown = failure(
        app.tasks
            .update_task(pb::UpdateTaskRequest {
                task: Some(pb::Task {
                    id: created.id,
                    outputs: vec!["dwd_nowhere".into()],
                    ..Default::default()
                }),
                update_mask: None,
                register_missing_tables: false,
            })
            .await,
    );
    assert_eq!(unknown.reason, "TABLE_NOT_FOUND");
    let still = app.tasks.get_task(pb::GetTaskRequest { id: created.id, name: String::new() }).await.unwrap();
    assert_eq!(still.into_inner().task.unwrap().outputs, ["dwd_user"], "a refused update changes nothing");

    let deleted =
        app.tasks.delete_task(pb::DeleteTaskRequest { id: created.id, etag: created.etag.clone() }).await;
    assert_eq!(failure(deleted).reason, "ETAG_MISMATCH");
    app.tasks
        .delete_task(pb::DeleteTaskRequest { id: created.id, etag: updated.etag.clone() })
        .await
        .unwrap();
    let gone = failure(app.tasks.get_task(pb::GetTaskRequest { id: created.id, name: String::new() }).await);
    assert_eq!(gone.reason, "TASK_NOT_FOUND");
    let tables = app.tables.list_tables(pb::ListTablesRequest::default()).await.unwrap().into_inner();
    assert_eq!(tables.total_size, 3, "deleting a task keeps its tables");
    app.stop().await;
}

async fn bad_tasks_report_every_violation(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    create_table(&mut app, "ods_user").await;
    create_table(&mut app, "dwd_user").await;
    let cases: Vec<(pb::Task, Vec<&str>)> = vec![
        (pb::Task { name: String::new(), ..example_task() }, vec!["task.name"]),
        (pb::Task { name: "x".repeat(129), ..example_task() }, vec!["task.name"]),
        (pb::Task { name: "load dwd/user".into(), ..example_task() }, vec!["task.name"]),
        (pb::Task { schedule: "0 3 * *".into(), ..example_task() }, vec!["task.schedule"]),
        (pb::Task { schedule: "99 3 * * *".into(), ..example_task() }, vec!["task.schedule"]),
        (pb::Task { schedule: "0 0 3 * * ?".into(), ..example_task() }, vec!["task.schedule"]),
        (pb::Task { engine: pb::Engine::Dinky as i32, ..example_task() }, vec!["task.engine"]),
        (
            pb::Task { task_type: 17, engine: 9, priority: 12, ..example_task() },
            vec!["task.task_type", "task.engine", "task.priority"],
        ),
        (pb::Task { outputs: vec!["ods_user".into()], ..example_task() }, vec!["task.outputs"]),
        (
            pb::Task { inputs: vec!["ods_user".into(), "ods_user".into()], ..example_task() },
            vec!["task.inputs[1]"],
        ),
        (pb::Task { inputs: vec!["Bad Name".into()], ..example_task() }, vec!["task.inputs[0]"]),
        (pb::Task { body: None, ..example_task() }, vec!["task.body"]),
        (pb::Task { body: Some(pb::task::Body::Sql("   ".into())), ..example_task() }, vec!["task.sql"]),
        (
            pb::Task { body: Some(pb::task::Body::Sql("x".repeat(1024 * 1024 + 1))), ..example_task() },
            vec!["task.sql"],
        ),
        (
            pb::Task {
                body: Some(pb::task::Body::Shell("echo hi".into())),
                datasource: "doris".into(),
                ..example_task()
            },
            vec!["task.datasource"],
        ),
        (
            pb::Task {
                retries: -1,
                retry_interval: Some(Duration { seconds: 1, nanos: 5 }),
                timeout: Some(Duration { seconds: -5, nanos: 0 }),
                ..example_task()
            },
            vec!["task.retry_interval", "task.retries", "task.timeout"],
        ),
        (
            pb::Task {
                name: "Bad".into(),
                schedule: "bad".into(),
                engine: pb::Engine::Dinky as i32,
                body: None,
                ..example_task()
            },
            vec!["task.name", "task.engine", "task.body", "task.schedule"],
        ),
    ];
    for (task, expected) in cases {
        let label = format!("{:.60}", format!("{task:?}"));
        let got = failure(
            app.tasks
                .create_task(pb::CreateTaskRequest { task: Some(task), register_missing_tables: false })
                .await,
        );
        assert_eq!((got.code, got.reason.as_str()), (Code::InvalidArgument, "INVALID_ARGUMENT"), "{label}");
        assert_eq!(got.fields, expected, "{label}");
    }
    let listed = app.tasks.list_tasks(pb::ListTasksRequest::default()).await.unwrap().into_inner();
    assert_eq!(listed.total_size, 0, "nothing invalid was written");
    app.stop().await;
}

async fn racing_creates_of_one_task_name_have_one_winner(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    create_table(&mut app, "ods_user").await;
    create_table(&mut app, "dwd_user").await;
    let attempts = (0..6).map(|_| {
        let mut client = app.tasks.clone();
        async move {
            client
                .create_task(pb::CreateTaskRequest {
                    task: Some(example_task()),
                    register_missing_tables: false,
                })
                .await
        }
    });
    let results = futures_join_all(attempts).await;
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
    for result in results.into_iter().filter(|r| r.is_err()) {
        let lost = failure(result);
        assert_eq!((lost.code, lost.reason.as_str()), (Code::AlreadyExists, "TASK_NAME_TAKEN"));
    }
    // Racing auto-registration of the same new tables: every task wins, each table exists once.
    let attempts = (0..4).map(|i| {
        let mut client = app.tasks.clone();
        async move {
            client
                .create_task(pb::CreateTaskRequest {
                    task: Some(pb::Task {
                        name: format!("fan_{i}"),
                        inputs: vec!["ods_shared_new".into()],
                        outputs: vec![format!("dwd_fan_{i}")],
                        ..example_task()
                    }),
                    register_missing_tables: true,
                })
                .await
        }
    });
    for result in futures_join_all(attempts).await {
        result.expect("auto-registration races are absorbed");
    }
    let shared = app
        .tasks
        .list_tasks(pb::ListTasksRequest { reads_table: "ods_shared_new".into(), ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(shared.total_size, 4);
    app.stop().await;
}

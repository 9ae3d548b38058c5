//! The table registry as a client sees it.

use dataportal::proto::v1 as pb;
use prost_types::FieldMask;
use tonic::Code;

use crate::helpers::{Backend, TestApp, failure};

crate::on_both_backends!(
    created_table_reads_back_by_id_and_name,
    list_filters_and_pages,
    update_applies_the_mask_and_refuses_stale_etags,
    delete_is_refused_while_a_task_uses_the_table,
    bad_tables_report_every_violation,
    racing_creates_of_one_name_have_one_winner,
);

pub fn field(name: &str, data_type: &str) -> pb::Field {
    pb::Field { name: name.into(), r#type: data_type.into(), nullable: true, ..Default::default() }
}

pub async fn create_table(app: &mut TestApp, name: &str) -> pb::Table {
    app.tables
        .create_table(pb::CreateTableRequest {
            table: Some(pb::Table {
                name: name.into(),
                owner: "data-team".into(),
                fields: vec![field("id", "bigint"), field("name", "varchar(64)")],
                ..Default::default()
            }),
        })
        .await
        .expect("create table")
        .into_inner()
        .table
        .expect("table")
}

async fn created_table_reads_back_by_id_and_name(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    let created = app
        .tables
        .create_table(pb::CreateTableRequest {
            table: Some(pb::Table {
                name: "dw.ods_user".into(),
                description: "Users as the app stores them".into(),
                owner: "alice".into(),
                fields: vec![
                    pb::Field {
                        name: "id".into(),
                        r#type: "bigint".into(),
                        primary_key: true,
                        ..Default::default()
                    },
                    pb::Field {
                        name: "email".into(),
                        r#type: "varchar(255)".into(),
                        nullable: true,
                        comment: "login".into(),
                        ..Default::default()
                    },
                ],
                ..Default::default()
            }),
        })
        .await
        .unwrap()
        .into_inner()
        .table
        .unwrap();
    assert!(created.id > 0);
    assert_eq!(created.layer, pb::Layer::Ods as i32, "layer comes from the ods_ prefix");
    assert_eq!(created.database, "dw", "database comes from the qualifier");
    assert_eq!(created.status, pb::TableStatus::Active as i32);
    assert_eq!(created.etag, format!("{}-v1", created.id));
    assert!(created.create_time.is_some());

    let by_id =
        app.tables.get_table(pb::GetTableRequest { id: created.id, name: String::new() }).await.unwrap();
    let by_name =
        app.tables.get_table(pb::GetTableRequest { id: 0, name: "dw.ods_user".into() }).await.unwrap();
    let by_id = by_id.into_inner().table.unwrap();
    assert_eq!(by_id, by_name.into_inner().table.unwrap());
    assert_eq!(by_id, created);
    let positions: Vec<(String, i32, bool, bool)> =
        by_id.fields.iter().map(|f| (f.name.clone(), f.position, f.primary_key, f.nullable)).collect();
    assert_eq!(positions, [("id".into(), 1, true, false), ("email".into(), 2, false, true)]);

    let missing = failure(app.tables.get_table(pb::GetTableRequest { id: 0, name: "nope".into() }).await);
    assert_eq!((missing.code, missing.reason.as_str()), (Code::NotFound, "TABLE_NOT_FOUND"));
    let neither = failure(app.tables.get_table(pb::GetTableRequest::default()).await);
    assert_eq!(neither.code, Code::InvalidArgument);
    app.stop().await;
}

async fn list_filters_and_pages(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    for name in ["ods_a", "ods_b", "ods_c", "dwd_a", "dwd_b"] {
        create_table(&mut app, name).await;
    }
    let list = |request: pb::ListTablesRequest| {
        let mut client = app.tables.clone();
        async move { client.list_tables(request).await.map(|r| r.into_inner()) }
    };
    let ods =
        list(pb::ListTablesRequest { layer: pb::Layer::Ods as i32, page_size: 2, ..Default::default() })
            .await
            .unwrap();
    assert_eq!(ods.total_size, 3);
    assert_eq!(ods.tables.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(), ["ods_a", "ods_b"]);
    assert!(ods.tables.iter().all(|t| t.fields.is_empty()), "BASIC view leaves fields out");
    let rest = list(pb::ListTablesRequest {
        layer: pb::Layer::Ods as i32,
        page_size: 2,
        page_token: ods.next_page_token.clone(),
        owner: "data-team".into(),
        ..Default::default()
    })
    .await;
    assert!(rest.is_err(), "a token is bound to the filters it was issued for");
    let rest = list(pb::ListTablesRequest {
        layer: pb::Layer::Ods as i32,
        page_size: 2,
        page_token: ods.next_page_token,
        ..Default::default()
    })
    .await
    .unwrap();
    assert_eq!(rest.tables.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(), ["ods_c"]);
    assert_eq!(rest.next_page_token, "");

    let by_name =
        list(pb::ListTablesRequest { name_contains: "_a".into(), ..Default::default() }).await.unwrap();
    assert_eq!(by_name.tables.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(), ["ods_a", "dwd_a"]);
    let full = list(pb::ListTablesRequest {
        owner: "data-team".into(),
        view: pb::TableView::Full as i32,
        ..Default::default()
    })
    .await
    .unwrap();
    assert_eq!(full.total_size, 5);
    assert!(full.tables.iter().all(|t| t.fields.len() == 2));
    let nobody = list(pb::ListTablesRequest { owner: "nobody".into(), ..Default::default() }).await.unwrap();
    assert_eq!((nobody.total_size, nobody.tables.len()), (0, 0));
    let bad_token =
        failure(list(pb::ListTablesRequest { page_token: "bogus".into(), ..Default::default() }).await);
    assert_eq!(bad_token.fields, ["page_token"]);
    let bad_layer = failure(list(pb::ListTablesRequest { layer: 42, ..Default::default() }).await);
    assert_eq!(bad_layer.fields, ["layer"]);
    app.stop().await;
}

async fn update_applies_the_mask_and_refuses_stale_etags(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    let created = create_table(&mut app, "ods_order").await;
    let updated = app
        .tables
        .update_table(pb::UpdateTableRequest {
            table: Some(pb::Table {
                id: created.id,
                description: "Orders".into(),
                owner: "ignored: not in the mask".into(),
                fields: vec![field("order_id", "bigint")],
                etag: created.etag.clone(),
                ..Default::default()
            }),
            update_mask: Some(FieldMask { paths: vec!["description".into(), "fields".into()] }),
        })
        .await
        .unwrap()
        .into_inner()
        .table
        .unwrap();
    assert_eq!(updated.description, "Orders");
    assert_eq!(updated.owner, "data-team");
    assert_eq!(updated.fields.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(), ["order_id"]);
    assert_eq!(updated.etag, format!("{}-v2", created.id));

    let stale = failure(
        app.tables
            .update_table(pb::UpdateTableRequest {
                table: Some(pb::Table {
                    id: created.id,
                    owner: "bob".into(),
                    etag: created.etag.clone(),
                    ..Default::default()
                }),
                update_mask: Some(FieldMask { paths: vec!["owner".into()] }),
            })
            .await,
    );
    assert_eq!((stale.code, stale.reason.as_str()), (Code::Aborted, "ETAG_MISMATCH"));
    let read =
        app.tables.get_table(pb::GetTableRequest { id: created.id, name: String::new() }).await.unwrap();
    assert_eq!(read.into_inner().table.unwrap().owner, "data-team", "a refused update changes nothing");

    // No mask: every set field changes; no etag: the latest version is updated.
    let renamed = app
        .tables
        .update_table(pb::UpdateTableRequest {
            table: Some(pb::Table { id: created.id, name: "ods_orders".into(), ..Default::default() }),
            update_mask: None,
        })
        .await
        .unwrap()
        .into_inner()
        .table
        .unwrap();
    assert_eq!((renamed.name, renamed.etag), ("ods_orders".to_owned(), format!("{}-v3", created.id)));
    assert_eq!(renamed.fields.len(), 1, "fields not set, so not changed");

    create_table(&mut app, "ods_taken").await;
    let taken = failure(
        app.tables
            .update_table(pb::UpdateTableRequest {
                table: Some(pb::Table { id: created.id, name: "ods_taken".into(), ..Default::default() }),
                update_mask: Some(FieldMask { paths: vec!["name".into()] }),
            })
            .await,
    );
    assert_eq!((taken.code, taken.reason.as_str()), (Code::AlreadyExists, "TABLE_NAME_TAKEN"));
    let bad_path = failure(
        app.tables
            .update_table(pb::UpdateTableRequest {
                table: Some(pb::Table { id: created.id, ..Default::default() }),
                update_mask: Some(FieldMask { paths: vec!["id".into(), "owner".into(), "bogus".into()] }),
            })
            .await,
    );
    assert_eq!(bad_path.fields, ["update_mask.paths[0]", "update_mask.paths[2]"]);
    let gone = failure(
        app.tables
            .update_table(pb::UpdateTableRequest {
                table: Some(pb::Table { id: 999_999, owner: "x".into(), ..Default::default() }),
                update_mask: None,
            })
            .await,
    );
    assert_eq!(gone.reason, "TABLE_NOT_FOUND");
    app.stop().await;
}

async fn delete_is_refused_while_a_task_uses_the_table(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    let source = create_table(&mut app, "ods_user").await;
    let target = create_table(&mut app, "dwd_user").await;
    let task = crate::tasks::create_example_task(&mut app).await;

    let refused =
        failure(app.tables.delete_table(pb::DeleteTableRequest { id: source.id, etag: String::new() }).await);
    assert_eq!((refused.code, refused.reason.as_str()), (Code::FailedPrecondition, "TABLE_IN_USE"));
    assert_eq!(refused.metadata.get("tasks").map(String::as_str), Some("load_dwd_user"));
    assert!(refused.message.contains("load_dwd_user"), "{}", refused.message);

    app.tasks.delete_task(pb::DeleteTaskRequest { id: task.id, etag: String::new() }).await.unwrap();
    let stale = failure(
        app.tables
            .delete_table(pb::DeleteTableRequest { id: source.id, etag: format!("{}-v7", source.id) })
            .await,
    );
    assert_eq!(stale.reason, "ETAG_MISMATCH");
    app.tables
        .delete_table(pb::DeleteTableRequest { id: source.id, etag: source.etag.clone() })
        .await
        .unwrap();
    app.tables.delete_table(pb::DeleteTableRequest { id: target.id, etag: String::new() }).await.unwrap();
    let again =
        failure(app.tables.delete_table(pb::DeleteTableRequest { id: source.id, etag: String::new() }).await);
    assert_eq!((again.code, again.reason.as_str()), (Code::NotFound, "TABLE_NOT_FOUND"));
    let listed = app.tables.list_tables(pb::ListTablesRequest::default()).await.unwrap().into_inner();
    assert_eq!(listed.total_size, 0);
    app.stop().await;
}

async fn bad_tables_report_every_violation(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    let cases: Vec<(pb::Table, Vec<&str>)> = vec![
        (pb::Table { name: String::new(), ..Default::default() }, vec!["table.name", "table.layer"]),
        (pb::Table { name: format!("ods_{}", "x".repeat(130)), ..Default::default() }, vec!["table.name"]),
        (pb::Table { name: "ods_user!".into(), ..Default::default() }, vec!["table.name"]),
        (pb::Table { name: "ODS_User".into(), ..Default::default() }, vec!["table.name"]),
        (pb::Table { name: "users".into(), ..Default::default() }, vec!["table.layer"]),
        (
            pb::Table { name: "ods_user".into(), layer: 9, status: 7, ..Default::default() },
            vec!["table.layer", "table.status"],
        ),
        (pb::Table { name: "a.b.c".into(), layer: 1, ..Default::default() }, vec!["table.name"]),
        (
            pb::Table { name: "dw.ods_x".into(), database: "other".into(), ..Default::default() },
            vec!["table.database"],
        ),
        (
            pb::Table {
                name: "ods_user".into(),
                fields: vec![
                    field("id", "bigint"),
                    field("ID", "int"),
                    field("", "int"),
                    field("ok", ""),
                    field("x", "int; drop"),
                ],
                ..Default::default()
            },
            vec![
                "table.fields[1].name",
                "table.fields[2].name",
                "table.fields[3].type",
                "table.fields[4].type",
            ],
        ),
        (
            pb::Table {
                name: "ods_user".into(),
                fields: vec![
                    pb::Field { position: 1, ..field("a", "int") },
                    pb::Field { position: 1, ..field("b", "int") },
                ],
                ..Default::default()
            },
            vec!["table.fields[1].position"],
        ),
        (
            pb::Table { name: "ods_user".into(), owner: "bell\u{7}".into(), ..Default::default() },
            vec!["table.owner"],
        ),
    ];
    for (table, expected) in cases {
        let name = table.name.clone();
        let got = failure(app.tables.create_table(pb::CreateTableRequest { table: Some(table) }).await);
        assert_eq!((got.code, got.reason.as_str()), (Code::InvalidArgument, "INVALID_ARGUMENT"), "{name}");
        assert_eq!(got.fields, expected, "{name}");
    }
    let missing = failure(app.tables.create_table(pb::CreateTableRequest { table: None }).await);
    assert_eq!(missing.fields, ["table"]);
    let listed = app.tables.list_tables(pb::ListTablesRequest::default()).await.unwrap().into_inner();
    assert_eq!(listed.total_size, 0, "nothing invalid was written");
    app.stop().await;
}

async fn racing_creates_of_one_name_have_one_winner(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    for round in 0..5 {
        let name = format!("ods_race_{round}");
        let attempts = (0..4).map(|_| {
            let mut client = app.tables.clone();
            let name = name.clone();
            async move {
                client
                    .create_table(pb::CreateTableRequest {
                        table: Some(pb::Table {
                            name,
                            fields: vec![field("id", "bigint")],
                            ..Default::default()
                        }),
                    })
                    .await
            }
        });
        let results = futures_join_all(attempts).await;
        let winners = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(winners, 1, "round {round}: exactly one create wins");
        for result in results.into_iter().filter(|r| r.is_err()) {
            let lost = failure(result);
            assert_eq!((lost.code, lost.reason.as_str()), (Code::AlreadyExists, "TABLE_NAME_TAKEN"));
        }
    }
    let listed = app.tables.list_tables(pb::ListTablesRequest::default()).await.unwrap().into_inner();
    assert_eq!(listed.total_size, 5);
    let _ = create_table(&mut app, "ods_after_race").await;
    app.stop().await;
}

/// Runs futures concurrently on the runtime and collects their outputs in order.
pub async fn futures_join_all<F>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut outputs = Vec::with_capacity(handles.len());
    for handle in handles {
        outputs.push(handle.await.expect("task completes"));
    }
    outputs
}

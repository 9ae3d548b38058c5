//! Data sources and table sync, with the local MariaDB playing the warehouse.

use dataportal::proto::v1 as pb;
use prost_types::FieldMask;
use sqlx::{Connection, Executor};
use tonic::Code;

use crate::helpers::{Backend, TestApp, failure, mysql_server_url};

crate::on_both_backends!(
    a_warehouse_database_is_synced_and_drift_reported_while_portal_edits_survive,
    bad_data_sources_are_refused_with_clear_reasons,
    a_periodic_sync_runs_on_its_own,
);

/// A scratch database on the MariaDB server, standing for a warehouse; dropped by `drop`.
struct Warehouse {
    name: String,
    conn: sqlx::MySqlConnection,
}

impl Warehouse {
    async fn new() -> Warehouse {
        let name = format!("dp_wh_{}", uuid::Uuid::new_v4().simple());
        let mut conn = sqlx::MySqlConnection::connect(&mysql_server_url()).await.expect("MariaDB runs");
        conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).await.unwrap();
        conn.execute(sqlx::AssertSqlSafe(format!("USE {name}"))).await.unwrap();
        Warehouse { name, conn }
    }

    async fn run(&mut self, sql: &str) {
        self.conn.execute(sqlx::AssertSqlSafe(sql.to_owned())).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    async fn drop(mut self) {
        let _ = self.conn.execute(sqlx::AssertSqlSafe(format!("DROP DATABASE {}", self.name))).await;
    }
}

/// host and port of the MariaDB server the tests use.
fn server_address() -> (String, i32) {
    let url = url::Url::parse(&mysql_server_url()).unwrap();
    (url.host_str().unwrap_or("127.0.0.1").to_owned(), i32::from(url.port().unwrap_or(3306)))
}

fn data_source(name: &str, database: &str) -> pb::DataSource {
    let url = url::Url::parse(&mysql_server_url()).unwrap();
    let (host, port) = server_address();
    pb::DataSource {
        name: name.into(),
        kind: pb::DataSourceKind::Mysql as i32,
        host,
        port,
        user: url.username().to_owned(),
        password: url.password().unwrap_or_default().to_owned(),
        default_database: database.into(),
        ..Default::default()
    }
}

async fn create(app: &mut TestApp, source: pb::DataSource) -> pb::DataSource {
    app.data_sources
        .create_data_source(pb::CreateDataSourceRequest { data_source: Some(source) })
        .await
        .unwrap()
        .into_inner()
        .data_source
        .unwrap()
}

async fn sync(app: &mut TestApp, id: i64, pattern: &str) -> pb::SyncReport {
    app.data_sources
        .sync_tables(pb::SyncTablesRequest { id, table_pattern: pattern.into(), ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .report
        .unwrap()
}

async fn table(app: &mut TestApp, name: &str) -> pb::Table {
    app.tables
        .get_table(pb::GetTableRequest { name: name.into(), ..Default::default() })
        .await
        .unwrap_or_else(|e| panic!("{name}: {e:?}"))
        .into_inner()
        .table
        .unwrap()
}

async fn a_warehouse_database_is_synced_and_drift_reported_while_portal_edits_survive(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    let mut warehouse = Warehouse::new().await;
    warehouse
        .run(
            "CREATE TABLE ods_orders (id BIGINT PRIMARY KEY COMMENT 'order id', amount DECIMAL(10,2) NOT NULL, \
             created_at DATETIME NULL, note_old VARCHAR(10)) COMMENT 'orders from the shop'",
        )
        .await;
    warehouse.run("CREATE TABLE dim_users (id INT PRIMARY KEY, name VARCHAR(64))").await;
    warehouse.run("CREATE TABLE misc_stuff (k VARCHAR(16))").await;
    warehouse.run("CREATE VIEW v_orders AS SELECT id FROM ods_orders").await;
    warehouse.run("INSERT INTO ods_orders (id, amount) VALUES (1, 9.5), (2, 20), (3, 7.25)").await;
    warehouse.run("ANALYZE TABLE ods_orders").await;

    let source = create(&mut app, data_source("shop", &warehouse.name)).await;
    assert!(source.id > 0 && source.password.is_empty());
    let tested = app
        .data_sources
        .test_data_source(pb::TestDataSourceRequest { id: source.id, ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    assert!(!tested.server_version.is_empty());
    assert!(tested.databases.contains(&warehouse.name), "{:?}", tested.databases);

    let first = sync(&mut app, source.id, "").await;
    assert_eq!((first.tables_seen, first.tables_added, first.tables_gone), (3, 3, 0), "{first:?}");
    assert!(first.drift.is_empty(), "an import is not drift: {first:?}");
    let orders = table(&mut app, "ods_orders").await;
    assert_eq!(orders.layer, pb::Layer::Ods as i32, "the layer comes from the prefix");
    assert_eq!(orders.database, warehouse.name);
    assert_eq!(orders.description, "orders from the shop");
    let names: Vec<&str> = orders.fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["id", "amount", "created_at", "note_old"]);
    assert!(orders.fields[0].primary_key && !orders.fields[0].nullable);
    assert_eq!(orders.fields[0].comment, "order id");
    assert_eq!(orders.fields[1].r#type, "decimal(10,2)");
    let source_facts = orders.source.clone().expect("sync facts");
    assert_eq!(source_facts.data_source, "shop");
    assert_eq!(source_facts.rows, 3);
    assert!(source_facts.data_bytes > 0 && !source_facts.last_modified.is_empty(), "{source_facts:?}");
    let misc = table(&mut app, "misc_stuff").await;
    assert_eq!(misc.layer, pb::Layer::Unspecified as i32, "no prefix: left for a person");

    // People edit the portal's side.
    let mut edited = orders.clone();
    edited.description = "Orders as the shop records them".into();
    edited.fields[1].comment = "in yuan".into();
    app.tables
        .update_table(pb::UpdateTableRequest {
            table: Some(pb::Table {
                id: orders.id,
                description: edited.description.clone(),
                fields: edited.fields.clone(),
                ..Default::default()
            }),
            update_mask: Some(FieldMask { paths: vec!["description".into(), "fields".into()] }),
        })
        .await
        .unwrap();

    // The warehouse changes.
    warehouse.run("ALTER TABLE ods_orders ADD COLUMN channel VARCHAR(20), DROP COLUMN note_old, MODIFY amount DECIMAL(12,2)").await;
    warehouse.run("DROP TABLE dim_users").await;

    let second = sync(&mut app, source.id, "").await;
    assert_eq!((second.tables_seen, second.tables_added, second.tables_gone), (2, 0, 1), "{second:?}");
    let orders_drift = second.drift.iter().find(|d| d.table == "ods_orders").expect("drift of ods_orders");
    let mut found: Vec<(i32, &str)> =
        orders_drift.items.iter().map(|d| (d.kind, d.column.as_str())).collect();
    found.sort();
    assert_eq!(
        found,
        vec![
            (pb::DriftKind::ColumnAdded as i32, "channel"),
            (pb::DriftKind::ColumnDropped as i32, "note_old"),
            (pb::DriftKind::ColumnRetyped as i32, "amount"),
        ]
    );
    let orders = table(&mut app, "ods_orders").await;
    assert_eq!(orders.description, "Orders as the shop records them", "the portal's description survives");
    let amount = orders.fields.iter().find(|f| f.name == "amount").unwrap();
    assert_eq!((amount.r#type.as_str(), amount.comment.as_str()), ("decimal(12,2)", "in yuan"));
    let names: Vec<&str> = orders.fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["id", "amount", "created_at", "channel"], "the structure follows the warehouse");
    assert_eq!(orders.drift.len(), 3, "drift is kept on the table: {:?}", orders.drift);
    let users = table(&mut app, "dim_users").await;
    assert!(users.source.as_ref().unwrap().gone, "marked, not deleted");
    assert_eq!(users.drift.iter().map(|d| d.kind).collect::<Vec<_>>(), vec![pb::DriftKind::TableGone as i32]);

    app.data_sources.acknowledge_drift(pb::AcknowledgeDriftRequest { table_id: orders.id }).await.unwrap();
    assert!(table(&mut app, "ods_orders").await.drift.is_empty());

    let only_ods = sync(&mut app, source.id, "ods\\_%").await;
    assert_eq!(only_ods.tables_seen, 1, "{only_ods:?}");
    assert_eq!(only_ods.tables_gone, 0, "tables outside the pattern are not gone");

    let listed = app
        .data_sources
        .get_data_source(pb::GetDataSourceRequest { name: "shop".into(), ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .data_source
        .unwrap();
    let last = listed.last_sync.expect("the last sync is recorded");
    assert_eq!(last.error, "");
    assert_eq!(last.report.unwrap().tables_seen, 1);
    warehouse.drop().await;
    app.stop().await;
}

async fn bad_data_sources_are_refused_with_clear_reasons(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    let mut wrong = data_source("wrong-password", "mysql");
    wrong.password = "not-the-s3cret".into();
    let wrong = create(&mut app, wrong).await;
    assert!(wrong.has_password && wrong.password.is_empty(), "the password is write-only: {wrong:?}");
    let refused = failure(
        app.data_sources
            .test_data_source(pb::TestDataSourceRequest { id: wrong.id, ..Default::default() })
            .await,
    );
    assert_eq!(
        (refused.code, refused.reason.as_str()),
        (Code::FailedPrecondition, "DATA_SOURCE_LOGIN_FAILED")
    );
    assert!(!refused.message.contains("not-the-s3cret"), "{}", refused.message);
    // Stored sealed: the database alone does not reveal it.
    let mut conn = sqlx::AnyConnection::connect(&app.database.url).await.unwrap();
    let stored: String = sqlx::query_scalar("SELECT password_sealed FROM data_source WHERE id = ?")
        .bind(wrong.id)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert!(stored.starts_with("v1:") && !stored.contains("not-the-s3cret"), "{stored}");

    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let mut unreachable = data_source("nowhere", "mysql");
    unreachable.port = i32::from(closed);
    let unreachable = create(&mut app, unreachable).await;
    let down = failure(
        app.data_sources
            .test_data_source(pb::TestDataSourceRequest { id: unreachable.id, ..Default::default() })
            .await,
    );
    assert_eq!((down.code, down.reason.as_str()), (Code::Unavailable, "DATA_SOURCE_UNREACHABLE"));

    let fine = create(&mut app, data_source("local", "")).await;
    let unknown = failure(
        app.data_sources
            .sync_tables(pb::SyncTablesRequest {
                id: fine.id,
                databases: vec!["no_such_database_here".into()],
                ..Default::default()
            })
            .await,
    );
    assert_eq!((unknown.code, unknown.reason.as_str()), (Code::NotFound, "DATA_SOURCE_DATABASE_NOT_FOUND"));
    let no_database = failure(
        app.data_sources.sync_tables(pb::SyncTablesRequest { id: fine.id, ..Default::default() }).await,
    );
    assert_eq!(
        (no_database.code, no_database.fields.as_slice()),
        (Code::InvalidArgument, ["databases[0]".to_owned()].as_slice())
    );

    let taken = failure(
        app.data_sources
            .create_data_source(pb::CreateDataSourceRequest { data_source: Some(data_source("local", "")) })
            .await,
    );
    assert_eq!((taken.code, taken.reason.as_str()), (Code::AlreadyExists, "DATA_SOURCE_NAME_TAKEN"));
    let bad = failure(
        app.data_sources
            .create_data_source(pb::CreateDataSourceRequest {
                data_source: Some(pb::DataSource {
                    name: "Bad Name".into(),
                    kind: pb::DataSourceKind::Doris as i32,
                    host: "".into(),
                    sync_interval_seconds: 5,
                    ..Default::default()
                }),
            })
            .await,
    );
    assert_eq!(bad.code, Code::InvalidArgument);
    assert_eq!(
        bad.fields,
        [
            "data_source.name",
            "data_source.host",
            "data_source.user",
            "data_source.sync_interval_seconds",
            "data_source.sync_databases"
        ]
    );

    // Tasks run on it: the delete is refused, naming them.
    let task = pb::Task {
        name: "load_from_local".into(),
        body: Some(pb::task::Body::Sql("insert into dwd_x select * from ods_x".into())),
        datasource: "local".into(),
        ..Default::default()
    };
    app.tasks
        .create_task(pb::CreateTaskRequest { task: Some(task), register_missing_tables: true })
        .await
        .unwrap();
    let in_use = failure(
        app.data_sources
            .delete_data_source(pb::DeleteDataSourceRequest { id: fine.id, ..Default::default() })
            .await,
    );
    assert_eq!((in_use.code, in_use.reason.as_str()), (Code::FailedPrecondition, "DATA_SOURCE_IN_USE"));
    assert_eq!(in_use.metadata["tasks"], "load_from_local");
    app.data_sources
        .delete_data_source(pb::DeleteDataSourceRequest { id: unreachable.id, etag: unreachable.etag })
        .await
        .unwrap();
    let gone = failure(
        app.data_sources
            .get_data_source(pb::GetDataSourceRequest { id: unreachable.id, ..Default::default() })
            .await,
    );
    assert_eq!((gone.code, gone.reason.as_str()), (Code::NotFound, "DATA_SOURCE_NOT_FOUND"));

    // An update changes what it names, and a new password is sealed again.
    let updated = app
        .data_sources
        .update_data_source(pb::UpdateDataSourceRequest {
            data_source: Some(pb::DataSource {
                id: wrong.id,
                password: String::new(),
                sync_interval_seconds: 3600,
                sync_databases: vec!["mysql".into()],
                ..Default::default()
            }),
            update_mask: Some(FieldMask {
                paths: vec!["password".into(), "sync_interval_seconds".into(), "sync_databases".into()],
            }),
        })
        .await
        .unwrap()
        .into_inner()
        .data_source
        .unwrap();
    assert!(!updated.has_password, "an empty password clears it");
    assert_eq!(updated.sync_interval_seconds, 3600);
    app.stop().await;
}

async fn a_periodic_sync_runs_on_its_own(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    let mut warehouse = Warehouse::new().await;
    warehouse.run("CREATE TABLE dwd_events (id BIGINT PRIMARY KEY, kind VARCHAR(16))").await;
    let mut source = data_source("events", "");
    source.sync_interval_seconds = 3600;
    source.sync_databases = vec![warehouse.name.clone()];
    let source = create(&mut app, source).await;
    // Due at once, then every hour: the first run registers the table without being asked.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(15);
    let synced = loop {
        let found = app
            .tables
            .get_table(pb::GetTableRequest { name: "dwd_events".into(), ..Default::default() })
            .await;
        if let Ok(found) = found {
            break found.into_inner().table.unwrap();
        }
        assert!(tokio::time::Instant::now() < deadline, "the periodic sync did not run");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(synced.source.unwrap().data_source, "events");
    let recorded = app
        .data_sources
        .get_data_source(pb::GetDataSourceRequest { id: source.id, ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .data_source
        .unwrap();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    let mut last = recorded.last_sync;
    while last.is_none() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        last = app
            .data_sources
            .get_data_source(pb::GetDataSourceRequest { id: source.id, ..Default::default() })
            .await
            .unwrap()
            .into_inner()
            .data_source
            .unwrap()
            .last_sync;
    }
    assert_eq!(last.expect("recorded").report.unwrap().tables_added, 1);
    warehouse.drop().await;
    app.stop().await;
}

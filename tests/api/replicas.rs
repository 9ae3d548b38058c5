//! Replicas sharing one database: started at once on a fresh database, a migration that failed on
//! an earlier start, and a database migrated by a newer binary.

use std::time::{Duration, Instant};

use dataportal::proto::v1 as pb;
use dataportal::proto::v1::lineage_start::Node;
use dataportal::startup::Application;
use dataportal::storage::{PoolSettings, Store};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;

use crate::helpers::{Backend, TestApp, TestDatabase, test_settings};
use crate::tasks::example_task;

crate::on_both_backends!(
    three_replicas_started_at_once_on_a_fresh_database_all_serve,
    a_migration_that_failed_on_an_earlier_start_is_applied_again,
    a_database_migrated_by_a_newer_binary_is_served,
);

const REPLICAS: usize = 3;
const ROUNDS: usize = 10;

/// Polls a replica's health until SERVING, for at most 20 s.
async fn wait_serving(app: &mut TestApp) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let status = app.health.check(HealthCheckRequest { service: String::new() }).await;
        if status.is_ok_and(|s| s.into_inner().status() == ServingStatus::Serving) {
            return;
        }
        assert!(Instant::now() < deadline, "the replica never reported SERVING");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Polls a replica until its lineage shows `table`'s one downstream link, for at most 5 s.
async fn wait_downstream(app: &mut TestApp, table: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let answer = app
            .lineage
            .get_downstream(pb::GetDownstreamRequest {
                start: Some(pb::LineageStart { node: Some(Node::Table(table.into())) }),
                depth: 1,
                ..Default::default()
            })
            .await;
        if answer.is_ok_and(|a| a.get_ref().nodes.len() == 2) {
            return;
        }
        assert!(Instant::now() < deadline, "{table}'s link never reached the replica");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Each replica has its own pools and runs its own migration at the same moment as the others;
/// exactly one applies each migration and the rest wait for it, so all of them start and serve
/// the same data.
async fn three_replicas_started_at_once_on_a_fresh_database_all_serve(backend: Backend) {
    let mut slowest = Duration::ZERO;
    for round in 0..ROUNDS {
        let database = TestDatabase::new(backend).await;
        let started = Instant::now();
        let starts: Vec<_> = (0..REPLICAS)
            .map(|_| {
                let shared = database.shared();
                tokio::spawn(async move {
                    let settings = test_settings(&shared.url);
                    TestApp::spawn_with(shared, settings).await
                })
            })
            .collect();
        let mut replicas = Vec::new();
        for start in starts {
            replicas.push(
                start.await.unwrap_or_else(|e| panic!("round {round}: a replica failed to start: {e}")),
            );
        }
        for replica in &mut replicas {
            wait_serving(replica).await;
        }
        slowest = slowest.max(started.elapsed());

        for (i, replica) in replicas.iter_mut().enumerate() {
            let task = pb::Task {
                name: format!("load_dwd_r{i}"),
                body: Some(pb::task::Body::Shell("true".into())),
                schedule: String::new(),
                inputs: vec![format!("ods_r{i}")],
                outputs: vec![format!("dwd_r{i}")],
                ..example_task()
            };
            replica
                .tasks
                .create_task(pb::CreateTaskRequest { task: Some(task), register_missing_tables: true })
                .await
                .unwrap_or_else(|e| panic!("round {round}: replica {i} cannot write: {e}"));
        }
        for replica in &mut replicas {
            for i in 0..REPLICAS {
                wait_downstream(replica, &format!("ods_r{i}")).await;
            }
        }
        for replica in replicas {
            replica.shutdown_only().await;
        }
        database.drop_database().await;
    }
    println!(
        "{backend:?}: {REPLICAS} replicas at once, slowest of {ROUNDS} rounds serving after {slowest:?}"
    );
}

/// A failed migration on MySQL leaves its row marked unfinished (DDL commits implicitly); the next
/// start applies it again instead of refusing to start.
async fn a_migration_that_failed_on_an_earlier_start_is_applied_again(backend: Backend) {
    let database = TestDatabase::new(backend).await;
    let pool = PoolSettings { max_connections: 2, acquire_timeout: Duration::from_secs(2) };
    let store = Store::connect(&database.url, &pool).unwrap();
    let mut conn = raw_connection(&database.url).await;
    // The table as sqlx makes it, holding what a failed first migration leaves.
    sqlx::raw_sql(
        "CREATE TABLE _sqlx_migrations (version BIGINT PRIMARY KEY, description TEXT NOT NULL, \
         installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, success BOOLEAN NOT NULL, \
         checksum BLOB NOT NULL, execution_time BIGINT NOT NULL); \
         INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (1, 'create data table', FALSE, X'00', -1)",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let version = store.migrate().await.expect("the failed migration is applied again");
    assert_eq!(version.applied, version.known);
    assert!(!version.is_ahead());
    let unfinished: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success = FALSE")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(unfinished, 0);
    store.close().await;
    database.drop_database().await;
}

/// During a rolling upgrade an older replica meets migrations it does not know: it says so and
/// serves (migrations are expand-then-contract).
async fn a_database_migrated_by_a_newer_binary_is_served(backend: Backend) {
    let database = TestDatabase::new(backend).await;
    let pool = PoolSettings { max_connections: 2, acquire_timeout: Duration::from_secs(2) };
    let store = Store::connect(&database.url, &pool).unwrap();
    let known = store.migrate().await.unwrap().known;
    let mut conn = raw_connection(&database.url).await;
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (?, 'from a newer release', TRUE, X'00', 0)",
    )
    .bind(known + 1)
    .execute(&mut conn)
    .await
    .unwrap();
    let version = store.migrate().await.expect("a newer schema is accepted");
    assert_eq!((version.known, version.applied), (known, known + 1));
    assert!(version.is_ahead());
    store.close().await;

    let url = database.url.clone();
    let app = Application::build(test_settings(&url)).await;
    assert!(app.is_ok(), "the older binary starts: {:?}", app.err());
    drop(app);
    let mut replica = TestApp::spawn_with(database, test_settings(&url)).await;
    wait_serving(&mut replica).await;
    replica.stop().await;
}

async fn raw_connection(url: &str) -> sqlx::AnyConnection {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    // An SQLite file is created on first use, which may be this connection's.
    let url = if url.starts_with("sqlite:") { format!("{url}?mode=rwc") } else { url.to_owned() };
    sqlx::AnyConnection::connect(&url).await.expect("a direct connection to the test database")
}

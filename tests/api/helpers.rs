//! Starting a server for a test and reading its errors.

use std::time::Duration;

use dataportal::config::{SecretUrl, ServeArgs, Settings};
use dataportal::proto::v1::callback_service_client::CallbackServiceClient;
use dataportal::proto::v1::data_source_service_client::DataSourceServiceClient;
use dataportal::proto::v1::lineage_service_client::LineageServiceClient;
use dataportal::proto::v1::table_service_client::TableServiceClient;
use dataportal::proto::v1::task_service_client::TaskServiceClient;
use dataportal::proto::v1::workflow_service_client::WorkflowServiceClient;
use dataportal::scheduler::dolphin::Secret;
use dataportal::startup::Application;
use dataportal::storage::PoolSettings;
use sqlx::Connection;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;
use tonic_health::pb::health_client::HealthClient;
use tonic_types::StatusExt;

/// The database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    MariaDb,
}

/// Defines one `#[tokio::test]` per backend for each named scenario `async fn name(Backend)`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name($crate::helpers::Backend::Sqlite).await }) *
        }
        mod mariadb {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name($crate::helpers::Backend::MariaDb).await }) *
        }
    };
}

/// Defines one test per DolphinScheduler family and database for each scenario
/// `async fn name(Backend, Family)`.
#[macro_export]
macro_rules! on_every_family {
    ($($name:ident),* $(,)?) => {
        $crate::on_every_family!(@family v3_1, V3_1, $($name),*);
        $crate::on_every_family!(@family v3_2, V3_2, $($name),*);
        $crate::on_every_family!(@family v3_3, V3_3, $($name),*);
    };
    (@family $module:ident, $family:ident, $($name:ident),*) => {
        mod $module {
            mod sqlite {
                $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::super::$name($crate::helpers::Backend::Sqlite, fake_dolphinscheduler::Family::$family).await
                })*
            }
            mod mariadb {
                $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::super::$name($crate::helpers::Backend::MariaDb, fake_dolphinscheduler::Family::$family).await
                })*
            }
        }
    };
}

/// The MariaDB/MySQL server tests create their databases on (no database in the URL).
pub fn mysql_server_url() -> String {
    std::env::var("TEST_MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".into())
}

/// A fresh, empty database for one test: an SQLite file in a temporary directory, or a new
/// database on the MariaDB server.
pub struct TestDatabase {
    pub url: String,
    mysql_name: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDatabase {
    pub async fn new(backend: Backend) -> TestDatabase {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temporary directory");
                let url = format!("sqlite://{}", dir.path().join("portal.db").display());
                TestDatabase { url, mysql_name: None, _dir: Some(dir) }
            }
            Backend::MariaDb => {
                let name = format!("dp_test_{}", uuid::Uuid::new_v4().simple());
                let server = mysql_server_url();
                let mut conn = sqlx::MySqlConnection::connect(&server)
                    .await
                    .unwrap_or_else(|e| panic!("MariaDB at {server} must be running for the tests: {e}"));
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut conn)
                    .await
                    .expect("create test database");
                TestDatabase { url: format!("{server}/{name}"), mysql_name: Some(name), _dir: None }
            }
        }
    }

    /// The same database for a second server; only the original drops it.
    pub fn shared(&self) -> TestDatabase {
        TestDatabase { url: self.url.clone(), mysql_name: None, _dir: None }
    }

    /// The same database reached through another address (a proxy), for MariaDB.
    pub fn url_via(&self, host_port: &str) -> String {
        let name = self.mysql_name.as_deref().expect("only MariaDB databases can be proxied");
        format!("mysql://root@{host_port}/{name}")
    }

    /// Drops a MariaDB test database (SQLite files go with their directory).
    pub async fn drop_database(&self) {
        if let Some(name) = &self.mysql_name
            && let Ok(mut conn) = sqlx::MySqlConnection::connect(&mysql_server_url()).await
        {
            let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name}")))
                .execute(&mut conn)
                .await;
        }
    }
}

/// A running server and clients connected to it.
pub struct TestApp {
    pub tables: TableServiceClient<Channel>,
    pub tasks: TaskServiceClient<Channel>,
    pub lineage: LineageServiceClient<Channel>,
    pub workflows: WorkflowServiceClient<Channel>,
    pub data_sources: DataSourceServiceClient<Channel>,
    pub callbacks: CallbackServiceClient<Channel>,
    pub health: HealthClient<Channel>,
    pub database: TestDatabase,
    rest_addr: std::net::SocketAddr,
    shutdown: CancellationToken,
    server: JoinHandle<()>,
}

/// Test settings: an ephemeral port, fast health probes, a short wait for connections.
pub fn test_settings(database_url: &str) -> Settings {
    Settings {
        database_url: SecretUrl::new(database_url),
        pool: PoolSettings { max_connections: 8, acquire_timeout: Duration::from_secs(2) },
        serve: ServeArgs {
            host: "127.0.0.1".into(),
            port: 0,
            rest_port: 0,
            health_check_interval_ms: 100,
            lineage_refresh_ms: 100,
            // A fixed test key (base64 of 32 zero bytes): servers sharing a database share it.
            data_source_key: Some(Secret::new("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")),
            ..ServeArgs::default()
        },
        data_dir: std::env::temp_dir(),
    }
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> TestApp {
        let database = TestDatabase::new(backend).await;
        let settings = test_settings(&database.url);
        Self::spawn_with(database, settings).await
    }

    pub async fn spawn_with(database: TestDatabase, settings: Settings) -> TestApp {
        let app = Application::build(settings).await.expect("server starts");
        let addr = app.grpc_addr();
        let rest_addr = app.rest_addr();
        let shutdown = CancellationToken::new();
        let server = tokio::spawn({
            let shutdown = shutdown.clone();
            async move { app.run(shutdown).await.expect("server runs") }
        });
        let channel = Channel::from_shared(format!("http://{addr}"))
            .expect("valid uri")
            .connect()
            .await
            .expect("connect to server");
        TestApp {
            tables: TableServiceClient::new(channel.clone()),
            tasks: TaskServiceClient::new(channel.clone()),
            lineage: LineageServiceClient::new(channel.clone()),
            workflows: WorkflowServiceClient::new(channel.clone()),
            data_sources: DataSourceServiceClient::new(channel.clone()),
            callbacks: CallbackServiceClient::new(channel.clone()),
            health: HealthClient::new(channel),
            database,
            rest_addr,
            shutdown,
            server,
        }
    }

    /// The base URL of the REST (HTTP/JSON) server, such as `http://127.0.0.1:40123`.
    pub fn rest_url(&self) -> String {
        format!("http://{}", self.rest_addr)
    }

    /// Stops the server (gracefully), leaving its database to whoever else uses it.
    pub async fn shutdown_only(self) {
        self.shutdown.cancel();
        self.server.await.expect("server stops cleanly");
    }

    /// Stops the server (gracefully) and drops its database.
    pub async fn stop(self) {
        self.shutdown.cancel();
        self.server.await.expect("server stops cleanly");
        self.database.drop_database().await;
    }
}

/// The code, ErrorInfo reason and metadata, and BadRequest fields of a failed call.
#[derive(Debug)]
pub struct Failure {
    pub code: tonic::Code,
    pub message: String,
    pub reason: String,
    pub metadata: std::collections::HashMap<String, String>,
    pub fields: Vec<String>,
}

pub fn failure<T: std::fmt::Debug>(result: Result<T, tonic::Status>) -> Failure {
    let status = result.expect_err("the call should fail");
    let details = status.get_error_details();
    let info = details.error_info().expect("every error carries ErrorInfo");
    assert_eq!(info.domain, "dataportal");
    Failure {
        code: status.code(),
        message: status.message().to_owned(),
        reason: info.reason.clone(),
        metadata: info.metadata.clone(),
        fields: details
            .bad_request()
            .map(|b| b.field_violations.iter().map(|v| v.field.clone()).collect())
            .unwrap_or_default(),
    }
}

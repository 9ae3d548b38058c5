//! Sync benchmark: a warehouse database of N tables × M columns on MariaDB, synced into the
//! registry (SQLite, then a MariaDB database), first as an import, then again with nothing
//! changed. Reports wall time and the peak resident memory of the sync itself.
//!
//!   cargo bench --bench sync [-- --tables 10000 --columns 20 --portals sqlite,mariadb]
//!
//! MariaDB is `TEST_MYSQL_URL` (default `mysql://root@127.0.0.1:3306`); scratch databases are
//! created and dropped. Creating the warehouse takes a while (InnoDB makes a file per table);
//! it is timed apart.

use std::time::{Duration, Instant};

use dataportal::app::datasources::DataSources;
use dataportal::app::{Catalog, LayerRules};
use dataportal::domain::Lookup;
use dataportal::domain::datasource::{DataSourceDef, DataSourceKind};
use dataportal::secret_box::SecretBox;
use dataportal::storage::{PoolSettings, Store};
use sqlx::{Connection, Executor};

struct Options {
    tables: usize,
    columns: usize,
    portals: Vec<String>,
}

fn options() -> Options {
    let mut options =
        Options { tables: 10_000, columns: 20, portals: vec!["sqlite".into(), "mariadb".into()] };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--tables" => options.tables = args.next().and_then(|v| v.parse().ok()).expect("--tables N"),
            "--columns" => options.columns = args.next().and_then(|v| v.parse().ok()).expect("--columns N"),
            "--portals" => {
                options.portals = args.next().expect("--portals a,b").split(',').map(str::to_owned).collect()
            }
            _ => {}
        }
    }
    options
}

fn server() -> String {
    std::env::var("TEST_MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".into())
}

/// Peak resident set size since the last reset, in MB (Linux).
fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    kb / 1024.0
}

/// Resets the peak so that the next reading covers only what follows.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Creates the warehouse: `tables` tables of `columns` columns, over 4 connections.
async fn create_warehouse(name: &str, tables: usize, columns: usize) {
    let mut conn = sqlx::MySqlConnection::connect(&server()).await.unwrap();
    conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).await.unwrap();
    let workers = 4;
    let mut handles = Vec::new();
    for worker in 0..workers {
        let url = format!("{}/{name}", server());
        handles.push(tokio::spawn(async move {
            let mut conn = sqlx::MySqlConnection::connect(&url).await.unwrap();
            for t in (worker..tables).step_by(workers) {
                let prefix = ["ods", "dwd", "dim", "dws", "ads", "tmp"][t % 6];
                let mut ddl = format!("CREATE TABLE {prefix}_t{t:05} (id BIGINT PRIMARY KEY COMMENT 'key'");
                for c in 1..columns {
                    let ty = ["INT", "VARCHAR(64)", "DECIMAL(12,2)", "DATETIME", "TEXT"][c % 5];
                    ddl.push_str(&format!(", c{c:02} {ty} NULL COMMENT 'column {c}'"));
                }
                ddl.push_str(") COMMENT 'bench table'");
                conn.execute(sqlx::AssertSqlSafe(ddl)).await.unwrap();
            }
        }));
    }
    for handle in handles {
        handle.await.unwrap();
    }
}

async fn portal_store(kind: &str, scratch: &tempfile::TempDir) -> (Store, Option<String>) {
    let settings = PoolSettings { max_connections: 8, acquire_timeout: Duration::from_secs(30) };
    match kind {
        "sqlite" => {
            let url = format!("sqlite://{}", scratch.path().join("portal.db").display());
            (Store::connect(&url, &settings).unwrap(), None)
        }
        _ => {
            let name = format!("dp_bench_{}", uuid::Uuid::new_v4().simple());
            let mut conn = sqlx::MySqlConnection::connect(&server()).await.unwrap();
            conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).await.unwrap();
            (Store::connect(&format!("{}/{name}", server()), &settings).unwrap(), Some(name))
        }
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let options = options();
    let warehouse = format!("dp_bench_wh_{}", uuid::Uuid::new_v4().simple());
    let started = Instant::now();
    create_warehouse(&warehouse, options.tables, options.columns).await;
    println!(
        "warehouse: {} tables x {} columns created in {:.1} s (setup, not the sync)",
        options.tables,
        options.columns,
        started.elapsed().as_secs_f64()
    );
    let url = url::Url::parse(&server()).unwrap();
    for portal in &options.portals {
        let scratch = tempfile::tempdir().unwrap();
        let (store, scratch_db) = portal_store(portal, &scratch).await;
        store.migrate().await.unwrap();
        let catalog = Catalog::new(store.clone(), LayerRules::Warn);
        catalog.refresh_lineage().await.unwrap();
        let data_sources =
            DataSources::new(store.clone(), catalog, SecretBox::from_key(&[7; 32]), "bench".into());
        let def = DataSourceDef {
            name: "bench".into(),
            kind: DataSourceKind::MySql,
            host: url.host_str().unwrap_or("127.0.0.1").into(),
            port: url.port().unwrap_or(3306),
            user: url.username().into(),
            default_database: warehouse.clone(),
            options: Default::default(),
            sync_interval_secs: 0,
            sync_databases: Vec::new(),
            sync_table_pattern: String::new(),
        };
        let source = data_sources.create(def, url.password().map(str::to_owned)).await.unwrap();
        for round in ["import", "re-sync, nothing changed"] {
            reset_peak_rss();
            let t = Instant::now();
            let report = data_sources.sync(&Lookup::Id(source.id), Vec::new(), String::new()).await.unwrap();
            let wall = t.elapsed();
            println!(
                "{portal:<7} {round:<26} {:>6.1} s  peak RSS {:>6.1} MB  ({} seen, {} added, {} changed, {} skipped)  \
                 targets <= 30 s, <= 200 MB",
                wall.as_secs_f64(),
                peak_rss_mb(),
                report.tables_seen,
                report.tables_added,
                report.tables_changed,
                report.skipped.len(),
            );
        }
        store.close().await;
        if let Some(name) = scratch_db {
            let mut conn = sqlx::MySqlConnection::connect(&server()).await.unwrap();
            conn.execute(sqlx::AssertSqlSafe(format!("DROP DATABASE {name}"))).await.unwrap();
        }
    }
    let mut conn = sqlx::MySqlConnection::connect(&server()).await.unwrap();
    conn.execute(sqlx::AssertSqlSafe(format!("DROP DATABASE {warehouse}"))).await.unwrap();
}

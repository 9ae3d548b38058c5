//! Callback ingestion benchmark: concurrent senders post the generic callback through the REST
//! shim of a server on MariaDB; a fifth of the posts repeat an earlier one and a tenth of the
//! runs also get a late RUNNING after their SUCCESS. Reports throughput, latency percentiles and
//! runs lost or left in a wrong state (both must be 0), next to the ceiling of raw single-row
//! INSERTs (autocommit) into MariaDB measured in the same run with as many connections.
//!
//!   cargo bench --bench callbacks [-- --runs 20000 --senders 64]
//!
//! Needs MariaDB (TEST_MYSQL_URL, default mysql://root@127.0.0.1:3306).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use dataportal::config::{SecretUrl, ServeArgs, Settings};
use dataportal::startup::Application;
use dataportal::storage::PoolSettings;
use sqlx::{Connection, Executor};
use tokio_util::sync::CancellationToken;

const TASKS: usize = 20;

struct Options {
    runs: usize,
    senders: usize,
}

fn options() -> Options {
    let mut options = Options { runs: 20_000, senders: 64 };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("{arg} N"));
        match arg.as_str() {
            "--runs" => options.runs = value(),
            "--senders" => options.senders = value(),
            _ => {}
        }
    }
    options
}

fn server_url() -> String {
    std::env::var("TEST_MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".into())
}

/// The callbacks to send, in sending order: (task, run, status).
fn plan(runs: usize) -> Vec<(usize, usize, &'static str)> {
    let mut rng = fastrand::Rng::with_seed(7);
    let mut posts: Vec<(usize, usize, &'static str)> =
        (0..runs).map(|run| (run % TASKS, run, "SUCCESS")).collect();
    rng.shuffle(&mut posts);
    // A fifth of all posts repeat one already sent (runs / 4 more posts).
    for _ in 0..runs / 4 {
        let at = rng.usize(1..posts.len());
        let repeated = posts[rng.usize(0..at)];
        posts.insert(at, repeated);
    }
    // A tenth of the runs get a RUNNING after their SUCCESS (it must not win).
    for run in (0..runs).step_by(10) {
        let success = posts.iter().position(|p| p.1 == run && p.2 == "SUCCESS").unwrap_or(0);
        let at = rng.usize(success + 1..=posts.len());
        posts.insert(at, (run % TASKS, run, "RUNNING"));
    }
    posts
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

async fn ingest(options: &Options, database: &str) -> (f64, Duration, Duration, usize, usize, usize) {
    let settings = Settings {
        database_url: SecretUrl::new(format!("{}/{database}", server_url())),
        pool: PoolSettings { max_connections: 16, acquire_timeout: Duration::from_secs(5) },
        serve: ServeArgs { host: "127.0.0.1".into(), port: 0, rest_port: 0, ..ServeArgs::default() },
        data_dir: std::env::temp_dir(),
    };
    let app = Application::build(settings).await.expect("server starts");
    let rest = format!("http://{}", app.rest_addr());
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(app.run(shutdown.clone()));
    let http = reqwest::Client::builder().pool_max_idle_per_host(options.senders).build().unwrap();

    let mut task_ids = Vec::new();
    for i in 0..TASKS {
        let task = serde_json::json!({
            "name": format!("load_dws_t{i}"),
            "sql": format!("insert into dws_t{i} select * from dwd_t{i}"),
        });
        let answer = http
            .post(format!("{rest}/api/v1/tasks?registerMissingTables=true"))
            .header("content-type", "application/json")
            .body(task.to_string())
            .send()
            .await
            .unwrap();
        let created: serde_json::Value = serde_json::from_slice(&answer.bytes().await.unwrap()).unwrap();
        task_ids.push(created["task"]["id"].as_str().and_then(|id| id.parse::<i64>().ok()).expect("task id"));
    }

    let posts = Arc::new(plan(options.runs));
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut senders = Vec::new();
    for _ in 0..options.senders {
        let (posts, next, http, rest, task_ids) =
            (posts.clone(), next.clone(), http.clone(), rest.clone(), task_ids.clone());
        senders.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut failed = 0;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(&(task, run, status)) = posts.get(i) else { break };
                let (minute, second) = (run / 60_000, run % 60_000);
                let body = serde_json::json!({
                    "task_id": task_ids[task],
                    "status": status,
                    "start_time": format!("2025-10-17T{:02}:{:02}:{:02}.{:03}Z", minute / 60, minute % 60, second / 1000, second % 1000),
                    "end_time": if status == "SUCCESS" { "2025-10-18T00:00:00Z" } else { "" },
                    "rows_output": run,
                });
                let sent = Instant::now();
                let answer = http
                    .post(format!("{rest}/api/v1/tasks/callback"))
                    .header("content-type", "application/json")
                    .body(body.to_string())
                    .send()
                    .await;
                match answer {
                    Ok(response) if response.status() == 200 => latencies.push(sent.elapsed()),
                    _ => failed += 1,
                }
            }
            (latencies, failed)
        }));
    }
    let mut latencies = Vec::new();
    let mut failed = 0;
    for sender in senders {
        let (mut l, f) = sender.await.unwrap();
        latencies.append(&mut l);
        failed += f;
    }
    let elapsed = started.elapsed();
    let throughput = latencies.len() as f64 / elapsed.as_secs_f64();
    latencies.sort_unstable();

    // Wait until every stored report is applied, then count the runs and their states.
    let mut conn = sqlx::MySqlConnection::connect(&format!("{}/{database}", server_url())).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM callback_report")
        .fetch_one(&mut conn)
        .await
        .unwrap()
        > 0
    {
        assert!(Instant::now() < deadline, "reports were not applied in time");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let recorded: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM execution").fetch_one(&mut conn).await.unwrap();
    let wrong: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM execution WHERE state <> 'SUCCEEDED'")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    shutdown.cancel();
    let _ = server.await;
    let lost = options.runs.saturating_sub(recorded as usize);
    (throughput, percentile(&latencies, 0.5), percentile(&latencies, 0.99), lost, wrong as usize, failed)
}

/// Single-row INSERTs with autocommit from `connections` connections, as fast as they go.
async fn raw_insert_ceiling(database: &str, table: &'static str, connections: usize, rows: usize) -> f64 {
    let url = format!("{}/{database}", server_url());
    let mut setup = sqlx::MySqlConnection::connect(&url).await.unwrap();
    let create = format!(
        "CREATE TABLE {table} (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, kind VARCHAR(16) NOT NULL, \
         payload TEXT NOT NULL, received_at BIGINT NOT NULL) ENGINE = InnoDB"
    );
    setup.execute(sqlx::AssertSqlSafe(create)).await.unwrap();
    let insert: &'static str = Box::leak(
        format!("INSERT INTO {table} (kind, payload, received_at) VALUES (?, ?, ?)").into_boxed_str(),
    );
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..connections {
        let (url, next) = (url.clone(), next.clone());
        workers.push(tokio::spawn(async move {
            let mut conn = sqlx::MySqlConnection::connect(&url).await.unwrap();
            while next.fetch_add(1, Ordering::Relaxed) < rows {
                sqlx::query(sqlx::AssertSqlSafe(insert))
                    .bind("TASK_RUN")
                    .bind(r#"{"kind":"TASK_RUN","task_id":1,"state":"SUCCEEDED","status":"SUCCESS","start_time":1760670000000}"#)
                    .bind(1_760_670_000_000i64)
                    .execute(&mut conn)
                    .await
                    .unwrap();
            }
        }));
    }
    for worker in workers {
        worker.await.unwrap();
    }
    rows as f64 / started.elapsed().as_secs_f64()
}

#[tokio::main]
async fn main() {
    let options = options();
    let database = format!("dp_bench_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::MySqlConnection::connect(&server_url()).await.expect("MariaDB must be running");
    admin.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {database}"))).await.unwrap();

    // The ceiling is measured before and after the service's run (MariaDB's own state, such as
    // its buffer pool, moves it between runs); the ratio is taken against the higher one.
    let before = raw_insert_ceiling(&database, "raw_insert_before", options.senders, options.runs).await;
    let (throughput, p50, p99, lost, wrong, failed) = ingest(&options, &database).await;
    let after = raw_insert_ceiling(&database, "raw_insert_after", options.senders, options.runs).await;
    let ceiling = before.max(after);
    admin.execute(sqlx::AssertSqlSafe(format!("DROP DATABASE {database}"))).await.unwrap();

    let posts = plan(options.runs).len();
    println!(
        "callbacks through the REST shim on MariaDB: {posts} posts of {} runs, {} senders",
        options.runs, options.senders
    );
    println!("  (a fifth repeat an earlier post; a tenth of the runs get a late RUNNING)");
    println!("  throughput          {throughput:>10.0} callbacks/s   (target >= 5000)");
    println!("  latency p50 / p99   {:>7.2} / {:.2} ms", p50.as_secs_f64() * 1e3, p99.as_secs_f64() * 1e3);
    println!("  runs lost           {lost:>10}   (must be 0)");
    println!("  runs in a wrong state {wrong:>8}   (must be 0)");
    println!("  posts refused       {failed:>10}");
    println!(
        "raw single-row INSERT ceiling of MariaDB ({} connections, autocommit): {before:.0} rows/s before, {after:.0} after",
        options.senders
    );
    println!("  ratio to the higher {:>10.2}   (target >= 0.70)", throughput / ceiling);
}

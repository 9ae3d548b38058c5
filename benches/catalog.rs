//! Catalog benchmark: N concurrent gRPC clients doing CreateTask, GetTask and ListTables against
//! the release binary on SQLite and on MariaDB, beside the ceiling of the same statements run
//! raw with sqlx in-process (single-row INSERT, SELECT by primary key). Also reports the time
//! from start to SERVING and the idle RSS of the server.
//!
//!   cargo bench --bench catalog [-- --clients 32 --seconds 5 --backends sqlite,mariadb]
//!
//! MariaDB is `TEST_MYSQL_URL` (default `mysql://root@127.0.0.1:3306`); a scratch database is
//! created and dropped.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use dataportal::proto::v1 as pb;
use dataportal::proto::v1::table_service_client::TableServiceClient;
use dataportal::proto::v1::task_service_client::TaskServiceClient;
use sqlx::{Connection, Executor};
use tonic::transport::{Channel, Endpoint};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

struct Options {
    clients: usize,
    seconds: u64,
    backends: Vec<String>,
}

fn options() -> Options {
    let mut options = Options { clients: 32, seconds: 5, backends: vec!["sqlite".into(), "mariadb".into()] };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--clients" => options.clients = args.next().and_then(|v| v.parse().ok()).expect("--clients N"),
            "--seconds" => options.seconds = args.next().and_then(|v| v.parse().ok()).expect("--seconds N"),
            "--backends" => {
                options.backends =
                    args.next().expect("--backends a,b").split(',').map(str::to_owned).collect()
            }
            // cargo bench passes --bench; ignore what is not ours.
            _ => {}
        }
    }
    options
}

/// Latencies of one phase, in microseconds.
struct Phase {
    name: String,
    latencies: Vec<u64>,
    elapsed: Duration,
}

impl Phase {
    fn throughput(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64()
    }

    fn percentile(&self, p: f64) -> f64 {
        let mut sorted = self.latencies.clone();
        sorted.sort_unstable();
        let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
        sorted.get(index).copied().unwrap_or(0) as f64 / 1000.0
    }

    fn print(&self) {
        println!(
            "  {:<28} {:>9.0} ops/s   p50 {:>7.2} ms   p99 {:>7.2} ms   ({} ops)",
            self.name,
            self.throughput(),
            self.percentile(0.50),
            self.percentile(0.99),
            self.latencies.len()
        );
    }
}

/// Runs `work(client, sequence)` from `clients` concurrent workers for `seconds`.
async fn run_phase<F, Fut>(name: &str, clients: usize, seconds: u64, work: F) -> Phase
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let work = Arc::new(work);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let sequence = Arc::new(AtomicU64::new(0));
    let mut handles = Vec::new();
    for client in 0..clients {
        let (work, sequence) = (work.clone(), sequence.clone());
        handles.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let n = sequence.fetch_add(1, Ordering::Relaxed);
                let t = Instant::now();
                work(client, n).await;
                latencies.push(t.elapsed().as_micros() as u64);
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for handle in handles {
        latencies.extend(handle.await.expect("worker"));
    }
    Phase { name: name.into(), latencies, elapsed: started.elapsed() }
}

struct Server {
    child: Child,
    address: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_server(database_url: &str, pool_size: u32) -> (Server, Duration) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let started = Instant::now();
    let child = Command::new(env!("CARGO_BIN_EXE_dataportal"))
        .args(["serve", "--host", "127.0.0.1", "--port", &port.to_string()])
        .env("DATABASE_URL", database_url)
        .env("DB_MAX_CONNECTIONS", pool_size.to_string())
        .env("LOG_LEVEL", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the server binary");
    let address = format!("http://127.0.0.1:{port}");
    let server = Server { child, address };
    loop {
        if let Ok(channel) = Endpoint::from_shared(server.address.clone()).unwrap().connect().await {
            let mut health = HealthClient::new(channel);
            if let Ok(r) = health.check(HealthCheckRequest { service: String::new() }).await
                && r.into_inner().status() == ServingStatus::Serving
            {
                return (server, started.elapsed());
            }
        }
        assert!(started.elapsed() < Duration::from_secs(30), "server did not become SERVING");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

async fn connect_clients(address: &str, clients: usize) -> Vec<Channel> {
    let mut channels = Vec::new();
    for _ in 0..clients {
        channels.push(
            Endpoint::from_shared(address.to_owned()).unwrap().tcp_nodelay(true).connect().await.unwrap(),
        );
    }
    channels
}

fn task(name: String) -> pb::Task {
    pb::Task {
        name,
        body: Some(pb::task::Body::Sql("insert into dwd_bench select * from ods_bench".into())),
        schedule: "0 3 * * *".into(),
        inputs: vec!["ods_bench".into()],
        outputs: vec!["dwd_bench".into()],
        ..Default::default()
    }
}

async fn bench_backend(backend: &str, options: &Options) {
    let pool_size = 32;
    let (url, scratch) = match backend {
        "sqlite" => {
            let dir = tempfile::tempdir().unwrap();
            (format!("sqlite://{}", dir.path().join("bench.db").display()), Scratch::Sqlite { _dir: dir })
        }
        "mariadb" => {
            let server =
                std::env::var("TEST_MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".into());
            let name = format!("dp_bench_{}", uuid::Uuid::new_v4().simple());
            let mut conn = sqlx::MySqlConnection::connect(&server).await.expect("MariaDB");
            conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).await.unwrap();
            (format!("{server}/{name}"), Scratch::MySql { server, name })
        }
        other => panic!("unknown backend {other}"),
    };
    println!("\n{backend} ({} clients, {} s per phase)", options.clients, options.seconds);

    let (server, to_serving) = start_server(&url, pool_size).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle_rss = rss_kib(server.child.id());
    println!("  start to SERVING             {:>9.1} ms", to_serving.as_secs_f64() * 1000.0);
    println!("  idle RSS                     {:>9.1} MB", idle_rss as f64 / 1024.0);

    let channels = connect_clients(&server.address, options.clients).await;
    let mut tables = TableServiceClient::new(channels[0].clone());
    for name in ["ods_bench", "dwd_bench"] {
        tables
            .create_table(pb::CreateTableRequest {
                table: Some(pb::Table { name: name.into(), ..Default::default() }),
            })
            .await
            .unwrap();
    }
    for i in 0..100 {
        let fields = (0..10)
            .map(|f| pb::Field { name: format!("c{f}"), r#type: "bigint".into(), ..Default::default() })
            .collect();
        tables
            .create_table(pb::CreateTableRequest {
                table: Some(pb::Table { name: format!("ods_list_{i}"), fields, ..Default::default() }),
            })
            .await
            .unwrap();
    }

    let task_channels = Arc::new(channels.clone());
    let create = run_phase("gRPC CreateTask", options.clients, options.seconds, move |client, n| {
        let mut tasks = TaskServiceClient::new(task_channels[client].clone());
        async move {
            tasks
                .create_task(pb::CreateTaskRequest {
                    task: Some(task(format!("bench_{n}"))),
                    register_missing_tables: false,
                })
                .await
                .expect("CreateTask");
        }
    })
    .await;
    let created = create.latencies.len() as u64;

    let task_channels = Arc::new(channels.clone());
    let get = run_phase("gRPC GetTask", options.clients, options.seconds, move |client, n| {
        let mut tasks = TaskServiceClient::new(task_channels[client].clone());
        async move {
            let id = (n.wrapping_mul(2_654_435_761) % created) as i64 + 1;
            tasks.get_task(pb::GetTaskRequest { id, name: String::new() }).await.expect("GetTask");
        }
    })
    .await;

    let table_channels = Arc::new(channels.clone());
    let list = run_phase("gRPC ListTables (50/page)", options.clients, options.seconds, move |client, _| {
        let mut tables = TableServiceClient::new(table_channels[client].clone());
        async move {
            tables
                .list_tables(pb::ListTablesRequest { page_size: 50, ..Default::default() })
                .await
                .expect("ListTables");
        }
    })
    .await;
    drop(server);

    let (raw_insert, raw_select) = raw_ceiling(&url, backend, options, pool_size).await;
    for phase in [&create, &raw_insert, &get, &raw_select, &list] {
        phase.print();
    }
    println!(
        "  CreateTask / raw INSERT      {:>9.2}   (target >= 0.6 on MariaDB)",
        create.throughput() / raw_insert.throughput()
    );
    println!(
        "  GetTask / raw SELECT         {:>9.2}   (target >= 0.5 on MariaDB)",
        get.throughput() / raw_select.throughput()
    );
    scratch.drop_it().await;
}

/// The same work as raw single statements through a native sqlx pool in this process.
async fn raw_ceiling(url: &str, backend: &str, options: &Options, pool_size: u32) -> (Phase, Phase) {
    const INSERT: &str = "INSERT INTO data_task (name, description, owner, task_type, engine, body_kind, body, \
        datasource, schedule, retries, retry_interval_secs, timeout_secs, priority, version, created_at, updated_at) \
        VALUES (?, '', '', 'BATCH', 'DOLPHIN', 'SQL', 'insert into dwd_bench select * from ods_bench', '', \
        '0 3 * * *', 0, 0, 0, 'MEDIUM', 1, 0, 0)";
    const SELECT: &str = "SELECT id, name, description, owner, task_type, engine, body_kind, body, datasource, \
        schedule, retries, retry_interval_secs, timeout_secs, priority, version, created_at, updated_at \
        FROM data_task WHERE id = ?";
    macro_rules! phases {
        ($pool:expr) => {{
            let pool = $pool;
            let p = pool.clone();
            let insert =
                run_phase("raw sqlx INSERT (ceiling)", options.clients, options.seconds, move |_, n| {
                    let p = p.clone();
                    async move {
                        sqlx::query(INSERT).bind(format!("raw_{n}")).execute(&p).await.expect("INSERT");
                    }
                })
                .await;
            let rows = insert.latencies.len() as u64;
            let p = pool.clone();
            let select = run_phase(
                "raw sqlx SELECT by id (ceiling)",
                options.clients,
                options.seconds,
                move |_, n| {
                    let p = p.clone();
                    async move {
                        let id = (n.wrapping_mul(2_654_435_761) % rows) as i64 + 1;
                        sqlx::query(SELECT).bind(id).fetch_optional(&p).await.expect("SELECT");
                    }
                },
            )
            .await;
            pool.close().await;
            (insert, select)
        }};
    }
    if backend == "sqlite" {
        let options = url
            .parse::<sqlx::sqlite::SqliteConnectOptions>()
            .unwrap()
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
            .synchronous(sqlx::sqlite::SqliteSynchronous::Normal);
        phases!(
            sqlx::sqlite::SqlitePoolOptions::new()
                .max_connections(pool_size)
                .connect_with(options)
                .await
                .unwrap()
        )
    } else {
        phases!(sqlx::mysql::MySqlPoolOptions::new().max_connections(pool_size).connect(url).await.unwrap())
    }
}

enum Scratch {
    /// Deleted when dropped.
    Sqlite {
        _dir: tempfile::TempDir,
    },
    MySql {
        server: String,
        name: String,
    },
}

impl Scratch {
    async fn drop_it(self) {
        if let Scratch::MySql { server, name } = self {
            let mut conn = sqlx::MySqlConnection::connect(&server).await.unwrap();
            conn.execute(sqlx::AssertSqlSafe(format!("DROP DATABASE {name}"))).await.unwrap();
        }
    }
}

#[tokio::main]
async fn main() {
    let options = options();
    println!("catalog benchmark: {} cores", std::thread::available_parallelism().map_or(1, |n| n.get()));
    for backend in options.backends.clone() {
        bench_backend(&backend, &options).await;
    }
}

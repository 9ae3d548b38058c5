//! Lineage benchmark: a synthetic warehouse (8 levels, each table above the first written by
//! one task reading 1–5 tables of lower levels) of 100k and 1M tables is written to SQLite,
//! the index is loaded from it as the service does at start, then GetUpstream/GetDownstream
//! at depth 20 (node limit 1000) are timed over gRPC and, as the baseline, in-process.
//!
//!   cargo bench --bench lineage [-- --sizes 100000,1000000 --queries 2000]

use std::time::{Duration, Instant};

use dataportal::app::lineage::Start;
use dataportal::app::{Catalog, LayerRules};
use dataportal::domain::lineage::graph::Direction;
use dataportal::proto::v1 as pb;
use dataportal::proto::v1::lineage_service_client::LineageServiceClient;
use dataportal::storage::{PoolSettings, Store};
use sqlx::{QueryBuilder, Sqlite};
use tokio_util::sync::CancellationToken;

const LEVELS: usize = 8;
const DEPTH: u32 = 20;
const NODE_LIMIT: usize = 1000;

fn layer_of(level: usize) -> &'static str {
    ["ODS", "DWD", "DWD", "DIM", "DWS", "DWS", "ADS", "ADS"][level]
}

struct Warehouse {
    /// Table ids are 1..=tables; level of table i is `level[i - 1]`.
    level: Vec<usize>,
    /// (output table, inputs) of each task; task ids are 1..=tasks.
    tasks: Vec<(i64, Vec<i64>)>,
}

fn generate(tables: usize, seed: u64) -> Warehouse {
    let mut rng = fastrand::Rng::with_seed(seed);
    let per_level = tables / LEVELS;
    let level: Vec<usize> = (0..tables).map(|i| (i / per_level).min(LEVELS - 1)).collect();
    let mut tasks = Vec::new();
    for (index, &lvl) in level.iter().enumerate() {
        if lvl == 0 {
            continue;
        }
        let fan_in = rng.usize(1..=5);
        let mut inputs: Vec<i64> = (0..fan_in)
            .map(|k| {
                // Mostly the level right below, so chains run deep; sometimes any lower level.
                let from = if k == 0 || rng.u8(0..4) > 0 { lvl - 1 } else { rng.usize(0..lvl) };
                (from * per_level + rng.usize(0..per_level)) as i64 + 1
            })
            .collect();
        inputs.sort_unstable();
        inputs.dedup();
        tasks.push((index as i64 + 1, inputs));
    }
    Warehouse { level, tasks }
}

async fn write(url: &str, warehouse: &Warehouse) {
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(
            url.parse::<sqlx::sqlite::SqliteConnectOptions>()
                .unwrap()
                .synchronous(sqlx::sqlite::SqliteSynchronous::Off),
        )
        .await
        .unwrap();
    let mut tx = pool.begin().await.unwrap();
    for chunk in (0..warehouse.level.len()).collect::<Vec<_>>().chunks(1000) {
        let mut insert = QueryBuilder::<Sqlite>::new(
            "INSERT INTO data_table (id, name, database_name, layer, owner, description, status, version, created_at, updated_at) ",
        );
        insert.push_values(chunk, |mut row, &i| {
            let level = warehouse.level[i];
            row.push_bind(i as i64 + 1)
                .push_bind(format!("{}_l{level}_t{i}", layer_of(level).to_lowercase()))
                .push_bind("dw")
                .push_bind(layer_of(level))
                .push_bind(format!("team_{}", i % 50))
                .push_bind("")
                .push_bind("ACTIVE")
                .push_bind(1)
                .push_bind(0)
                .push_bind(0);
        });
        insert.build().execute(&mut *tx).await.unwrap();
    }
    for (chunk_index, chunk) in warehouse.tasks.chunks(1000).enumerate() {
        let mut insert = QueryBuilder::<Sqlite>::new(
            "INSERT INTO data_task (id, name, description, owner, task_type, engine, body_kind, body, datasource, schedule, \
             retries, retry_interval_secs, timeout_secs, priority, version, created_at, updated_at) ",
        );
        insert.push_values(chunk.iter().enumerate(), |mut row, (k, (output, _))| {
            let id = (chunk_index * 1000 + k) as i64 + 1;
            row.push_bind(id)
                .push_bind(format!("load_t{output}"))
                .push_bind("")
                .push_bind(format!("team_{}", id % 50))
                .push_bind("BATCH")
                .push_bind("DOLPHIN")
                .push_bind("SHELL")
                .push_bind("true")
                .push_bind("")
                .push_bind("")
                .push_bind(0)
                .push_bind(0)
                .push_bind(0)
                .push_bind("MEDIUM")
                .push_bind(1)
                .push_bind(0)
                .push_bind(0);
        });
        insert.build().execute(&mut *tx).await.unwrap();
        let links: Vec<(i64, i64, &str)> = chunk
            .iter()
            .enumerate()
            .flat_map(|(k, (output, inputs))| {
                let id = (chunk_index * 1000 + k) as i64 + 1;
                inputs
                    .iter()
                    .map(move |input| (id, *input, "INPUT"))
                    .chain(std::iter::once((id, *output, "OUTPUT")))
            })
            .collect();
        let mut insert =
            QueryBuilder::<Sqlite>::new("INSERT INTO task_io (task_id, table_id, direction, source) ");
        insert.push_values(links, |mut row, (task, table, direction)| {
            row.push_bind(task).push_bind(table).push_bind(direction).push_bind("DECLARED");
        });
        insert.build().execute(&mut *tx).await.unwrap();
    }
    tx.commit().await.unwrap();
    pool.close().await;
}

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

fn percentiles(mut micros: Vec<u64>) -> (f64, f64) {
    micros.sort_unstable();
    let at = |p: f64| micros[((micros.len() as f64 - 1.0) * p).round() as usize] as f64 / 1000.0;
    (at(0.5), at(0.99))
}

async fn bench(size: usize, queries: usize) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("lineage.db").display());
    let store =
        Store::connect(&url, &PoolSettings { max_connections: 4, acquire_timeout: Duration::from_secs(30) })
            .unwrap();
    store.migrate().await.unwrap();
    let warehouse = generate(size, 42);
    let written = Instant::now();
    write(&url, &warehouse).await;
    let links: usize = warehouse.tasks.iter().map(|(_, inputs)| inputs.len() + 1).sum();
    println!(
        "\n{size} tables, {} tasks, {links} links (written to SQLite in {:.1} s)",
        warehouse.tasks.len(),
        written.elapsed().as_secs_f64()
    );

    let catalog = Catalog::new(store.clone(), LayerRules::Warn);
    let rss_before = rss_mib();
    let loading = Instant::now();
    catalog.refresh_lineage().await.unwrap();
    let load_time = loading.elapsed();
    let (tables, tasks, heap) = catalog.lineage_size().unwrap();
    println!("  index load at start          {:>9.2} s   (target <= 5 s at 1M)", load_time.as_secs_f64());
    println!(
        "  index memory                 {:>9.1} MB heap ({tables} tables, {tasks} tasks); RSS grew {:.1} MB   (target <= 150 MB at 1M)",
        heap as f64 / 1e6,
        rss_mib() - rss_before
    );

    // Serve the same catalog over gRPC on loopback.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (_reporter, health) = tonic_health::server::health_reporter();
    let shutdown = CancellationToken::new();
    let server = tokio::spawn({
        let workflows = dataportal::app::workflows::Workflows::new(store.clone(), catalog.clone(), None);
        let data_sources = dataportal::app::datasources::DataSources::new(
            store.clone(),
            catalog.clone(),
            dataportal::secret_box::SecretBox::from_key(&[0; 32]),
            "bench".into(),
        );
        let settings = dataportal::app::executions::ExecutionSettings {
            poll_interval: Duration::ZERO,
            max_poll_interval: Duration::ZERO,
            discover_interval: Duration::ZERO,
            poll_concurrency: 1,
            callback_secret: None,
            timezone: "UTC".into(),
        };
        let executions = dataportal::app::executions::Executions::new(
            store.clone(),
            workflows.clone(),
            settings,
            shutdown.clone(),
        )
        .unwrap();
        let routes = dataportal::grpc::routes(&catalog, &workflows, &data_sources, &executions, health);
        let shutdown = shutdown.clone();
        async move {
            tonic::transport::Server::builder()
                .add_routes(routes)
                .serve_with_incoming_shutdown(
                    tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true)),
                    shutdown.cancelled_owned(),
                )
                .await
                .unwrap()
        }
    });
    let mut client = LineageServiceClient::connect(format!("http://{addr}")).await.unwrap();

    let mut rng = fastrand::Rng::with_seed(7);
    let starts: Vec<i64> = (0..queries).map(|_| rng.i64(1..=size as i64)).collect();
    for direction in [Direction::Up, Direction::Down] {
        let label = if direction == Direction::Up { "GetUpstream  " } else { "GetDownstream" };
        let mut in_process = Vec::with_capacity(queries);
        let (mut reached, mut edges, mut largest) = (0usize, 0usize, 0usize);
        for id in &starts {
            let t = Instant::now();
            let answer = catalog
                .lineage_traverse(&Start::TableId(*id), direction, Some(DEPTH), NODE_LIMIT)
                .await
                .unwrap();
            in_process.push(t.elapsed().as_micros() as u64);
            reached += answer.nodes.len();
            edges += answer.edges.len();
            largest = largest.max(answer.nodes.len() + answer.tasks.len() + answer.edges.len());
        }
        let mut over_grpc = Vec::with_capacity(queries);
        for id in &starts {
            let node = Some(pb::LineageStart { node: Some(pb::lineage_start::Node::TableId(*id)) });
            let t = Instant::now();
            if direction == Direction::Up {
                client
                    .get_upstream(pb::GetUpstreamRequest {
                        start: node,
                        depth: DEPTH as i32,
                        all_depths: false,
                        node_limit: NODE_LIMIT as i32,
                    })
                    .await
                    .unwrap();
            } else {
                client
                    .get_downstream(pb::GetDownstreamRequest {
                        start: node,
                        depth: DEPTH as i32,
                        all_depths: false,
                        node_limit: NODE_LIMIT as i32,
                    })
                    .await
                    .unwrap();
            }
            over_grpc.push(t.elapsed().as_micros() as u64);
        }
        let (p50, p99) = percentiles(over_grpc);
        let (base50, base99) = percentiles(in_process);
        println!(
            "  {label} depth {DEPTH}: gRPC p50 {p50:.3} ms p99 {p99:.3} ms | in-process p50 {base50:.3} ms p99 {base99:.3} ms"
        );
        println!(
            "    answers: {:.0} tables and {:.0} edges on average; the largest {largest} tables + tasks + edges",
            reached as f64 / queries as f64,
            edges as f64 / queries as f64
        );
    }
    println!("  (targets: gRPC p99 <= 2 ms at 100k, <= 5 ms at 1M)");
    shutdown.cancel();
    server.await.unwrap();
    store.close().await;
}

#[tokio::main]
async fn main() {
    let mut sizes = vec![100_000, 1_000_000];
    let mut queries = 2000;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--sizes" => {
                sizes = args
                    .next()
                    .expect("--sizes a,b")
                    .split(',')
                    .map(|s| s.parse().expect("a number"))
                    .collect()
            }
            "--queries" => queries = args.next().and_then(|v| v.parse().ok()).expect("--queries N"),
            _ => {}
        }
    }
    println!("lineage benchmark: {} cores", std::thread::available_parallelism().map_or(1, |n| n.get()));
    for size in sizes {
        bench(size, queries).await;
    }
}

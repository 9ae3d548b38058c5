//! Publish benchmark: a workflow of N SQL tasks whose lineage makes about 2N dependencies
//! (each task reads the tables of the two tasks before it), published to the fake
//! DolphinScheduler. Reports the wall time and the number of DolphinScheduler HTTP calls of a
//! first publish, of a re-publish after one task changed, and of a re-publish with nothing
//! changed, for each version family.
//!
//!   cargo bench --bench publish [-- --tasks 500]
//!
//! With `DS_URL` set (and `PYDS_USER_NAME` / `PYDS_USER_PASSWORD`, `PYDS_USER_TENANT`; as
//! `scripts/dolphinscheduler.sh start` prints them), the same workflow of SHELL tasks is also
//! published to that real DolphinScheduler, beside the fake of its family, so that the two
//! figures compare like with like:
//!
//!   scripts/dolphinscheduler.sh start --dir /tmp/ds   # then, with its env file sourced:
//!   cargo bench --bench publish -- --tasks 500 --real
//!
//! The publishing replica is warm (it has found the project, the family and the datasource
//! once, as a running service has); the cold figures show what that first contact costs. HTTP
//! calls are counted by the service's client, the same way for the fake and the real server.

use std::time::{Duration, Instant};

use dataportal::app::workflows::{DolphinTarget, SyncRequest, Workflows};
use dataportal::app::{Catalog, LayerRules};
use dataportal::domain::Lookup;
use dataportal::domain::task::{TaskBody, TaskDraft};
use dataportal::domain::workflow::WorkflowDef;
use dataportal::scheduler::dolphin::{Credentials, DolphinClient, DolphinConfig, Secret};
use dataportal::storage::{PoolSettings, Store};
use fake_dolphinscheduler::{FakeDolphinScheduler, Family};

const DATASOURCE: &str = "warehouse";

/// `--tasks N` (default 500) and whether `--real` was given.
fn arguments() -> (usize, bool) {
    let mut args = std::env::args().skip(1);
    let (mut tasks, mut real) = (500, false);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--tasks" => tasks = args.next().and_then(|v| v.parse().ok()).expect("--tasks N"),
            "--real" => real = true,
            _ => {}
        }
    }
    (tasks, real)
}

/// Where the workflow is published, and what its tasks run.
enum Server {
    /// The fake, with SQL tasks (the service's usual workload).
    Fake(Family),
    /// The fake, with the SHELL tasks the real server gets: the baseline of [`Server::Real`].
    FakeShell(Family),
    /// The DolphinScheduler that `DS_URL` names, with SHELL tasks (no datasource is needed).
    Real { url: String, user: String, password: String, tenant: String },
}

impl Server {
    fn real_from_env() -> Server {
        let var = |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.to_owned());
        Server::Real {
            url: std::env::var("DS_URL").expect("--real needs DS_URL (see scripts/dolphinscheduler.sh)"),
            user: var("PYDS_USER_NAME", "admin"),
            password: var("PYDS_USER_PASSWORD", "dolphinscheduler123"),
            tenant: var("PYDS_USER_TENANT", "default"),
        }
    }

    fn label(&self) -> String {
        match self {
            Server::Fake(family) => format!("fake {}", family_name(*family)),
            Server::FakeShell(family) => format!("fake {} (SHELL tasks)", family_name(*family)),
            Server::Real { url, .. } => format!("real DolphinScheduler at {url} (SHELL tasks)"),
        }
    }

    fn shell(&self) -> bool {
        !matches!(self, Server::Fake(_))
    }
}

struct Figures {
    wall: Duration,
    calls: u64,
}

/// Publishes the pending request of `workflow` with `workflows`' own worker step.
async fn publish(workflows: &Workflows, client: &DolphinClient, workflow: i64) -> Figures {
    let before = client.calls();
    let started = Instant::now();
    assert!(workflows.publish_next("bench").await.expect("publish"), "a request was pending");
    let wall = started.elapsed();
    let published = workflows.get_workflow(&Lookup::Id(workflow)).await.unwrap();
    assert_eq!(published.publication.last_error, "", "the publish failed");
    Figures { wall, calls: client.calls() - before }
}

async fn run(server: Server, tasks: usize) {
    let label = server.label();
    let shell = server.shell();
    // The fake lives as long as the run; the real server's project is new for each run.
    let mut fake = None;
    let (config, project, tenant) = match server {
        Server::Fake(family) | Server::FakeShell(family) => {
            let started = FakeDolphinScheduler::start(family).await;
            started.add_datasource(DATASOURCE, "MYSQL");
            let config =
                DolphinConfig::new(started.base_url(), Credentials::Token(Secret::new(started.token())));
            fake = Some(started);
            (config, "data-portal".to_owned(), "default".to_owned())
        }
        Server::Real { url, user, password, tenant } => {
            let credentials = Credentials::Password { user, password: Secret::new(password) };
            let project = format!("bench-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
            (DolphinConfig::new(url, credentials), project, tenant)
        }
    };
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let store =
        Store::connect(&url, &PoolSettings { max_connections: 8, acquire_timeout: Duration::from_secs(5) })
            .unwrap();
    store.migrate().await.unwrap();
    let catalog = Catalog::new(store.clone(), LayerRules::Warn);
    let client = DolphinClient::new(config).unwrap();
    let target = DolphinTarget {
        client: client.clone(),
        project: project.clone(),
        tenant,
        worker_group: "default".into(),
        warning_group: 0,
        timezone: "Asia/Shanghai".into(),
        default_datasource: DATASOURCE.into(),
    };
    let workflows = Workflows::new(store.clone(), catalog.clone(), Some(target));

    let mut ids = Vec::with_capacity(tasks);
    for i in 0..tasks {
        let inputs: Vec<String> = (i.saturating_sub(2)..i).map(|j| format!("dwd_t{j}")).collect();
        let sql = if inputs.is_empty() {
            format!("insert into dwd_t{i} select * from ods_src")
        } else {
            format!("insert into dwd_t{i} select * from {}", inputs.join(" join "))
        };
        let body = if shell { TaskBody::Shell(format!("echo {i}")) } else { TaskBody::Sql(sql) };
        let draft = TaskDraft {
            name: format!("task_{i}"),
            body: Some(body),
            inputs,
            outputs: vec![format!("dwd_t{i}")],
            ..TaskDraft::default()
        };
        ids.push(catalog.create_task(draft, true).await.expect("create task").id);
    }
    let dependencies = tasks.saturating_sub(1) + tasks.saturating_sub(2);

    // Cold: the first contact finds the project, detects the family and looks up the datasource.
    let lone = TaskDraft {
        name: "warm_up".into(),
        body: Some(if shell {
            TaskBody::Shell("echo warm".into())
        } else {
            TaskBody::Sql("insert into dwd_warm select 1".into())
        }),
        outputs: vec!["dwd_warm".into()],
        ..TaskDraft::default()
    };
    let lone = catalog.create_task(lone, true).await.expect("create task").id;
    catalog.refresh_lineage().await.unwrap();
    let warm_up = workflows.ensure_workflow(def("warm_up")).await.unwrap().0;
    let sync = |ids: Vec<i64>| SyncRequest { task_ids: ids, ..SyncRequest::default() };
    workflows.sync_workflow(&Lookup::Id(warm_up.id), sync(vec![lone]), false).await.unwrap();
    let cold = publish(&workflows, &client, warm_up.id).await;

    let big = workflows.ensure_workflow(def("big")).await.unwrap().0;
    workflows.sync_workflow(&Lookup::Id(big.id), sync(ids.clone()), false).await.unwrap();
    let first = publish(&workflows, &client, big.id).await;
    let codes = workflows.task_codes(big.id).await.unwrap();

    let body = if shell {
        TaskBody::Shell("echo changed".into())
    } else {
        TaskBody::Sql("insert into dwd_t7 select 1".into())
    };
    let changed = TaskDraft { body: Some(body), ..TaskDraft::default() };
    catalog
        .update_task(
            &Lookup::Id(ids[7]),
            changed,
            &[dataportal::app::tasks::TaskAttribute::Body],
            None,
            false,
        )
        .await
        .unwrap();
    workflows.publish_workflow(&Lookup::Id(big.id), false, false).await.unwrap();
    let changed = publish(&workflows, &client, big.id).await;
    workflows.publish_workflow(&Lookup::Id(big.id), false, false).await.unwrap();
    let same = publish(&workflows, &client, big.id).await;
    assert_eq!(workflows.task_codes(big.id).await.unwrap(), codes, "task codes are stable");

    match fake.as_ref().and_then(|fake| fake.workflow(&project, "big")) {
        Some(definition) => println!(
            "{label}: {} tasks, {} relations in DolphinScheduler ({dependencies} lineage dependencies among {tasks} tasks)",
            definition.tasks.len(),
            definition.relations.len(),
        ),
        None => println!("{label}: {tasks} tasks, {dependencies} lineage dependencies (project {project})"),
    }
    for (label, f) in [
        ("cold first contact (1 task)", &cold),
        ("first publish", &first),
        ("re-publish, one task changed", &changed),
        ("re-publish, nothing changed", &same),
    ] {
        println!("      {label:<30} {:>8.1} ms  {:>3} HTTP calls", f.wall.as_secs_f64() * 1000.0, f.calls);
    }
}

fn def(name: &str) -> WorkflowDef {
    WorkflowDef { name: name.into(), description: String::new(), owner: String::new() }
}

fn family_name(family: Family) -> &'static str {
    match family {
        Family::V3_1 => "3.1",
        Family::V3_2 => "3.2",
        Family::V3_3 => "3.3+",
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let (tasks, real) = arguments();
    if real {
        println!(
            "Publishing a workflow of {tasks} SHELL tasks to the fake (3.1) and to a real DolphinScheduler"
        );
        run(Server::FakeShell(Family::V3_1), tasks).await;
        run(Server::real_from_env(), tasks).await;
        return;
    }
    println!(
        "Publishing a workflow of {tasks} tasks to the fake DolphinScheduler (targets: first publish <= 8 calls, re-publish <= 6, <= 500 ms)"
    );
    for family in [Family::V3_1, Family::V3_2, Family::V3_3] {
        run(Server::Fake(family), tasks).await;
    }
}

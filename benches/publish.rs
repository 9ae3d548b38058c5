//! Publish benchmark: a workflow of N SQL tasks whose lineage makes about 2N dependencies
//! (each task reads the tables of the two tasks before it), published to the fake
//! DolphinScheduler. Reports the wall time and the number of DolphinScheduler HTTP calls of a
//! first publish, of a re-publish after one task changed, and of a re-publish with nothing
//! changed, for each version family.
//!
//!   cargo bench --bench publish [-- --tasks 500]
//!
//! The publishing replica is warm (it has found the project, the family and the datasource
//! once, as a running service has); the cold figures show what that first contact costs.

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

fn task_count() -> usize {
    let mut args = std::env::args().skip(1);
    let mut tasks = 500;
    while let Some(arg) = args.next() {
        if arg == "--tasks" {
            tasks = args.next().and_then(|v| v.parse().ok()).expect("--tasks N");
        }
    }
    tasks
}

struct Figures {
    wall: Duration,
    calls: u64,
}

/// Publishes the pending request of `workflow` with `workflows`' own worker step.
async fn publish(workflows: &Workflows, fake: &FakeDolphinScheduler, workflow: i64) -> Figures {
    let before = fake.calls();
    let started = Instant::now();
    assert!(workflows.publish_next("bench").await.expect("publish"), "a request was pending");
    let wall = started.elapsed();
    let published = workflows.get_workflow(&Lookup::Id(workflow)).await.unwrap();
    assert_eq!(published.publication.last_error, "", "the publish failed");
    Figures { wall, calls: fake.calls() - before }
}

async fn run(family: Family, tasks: usize) {
    let fake = FakeDolphinScheduler::start(family).await;
    fake.add_datasource(DATASOURCE, "MYSQL");
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let store =
        Store::connect(&url, &PoolSettings { max_connections: 8, acquire_timeout: Duration::from_secs(5) })
            .unwrap();
    store.migrate().await.unwrap();
    let catalog = Catalog::new(store.clone(), LayerRules::Warn);
    let mut config = DolphinConfig::new(fake.base_url(), Credentials::Token(Secret::new(fake.token())));
    config.family = None;
    let target = DolphinTarget {
        client: DolphinClient::new(config).unwrap(),
        project: "data-portal".into(),
        tenant: "default".into(),
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
        let draft = TaskDraft {
            name: format!("task_{i}"),
            body: Some(TaskBody::Sql(sql)),
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
        body: Some(TaskBody::Sql("insert into dwd_warm select 1".into())),
        outputs: vec!["dwd_warm".into()],
        ..TaskDraft::default()
    };
    let lone = catalog.create_task(lone, true).await.expect("create task").id;
    catalog.refresh_lineage().await.unwrap();
    let warm_up = workflows.ensure_workflow(def("warm_up")).await.unwrap().0;
    let sync = |ids: Vec<i64>| SyncRequest { task_ids: ids, ..SyncRequest::default() };
    workflows.sync_workflow(&Lookup::Id(warm_up.id), sync(vec![lone]), false).await.unwrap();
    let cold = publish(&workflows, &fake, warm_up.id).await;

    let big = workflows.ensure_workflow(def("big")).await.unwrap().0;
    workflows.sync_workflow(&Lookup::Id(big.id), sync(ids.clone()), false).await.unwrap();
    let first = publish(&workflows, &fake, big.id).await;
    let codes = workflows.task_codes(big.id).await.unwrap();

    let changed =
        TaskDraft { body: Some(TaskBody::Sql("insert into dwd_t7 select 1".into())), ..TaskDraft::default() };
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
    let changed = publish(&workflows, &fake, big.id).await;
    workflows.publish_workflow(&Lookup::Id(big.id), false, false).await.unwrap();
    let same = publish(&workflows, &fake, big.id).await;
    assert_eq!(workflows.task_codes(big.id).await.unwrap(), codes, "task codes are stable");

    let definition = fake.workflow("data-portal", "big").expect("published");
    println!(
        "{:<5} {} tasks, {} relations in DolphinScheduler ({} lineage dependencies among {} tasks)",
        family_name(family),
        definition.tasks.len(),
        definition.relations.len(),
        dependencies,
        tasks,
    );
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
    let tasks = task_count();
    println!(
        "Publishing a workflow of {tasks} tasks to the fake DolphinScheduler (targets: first publish <= 8 calls, re-publish <= 6, <= 500 ms)"
    );
    for family in [Family::V3_1, Family::V3_2, Family::V3_3] {
        run(family, tasks).await;
    }
}

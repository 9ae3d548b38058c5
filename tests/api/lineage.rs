//! Lineage as a client sees it: the graph, traversals, impact, SQL inference and the rules.

use std::time::{Duration, Instant};

use dataportal::app::LayerRules;
use dataportal::proto::v1 as pb;
use dataportal::proto::v1::lineage_start::Node;
use tonic::Code;

use crate::helpers::{Backend, TestApp, TestDatabase, failure, test_settings};
use crate::tables::create_table;
use crate::tasks::{create_example_task, example_task};

crate::on_both_backends!(
    the_portal_design_lineage_example_comes_back,
    a_task_with_only_sql_gets_the_right_edges,
    declared_links_win_and_disagreements_are_reported,
    a_cycle_is_refused_with_its_path,
    traversals_report_distances_limits_and_impact,
    bad_lineage_questions_get_clear_errors,
    layer_order_is_a_warning_by_default,
    deletes_and_renames_reach_the_graph,
    a_server_started_later_loads_the_same_graph,
    concurrent_task_writes_do_not_starve_a_small_pool,
);

fn start(node: Node) -> Option<pb::LineageStart> {
    Some(pb::LineageStart { node: Some(node) })
}

/// Creates a task reading `inputs` and writing `outputs`, registering missing tables.
async fn link(
    app: &mut TestApp,
    name: &str,
    inputs: &[&str],
    outputs: &[&str],
) -> Result<pb::Task, tonic::Status> {
    app.tasks
        .create_task(pb::CreateTaskRequest {
            task: Some(pb::Task {
                name: name.into(),
                owner: format!("owner_of_{name}"),
                body: Some(pb::task::Body::Shell("true".into())),
                schedule: String::new(),
                inputs: inputs.iter().map(|s| s.to_string()).collect(),
                outputs: outputs.iter().map(|s| s.to_string()).collect(),
                ..example_task()
            }),
            register_missing_tables: true,
        })
        .await
        .map(|r| r.into_inner().task.unwrap())
}

async fn downstream(app: &mut TestApp, table: &str, depth: i32, limit: i32) -> pb::GetDownstreamResponse {
    app.lineage
        .get_downstream(pb::GetDownstreamRequest {
            start: start(Node::Table(table.into())),
            depth,
            all_depths: depth == 0,
            node_limit: limit,
        })
        .await
        .unwrap()
        .into_inner()
}

fn names(nodes: &[pb::LineageNode]) -> Vec<(String, i32)> {
    nodes.iter().map(|n| (n.name.clone(), n.distance)).collect()
}

async fn the_portal_design_lineage_example_comes_back(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    create_table(&mut app, "ods_user").await;
    create_table(&mut app, "dwd_user").await;
    let task = create_example_task(&mut app).await;
    let graph =
        app.lineage.get_lineage_graph(pb::GetLineageGraphRequest::default()).await.unwrap().into_inner();
    let nodes: Vec<(String, i32)> = graph.nodes.iter().map(|n| (n.name.clone(), n.layer)).collect();
    assert_eq!(
        nodes,
        [("ods_user".into(), pb::Layer::Ods as i32), ("dwd_user".into(), pb::Layer::Dwd as i32)]
    );
    assert_eq!(graph.edges.len(), 1);
    let edge = &graph.edges[0];
    assert_eq!((edge.source.as_str(), edge.target.as_str(), edge.task_id), ("ods_user", "dwd_user", task.id));
    assert_eq!(edge.edge_source, pb::EdgeSource::Both as i32, "declared, and the SQL agrees");
    assert!(!graph.truncated);

    let dwd = app
        .lineage
        .get_lineage_graph(pb::GetLineageGraphRequest { layer: pb::Layer::Dwd as i32, ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((dwd.nodes.len(), dwd.edges.len()), (1, 0), "a slice keeps edges between its own tables");
    app.stop().await;
}

async fn a_task_with_only_sql_gets_the_right_edges(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    for name in ["dwd_order", "dim_user", "dws_user_orders"] {
        create_table(&mut app, name).await;
    }
    let sql = "-- daily orders per user\n\
        WITH recent AS (SELECT * FROM dwd_order WHERE dt = '${bizdate}')\n\
        INSERT OVERWRITE TABLE dws_user_orders\n\
        SELECT u.id, count(*) FROM recent r JOIN dim_user u ON u.id = r.user_id GROUP BY u.id";
    let task = app
        .tasks
        .create_task(pb::CreateTaskRequest {
            task: Some(pb::Task {
                name: "build_dws_user_orders".into(),
                body: Some(pb::task::Body::Sql(sql.into())),
                ..Default::default()
            }),
            register_missing_tables: false,
        })
        .await
        .unwrap()
        .into_inner()
        .task
        .unwrap();
    assert!(task.inputs.is_empty() && task.outputs.is_empty(), "nothing was declared");
    let linked = |links: &[pb::TaskLink]| -> Vec<(String, i32)> {
        links.iter().map(|l| (l.table.clone(), l.source)).collect()
    };
    let sql_source = pb::EdgeSource::Sql as i32;
    assert_eq!(
        linked(&task.linked_inputs),
        [("dim_user".into(), sql_source), ("dwd_order".into(), sql_source)]
    );
    assert_eq!(linked(&task.linked_outputs), [("dws_user_orders".into(), sql_source)]);
    let read = app
        .tasks
        .get_task(pb::GetTaskRequest { id: task.id, name: String::new() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(read.task.unwrap().linked_inputs, task.linked_inputs);

    let up = app
        .lineage
        .get_upstream(pb::GetUpstreamRequest {
            start: start(Node::Table("dws_user_orders".into())),
            depth: 1,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    // Nearest first; within a distance, in the order the tables were registered.
    assert_eq!(
        names(&up.nodes),
        [("dws_user_orders".into(), 0), ("dwd_order".into(), 1), ("dim_user".into(), 1)]
    );
    assert!(up.edges.iter().all(|e| e.edge_source == sql_source && e.task == "build_dws_user_orders"));

    // Inferred tables must be registered, like declared ones, unless the request says otherwise.
    let unknown = failure(
        app.tasks
            .create_task(pb::CreateTaskRequest {
                task: Some(pb::Task {
                    name: "build_ads".into(),
                    body: Some(pb::task::Body::Sql(
                        "insert into ads_report select * from dws_user_orders".into(),
                    )),
                    ..Default::default()
                }),
                register_missing_tables: false,
            })
            .await,
    );
    assert_eq!(unknown.metadata.get("missing_tables").map(String::as_str), Some("ads_report"));
    app.stop().await;
}

async fn declared_links_win_and_disagreements_are_reported(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    for name in ["ods_a", "ods_b", "ods_unused", "dwd_c"] {
        create_table(&mut app, name).await;
    }
    let task = app
        .tasks
        .create_task(pb::CreateTaskRequest {
            task: Some(pb::Task {
                name: "declared".into(),
                body: Some(pb::task::Body::Sql("insert into dwd_c select * from ods_a join ods_b".into())),
                inputs: vec!["ods_a".into(), "ods_unused".into()],
                outputs: vec!["dwd_c".into()],
                ..Default::default()
            }),
            register_missing_tables: false,
        })
        .await
        .unwrap()
        .into_inner()
        .task
        .unwrap();
    let linked: Vec<(String, i32)> = task.linked_inputs.iter().map(|l| (l.table.clone(), l.source)).collect();
    assert_eq!(
        linked,
        [
            ("ods_a".into(), pb::EdgeSource::Both as i32),
            ("ods_unused".into(), pb::EdgeSource::Declared as i32)
        ]
    );
    let warnings: Vec<(i32, String)> =
        task.lineage_warnings.iter().map(|w| (w.kind, w.table.clone())).collect();
    assert_eq!(
        warnings,
        [
            (pb::LineageWarningKind::UndeclaredInput as i32, "ods_b".into()),
            (pb::LineageWarningKind::InputNotInSql as i32, "ods_unused".into()),
        ]
    );
    let read = app.tasks.get_task(pb::GetTaskRequest { id: task.id, name: String::new() }).await.unwrap();
    assert_eq!(
        read.into_inner().task.unwrap().lineage_warnings,
        task.lineage_warnings,
        "warnings are stored"
    );

    // Unparsable SQL keeps the declared links and says why.
    let garbled = app
        .tasks
        .create_task(pb::CreateTaskRequest {
            task: Some(pb::Task {
                name: "garbled".into(),
                body: Some(pb::task::Body::Sql("insert into dwd_c selec * form".into())),
                inputs: vec!["ods_b".into()],
                outputs: vec!["dwd_c".into()],
                ..Default::default()
            }),
            register_missing_tables: false,
        })
        .await
        .unwrap()
        .into_inner()
        .task
        .unwrap();
    assert_eq!(garbled.lineage_warnings.len(), 1);
    assert_eq!(garbled.lineage_warnings[0].kind, pb::LineageWarningKind::SqlNotParsed as i32);
    assert!(
        garbled.lineage_warnings[0].message.contains("line 1"),
        "{}",
        garbled.lineage_warnings[0].message
    );
    assert_eq!(garbled.linked_inputs[0].source, pb::EdgeSource::Declared as i32);
    app.stop().await;
}

async fn a_cycle_is_refused_with_its_path(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    link(&mut app, "a_to_b", &["ods_a"], &["dwd_b"]).await.unwrap();
    link(&mut app, "b_to_c", &["dwd_b"], &["dws_c"]).await.unwrap();
    let refused = failure(link(&mut app, "c_to_a", &["dws_c"], &["ods_a"]).await);
    assert_eq!((refused.code, refused.reason.as_str()), (Code::FailedPrecondition, "LINEAGE_CYCLE"));
    assert_eq!(refused.metadata.get("cycle").map(String::as_str), Some("dws_c,ods_a,dwd_b,dws_c"));
    assert!(refused.message.contains("dws_c -> ods_a -> dwd_b -> dws_c"), "{}", refused.message);
    let gone = failure(app.tasks.get_task(pb::GetTaskRequest { id: 0, name: "c_to_a".into() }).await);
    assert_eq!(gone.reason, "TASK_NOT_FOUND", "a refused task is not written");

    // An update that would close the cycle is refused too, and changes nothing.
    let task = link(&mut app, "c_to_d", &["dws_c"], &["ads_d"]).await.unwrap();
    let update = failure(
        app.tasks
            .update_task(pb::UpdateTaskRequest {
                task: Some(pb::Task { id: task.id, outputs: vec!["dwd_b".into()], ..Default::default() }),
                update_mask: Some(prost_types::FieldMask { paths: vec!["outputs".into()] }),
                register_missing_tables: false,
            })
            .await,
    );
    assert_eq!(update.reason, "LINEAGE_CYCLE");
    let down = downstream(&mut app, "dws_c", 0, 0).await;
    assert_eq!(names(&down.nodes), [("dws_c".into(), 0), ("ads_d".into(), 1)]);
    app.stop().await;
}

async fn traversals_report_distances_limits_and_impact(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    // ods_a -> dwd_b -> dws_c -> ads_d, and ods_a -> dwd_e (fan-out), ods_x -> dwd_b (fan-in).
    // ads_d has no owner.
    app.tables
        .create_table(pb::CreateTableRequest {
            table: Some(pb::Table { name: "ads_d".into(), ..Default::default() }),
        })
        .await
        .unwrap();
    link(&mut app, "t1", &["ods_a", "ods_x"], &["dwd_b"]).await.unwrap();
    link(&mut app, "t2", &["dwd_b"], &["dws_c"]).await.unwrap();
    link(&mut app, "t3", &["dws_c"], &["ads_d"]).await.unwrap();
    link(&mut app, "t4", &["ods_a"], &["dwd_e"]).await.unwrap();

    let all = downstream(&mut app, "ods_a", 0, 0).await;
    assert_eq!(
        names(&all.nodes),
        [
            ("ods_a".into(), 0),
            ("dwd_b".into(), 1),
            ("dwd_e".into(), 1),
            ("dws_c".into(), 2),
            ("ads_d".into(), 3)
        ]
    );
    assert!(!all.truncated);
    let two = downstream(&mut app, "ods_a", 2, 0).await;
    assert_eq!(two.nodes.len(), 4, "depth 2 stops before ads_d");
    let limited = downstream(&mut app, "ods_a", 0, 2).await;
    assert!(limited.truncated);
    assert_eq!(names(&limited.nodes), [("ods_a".into(), 0), ("dwd_b".into(), 1), ("dwd_e".into(), 1)]);

    let up = app
        .lineage
        .get_upstream(pb::GetUpstreamRequest {
            start: start(Node::Task("t2".into())),
            all_depths: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let mut upstream: Vec<String> = up.nodes.iter().map(|n| n.name.clone()).collect();
    upstream.sort();
    assert_eq!(upstream, ["dwd_b", "ods_a", "ods_x"], "a task's upstream starts at its inputs");

    let impact = app
        .lineage
        .get_impact(pb::GetImpactRequest { start: start(Node::Table("dwd_b".into())), node_limit: 0 })
        .await
        .unwrap()
        .into_inner();
    let levels: Vec<(i32, Vec<String>)> = impact
        .levels
        .iter()
        .map(|l| (l.distance, l.tables.iter().map(|t| t.name.clone()).collect()))
        .collect();
    assert!(
        levels.contains(&(1, vec!["dws_c".to_owned()])) && levels.contains(&(2, vec!["ads_d".to_owned()])),
        "{levels:?}"
    );
    assert!(
        impact.levels.iter().all(|l| l.distance >= 1),
        "tasks sit with the tables they reach: {levels:?}"
    );
    let t2 = impact.affected_tasks.iter().find(|t| t.name == "t2").unwrap();
    assert_eq!(t2.distance, 1, "t2 reads the start table and writes at distance 1");
    let mut affected: Vec<String> = impact.affected_tasks.iter().map(|t| t.name.clone()).collect();
    affected.sort();
    assert_eq!(affected, ["t2", "t3"]);
    assert!(impact.affected_owners.contains(&"owner_of_t3".to_owned()), "{:?}", impact.affected_owners);
    assert!(!impact.affected_owners.contains(&String::new()), "tables without an owner add none");

    let deps = app
        .lineage
        .get_task_dependencies(pb::GetTaskDependenciesRequest { task_id: 0, task_name: "t2".into() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        deps.upstream.iter().map(|d| (d.task_name.as_str(), d.via_tables.clone())).collect::<Vec<_>>(),
        [("t1", vec!["dwd_b".to_owned()])]
    );
    assert_eq!(deps.downstream.iter().map(|d| d.task_name.as_str()).collect::<Vec<_>>(), ["t3"]);
    app.stop().await;
}

async fn bad_lineage_questions_get_clear_errors(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    link(&mut app, "t1", &["ods_a"], &["dwd_b"]).await.unwrap();
    let ask = |request: pb::GetDownstreamRequest| {
        let mut client = app.lineage.clone();
        async move { client.get_downstream(request).await }
    };
    let unknown = failure(
        ask(pb::GetDownstreamRequest {
            start: start(Node::Table("nope".into())),
            depth: 1,
            ..Default::default()
        })
        .await,
    );
    assert_eq!((unknown.code, unknown.reason.as_str()), (Code::NotFound, "TABLE_NOT_FOUND"));
    let unknown_task = failure(
        ask(pb::GetDownstreamRequest { start: start(Node::TaskId(999)), depth: 1, ..Default::default() })
            .await,
    );
    assert_eq!(unknown_task.reason, "TASK_NOT_FOUND");
    let depth_zero = failure(
        ask(pb::GetDownstreamRequest { start: start(Node::Table("ods_a".into())), ..Default::default() })
            .await,
    );
    assert_eq!(
        (depth_zero.code, depth_zero.fields.clone()),
        (Code::InvalidArgument, vec!["depth".to_owned()])
    );
    let huge = failure(
        ask(pb::GetDownstreamRequest { start: None, depth: 1_000_000, node_limit: -1, ..Default::default() })
            .await,
    );
    assert_eq!(huge.fields, ["start", "depth", "node_limit"], "every problem at once");
    let both = failure(
        ask(pb::GetDownstreamRequest {
            start: start(Node::TableId(1)),
            depth: 3,
            all_depths: true,
            ..Default::default()
        })
        .await,
    );
    assert_eq!(both.fields, ["depth"]);

    let sql_error = failure(
        app.lineage
            .analyze_sql(pb::AnalyzeSqlRequest {
                sql: "insert into t\nselect * frm s where".into(),
                ..Default::default()
            })
            .await,
    );
    assert_eq!((sql_error.code, sql_error.reason.as_str()), (Code::InvalidArgument, "SQL_PARSE_ERROR"));
    assert_eq!(sql_error.metadata.get("line").map(String::as_str), Some("2"));
    assert!(sql_error.metadata.contains_key("column"));
    let analyzed = app
        .lineage
        .analyze_sql(pb::AnalyzeSqlRequest {
            sql: "create temporary table tmp as select * from ods_a; insert into dwd_b select * from tmp join dim_c".into(),
            dialect: pb::SqlDialect::Mysql as i32,
            params: Default::default(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (analyzed.inputs, analyzed.outputs),
        (vec!["dim_c".to_owned(), "ods_a".to_owned()], vec!["dwd_b".to_owned()])
    );
    let no_task = failure(app.lineage.get_task_dependencies(pb::GetTaskDependenciesRequest::default()).await);
    assert_eq!(no_task.code, Code::InvalidArgument);
    app.stop().await;
}

async fn layer_order_is_a_warning_by_default(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    let task = link(&mut app, "backwards", &["dws_a"], &["ods_b"]).await.unwrap();
    assert_eq!(task.lineage_warnings.len(), 1);
    assert_eq!(task.lineage_warnings[0].kind, pb::LineageWarningKind::LayerOrder as i32);
    assert_eq!(task.lineage_warnings[0].table, "ods_b");
    app.stop().await;

    let database = TestDatabase::new(backend).await;
    let mut settings = test_settings(&database.url);
    settings.serve.lineage_layer_rules = LayerRules::Enforce;
    let mut strict = TestApp::spawn_with(database, settings).await;
    let refused = failure(link(&mut strict, "backwards", &["dws_a"], &["ods_b"]).await);
    assert_eq!((refused.code, refused.reason.as_str()), (Code::FailedPrecondition, "LAYER_ORDER"));
    link(&mut strict, "forwards", &["ods_b"], &["dws_a"]).await.unwrap();
    strict.stop().await;
}

async fn deletes_and_renames_reach_the_graph(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    let task = link(&mut app, "t1", &["ods_a"], &["dwd_b"]).await.unwrap();
    let table =
        app.tables.get_table(pb::GetTableRequest { id: 0, name: "dwd_b".into() }).await.unwrap().into_inner();
    let table = table.table.unwrap();
    app.tables
        .update_table(pb::UpdateTableRequest {
            table: Some(pb::Table {
                id: table.id,
                name: "dwd_renamed".into(),
                owner: "new_owner".into(),
                ..Default::default()
            }),
            update_mask: None,
        })
        .await
        .unwrap();
    let down = downstream(&mut app, "ods_a", 1, 0).await;
    assert_eq!(down.nodes[1].name, "dwd_renamed");
    assert_eq!(down.nodes[1].owner, "new_owner");
    app.tasks.delete_task(pb::DeleteTaskRequest { id: task.id, etag: String::new() }).await.unwrap();
    let down = downstream(&mut app, "ods_a", 1, 0).await;
    assert_eq!(names(&down.nodes), [("ods_a".into(), 0)]);
    app.tables.delete_table(pb::DeleteTableRequest { id: table.id, etag: String::new() }).await.unwrap();
    let graph =
        app.lineage.get_lineage_graph(pb::GetLineageGraphRequest::default()).await.unwrap().into_inner();
    assert_eq!(graph.nodes.iter().map(|n| n.name.as_str()).collect::<Vec<_>>(), ["ods_a"]);
    app.stop().await;
}

async fn a_server_started_later_loads_the_same_graph(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    create_table(&mut app, "ods_user").await;
    create_table(&mut app, "dwd_user").await;
    create_example_task(&mut app).await; // declared and confirmed by SQL: BOTH
    link(&mut app, "declared_only", &["dwd_user"], &["dws_x"]).await.unwrap(); // DECLARED
    app.tasks
        .create_task(pb::CreateTaskRequest {
            task: Some(pb::Task {
                name: "from_sql".into(),
                body: Some(pb::task::Body::Sql("insert into ads_y select * from dws_x join dim_z".into())),
                ..Default::default()
            }),
            register_missing_tables: true,
        })
        .await
        .unwrap();
    let graph = |mut app_lineage: dataportal::proto::v1::lineage_service_client::LineageServiceClient<_>| async move {
        app_lineage.get_lineage_graph(pb::GetLineageGraphRequest::default()).await.unwrap().into_inner()
    };
    let written = graph(app.lineage.clone()).await;
    assert_eq!(written.edges.len(), 4);
    let sources: std::collections::BTreeSet<i32> = written.edges.iter().map(|e| e.edge_source).collect();
    assert_eq!(sources.len(), 3, "all three sources appear: {sources:?}");

    let later = TestApp::spawn_with(app.database.shared(), test_settings(&app.database.url)).await;
    assert_eq!(graph(later.lineage.clone()).await, written, "loading at start gives what the writes built");
    later.stop().await;
    app.stop().await;
}

/// Every task write waits for the lineage lock while holding a connection; the one holding the
/// lock must still be able to bring the index up to date.
async fn concurrent_task_writes_do_not_starve_a_small_pool(backend: Backend) {
    let database = TestDatabase::new(backend).await;
    let mut settings = test_settings(&database.url);
    settings.pool.max_connections = 2;
    let app = TestApp::spawn_with(database, settings).await;
    let writes = (0..12).map(|i| {
        let mut tasks = app.tasks.clone();
        async move {
            tasks
                .create_task(pb::CreateTaskRequest {
                    task: Some(pb::Task {
                        name: format!("w{i}"),
                        body: Some(pb::task::Body::Shell("true".into())),
                        inputs: vec![format!("ods_w{i}")],
                        outputs: vec![format!("dwd_w{i}")],
                        ..Default::default()
                    }),
                    register_missing_tables: true,
                })
                .await
        }
    });
    for result in crate::tables::futures_join_all(writes).await {
        result.expect("every concurrent write completes");
    }
    app.stop().await;
}

/// Two servers on one MariaDB database: what is written through one is visible through the
/// other within a second, and the two cannot close a cycle together.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_stay_consistent_on_mariadb() {
    let database = TestDatabase::new(Backend::MariaDb).await;
    let url = database.url.clone();
    let mut first = TestApp::spawn_with(database, test_settings(&url)).await;
    let shared = first.database.shared();
    let mut second = TestApp::spawn_with(shared, test_settings(&url)).await;

    for round in 0..5 {
        let (source, target) = (format!("ods_r{round}"), format!("dwd_r{round}"));
        let written = Instant::now();
        link(&mut first, &format!("task_r{round}"), &[&source], &[&target]).await.unwrap();
        loop {
            let answer = second
                .lineage
                .get_downstream(pb::GetDownstreamRequest {
                    start: start(Node::Table(source.clone())),
                    depth: 1,
                    ..Default::default()
                })
                .await;
            if let Ok(answer) = answer
                && answer.get_ref().nodes.len() == 2
            {
                break;
            }
            assert!(
                written.elapsed() < Duration::from_secs(1),
                "round {round}: not visible through the other replica within 1 s"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    // One replica writes a -> b while the other writes b -> a: exactly one may win.
    let mut a_client = first.tasks.clone();
    let mut b_client = second.tasks.clone();
    let task = |name: &str, input: &str, output: &str| pb::CreateTaskRequest {
        task: Some(pb::Task {
            name: name.into(),
            body: Some(pb::task::Body::Shell("true".into())),
            inputs: vec![input.into()],
            outputs: vec![output.into()],
            ..Default::default()
        }),
        register_missing_tables: true,
    };
    let (one, two) = tokio::join!(
        a_client.create_task(task("forward", "dwd_p", "dws_q")),
        b_client.create_task(task("backward", "dws_q", "dwd_p")),
    );
    let outcomes = [one.is_ok(), two.is_ok()];
    assert_eq!(
        outcomes.iter().filter(|ok| **ok).count(),
        1,
        "one wins, the other closes a cycle: {outcomes:?}"
    );
    let loser = if one.is_err() { one } else { two };
    assert_eq!(failure(loser).reason, "LINEAGE_CYCLE");
    second.stop().await;
    first.stop().await;
}

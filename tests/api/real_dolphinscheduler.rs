//! End-to-end tests against a real DolphinScheduler: the service publishes, runs, stops and
//! reruns workflows on it, records runs from its real answers and real alerts, and recovers from
//! its outage. They are ignored in the ordinary run (a DolphinScheduler is needed);
//! `scripts/real-dolphinscheduler-test.sh` starts one from Maven Central and runs them, and an
//! operator runs them against their own with the same environment the service takes:
//!
//! - `DS_URL`, and `DS_TOKEN` or `PYDS_USER_NAME` / `PYDS_USER_PASSWORD` (admin /
//!   dolphinscheduler123 when neither is given);
//! - `PYDS_USER_TENANT`: the tenant tasks run as (on 3.1 it is created when missing; the worker
//!   runs tasks as the OS user of that name);
//! - `DS_SERVER_TIMEZONE`: the zone DolphinScheduler's servers run in (UTC by default);
//! - `TEST_MYSQL_URL`: the MySQL server whose rows a SQL task moves (DolphinScheduler's workers
//!   must reach it; root on 127.0.0.1:3306 by default), and that holds the service's database;
//! - `DS_E2E_CALLBACK_HOST`: the address DolphinScheduler's alert server reaches this machine at
//!   (127.0.0.1 by default);
//! - `DS_E2E_HARNESS_DIR`: the state directory of `scripts/dolphinscheduler.sh`, for the test that
//!   stops and starts DolphinScheduler (it fails without one, rather than pass unchecked).
//!
//! Each test works in a project of its own, so that they can share one DolphinScheduler.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use dataportal::config::{DolphinArgs, ExecutionArgs};
use dataportal::proto::v1 as pb;
use dataportal::scheduler::dolphin::Secret;
use serde_json::{Value, json};
use sqlx::Connection;

use crate::helpers::{Backend, TestApp, TestDatabase, mysql_server_url, test_settings};
use crate::tables::create_table;

/// Runs each test on both backends of the service, ignored unless asked for.
macro_rules! against_real_dolphinscheduler {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[ignore = "needs a real DolphinScheduler: scripts/real-dolphinscheduler-test.sh"]
            async fn $name() {
                super::$name($crate::helpers::Backend::Sqlite).await
            })*
        }
        mod mariadb {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[ignore = "needs a real DolphinScheduler: scripts/real-dolphinscheduler-test.sh"]
            async fn $name() {
                super::$name($crate::helpers::Backend::MariaDb).await
            })*
        }
    };
}

against_real_dolphinscheduler!(
    the_example_sql_task_moves_rows_on_dolphinschedulers_worker,
    shell_runs_end_succeeded_and_failed_with_real_logs,
    schedules_are_online_and_republishing_keeps_task_codes,
    a_dependent_task_waits_for_the_other_workflow,
    real_alerts_record_runs_without_polling,
    a_running_instance_is_stopped_and_rerun,
    an_outage_during_a_publish_is_recovered_with_one_definition,
);

/// How long a run on the real server may take to get where a test waits for it.
const RUN_DEADLINE: Duration = Duration::from_secs(180);

/// The DolphinScheduler under test, as the environment describes it.
struct RealDs {
    url: String,
    token: Option<String>,
    user: String,
    password: String,
    tenant: String,
    server_timezone: String,
    callback_host: String,
    harness_dir: Option<PathBuf>,
}

impl RealDs {
    fn from_env() -> RealDs {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let url = var("DS_URL").expect(
            "DS_URL must name the DolphinScheduler under test (scripts/real-dolphinscheduler-test.sh sets it)",
        );
        RealDs {
            url: url.trim_end_matches('/').to_owned(),
            token: var("DS_TOKEN"),
            user: var("PYDS_USER_NAME").unwrap_or_else(|| "admin".into()),
            password: var("PYDS_USER_PASSWORD").unwrap_or_else(|| "dolphinscheduler123".into()),
            tenant: var("PYDS_USER_TENANT").unwrap_or_else(|| "default".into()),
            server_timezone: var("DS_SERVER_TIMEZONE").unwrap_or_else(|| "UTC".into()),
            callback_host: var("DS_E2E_CALLBACK_HOST").unwrap_or_else(|| "127.0.0.1".into()),
            harness_dir: var("DS_E2E_HARNESS_DIR").map(PathBuf::from),
        }
    }
}

/// A unique suffix for the names one test creates in DolphinScheduler and MariaDB.
fn unique() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..10].to_owned()
}

/// DolphinScheduler's API as an administrator sets it up for a test: its own calls, not the
/// service's client, so that what the service does is checked against an independent reading.
struct DsAdmin {
    http: reqwest::Client,
    base: String,
    /// (header, value) that authenticates: `token` or `sessionId`.
    auth: (&'static str, String),
}

impl DsAdmin {
    async fn connect(ds: &RealDs) -> DsAdmin {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("http client");
        let auth = match &ds.token {
            Some(token) => ("token", token.clone()),
            None => {
                let body = form(&[("userName", ds.user.as_str()), ("userPassword", ds.password.as_str())]);
                let answer =
                    send(http.post(format!("{}/login", ds.url)).body(body).header(FORM.0, FORM.1)).await;
                let session = answer["data"]["sessionId"].as_str().expect("a session id").to_owned();
                ("sessionId", session)
            }
        };
        DsAdmin { http, base: ds.url.clone(), auth }
    }

    async fn get(&self, path: &str, query: &[(&str, &str)]) -> Value {
        let url = format!("{}/{path}?{}", self.base, form(query));
        data(send(self.http.get(url).header(self.auth.0, &self.auth.1)).await, path)
    }

    async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Value {
        let request = self.http.post(format!("{}/{path}", self.base)).header(self.auth.0, &self.auth.1);
        data(send(request.header(FORM.0, FORM.1).body(form(fields))).await, path)
    }

    async fn post_json(&self, path: &str, body: &Value) -> Value {
        let request = self.http.post(format!("{}/{path}", self.base)).header(self.auth.0, &self.auth.1);
        let request = request.header("content-type", "application/json").body(body.to_string());
        data(send(request).await, path)
    }

    /// The code of project `name` (created by the service).
    async fn project_code(&self, name: &str) -> Option<i64> {
        let projects = self.get("projects/list", &[]).await;
        rows(&projects).iter().find(|p| p["name"] == name).and_then(|p| p["code"].as_i64())
    }

    /// The definitions of a project, as (name, code).
    async fn definitions(&self, project: i64) -> Vec<(String, i64)> {
        let page = self
            .get(&format!("projects/{project}/process-definition"), &[("pageNo", "1"), ("pageSize", "100")])
            .await;
        rows(&page)
            .iter()
            .map(|d| {
                (d["name"].as_str().unwrap_or_default().to_owned(), d["code"].as_i64().unwrap_or_default())
            })
            .collect()
    }

    /// A definition with its tasks: (task name → code), and its schedule rows.
    async fn tasks_of(&self, project: i64, code: i64) -> HashMap<String, i64> {
        let dag = self.get(&format!("projects/{project}/process-definition/{code}"), &[]).await;
        dag["taskDefinitionList"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|t| {
                (t["name"].as_str().unwrap_or_default().to_owned(), t["code"].as_i64().unwrap_or_default())
            })
            .collect()
    }

    /// On 3.1 a tenant must exist in DolphinScheduler (and name an OS user of the worker); 3.2
    /// and later have the built-in `default`.
    async fn ensure_tenant(&self, code: &str) {
        if code == "default" {
            return;
        }
        let tenants = self.get("tenants/list", &[]).await;
        if rows(&tenants).iter().any(|t| t["tenantCode"] == code) {
            return;
        }
        let queues = self.get("queues/list", &[]).await;
        let queue = rows(&queues).first().and_then(|q| q["id"].as_i64()).expect("a queue").to_string();
        let request = self.http.post(format!("{}/tenants", self.base)).header(self.auth.0, &self.auth.1);
        let fields = [("tenantCode", code), ("queueId", queue.as_str()), ("description", "")];
        let answer = send(request.header(FORM.0, FORM.1).body(form(&fields))).await;
        // Another test may have made it meanwhile (10009, or 10084 when both inserts raced).
        if answer["code"] != 0 {
            let tenants = self.get("tenants/list", &[]).await;
            assert!(rows(&tenants).iter().any(|t| t["tenantCode"] == code), "tenants: {answer}");
        }
    }

    /// Registers a MySQL datasource named `name` for `database` on the test MySQL server.
    async fn create_mysql_datasource(&self, name: &str, database: &str) {
        let server = url::Url::parse(&mysql_server_url()).expect("TEST_MYSQL_URL is a URL");
        let body = json!({
            "type": "MYSQL", "name": name, "note": "end-to-end test warehouse",
            "host": server.host_str().unwrap_or("127.0.0.1"), "port": server.port().unwrap_or(3306),
            "database": database, "userName": server.username(), "password": server.password().unwrap_or(""),
            "other": {},
        });
        self.post_json("datasources", &body).await;
    }

    /// An alert group whose one instance is the HTTP alert plugin posting to `url`, made as an
    /// operator would in the UI: the plugin's own form, with its values filled in.
    async fn create_http_alert_group(&self, name: &str, url: &str) -> i64 {
        let plugins = self.get("ui-plugins/query-by-type", &[("pluginType", "ALERT")]).await;
        let plugin = rows(&plugins)
            .into_iter()
            .find(|p| p["pluginName"].as_str().is_some_and(|n| n.eq_ignore_ascii_case("http")))
            .expect("the HTTP alert plugin");
        let plugin_id = plugin["id"].as_i64().expect("plugin id").to_string();
        let detail = self.get(&format!("ui-plugins/{plugin_id}"), &[]).await;
        let mut params: Vec<Value> =
            serde_json::from_str(detail["pluginParams"].as_str().expect("the plugin's form"))
                .expect("form JSON");
        let values = HashMap::from([
            ("url", url),
            ("requestType", "POST"),
            ("headerParams", "{}"),
            ("bodyParams", "{}"),
            ("contentField", "content"),
        ]);
        for param in &mut params {
            let field = param["field"].as_str().unwrap_or_default().to_owned();
            if let Some(value) = values.get(field.as_str()) {
                param["value"] = json!(value);
            }
        }
        let instance = format!("{name}-http");
        self.post(
            "alert-plugin-instances",
            &[
                ("pluginDefineId", plugin_id.as_str()),
                ("instanceName", instance.as_str()),
                ("pluginInstanceParams", &Value::Array(params).to_string()),
            ],
        )
        .await;
        let instances =
            self.get("alert-plugin-instances/list", &[("pageNo", "1"), ("pageSize", "100")]).await;
        let instance_id = rows(&instances)
            .iter()
            .find(|i| i["instanceName"] == instance.as_str())
            .and_then(|i| i["id"].as_i64())
            .expect("the alert instance just made")
            .to_string();
        self.post(
            "alert-groups",
            &[("groupName", name), ("description", ""), ("alertInstanceIds", &instance_id)],
        )
        .await;
        let groups = self.get("alert-groups/list", &[]).await;
        rows(&groups)
            .iter()
            .find(|g| g["groupName"] == name)
            .and_then(|g| g["id"].as_i64())
            .expect("the group")
    }
}

const FORM: (&str, &str) = ("content-type", "application/x-www-form-urlencoded");

fn form(fields: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish()
}

async fn send(request: reqwest::RequestBuilder) -> Value {
    let response = request.send().await.expect("DolphinScheduler answers");
    let status = response.status();
    let text = response.text().await.expect("an answer body");
    assert!(status.is_success(), "DolphinScheduler answered {status}: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// The `data` of a successful envelope.
fn data(envelope: Value, what: &str) -> Value {
    assert_eq!(envelope["code"], 0, "{what}: {envelope}");
    envelope["data"].clone()
}

fn rows(data: &Value) -> Vec<Value> {
    match data {
        Value::Array(rows) => rows.clone(),
        other => other["totalList"].as_array().cloned().unwrap_or_default(),
    }
}

/// The service under test, publishing to the real DolphinScheduler in a project of its own.
struct Portal {
    app: TestApp,
    ds: RealDs,
    admin: DsAdmin,
    project: String,
}

/// How the service follows runs.
#[derive(Clone, Copy, PartialEq)]
enum Follow {
    Polling,
    /// Only what alerts name is read: runs reach the records through real alerts alone, sent by
    /// an alert group made for this service's webhook.
    AlertsOnly,
}

async fn portal(backend: Backend, follow: Follow) -> Portal {
    let ds = RealDs::from_env();
    let admin = DsAdmin::connect(&ds).await;
    admin.ensure_tenant(&ds.tenant).await;
    let project = format!("e2e-{}", unique());
    // The REST port is fixed before the service starts, so that an alert group can name it.
    let rest_port = std::net::TcpListener::bind((ds.callback_host.as_str(), 0))
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let warning_group = match follow {
        Follow::Polling => 0,
        Follow::AlertsOnly => {
            let webhook =
                format!("http://{}:{rest_port}/api/v1/callbacks/dolphinscheduler/webhook", ds.callback_host);
            admin.create_http_alert_group(&format!("e2e-alerts-{}", unique()), &webhook).await
        }
    };
    let database = TestDatabase::new(backend).await;
    let mut settings = test_settings(&database.url);
    settings.serve.dolphin = DolphinArgs {
        url: Some(ds.url.clone()),
        token: ds.token.clone().map(Secret::new),
        user: ds.user.clone(),
        password: Some(Secret::new(ds.password.clone())),
        tenant: ds.tenant.clone(),
        project: project.clone(),
        warning_group_id: warning_group,
        server_timezone: ds.server_timezone.clone(),
        timeout_secs: 30,
        ..DolphinArgs::default()
    };
    settings.serve.host = ds.callback_host.clone();
    settings.serve.rest_port = rest_port;
    settings.serve.executions = ExecutionArgs {
        execution_poll_interval_ms: if follow == Follow::Polling { 500 } else { 0 },
        execution_max_poll_interval_ms: 2000,
        execution_discover_interval_secs: 0,
        ..ExecutionArgs::default()
    };
    let app = TestApp::spawn_with(database, settings).await;
    Portal { app, ds, admin, project }
}

impl Portal {
    async fn project_code(&self) -> i64 {
        self.admin.project_code(&self.project).await.expect("the service created its project")
    }

    async fn create_task(&mut self, task: pb::Task) -> pb::Task {
        let request = pb::CreateTaskRequest { task: Some(task), register_missing_tables: true };
        self.app.tasks.create_task(request).await.expect("create task").into_inner().task.expect("task")
    }

    /// Publishes a task as its own workflow; returns the workflow with its publication.
    async fn publish(&mut self, task: &pb::Task, auto_start: bool) -> pb::Workflow {
        let request = pb::PublishTaskRequest { id: task.id, auto_start, ..Default::default() };
        let workflow = self.app.tasks.publish_task(request).await.expect("publish").into_inner().workflow;
        let workflow = workflow.expect("the workflow");
        let publication = workflow.publication.as_ref().expect("its publication");
        assert_eq!(publication.state, pb::PublishState::Published as i32, "{workflow:?}");
        workflow
    }

    /// The records of `task`'s runs once `done` holds for them.
    async fn runs_when(&mut self, task: i64, done: impl Fn(&[pb::Execution]) -> bool) -> Vec<pb::Execution> {
        let request = pb::ListExecutionsRequest { task_id: task, ..Default::default() };
        let deadline = tokio::time::Instant::now() + RUN_DEADLINE;
        loop {
            let runs = self.app.tasks.list_executions(request.clone()).await.expect("list").into_inner();
            if done(&runs.executions) {
                return runs.executions;
            }
            assert!(tokio::time::Instant::now() < deadline, "the runs never got there: {runs:#?}");
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// The one finished run of `task`.
    async fn finished_run(&mut self, task: i64) -> pb::Execution {
        let runs = self.runs_when(task, |runs| matches!(runs, [run] if is_final(run))).await;
        runs[0].clone()
    }

    async fn stop(self) {
        self.app.stop().await;
    }
}

fn is_final(run: &pb::Execution) -> bool {
    ![pb::ExecutionState::Pending as i32, pb::ExecutionState::Running as i32].contains(&run.state)
}

fn state(run: &pb::Execution) -> pb::ExecutionState {
    pb::ExecutionState::try_from(run.state).expect("a known state")
}

fn sql_task(name: &str, sql: &str, datasource: &str, inputs: &[&str], outputs: &[&str]) -> pb::Task {
    pb::Task {
        name: name.into(),
        body: Some(pb::task::Body::Sql(sql.into())),
        task_type: pb::TaskType::Batch as i32,
        engine: pb::Engine::Dolphin as i32,
        datasource: datasource.into(),
        inputs: inputs.iter().map(|s| s.to_string()).collect(),
        outputs: outputs.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

fn shell_task(name: &str, script: &str, outputs: &[&str]) -> pb::Task {
    pb::Task {
        name: name.into(),
        body: Some(pb::task::Body::Shell(script.into())),
        task_type: pb::TaskType::Batch as i32,
        engine: pb::Engine::Dolphin as i32,
        outputs: outputs.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

/// A database on the test MySQL server with `ods_user` (3 rows) and an empty `dwd_user`.
async fn warehouse() -> String {
    let name = format!("dp_e2e_{}", unique());
    let mut conn = sqlx::MySqlConnection::connect(&mysql_server_url()).await.expect("MySQL answers");
    for statement in [
        format!("CREATE DATABASE {name}"),
        format!("CREATE TABLE {name}.ods_user (id INT PRIMARY KEY, name VARCHAR(32))"),
        format!("CREATE TABLE {name}.dwd_user (id INT PRIMARY KEY, name VARCHAR(32))"),
        format!("INSERT INTO {name}.ods_user VALUES (1, 'ada'), (2, 'grace'), (3, 'edsger')"),
    ] {
        sqlx::raw_sql(sqlx::AssertSqlSafe(statement)).execute(&mut conn).await.expect("warehouse setup");
    }
    name
}

async fn count_rows(database: &str, table: &str) -> i64 {
    let mut conn = sqlx::MySqlConnection::connect(&mysql_server_url()).await.expect("MySQL answers");
    let row: (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {database}.{table}")))
        .fetch_one(&mut conn)
        .await
        .expect("count");
    row.0
}

async fn drop_warehouse(database: &str) {
    let mut conn = sqlx::MySqlConnection::connect(&mysql_server_url()).await.expect("MySQL answers");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP DATABASE {database}"))).execute(&mut conn).await.ok();
}

/// The portal design's example task runs on DolphinScheduler's own worker, through a datasource
/// registered in DolphinScheduler, and its rows really arrive. The service bootstrapped its token
/// from the user's password and created its project.
async fn the_example_sql_task_moves_rows_on_dolphinschedulers_worker(backend: Backend) {
    let mut portal = portal(backend, Follow::Polling).await;
    let database = warehouse().await;
    let datasource = format!("e2e_{}", unique());
    portal.admin.create_mysql_datasource(&datasource, &database).await;
    create_table(&mut portal.app, "ods_user").await;
    create_table(&mut portal.app, "dwd_user").await;
    let task = portal
        .create_task(sql_task(
            "load_dwd_user",
            "insert into dwd_user select * from ods_user",
            &datasource,
            &["ods_user"],
            &["dwd_user"],
        ))
        .await;
    portal.publish(&task, true).await;
    assert!(portal.admin.project_code(&portal.project).await.is_some(), "the project was created");

    let run = portal.finished_run(task.id).await;
    assert_eq!(state(&run), pb::ExecutionState::Succeeded, "{run:?}");
    assert_eq!(count_rows(&database, "dwd_user").await, 3, "the rows arrived in dwd_user");
    let start = run.start_time.as_ref().expect("a start").seconds;
    let end = run.end_time.as_ref().expect("an end").seconds;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    assert!(
        start <= end && end <= now + 1 && now - start < RUN_DEADLINE.as_secs() as i64 + 60,
        "the run's times are true instants, not hours off: start {start}, end {end}, now {now}"
    );
    drop_warehouse(&database).await;
    portal.stop().await;
}

/// A SHELL task that succeeds and one that fails: records SUCCEEDED and FAILED, and the log is
/// DolphinScheduler's own text, with what the script printed.
async fn shell_runs_end_succeeded_and_failed_with_real_logs(backend: Backend) {
    let mut portal = portal(backend, Follow::Polling).await;
    let marker = format!("hello-from-{}", unique());
    let good =
        portal.create_task(shell_task("shell_ok", &format!("echo {marker}"), &["dwd_e2e_shell_ok"])).await;
    let bad = portal
        .create_task(shell_task("shell_fails", "echo failing on purpose; exit 1", &["dwd_e2e_shell_bad"]))
        .await;
    portal.publish(&good, true).await;
    portal.publish(&bad, true).await;

    let ok = portal.finished_run(good.id).await;
    assert_eq!(state(&ok), pb::ExecutionState::Succeeded, "{ok:?}");
    let failed = portal.finished_run(bad.id).await;
    assert_eq!(state(&failed), pb::ExecutionState::Failed, "{failed:?}");
    assert_eq!(failed.scheduler_state, "FAILURE");

    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let log = portal
            .app
            .tasks
            .get_execution_log(pb::GetExecutionLogRequest { id: ok.id, ..Default::default() })
            .await
            .expect("the log")
            .into_inner();
        // The worker writes the log as the task runs; the script's output is in it once done.
        if log.text.contains(&marker) {
            assert!(log.line_count > 0, "{log:?}");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the log never showed the output: {log:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    portal.stop().await;
}

/// A scheduled task's schedule is online in Quartz form; a re-publish after a change updates the
/// same DolphinScheduler tasks (same codes).
async fn schedules_are_online_and_republishing_keeps_task_codes(backend: Backend) {
    let mut portal = portal(backend, Follow::Polling).await;
    let mut task = shell_task("scheduled_shell", "echo first", &["dwd_e2e_scheduled"]);
    task.schedule = "5 4 * * *".into();
    let task = portal.create_task(task).await;
    let workflow = portal.publish(&task, false).await;
    let project = portal.project_code().await;
    let definitions = portal.admin.definitions(project).await;
    let [(name, code)] = definitions.as_slice() else { panic!("one definition: {definitions:?}") };
    assert_eq!(name, &workflow.name);
    let codes = portal.admin.tasks_of(project, *code).await;

    let schedules = portal
        .admin
        .get(
            &format!("projects/{project}/schedules"),
            &[("processDefinitionCode", &code.to_string()), ("pageNo", "1"), ("pageSize", "10")],
        )
        .await;
    let schedules = rows(&schedules);
    let [schedule] = schedules.as_slice() else { panic!("one schedule: {schedules:?}") };
    assert_eq!(schedule["crontab"], "0 5 4 * * ? *");
    assert_eq!(schedule["releaseState"], "ONLINE");

    let changed = pb::Task { body: Some(pb::task::Body::Shell("echo second".into())), ..task.clone() };
    portal
        .app
        .tasks
        .update_task(pb::UpdateTaskRequest { task: Some(changed), ..Default::default() })
        .await
        .expect("update");
    // The change re-publishes the workflow on its own; wait until DolphinScheduler has it.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let dag = portal.admin.get(&format!("projects/{project}/process-definition/{code}"), &[]).await;
        let script = dag["taskDefinitionList"][0]["taskParams"].to_string();
        if script.contains("echo second") {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the change never reached DolphinScheduler: {dag}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(portal.admin.tasks_of(project, *code).await, codes, "the same task codes");
    assert_eq!(portal.admin.definitions(project).await.len(), 1, "still one definition");
    portal.stop().await;
}

/// A task reading what another workflow's task writes gets a DEPENDENT task: its run waits until
/// the other workflow has run, then goes on.
async fn a_dependent_task_waits_for_the_other_workflow(backend: Backend) {
    let mut portal = portal(backend, Follow::Polling).await;
    let upstream = portal.create_task(shell_task("produce", "echo produced", &["dwd_e2e_dep_a"])).await;
    let mut consumer = shell_task("consume", "echo consumed", &["dws_e2e_dep_b"]);
    consumer.inputs = vec!["dwd_e2e_dep_a".into()];
    let consumer = portal.create_task(consumer).await;
    portal.publish(&upstream, false).await;
    let consumer_instance = portal.publish(&consumer, true).await;

    // The consumer's workflow started first: its DEPENDENT task runs, waiting for a run of the
    // upstream, and the consumer's own task has not started.
    let instance = consumer_instance.publication.as_ref().map(|p| p.last_instance_id).unwrap_or_default();
    let deadline = tokio::time::Instant::now() + RUN_DEADLINE;
    loop {
        let request = pb::GetWorkflowInstanceRequest { workflow_instance_id: instance };
        let run = portal.app.workflows.get_workflow_instance(request).await.expect("instance").into_inner();
        let tasks = run.instance.map(|i| i.tasks).unwrap_or_default();
        let dependent = tasks.iter().find(|t| t.task_type == "DEPENDENT");
        if dependent.is_some_and(|t| t.state == "RUNNING_EXECUTION") {
            assert!(tasks.iter().all(|t| t.name != "consume"), "the consumer waits: {tasks:?}");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the DEPENDENT task never ran: {tasks:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    portal
        .app
        .workflows
        .start_workflow(pb::StartWorkflowRequest { workflow_name: "produce".into(), ..Default::default() })
        .await
        .expect("start the upstream");
    let produced = portal.finished_run(upstream.id).await;
    assert_eq!(state(&produced), pb::ExecutionState::Succeeded);
    let consumed = portal.finished_run(consumer.id).await;
    assert_eq!(state(&consumed), pb::ExecutionState::Succeeded, "{consumed:?}");
    assert!(
        consumed.start_time.as_ref().map(|t| t.seconds) >= produced.end_time.as_ref().map(|t| t.seconds),
        "the consumer ran after the upstream ended: {consumed:?} {produced:?}"
    );
    portal.stop().await;
}

/// An HTTP alert plugin instance and alert group point at the service's webhook; runs started with
/// that warning group send real alerts, and with polling off the records come from them alone.
async fn real_alerts_record_runs_without_polling(backend: Backend) {
    let mut portal = portal(backend, Follow::AlertsOnly).await;
    let good = portal.create_task(shell_task("alerted_ok", "echo fine", &["dwd_e2e_alert_ok"])).await;
    let bad = portal.create_task(shell_task("alerted_fails", "exit 1", &["dwd_e2e_alert_bad"])).await;
    portal.publish(&good, true).await;
    portal.publish(&bad, true).await;

    let ok = portal.finished_run(good.id).await;
    assert_eq!(
        (state(&ok), ok.source),
        (pb::ExecutionState::Succeeded, pb::ExecutionSource::Callback as i32),
        "{ok:?}"
    );
    let failed = portal.finished_run(bad.id).await;
    assert_eq!(
        (state(&failed), failed.source),
        (pb::ExecutionState::Failed, pb::ExecutionSource::Callback as i32),
        "{failed:?}"
    );
    portal.stop().await;
}

/// A long SHELL run is stopped (READY_STOP, then STOP: the record ends STOPPED) and rerun (a
/// second attempt of the same record).
async fn a_running_instance_is_stopped_and_rerun(backend: Backend) {
    let mut portal = portal(backend, Follow::Polling).await;
    let task = portal.create_task(shell_task("sleeper", "sleep 30", &["dwd_e2e_sleep"])).await;
    let workflow = portal.publish(&task, true).await;
    let instance = workflow.publication.as_ref().map(|p| p.last_instance_id).unwrap_or_default();
    assert!(instance > 0, "{workflow:?}");
    portal.runs_when(task.id, |runs| runs.iter().any(|r| state(r) == pb::ExecutionState::Running)).await;

    portal
        .app
        .workflows
        .stop_workflow_instance(pb::StopWorkflowInstanceRequest { workflow_instance_id: instance })
        .await
        .expect("stop");
    let stopped = portal.runs_when(task.id, |runs| runs.iter().all(is_final) && !runs.is_empty()).await;
    assert_eq!((stopped.len(), state(&stopped[0])), (1, pb::ExecutionState::Stopped), "{stopped:?}");

    portal
        .app
        .workflows
        .rerun_workflow_instance(pb::RerunWorkflowInstanceRequest { workflow_instance_id: instance })
        .await
        .expect("rerun");
    let rerun = portal
        .runs_when(task.id, |runs| {
            runs.len() == 1 && runs[0].attempt == 2 && state(&runs[0]) == pb::ExecutionState::Running
        })
        .await;
    assert!(rerun[0].task_instance_id > stopped[0].task_instance_id, "a new task instance: {rerun:?}");
    portal
        .app
        .workflows
        .stop_workflow_instance(pb::StopWorkflowInstanceRequest { workflow_instance_id: instance })
        .await
        .expect("stop the rerun");
    portal.runs_when(task.id, |runs| runs.iter().all(is_final)).await;
    portal.stop().await;
}

/// DolphinScheduler stops while a publish is under way and starts again: the publish completes on
/// its own, with one definition.
async fn an_outage_during_a_publish_is_recovered_with_one_definition(backend: Backend) {
    let mut portal = portal(backend, Follow::Polling).await;
    let dir = portal.ds.harness_dir.clone().expect(
        "DS_E2E_HARNESS_DIR must name the state directory of scripts/dolphinscheduler.sh: \
         this test stops and starts DolphinScheduler",
    );
    let task = portal.create_task(shell_task("survivor", "echo survived", &["dwd_e2e_outage"])).await;
    // The project exists before the outage, so that the definitions can be listed after it.
    let warmup = portal.create_task(shell_task("warmup", "echo warm", &["dwd_e2e_warm"])).await;
    portal.publish(&warmup, false).await;
    let project = portal.project_code().await;

    harness(&dir, "stop").await;
    let request = pb::PublishTaskRequest { id: task.id, return_immediately: true, ..Default::default() };
    let pending = portal.app.tasks.publish_task(request).await.expect("accepted").into_inner().workflow;
    let name = pending.expect("the workflow").name;
    harness(&dir, "start").await;

    let deadline = tokio::time::Instant::now() + RUN_DEADLINE;
    loop {
        let workflow = portal
            .app
            .workflows
            .get_workflow(pb::GetWorkflowRequest { workflow_name: name.clone(), ..Default::default() })
            .await
            .expect("get")
            .into_inner()
            .workflow
            .expect("workflow");
        let published =
            workflow.publication.as_ref().is_some_and(|p| p.state == pb::PublishState::Published as i32);
        if published {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the publish never completed: {workflow:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let definitions = portal.admin.definitions(project).await;
    assert_eq!(definitions.iter().filter(|(n, _)| *n == name).count(), 1, "{definitions:?}");
    portal.stop().await;
}

/// Runs `scripts/dolphinscheduler.sh ACTION --dir DIR` (stop, or start again on the same ports and
/// database).
async fn harness(dir: &std::path::Path, action: &str) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/dolphinscheduler.sh");
    let (script, action, dir) = (script.to_owned(), action.to_owned(), dir.to_owned());
    let status = tokio::task::spawn_blocking(move || {
        std::process::Command::new("bash").arg(script).arg(action).arg("--dir").arg(dir).status()
    })
    .await
    .expect("the harness call ends")
    .expect("the harness runs");
    assert!(status.success(), "scripts/dolphinscheduler.sh failed: {status}");
}

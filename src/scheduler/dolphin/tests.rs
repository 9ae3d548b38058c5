//! The client against the fake DolphinScheduler (crate `fake_dolphinscheduler`) of every family.

use std::time::Duration;

use fake_dolphinscheduler::{FakeDolphinScheduler, Family as FakeFamily, PASSWORD, USER};

use super::*;
use crate::error::{Error, ErrorKind, Reason};

/// One test per family for each scenario below.
macro_rules! per_family {
    ($($scenario:ident),* $(,)?) => {$(
        mod $scenario {
            use super::FakeFamily;

            #[tokio::test]
            async fn v3_1() {
                super::$scenario(FakeFamily::V3_1).await;
            }

            #[tokio::test]
            async fn v3_2() {
                super::$scenario(FakeFamily::V3_2).await;
            }

            #[tokio::test]
            async fn v3_3() {
                super::$scenario(FakeFamily::V3_3).await;
            }
        }
    )*};
}

per_family!(
    detects_the_family,
    generates_codes_in_batches,
    publishes_a_workflow,
    schedules_a_workflow,
    starts_and_controls_runs,
    a_start_whose_answer_is_lost_returns_its_run,
    bootstraps_and_renews_a_token,
    retries_reads_only,
    opens_the_circuit_and_recovers,
);

fn ours(family: FakeFamily) -> Family {
    match family {
        FakeFamily::V3_1 => Family::V3_1,
        FakeFamily::V3_2 => Family::V3_2,
        FakeFamily::V3_3 => Family::V3_3,
    }
}

/// Short timeouts and a small breaker, so that failures are quick.
fn config(ds: &FakeDolphinScheduler, credentials: Credentials) -> DolphinConfig {
    DolphinConfig {
        request_timeout: Duration::from_millis(1_500),
        connect_timeout: Duration::from_millis(500),
        retry_attempts: 2,
        breaker_threshold: 3,
        breaker_cooldown: Duration::from_millis(300),
        ..DolphinConfig::new(ds.base_url(), credentials)
    }
}

fn token_client(ds: &FakeDolphinScheduler) -> DolphinClient {
    DolphinClient::new(config(ds, Credentials::Token(Secret::new(ds.token())))).expect("client")
}

fn password_client(ds: &FakeDolphinScheduler, password: &str) -> DolphinClient {
    let credentials = Credentials::Password { user: USER.to_owned(), password: Secret::new(password) };
    DolphinClient::new(config(ds, credentials)).expect("client")
}

fn assert_reason(error: &Error, reason: Reason, ds_code: Option<&str>) {
    assert_eq!(error.reason, reason, "{error}");
    assert_eq!(error.metadata.get("ds_code").map(String::as_str), ds_code, "{error}");
}

/// Requests whose path ends with `suffix`.
fn count_requests(ds: &FakeDolphinScheduler, method: &str, suffix: &str) -> usize {
    ds.requests().iter().filter(|(m, path)| m == method && path.ends_with(suffix)).count()
}

fn shell(code: i64, name: &str, script: &str) -> TaskSpec {
    TaskSpec {
        code,
        name: name.to_owned(),
        description: format!("task {name}"),
        kind: TaskKind::Shell { script: script.to_owned() },
        retries: 1,
        retry_interval_minutes: 2,
        timeout_minutes: None,
        priority: "MEDIUM".to_owned(),
        worker_group: "default".to_owned(),
    }
}

/// A chain of shell tasks named `t0`, `t1`, ... with the given codes.
fn chain(name: &str, codes: &[i64]) -> WorkflowSpec {
    let tasks: Vec<TaskSpec> = codes
        .iter()
        .enumerate()
        .map(|(i, &code)| shell(code, &format!("t{i}"), &format!("echo {i}")))
        .collect();
    let mut relations = vec![(0, codes[0])];
    relations.extend(codes.windows(2).map(|pair| (pair[0], pair[1])));
    WorkflowSpec {
        name: name.to_owned(),
        description: "a chain".to_owned(),
        tenant: "etl".to_owned(),
        global_params: vec![("dt".to_owned(), "$[yyyyMMdd]".to_owned())],
        timeout_minutes: 0,
        tasks,
        relations,
        locations: codes.iter().enumerate().map(|(i, &code)| (code, 100 * i as i32, 50)).collect(),
    }
}

/// A project and an online chain of `tasks` tasks: (project, workflow code, task codes).
async fn online_workflow(client: &DolphinClient, name: &str, tasks: usize) -> (i64, i64, Vec<i64>) {
    let project = client.ensure_project("portal").await.expect("project");
    let codes = client.gen_task_codes(project, tasks).await.expect("codes");
    let code = client.create_workflow(project, &chain(name, &codes)).await.expect("create");
    client.release_workflow(project, code, true).await.expect("release");
    (project, code, codes)
}

fn schedule(cron: &str) -> ScheduleSpec {
    ScheduleSpec {
        quartz_cron: cron.to_owned(),
        timezone: "Asia/Shanghai".to_owned(),
        start: "2024-01-01 00:00:00".to_owned(),
        end: "2124-01-01 00:00:00".to_owned(),
        warning_group: 0,
        worker_group: "default".to_owned(),
        tenant: "etl".to_owned(),
    }
}

fn start_spec(params: &[(&str, &str)]) -> StartSpec {
    StartSpec {
        warning_group: 0,
        worker_group: "default".to_owned(),
        tenant: "etl".to_owned(),
        params: params.iter().map(|&(k, v)| (k.to_owned(), v.to_owned())).collect(),
    }
}

async fn detects_the_family(family: FakeFamily) {
    let ds = FakeDolphinScheduler::start(family).await;
    let client = token_client(&ds);
    // No project to probe in yet, and detection creates nothing.
    let error = client.family().await.expect_err("no project to probe");
    assert_reason(&error, Reason::DsNotConfigured, None);
    assert_eq!(ds.project_code("portal"), None);

    let project = client.ensure_project("portal").await.expect("project");
    assert_eq!(ds.project_code("portal"), Some(project));
    assert_eq!(client.ensure_project("portal").await.expect("cached"), project);
    assert_eq!(client.family().await.expect("family"), ours(family));

    // Detected once, then cached (3.1 confirms a name lookup's miss by the definition list).
    let calls = client.calls();
    assert_eq!(client.family().await.expect("family"), ours(family));
    client.find_workflow(project, "none").await.expect("find");
    let lookups = if family == FakeFamily::V3_1 { 2 } else { 1 };
    assert_eq!(client.calls(), calls + lookups);

    // A second client finds the existing project through projects/list.
    let other = token_client(&ds);
    assert_eq!(other.family().await.expect("family"), ours(family));
    assert_eq!(other.ensure_project("portal").await.expect("existing"), project);
}

async fn generates_codes_in_batches(family: FakeFamily) {
    let ds = FakeDolphinScheduler::start(family).await;
    let client = token_client(&ds);
    let project = client.ensure_project("portal").await.expect("project");
    ds.reset_calls();
    let codes = client.gen_task_codes(project, 250).await.expect("codes");
    assert_eq!(codes.len(), 250);
    let mut distinct = codes.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct.len(), 250, "codes are unique");
    assert_eq!(count_requests(&ds, "GET", "/task-definition/gen-task-codes"), 3);
    assert!(client.gen_task_codes(project, 0).await.expect("none").is_empty());
    assert_eq!(ds.calls(), 3);
}

async fn publishes_a_workflow(family: FakeFamily) {
    let ds = FakeDolphinScheduler::start(family).await;
    let client = token_client(&ds);
    let datasource = ds.add_datasource("warehouse", "MYSQL");
    assert_eq!(
        client.datasource_id("warehouse").await.expect("datasource"),
        (datasource, "MYSQL".to_owned())
    );
    let missing = client.datasource_id("wareho").await.expect_err("exact names only");
    assert_reason(&missing, Reason::DsNotFound, None);
    assert_eq!(missing.kind, ErrorKind::NotFound);

    let project = client.ensure_project("portal").await.expect("project");
    assert_eq!(client.find_workflow(project, "daily").await.expect("find"), None);

    let codes = client.gen_task_codes(project, 3).await.expect("codes");
    let mut spec = chain("daily", &codes[..2]);
    spec.tasks.push(TaskSpec {
        kind: TaskKind::Sql {
            datasource_id: datasource,
            db_type: "MYSQL".to_owned(),
            sql: "insert into t select 1".to_owned(),
        },
        timeout_minutes: Some(30),
        ..shell(codes[2], "load", "")
    });
    spec.relations.push((codes[1], codes[2]));
    let code = client.create_workflow(project, &spec).await.expect("create");

    let stored = ds.workflow("portal", "daily").expect("stored");
    assert_eq!(stored.code, code);
    assert_eq!(stored.release_state, "OFFLINE");
    assert_eq!(
        stored.tenant_code.is_some(),
        family == FakeFamily::V3_1,
        "tenantCode goes on 3.1 definitions"
    );
    let mut relations = stored.relations.clone();
    relations.sort_unstable();
    let mut expected = spec.relations.clone();
    expected.sort_unstable();
    assert_eq!(relations, expected);
    let load = stored.tasks.iter().find(|t| t.name == "load").expect("load task");
    assert_eq!(load.code, codes[2]);
    assert_eq!(load.task_type, "SQL");
    assert_eq!(load.task_params["datasource"], datasource);
    assert_eq!(load.task_params["sqlType"], "1");
    assert_eq!(load.definition["timeoutFlag"], "OPEN");
    assert_eq!(stored.global_params[0]["prop"], "dt");

    let summary = client.find_workflow(project, "daily").await.expect("find").expect("exists");
    assert_eq!(summary.code, code);
    assert_eq!(summary.release_state, ReleaseState::Offline);
    let mut tasks = summary.tasks.clone();
    tasks.sort();
    assert_eq!(
        tasks,
        vec![("load".to_owned(), codes[2]), ("t0".to_owned(), codes[0]), ("t1".to_owned(), codes[1])]
    );

    // An update keeps the codes of the tasks it keeps, and may release at once.
    let new_code = client.gen_task_codes(project, 1).await.expect("code")[0];
    let mut changed = spec.clone();
    changed.tasks[0] = shell(codes[0], "t0", "echo changed");
    changed.tasks.push(shell(new_code, "t3", "echo new"));
    changed.relations.push((codes[2], new_code));
    client.update_workflow(project, code, &changed, false).await.expect("update");
    let stored = ds.workflow("portal", "daily").expect("stored");
    assert_eq!(stored.code, code);
    assert_eq!(stored.tasks.len(), 4);
    let t0 = stored.tasks.iter().find(|t| t.name == "t0").expect("t0");
    assert_eq!((t0.code, t0.task_params["rawScript"].as_str()), (codes[0], Some("echo changed")));
    assert_eq!(stored.release_state, "OFFLINE");

    client.release_workflow(project, code, true).await.expect("online");
    client.release_workflow(project, code, true).await.expect("online twice");
    let summary = client.find_workflow(project, "daily").await.expect("find").expect("exists");
    assert_eq!(summary.release_state, ReleaseState::Online);
    let error = client.update_workflow(project, code, &changed, false).await.expect_err("online");
    assert_reason(&error, Reason::DsStateConflict, Some("50008"));
    assert!(error.message.contains("update workflow daily"), "{}", error.message);
    let error = client.delete_workflow(project, code).await.expect_err("online");
    assert_reason(&error, Reason::DsStateConflict, Some("50021"));

    client.release_workflow(project, code, false).await.expect("offline");
    client.update_workflow(project, code, &changed, true).await.expect("update and release");
    assert_eq!(ds.workflow("portal", "daily").expect("stored").release_state, "ONLINE");

    // A task waiting for another workflow's task.
    let waiter_codes = client.gen_task_codes(project, 1).await.expect("code");
    let waiter = WorkflowSpec {
        tasks: vec![TaskSpec {
            kind: TaskKind::Dependent { project, workflow: code, task: codes[2] },
            ..shell(waiter_codes[0], "wait", "")
        }],
        relations: vec![(0, waiter_codes[0])],
        locations: Vec::new(),
        ..chain("waiter", &waiter_codes)
    };
    let waiter_code = client.create_workflow(project, &waiter).await.expect("dependent workflow");
    let stored = ds.workflow("portal", "waiter").expect("stored");
    let item = &stored.tasks[0].task_params["dependence"]["dependTaskList"][0]["dependItemList"][0];
    assert_eq!((item["definitionCode"].as_i64(), item["depTaskCode"].as_i64()), (Some(code), Some(codes[2])));

    // Refusals keep DS's code and say which call failed.
    let broken_codes = client.gen_task_codes(project, 1).await.expect("code");
    let mut broken = chain("broken", &broken_codes);
    broken.tasks[0] = shell(broken_codes[0], "t0", "");
    let error = client.create_workflow(project, &broken).await.expect_err("empty script");
    assert_reason(&error, Reason::DsDefinitionInvalid, Some("50020"));
    let error = client.create_workflow(project, &waiter).await.expect_err("name taken");
    assert_reason(&error, Reason::DsRejected, Some("10168"));

    client.delete_workflow(project, waiter_code).await.expect("delete");
    assert_eq!(client.find_workflow(project, "waiter").await.expect("find"), None);
}

async fn schedules_a_workflow(family: FakeFamily) {
    let ds = FakeDolphinScheduler::start(family).await;
    let client = token_client(&ds);
    let project = client.ensure_project("portal").await.expect("project");
    let codes = client.gen_task_codes(project, 1).await.expect("codes");
    let code = client.create_workflow(project, &chain("nightly", &codes)).await.expect("create");

    let error = client.create_schedule(project, code, &schedule("0 0 2 * * ? *")).await.expect_err("offline");
    assert_reason(&error, Reason::DsStateConflict, Some("50004"));
    client.release_workflow(project, code, true).await.expect("online");

    assert_eq!(client.find_schedule(project, code).await.expect("find"), None);
    let id = client.create_schedule(project, code, &schedule("0 0 2 * * ? *")).await.expect("schedule");
    let found = client.find_schedule(project, code).await.expect("find").expect("exists");
    assert_eq!(
        found,
        ScheduleInfo {
            id,
            crontab: "0 0 2 * * ? *".to_owned(),
            timezone: "Asia/Shanghai".to_owned(),
            online: false
        }
    );
    client.set_schedule_online(project, id, true).await.expect("online");
    client.set_schedule_online(project, id, true).await.expect("online twice");
    let stored = ds.workflow("portal", "nightly").expect("stored").schedule.expect("schedule");
    assert_eq!((stored.id, stored.release_state.as_str()), (id, "ONLINE"));
    assert!(client.find_schedule(project, code).await.expect("find").expect("exists").online);

    let error = client.update_schedule(project, id, &schedule("0 0 3 * * ? *")).await.expect_err("online");
    assert_reason(&error, Reason::DsStateConflict, Some("10023"));
    client.set_schedule_online(project, id, false).await.expect("offline");
    client.update_schedule(project, id, &schedule("0 0 3 * * ? *")).await.expect("update");
    let error = client.update_schedule(project, id, &schedule("0 3 * * *")).await.expect_err("unix cron");
    assert_reason(&error, Reason::DsDefinitionInvalid, Some("10024"));
    let stored = ds.workflow("portal", "nightly").expect("stored").schedule.expect("schedule");
    assert_eq!((stored.crontab.as_str(), stored.timezone_id.as_str()), ("0 0 3 * * ? *", "Asia/Shanghai"));

    if family != FakeFamily::V3_1 {
        let error = client.create_schedule(project, code, &schedule("0 0 2 * * ? *")).await.expect_err("one");
        assert_reason(&error, Reason::DsStateConflict, Some("10204"));
    }
}

async fn starts_and_controls_runs(family: FakeFamily) {
    let ds = FakeDolphinScheduler::start(family).await;
    let client = token_client(&ds);
    let (project, code, _) = online_workflow(&client, "runs", 2).await;

    // Two runs started together are told apart (3.1: by the marker in their start parameters).
    let (spec_a, spec_b) = (start_spec(&[("dt", "20240101")]), start_spec(&[("dt", "20240102")]));
    let (first, second) = tokio::join!(
        client.start_workflow(project, code, &spec_a),
        client.start_workflow(project, code, &spec_b)
    );
    let (first, second) = (first.expect("first run"), second.expect("second run"));
    assert_ne!(first, second);
    let instances = ds.instances();
    let view = |id: i64| instances.iter().find(|i| i.id == id).cloned().expect("instance");
    assert!(view(first).start_params.contains("20240101"), "{:?}", view(first));
    assert!(view(second).start_params.contains("20240102"), "{:?}", view(second));
    assert_eq!(view(first).workflow_code, code);
    assert!(view(first).start_params.contains("dataportal_run_id"), "every family sends the marker");

    let run = client.workflow_instance(project, first).await.expect("instance");
    assert_eq!((run.id, run.workflow_code, run.state.as_str()), (first, code, "RUNNING_EXECUTION"));
    assert_eq!(run.run_times, 1);

    let (page, total) = client.list_workflow_instances(project, Some(code), 1, 10).await.expect("list");
    assert_eq!(total, 2);
    let mut ids: Vec<i64> = page.iter().map(|i| i.id).collect();
    ids.sort_unstable();
    assert_eq!(ids, {
        let mut both = vec![first, second];
        both.sort_unstable();
        both
    });
    let (page, total) = client.list_workflow_instances(project, None, 1, 1).await.expect("list all");
    assert_eq!((page.len(), total), (1, 2));

    let tasks = client.task_instances(project, first).await.expect("tasks");
    let mut names: Vec<&str> = tasks.iter().map(|t| t.name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["t0", "t1"]);
    let log = client.task_log(tasks[0].id, 0, 100).await.expect("log");
    assert!(log.line_num > 0 && !log.message.is_empty(), "{log:?}");
    let rest = client.task_log(tasks[0].id, log.line_num, 100).await.expect("end of log");
    assert!(rest.message.is_empty(), "{rest:?}");
    let error = client.task_log(987_654, 0, 100).await.expect_err("no such task run");
    assert_reason(&error, Reason::DsNotFound, Some("10008"));

    // A stop is READY_STOP until the master has killed the tasks; stopping it again is refused.
    ds.set_stop_delay(Duration::from_millis(300));
    client.execute(project, first, ExecuteType::Stop).await.expect("stop");
    assert_eq!(client.workflow_instance(project, first).await.expect("instance").state, "READY_STOP");
    let error = client.execute(project, first, ExecuteType::Stop).await.expect_err("stopping");
    assert_reason(&error, Reason::DsStateConflict, Some("50006"));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while client.workflow_instance(project, first).await.expect("instance").state != "STOP" {
        assert!(tokio::time::Instant::now() < deadline, "the stop never completed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let error = client.execute(project, first, ExecuteType::Stop).await.expect_err("stopped");
    assert_reason(&error, Reason::DsStateConflict, Some("50006"));
    client.execute(project, first, ExecuteType::Rerun).await.expect("rerun");
    // DS queues a rerun for its master: the run reads as it was until the master takes it.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let run = loop {
        let run = client.workflow_instance(project, first).await.expect("instance");
        if run.run_times == 2 {
            break run;
        }
        assert_eq!(run.state, "STOP", "until the master takes the rerun");
        assert!(tokio::time::Instant::now() < deadline, "the rerun never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(run.state, "RUNNING_EXECUTION");

    ds.set_instance_state(second, "SUCCESS");
    assert_eq!(client.workflow_instance(project, second).await.expect("instance").state, "SUCCESS");
    let error = client.execute(project, 987_654, ExecuteType::Stop).await.expect_err("no such run");
    assert_reason(&error, Reason::DsNotFound, Some("50001"));
    let error = client.workflow_instance(project, 987_654).await.expect_err("no such run");
    assert_eq!(error.reason, Reason::DsNotFound);

    client.release_workflow(project, code, false).await.expect("offline");
    let error = client.start_workflow(project, code, &start_spec(&[])).await.expect_err("offline");
    assert_reason(&error, Reason::DsStateConflict, Some("50004"));
}

/// A start answered by a proxy's 502, or not at all, after DS created the run: the run is found by
/// its marker and returned; nothing is started twice.
async fn a_start_whose_answer_is_lost_returns_its_run(family: FakeFamily) {
    let ds = FakeDolphinScheduler::start(family).await;
    let client = token_client(&ds);
    let (project, code, _) = online_workflow(&client, "lost", 1).await;
    ds.fail_next_start_answer(502);
    let first = client.start_workflow(project, code, &start_spec(&[])).await.expect("found by its marker");
    ds.lose_next_start_answer(Duration::ZERO);
    let second = client.start_workflow(project, code, &start_spec(&[])).await.expect("found by its marker");
    let ids: Vec<i64> = ds.instances().iter().map(|i| i.id).collect();
    assert_eq!(ids, vec![first, second], "one run per start");
}

async fn bootstraps_and_renews_a_token(family: FakeFamily) {
    let ds = FakeDolphinScheduler::start(family).await;

    let wrong = password_client(&ds, "not-the-password");
    let error = wrong.ping().await.expect_err("wrong password");
    assert_reason(&error, Reason::DsLoginFailed, Some("10013"));
    assert!(!error.message.contains("not-the-password"), "{}", error.message);
    assert!(!format!("{wrong:?}").contains("not-the-password"));

    // The token created at the fake's start is valid for years: it is reused, none is created.
    let client = password_client(&ds, PASSWORD);
    client.ping().await.expect("bootstrap");
    assert_eq!(count_requests(&ds, "POST", "/login"), 2);
    assert_eq!(count_requests(&ds, "POST", "/access-tokens"), 0);
    let project = client.ensure_project("portal").await.expect("project");

    // Every token expires: one 401, one new token, and the call goes through.
    ds.expire_tokens();
    ds.reset_calls();
    client.find_workflow(project, "none").await.expect("renewed");
    assert_eq!(count_requests(&ds, "POST", "/login"), 1);
    assert_eq!(count_requests(&ds, "POST", "/access-tokens"), 1);
    client.ping().await.expect("the new token stays");
    assert_eq!(count_requests(&ds, "POST", "/login"), 1);

    // A configured token cannot be renewed.
    let stale = token_client(&ds);
    let error = stale.ping().await.expect_err("expired token");
    assert_reason(&error, Reason::DsLoginFailed, None);
}

async fn retries_reads_only(family: FakeFamily) {
    let ds = FakeDolphinScheduler::start(family).await;
    let client = token_client(&ds);
    let project = client.ensure_project("portal").await.expect("project");
    let codes = client.gen_task_codes(project, 1).await.expect("codes");
    client.family().await.expect("family");

    ds.reset_calls();
    ds.fail_next(2, 503);
    assert_eq!(client.find_workflow(project, "none").await.expect("retried"), None);
    // Two failures and the answer, and on 3.1 the list that confirms the miss.
    assert_eq!(ds.calls(), if family == FakeFamily::V3_1 { 4 } else { 3 });

    // Creates are never retried: a lost answer could mean a created workflow.
    ds.reset_calls();
    ds.fail_next(1, 503);
    let error = client.create_workflow(project, &chain("once", &codes)).await.expect_err("not retried");
    assert_reason(&error, Reason::DsUnavailable, None);
    assert_eq!(error.kind, ErrorKind::Unavailable);
    assert_eq!(ds.calls(), 1);
    client.create_workflow(project, &chain("once", &codes)).await.expect("created");

    // A read that times out is retried too.
    ds.reset_calls();
    ds.delay_next(1, Duration::from_secs(3));
    client.ping().await.expect("retried after a timeout");
    assert_eq!(ds.calls(), 2);

    // Three failures in a row exhaust the retries (1 + 2).
    ds.reset_calls();
    ds.fail_next(3, 502);
    let error = client.ping().await.expect_err("still failing");
    assert_reason(&error, Reason::DsUnavailable, None);
    assert!(error.message.contains("HTTP 502"), "{}", error.message);
    assert_eq!(ds.calls(), 3);
}

async fn opens_the_circuit_and_recovers(family: FakeFamily) {
    let ds = FakeDolphinScheduler::start(family).await;
    let client = token_client(&ds);
    let project = client.ensure_project("portal").await.expect("project");
    assert_eq!(client.family().await.expect("family"), ours(family));

    ds.go_down().await;
    let error = client.find_workflow(project, "none").await.expect_err("down");
    assert_reason(&error, Reason::DsUnavailable, None);
    assert_eq!(error.kind, ErrorKind::Unavailable);

    // Three failed attempts opened the circuit: calls now fail without a request.
    let calls = client.calls();
    let error = client.ping().await.expect_err("circuit open");
    assert_reason(&error, Reason::DsUnavailable, None);
    assert!(error.message.contains("calls are refused for"), "{}", error.message);
    assert_eq!(client.calls(), calls);

    ds.come_back().await;
    tokio::time::sleep(Duration::from_millis(350)).await;
    client.ping().await.expect("the probe closes the circuit");
    assert_eq!(client.find_workflow(project, "none").await.expect("closed"), None);
}

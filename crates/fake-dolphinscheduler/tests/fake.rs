//! Drives the fake over real HTTP, for each version family.

mod alerts;
mod common;

use std::time::Duration;

use alerts::{alert_controls, alerts_need_a_group, alerts_on_each_outcome};
use common::{Ds, edge, eventually, form, root, shell};
use fake_dolphinscheduler::{Family, PASSWORD, USER};
use serde_json::{Value, json};

/// Runs each listed scenario once per family.
macro_rules! per_family {
    ($($scenario:ident),* $(,)?) => {
        mod v3_1 { $( #[tokio::test] async fn $scenario() { super::$scenario(super::Family::V3_1).await } )* }
        mod v3_2 { $( #[tokio::test] async fn $scenario() { super::$scenario(super::Family::V3_2).await } )* }
        mod v3_3 { $( #[tokio::test] async fn $scenario() { super::$scenario(super::Family::V3_3).await } )* }
    };
}

per_family!(
    auth,
    lifecycle,
    definition_refusals,
    update_and_delete,
    schedules,
    control_and_logs,
    faults,
    family_probes,
    datasources,
    alerts_on_each_outcome,
    alerts_need_a_group,
    alert_controls,
);

async fn auth(family: Family) {
    let ds = Ds::start(family).await;
    let login = ds.full_url("login");

    let wrong =
        ds.send(ds.raw().post(&login).form(&form(&[("userName", USER), ("userPassword", "x")]))).await;
    assert_eq!(wrong.unwrap().code(), 10013);

    let ok =
        ds.send(ds.raw().post(&login).form(&form(&[("userName", USER), ("userPassword", PASSWORD)]))).await;
    let ok = ok.unwrap();
    let session = ok.data()["sessionId"].as_str().unwrap().to_string();
    assert_eq!(ok.body["msg"], "login success");

    let info = ds.full_url("users/get-user-info");
    let by_session = ds.send(ds.raw().get(&info).header("sessionId", &session)).await.unwrap();
    assert_eq!(by_session.data()["userName"], USER);
    let user_id = by_session.data()["id"].as_i64().unwrap();

    // No credentials, an unknown token, or an unknown session: 401 with an empty body.
    for request in [
        ds.raw().get(&info),
        ds.raw().get(&info).header("token", "nope"),
        ds.raw().get(&info).header("sessionId", "nope"),
        // A bad token is not rescued by a valid session.
        ds.raw().get(&info).header("token", "nope").header("sessionId", &session),
    ] {
        let answer = ds.send(request).await.unwrap();
        assert_eq!((answer.status, answer.text.as_str()), (401, ""));
    }

    // Tokens: listed per user, created with 201.
    let tokens = ds.get(&format!("access-tokens/user/{user_id}"), &[]).await;
    assert_eq!(tokens.data()[0]["token"], ds.token.as_str());
    let created = ds
        .post(
            "access-tokens",
            &form(&[("userId", &user_id.to_string()), ("expireTime", "2099-01-01 00:00:00")]),
        )
        .await;
    assert_eq!(created.status, 201);
    let token = created.data()["token"].as_str().unwrap().to_string();
    assert_eq!(token.len(), 32);
    let with_new = ds.send(ds.raw().get(&info).header("token", &token)).await.unwrap();
    assert_eq!(with_new.code(), 0);
}

async fn lifecycle(family: Family) {
    let ds = Ds::start(family).await;
    let pc = ds.create_project("p1").await;
    let duplicate = ds.post("projects", &form(&[("projectName", "p1")])).await;
    assert_eq!((duplicate.status, duplicate.code()), (201, 10019));
    let projects = ds.get("projects/list", &[]).await;
    assert_eq!(projects.data()[0]["code"], pc);
    assert_eq!(ds.fake.project_code("p1"), Some(pc));

    let codes = ds.gen_codes(pc, 2).await;
    assert!(codes.iter().all(|c| *c >= 1_000_000_000_000), "{codes:?}");
    let tasks = json!([shell(codes[0], "extract", "echo 1"), shell(codes[1], "load", "echo 2")]);
    let relations = json!([edge(0, codes[0]), edge(codes[0], codes[1])]);
    let created = ds.create_definition(pc, "wf", &tasks, &relations).await;
    assert_eq!(created.status, 201);
    assert_eq!(created.data()["releaseState"], "OFFLINE");
    let code = created.data()["code"].as_i64().unwrap();

    let view = ds.fake.workflow("p1", "wf").unwrap();
    assert_eq!(view.code, code);
    assert_eq!(view.release_state, "OFFLINE");
    assert_eq!(view.relations, vec![(0, codes[0]), (codes[0], codes[1])]);
    assert_eq!(view.tasks[0].task_params["rawScript"], "echo 1");
    assert_eq!(view.tasks[0].version, 1);
    assert_eq!(view.tenant_code.as_deref(), (family == Family::V3_1).then_some("etl"));

    // query-by-name with the family's keys; 3.1 misses the definitions of a user without a tenant
    // (as DS 3.1.1 does), and reading by code finds them.
    let base = ds.definition_base(pc);
    let by_name = ds.get(&format!("{base}/query-by-name"), &[("name", "wf")]).await;
    let dag = if family == Family::V3_1 {
        assert_eq!(by_name.code(), 50003);
        ds.get(&format!("{base}/{code}"), &[]).await
    } else {
        by_name
    };
    let (definition_key, relations_key) = match family {
        Family::V3_3 => ("workflowDefinition", "workflowTaskRelationList"),
        _ => ("processDefinition", "processTaskRelationList"),
    };
    assert_eq!(dag.data()[definition_key]["code"], code);
    assert_eq!(dag.data()[relations_key].as_array().unwrap().len(), 2);
    assert_eq!(dag.data()["taskDefinitionList"][1]["version"], 1);
    let missing = ds.get(&format!("{base}/query-by-name"), &[("name", "nope")]).await;
    assert_eq!(missing.code(), 50003);

    // Start while OFFLINE: 50004.
    assert_eq!(ds.start_run(pc, code, "{}").await.code(), 50004);
    assert_eq!(ds.release(pc, code, "ONLINE").await.code(), 0);
    assert_eq!(ds.fake.workflow("p1", "wf").unwrap().release_state, "ONLINE");

    let start_params = r#"{"dataportal_run_id":"run-1"}"#;
    let started = ds.start_run(pc, code, start_params).await;
    let data = started.data().clone();
    let instances_path = ds.instance_base(pc);
    let id = match family {
        Family::V3_1 => {
            assert!(data.is_null());
            // The instance appears later; find it by listing and reading commandParam.
            let filter = [("processDefineCode", code.to_string())];
            let list = eventually(|| async {
                let query = [("pageNo", "1"), ("pageSize", "20"), (filter[0].0, filter[0].1.as_str())];
                let list = ds.get(&instances_path, &query).await;
                let rows = list.data()["totalList"].as_array().unwrap().clone();
                (!rows.is_empty()).then_some(rows)
            })
            .await;
            // 3.1.1's list rows have a null commandParam: the instance must be read for it.
            assert!(list[0].get("commandParam").is_some_and(Value::is_null), "{}", list[0]);
            list[0]["id"].as_i64().unwrap()
        }
        Family::V3_2 => {
            let trigger = data.as_i64().expect("3.2 answers a trigger code");
            let trigger_path = format!("{instances_path}/trigger");
            eventually(|| async {
                let found = ds.get(&trigger_path, &[("triggerCode", &trigger.to_string())]).await;
                found.data().as_array().unwrap().first().map(|i| i["id"].as_i64().unwrap())
            })
            .await
        }
        Family::V3_3 => {
            let id = data[0].as_i64().expect("3.3 answers [id]");
            assert_eq!(ds.fake.instances().len(), 1, "3.3 creates the instance at once");
            id
        }
    };
    let instance = ds.get(&format!("{instances_path}/{id}"), &[]).await;
    assert_eq!(instance.data()["state"], "RUNNING_EXECUTION");
    let command_param = instance.data()["commandParam"].as_str().unwrap();
    let expected = json!({ "StartParams": start_params }).to_string();
    assert_eq!(command_param, expected);
    let parsed: Value = serde_json::from_str(command_param).unwrap();
    assert_eq!(parsed["StartParams"], start_params);

    let tasks = ds.get(&format!("{instances_path}/{id}/tasks"), &[]).await;
    let state_key = if family == Family::V3_3 { "workflowInstanceState" } else { "processInstanceState" };
    assert_eq!(tasks.data()[state_key], "RUNNING_EXECUTION");
    assert_eq!(tasks.data()["taskList"].as_array().unwrap().len(), 2);

    let views = ds.fake.instances();
    assert_eq!((views[0].id, views[0].workflow_code, views[0].run_times), (id, code, 1));
    assert_eq!(views[0].start_params, start_params);
    ds.fake.set_instance_state(id, "SUCCESS");
    let tasks = ds.get(&format!("{instances_path}/{id}/tasks"), &[]).await;
    assert_eq!(tasks.data()["taskList"][0]["state"], "SUCCESS");
}

async fn definition_refusals(family: Family) {
    let ds = Ds::start(family).await;
    let pc = ds.create_project("p").await;
    let codes = ds.gen_codes(pc, 3).await;
    let (a, b) = (codes[0], codes[1]);
    let ok_tasks = json!([shell(a, "a", "echo")]);

    let mut no_script = shell(a, "a", "");
    let node = ds.create_definition(pc, "w", &json!([no_script.clone()]), &root(&[a])).await;
    assert_eq!((node.status, node.code()), (201, 50020));
    assert!(node.body["msg"].as_str().unwrap().contains("node a parameter invalid"));
    no_script["taskParams"] = json!({});
    assert_eq!(ds.create_definition(pc, "w", &json!([no_script]), &root(&[a])).await.code(), 50020);

    // Bad or empty taskDefinitionJson / taskRelationJson: 50017.
    let mut bad = ds.definition_form("w", &ok_tasks, &root(&[a]));
    bad.iter_mut().find(|(k, _)| k == "taskDefinitionJson").unwrap().1 = "[{not json".into();
    assert_eq!(ds.post(&ds.definition_base(pc), &bad).await.code(), 50017);
    assert_eq!(ds.create_definition(pc, "w", &json!([]), &root(&[a])).await.code(), 50017);
    assert_eq!(ds.create_definition(pc, "w", &ok_tasks, &json!([])).await.code(), 50017);

    // A code the fake did not issue, an unknown task type: 10001.
    let foreign = ds.create_definition(pc, "w", &json!([shell(42, "a", "echo")]), &root(&[42])).await;
    assert_eq!(foreign.code(), 10001);
    let mut odd = shell(a, "a", "echo");
    odd["taskType"] = json!("NOPE");
    assert_eq!(ds.create_definition(pc, "w", &json!([odd]), &root(&[a])).await.code(), 10001);

    // Relations: post 0 -> 50036, unknown post -> 50030, a task outside the DAG -> 50017, cycle -> 50019.
    assert_eq!(ds.create_definition(pc, "w", &ok_tasks, &json!([edge(a, 0)])).await.code(), 50036);
    assert_eq!(ds.create_definition(pc, "w", &ok_tasks, &root(&[a, b])).await.code(), 50030);
    let two = json!([shell(a, "a", "echo"), shell(b, "b", "echo")]);
    assert_eq!(ds.create_definition(pc, "w", &two, &root(&[a])).await.code(), 50017);
    let cycle = json!([edge(0, a), edge(a, b), edge(b, a)]);
    assert_eq!(ds.create_definition(pc, "w", &two, &cycle).await.code(), 50019);

    // SQL needs a known datasource, DEPENDENT a dependence item.
    let sql = |datasource: i64| {
        json!([{"code": a, "name": "q", "taskType": "SQL",
                "taskParams": {"type": "MYSQL", "datasource": datasource, "sql": "select 1", "sqlType": "0"}}])
    };
    assert_eq!(ds.create_definition(pc, "w", &sql(7), &root(&[a])).await.code(), 50020);
    let datasource = ds.fake.add_datasource("mysql-main", "MYSQL");
    let dependent = |item: Value| {
        let params = json!({"dependence": {"relation": "AND", "dependTaskList": [
            {"relation": "AND", "dependItemList": [item]}]}});
        json!([{"code": b, "name": "wait", "taskType": "DEPENDENT", "taskParams": params.to_string()}])
    };
    assert_eq!(
        ds.create_definition(pc, "w", &dependent(json!({"projectCode": pc})), &root(&[b])).await.code(),
        50020
    );

    // Valid variants: SQL, DEPENDENT with taskParams as a JSON string.
    assert_eq!(ds.create_definition(pc, "w-sql", &sql(datasource), &root(&[a])).await.code(), 0);
    let item = json!({"projectCode": pc, "definitionCode": 1, "depTaskCode": 0, "cycle": "day", "dateValue": "today"});
    let created = ds.create_definition(pc, "w-dep", &dependent(item), &root(&[b])).await;
    assert_eq!(created.code(), 0);
    assert!(ds.fake.workflow("p", "w-dep").unwrap().tasks[0].task_params["dependence"].is_object());

    // Duplicate name: 10168.
    assert_eq!(ds.create_definition(pc, "w-sql", &sql(datasource), &root(&[a])).await.code(), 10168);

    // A JSON body leaves every parameter missing: 10001, with HTTP 200 (binding errors skip the 201).
    let body = json!({"name": "w", "taskDefinitionJson": ok_tasks.to_string()}).to_string();
    let request = ds
        .raw()
        .post(ds.full_url(&ds.definition_base(pc)))
        .header("token", &ds.token)
        .header("content-type", "application/json")
        .body(body);
    let json_body = ds.send(request).await.unwrap();
    assert_eq!((json_body.status, json_body.code()), (200, 10001));

    // 3.1 requires tenantCode on create.
    if family == Family::V3_1 {
        let mut pairs = ds.definition_form("w", &ok_tasks, &root(&[a]));
        pairs.retain(|(k, _)| k != "tenantCode");
        assert_eq!(ds.post(&ds.definition_base(pc), &pairs).await.code(), 10001);
    }

    // genNum outside 1..=100: 50017.
    let gen_path = format!("projects/{pc}/task-definition/gen-task-codes");
    assert_eq!(ds.get(&gen_path, &[("genNum", "0")]).await.code(), 50017);
    assert_eq!(ds.get(&gen_path, &[("genNum", "101")]).await.code(), 50017);
    assert_eq!(ds.gen_codes(pc, 100).await.len(), 100);
}

async fn update_and_delete(family: Family) {
    let ds = Ds::start(family).await;
    let pc = ds.create_project("p").await;
    let (code, task) = ds.simple_workflow(pc, "wf").await;
    ds.simple_workflow(pc, "other").await;
    let base = ds.definition_base(pc);
    let path = format!("{base}/{code}");

    // Renaming onto an existing name: 10168.
    let renamed = ds.definition_form("other", &json!([shell(task, "t1", "echo hi")]), &root(&[task]));
    assert_eq!(ds.put(&path, &renamed).await.code(), 10168);

    // An update that changes the task bumps its version; releaseState=ONLINE releases after it.
    let mut pairs = ds.definition_form("wf", &json!([shell(task, "t1", "echo changed")]), &root(&[task]));
    pairs.push(("releaseState".into(), "ONLINE".into()));
    assert_eq!(ds.put(&path, &pairs).await.code(), 0);
    let view = ds.fake.workflow("p", "wf").unwrap();
    assert_eq!((view.tasks[0].version, view.release_state.as_str()), (2, "ONLINE"));

    // ONLINE: no update (50008), no delete (50021).
    assert_eq!(ds.put(&path, &pairs).await.code(), 50008);
    assert_eq!(ds.delete(&path).await.code(), 50021);

    // Release is idempotent on 3.2+, and OFFLINE allows delete.
    assert_eq!(ds.release(pc, code, "ONLINE").await.code(), 0);
    let offline = ds.release(pc, code, "OFFLINE").await;
    assert_eq!(offline.data(), &if family == Family::V3_1 { Value::Null } else { json!(true) });
    assert_eq!(ds.delete(&path).await.code(), 0);
    assert!(ds.fake.workflow("p", "wf").is_none());
    assert_eq!(ds.get(&path, &[]).await.code(), 50003);
}

async fn schedules(family: Family) {
    let ds = Ds::start(family).await;
    let pc = ds.create_project("p").await;
    let (code, _) = ds.simple_workflow(pc, "wf").await;
    let path = format!("projects/{pc}/schedules");
    let quartz = "0 0 2 * * ? *";

    // Definition OFFLINE: 50004.
    let offline = ds.post(&path, &ds.schedule_form(Some(code), quartz)).await;
    assert_eq!((offline.status, offline.code()), (201, 50004));
    ds.release(pc, code, "ONLINE").await;

    // 5-field unix cron: 10001 on create.
    assert_eq!(ds.post(&path, &ds.schedule_form(Some(code), "0 2 * * *")).await.code(), 10001);
    let mut equal_times = ds.schedule_form(Some(code), quartz);
    equal_times[0].1 = json!({"startTime": "2024-01-01 00:00:00", "endTime": "2024-01-01 00:00:00",
                               "crontab": quartz, "timezoneId": "UTC"})
    .to_string();
    assert_eq!(ds.post(&path, &equal_times).await.code(), 10141);

    let created = ds.post(&path, &ds.schedule_form(Some(code), quartz)).await;
    assert_eq!(created.status, 201);
    assert_eq!(created.data()["releaseState"], "OFFLINE");
    let id = created.data()["id"].as_i64().unwrap();

    // One schedule per definition on 3.2+; 3.1 accepts a second one.
    let second = ds.post(&path, &ds.schedule_form(Some(code), quartz)).await;
    let expected = if family == Family::V3_1 { 0 } else { 10204 };
    assert_eq!(second.code(), expected);

    let code_text = code.to_string();
    let listed =
        ds.get(&path, &[("pageNo", "1"), ("pageSize", "10"), (ds.definition_param(), &code_text)]).await;
    assert!(listed.data()["total"].as_u64().unwrap() >= 1);

    // Update: a bad crontab is 10024; ONLINE refuses updates (10023).
    let update_path = format!("{path}/{id}");
    assert_eq!(ds.put(&update_path, &ds.schedule_form(None, "0 2 * * *")).await.code(), 10024);
    assert_eq!(ds.put(&update_path, &ds.schedule_form(None, "0 0 3 * * ?")).await.code(), 0);
    assert_eq!(ds.post(&format!("{update_path}/online"), &[]).await.code(), 0);
    assert_eq!(ds.put(&update_path, &ds.schedule_form(None, quartz)).await.code(), 10023);

    // OFFLINE definition takes the schedule offline; online then needs the definition ONLINE.
    ds.release(pc, code, "OFFLINE").await;
    let view = ds.fake.workflow("p", "wf").unwrap();
    let schedule = view.schedule.unwrap();
    assert_eq!(schedule.release_state, "OFFLINE");
    if family != Family::V3_1 {
        assert_eq!((schedule.id, schedule.crontab.as_str()), (id, "0 0 3 * * ?"));
    }
    assert_eq!(ds.post(&format!("{update_path}/online"), &[]).await.code(), 50004);
}

async fn control_and_logs(family: Family) {
    let ds = Ds::start(family).await;
    let pc = ds.create_project("p").await;
    let (code, _) = ds.simple_workflow(pc, "wf").await;
    ds.release(pc, code, "ONLINE").await;
    ds.start_run(pc, code, "").await.data();
    let id = eventually(|| async { ds.fake.instances().first().map(|i| i.id) }).await;
    let base = ds.instance_base(pc);
    assert_eq!(control(&ds, pc, "REPEAT_RUNNING", id).await, 50006);
    // A stop marks the run READY_STOP, its tasks still running; the master then kills them.
    ds.fake.set_stop_delay(Duration::from_millis(300));
    assert_eq!(control(&ds, pc, "STOP", id).await, 0);
    let run = ds.get(&format!("{base}/{id}"), &[]).await.data().clone();
    assert_eq!((&run["state"], &run["commandType"]), (&json!("READY_STOP"), &json!("STOP")));
    let tasks = ds.get(&format!("{base}/{id}/tasks"), &[]).await;
    assert_eq!(tasks.data()["taskList"][0]["state"], "RUNNING_EXECUTION");
    // DS 3.1 stops only RUNNING_EXECUTION and READY_PAUSE runs: a second stop is refused.
    let again = ds
        .post(
            &format!("projects/{pc}/executors/execute"),
            &form(&[
                (
                    if family == Family::V3_3 { "workflowInstanceId" } else { "processInstanceId" },
                    &id.to_string(),
                ),
                ("executeType", "STOP"),
            ]),
        )
        .await;
    assert_eq!(again.code(), 50006);
    assert!(again.text.contains("is READY_STOP,Cannot perform STOP operation"), "{}", again.text);
    eventually(|| async {
        let state = ds.get(&format!("{base}/{id}"), &[]).await.data()["state"].clone();
        (state == "STOP").then_some(())
    })
    .await;
    let tasks = ds.get(&format!("{base}/{id}/tasks"), &[]).await;
    assert_eq!(tasks.data()["taskList"][0]["state"], "KILL");
    assert_eq!(control(&ds, pc, "STOP", id).await, 50006);
    assert_eq!(control(&ds, pc, "REPEAT_RUNNING", id).await, 0);
    // The API only queues the rerun: the run reads STOP until the master starts it again.
    assert_eq!(ds.fake.instances()[0].state, "STOP");
    eventually(|| async { (ds.fake.instances()[0].run_times == 2).then_some(()) }).await;
    assert_eq!(ds.fake.instances()[0].state, "RUNNING_EXECUTION");
    assert_eq!(control(&ds, pc, "STOP", 999).await, 50001);

    // Logs of the current task instance.
    let task_instance =
        ds.get(&format!("{base}/{id}/tasks"), &[]).await.data()["taskList"][0]["id"].as_i64().unwrap();
    let task_instance = task_instance.to_string();
    let log = ds
        .get("log/detail", &[("taskInstanceId", &task_instance), ("skipLineNum", "0"), ("limit", "2")])
        .await;
    assert_eq!(log.data()["lineNum"], 2);
    assert!(log.data()["message"].as_str().unwrap().starts_with("[LOG-PATH]: "));
    let missing = ds.get("log/detail", &[("taskInstanceId", "999"), ("skipLineNum", "0"), ("limit", "10")]);
    assert_eq!(missing.await.code(), 10008);

    // Paged list, newest first.
    ds.fake.set_instance_state(id, "SUCCESS");
    ds.start_run(pc, code, "").await.data();
    eventually(|| async { (ds.fake.instances().len() == 2).then_some(()) }).await;
    let list = ds.get(&base, &[("pageNo", "1"), ("pageSize", "1")]).await;
    assert_eq!((list.data()["total"].as_u64(), list.data()["totalPage"].as_u64()), (Some(2), Some(2)));
    assert_ne!(list.data()["totalList"][0]["id"], id);
    assert_eq!(ds.get(&base, &[("pageNo", "1")]).await.code(), 10001);
}

/// `executors/execute`; returns the answer's code.
async fn control(ds: &Ds, pc: i64, kind: &str, id: i64) -> i64 {
    let id_param = if ds.family == Family::V3_3 { "workflowInstanceId" } else { "processInstanceId" };
    let pairs = form(&[(id_param, &id.to_string()), ("executeType", kind)]);
    ds.post(&format!("projects/{pc}/executors/execute"), &pairs).await.code()
}

async fn faults(family: Family) {
    let ds = Ds::start(family).await;
    let pc = ds.create_project("p").await;
    ds.fake.reset_calls();

    ds.fake.fail_next(1, 503);
    let failed = ds.get("projects/list", &[]).await;
    assert_eq!(failed.status, 503);
    assert!(failed.text.contains("<html>"));
    assert_eq!(ds.get("projects/list", &[]).await.code(), 0);
    assert_eq!(ds.fake.calls(), 2);
    assert_eq!(ds.fake.requests()[0], ("GET".to_string(), "/projects/list".to_string()));

    ds.fake.delay_next(1, Duration::from_millis(200));
    let started = std::time::Instant::now();
    ds.get("projects/list", &[]).await.data();
    assert!(started.elapsed() >= Duration::from_millis(200));

    // Start calls: the run is made whatever becomes of the answer.
    let (code, _) = ds.simple_workflow(pc, "wf").await;
    ds.release(pc, code, "ONLINE").await;
    ds.fake.fail_next_start_answer(502);
    let proxied = ds.start_run(pc, code, "").await;
    assert_eq!(proxied.status, 502);
    eventually(|| async { (ds.fake.instances().len() == 1).then_some(()) }).await;
    ds.fake.lose_next_start_answer(Duration::ZERO);
    let lost = ds.send(ds.start_request(pc, code, &[("warningType", "NONE")])).await;
    assert!(lost.is_err(), "the connection closes without an answer");
    eventually(|| async { (ds.fake.instances().len() == 2).then_some(()) }).await;
    // A slow master: the run appears only after the delay (3.3+ answers only then).
    ds.fake.set_master_delay(Duration::from_millis(400));
    let asked = std::time::Instant::now();
    assert_eq!(ds.start_run(pc, code, "").await.code(), 0);
    eventually(|| async { (ds.fake.instances().len() == 3).then_some(()) }).await;
    assert!(asked.elapsed() >= Duration::from_millis(400));

    ds.fake.go_down().await;
    assert!(ds.send(ds.get_request("projects/list", &[])).await.is_err(), "connections are refused");
    ds.fake.come_back().await;
    assert_eq!(ds.get("projects/list", &[]).await.data()[0]["code"], pc);

    ds.fake.expire_tokens();
    assert_eq!(ds.get("projects/list", &[]).await.status, 401);
    let listed = ds.send(ds.raw().get(ds.full_url("access-tokens/user/1")).header("token", &ds.token)).await;
    assert_eq!(listed.unwrap().status, 401);
    // Recover like a client: log in, create a new token.
    let login =
        ds.raw().post(ds.full_url("login")).form(&form(&[("userName", USER), ("userPassword", PASSWORD)]));
    let session = ds.send(login).await.unwrap().data()["sessionId"].as_str().unwrap().to_string();
    let create = ds
        .raw()
        .post(ds.full_url("access-tokens"))
        .header("sessionId", &session)
        .form(&form(&[("userId", "1"), ("expireTime", "2099-01-01 00:00:00")]));
    let token = ds.send(create).await.unwrap().data()["token"].as_str().unwrap().to_string();
    let with_new = ds.raw().get(ds.full_url("projects/list")).header("token", &token);
    assert_eq!(ds.send(with_new).await.unwrap().code(), 0);
}

async fn family_probes(family: Family) {
    let ds = Ds::start(family).await;
    let pc = ds.create_project("p").await;
    let probe =
        ds.get(&format!("projects/{pc}/workflow-definition"), &[("pageNo", "1"), ("pageSize", "1")]).await;
    if family == Family::V3_3 {
        assert_eq!((probe.status, probe.code()), (200, 0));
    } else {
        assert_eq!(probe.status, 404);
        assert_eq!(probe.body["status"], 404);
        assert_eq!(probe.body["error"], "Not Found");
    }

    let trigger = ds.get(&format!("projects/{pc}/process-instances/trigger"), &[("triggerCode", "0")]).await;
    match family {
        Family::V3_1 => assert_eq!((trigger.status, trigger.code()), (200, 10000)),
        Family::V3_2 => assert_eq!(trigger.data(), &json!([])),
        Family::V3_3 => assert_eq!(trigger.status, 404),
    }

    // The other family's start path is unknown too.
    let other = if family == Family::V3_3 { "start-process-instance" } else { "start-workflow-instance" };
    let start = ds.post(&format!("projects/{pc}/executors/{other}"), &[]).await;
    assert_eq!(start.status, 404);
    // A wrong method on a known path: 405.
    assert_eq!(ds.delete("projects/list").await.status, 405);
}

async fn datasources(family: Family) {
    let ds = Ds::start(family).await;
    let id = ds.fake.add_datasource("warehouse", "POSTGRESQL");
    ds.fake.add_datasource("other", "MYSQL");
    let page =
        ds.get("datasources", &[("pageNo", "1"), ("pageSize", "100"), ("searchVal", "warehouse")]).await;
    let rows = page.data()["totalList"].as_array().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0]["id"].as_i64(), rows[0]["type"].as_str()), (Some(id), Some("POSTGRESQL")));
}

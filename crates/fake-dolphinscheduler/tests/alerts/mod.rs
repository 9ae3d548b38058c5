//! The HTTP alert plugin of each family (§11), against a receiver that records what it gets.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use fake_dolphinscheduler::{AlertReceiver, Family, SentAlert};
use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::common::{Ds, eventually, shell};
use crate::control;

/// One request the receiver got.
#[derive(Clone, Debug, PartialEq)]
struct Got {
    content_type: String,
    token: Option<String>,
    body: String,
}

/// A webhook that answers `status` to everything and records what it gets.
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Got>>>,
}

impl Receiver {
    async fn start(status: StatusCode) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hooks/ds?secret=1", listener.local_addr().unwrap());
        let got = Arc::new(Mutex::new(Vec::new()));
        let record = Arc::clone(&got);
        let app = axum::Router::new().fallback(move |headers: HeaderMap, body: Bytes| {
            let record = Arc::clone(&record);
            async move {
                let header = |name| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
                let got = Got {
                    content_type: header("content-type").unwrap_or_default(),
                    token: header("x-token"),
                    body: String::from_utf8_lossy(&body).into_owned(),
                };
                record.lock().unwrap_or_else(PoisonError::into_inner).push(got);
                status
            }
        });
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { url, got }
    }

    fn got(&self) -> Vec<Got> {
        self.got.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Waits until `n` requests arrived, then a little longer to catch any extra one.
    async fn wait_for(&self, n: usize) -> Vec<Got> {
        eventually(|| async { (self.got().len() >= n).then_some(()) }).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        let got = self.got();
        assert_eq!(got.len(), n, "{got:#?}");
        got
    }
}

fn default_content_type(family: Family) -> &'static str {
    match family {
        Family::V3_3 => "application/json; charset=utf-8",
        _ => "text/plain; charset=UTF-8",
    }
}

/// A two-task workflow (`extract`, `load`) of `execution_type`, ONLINE, in project `p`; returns
/// (project code, definition code).
async fn workflow(ds: &Ds, execution_type: &str) -> (i64, i64) {
    let pc = match ds.fake.project_code("p") {
        Some(pc) => pc,
        None => ds.create_project("p").await,
    };
    let codes = ds.gen_codes(pc, 2).await;
    let tasks = json!([shell(codes[0], "extract", "echo 1"), shell(codes[1], "load", "echo 2")]);
    let relations = json!([crate::common::edge(0, codes[0]), crate::common::edge(codes[0], codes[1])]);
    let mut pairs = ds.definition_form(&format!("wf-{execution_type}"), &tasks, &relations);
    pairs.iter_mut().find(|(k, _)| k == "executionType").unwrap().1 = execution_type.into();
    let created = ds.post(&ds.definition_base(pc), &pairs).await;
    let code = created.data()["code"].as_i64().unwrap();
    ds.release(pc, code, "ONLINE").await.data();
    (pc, code)
}

/// Starts a run with `warningType` and, if any, `warningGroupId`; returns the instance id.
async fn start(ds: &Ds, pc: i64, code: i64, warning_type: &str, group: Option<&str>) -> i64 {
    let before = ds.fake.instances().len();
    let mut extra = vec![("warningType", warning_type)];
    extra.extend(group.map(|g| ("warningGroupId", g)));
    ds.start_run_with(pc, code, &extra).await.data();
    eventually(|| async {
        let instances = ds.fake.instances();
        instances.get(before).map(|i| i.id)
    })
    .await
}

/// The instance an alert body is about (the first element's id).
fn instance_of(body: &str) -> i64 {
    let body: Value = serde_json::from_str(body).unwrap();
    let content: Value = serde_json::from_str(body["content"].as_str().unwrap()).unwrap();
    let element = &content[0];
    element["processId"].as_i64().or_else(|| element["workflowInstanceId"].as_i64()).unwrap()
}

/// What the instance and task endpoints say about a finished run, to build the expected content.
struct Run {
    id: i64,
    name: String,
    start: String,
    end: String,
    tasks: Vec<Value>,
}

/// Waits until the master turned a READY_STOP run STOP (its alert, if any, is then sent).
async fn stopped_in_the_end(ds: &Ds, pc: i64, id: i64) {
    let path = format!("{}/{id}", ds.instance_base(pc));
    eventually(|| async { (ds.get(&path, &[]).await.data()["state"] == "STOP").then_some(()) }).await;
}

async fn read_run(ds: &Ds, pc: i64, id: i64) -> Run {
    let base = ds.instance_base(pc);
    let instance = ds.get(&format!("{base}/{id}"), &[]).await.data().clone();
    let tasks = ds.get(&format!("{base}/{id}/tasks"), &[]).await.data()["taskList"].clone();
    let text = |v: &Value| v.as_str().unwrap().to_string();
    Run {
        id,
        name: text(&instance["name"]),
        start: text(&instance["startTime"]),
        end: text(&instance["endTime"]),
        tasks: tasks.as_array().unwrap().clone(),
    }
}

/// The 3.1/3.2 SUCCESS element (§11.2): one workflow element; 3.2 adds `modifyBy`.
fn success_3x(family: Family, pc: i64, code: i64, run: &Run) -> String {
    let modify = if family == Family::V3_2 { r#""modifyBy":"admin","# } else { "" };
    let Run { id, name, start, end, .. } = run;
    format!(
        r#"[{{"projectCode":{pc},"projectName":"p","owner":"admin","processId":{id},"processDefinitionCode":{code},"processName":"{name}","processType":"START_PROCESS","processState":"SUCCESS",{modify}"recovery":"NO","runTimes":1,"processStartTime":"{start}","processEndTime":"{end}","processHost":"127.0.0.1:5678"}}]"#
    )
}

/// The 3.1/3.2 FAILURE content: one element per task that did not succeed; 3.2 adds `modifyBy` and
/// `taskPriority`.
fn failure_3x(family: Family, pc: i64, code: i64, run: &Run) -> String {
    let v3_2 = family == Family::V3_2;
    let modify = if v3_2 { r#""modifyBy":"admin","# } else { "" };
    let priority = if v3_2 { r#""taskPriority":"medium","# } else { "" };
    let Run { id, name, .. } = run;
    let elements: Vec<String> = run
        .tasks
        .iter()
        .filter(|t| t["state"] != "SUCCESS")
        .map(|t| {
            let (task_code, task_name, state) = (&t["taskCode"], &t["name"], &t["state"]);
            let (start, end, log) = (&t["startTime"], &t["endTime"], &t["logPath"]);
            format!(
                r#"{{"projectCode":{pc},"projectName":"p","owner":"admin","processId":{id},"processDefinitionCode":{code},"processName":"{name}",{modify}"taskCode":{task_code},"taskName":{task_name},"taskType":"SHELL","taskState":{state},"taskStartTime":{start},"taskEndTime":{end},"taskHost":"127.0.0.1:1234",{priority}"logPath":{log}}}"#
            )
        })
        .collect();
    format!("[{}]", elements.join(","))
}

/// The 3.3+ content of every outcome: one workflow element, without `owner` on FAILURE (§11.2a).
fn element_3_3(pc: i64, code: i64, run: &Run, state: &str) -> String {
    let owner = if state == "FAILURE" { "" } else { r#""owner":"admin","# };
    let Run { id, name, start, end, .. } = run;
    // A stop makes STOP the run's command (DS `updateProcessInstancePrepare`).
    let command = if state == "STOP" { "STOP" } else { "START_PROCESS" };
    format!(
        r#"[{{"projectCode":{pc},"projectName":"p",{owner}"workflowInstanceId":{id},"workflowDefinitionCode":{code},"workflowInstanceName":"{name}","commandType":"{command}","workflowExecutionStatus":"{state}","modifyBy":"admin","recovery":"NO","runTimes":1,"workflowStartTime":"{start}","workflowEndTime":"{end}","workflowHost":"127.0.0.1:5678"}}]"#
    )
}

/// SUCCESS, FAILURE (one task succeeded, one failed), STOP and PAUSE with `warningType=ALL` and a
/// group: the exact bodies and content types of each family.
pub async fn alerts_on_each_outcome(family: Family) {
    let ds = Ds::start(family).await;
    let receiver = Receiver::start(StatusCode::OK).await;
    ds.fake.send_alerts_to(AlertReceiver::new(&receiver.url));
    let (pc, code) = workflow(&ds, "PARALLEL").await;

    let succeeded = start(&ds, pc, code, "ALL", Some("1")).await;
    ds.fake.set_instance_state(succeeded, "SUCCESS");
    let failed = start(&ds, pc, code, "ALL", Some("1")).await;
    ds.fake.set_task_state(failed, "extract", "SUCCESS");
    ds.fake.set_instance_state(failed, "FAILURE");
    let stopped = start(&ds, pc, code, "ALL", Some("1")).await;
    assert_eq!(control(&ds, pc, "STOP", stopped).await, 0);
    stopped_in_the_end(&ds, pc, stopped).await;
    let paused = start(&ds, pc, code, "ALL", Some("1")).await;
    assert_eq!(control(&ds, pc, "PAUSE", paused).await, 0);

    let failed_run = read_run(&ds, pc, failed).await;
    // The task that succeeded before the workflow failed kept its state.
    let states: Vec<&Value> = failed_run.tasks.iter().map(|t| &t["state"]).collect();
    assert_eq!(states, [&json!("SUCCESS"), &json!("FAILURE")]);
    assert_eq!(failed_run.tasks[1]["retryTimes"], 0);
    assert!(failed_run.tasks[1]["duration"].as_str().unwrap().ends_with('s'));
    let expected: Vec<String> = match family {
        Family::V3_3 => vec![
            element_3_3(pc, code, &read_run(&ds, pc, succeeded).await, "SUCCESS"),
            element_3_3(pc, code, &failed_run, "FAILURE"),
            element_3_3(pc, code, &read_run(&ds, pc, stopped).await, "STOP"),
            element_3_3(pc, code, &read_run(&ds, pc, paused).await, "PAUSE"),
        ],
        // The STOP of an ordinary workflow sends nothing; a PAUSE sends an empty content.
        _ => vec![
            success_3x(family, pc, code, &read_run(&ds, pc, succeeded).await),
            failure_3x(family, pc, code, &failed_run),
            String::new(),
        ],
    };
    let got = receiver.wait_for(expected.len()).await;
    for (got, content) in got.iter().zip(&expected) {
        assert_eq!(got.body, json!({ "content": content }).to_string());
        assert_eq!(got.content_type, default_content_type(family));
    }
    // The failure lists the failed task only.
    if family != Family::V3_3 {
        let content: Value = serde_json::from_str(&expected[1]).unwrap();
        assert_eq!(content.as_array().unwrap().len(), 1);
        assert_eq!(content[0]["taskName"], "load");
    }
    let sent = ds.fake.alerts_sent();
    let bodies: Vec<&str> = sent.iter().map(|s| s.body.as_str()).collect();
    let received: Vec<&str> = got.iter().map(|g| g.body.as_str()).collect();
    assert_eq!(bodies, received);
    assert!(sent.iter().all(|s| s.status == Some(200) && s.url == receiver.url), "{sent:?}");
}

/// Alerts need a receiver, a `warningType` covering the outcome and an alert group; the STOP of a
/// serial workflow sends an empty content on 3.1/3.2.
pub async fn alerts_need_a_group(family: Family) {
    let ds = Ds::start(family).await;
    let (pc, code) = workflow(&ds, "PARALLEL").await;
    // No receiver yet: nothing to send to.
    let unheard = start(&ds, pc, code, "ALL", Some("1")).await;
    ds.fake.set_instance_state(unheard, "SUCCESS");
    let receiver = Receiver::start(StatusCode::OK).await;
    ds.fake.send_alerts_to(AlertReceiver::new(&receiver.url));

    let silent = [
        ("ALL", None, "SUCCESS"),
        ("ALL", Some("0"), "FAILURE"),
        ("NONE", Some("1"), "FAILURE"),
        ("SUCCESS", Some("1"), "FAILURE"),
        ("FAILURE", Some("1"), "SUCCESS"),
        ("SUCCESS", Some("1"), "PAUSE"),
        ("FAILURE", Some("1"), "STOP"),
    ];
    for (warning_type, group, outcome) in silent {
        let id = start(&ds, pc, code, warning_type, group).await;
        ds.fake.set_instance_state(id, outcome);
    }
    let on_failure = start(&ds, pc, code, "FAILURE", Some("1")).await;
    ds.fake.set_instance_state(on_failure, "FAILURE");
    let on_success = start(&ds, pc, code, "SUCCESS", Some("1")).await;
    ds.fake.set_instance_state(on_success, "SUCCESS");
    // Finishing again what has finished sends nothing more.
    ds.fake.set_instance_state(on_success, "SUCCESS");
    let (_, serial) = workflow(&ds, "SERIAL_WAIT").await;
    let serial_stop = start(&ds, pc, serial, "ALL", Some("1")).await;
    assert_eq!(control(&ds, pc, "STOP", serial_stop).await, 0);

    let got = receiver.wait_for(3).await;
    assert_eq!((instance_of(&got[0].body), instance_of(&got[1].body)), (on_failure, on_success));
    match family {
        Family::V3_3 => assert_eq!(instance_of(&got[2].body), serial_stop),
        _ => assert_eq!(got[2].body, r#"{"content":""}"#),
    }
}

/// `repeat` and headers, hold and release (reversed), drop, and failed deliveries.
pub async fn alert_controls(family: Family) {
    let ds = Ds::start(family).await;
    let (pc, code) = workflow(&ds, "PARALLEL").await;
    let receiver = Receiver::start(StatusCode::OK).await;
    let finish = |id: i64| ds.fake.set_instance_state(id, "SUCCESS");

    // 3.2 may POST one alert several times; headerParams are sent and may set the Content-Type.
    let headers =
        vec![("X-Token".into(), "s3cret".into()), ("content-type".into(), "application/json".into())];
    ds.fake.send_alerts_to(AlertReceiver { url: receiver.url.clone(), headers, repeat: 2 });
    let repeated = start(&ds, pc, code, "ALL", Some("1")).await;
    finish(repeated);
    let got = receiver.wait_for(2).await;
    assert_eq!(got[0], got[1]);
    assert_eq!((got[0].content_type.as_str(), got[0].token.as_deref()), ("application/json", Some("s3cret")));
    assert_eq!(instance_of(&got[0].body), repeated);

    // Held alerts wait; released in reverse, the later run's alert arrives first.
    ds.fake.send_alerts_to(AlertReceiver::new(&receiver.url));
    ds.fake.hold_alerts();
    let (first, second) =
        (start(&ds, pc, code, "ALL", Some("1")).await, start(&ds, pc, code, "ALL", Some("1")).await);
    finish(first);
    finish(second);
    let got = receiver.wait_for(2).await;
    ds.fake.release_alerts(true);
    let got_after = receiver.wait_for(4).await;
    assert_eq!(got_after[..2], got[..]);
    assert_eq!((instance_of(&got_after[2].body), instance_of(&got_after[3].body)), (second, first));
    assert_eq!(got_after[2].content_type, default_content_type(family));

    // Dropped alerts never arrive.
    ds.fake.drop_alerts(true);
    let lost = start(&ds, pc, code, "ALL", Some("1")).await;
    finish(lost);
    ds.fake.drop_alerts(false);
    let kept = start(&ds, pc, code, "ALL", Some("1")).await;
    finish(kept);
    let got = receiver.wait_for(5).await;
    assert_eq!(instance_of(&got[4].body), kept);

    // A receiver's error status and a refused connection are recorded, not retried.
    let failing = Receiver::start(StatusCode::INTERNAL_SERVER_ERROR).await;
    ds.fake.send_alerts_to(AlertReceiver::new(&failing.url));
    let refused_at = TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
    let rejected = start(&ds, pc, code, "ALL", Some("1")).await;
    finish(rejected);
    failing.wait_for(1).await;
    ds.fake.send_alerts_to(AlertReceiver::new(format!("http://{refused_at}/hook")));
    let unreachable = start(&ds, pc, code, "ALL", Some("1")).await;
    finish(unreachable);
    let sent = eventually(|| async {
        let sent = ds.fake.alerts_sent();
        (sent.len() == 7).then_some(sent)
    })
    .await;
    let statuses: Vec<Option<u16>> = sent.iter().map(|s: &SentAlert| s.status).collect();
    assert_eq!(statuses, [Some(200), Some(200), Some(200), Some(200), Some(200), Some(500), None]);
    assert_eq!(sent[6].url, format!("http://{refused_at}/hook"));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(ds.fake.alerts_sent().len(), 7, "failed deliveries are not retried");
}

//! A tiny DS client for driving the fake over real HTTP.

use std::time::Duration;

use fake_dolphinscheduler::{FakeDolphinScheduler, Family};
use serde_json::{Value, json};

pub struct Ds {
    pub fake: FakeDolphinScheduler,
    pub family: Family,
    http: reqwest::Client,
    base: String,
    pub token: String,
}

/// An answer: HTTP status and the body (Null when empty or not JSON), plus the raw text.
pub struct Answer {
    pub status: u16,
    pub body: Value,
    pub text: String,
}

impl Answer {
    pub fn code(&self) -> i64 {
        self.body["code"].as_i64().unwrap_or_else(|| panic!("no envelope: {} {}", self.status, self.text))
    }

    pub fn data(&self) -> &Value {
        assert_eq!(self.code(), 0, "expected success, got {}", self.text);
        &self.body["data"]
    }
}

pub fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

impl Ds {
    pub async fn start(family: Family) -> Self {
        let fake = FakeDolphinScheduler::start(family).await;
        Ds {
            base: fake.base_url(),
            token: fake.token(),
            family,
            http: reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap(),
            fake,
        }
    }

    pub fn definition_base(&self, pc: i64) -> String {
        match self.family {
            Family::V3_3 => format!("projects/{pc}/workflow-definition"),
            _ => format!("projects/{pc}/process-definition"),
        }
    }

    pub fn instance_base(&self, pc: i64) -> String {
        match self.family {
            Family::V3_3 => format!("projects/{pc}/workflow-instances"),
            _ => format!("projects/{pc}/process-instances"),
        }
    }

    pub fn definition_param(&self) -> &'static str {
        match self.family {
            Family::V3_3 => "workflowDefinitionCode",
            _ => "processDefinitionCode",
        }
    }

    pub async fn send(&self, request: reqwest::RequestBuilder) -> Result<Answer, reqwest::Error> {
        let response = request.send().await?;
        let status = response.status().as_u16();
        let text = response.text().await?;
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Ok(Answer { status, body, text })
    }

    fn url(&self, path: &str) -> String {
        format!("{}/{}", self.base, path)
    }

    pub fn get_request(&self, path: &str, query: &[(&str, &str)]) -> reqwest::RequestBuilder {
        self.http.get(self.url(path)).query(query).header("token", &self.token)
    }

    pub async fn get(&self, path: &str, query: &[(&str, &str)]) -> Answer {
        self.send(self.get_request(path, query)).await.expect("GET")
    }

    pub async fn post(&self, path: &str, pairs: &[(String, String)]) -> Answer {
        self.send(self.http.post(self.url(path)).form(pairs).header("token", &self.token))
            .await
            .expect("POST")
    }

    pub async fn put(&self, path: &str, pairs: &[(String, String)]) -> Answer {
        self.send(self.http.put(self.url(path)).form(pairs).header("token", &self.token)).await.expect("PUT")
    }

    pub async fn delete(&self, path: &str) -> Answer {
        self.send(self.http.delete(self.url(path)).header("token", &self.token)).await.expect("DELETE")
    }

    pub fn raw(&self) -> &reqwest::Client {
        &self.http
    }

    pub fn full_url(&self, path: &str) -> String {
        self.url(path)
    }

    pub async fn create_project(&self, name: &str) -> i64 {
        let answer = self.post("projects", &form(&[("projectName", name), ("description", "")])).await;
        assert_eq!(answer.status, 201);
        answer.data()["code"].as_i64().unwrap()
    }

    pub async fn gen_codes(&self, pc: i64, n: usize) -> Vec<i64> {
        let path = format!("projects/{pc}/task-definition/gen-task-codes");
        let answer = self.get(&path, &[("genNum", &n.to_string())]).await;
        answer.data().as_array().unwrap().iter().map(|c| c.as_i64().unwrap()).collect()
    }

    /// The definition form for the given tasks and relations (3.1 gets a tenant).
    pub fn definition_form(&self, name: &str, tasks: &Value, relations: &Value) -> Vec<(String, String)> {
        let mut pairs = form(&[
            ("name", name),
            ("description", "test"),
            ("globalParams", r#"[{"prop":"dt","direct":"IN","type":"VARCHAR","value":"x"}]"#),
            ("timeout", "0"),
            ("executionType", "PARALLEL"),
        ]);
        pairs.push(("taskDefinitionJson".into(), tasks.to_string()));
        pairs.push(("taskRelationJson".into(), relations.to_string()));
        pairs.push(("locations".into(), "[]".into()));
        if self.family == Family::V3_1 {
            pairs.push(("tenantCode".into(), "etl".into()));
        }
        pairs
    }

    pub async fn create_definition(&self, pc: i64, name: &str, tasks: &Value, relations: &Value) -> Answer {
        self.post(&self.definition_base(pc), &self.definition_form(name, tasks, relations)).await
    }

    /// A one-task SHELL workflow; returns (definition code, task code).
    pub async fn simple_workflow(&self, pc: i64, name: &str) -> (i64, i64) {
        let code = self.gen_codes(pc, 1).await[0];
        let answer =
            self.create_definition(pc, name, &json!([shell(code, "t1", "echo hi")]), &root(&[code])).await;
        assert_eq!(answer.status, 201);
        (answer.data()["code"].as_i64().unwrap(), code)
    }

    pub async fn release(&self, pc: i64, code: i64, state: &str) -> Answer {
        let path = format!("{}/{code}/release", self.definition_base(pc));
        self.post(&path, &form(&[("releaseState", state)])).await
    }

    pub async fn start_run(&self, pc: i64, code: i64, start_params: &str) -> Answer {
        self.start_run_with(pc, code, &[("warningType", "NONE"), ("startParams", start_params)]).await
    }

    /// A start with `extra` parameters (`warningType` is required).
    pub async fn start_run_with(&self, pc: i64, code: i64, extra: &[(&str, &str)]) -> Answer {
        self.send(self.start_request(pc, code, extra)).await.expect("POST")
    }

    /// The request of [`Ds::start_run_with`], to send it yourself.
    pub fn start_request(&self, pc: i64, code: i64, extra: &[(&str, &str)]) -> reqwest::RequestBuilder {
        let path = match self.family {
            Family::V3_3 => format!("projects/{pc}/executors/start-workflow-instance"),
            _ => format!("projects/{pc}/executors/start-process-instance"),
        };
        let mut pairs = form(&[
            (self.definition_param(), &code.to_string()),
            ("scheduleTime", ""),
            ("failureStrategy", "END"),
        ]);
        pairs.extend(form(extra));
        if self.family != Family::V3_1 {
            pairs.push(("tenantCode".into(), "etl".into()));
        }
        self.http.post(self.url(&path)).header("token", &self.token).form(&pairs)
    }

    pub fn schedule_form(&self, code: Option<i64>, cron: &str) -> Vec<(String, String)> {
        let schedule = json!({
            "startTime": "2024-01-01 00:00:00", "endTime": "2124-01-01 00:00:00",
            "crontab": cron, "timezoneId": "UTC",
        });
        let mut pairs = form(&[("schedule", &schedule.to_string()), ("warningType", "NONE")]);
        if let Some(code) = code {
            pairs.push((self.definition_param().into(), code.to_string()));
        }
        pairs
    }
}

pub fn shell(code: i64, name: &str, script: &str) -> Value {
    json!({
        "code": code, "version": 0, "name": name, "description": "", "taskType": "SHELL",
        "taskParams": {"rawScript": script, "localParams": [], "resourceList": []},
        "flag": "YES", "taskPriority": "MEDIUM", "workerGroup": "default", "failRetryTimes": 0,
        "failRetryInterval": 1, "timeoutFlag": "CLOSE", "timeout": 0, "delayTime": 0,
    })
}

/// Relations making every code a root.
pub fn root(codes: &[i64]) -> Value {
    Value::Array(codes.iter().map(|c| edge(0, *c)).collect())
}

pub fn edge(pre: i64, post: i64) -> Value {
    json!({"name": "", "preTaskCode": pre, "preTaskVersion": 0, "postTaskCode": post, "postTaskVersion": 0,
           "conditionType": "NONE", "conditionParams": {}})
}

/// Polls until `probe` returns Some (or fails after ~3 s).
pub async fn eventually<T, F, Fut>(mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    for _ in 0..150 {
        if let Some(value) = probe().await {
            return value;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("condition not reached in time");
}

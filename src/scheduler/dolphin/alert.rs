//! What DolphinScheduler's HTTP alert plugin delivers to a webhook (§11), read into run hints.
//!
//! DS sends the alert *content* — a JSON array of alert elements, serialized into a string — wrapped
//! differently per release: 3.1/3.2 put it under the configured `contentField` of the `bodyParams`
//! object and send `text/plain` (§11.3, §11.4); 3.3+ substitute `${msg}` in the body template and send
//! `application/json`, or `application/x-www-form-urlencoded` with a JSON body all the same (§11.5);
//! GET deliveries carry it in the query string. The element fields are `process*` on 3.1/3.2 and
//! `workflow*` on 3.3+ (§11.2, §11.2a).
//!
//! A delivery is only a hint: the receiver confirms every instance by reading it, and keeps polling
//! because deliveries can be late, repeated, reordered or missing (§11.1, §11.7). So the parser accepts
//! whatever arrives, never fails and never panics; what it cannot read is [`AlertKind::Other`] with a
//! note for the logs.

use std::borrow::Cow;

use serde_json::{Map, Value};

/// Bodies (and query strings) longer than this are not read: DS alert content is a few KiB at most,
/// even for a failure listing every task.
pub const MAX_BODY: usize = 1 << 20;

/// At most this many hints are kept from one delivery; the rest are dropped (and counted in the note).
pub const MAX_HINTS: usize = 1000;

/// How many times a value may be JSON-encoded inside a string (3.1/3.2 encode the content once; a
/// misconfigured template can add a layer) before the parser gives up on it.
const MAX_LAYERS: u8 = 4;

/// Longest excerpt of the input quoted in a note.
const EXCERPT: usize = 60;

/// What one webhook delivery says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    /// What kind of delivery it is.
    pub kind: AlertKind,
    /// The workflow instances it is about, in the order of the content's elements; at most
    /// [`MAX_HINTS`]. Non-empty exactly when `kind` is [`AlertKind::Runs`].
    pub hints: Vec<RunHint>,
    /// How the delivery was read, for the logs: why it is not usable, or what was skipped. `None` when
    /// there is nothing to add.
    pub note: Option<String>,
}

/// The kinds of deliveries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AlertKind {
    /// No content: an empty body, an empty content string or an empty array. 3.1/3.2 send this for a
    /// PAUSE and for the STOP of a serial workflow (§11.2a), so it names no instance.
    Empty,
    /// At least one element names a workflow instance: see [`Alert::hints`].
    Runs,
    /// The "test send" message of the alert instance page (3.2.1+).
    Test,
    /// The sender's template was not substituted (the literal `$msg`, `${msg}` or another
    /// placeholder arrived): the alert instance is misconfigured and will never carry content (§11.2a).
    Misconfigured,
    /// Anything else: timeout, fault-tolerance, server-down or data-quality alerts without an instance
    /// id, JSON of an unknown shape, a body that is not JSON, or one over [`MAX_BODY`].
    Other,
}

/// One workflow instance an alert is about. It is a hint, not a fact: the receiver confirms it by
/// reading the instance.
///
/// 3.1/3.2 failure alerts have one element per task that did not succeed and no workflow state; a
/// task element's times and host are the task's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunHint {
    /// `processId` (3.1/3.2) or `workflowInstanceId` (3.3+); always positive.
    pub workflow_instance_id: i64,
    /// `processDefinitionCode` or `workflowDefinitionCode`.
    pub definition_code: Option<i64>,
    /// `projectCode`.
    pub project_code: Option<i64>,
    /// `processState` or `workflowExecutionStatus` as sent (e.g. `SUCCESS`); absent on 3.1/3.2 failure
    /// elements and dropped from timeout alerts, which report the state at the time of the timeout.
    pub workflow_state: Option<String>,
    /// `taskCode` of a task element.
    pub task_code: Option<i64>,
    /// `taskName` of a task element.
    pub task_name: Option<String>,
    /// `taskState` of a task element (e.g. `FAILURE`, `KILL`).
    pub task_state: Option<String>,
    /// `processStartTime` / `workflowStartTime`, else `taskStartTime` (`yyyy-MM-dd HH:mm:ss`, the
    /// master's time zone).
    pub start_time: Option<String>,
    /// `processEndTime` / `workflowEndTime`, else `taskEndTime`.
    pub end_time: Option<String>,
    /// `processHost` / `workflowHost` (the master), else `taskHost` (the worker).
    pub host: Option<String>,
    /// `logPath` of a task element.
    pub log_path: Option<String>,
}

/// Reads one delivery: its raw body, its `Content-Type` header and its query string (without `?`).
///
/// The content is looked for in the body first — a JSON object's fields (preferring `content`, then
/// `msg`, then any field holding alert elements), a form's fields, or the body itself when it is the
/// array — then in the query string's parameters.
pub fn parse_alert(body: &[u8], content_type: Option<&str>, query: Option<&str>) -> Alert {
    if body.len() > MAX_BODY {
        return Alert::other(format!("body of {} bytes is over the {MAX_BODY}-byte limit", body.len()));
    }
    let query = query.unwrap_or_default();
    if query.len() > MAX_BODY {
        return Alert::other(format!("query of {} bytes is over the {MAX_BODY}-byte limit", query.len()));
    }
    let (mut fields, body_problem) = match body_fields(body, content_type) {
        Ok(fields) => (fields, None),
        Err(problem) => (Vec::new(), Some(problem)),
    };
    let body_empty = body_problem.is_none() && fields.is_empty();
    let query = query.strip_prefix('?').unwrap_or(query);
    fields.extend(form_fields(query, Origin::Query));
    match pick(fields) {
        Some(field) => read_field(field),
        None => match body_problem {
            Some(problem) => Alert::other(problem),
            None if body_empty => Alert { kind: AlertKind::Empty, hints: Vec::new(), note: None },
            None => Alert::other("no field carries alert content".to_owned()),
        },
    }
}

impl Alert {
    /// The instances the alert names, each once, in the order they first appear.
    pub fn instance_ids(&self) -> Vec<i64> {
        let mut ids: Vec<i64> = Vec::new();
        for hint in &self.hints {
            if !ids.contains(&hint.workflow_instance_id) {
                ids.push(hint.workflow_instance_id);
            }
        }
        ids
    }

    fn other(note: String) -> Self {
        Alert { kind: AlertKind::Other, hints: Vec::new(), note: Some(note) }
    }
}

/// Where a field came from, for notes.
#[derive(Clone, Copy)]
enum Origin {
    /// The body as a whole.
    Body,
    /// A field of a JSON object body.
    Json,
    /// A field of a form-encoded body.
    Form,
    /// A query-string parameter.
    Query,
}

/// What a field holds, once strings holding JSON are decoded.
enum Carrier {
    /// A JSON array or object: the content itself.
    Json(Value),
    /// An empty string or null.
    Empty,
    /// An unsubstituted template placeholder (quoted, shortened).
    Placeholder(String),
    /// Anything else, and why it is not content.
    Unreadable(String),
}

/// A candidate carrier of the content.
struct Field {
    /// `None` for the body as a whole.
    name: Option<String>,
    origin: Origin,
    carrier: Carrier,
}

impl Field {
    fn describe(&self) -> String {
        match (&self.name, self.origin) {
            (Some(name), Origin::Query) => format!("query parameter {:?}", excerpt(name)),
            (Some(name), Origin::Form) => format!("form field {:?}", excerpt(name)),
            (Some(name), _) => format!("field {:?}", excerpt(name)),
            (None, _) => "the body".to_owned(),
        }
    }
}

/// The candidate fields of the body, or why it cannot be read at all.
fn body_fields(body: &[u8], content_type: Option<&str>) -> Result<Vec<Field>, String> {
    let text = std::str::from_utf8(body).map_err(|e| format!("body is not UTF-8 ({e})"))?;
    let text = trim(text);
    if text.is_empty() {
        return Ok(Vec::new());
    }
    let whole = |carrier| vec![Field { name: None, origin: Origin::Body, carrier }];
    if text.starts_with(['{', '[', '"']) {
        // 3.3+ send JSON even under a form content type, and 3.1/3.2 as text/plain: the body's first
        // character, not its declared type, says whether it is JSON.
        return match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => Ok(object_fields(map)),
            Ok(value) => Ok(whole(classify(value, 0))),
            Err(e) => Err(format!("body is not valid JSON ({e})")),
        };
    }
    if text.contains('=') {
        return Ok(form_fields(text, Origin::Form));
    }
    match classify_text(text, 0) {
        Carrier::Unreadable(_) => {
            let declared = content_type.map_or(String::new(), |t| format!(" (declared {:?})", excerpt(t)));
            Err(format!("body{declared} is neither JSON nor a form: {:?}", excerpt(text)))
        }
        carrier => Ok(whole(carrier)),
    }
}

/// The fields of a JSON object body, plus the object itself when it names an instance (a sender that
/// posts one element bare). Other alert keys are not enough: `bodyParams` may well hold an `event`.
fn object_fields(map: Map<String, Value>) -> Vec<Field> {
    let itself = hint_of(&map).is_some().then(|| Value::Object(map.clone()));
    let mut fields: Vec<Field> = map
        .into_iter()
        .map(|(name, value)| Field { name: Some(name), origin: Origin::Json, carrier: classify(value, 0) })
        .collect();
    if let Some(element) = itself {
        fields.push(Field { name: None, origin: Origin::Body, carrier: Carrier::Json(element) });
    }
    fields
}

fn form_fields(text: &str, origin: Origin) -> Vec<Field> {
    url::form_urlencoded::parse(text.as_bytes())
        .map(|(name, value)| Field {
            name: Some(name.into_owned()),
            origin,
            carrier: classify_text(&value, 0),
        })
        .collect()
}

/// Chooses the field carrying the content: one holding alert elements (under `content`, then `msg`,
/// then any name), else `content` or `msg` whatever they hold, else the body itself or the first
/// field holding JSON, nothing or a placeholder.
fn pick(mut fields: Vec<Field>) -> Option<Field> {
    let rank = |field: &Field| match field.name.as_deref() {
        Some("content") => 0,
        Some("msg") => 1,
        Some(_) => 2,
        None => 3,
    };
    let with_elements = fields
        .iter()
        .enumerate()
        .filter(|(_, f)| matches!(&f.carrier, Carrier::Json(v) if holds_alert_elements(v)))
        .min_by_key(|(i, f)| (rank(f), *i))
        .map(|(i, _)| i);
    let named = || {
        let by_name = |name: &str| fields.iter().position(|f| f.name.as_deref() == Some(name));
        by_name("content").or_else(|| by_name("msg"))
    };
    let whole = || fields.iter().position(|f| f.name.is_none());
    let meaningful = || fields.iter().position(|f| !matches!(f.carrier, Carrier::Unreadable(_)));
    let index = with_elements.or_else(named).or_else(whole).or_else(meaningful)?;
    Some(fields.swap_remove(index))
}

fn read_field(field: Field) -> Alert {
    let what = field.describe();
    match field.carrier {
        Carrier::Json(content) => read_content(content, &what),
        Carrier::Empty => Alert { kind: AlertKind::Empty, hints: Vec::new(), note: None },
        Carrier::Placeholder(placeholder) => Alert {
            kind: AlertKind::Misconfigured,
            hints: Vec::new(),
            note: Some(format!(
                "{what} holds the unsubstituted placeholder {placeholder}: the alert instance's \
                 template is wrong (3.3+ substitute only `${{msg}}`, in a quoted JSON string)"
            )),
        },
        Carrier::Unreadable(why) => Alert::other(format!("{what} is {why}")),
    }
}

/// Reads the content: an array of alert elements (or one bare element).
fn read_content(content: Value, what: &str) -> Alert {
    let elements = match content {
        Value::Array(elements) => elements,
        other => vec![other],
    };
    let total = elements.len();
    let mut hints = Vec::new();
    let (mut about_runs, mut test, mut skipped) = (0_usize, false, 0_usize);
    let mut events: Vec<String> = Vec::new();
    for element in elements {
        // An element may itself be double-encoded.
        let element = match element {
            Value::String(text) => match classify_text(&text, 1) {
                Carrier::Json(value) => value,
                _ => Value::String(text),
            },
            other => other,
        };
        let Value::Object(map) = element else {
            skipped += 1;
            continue;
        };
        if let Some(event) = text_of(&map, &["event"]).filter(|_| events.len() < 3)
            && !events.contains(&event)
        {
            events.push(event);
        }
        if let Some(hint) = hint_of(&map) {
            about_runs += 1;
            if hints.len() < MAX_HINTS {
                hints.push(hint);
            }
        } else if is_test_message(&map) {
            test = true;
        } else {
            skipped += 1;
        }
    }
    let events_note = (!events.is_empty()).then(|| format!("event {}", events.join(", ")));
    if !hints.is_empty() {
        let mut notes = Vec::new();
        if about_runs > hints.len() {
            notes.push(format!("kept the first {} of {about_runs} instance elements", hints.len()));
        }
        if skipped > 0 {
            notes.push(format!("skipped {skipped} element(s) naming no workflow instance"));
        }
        notes.extend(events_note);
        let note = (!notes.is_empty()).then(|| notes.join("; "));
        return Alert { kind: AlertKind::Runs, hints, note };
    }
    if test {
        return Alert { kind: AlertKind::Test, hints, note: None };
    }
    if total == 0 {
        return Alert { kind: AlertKind::Empty, hints, note: Some(format!("{what} is an empty array")) };
    }
    let note = match events_note {
        Some(events) => format!("{what}: {events} without a workflow instance id"),
        None => format!("{what}: {total} element(s), none naming a workflow instance"),
    };
    Alert::other(note)
}

/// The hint of an element naming a workflow instance (`processId` or `workflowInstanceId`).
fn hint_of(map: &Map<String, Value>) -> Option<RunHint> {
    let id = int_of(map, &["processId", "workflowInstanceId"]).filter(|id| *id > 0)?;
    // Timeout alerts (`event: TIME_OUT`) carry the state at the time of the timeout, not an outcome.
    let timeout = map.get("event").is_some_and(|e| !e.is_null());
    Some(RunHint {
        workflow_instance_id: id,
        definition_code: int_of(map, &["processDefinitionCode", "workflowDefinitionCode"]),
        project_code: int_of(map, &["projectCode"]),
        workflow_state: text_of(map, &["processState", "workflowExecutionStatus"]).filter(|_| !timeout),
        task_code: int_of(map, &["taskCode"]),
        task_name: text_of(map, &["taskName"]),
        task_state: text_of(map, &["taskState"]),
        start_time: text_of(map, &["processStartTime", "workflowStartTime", "taskStartTime"]),
        end_time: text_of(map, &["processEndTime", "workflowEndTime", "taskEndTime"]),
        host: text_of(map, &["processHost", "workflowHost", "taskHost"]),
        log_path: text_of(map, &["logPath"]),
    })
}

/// The first of `keys` holding an integer (a JSON number or a numeric string) that fits an i64.
fn int_of(map: &Map<String, Value>, keys: &[&str]) -> Option<i64> {
    keys.iter().find_map(|key| match map.get(*key)? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    })
}

/// The first of `keys` holding a non-blank string (or a number, as text).
fn text_of(map: &Map<String, Value>, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|key| match map.get(*key)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    })
}

/// Field names of DS alert elements (§11.2), to tell alert content from other JSON.
const ELEMENT_KEYS: [&str; 18] = [
    "processId",
    "workflowInstanceId",
    "processDefinitionCode",
    "workflowDefinitionCode",
    "processName",
    "workflowInstanceName",
    "processState",
    "workflowExecutionStatus",
    "projectCode",
    "taskCode",
    "taskName",
    "taskState",
    "event",
    "warnLevel",
    "warningLevel",
    "message",
    "processInstanceId",
    "ruleName",
];

fn is_alert_element(map: &Map<String, Value>) -> bool {
    ELEMENT_KEYS.iter().any(|key| map.contains_key(*key))
}

fn holds_alert_elements(value: &Value) -> bool {
    match value {
        Value::Array(elements) => elements.iter().any(|e| e.as_object().is_some_and(is_alert_element)),
        Value::Object(map) => is_alert_element(map),
        _ => false,
    }
}

/// The "test send" element: `{"message":" This is a test alert message form DolphinScheduler"}`.
fn is_test_message(map: &Map<String, Value>) -> bool {
    map.get("message")
        .and_then(Value::as_str)
        .is_some_and(|m| m.to_ascii_lowercase().contains("test alert message"))
}

fn classify(value: Value, layers: u8) -> Carrier {
    match value {
        Value::Null => Carrier::Empty,
        Value::Array(_) | Value::Object(_) => Carrier::Json(value),
        Value::Bool(b) => Carrier::Unreadable(format!("the boolean {b}, not alert content")),
        Value::Number(n) => Carrier::Unreadable(format!("the number {n}, not alert content")),
        Value::String(text) => classify_text(&text, layers),
    }
}

/// Reads a string value: empty, JSON (decoded, up to `MAX_LAYERS` times), a placeholder, or text.
fn classify_text(text: &str, layers: u8) -> Carrier {
    let text = trim(text);
    if text.is_empty() {
        return Carrier::Empty;
    }
    let mut problem = Cow::Borrowed("not JSON");
    if text.starts_with(['[', '{', '"']) {
        if layers >= MAX_LAYERS {
            return Carrier::Unreadable(format!("JSON encoded in a string more than {MAX_LAYERS} times"));
        }
        match serde_json::from_str::<Value>(text) {
            Ok(value) => return classify(value, layers + 1),
            Err(e) => problem = Cow::Owned(format!("not valid JSON ({e})")),
        }
    }
    if is_placeholder(text) {
        Carrier::Placeholder(format!("{:?}", excerpt(text)))
    } else {
        Carrier::Unreadable(format!("{problem}: {:?}", excerpt(text)))
    }
}

/// The documented-but-wrong `$msg`, an unreplaced `${msg}`, or any lone `$name` / `${name}` template.
fn is_placeholder(text: &str) -> bool {
    let lone =
        text.strip_prefix("${").and_then(|rest| rest.strip_suffix('}')).or_else(|| text.strip_prefix('$'));
    let lone = lone.is_some_and(|name| {
        (1..=64).contains(&name.len())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
    });
    lone || text.contains("$msg") || text.contains("${msg}")
}

fn trim(text: &str) -> &str {
    text.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}')
}

/// The start of `text`, for notes.
fn excerpt(text: &str) -> Cow<'_, str> {
    match text.char_indices().nth(EXCERPT) {
        Some((end, _)) => Cow::Owned(format!("{}…", &text[..end])),
        None => Cow::Borrowed(text),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    const TEXT_PLAIN: Option<&str> = Some("text/plain; charset=UTF-8");
    const JSON: Option<&str> = Some("application/json; charset=utf-8");
    const FORM: Option<&str> = Some("application/x-www-form-urlencoded");

    /// The 3.1/3.2 success example of §11.2.
    const SUCCESS_3_1: &str = r#"[{"projectCode":1234,"projectName":"p","owner":"admin","processId":42,"processDefinitionCode":5678,
  "processName":"wf-1-20240101120000123","processType":"START_PROCESS","processState":"SUCCESS",
  "recovery":"NO","runTimes":1,"processStartTime":"2024-01-01 12:00:00",
  "processEndTime":"2024-01-01 12:00:09","processHost":"10.0.0.5:5678"}]"#;

    /// A 3.2 failure: one element per task that did not succeed (§11.2, §11.2a), with `modifyBy` and
    /// `taskPriority`.
    const FAILURE_3_2: &str = r#"[{"projectCode":1234,"projectName":"p","owner":"admin","processId":43,
  "processDefinitionCode":5678,"processName":"wf-1-20240101130000000","modifyBy":"admin","taskCode":111,
  "taskName":"extract","taskType":"SHELL","taskState":"FAILURE","taskStartTime":"2024-01-01 13:00:00",
  "taskEndTime":"2024-01-01 13:00:04","taskHost":"10.0.0.7:1234","taskPriority":"medium",
  "logPath":"/opt/ds/logs/1.log"},
 {"projectCode":1234,"projectName":"p","owner":"admin","processId":43,"processDefinitionCode":5678,
  "processName":"wf-1-20240101130000000","modifyBy":"admin","taskCode":222,"taskName":"load",
  "taskType":"SHELL","taskState":"KILL","taskStartTime":"2024-01-01 13:00:00",
  "taskEndTime":"2024-01-01 13:00:05","taskHost":"10.0.0.7:1234","taskPriority":"medium",
  "logPath":"/opt/ds/logs/2.log"}]"#;

    const TEST_MESSAGE: &str = r#"[{"message":" This is a test alert message form DolphinScheduler"}]"#;

    fn hint(id: i64) -> RunHint {
        RunHint {
            workflow_instance_id: id,
            definition_code: None,
            project_code: None,
            workflow_state: None,
            task_code: None,
            task_name: None,
            task_state: None,
            start_time: None,
            end_time: None,
            host: None,
            log_path: None,
        }
    }

    fn some(s: &str) -> Option<String> {
        Some(s.to_owned())
    }

    /// `{"content":"<content>"}`, the body both plugin generations send by default.
    fn wrapped(content: &str) -> Vec<u8> {
        json!({ "content": content }).to_string().into_bytes()
    }

    fn encode(text: &str) -> String {
        url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
    }

    /// A 3.3+ workflow-level element (after upstream PR #17309, §11.2a).
    fn element_3_3(id: i64, state: &str) -> Value {
        json!({
            "projectCode": 1234, "projectName": "p", "workflowInstanceId": id,
            "workflowDefinitionCode": 5678, "workflowInstanceName": "wf-1-20240101120000123",
            "commandType": "START_PROCESS", "workflowExecutionStatus": state, "modifyBy": "admin",
            "recovery": "NO", "runTimes": 1, "workflowStartTime": "2024-01-01 12:00:00",
            "workflowEndTime": "2024-01-01 12:00:09", "workflowHost": "10.0.0.5:5678",
        })
    }

    fn assert_runs(alert: &Alert) -> &[RunHint] {
        assert_eq!(alert.kind, AlertKind::Runs, "{alert:?}");
        &alert.hints
    }

    #[test]
    fn reads_a_3_1_success_sent_as_text_plain() {
        let alert = parse_alert(&wrapped(SUCCESS_3_1), TEXT_PLAIN, None);
        let expected = RunHint {
            definition_code: Some(5678),
            project_code: Some(1234),
            workflow_state: some("SUCCESS"),
            start_time: some("2024-01-01 12:00:00"),
            end_time: some("2024-01-01 12:00:09"),
            host: some("10.0.0.5:5678"),
            ..hint(42)
        };
        assert_eq!(alert, Alert { kind: AlertKind::Runs, hints: vec![expected], note: None });
    }

    #[test]
    fn reads_a_failure_as_one_hint_per_task_in_order() {
        for content in [FAILURE_3_2.to_owned(), FAILURE_3_2.replace(r#""taskPriority":"medium","#, "")] {
            let alert = parse_alert(&wrapped(&content), TEXT_PLAIN, None);
            let hints = assert_runs(&alert);
            let first = RunHint {
                definition_code: Some(5678),
                project_code: Some(1234),
                task_code: Some(111),
                task_name: some("extract"),
                task_state: some("FAILURE"),
                start_time: some("2024-01-01 13:00:00"),
                end_time: some("2024-01-01 13:00:04"),
                host: some("10.0.0.7:1234"),
                log_path: some("/opt/ds/logs/1.log"),
                ..hint(43)
            };
            assert_eq!(hints[0], first);
            assert_eq!(hints.len(), 2);
            assert_eq!(
                (hints[1].task_name.as_deref(), hints[1].task_state.as_deref()),
                (Some("load"), Some("KILL"))
            );
            assert!(hints.iter().all(|h| h.workflow_instance_id == 43 && h.workflow_state.is_none()));
            assert_eq!(alert.instance_ids(), [43], "two task elements name one instance");
        }
    }

    #[test]
    fn reads_3_3_elements_of_every_outcome() {
        for (id, state) in [(7, "SUCCESS"), (8, "FAILURE"), (9, "STOP"), (10, "PAUSE")] {
            let content = json!([element_3_3(id, state)]).to_string();
            let alert = parse_alert(&wrapped(&content), JSON, None);
            let expected = RunHint {
                definition_code: Some(5678),
                project_code: Some(1234),
                workflow_state: some(state),
                start_time: some("2024-01-01 12:00:00"),
                end_time: some("2024-01-01 12:00:09"),
                host: some("10.0.0.5:5678"),
                ..hint(id)
            };
            assert_eq!(alert, Alert { kind: AlertKind::Runs, hints: vec![expected], note: None });
        }
    }

    #[test]
    fn reads_every_wire_shape() {
        let element = element_3_3(11, "SUCCESS");
        let content = json!([element]).to_string();
        let form_body = format!("content={}", encode(&content));
        let cases: Vec<(&str, Vec<u8>, Option<&str>)> = vec![
            // 3.3+ with contentType application/x-www-form-urlencoded still sends a JSON body.
            ("json under a form type", wrapped(&content), FORM),
            ("a real form body", form_body.clone().into_bytes(), FORM),
            ("a form body without its type", form_body.into_bytes(), None),
            ("the array as the body", content.clone().into_bytes(), TEXT_PLAIN),
            ("the content as an array", json!({ "content": [element] }).to_string().into_bytes(), JSON),
            ("double encoding", wrapped(&json!(content).to_string()), TEXT_PLAIN),
            ("a BOM and blanks", [&b"\xef\xbb\xbf \n"[..], &wrapped(&content), b"\n"].concat(), JSON),
            (
                "bodyParams and another field name",
                json!({ "source": "ds", "token": "x", "payload": content }).to_string().into_bytes(),
                TEXT_PLAIN,
            ),
            ("msg", json!({ "msg": content }).to_string().into_bytes(), JSON),
            ("one bare element", element.to_string().into_bytes(), JSON),
            ("an element encoded in the array", wrapped(&json!([element.to_string()]).to_string()), JSON),
        ];
        // GET: the content in the query string (3.1 appends `?<contentField>=`, 3.3+ fill `${msg}`).
        let queries =
            [format!("token=s3cret&content={}", encode(&content)), format!("?alert={}", encode(&content))];
        let gets = queries.iter().map(|query| parse_alert(b"", None, Some(query)));
        let posts = cases.iter().map(|(_, body, content_type)| parse_alert(body, *content_type, None));
        let names = cases.iter().map(|(what, ..)| *what).chain(["GET", "GET ?"]);
        for (what, alert) in names.zip(posts.chain(gets)) {
            assert_eq!(alert.kind, AlertKind::Runs, "{what}: {alert:?}");
            assert_eq!(alert.hints.len(), 1, "{what}");
            assert_eq!(alert.hints[0].workflow_instance_id, 11, "{what}");
            assert_eq!(alert.hints[0].workflow_state.as_deref(), Some("SUCCESS"), "{what}");
        }
    }

    #[test]
    fn prefers_content_then_msg_then_any_field_with_elements() {
        let element = |id: i64| json!([{ "processId": id }]).to_string();
        let body = json!({ "a": element(1), "msg": element(2), "content": element(3) }).to_string();
        assert_eq!(assert_runs(&parse_alert(body.as_bytes(), None, None))[0].workflow_instance_id, 3);
        let body = json!({ "a": element(1), "msg": element(2) }).to_string();
        assert_eq!(assert_runs(&parse_alert(body.as_bytes(), None, None))[0].workflow_instance_id, 2);
        // A content field that holds no elements loses to a field that does...
        let body = json!({ "content": "", "data": element(4) }).to_string();
        assert_eq!(assert_runs(&parse_alert(body.as_bytes(), None, None))[0].workflow_instance_id, 4);
        // ...and a JSON string of another kind does not hide the placeholder.
        let body = json!({ "content": "$msg", "meta": "{\"a\":1}" }).to_string();
        assert_eq!(parse_alert(body.as_bytes(), JSON, None).kind, AlertKind::Misconfigured);
        // The body wins over the query string.
        let query = format!("content={}", encode(&element(6)));
        assert_eq!(
            assert_runs(&parse_alert(&wrapped(&element(5)), None, Some(&query)))[0].workflow_instance_id,
            5
        );
    }

    #[test]
    fn reads_3_2_global_events() {
        // TASK_END of a global alert instance: task fields, no workflow state (§11.4).
        let task_end = r#"[{"projectCode":1234,"projectName":"p","owner":"admin","processId":44,
            "processDefinitionCode":5678,"processName":"wf-1-x","taskCode":111,"taskName":"extract",
            "taskType":"SHELL","taskState":"SUCCESS","taskStartTime":"2024-01-01 13:00:00",
            "taskEndTime":"2024-01-01 13:00:04","taskHost":"10.0.0.7:1234","logPath":"/l/1.log"}]"#;
        let hints = parse_alert(&wrapped(task_end), TEXT_PLAIN, None).hints;
        let expected = RunHint {
            definition_code: Some(5678),
            project_code: Some(1234),
            task_code: Some(111),
            task_name: some("extract"),
            task_state: some("SUCCESS"),
            start_time: some("2024-01-01 13:00:00"),
            end_time: some("2024-01-01 13:00:04"),
            host: some("10.0.0.7:1234"),
            log_path: some("/l/1.log"),
            ..hint(44)
        };
        assert_eq!(hints, vec![expected]);
        // PROCESS_START: a workflow element with a running state.
        let start = r#"[{"projectCode":1234,"processId":45,"processDefinitionCode":5678,
            "processState":"RUNNING_EXECUTION","processStartTime":"2024-01-01 13:00:00"}]"#;
        let hints = parse_alert(&wrapped(start), TEXT_PLAIN, None).hints;
        assert_eq!(hints[0].workflow_state.as_deref(), Some("RUNNING_EXECUTION"));
    }

    #[test]
    fn timeouts_and_fault_tolerance_with_an_instance_are_hints_without_state() {
        // A workflow timeout reports the state at the time of the timeout; it is dropped.
        let process = r#"[{"projectCode":1234,"projectName":"p","owner":"admin","processId":46,
            "processDefinitionCode":5678,"processName":"wf","processType":"START_PROCESS",
            "processState":"RUNNING_EXECUTION","runTimes":1,"processStartTime":"2024-01-01 13:00:00",
            "processHost":"10.0.0.5:5678","event":"TIME_OUT","warnLevel":"MIDDLE"}]"#;
        let alert = parse_alert(&wrapped(process), TEXT_PLAIN, None);
        let hints = assert_runs(&alert);
        assert_eq!((hints[0].workflow_instance_id, hints[0].workflow_state.as_deref()), (46, None));
        assert_eq!(alert.note.as_deref(), Some("event TIME_OUT"));
        let task = r#"[{"projectCode":1234,"workflowInstanceId":47,"workflowDefinitionCode":5678,
            "taskCode":111,"taskName":"extract","taskType":"SHELL","taskStartTime":"2024-01-01 13:00:00",
            "taskHost":"10.0.0.7:1234","event":"TIME_OUT","warnLevel":"MIDDLE"}]"#;
        let alert = parse_alert(&wrapped(task), JSON, None);
        let hints = assert_runs(&alert);
        assert_eq!(
            (hints[0].task_code, hints[0].task_state.as_deref(), hints[0].end_time.as_deref()),
            (Some(111), None, None)
        );
        let tolerance = r#"[{"processId":48,"processDefinitionCode":5678,"processName":"wf","modifyBy":"admin",
            "taskCode":111,"taskName":"extract","taskHost":"10.0.0.7:1234","retryTimes":1}]"#;
        let hints = parse_alert(&wrapped(tolerance), TEXT_PLAIN, None).hints;
        assert_eq!((hints[0].workflow_instance_id, hints[0].host.as_deref()), (48, Some("10.0.0.7:1234")));
    }

    #[test]
    fn alerts_naming_no_instance_are_other() {
        let server_down =
            r#"[{"type":"WORKER","host":"10.0.0.7:1234","event":"SERVER_DOWN","warningLevel":"SERIOUS"}]"#;
        let alert = parse_alert(&wrapped(server_down), TEXT_PLAIN, None);
        assert_eq!(alert.kind, AlertKind::Other);
        assert!(alert.note.as_deref().unwrap().contains("SERVER_DOWN"), "{alert:?}");
        // Data quality results are one bare object naming the instance otherwise.
        let quality = r#"{"processDefinitionId":1,"processInstanceId":49,"taskName":"dq","ruleName":"null check","state":1}"#;
        assert_eq!(parse_alert(&wrapped(quality), TEXT_PLAIN, None).kind, AlertKind::Other);
        let unknown = parse_alert(&wrapped(r#"[{"foo":1}]"#), JSON, None);
        assert_eq!(unknown.kind, AlertKind::Other);
        assert!(unknown.note.is_some());
        // Ids that are not positive i64s name nothing.
        for id in [
            "0",
            "-3",
            "\"abc\"",
            "1.5",
            "9223372036854775808",
            "1e30",
            "123456789012345678901234567890",
            "null",
            "true",
            "[1]",
        ] {
            let content = format!(r#"[{{"processId":{id},"processState":"SUCCESS"}}]"#);
            let alert = parse_alert(&wrapped(&content), JSON, None);
            assert_eq!(alert.kind, AlertKind::Other, "{id}: {alert:?}");
        }
    }

    #[test]
    fn reads_ids_as_numbers_or_numeric_strings() {
        let content =
            r#"[{"processId":"42","processDefinitionCode":" 5678 ","projectCode":9223372036854775807}]"#;
        let hints = parse_alert(&wrapped(content), TEXT_PLAIN, None).hints;
        assert_eq!(
            (hints[0].workflow_instance_id, hints[0].definition_code, hints[0].project_code),
            (42, Some(5678), Some(i64::MAX))
        );
    }

    #[test]
    fn reads_the_test_message() {
        let alert = parse_alert(&wrapped(TEST_MESSAGE), TEXT_PLAIN, None);
        assert_eq!(alert, Alert { kind: AlertKind::Test, hints: Vec::new(), note: None });
        // Next to a real element, the element wins.
        let mixed = format!("[{},{}]", &TEST_MESSAGE[1..TEST_MESSAGE.len() - 1], json!({ "processId": 5 }));
        assert_eq!(assert_runs(&parse_alert(&wrapped(&mixed), None, None))[0].workflow_instance_id, 5);
    }

    #[test]
    fn empty_content_is_empty() {
        for body in [
            &b""[..],
            b"  \n",
            br#"{"content":""}"#,
            br#"{"content":"  "}"#,
            br#"{"content":null}"#,
            b"[]",
            br#"{"content":"[]"}"#,
        ] {
            let alert = parse_alert(body, TEXT_PLAIN, None);
            assert_eq!(alert.kind, AlertKind::Empty, "{:?}: {alert:?}", String::from_utf8_lossy(body));
            assert!(alert.hints.is_empty());
        }
        assert_eq!(parse_alert(b"", None, Some("content=")).kind, AlertKind::Empty);
        // 3.1 with blank bodyParams sends no body at all, whatever the query holds.
        assert_eq!(parse_alert(b"", None, Some("token=abc")).kind, AlertKind::Empty);
    }

    #[test]
    fn an_unsubstituted_placeholder_is_misconfigured() {
        let cases: [(&[u8], Option<&str>); 6] = [
            (br#"{"content":"$msg"}"#, None),
            (br#"{"content":"${msg}"}"#, None),
            (br#"{"event":"ds","content":"alert: $msg"}"#, None),
            (br#"{"content":"${content}"}"#, None),
            (b"content=%24msg", None),
            (b"", Some("content=%24%7Bmsg%7D")),
        ];
        for (body, query) in cases {
            let alert = parse_alert(body, JSON, query);
            assert_eq!(alert.kind, AlertKind::Misconfigured, "{alert:?}");
            assert!(alert.note.as_deref().unwrap().contains("placeholder"));
        }
    }

    #[test]
    fn unreadable_bodies_are_other_with_a_note() {
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let deep_content = json!({ "content": "[".repeat(10_000) }).to_string();
        let too_big = vec![b' '; MAX_BODY + 1];
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("text", b"hello".to_vec()),
            ("html", b"<html>oops</html>".to_vec()),
            ("not UTF-8", vec![0xff, 0xfe, b'{', 0x80]),
            ("broken JSON", br#"{"content":"#.to_vec()),
            ("broken content", br#"{"content":"[{\"processId\":"}"#.to_vec()),
            ("a number", b"42".to_vec()),
            ("content a number", br#"{"content":42}"#.to_vec()),
            ("content text", br#"{"content":"workflow finished"}"#.to_vec()),
            ("deep nesting", deep.into_bytes()),
            ("deep content", deep_content.into_bytes()),
            ("too big", too_big),
            (
                "encoded too often",
                wrapped(&json!(json!(json!(json!("[]").to_string()).to_string()).to_string()).to_string()),
            ),
        ];
        for (what, body) in cases {
            let alert = parse_alert(&body, TEXT_PLAIN, None);
            assert_eq!(alert.kind, AlertKind::Other, "{what}: {alert:?}");
            assert!(alert.note.is_some(), "{what}");
        }
        let huge_query = "a".repeat(MAX_BODY + 1);
        assert_eq!(parse_alert(b"", None, Some(&huge_query)).kind, AlertKind::Other);
    }

    #[test]
    fn keeps_at_most_max_hints() {
        let elements: Vec<Value> = (1..=1500).map(|id| json!({ "processId": id })).collect();
        let alert = parse_alert(&wrapped(&Value::Array(elements).to_string()), None, None);
        let hints = assert_runs(&alert);
        assert_eq!(hints.len(), MAX_HINTS);
        assert_eq!((hints[0].workflow_instance_id, hints[999].workflow_instance_id), (1, 1000));
        assert!(alert.note.as_deref().unwrap().contains("1000 of 1500"), "{alert:?}");
    }

    // ---- fuzzing ----

    /// Keys of alert bodies and elements, so that random objects often look like alerts.
    const KEYS: &[&str] = &[
        "content",
        "msg",
        "processId",
        "workflowInstanceId",
        "processDefinitionCode",
        "workflowDefinitionCode",
        "projectCode",
        "processState",
        "workflowExecutionStatus",
        "taskCode",
        "taskName",
        "taskState",
        "processStartTime",
        "workflowEndTime",
        "taskHost",
        "logPath",
        "event",
        "message",
        "",
    ];

    const STRINGS: &[&str] = &[
        "",
        " ",
        "$msg",
        "${msg}",
        "[",
        "{}",
        "[]",
        "[{}]",
        "null",
        "SUCCESS",
        "42",
        "-1",
        "9223372036854775808",
        "1e400",
        "\u{feff}[]",
        " This is a test alert message form DolphinScheduler",
        r#"[{"processId":1}]"#,
        r#""[{\"processId\":2}]""#,
    ];

    /// Replaced by an integer literal beyond i64 and u64 once serialized.
    const BIG: &str = "@BIG@";

    fn render(value: &Value) -> String {
        value.to_string().replace(&format!("\"{BIG}\""), "-123456789012345678901234567890")
    }

    fn leaf() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            "[0-9]{1,25}".prop_map(Value::String),
            ".{0,12}".prop_map(Value::String),
            prop::sample::select(STRINGS).prop_map(|s| Value::String(s.to_owned())),
            Just(Value::String(BIG.to_owned())),
        ]
    }

    fn key() -> impl Strategy<Value = String> {
        prop_oneof![3 => prop::sample::select(KEYS).prop_map(str::to_owned), 1 => "[a-zA-Z]{0,6}"]
    }

    fn json_value() -> impl Strategy<Value = Value> {
        leaf().prop_recursive(6, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::vec((key(), inner), 0..6)
                    .prop_map(|pairs| Value::Object(pairs.into_iter().collect())),
            ]
        })
    }

    fn content_type() -> impl Strategy<Value = Option<&'static str>> {
        prop::sample::select(vec![None, TEXT_PLAIN, JSON, FORM, Some(""), Some("text/html")])
    }

    /// What holds for every delivery, however odd.
    fn check(alert: &Alert) -> Result<(), TestCaseError> {
        prop_assert_eq!(alert.kind == AlertKind::Runs, !alert.hints.is_empty(), "{:?}", alert);
        prop_assert!(alert.hints.len() <= MAX_HINTS);
        prop_assert!(alert.hints.iter().all(|h| h.workflow_instance_id > 0));
        if matches!(alert.kind, AlertKind::Other | AlertKind::Misconfigured) {
            prop_assert!(alert.note.is_some(), "{:?}", alert);
        }
        Ok(())
    }

    /// The elements of one alert about instance `id`, in one of the shapes DS sends.
    fn elements(style: u8, id: Value) -> Vec<Value> {
        let common = json!({ "projectCode": 1234, "projectName": "p", "owner": "admin" });
        let with = |extra: Value| {
            let mut element = common.clone();
            if let (Some(map), Value::Object(extra)) = (element.as_object_mut(), extra) {
                map.extend(extra);
            }
            element
        };
        match style % 7 {
            0 => vec![with(json!({
                "processId": id, "processDefinitionCode": 5678, "processName": "wf", "processType": "START_PROCESS",
                "processState": "SUCCESS", "recovery": "NO", "runTimes": 1,
                "processStartTime": "2024-01-01 12:00:00", "processEndTime": "2024-01-01 12:00:09",
                "processHost": "10.0.0.5:5678",
            }))],
            1 => (0..3)
                .map(|n| {
                    with(json!({
                        "processId": id, "processDefinitionCode": 5678, "processName": "wf", "taskCode": n,
                        "taskName": format!("t{n}"), "taskType": "SHELL", "taskState": "FAILURE",
                        "taskPriority": "medium", "logPath": "/l",
                    }))
                })
                .collect(),
            2 => ["SUCCESS", "FAILURE", "STOP", "PAUSE"]
                .iter()
                .map(|state| {
                    with(json!({
                        "workflowInstanceId": id, "workflowDefinitionCode": 5678, "workflowInstanceName": "wf",
                        "commandType": "START_PROCESS", "workflowExecutionStatus": state,
                    }))
                })
                .collect(),
            3 => vec![with(json!({
                "processId": id, "processDefinitionCode": 5678, "processState": "RUNNING_EXECUTION",
                "event": "TIME_OUT", "warnLevel": "MIDDLE",
            }))],
            4 => vec![json!({ "processId": id, "taskCode": 1, "taskName": "t", "retryTimes": 1 })],
            5 => vec![with(json!({
                "processId": id, "processDefinitionCode": 5678, "taskCode": 1, "taskName": "t",
                "taskState": "SUCCESS", "taskStartTime": "2024-01-01 12:00:00",
            }))],
            _ => vec![with(json!({
                "workflowInstanceId": id, "workflowDefinitionCode": 5678, "taskCode": 1, "event": "TIME_OUT",
            }))],
        }
    }

    /// One delivery of `content` in wire shape `shape`: (body, content type, query).
    fn deliver(shape: u8, content: &Value) -> (Vec<u8>, Option<&'static str>, Option<String>) {
        let text = render(content);
        match shape % 11 {
            0 => (wrapped(&text), TEXT_PLAIN, None),
            1 => (
                json!({ "source": "ds", "token": "x", "alertContent": text }).to_string().into_bytes(),
                TEXT_PLAIN,
                None,
            ),
            2 => (wrapped(&text), JSON, None),
            3 => (wrapped(&text), FORM, None),
            4 => (format!("content={}", encode(&text)).into_bytes(), FORM, None),
            5 => (Vec::new(), None, Some(format!("token=x&content={}", encode(&text)))),
            6 => (text.into_bytes(), TEXT_PLAIN, None),
            7 => (json!({ "content": content }).to_string().into_bytes(), JSON, None),
            8 => (wrapped(&json!(text).to_string()), TEXT_PLAIN, None),
            9 => (format!("\u{feff}\r\n {}", json!({ "msg": text })).into_bytes(), None, None),
            _ => (
                json!({ "content": text }).to_string().into_bytes(),
                Some("application/json"),
                Some("a=b".into()),
            ),
        }
    }

    fn extra_element() -> impl Strategy<Value = Option<Value>> {
        prop_oneof![
            Just(None),
            Just(Some(json!({ "message": " This is a test alert message form DolphinScheduler" }))),
            Just(Some(json!({ "type": "MASTER", "host": "h", "event": "SERVER_DOWN" }))),
            json_value().prop_map(Some),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

        #[test]
        fn never_panics_on_arbitrary_bytes(
            body in prop::collection::vec(any::<u8>(), 0..400),
            content_type in content_type(),
            query in proptest::option::of(".{0,40}"),
        ) {
            check(&parse_alert(&body, content_type, query.as_deref()))?;
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

        #[test]
        fn never_panics_on_arbitrary_json(value in json_value(), shape in 0u8..11) {
            let (body, content_type, query) = deliver(shape, &value);
            check(&parse_alert(&body, content_type, query.as_deref()))?;
            check(&parse_alert(render(&value).as_bytes(), JSON, None))?;
        }

        #[test]
        fn never_panics_on_damaged_alerts(
            id in 1i64..=i64::MAX,
            style in 0u8..7,
            shape in 0u8..11,
            edits in prop::collection::vec((0u8..4, prop::sample::select(KEYS), json_value()), 0..6),
            target in any::<prop::sample::Index>(),
            cut in proptest::option::of(any::<prop::sample::Index>()),
        ) {
            let mut elements = elements(style, json!(id));
            for (edit, key, value) in edits {
                let at = target.index(elements.len());
                let element = &mut elements[at];
                match (edit, element.as_object_mut()) {
                    (0, Some(map)) => {
                        map.remove(key);
                    }
                    (1, Some(map)) => {
                        map.insert(key.to_owned(), value);
                    }
                    // Double-encode one field, or the whole element.
                    (2, Some(map)) => {
                        let encoded = map.get(key).map_or_else(|| "null".to_owned(), Value::to_string);
                        map.insert(key.to_owned(), Value::String(encoded));
                    }
                    _ => *element = Value::String(element.to_string()),
                }
            }
            let (mut body, content_type, query) = deliver(shape, &Value::Array(elements));
            if let Some(cut) = cut {
                body.truncate(cut.index(body.len() + 1));
            }
            check(&parse_alert(&body, content_type, query.as_deref()))?;
        }

        #[test]
        fn a_well_formed_alert_names_its_instance(
            id in 1i64..=i64::MAX,
            as_string in any::<bool>(),
            style in 0u8..7,
            shape in 0u8..11,
            before in extra_element(),
            after in extra_element(),
        ) {
            let id_value = if as_string { json!(id.to_string()) } else { json!(id) };
            let mut content: Vec<Value> = before.into_iter().collect();
            content.extend(elements(style, id_value));
            content.extend(after);
            let (body, content_type, query) = deliver(shape, &Value::Array(content));
            let alert = parse_alert(&body, content_type, query.as_deref());
            check(&alert)?;
            prop_assert_eq!(alert.kind, AlertKind::Runs, "{:?}", alert);
            prop_assert!(alert.hints.iter().any(|h| h.workflow_instance_id == id), "{:?}", alert);
        }
    }
}

//! Validation of the JSON-string form fields: task definitions, relations, schedules, crontabs
//! (contract §7.2-§7.5 and §8).

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use crate::family::{Family, Names};
use crate::status::DsError;
use crate::time;

/// One element of `taskDefinitionJson` that passed the checks.
pub(crate) struct TaskInput {
    pub code: i64,
    pub name: String,
    pub task_type: String,
    /// `taskParams`, parsed when it arrived as a JSON string.
    pub params: Value,
    /// The element exactly as sent.
    pub element: Value,
}

/// One element of `taskRelationJson` (§7.4).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Relation {
    pub name: String,
    pub pre: i64,
    pub post: i64,
    pub condition_type: String,
    pub condition_params: Value,
}

/// The `schedule` form field (§8).
pub(crate) struct ScheduleInput {
    pub start_time: String,
    pub end_time: String,
    pub crontab: String,
    pub timezone_id: String,
}

/// Task types the fake knows. DS resolves `taskType` to a plugin; an unknown one throws and surfaces
/// as 10001 (§7.2 step 4). Only SHELL, PYTHON, SQL and DEPENDENT get parameter checks here.
fn known_task_type(family: Family, task_type: &str) -> bool {
    const COMMON: [&str; 10] = [
        "SHELL",
        "SQL",
        "PYTHON",
        "DEPENDENT",
        "HTTP",
        "CONDITIONS",
        "SWITCH",
        "PROCEDURE",
        "SPARK",
        "FLINK",
    ];
    COMMON.contains(&task_type) || task_type == family.sub_workflow_task_type()
}

/// A number as Jackson would bind it to a `long`: a JSON number or a numeric string.
fn as_i64(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn non_empty_str(v: &Value) -> bool {
    v.as_str().is_some_and(|s| !s.trim().is_empty())
}

/// An object-valued field that may also arrive as a JSON string holding the object (§7.3).
fn object_or_string(v: &Value) -> Option<Value> {
    match v {
        Value::Object(_) => Some(v.clone()),
        Value::String(s) => serde_json::from_str::<Value>(s).ok().filter(Value::is_object),
        _ => None,
    }
}

/// Parses an optional JSON-string field (`globalParams`, `locations`, `startParams`). DS swallows bad
/// JSON in these; the fake refuses it (10001) so that client bugs show up in tests.
pub(crate) fn json_field(raw: Option<&str>, name: &str, default: Value) -> Result<Value, DsError> {
    match raw {
        None => Ok(default),
        Some(s) if s.trim().is_empty() => Ok(default),
        Some(s) => serde_json::from_str(s).map_err(|_| DsError::invalid_param(name)),
    }
}

/// The plugin's `checkParameters()` for the checked types (§7.3).
fn params_ok(task_type: &str, params: &Value, datasource_known: &dyn Fn(i64) -> bool) -> bool {
    match task_type {
        "SHELL" | "PYTHON" => non_empty_str(&params["rawScript"]),
        "SQL" => {
            let datasource = as_i64(&params["datasource"]).unwrap_or(0);
            datasource != 0
                && datasource_known(datasource)
                && non_empty_str(&params["type"])
                && non_empty_str(&params["sql"])
        }
        "DEPENDENT" => dependence_ok(&params["dependence"]),
        _ => true,
    }
}

/// `dependence.dependTaskList[*].dependItemList[*]`: at least one item, each naming a project, a
/// definition and a task (`depTaskCode` 0 means "all tasks" in DS, so it only has to be present).
fn dependence_ok(dependence: &Value) -> bool {
    let Some(dependence) = object_or_string(dependence) else { return false };
    let Some(groups) = dependence["dependTaskList"].as_array() else { return false };
    let items: Vec<&Value> = groups.iter().filter_map(|g| g["dependItemList"].as_array()).flatten().collect();
    !items.is_empty()
        && items.iter().all(|item| {
            as_i64(&item["projectCode"]).is_some_and(|c| c != 0)
                && as_i64(&item["definitionCode"]).is_some_and(|c| c != 0)
                && as_i64(&item["depTaskCode"]).is_some()
        })
}

/// Parses and checks `taskDefinitionJson` (§7.2 steps 3-4).
pub(crate) fn parse_tasks(
    family: Family,
    raw: &str,
    code_issued: &dyn Fn(i64) -> bool,
    datasource_known: &dyn Fn(i64) -> bool,
) -> Result<Vec<TaskInput>, DsError> {
    let names = family.names();
    // DS's parser swallows the exception and yields an empty list: both end as 50017.
    let elements = match serde_json::from_str::<Value>(raw) {
        Ok(Value::Array(items)) if !items.is_empty() && items.iter().all(Value::is_object) => items,
        _ => return Err(DsError::data_not_valid(raw)),
    };
    let mut seen = HashSet::new();
    let mut tasks = Vec::with_capacity(elements.len());
    for element in elements {
        let task_type = element["taskType"].as_str().unwrap_or_default().to_string();
        if !known_task_type(family, &task_type) {
            return Err(DsError::invalid_param("taskType"));
        }
        let Some(name) = element["name"].as_str().filter(|n| !n.trim().is_empty()) else {
            return Err(DsError::invalid_param("name"));
        };
        let name = name.to_string();
        let params = object_or_string(&element["taskParams"]);
        let Some(params) = params.filter(|p| params_ok(&task_type, p, datasource_known)) else {
            return Err(DsError::node_param_invalid(names, &name));
        };
        // The fake's strictness: DS accepts any code (and mints one for 0), but a code this fake did
        // not issue through gen-task-codes means the client built its DAG from nothing (§6).
        let code = as_i64(&element["code"]).unwrap_or(0);
        if !code_issued(code) || !seen.insert(code) {
            return Err(DsError::invalid_param(&format!("code {code}")));
        }
        tasks.push(TaskInput { code, name, task_type, params, element });
    }
    Ok(tasks)
}

/// Parses and checks `taskRelationJson` against the tasks (§7.2 step 5, §7.4).
pub(crate) fn parse_relations(
    names: &Names,
    raw: &str,
    tasks: &[TaskInput],
) -> Result<Vec<Relation>, DsError> {
    let elements = match serde_json::from_str::<Value>(raw) {
        Ok(Value::Array(items)) if !items.is_empty() && items.iter().all(Value::is_object) => items,
        _ => return Err(DsError::data_not_valid("taskRelationList")),
    };
    let relations: Vec<Relation> = elements
        .iter()
        .map(|e| Relation {
            name: e["name"].as_str().unwrap_or_default().to_string(),
            pre: as_i64(&e["preTaskCode"]).unwrap_or(0),
            post: as_i64(&e["postTaskCode"]).unwrap_or(0),
            condition_type: e["conditionType"].as_str().unwrap_or("NONE").to_string(),
            condition_params: object_or_string(&e["conditionParams"])
                .unwrap_or_else(|| Value::Object(Default::default())),
        })
        .collect();
    if relations.iter().any(|r| r.post == 0) {
        return Err(DsError::relation_invalid(names));
    }
    let codes: HashSet<i64> = tasks.iter().map(|t| t.code).collect();
    // DS only checks post codes; an unknown pre code is refused as well (the fake's strictness).
    let mut missing: Vec<String> = Vec::new();
    for code in relations.iter().flat_map(|r| [r.pre, r.post]).filter(|c| *c != 0 && !codes.contains(c)) {
        if !missing.contains(&code.to_string()) {
            missing.push(code.to_string());
        }
    }
    if !missing.is_empty() {
        return Err(DsError::task_not_exist(&missing.join(",")));
    }
    // DS saves a task that is no relation's post task but leaves it out of the DAG (§7.4). The fake
    // refuses it (50017) because that is always a client bug.
    let posts: HashSet<i64> = relations.iter().map(|r| r.post).collect();
    if let Some(orphan) = tasks.iter().find(|t| !posts.contains(&t.code)) {
        return Err(DsError::data_not_valid(&format!(
            "taskRelationJson (task {} has no relation)",
            orphan.name
        )));
    }
    if has_cycle(&relations) {
        return Err(DsError::dag_cycle(names));
    }
    Ok(relations)
}

/// Kahn's algorithm over the edges between tasks (pre 0 marks a root and is no node).
fn has_cycle(relations: &[Relation]) -> bool {
    let edges: Vec<(i64, i64)> = relations.iter().filter(|r| r.pre != 0).map(|r| (r.pre, r.post)).collect();
    let mut indegree: HashMap<i64, usize> = HashMap::new();
    for (pre, post) in &edges {
        indegree.entry(*pre).or_default();
        *indegree.entry(*post).or_default() += 1;
    }
    let mut ready: Vec<i64> = indegree.iter().filter(|(_, d)| **d == 0).map(|(c, _)| *c).collect();
    let mut visited = 0;
    while let Some(node) = ready.pop() {
        visited += 1;
        for (_, post) in edges.iter().filter(|(pre, _)| *pre == node) {
            let d = indegree.get_mut(post).expect("every post is a node");
            *d -= 1;
            if *d == 0 {
                ready.push(*post);
            }
        }
    }
    visited < indegree.len()
}

/// Parses the `schedule` JSON (§8). A bad crontab is refused with `cron_error(crontab)`: 10001 naming
/// the crontab on create, 10024 on update.
pub(crate) fn parse_schedule(raw: &str, cron_error: fn(&str) -> DsError) -> Result<ScheduleInput, DsError> {
    let Ok(value @ Value::Object(_)) = serde_json::from_str::<Value>(raw) else {
        return Err(DsError::invalid_param("schedule"));
    };
    let text = |key: &str| value[key].as_str().map(str::to_string);
    let (start_time, end_time) = match (text("startTime"), text("endTime")) {
        (Some(start), Some(end)) if start != end => (start, end),
        _ => return Err(DsError::schedule_times_same()),
    };
    if !time::is_datetime(&start_time) || !time::is_datetime(&end_time) {
        return Err(DsError::invalid_param("schedule"));
    }
    if start_time > end_time {
        return Err(DsError::start_after_end());
    }
    let crontab = text("crontab").unwrap_or_default();
    if !is_quartz_cron(&crontab) {
        return Err(cron_error(&crontab));
    }
    Ok(ScheduleInput { start_time, end_time, crontab, timezone_id: text("timezoneId").unwrap_or_default() })
}

#[derive(PartialEq)]
enum FieldKind {
    Plain,
    DayOfMonth,
    DayOfWeek,
}

struct Field {
    min: u32,
    max: u32,
    names: &'static [&'static str],
    kind: FieldKind,
}

const MONTHS: &[&str] = &["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
const DAYS: &[&str] = &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// sec min hour day-of-month month day-of-week [year]
const FIELDS: [Field; 7] = [
    Field { min: 0, max: 59, names: &[], kind: FieldKind::Plain },
    Field { min: 0, max: 59, names: &[], kind: FieldKind::Plain },
    Field { min: 0, max: 23, names: &[], kind: FieldKind::Plain },
    Field { min: 1, max: 31, names: &[], kind: FieldKind::DayOfMonth },
    Field { min: 1, max: 12, names: MONTHS, kind: FieldKind::Plain },
    Field { min: 1, max: 7, names: DAYS, kind: FieldKind::DayOfWeek },
    Field { min: 1970, max: 2099, names: &[], kind: FieldKind::Plain },
];

/// Quartz syntax as cron-utils' QUARTZ definition parses it (§8): 6 or 7 fields and `?` in exactly one
/// of day-of-month / day-of-week. A 5-field unix cron fails here.
pub(crate) fn is_quartz_cron(expr: &str) -> bool {
    let fields: Vec<&str> = expr.split_whitespace().collect();
    (6..=7).contains(&fields.len())
        && ((fields[3] == "?") != (fields[5] == "?"))
        && FIELDS.iter().zip(&fields).all(|(spec, f)| field_ok(spec, f))
}

fn field_ok(spec: &Field, field: &str) -> bool {
    if field == "?" {
        return spec.kind != FieldKind::Plain;
    }
    field.split(',').all(|item| item_ok(spec, item))
}

fn value_ok(spec: &Field, v: &str) -> bool {
    match v.parse::<u32>() {
        Ok(n) => (spec.min..=spec.max).contains(&n),
        Err(_) => spec.names.iter().any(|name| name.eq_ignore_ascii_case(v)),
    }
}

fn item_ok(spec: &Field, item: &str) -> bool {
    let special = match spec.kind {
        FieldKind::DayOfMonth => {
            item == "L"
                || item == "LW"
                || item.strip_prefix("L-").is_some_and(|n| n.parse::<u32>().is_ok_and(|n| n <= 30))
                || item.strip_suffix('W').is_some_and(|n| value_ok(spec, n))
        }
        FieldKind::DayOfWeek => {
            item == "L"
                || item.strip_suffix('L').is_some_and(|n| value_ok(spec, n))
                || item.split_once('#').is_some_and(|(d, n)| {
                    value_ok(spec, d) && n.parse::<u32>().is_ok_and(|n| (1..=5).contains(&n))
                })
        }
        FieldKind::Plain => false,
    };
    if special {
        return true;
    }
    let (range, step) = match item.split_once('/') {
        Some((range, step)) => (range, Some(step)),
        None => (item, None),
    };
    if step.is_some_and(|s| !s.parse::<u32>().is_ok_and(|s| s >= 1)) {
        return false;
    }
    range == "*"
        || match range.split_once('-') {
            Some((from, to)) => value_ok(spec, from) && value_ok(spec, to),
            None => value_ok(spec, range),
        }
}

#[cfg(test)]
mod tests {
    use super::is_quartz_cron;

    #[test]
    fn quartz_crontabs() {
        for ok in
            ["0 0 2 * * ? *", "0 0 * * * ?", "0 5 4 ? * MON-FRI", "0 0/15 8-18 L * ? 2030", "0 0 1 ? * 6#3"]
        {
            assert!(is_quartz_cron(ok), "{ok}");
        }
        for bad in
            ["5 4 * * *", "0 0 2 * * *", "0 0 2 ? * ?", "0 61 2 * * ?", "x 0 0 * * ?", "0 0 2 * * ? * *"]
        {
            assert!(!is_quartz_cron(bad), "{bad}");
        }
    }
}

//! Tasks: units of work that read tables and write tables, run by an engine on a schedule.

use std::collections::HashSet;

use super::lineage::TaskLinks;
use super::names::{self, MAX_OWNER_LEN, MAX_TEXT_LEN};
use super::schedule::CronSchedule;
use super::{EpochMillis, Version};
use crate::error::Violations;

/// Batch or streaming.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskType {
    /// Runs to completion.
    Batch,
    /// Runs continuously.
    Stream,
}

/// The system a task runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// Apache DolphinScheduler: batch.
    Dolphin,
    /// Dinky (Flink SQL): streaming.
    Dinky,
}

impl TaskType {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskType::Batch => "BATCH",
            TaskType::Stream => "STREAM",
        }
    }

    /// Reads the stored form.
    pub fn parse(text: &str) -> Option<TaskType> {
        [TaskType::Batch, TaskType::Stream].into_iter().find(|t| t.as_str() == text)
    }

    /// The one engine that runs this type of task.
    pub fn engine(self) -> Engine {
        match self {
            TaskType::Batch => Engine::Dolphin,
            TaskType::Stream => Engine::Dinky,
        }
    }
}

impl Engine {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Engine::Dolphin => "DOLPHIN",
            Engine::Dinky => "DINKY",
        }
    }

    /// Reads the stored form.
    pub fn parse(text: &str) -> Option<Engine> {
        [Engine::Dolphin, Engine::Dinky].into_iter().find(|e| e.as_str() == text)
    }

    /// The one type of task this engine runs.
    pub fn task_type(self) -> TaskType {
        match self {
            Engine::Dolphin => TaskType::Batch,
            Engine::Dinky => TaskType::Stream,
        }
    }
}

/// Scheduling priority, as DolphinScheduler orders it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Priority {
    /// Highest.
    Highest,
    /// High.
    High,
    /// Medium, the default.
    Medium,
    /// Low.
    Low,
    /// Lowest.
    Lowest,
}

impl Priority {
    const ALL: [Priority; 5] =
        [Priority::Highest, Priority::High, Priority::Medium, Priority::Low, Priority::Lowest];

    /// The stored form, which is also DolphinScheduler's.
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Highest => "HIGHEST",
            Priority::High => "HIGH",
            Priority::Medium => "MEDIUM",
            Priority::Low => "LOW",
            Priority::Lowest => "LOWEST",
        }
    }

    /// Reads the stored form.
    pub fn parse(text: &str) -> Option<Priority> {
        Priority::ALL.into_iter().find(|p| p.as_str() == text)
    }
}

/// What a task runs. New DolphinScheduler task types become new variants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskBody {
    /// A SQL statement or script.
    Sql(String),
    /// A shell script.
    Shell(String),
    /// A Python script.
    Python(String),
}

impl TaskBody {
    /// The stored kind.
    pub fn kind(&self) -> &'static str {
        match self {
            TaskBody::Sql(_) => "SQL",
            TaskBody::Shell(_) => "SHELL",
            TaskBody::Python(_) => "PYTHON",
        }
    }

    /// The script text.
    pub fn text(&self) -> &str {
        match self {
            TaskBody::Sql(text) | TaskBody::Shell(text) | TaskBody::Python(text) => text,
        }
    }

    /// Rebuilds a body from its stored kind and text.
    pub fn from_stored(kind: &str, text: String) -> Option<TaskBody> {
        match kind {
            "SQL" => Some(TaskBody::Sql(text)),
            "SHELL" => Some(TaskBody::Shell(text)),
            "PYTHON" => Some(TaskBody::Python(text)),
            _ => None,
        }
    }

    /// The request field that carries this kind of body.
    pub fn field_name(&self) -> &'static str {
        match self {
            TaskBody::Sql(_) => "sql",
            TaskBody::Shell(_) => "shell",
            TaskBody::Python(_) => "python",
        }
    }
}

/// Largest script a task may carry, in bytes.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Most retries of a failed run.
pub const MAX_RETRIES: i32 = 10;
/// Longest wait between retries.
pub const MAX_RETRY_INTERVAL_SECS: i64 = 24 * 3600;
/// Longest run time limit.
pub const MAX_TIMEOUT_SECS: i64 = 7 * 24 * 3600;
/// Most tables a task may read or write.
pub const MAX_TABLES_PER_SIDE: usize = 1000;

/// What a caller asks a task to be; checked by [`TaskDef::validate`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskDraft {
    /// See [`TaskDef::name`].
    pub name: String,
    /// See [`TaskDef::description`].
    pub description: String,
    /// See [`TaskDef::owner`].
    pub owner: String,
    /// `None`: follows the engine, else BATCH.
    pub task_type: Option<TaskType>,
    /// `None`: follows the task type.
    pub engine: Option<Engine>,
    /// Required.
    pub body: Option<TaskBody>,
    /// See [`TaskDef::datasource`].
    pub datasource: String,
    /// Empty: no schedule.
    pub schedule: String,
    /// Table names.
    pub inputs: Vec<String>,
    /// Table names.
    pub outputs: Vec<String>,
    /// 0..=10.
    pub retries: i32,
    /// Whole seconds.
    pub retry_interval_secs: i64,
    /// Whole seconds, 0 for none.
    pub timeout_secs: i64,
    /// `None`: medium.
    pub priority: Option<Priority>,
}

/// A valid task definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskDef {
    /// Unique name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Responsible person or team.
    pub owner: String,
    /// Batch or stream.
    pub task_type: TaskType,
    /// The engine that runs the task; always the one of its type.
    pub engine: Engine,
    /// What it runs.
    pub body: TaskBody,
    /// Data source of a SQL body; empty for the scheduler's default.
    pub datasource: String,
    /// When it runs, if on a schedule.
    pub schedule: Option<CronSchedule>,
    /// Tables read, sorted.
    pub inputs: Vec<String>,
    /// Tables written, sorted.
    pub outputs: Vec<String>,
    /// Retries of a failed run.
    pub retries: i32,
    /// Wait between retries, seconds.
    pub retry_interval_secs: i64,
    /// Run time limit, seconds; 0 for none.
    pub timeout_secs: i64,
    /// Scheduling priority.
    pub priority: Priority,
}

/// A stored task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    /// Assigned by the store.
    pub id: i64,
    /// The definition, with the inputs and outputs as declared.
    pub def: TaskDef,
    /// The tables it links in the lineage graph, and what was noticed when it was written.
    pub links: TaskLinks,
    /// Bumped on every change.
    pub version: Version,
    /// Creation time.
    pub created_at: EpochMillis,
    /// Last change.
    pub updated_at: EpochMillis,
}

impl TaskDef {
    /// Checks every attribute of a draft, reporting all problems at once (field paths relative
    /// to the task), and settles the type/engine pair.
    pub fn validate(draft: TaskDraft) -> Result<TaskDef, Violations> {
        let mut violations = Violations::default();
        if let Err(why) = names::check_task_name(&draft.name) {
            violations.add("name", why);
        }
        if let Err(why) = names::check_text(&draft.owner, MAX_OWNER_LEN) {
            violations.add("owner", why);
        }
        if let Err(why) = names::check_text(&draft.description, MAX_TEXT_LEN) {
            violations.add("description", why);
        }
        let (task_type, engine) = match (draft.task_type, draft.engine) {
            (None, None) => (TaskType::Batch, Engine::Dolphin),
            (Some(task_type), None) => (task_type, task_type.engine()),
            (None, Some(engine)) => (engine.task_type(), engine),
            (Some(task_type), Some(engine)) => {
                if task_type.engine() != engine {
                    violations.add(
                        "engine",
                        format!(
                            "{} tasks run on {}, not {}",
                            task_type.as_str(),
                            task_type.engine().as_str(),
                            engine.as_str()
                        ),
                    );
                }
                (task_type, engine)
            }
        };
        match &draft.body {
            None => violations.add("body", "is required: set one of sql, shell or python"),
            Some(body) if body.text().trim().is_empty() => {
                violations.add(body.field_name(), "must not be empty")
            }
            Some(body) if body.text().len() > MAX_BODY_BYTES => violations.add(
                body.field_name(),
                format!("is {} bytes; at most {MAX_BODY_BYTES} are allowed", body.text().len()),
            ),
            Some(_) => {}
        }
        if !draft.datasource.is_empty() {
            if !matches!(draft.body, Some(TaskBody::Sql(_))) {
                violations.add("datasource", "applies only to a sql body");
            } else if let Err(why) = names::check_text(&draft.datasource, MAX_OWNER_LEN) {
                violations.add("datasource", why);
            }
        }
        let schedule = if draft.schedule.trim().is_empty() {
            None
        } else {
            match CronSchedule::parse(&draft.schedule) {
                Ok(schedule) => Some(schedule),
                Err(why) => {
                    violations.add("schedule", why);
                    None
                }
            }
        };
        let inputs = check_table_list("inputs", draft.inputs, &mut violations);
        let outputs = check_table_list("outputs", draft.outputs, &mut violations);
        let mut both: Vec<&String> = inputs.iter().filter(|name| outputs.contains(name)).collect();
        both.dedup();
        for name in both {
            violations.add(
                "outputs",
                format!("{name:?} is also an input: a task cannot read and write the same table"),
            );
        }
        if !(0..=MAX_RETRIES).contains(&draft.retries) {
            violations.add("retries", format!("must be between 0 and {MAX_RETRIES}"));
        }
        if !(0..=MAX_RETRY_INTERVAL_SECS).contains(&draft.retry_interval_secs) {
            violations.add("retry_interval", format!("must be between 0s and {MAX_RETRY_INTERVAL_SECS}s"));
        }
        if !(0..=MAX_TIMEOUT_SECS).contains(&draft.timeout_secs) {
            violations.add("timeout", format!("must be between 0s (no limit) and {MAX_TIMEOUT_SECS}s"));
        }
        match draft.body {
            Some(body) if violations.is_empty() => Ok(TaskDef {
                name: draft.name,
                description: draft.description,
                owner: draft.owner,
                task_type,
                engine,
                body,
                datasource: draft.datasource,
                schedule,
                inputs,
                outputs,
                retries: draft.retries,
                retry_interval_secs: draft.retry_interval_secs,
                timeout_secs: draft.timeout_secs,
                priority: draft.priority.unwrap_or(Priority::Medium),
            }),
            _ => Err(violations),
        }
    }

    /// The draft this definition came from, to apply a partial update on.
    pub fn to_draft(&self) -> TaskDraft {
        TaskDraft {
            name: self.name.clone(),
            description: self.description.clone(),
            owner: self.owner.clone(),
            task_type: Some(self.task_type),
            engine: Some(self.engine),
            body: Some(self.body.clone()),
            datasource: self.datasource.clone(),
            schedule: self.schedule.as_ref().map(ToString::to_string).unwrap_or_default(),
            inputs: self.inputs.clone(),
            outputs: self.outputs.clone(),
            retries: self.retries,
            retry_interval_secs: self.retry_interval_secs,
            timeout_secs: self.timeout_secs,
            priority: Some(self.priority),
        }
    }

    /// Every table the task reads or writes.
    pub fn tables(&self) -> impl Iterator<Item = &str> {
        self.inputs.iter().chain(&self.outputs).map(String::as_str)
    }
}

fn check_table_list(field: &str, names: Vec<String>, violations: &mut Violations) -> Vec<String> {
    if names.len() > MAX_TABLES_PER_SIDE {
        violations.add(field, format!("at most {MAX_TABLES_PER_SIDE} tables"));
        return names;
    }
    let mut seen = HashSet::new();
    for (index, name) in names.iter().enumerate() {
        if let Err(why) = names::check_table_name(name) {
            violations.add(format!("{field}[{index}]"), why);
        } else if !seen.insert(name.as_str()) {
            violations.add(format!("{field}[{index}]"), format!("{name:?} is listed twice"));
        }
    }
    let mut sorted = names;
    sorted.sort();
    sorted
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example() -> TaskDraft {
        TaskDraft {
            name: "load_dwd_user".into(),
            body: Some(TaskBody::Sql("insert into dwd_user select * from ods_user".into())),
            task_type: Some(TaskType::Batch),
            engine: Some(Engine::Dolphin),
            schedule: "0 3 * * *".into(),
            inputs: vec!["ods_user".into()],
            outputs: vec!["dwd_user".into()],
            ..Default::default()
        }
    }

    #[test]
    fn the_portal_design_example_is_valid() {
        let def = TaskDef::validate(example()).unwrap();
        assert_eq!(def.engine, Engine::Dolphin);
        assert_eq!(def.priority, Priority::Medium);
        assert_eq!(def.schedule.unwrap().to_string(), "0 3 * * *");
    }

    #[test]
    fn type_and_engine_follow_each_other() {
        let def = TaskDef::validate(TaskDraft { task_type: None, engine: Some(Engine::Dinky), ..example() })
            .unwrap();
        assert_eq!(def.task_type, TaskType::Stream);
        let def = TaskDef::validate(TaskDraft { task_type: None, engine: None, ..example() }).unwrap();
        assert_eq!((def.task_type, def.engine), (TaskType::Batch, Engine::Dolphin));
    }

    #[test]
    fn reports_every_problem() {
        let draft = TaskDraft {
            name: "Bad Name".into(),
            engine: Some(Engine::Dinky),
            schedule: "0 3 * *".into(),
            inputs: vec!["ods_user".into(), "ods_user".into()],
            outputs: vec!["ods_user".into()],
            retries: 11,
            ..example()
        };
        let err = TaskDef::validate(draft).unwrap_err();
        assert_eq!(err.fields(), ["name", "engine", "schedule", "inputs[1]", "outputs", "retries"]);
    }

    #[test]
    fn oversized_and_missing_bodies() {
        let big = TaskDraft { body: Some(TaskBody::Sql("x".repeat(MAX_BODY_BYTES + 1))), ..example() };
        assert_eq!(TaskDef::validate(big).unwrap_err().fields(), ["sql"]);
        let none = TaskDraft { body: None, ..example() };
        assert_eq!(TaskDef::validate(none).unwrap_err().fields(), ["body"]);
    }
}

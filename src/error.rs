//! The one error type of the service. Every transport maps it once (see `grpc::status`).

use std::collections::BTreeMap;
use std::fmt;

/// A problem with one field of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    /// The field's path in the request, such as `task.schedule` or `table.fields[2].name`.
    pub field: String,
    /// What is wrong with it.
    pub description: String,
}

impl FieldViolation {
    /// A violation of `field`.
    pub fn new(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self { field: field.into(), description: description.into() }
    }

    /// The same violation with its field path nested under `parent` (`name` under `task` → `task.name`).
    pub fn nested_under(mut self, parent: &str) -> Self {
        self.field = format!("{parent}.{}", self.field);
        self
    }
}

/// What kind of failure, which decides the status code a caller sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The request is malformed: see the field violations.
    InvalidArgument,
    /// What the request names does not exist.
    NotFound,
    /// What the request would create exists already.
    AlreadyExists,
    /// The request is valid but the system is not in a state to carry it out.
    FailedPrecondition,
    /// A concurrent change got in the way (stale etag); read again and retry.
    Aborted,
    /// A dependency (the database) does not answer; retry later.
    Unavailable,
    /// The caller did not prove who it is (a missing or wrong shared secret).
    Unauthenticated,
    /// A bug or an unexpected failure.
    Internal,
}

/// Stable, machine-readable reasons callers can branch on (sent as `google.rpc.ErrorInfo.reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// See the field violations.
    InvalidArgument,
    /// No table of that id or name.
    TableNotFound,
    /// Another table has that name.
    TableNameTaken,
    /// A task still reads or writes the table.
    TableInUse,
    /// No task of that id or name.
    TaskNotFound,
    /// Another task has that name.
    TaskNameTaken,
    /// The resource changed since the etag the caller sent.
    EtagMismatch,
    /// The database does not answer.
    DatabaseUnavailable,
    /// A concurrent transaction got in the way; the request can be retried as is.
    TransactionConflict,
    /// The write would close a cycle in the lineage graph.
    LineageCycle,
    /// The task writes a lower layer than it reads, and layer rules are enforced.
    LayerOrder,
    /// The SQL could not be parsed.
    SqlParseError,
    /// No workflow of that id or name.
    WorkflowNotFound,
    /// Another workflow has that name.
    WorkflowNameTaken,
    /// The task belongs to another workflow already.
    TaskInOtherWorkflow,
    /// The workflow has not been published to DolphinScheduler yet.
    WorkflowNotPublished,
    /// The workflow has no tasks to publish.
    WorkflowEmpty,
    /// DolphinScheduler is not configured for this service.
    DsNotConfigured,
    /// DolphinScheduler refused the configured user, password or token.
    DsLoginFailed,
    /// DolphinScheduler does not answer, answers with a server error, or is failing so often that
    /// calls are refused for a while (the circuit is open).
    DsUnavailable,
    /// The DolphinScheduler user lacks a permission the call needs.
    DsPermissionDenied,
    /// DolphinScheduler rejected a workflow or task definition.
    DsDefinitionInvalid,
    /// DolphinScheduler does not know the project, workflow, instance or datasource named.
    DsNotFound,
    /// What DolphinScheduler was asked to do does not fit the state of the object (an instance
    /// that is not running, a workflow that is not online, ...).
    DsStateConflict,
    /// DolphinScheduler refused the call for another reason (its code and message are attached).
    DsRejected,
    /// A data source (a warehouse connection) does not answer: it cannot be resolved or reached, does
    /// not answer in time, or fails a query.
    DataSourceUnreachable,
    /// A data source refused the configured user or password.
    DataSourceLoginFailed,
    /// A data source has no database of the name given.
    DataSourceDatabaseNotFound,
    /// No data source of that id or name.
    DataSourceNotFound,
    /// Another data source has that name.
    DataSourceNameTaken,
    /// Tasks still run on the data source.
    DataSourceInUse,
    /// A sync of the data source is running already.
    SyncInProgress,
    /// No execution record of that id.
    ExecutionNotFound,
    /// The execution has no DolphinScheduler task instance, so there is no log to read.
    ExecutionHasNoLog,
    /// A callback did not carry the configured shared secret.
    CallbackUnauthenticated,
    /// A watcher read changes slower than they happened and missed some.
    WatchLagged,
    /// Something unexpected.
    Internal,
}

impl Reason {
    /// The reason as sent on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::InvalidArgument => "INVALID_ARGUMENT",
            Reason::TableNotFound => "TABLE_NOT_FOUND",
            Reason::TableNameTaken => "TABLE_NAME_TAKEN",
            Reason::TableInUse => "TABLE_IN_USE",
            Reason::TaskNotFound => "TASK_NOT_FOUND",
            Reason::TaskNameTaken => "TASK_NAME_TAKEN",
            Reason::EtagMismatch => "ETAG_MISMATCH",
            Reason::DatabaseUnavailable => "DATABASE_UNAVAILABLE",
            Reason::TransactionConflict => "TRANSACTION_CONFLICT",
            Reason::LineageCycle => "LINEAGE_CYCLE",
            Reason::LayerOrder => "LAYER_ORDER",
            Reason::SqlParseError => "SQL_PARSE_ERROR",
            Reason::WorkflowNotFound => "WORKFLOW_NOT_FOUND",
            Reason::WorkflowNameTaken => "WORKFLOW_NAME_TAKEN",
            Reason::TaskInOtherWorkflow => "TASK_IN_OTHER_WORKFLOW",
            Reason::WorkflowNotPublished => "WORKFLOW_NOT_PUBLISHED",
            Reason::WorkflowEmpty => "WORKFLOW_EMPTY",
            Reason::DsNotConfigured => "DS_NOT_CONFIGURED",
            Reason::DsLoginFailed => "DS_LOGIN_FAILED",
            Reason::DsUnavailable => "DS_UNAVAILABLE",
            Reason::DsPermissionDenied => "DS_PERMISSION_DENIED",
            Reason::DsDefinitionInvalid => "DS_DEFINITION_INVALID",
            Reason::DsNotFound => "DS_NOT_FOUND",
            Reason::DsStateConflict => "DS_STATE_CONFLICT",
            Reason::DsRejected => "DS_REJECTED",
            Reason::DataSourceUnreachable => "DATA_SOURCE_UNREACHABLE",
            Reason::DataSourceLoginFailed => "DATA_SOURCE_LOGIN_FAILED",
            Reason::DataSourceDatabaseNotFound => "DATA_SOURCE_DATABASE_NOT_FOUND",
            Reason::DataSourceNotFound => "DATA_SOURCE_NOT_FOUND",
            Reason::DataSourceNameTaken => "DATA_SOURCE_NAME_TAKEN",
            Reason::DataSourceInUse => "DATA_SOURCE_IN_USE",
            Reason::SyncInProgress => "SYNC_IN_PROGRESS",
            Reason::ExecutionNotFound => "EXECUTION_NOT_FOUND",
            Reason::ExecutionHasNoLog => "EXECUTION_HAS_NO_LOG",
            Reason::CallbackUnauthenticated => "CALLBACK_UNAUTHENTICATED",
            Reason::WatchLagged => "WATCH_LAGGED",
            Reason::Internal => "INTERNAL",
        }
    }
}

/// A failed operation: its kind, a stable reason, a message for people and details for programs.
#[derive(Debug, Clone)]
pub struct Error {
    /// Decides the status code.
    pub kind: ErrorKind,
    /// Stable reason for programs.
    pub reason: Reason,
    /// For people; never contains secrets.
    pub message: String,
    /// Every invalid field, for `InvalidArgument`.
    pub violations: Vec<FieldViolation>,
    /// Extra facts for programs, such as the names of missing tables.
    pub metadata: BTreeMap<String, String>,
}

/// The result of an operation of the service.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error of `kind` with `reason` and `message`.
    pub fn new(kind: ErrorKind, reason: Reason, message: impl Into<String>) -> Self {
        Self { kind, reason, message: message.into(), violations: Vec::new(), metadata: BTreeMap::new() }
    }

    /// The request has these invalid fields (at least one).
    pub fn invalid(violations: Vec<FieldViolation>) -> Self {
        let message = match violations.as_slice() {
            [only] => format!("invalid {}: {}", only.field, only.description),
            many => format!("{} invalid fields", many.len()),
        };
        Self { violations, ..Self::new(ErrorKind::InvalidArgument, Reason::InvalidArgument, message) }
    }

    /// A single invalid field.
    pub fn invalid_field(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self::invalid(vec![FieldViolation::new(field, description)])
    }

    /// Something that should not happen; the message is logged and sent.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, Reason::Internal, message)
    }

    /// A write against a version that is no longer current (a stale etag).
    pub fn etag_mismatch() -> Self {
        Self::new(
            ErrorKind::Aborted,
            Reason::EtagMismatch,
            "it was changed by someone else since the etag you sent; read it again and retry",
        )
    }

    /// Adds a metadata entry.
    pub fn with_metadata(mut self, key: &str, value: impl Into<String>) -> Self {
        self.metadata.insert(key.to_owned(), value.into());
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.reason.as_str())
    }
}

impl std::error::Error for Error {}

/// Collects field violations while a request is checked, so that all of them are reported at once.
#[derive(Debug, Default)]
pub struct Violations(Vec<FieldViolation>);

impl Violations {
    /// Records a violation of `field`.
    pub fn add(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.0.push(FieldViolation::new(field, description));
    }

    /// Appends the violations recorded elsewhere.
    pub fn extend(&mut self, more: Violations) {
        self.0.extend(more.0);
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(value)` when nothing was recorded, else the invalid-argument error listing every violation.
    pub fn into_result<T>(self, value: T) -> Result<T> {
        if self.0.is_empty() { Ok(value) } else { Err(Error::invalid(self.0)) }
    }

    /// The paths of the violated fields, in the order recorded.
    pub fn fields(&self) -> Vec<&str> {
        self.0.iter().map(|v| v.field.as_str()).collect()
    }

    /// The invalid-argument error listing every recorded violation; call only when there is one.
    pub fn into_error(self) -> Error {
        Error::invalid(self.0)
    }

    /// Nests every recorded violation under `parent`.
    pub fn nested_under(self, parent: &str) -> Violations {
        Violations(self.0.into_iter().map(|v| v.nested_under(parent)).collect())
    }
}

//! How database failures reach callers.

use sqlx::error::{DatabaseError, ErrorKind as DbErrorKind};
use sqlx::mysql::MySqlDatabaseError;

use crate::error::{Error, ErrorKind, Reason};

/// Whether the transaction lost a race and may simply be run again: on MySQL a deadlock (1213)
/// or a lock wait timeout (1205); on SQLite a busy or locked database (primary codes 5 and 6,
/// which extended codes carry in their low byte).
fn is_transient(db: &dyn DatabaseError) -> bool {
    if let Some(mysql) = db.try_downcast_ref::<MySqlDatabaseError>() {
        return matches!(mysql.number(), 1213 | 1205);
    }
    db.code().and_then(|code| code.parse::<i32>().ok()).is_some_and(|code| matches!(code & 0xff, 5 | 6))
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed
            | sqlx::Error::Protocol(_) => Error::new(
                ErrorKind::Unavailable,
                Reason::DatabaseUnavailable,
                format!("the database does not answer: {e}"),
            ),
            sqlx::Error::Database(db) if is_transient(db.as_ref()) => Error::new(
                ErrorKind::Aborted,
                Reason::TransactionConflict,
                "the request collided with a concurrent one; retry it",
            ),
            _ => {
                tracing::error!(error = %e, "database error");
                Error::internal(format!("database error: {e}"))
            }
        }
    }
}

/// Whether the statement broke a unique key (a name that is taken).
pub(super) fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.kind() == DbErrorKind::UniqueViolation)
}

/// Whether the statement broke a foreign key (a referenced row vanished or is still referenced).
pub(super) fn is_foreign_key_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.kind() == DbErrorKind::ForeignKeyViolation)
}

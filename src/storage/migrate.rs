//! Migrations that any number of replicas (and `dataportal migrate` jobs) may start at once.
//!
//! One process at a time holds the migration lock; it applies what is pending while the others
//! wait, and those then find nothing left to do. What differs between the dialects is here:
//!
//! - MySQL and MariaDB: a named lock (`GET_LOCK`) held by one dedicated connection for the whole
//!   run. sqlx's own migrator lock is no help: it calls `GET_LOCK(…, -1)` and ignores the answer,
//!   and MariaDB reads a negative timeout as "do not wait" and answers NULL at once, so every
//!   replica went on migrating and all but one failed on `_sqlx_migrations`' primary key. Here
//!   the answer is checked. The lock belongs to the session, so a replica that dies while
//!   migrating releases it with its connection.
//! - SQLite: an exclusive lock on a file beside the database (`<database>-migrate.lock`), which
//!   the operating system releases when the process exits. SQLite's own locks cannot span the run:
//!   the migrator commits one transaction per migration.
//!
//! A migration that fails on MySQL leaves its `_sqlx_migrations` row marked unfinished (DDL commits
//! implicitly, before the row could be rolled back), which sqlx then refuses at every start. Every
//! MySQL migration is a single statement (see `migrations/README.md`), and a failed DDL statement
//! changes nothing on MySQL 8 and MariaDB 10.6+ (atomic DDL), so the next start removes that row
//! and applies the migration again; if it fails again, the error says which one and how to mend it.

use std::path::PathBuf;

use sqlx::migrate::{MigrateError, Migrator};
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, Connection};

use super::{Dialect, Store};
use crate::error::{Error, Result};

/// How long one attempt to take the MySQL lock waits before logging that it is still waiting.
const LOCK_ATTEMPT_SECS: i64 = 10;

/// The table sqlx records applied migrations in.
const MIGRATIONS_TABLE: &str = "_sqlx_migrations";

/// What a migration run found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchemaVersion {
    /// The newest migration this binary carries.
    pub known: i64,
    /// The newest migration applied to the database (after this run).
    pub applied: i64,
}

impl SchemaVersion {
    /// Whether a newer binary migrated the database past what this one knows (a rolling upgrade
    /// in progress, or this replica left behind).
    pub fn is_ahead(&self) -> bool {
        self.applied > self.known
    }
}

/// Where SQLite's migration lock lives, for a database file.
pub(super) fn sqlite_lock_path(database_file: &str) -> PathBuf {
    PathBuf::from(format!("{database_file}-migrate.lock"))
}

/// The migration lock, held until dropped.
enum MigrationLock {
    /// The connection whose session holds the named lock; closing it releases the lock.
    MySql(PoolConnection<Any>),
    /// The locked file; the lock goes when it closes.
    Sqlite(std::fs::File),
}

impl Store {
    /// Applies pending migrations under the migration lock, waiting for another process that holds
    /// it, and reports the schema version. A database migrated past this binary (by a newer one)
    /// is accepted: migrations are written expand-then-contract, so the previous release still
    /// works against it (see README, "Running several replicas").
    pub async fn migrate(&self) -> Result<SchemaVersion> {
        let lock = self.lock_migrations().await?;
        let mut conn = self.pool.acquire().await?;
        let outcome = self.migrate_locked(&mut conn).await;
        drop(conn);
        release(lock).await;
        let version = outcome?;
        if version.is_ahead() {
            tracing::warn!(
                applied = version.applied,
                known = version.known,
                "the database schema is newer than this binary knows (a newer replica migrated it): \
                 serving with it; upgrade this replica"
            );
        }
        Ok(version)
    }

    async fn migrate_locked(&self, conn: &mut AnyConnection) -> Result<SchemaVersion> {
        let migrator = self.dialect.migrator();
        // `run_direct` rather than `run`: `run` takes an `Acquire` whose lifetime makes this future
        // not `Send` (sqlx's own note on `run_direct`), and replicas start in spawned tasks.
        match migrator.run_direct(None, &mut *conn, false).await {
            Err(MigrateError::Dirty(version)) => {
                tracing::warn!(version, "migration {version} failed on an earlier start: applying it again");
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DELETE FROM {MIGRATIONS_TABLE} WHERE version = ? AND success = FALSE"
                )))
                .bind(version)
                .execute(&mut *conn)
                .await?;
                migrator
                    .run_direct(None, &mut *conn, false)
                    .await
                    .map_err(|e| migration_failed(migrator, e))?;
            }
            outcome => outcome.map_err(|e| migration_failed(migrator, e))?,
        }
        let applied: Option<i64> =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT MAX(version) FROM {MIGRATIONS_TABLE}")))
                .fetch_one(&mut *conn)
                .await?;
        let known = migrator.iter().map(|m| m.version).max().unwrap_or(0);
        Ok(SchemaVersion { known, applied: applied.unwrap_or(0) })
    }

    async fn lock_migrations(&self) -> Result<MigrationLock> {
        match self.dialect {
            Dialect::MySql => {
                let mut conn = self.pool.acquire().await?;
                // Per database (two services may share a server), hashed because lock names are at
                // most 64 characters.
                let name = "CONCAT('dataportal_migrate_', SHA1(DATABASE()))";
                loop {
                    let got: Option<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                        "SELECT GET_LOCK({name}, {LOCK_ATTEMPT_SECS})"
                    )))
                    .fetch_one(&mut *conn)
                    .await?;
                    match got {
                        Some(1) => return Ok(MigrationLock::MySql(conn)),
                        Some(_) => {
                            tracing::info!("waiting for another process to finish migrating the database")
                        }
                        None => {
                            return Err(Error::internal(
                                "the database refused the migration lock (GET_LOCK)",
                            ));
                        }
                    }
                }
            }
            Dialect::Sqlite => {
                let path = self.sqlite_migrate_lock.clone().expect("an SQLite store knows its lock file");
                let locked = tokio::task::spawn_blocking(move || {
                    let file = std::fs::OpenOptions::new()
                        .create(true)
                        .truncate(false)
                        .write(true)
                        .open(&path)
                        .map_err(|e| format!("cannot open the migration lock {}: {e}", path.display()))?;
                    if file.try_lock().is_err() {
                        tracing::info!("waiting for another process to finish migrating the database");
                        file.lock().map_err(|e| format!("cannot lock {}: {e}", path.display()))?;
                    }
                    Ok::<_, String>(file)
                })
                .await
                .map_err(|e| Error::internal(format!("the migration lock task failed: {e}")))?
                .map_err(Error::internal)?;
                Ok(MigrationLock::Sqlite(locked))
            }
        }
    }
}

/// Releases the lock. On MySQL the connection is closed rather than returned to the pool: the lock
/// is its session's, and a closed session cannot keep it by mistake.
async fn release(lock: MigrationLock) {
    match lock {
        MigrationLock::MySql(conn) => {
            let _ = conn.detach().close().await;
        }
        MigrationLock::Sqlite(file) => drop(file),
    }
}

/// A failed migration, naming it, with what to do when it cannot be applied again by itself.
fn migration_failed(migrator: &Migrator, e: MigrateError) -> Error {
    let describe = |version: i64| {
        migrator
            .iter()
            .find(|m| m.version == version)
            .map(|m| format!("migration {version} ({})", m.description))
            .unwrap_or_else(|| format!("migration {version}"))
    };
    match e {
        MigrateError::ExecuteMigration(e, version) => Error::internal(format!(
            "{} failed: {e}. It is not recorded as applied; the next start applies it again. If \
             its change is in the database already (applied by hand, or its answer was lost), \
             record it with `UPDATE {MIGRATIONS_TABLE} SET success = TRUE WHERE version = {version}`",
            describe(version)
        )),
        MigrateError::Dirty(version) => Error::internal(format!(
            "{} is marked unfinished and could not be applied again; make the schema match it, \
             then `UPDATE {MIGRATIONS_TABLE} SET success = TRUE WHERE version = {version}`",
            describe(version)
        )),
        MigrateError::VersionMismatch(version) => Error::internal(format!(
            "{} was applied from a different file than this binary carries; migrations are \
             append-only, so this binary or the database is not what it should be",
            describe(version)
        )),
        MigrateError::Execute(e) => Error::from(e),
        other => Error::internal(format!("migration failed: {other}")),
    }
}

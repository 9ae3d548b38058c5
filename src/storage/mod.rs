//! Storage on MySQL (production) or SQLite (embedded default) through one repository layer.
//!
//! Statements are portable (both take `?` placeholders); what differs between the two lives in
//! [`Dialect`]. Reads go through [`Store`], writes through a [`Tx`] the application layer
//! drives, so that everything one request writes commits or rolls back together.

mod datasources;
mod error;
mod executions;
mod lineage;
mod migrate;
mod tables;
mod tasks;
mod workflows;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions, AnyQueryResult};
use sqlx::{Any, AnyPool, Executor, Transaction};

pub use datasources::{KnownTable, SyncChange, SyncedTable, data_source_not_found};
use error::{is_foreign_key_violation, is_unique_violation};
pub use executions::{
    ExecutionCursor, ExecutionFilter, FollowedRun, PollOutcome, StoredReport, execution_not_found,
};
pub use lineage::{Changed, Link, Node, TableNode, TaskNode};
pub use migrate::SchemaVersion;
pub use tables::{TableFilter, TableIo, table_in_use, table_not_found};
pub use tasks::{TaskFilter, task_not_found};
pub use workflows::{PublishClaim, PublishOutcome, workflow_not_found};

use crate::error::{Error, Result};

/// The SQL dialect behind a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// MySQL 8 or MariaDB.
    MySql,
    /// SQLite.
    Sqlite,
}

impl Dialect {
    /// The dialect a database URL speaks.
    pub fn of_url(url: &str) -> Result<Dialect> {
        match url.split_once(':').map(|(scheme, _)| scheme) {
            Some("mysql") => Ok(Dialect::MySql),
            Some("sqlite") => Ok(Dialect::Sqlite),
            _ => Err(Error::invalid_field(
                "database_url",
                "must start with mysql:// or sqlite:// (for example sqlite://data/dataportal.db)",
            )),
        }
    }

    /// Starts a transaction that will write. SQLite must take its write lock up front: a
    /// deferred transaction that reads first fails at once, rather than waiting, when another
    /// writer committed in between.
    fn begin_write_statement(self) -> &'static str {
        match self {
            Dialect::MySql => "BEGIN",
            Dialect::Sqlite => "BEGIN IMMEDIATE",
        }
    }

    /// Starts a transaction that claims queued rows (`claim_rows`) while other connections keep
    /// appending to the queue. MySQL's default REPEATABLE READ would lock the gap after the last
    /// row read, holding every append until the claim commits; READ COMMITTED takes no gap locks.
    fn begin_claim_statement(self) -> &'static str {
        match self {
            Dialect::MySql => "SET TRANSACTION ISOLATION LEVEL READ COMMITTED; BEGIN",
            Dialect::Sqlite => "BEGIN IMMEDIATE",
        }
    }

    /// `INSERT` that skips rows whose unique key exists.
    fn insert_ignore(self) -> &'static str {
        match self {
            Dialect::MySql => "INSERT IGNORE",
            Dialect::Sqlite => "INSERT OR IGNORE",
        }
    }

    /// Suffix of a SELECT that must see the latest committed rows and keep them from being
    /// deleted until the transaction ends. MySQL's plain reads see the transaction's snapshot
    /// instead; SQLite's one writer already sees everything.
    fn locking_read(self) -> &'static str {
        match self {
            Dialect::MySql => " LOCK IN SHARE MODE",
            Dialect::Sqlite => "",
        }
    }

    /// Suffix of a SELECT that locks the rows it reads until the transaction ends (SQLite's one
    /// writer holds everything already).
    fn lock_for_update(self) -> &'static str {
        match self {
            Dialect::MySql => " FOR UPDATE",
            Dialect::Sqlite => "",
        }
    }

    /// Suffix of a SELECT that claims rows for background work: MySQL locks them and skips rows
    /// another replica holds; SQLite's one writer (`BEGIN IMMEDIATE`) already excludes the rest.
    fn claim_rows(self) -> &'static str {
        match self {
            Dialect::MySql => " FOR UPDATE SKIP LOCKED",
            Dialect::Sqlite => "",
        }
    }

    /// The embedded migrations. sqlx's lock is off: ours is taken first (see `migrate`). Versions
    /// this binary does not know are accepted: a newer replica applied them (see `SchemaVersion`).
    fn migrator(self) -> &'static sqlx::migrate::Migrator {
        use sqlx::migrate::Migrator;
        static MYSQL: Migrator =
            Migrator { locking: false, ignore_missing: true, ..sqlx::migrate!("migrations/mysql") };
        static SQLITE: Migrator =
            Migrator { locking: false, ignore_missing: true, ..sqlx::migrate!("migrations/sqlite") };
        match self {
            Dialect::MySql => &MYSQL,
            Dialect::Sqlite => &SQLITE,
        }
    }
}

/// How to connect.
#[derive(Debug, Clone)]
pub struct PoolSettings {
    /// Most connections open at once.
    pub max_connections: u32,
    /// How long a request waits for a connection before the database counts as unavailable.
    pub acquire_timeout: Duration,
}

/// Connections of the lineage index's own pool: its reads run one at a time (under the index's
/// refresh lock); the second is slack while a broken connection is replaced.
const LINEAGE_CONNECTIONS: u32 = 2;

/// The database of the service.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    /// For the lineage index alone. A task write refreshes the index while it holds a
    /// connection of `pool` and the lineage lock; if the refresh drew from `pool` too, writers
    /// waiting for the lock could hold every connection and starve the one holding it.
    lineage_pool: AnyPool,
    dialect: Dialect,
    /// SQLite has one writer at a time. Queueing writers here, rather than letting them poll
    /// the file lock (busy timeout), keeps write latency flat under concurrency.
    sqlite_writer: Arc<tokio::sync::Mutex<()>>,
    /// The file whose lock admits one migrating process at a time, on SQLite (see `migrate`).
    sqlite_migrate_lock: Option<std::path::PathBuf>,
}

impl Store {
    /// Connects (lazily: the service starts even when the database is down, and health says so).
    /// For SQLite, the file and its directory are created when missing.
    pub fn connect(url: &str, settings: &PoolSettings) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let dialect = Dialect::of_url(url)?;
        let mut url = url.to_owned();
        let mut sqlite_migrate_lock = None;
        if dialect == Dialect::Sqlite {
            let (prepared, file) = prepare_sqlite_file(&url)?;
            url = prepared;
            sqlite_migrate_lock = Some(migrate::sqlite_lock_path(&file));
        }
        let options = AnyConnectOptions::from_str(&url)
            .map_err(|e| Error::invalid_field("database_url", e.to_string()))?;
        let pool_with = |max_connections: u32| {
            AnyPoolOptions::new()
                .max_connections(max_connections)
                .acquire_timeout(settings.acquire_timeout)
                .after_connect(move |conn, _meta| {
                    Box::pin(async move {
                        match dialect {
                            // WAL lets readers run beside the one writer; the busy timeout makes
                            // writers queue instead of failing.
                            Dialect::Sqlite => conn.execute(
                                "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                             PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON;",
                            ),
                            // MySQL cuts GROUP_CONCAT at 1 KiB by default (MariaDB at 1 MiB); the
                            // lineage load folds a task's links into one.
                            Dialect::MySql => conn.execute("SET SESSION group_concat_max_len = 16777216"),
                        }
                        .await?;
                        Ok(())
                    })
                })
                .connect_lazy_with(options.clone())
        };
        let pool = pool_with(settings.max_connections);
        let lineage_pool = pool_with(LINEAGE_CONNECTIONS);
        Ok(Store { pool, lineage_pool, dialect, sqlite_writer: Arc::default(), sqlite_migrate_lock })
    }

    /// Whether the database answers a trivial query.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Starts a transaction for a request that writes.
    pub async fn begin_write(&self) -> Result<Tx> {
        let writer_turn = match self.dialect {
            Dialect::Sqlite => Some(self.sqlite_writer.clone().lock_owned().await),
            Dialect::MySql => None,
        };
        let tx = self.pool.begin_with(self.dialect.begin_write_statement()).await?;
        Ok(Tx { tx, dialect: self.dialect, _writer_turn: writer_turn })
    }

    /// Starts a transaction that claims rows of a queue others append to (see
    /// `Dialect::begin_claim_statement`).
    pub async fn begin_claim(&self) -> Result<Tx> {
        let writer_turn = match self.dialect {
            Dialect::Sqlite => Some(self.sqlite_writer.clone().lock_owned().await),
            Dialect::MySql => None,
        };
        let tx = self.pool.begin_with(self.dialect.begin_claim_statement()).await?;
        Ok(Tx { tx, dialect: self.dialect, _writer_turn: writer_turn })
    }

    /// Closes every connection; used at shutdown.
    pub async fn close(&self) {
        self.pool.close().await;
        self.lineage_pool.close().await;
    }
}

/// A write transaction. Dropped without [`Tx::commit`], it rolls back.
#[derive(Debug)]
pub struct Tx {
    tx: Transaction<'static, Any>,
    dialect: Dialect,
    /// Held until the transaction ends, on SQLite (see `Store::sqlite_writer`).
    _writer_turn: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl Tx {
    /// The id the last INSERT of this transaction generated. MySQL reports it with the result;
    /// SQLite through sqlx's `Any` driver does not, so it is asked for on the same connection.
    async fn inserted_id(&mut self, result: &AnyQueryResult) -> Result<i64> {
        match (result.last_insert_id(), self.dialect) {
            (Some(id), _) => Ok(id),
            (None, Dialect::Sqlite) => {
                Ok(sqlx::query_scalar("SELECT last_insert_rowid()").fetch_one(&mut *self.tx).await?)
            }
            (None, Dialect::MySql) => Err(Error::internal("the database did not report the new row's id")),
        }
    }

    /// Makes every write of the transaction durable.
    pub async fn commit(self) -> Result<()> {
        self.tx.commit().await?;
        Ok(())
    }
}

/// `sqlite://path?query` → the same URL with `mode=rwc`, and the path, after creating the
/// directory.
fn prepare_sqlite_file(url: &str) -> Result<(String, String)> {
    let rest = url.trim_start_matches("sqlite://").trim_start_matches("sqlite:");
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if path.is_empty() || path == ":memory:" {
        return Err(Error::invalid_field(
            "database_url",
            "an SQLite database must be a file (in-memory databases are not shared between connections)",
        ));
    }
    if let Some(dir) = std::path::Path::new(path).parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| {
            Error::invalid_field("database_url", format!("cannot create directory {}: {e}", dir.display()))
        })?;
    }
    let query = if query.contains("mode=") {
        query.to_owned()
    } else if query.is_empty() {
        "mode=rwc".to_owned()
    } else {
        format!("{query}&mode=rwc")
    };
    Ok((format!("sqlite://{path}?{query}"), path.to_owned()))
}

/// ALREADY_EXISTS with `reason` when `e` is a unique-key violation of a `what` named `name`
/// (the database decides, so racing creates have one winner); any other error as it is.
fn name_taken(e: sqlx::Error, reason: crate::error::Reason, what: &str, name: &str) -> Error {
    if is_unique_violation(&e) {
        Error::new(
            crate::error::ErrorKind::AlreadyExists,
            reason,
            format!("a {what} named {name:?} exists already"),
        )
        .with_metadata("name", name)
    } else {
        e.into()
    }
}

/// A stored value this build does not know (a row written by a newer version, or by hand).
fn unknown_stored(column: &str, value: &str) -> Error {
    Error::internal(format!("stored {column} {value:?} is unknown"))
}

/// A comma-separated list of `count` placeholders, for `IN (…)`. Statements that splice it in
/// are safe by construction: it holds nothing but `?`.
fn placeholders(count: usize) -> String {
    vec!["?"; count].join(", ")
}

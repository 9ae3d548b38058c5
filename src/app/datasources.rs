//! Data sources, and the sync of their table metadata into the registry.
//!
//! A sync reads `information_schema` one database at a time, table by table (memory stays
//! bounded by a batch of tables), and writes each batch in one transaction: new tables are
//! registered, known ones take the warehouse's structure and sizes while keeping what people
//! wrote, structural changes are appended to the table's drift, and tables the warehouse no
//! longer has are marked gone. Syncs of one data source take turns through a row lease, so
//! replicas never run two at once.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::paging::Page;
use super::{Catalog, with_retries};
use crate::domain::datasource::{
    DataSource, DataSourceDef, DriftItem, DriftKind, SourceColumn, like, reconcile_fields,
};
use crate::domain::table::{Layer, TableDef, TableDraft, TableStatus};
use crate::domain::{EpochMillis, Etag, Lookup, now_millis};
use crate::error::{Error, ErrorKind, Reason, Result};
use crate::scheduler::dolphin::Secret;
use crate::secret_box::SecretBox;
use crate::storage::{KnownTable, Store, SyncChange, SyncedTable, Tx};
use crate::warehouse::{self, Endpoint, WarehouseTable};

/// Tables written per transaction during a sync.
const SYNC_BATCH: usize = 200;
/// How long a sync may hold its data source before another replica may take over.
const SYNC_LEASE_MS: i64 = 30 * 60 * 1000;
/// How often the periodic sync looks for due data sources.
const PERIODIC_POLL: Duration = Duration::from_secs(1);
/// Most tasks named when a delete is refused.
const IN_USE_TASKS_SHOWN: i64 = 20;

/// The attributes of a data source an update can change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataSourceAttribute {
    /// Doris or MySQL.
    Kind,
    /// Host.
    Host,
    /// Port.
    Port,
    /// User.
    User,
    /// Password (write-only).
    Password,
    /// Default database.
    DefaultDatabase,
    /// Options.
    Options,
    /// Periodic sync interval.
    SyncInterval,
    /// Databases of the periodic sync.
    SyncDatabases,
    /// Table pattern of the periodic sync.
    SyncTablePattern,
}

/// A page of data sources.
#[derive(Debug)]
pub struct DataSourcePage {
    /// The page.
    pub data_sources: Vec<DataSource>,
    /// Token of the next page; empty on the last.
    pub next_page_token: String,
    /// Number of all.
    pub total_size: i64,
}

/// What a sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SyncReport {
    /// Databases read.
    pub databases: Vec<String>,
    /// Warehouse tables that matched.
    pub tables_seen: u32,
    /// Tables registered.
    pub tables_added: u32,
    /// Tables whose structure or description changed.
    pub tables_changed: u32,
    /// Tables marked gone.
    pub tables_gone: u32,
    /// (warehouse table, why) of tables that could not be registered.
    pub skipped: Vec<(String, String)>,
    /// (table, drift found) per table.
    pub drift: Vec<(String, Vec<DriftItem>)>,
    /// Duration in milliseconds.
    pub duration_ms: u64,
}

/// What TestDataSource found.
#[derive(Debug, Clone)]
pub struct TestResult {
    /// `SELECT VERSION()`.
    pub server_version: String,
    /// Databases the user sees.
    pub databases: Vec<String>,
    /// Round trip.
    pub latency: Duration,
}

/// The data source registry and its syncs.
#[derive(Debug, Clone)]
pub struct DataSources {
    store: Store,
    catalog: Catalog,
    secrets: SecretBox,
    replica: String,
    connect_timeout: Duration,
}

impl DataSources {
    /// Data sources in `store`, syncing into `catalog`, passwords sealed with `secrets`.
    pub fn new(store: Store, catalog: Catalog, secrets: SecretBox, replica: String) -> Self {
        Self { store, catalog, secrets, replica, connect_timeout: Duration::from_secs(5) }
    }

    /// Registers a data source.
    pub async fn create(&self, mut def: DataSourceDef, password: Option<String>) -> Result<DataSource> {
        if def.port == 0 {
            def.port = def.kind.default_port();
        }
        def.validate().into_result(())?;
        let sealed = password.filter(|p| !p.is_empty()).map(|p| self.secrets.seal(&p)).unwrap_or_default();
        let id = with_retries(|| async {
            let mut tx = self.store.begin_write().await?;
            let id = tx.insert_data_source(&def, &sealed, now_millis()).await?;
            tx.commit().await?;
            Ok(id)
        })
        .await?;
        self.store.get_data_source(&Lookup::Id(id)).await
    }

    /// One data source.
    pub async fn get(&self, lookup: &Lookup) -> Result<DataSource> {
        self.store.get_data_source(lookup).await
    }

    /// A page of data sources.
    pub async fn list(&self, page_size: i32, page_token: &str) -> Result<DataSourcePage> {
        let page = Page::parse(page_size, page_token, &"data sources")?;
        let (mut data_sources, total_size) =
            self.store.list_data_sources(page.after_id, page.fetch_limit()).await?;
        let next_page_token = page.finish(&mut data_sources, |d| d.id);
        Ok(DataSourcePage { data_sources, next_page_token, total_size })
    }

    /// Changes `attributes` to their values in `patch` (and the password to `password`).
    pub async fn update(
        &self,
        id: i64,
        patch: DataSourceDef,
        password: Option<String>,
        attributes: &[DataSourceAttribute],
        etag: Option<Etag>,
    ) -> Result<DataSource> {
        let current = self.store.get_data_source(&Lookup::Id(id)).await?;
        if etag.is_some_and(|e| !e.matches(id, current.version)) {
            return Err(Error::etag_mismatch());
        }
        let mut def = current.def.clone();
        for attribute in attributes {
            match attribute {
                DataSourceAttribute::Kind => def.kind = patch.kind,
                DataSourceAttribute::Host => def.host = patch.host.clone(),
                DataSourceAttribute::Port => def.port = patch.port,
                DataSourceAttribute::User => def.user = patch.user.clone(),
                DataSourceAttribute::Password => {}
                DataSourceAttribute::DefaultDatabase => def.default_database = patch.default_database.clone(),
                DataSourceAttribute::Options => def.options = patch.options.clone(),
                DataSourceAttribute::SyncInterval => def.sync_interval_secs = patch.sync_interval_secs,
                DataSourceAttribute::SyncDatabases => def.sync_databases = patch.sync_databases.clone(),
                DataSourceAttribute::SyncTablePattern => {
                    def.sync_table_pattern = patch.sync_table_pattern.clone()
                }
            }
        }
        if def.port == 0 {
            def.port = def.kind.default_port();
        }
        def.validate().nested_under("data_source").into_result(())?;
        let sealed = attributes
            .contains(&DataSourceAttribute::Password)
            .then(|| password.filter(|p| !p.is_empty()).map(|p| self.secrets.seal(&p)).unwrap_or_default());
        with_retries(|| async {
            let mut tx = self.store.begin_write().await?;
            tx.update_data_source(id, &def, sealed.as_deref(), current.version, now_millis()).await?;
            tx.commit().await
        })
        .await?;
        self.store.get_data_source(&Lookup::Id(id)).await
    }

    /// Deletes a data source no task runs on.
    pub async fn delete(&self, id: i64, etag: Option<Etag>) -> Result<()> {
        let current = self.store.get_data_source(&Lookup::Id(id)).await?;
        if etag.is_some_and(|e| !e.matches(id, current.version)) {
            return Err(Error::etag_mismatch());
        }
        with_retries(|| async {
            let mut tx = self.store.begin_write().await?;
            let tasks = tx.tasks_using_data_source(&current.def.name, IN_USE_TASKS_SHOWN).await?;
            if !tasks.is_empty() {
                return Err(Error::new(
                    ErrorKind::FailedPrecondition,
                    Reason::DataSourceInUse,
                    format!(
                        "tasks {} run on data source {:?}; change them first",
                        tasks.join(", "),
                        current.def.name
                    ),
                )
                .with_metadata("tasks", tasks.join(",")));
            }
            tx.delete_data_source(id, etag.map(|_| current.version)).await?;
            tx.commit().await
        })
        .await
    }

    /// Connects and reports the server's version and databases.
    pub async fn test(&self, lookup: &Lookup) -> Result<TestResult> {
        let source = self.store.get_data_source(lookup).await?;
        let endpoint = self.endpoint(&source, &source.def.default_database)?;
        let started = Instant::now();
        let info = warehouse::test(&endpoint).await?;
        let databases = warehouse::databases(&endpoint).await?;
        Ok(TestResult { server_version: info.version, databases, latency: started.elapsed() })
    }

    /// Clears a table's drift.
    pub async fn acknowledge_drift(&self, table_id: i64) -> Result<()> {
        with_retries(|| async {
            let mut tx = self.store.begin_write().await?;
            tx.clear_drift(table_id).await?;
            tx.commit().await
        })
        .await
    }

    /// Syncs `databases` (the default database when empty) of a data source, tables matching
    /// `pattern`. Refused with ABORTED SYNC_IN_PROGRESS while another sync of it runs.
    pub async fn sync(&self, lookup: &Lookup, databases: Vec<String>, pattern: String) -> Result<SyncReport> {
        let source = self.store.get_data_source(lookup).await?;
        let databases =
            if databases.is_empty() { vec![source.def.default_database.clone()] } else { databases };
        let mut violations = crate::error::Violations::default();
        for (i, database) in databases.iter().enumerate() {
            if let Err(why) = crate::domain::names::check_database_name(database) {
                violations.add(
                    format!("databases[{i}]"),
                    if database.is_empty() {
                        "name a database: the data source has no default database".to_owned()
                    } else {
                        why
                    },
                );
            }
        }
        if pattern.len() > 255 {
            violations.add("table_pattern", "at most 255 characters");
        }
        violations.into_result(())?;
        if !self.store.claim_sync(source.id, &self.replica, now_millis(), SYNC_LEASE_MS).await? {
            return Err(Error::new(
                ErrorKind::Aborted,
                Reason::SyncInProgress,
                format!("a sync of data source {:?} is running; try again when it ends", source.def.name),
            ));
        }
        self.run_sync(&source, &databases, &pattern).await
    }

    /// Runs a claimed sync and records its outcome.
    async fn run_sync(&self, source: &DataSource, databases: &[String], pattern: &str) -> Result<SyncReport> {
        let started = Instant::now();
        let mut report = SyncReport { databases: databases.to_vec(), ..SyncReport::default() };
        let mut outcome = Ok(());
        for database in databases {
            outcome = self.sync_database(source, database, pattern, &mut report).await;
            if outcome.is_err() {
                break;
            }
        }
        report.duration_ms = started.elapsed().as_millis() as u64;
        let (stored, error) = match &outcome {
            Ok(()) => (serde_json::to_string(&report).unwrap_or_default(), String::new()),
            Err(e) => (String::new(), e.to_string()),
        };
        self.store.finish_sync(source.id, &self.replica, &stored, &error, now_millis()).await?;
        self.catalog.refresh_lineage().await?;
        tracing::info!(
            data_source = %source.def.name,
            tables = report.tables_seen,
            added = report.tables_added,
            changed = report.tables_changed,
            gone = report.tables_gone,
            ms = report.duration_ms,
            ok = outcome.is_ok(),
            "sync finished"
        );
        outcome.map(|()| report)
    }

    async fn sync_database(
        &self,
        source: &DataSource,
        database: &str,
        pattern: &str,
        report: &mut SyncReport,
    ) -> Result<()> {
        let endpoint = self.endpoint(source, database)?;
        let started = now_millis();
        let known = self.store.tables_of_database(database).await?;
        // The warehouse is read while the previous batch is written; the bounded channel keeps
        // at most two batches in memory.
        let (sender, mut receiver) = tokio::sync::mpsc::channel::<WarehouseTable>(SYNC_BATCH);
        let read = warehouse::scan_tables(&endpoint, database, pattern, move |table| {
            let sender = sender.clone();
            async move { sender.send(table).await.map_err(|_| Error::internal("the sync stopped writing")) }
        });
        let write = async {
            let mut batch = Vec::with_capacity(SYNC_BATCH);
            while let Some(table) = receiver.recv().await {
                batch.push(table);
                if batch.len() == SYNC_BATCH {
                    self.write_batch(source.id, database, &known, std::mem::take(&mut batch), report).await?;
                }
            }
            if !batch.is_empty() {
                self.write_batch(source.id, database, &known, batch, report).await?;
            }
            Ok(())
        };
        tokio::try_join!(read, write)?;
        self.mark_gone(source.id, database, pattern, started, report).await
    }

    /// Writes one batch of warehouse tables in one transaction.
    async fn write_batch(
        &self,
        source: i64,
        database: &str,
        known: &HashMap<String, KnownTable>,
        batch: Vec<WarehouseTable>,
        report: &mut SyncReport,
    ) -> Result<()> {
        report.tables_seen += batch.len() as u32;
        let outcome = with_retries(|| async {
            let mut tx = self.store.begin_write().await?;
            // New tables enter the lineage graph: take its lock like every table write.
            tx.lock_lineage().await?;
            let mut outcome = BatchOutcome::default();
            let ids: Vec<i64> =
                batch.iter().filter_map(|t| known.get(&t.name.to_ascii_lowercase()).map(|k| k.id)).collect();
            let mut fields = tx.fields_of_tables(&ids).await?;
            for table in &batch {
                let now = now_millis();
                let synced = SyncedTable {
                    rows: table.rows,
                    data_bytes: table.data_bytes,
                    last_modified: table.updated_at.clone().unwrap_or_default(),
                };
                let columns: Vec<SourceColumn> = table
                    .columns
                    .iter()
                    .map(|c| SourceColumn {
                        name: c.name.clone(),
                        data_type: c.data_type.clone(),
                        nullable: c.nullable,
                        primary_key: c.primary_key,
                        comment: c.comment.clone(),
                    })
                    .collect();
                match known.get(&table.name.to_ascii_lowercase()) {
                    Some(existing) => {
                        let portal = fields.remove(&existing.id).unwrap_or_default();
                        let (new_fields, drift) = reconcile_fields(&portal, &columns, now);
                        let changed_fields = (new_fields != portal).then_some(new_fields.as_slice());
                        let description = (existing.description.is_empty() && !table.comment.is_empty())
                            .then_some(table.comment.as_str());
                        if changed_fields.is_some() || description.is_some() {
                            outcome.changed += 1;
                        }
                        let change = SyncChange {
                            fields: changed_fields,
                            description,
                            synced: &synced,
                            drift: &drift,
                            at: now,
                        };
                        tx.update_synced_table(source, existing.id, &change).await?;
                        if !drift.is_empty() {
                            outcome.drift.push((existing.name.clone(), drift));
                        }
                    }
                    None => {
                        match self.register(&mut tx, source, database, table, &columns, &synced, now).await? {
                            Ok(()) => outcome.added += 1,
                            Err(why) => outcome.skipped.push((format!("{database}.{}", table.name), why)),
                        }
                    }
                }
            }
            tx.commit().await?;
            Ok(outcome)
        })
        .await?;
        report.tables_added += outcome.added;
        report.tables_changed += outcome.changed;
        report.skipped.extend(outcome.skipped);
        report.drift.extend(outcome.drift);
        Ok(())
    }

    /// Registers a warehouse table: as `table` when the name is free, else as `database.table`;
    /// the layer from the name's prefix, else unassigned. The inner error says why it cannot be.
    #[allow(clippy::too_many_arguments)]
    async fn register(
        &self,
        tx: &mut Tx,
        source: i64,
        database: &str,
        table: &WarehouseTable,
        columns: &[SourceColumn],
        synced: &SyncedTable,
        now: EpochMillis,
    ) -> Result<std::result::Result<(), String>> {
        let (fields, _) = reconcile_fields(&[], columns, now);
        let bare = table.name.to_ascii_lowercase();
        for name in [bare.clone(), format!("{database}.{bare}")] {
            let draft = TableDraft {
                layer: Some(Layer::from_table_name(&bare).unwrap_or(Layer::Unassigned)),
                name,
                database: database.to_owned(),
                owner: String::new(),
                description: table.comment.clone(),
                status: Some(TableStatus::Active),
                fields: fields.clone(),
            };
            let def = match TableDef::validate(draft) {
                Ok(def) => def,
                Err(violations) => {
                    let fields = violations.fields().join(", ");
                    return Ok(Err(format!("the registry does not accept its {fields}")));
                }
            };
            if tx.insert_synced_table(source, &def, synced, now).await? {
                return Ok(Ok(()));
            }
        }
        Ok(Err(format!("both {bare} and {database}.{bare} are registered tables of other databases")))
    }

    /// Marks the tables of `database` synced from `source` that this sync did not see.
    async fn mark_gone(
        &self,
        source: i64,
        database: &str,
        pattern: &str,
        started: EpochMillis,
        report: &mut SyncReport,
    ) -> Result<()> {
        let prefix = format!("{database}.");
        let unseen: Vec<(i64, String, Vec<DriftItem>)> = self
            .store
            .unseen_tables(source, database, started)
            .await?
            .into_iter()
            .filter(|(_, name, _)| like(pattern, name.strip_prefix(&prefix).unwrap_or(name)))
            .collect();
        if unseen.is_empty() {
            return Ok(());
        }
        let now = now_millis();
        let gone = DriftItem {
            kind: DriftKind::TableGone,
            column: String::new(),
            portal_type: String::new(),
            warehouse_type: String::new(),
            detected_at: now,
        };
        with_retries(|| async {
            let mut tx = self.store.begin_write().await?;
            for (id, _, drift) in &unseen {
                let mut drift = drift.clone();
                drift.push(gone.clone());
                tx.mark_table_gone(*id, &drift).await?;
            }
            tx.commit().await
        })
        .await?;
        report.tables_gone += unseen.len() as u32;
        report.drift.extend(unseen.into_iter().map(|(_, name, _)| (name, vec![gone.clone()])));
        Ok(())
    }

    /// Where and as whom to connect.
    fn endpoint(&self, source: &DataSource, database: &str) -> Result<Endpoint> {
        let password = match source.password_sealed.as_str() {
            "" => Secret::new(""),
            sealed => self.secrets.open(sealed)?,
        };
        Ok(Endpoint {
            host: source.def.host.clone(),
            port: source.def.port,
            user: source.def.user.clone(),
            password,
            database: database.to_owned(),
            connect_timeout: self.connect_timeout,
        })
    }

    /// Runs the periodic syncs that are due, one at a time, until `shutdown`.
    pub async fn run_periodic(self, shutdown: CancellationToken) {
        loop {
            match self.store.claim_due_sync(&self.replica, now_millis(), SYNC_LEASE_MS).await {
                Ok(Some(id)) => {
                    if let Err(e) = self.periodic_sync(id).await {
                        tracing::warn!(data_source_id = id, error = %e, "periodic sync failed");
                    }
                    continue;
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "cannot look for due syncs"),
            }
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(PERIODIC_POLL) => {}
            }
        }
    }

    async fn periodic_sync(&self, id: i64) -> Result<SyncReport> {
        let source = self.store.get_data_source(&Lookup::Id(id)).await?;
        let databases = if source.def.sync_databases.is_empty() {
            vec![source.def.default_database.clone()]
        } else {
            source.def.sync_databases.clone()
        };
        let pattern = source.def.sync_table_pattern.clone();
        self.run_sync(&source, &databases, &pattern).await
    }
}

#[derive(Debug, Default)]
struct BatchOutcome {
    added: u32,
    changed: u32,
    skipped: Vec<(String, String)>,
    drift: Vec<(String, Vec<DriftItem>)>,
}

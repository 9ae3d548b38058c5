//! Statements on `data_source`, and the writes a sync makes to `data_table` and `data_field`.

use std::collections::HashMap;

use sqlx::Row;
use sqlx::any::AnyRow;

use super::lineage::Changed;
use super::tables::{decode_drift, fields_of, insert_fields};
use super::{Store, Tx, name_taken};
use crate::domain::datasource::{DataSource, DataSourceDef, DataSourceKind, DriftItem};
use crate::domain::table::{Field, TableDef};
use crate::domain::{EpochMillis, Lookup, Version};
use crate::error::{Error, ErrorKind, Reason, Result};

macro_rules! data_source_columns {
    () => {
        "id, name, kind, host, port, user_name, password_sealed, default_database, options, sync_interval_secs, \
         sync_databases, sync_table_pattern, last_sync_at, last_sync_report, last_sync_error, version, \
         created_at, updated_at"
    };
}

/// What a sync learned of one warehouse table, ready to store.
#[derive(Debug, Clone)]
pub struct SyncedTable {
    /// Estimated rows.
    pub rows: Option<i64>,
    /// Bytes of data.
    pub data_bytes: Option<i64>,
    /// Last change in the warehouse, as it prints it.
    pub last_modified: String,
}

/// What a sync changes of a registered table.
#[derive(Debug, Clone)]
pub struct SyncChange<'a> {
    /// The new fields, when the structure changed.
    pub fields: Option<&'a [Field]>,
    /// The new description, when the portal had none.
    pub description: Option<&'a str>,
    /// The sync facts.
    pub synced: &'a SyncedTable,
    /// Drift found.
    pub drift: &'a [DriftItem],
    /// When.
    pub at: EpochMillis,
}

/// A registered table of a database, as a sync matches it.
#[derive(Debug, Clone)]
pub struct KnownTable {
    /// Its id.
    pub id: i64,
    /// Its name in the registry.
    pub name: String,
    /// Its description.
    pub description: String,
}

impl Store {
    /// One data source.
    pub async fn get_data_source(&self, lookup: &Lookup) -> Result<DataSource> {
        let row = match lookup {
            Lookup::Id(id) => {
                sqlx::query(concat!("SELECT ", data_source_columns!(), " FROM data_source WHERE id = ?"))
                    .bind(*id)
                    .fetch_optional(&self.pool)
                    .await?
            }
            Lookup::Name(name) => {
                sqlx::query(concat!("SELECT ", data_source_columns!(), " FROM data_source WHERE name = ?"))
                    .bind(name.as_str())
                    .fetch_optional(&self.pool)
                    .await?
            }
        };
        data_source_from_row(&row.ok_or_else(|| data_source_not_found(lookup))?)
    }

    /// A page of data sources with ids above `after_id`, and the number of all.
    pub async fn list_data_sources(&self, after_id: i64, limit: i64) -> Result<(Vec<DataSource>, i64)> {
        let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM data_source").fetch_one(&self.pool).await?;
        let rows = sqlx::query(concat!(
            "SELECT ",
            data_source_columns!(),
            " FROM data_source WHERE id > ? ORDER BY id LIMIT ?"
        ))
        .bind(after_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok((rows.iter().map(data_source_from_row).collect::<Result<_>>()?, total))
    }

    /// The registered tables of `database`, by the warehouse table name they stand for
    /// (`t` or `database.t`).
    pub async fn tables_of_database(&self, database: &str) -> Result<HashMap<String, KnownTable>> {
        let rows = sqlx::query("SELECT id, name, description FROM data_table WHERE database_name = ?")
            .bind(database)
            .fetch_all(&self.pool)
            .await?;
        let prefix = format!("{database}.");
        let mut tables = HashMap::with_capacity(rows.len());
        for row in rows {
            let name: String = row.try_get("name")?;
            let bare = name.strip_prefix(&prefix).unwrap_or(&name).to_owned();
            tables.insert(
                bare,
                KnownTable { id: row.try_get("id")?, name, description: row.try_get("description")? },
            );
        }
        Ok(tables)
    }

    /// Tables a sync of `data_source` over `database` did not see (synced before `started`, or
    /// never), and not yet marked gone: (id, name, drift).
    pub async fn unseen_tables(
        &self,
        data_source: i64,
        database: &str,
        started: EpochMillis,
    ) -> Result<Vec<(i64, String, Vec<DriftItem>)>> {
        let rows = sqlx::query(
            "SELECT id, name, drift FROM data_table WHERE data_source_id = ? AND database_name = ? \
             AND gone_from_source = 0 AND (synced_at IS NULL OR synced_at < ?)",
        )
        .bind(data_source)
        .bind(database)
        .bind(started)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("id")?, r.try_get("name")?, decode_drift(r.try_get("drift")?)?)))
            .collect()
    }

    /// The data sources whose periodic sync is due, claimed for `lease_ms` by `owner`.
    pub async fn claim_due_sync(&self, owner: &str, now: EpochMillis, lease_ms: i64) -> Result<Option<i64>> {
        let mut tx = self.begin_write().await?;
        let sql = format!(
            "SELECT id FROM data_source WHERE sync_interval_secs > 0 AND sync_next_at <= ? \
             AND sync_lease_until < ? ORDER BY sync_next_at LIMIT 1{}",
            self.dialect.claim_rows()
        );
        let id: Option<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(now)
            .bind(now)
            .fetch_optional(&mut *tx.tx)
            .await?;
        let Some(id) = id else { return Ok(None) };
        sqlx::query("UPDATE data_source SET sync_lease_owner = ?, sync_lease_until = ? WHERE id = ?")
            .bind(owner)
            .bind(now + lease_ms)
            .bind(id)
            .execute(&mut *tx.tx)
            .await?;
        tx.commit().await?;
        Ok(Some(id))
    }

    /// Claims a data source for an on-demand sync; false when another sync holds it.
    pub async fn claim_sync(&self, id: i64, owner: &str, now: EpochMillis, lease_ms: i64) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let result = sqlx::query(
            "UPDATE data_source SET sync_lease_owner = ?, sync_lease_until = ? WHERE id = ? AND sync_lease_until < ?",
        )
        .bind(owner)
        .bind(now + lease_ms)
        .bind(id)
        .bind(now)
        .execute(&mut *tx.tx)
        .await?;
        tx.commit().await?;
        Ok(result.rows_affected() == 1)
    }

    /// Ends a sync: its outcome, the next periodic run, the lease released.
    pub async fn finish_sync(
        &self,
        id: i64,
        owner: &str,
        report: &str,
        error: &str,
        now: EpochMillis,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "UPDATE data_source SET last_sync_at = ?, last_sync_report = ?, last_sync_error = ?, \
             sync_next_at = ? + sync_interval_secs * 1000, sync_lease_owner = '', sync_lease_until = 0 \
             WHERE id = ? AND sync_lease_owner = ?",
        )
        .bind(now)
        .bind(report)
        .bind(error)
        .bind(now)
        .bind(id)
        .bind(owner)
        .execute(&mut *tx.tx)
        .await?;
        tx.commit().await
    }
}

impl Tx {
    /// Registers a data source.
    pub async fn insert_data_source(
        &mut self,
        def: &DataSourceDef,
        password_sealed: &str,
        now: EpochMillis,
    ) -> Result<i64> {
        let result = bind_data_source(
            sqlx::query(
                "INSERT INTO data_source (kind, host, port, user_name, default_database, options, \
                 sync_interval_secs, sync_databases, sync_table_pattern, password_sealed, name, sync_next_at, \
                 sync_lease_owner, sync_lease_until, last_sync_report, last_sync_error, version, created_at, \
                 updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '', 0, '', '', 1, ?, ?)",
            ),
            def,
        )?
        .bind(password_sealed)
        .bind(def.name.as_str())
        .bind(now)
        .bind(now)
        .bind(now)
        .execute(&mut *self.tx)
        .await
        .map_err(|e| data_source_name_taken(e, &def.name))?;
        self.inserted_id(&result).await
    }

    /// Replaces a data source's settings (and its password when `password_sealed` is given) if its
    /// version is still `expected`.
    pub async fn update_data_source(
        &mut self,
        id: i64,
        def: &DataSourceDef,
        password_sealed: Option<&str>,
        expected: Version,
        now: EpochMillis,
    ) -> Result<()> {
        let result = bind_data_source(
            sqlx::query(
                "UPDATE data_source SET kind = ?, host = ?, port = ?, user_name = ?, default_database = ?, \
                 options = ?, sync_interval_secs = ?, sync_databases = ?, sync_table_pattern = ?, \
                 password_sealed = COALESCE(?, password_sealed), sync_next_at = ?, version = version + 1, \
                 updated_at = ? WHERE id = ? AND version = ?",
            ),
            def,
        )?
        .bind(password_sealed)
        .bind(now)
        .bind(now)
        .bind(id)
        .bind(expected.0)
        .execute(&mut *self.tx)
        .await?;
        if result.rows_affected() == 0 {
            return Err(Error::etag_mismatch());
        }
        Ok(())
    }

    /// The tasks whose SQL runs on the data source named `name` (at most `limit`).
    pub async fn tasks_using_data_source(&mut self, name: &str, limit: i64) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar("SELECT name FROM data_task WHERE datasource = ? ORDER BY name LIMIT ?")
            .bind(name)
            .bind(limit)
            .fetch_all(&mut *self.tx)
            .await?)
    }

    /// Deletes a data source if its version is still `expected` (any when `None`); its tables stay.
    pub async fn delete_data_source(&mut self, id: i64, expected: Option<Version>) -> Result<()> {
        let result = sqlx::query("DELETE FROM data_source WHERE id = ? AND (? IS NULL OR version = ?)")
            .bind(id)
            .bind(expected.map(|v| v.0))
            .bind(expected.map(|v| v.0))
            .execute(&mut *self.tx)
            .await?;
        if result.rows_affected() == 0 {
            return Err(Error::etag_mismatch());
        }
        sqlx::query("UPDATE data_table SET data_source_id = NULL WHERE data_source_id = ?")
            .bind(id)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    /// Registers a table a sync found, with its sync facts; `false` when the name is taken.
    pub async fn insert_synced_table(
        &mut self,
        data_source: i64,
        def: &TableDef,
        synced: &SyncedTable,
        now: EpochMillis,
    ) -> Result<bool> {
        let table = match self.insert_table(def, now).await {
            Ok(table) => table,
            Err(e) if e.reason == Reason::TableNameTaken => return Ok(false),
            Err(e) => return Err(e),
        };
        self.record_sync_facts(table.id, data_source, synced, None, now).await?;
        self.record_lineage_change(Changed::Table(table.id), now).await?;
        Ok(true)
    }

    /// Updates a registered table from the warehouse: its fields and description when the
    /// change carries them, the sync facts, and the drift found (appended to what is recorded).
    pub async fn update_synced_table(
        &mut self,
        data_source: i64,
        id: i64,
        change: &SyncChange<'_>,
    ) -> Result<()> {
        let now = change.at;
        if let Some(fields) = change.fields {
            sqlx::query("DELETE FROM data_field WHERE table_id = ?").bind(id).execute(&mut *self.tx).await?;
            insert_fields(&mut self.tx, id, fields).await?;
        }
        if change.fields.is_some() || change.description.is_some() {
            sqlx::query(
                "UPDATE data_table SET description = COALESCE(?, description), version = version + 1, \
                 updated_at = ? WHERE id = ?",
            )
            .bind(change.description)
            .bind(now)
            .bind(id)
            .execute(&mut *self.tx)
            .await?;
        }
        let drift = if change.drift.is_empty() {
            None
        } else {
            let stored: Option<String> = sqlx::query_scalar("SELECT drift FROM data_table WHERE id = ?")
                .bind(id)
                .fetch_one(&mut *self.tx)
                .await?;
            let mut all = decode_drift(stored)?;
            all.extend_from_slice(change.drift);
            Some(all)
        };
        self.record_sync_facts(id, data_source, change.synced, drift.as_deref(), now).await
    }

    /// The fields of registered tables, for a sync to compare.
    pub async fn fields_of_tables(&mut self, ids: &[i64]) -> Result<HashMap<i64, Vec<Field>>> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        fields_of(&mut self.tx, ids).await
    }

    async fn record_sync_facts(
        &mut self,
        id: i64,
        data_source: i64,
        synced: &SyncedTable,
        drift: Option<&[DriftItem]>,
        now: EpochMillis,
    ) -> Result<()> {
        let drift = drift
            .map(|d| serde_json::to_string(d).map_err(|e| Error::internal(format!("drift: {e}"))))
            .transpose()?;
        sqlx::query(
            "UPDATE data_table SET data_source_id = ?, source_rows = ?, source_bytes = ?, source_updated_at = ?, \
             synced_at = ?, gone_from_source = 0, drift = COALESCE(?, drift) WHERE id = ?",
        )
        .bind(data_source)
        .bind(synced.rows)
        .bind(synced.data_bytes)
        .bind(synced.last_modified.as_str())
        .bind(now)
        .bind(drift)
        .bind(id)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Marks a table the warehouse no longer has, with its drift list.
    pub async fn mark_table_gone(&mut self, id: i64, drift: &[DriftItem]) -> Result<()> {
        let drift = serde_json::to_string(drift).map_err(|e| Error::internal(format!("drift: {e}")))?;
        sqlx::query("UPDATE data_table SET gone_from_source = 1, drift = ? WHERE id = ?")
            .bind(drift)
            .bind(id)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    /// Clears a table's drift.
    pub async fn clear_drift(&mut self, id: i64) -> Result<()> {
        let result = sqlx::query("UPDATE data_table SET drift = NULL WHERE id = ?")
            .bind(id)
            .execute(&mut *self.tx)
            .await?;
        if result.rows_affected() == 0 {
            return Err(super::table_not_found(&Lookup::Id(id)));
        }
        Ok(())
    }
}

/// NOT_FOUND for a data source.
pub fn data_source_not_found(lookup: &Lookup) -> Error {
    Error::new(ErrorKind::NotFound, Reason::DataSourceNotFound, format!("no data source with {lookup}"))
}

fn data_source_name_taken(e: sqlx::Error, name: &str) -> Error {
    name_taken(e, Reason::DataSourceNameTaken, "data source", name)
}

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>;

/// Binds the settings columns, in the order both statements list them.
fn bind_data_source<'q>(query: AnyQuery<'q>, def: &DataSourceDef) -> Result<AnyQuery<'q>> {
    Ok(query
        .bind(def.kind.as_str())
        .bind(def.host.clone())
        .bind(i64::from(def.port))
        .bind(def.user.clone())
        .bind(def.default_database.clone())
        .bind(to_json(&def.options)?)
        .bind(def.sync_interval_secs)
        .bind(to_json(&def.sync_databases)?)
        .bind(def.sync_table_pattern.clone()))
}

/// Settings kept as JSON text.
fn to_json(value: &impl serde::Serialize) -> Result<String> {
    serde_json::to_string(value).map_err(|e| Error::internal(format!("settings: {e}")))
}

fn data_source_from_row(row: &AnyRow) -> Result<DataSource> {
    let stored = super::unknown_stored;
    let kind: String = row.try_get("kind")?;
    let port: i64 = row.try_get("port")?;
    let options: String = row.try_get("options")?;
    let databases: String = row.try_get("sync_databases")?;
    Ok(DataSource {
        id: row.try_get("id")?,
        def: DataSourceDef {
            name: row.try_get("name")?,
            kind: DataSourceKind::parse(&kind).ok_or_else(|| stored("kind", &kind))?,
            host: row.try_get("host")?,
            port: u16::try_from(port).map_err(|_| stored("port", &port.to_string()))?,
            user: row.try_get("user_name")?,
            default_database: row.try_get("default_database")?,
            options: serde_json::from_str(&options).map_err(|_| stored("options", &options))?,
            sync_interval_secs: row.try_get("sync_interval_secs")?,
            sync_databases: serde_json::from_str(&databases)
                .map_err(|_| stored("sync_databases", &databases))?,
            sync_table_pattern: row.try_get("sync_table_pattern")?,
        },
        password_sealed: row.try_get("password_sealed")?,
        last_sync_at: row.try_get("last_sync_at")?,
        last_sync_report: row.try_get("last_sync_report")?,
        last_sync_error: row.try_get("last_sync_error")?,
        version: Version(row.try_get("version")?),
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

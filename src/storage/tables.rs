//! Statements on `data_table` and `data_field`.

use std::collections::HashMap;

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AssertSqlSafe, QueryBuilder, Row};

use super::{Store, Tx, is_foreign_key_violation, name_taken, placeholders};
use crate::domain::datasource::DriftItem;
use crate::domain::table::{Field, Layer, Table, TableDef, TableSource, TableStatus};
use crate::domain::{EpochMillis, Lookup, Version};
use crate::error::{Error, ErrorKind, Reason, Result};

/// The columns every read of a row selects, in one place.
/// The FROM clause of every read of whole tables: the data source's name comes along.
macro_rules! from_tables {
    () => {
        " FROM data_table t LEFT JOIN data_source s ON s.id = t.data_source_id"
    };
}

macro_rules! table_columns {
    () => {
        "t.id, t.name, t.database_name, t.layer, t.owner, t.description, t.status, t.version, t.created_at, \
         t.updated_at, t.source_rows, t.source_bytes, t.source_updated_at, t.synced_at, t.drift, \
         t.gone_from_source, s.name AS data_source_name"
    };
}

/// Filters of a table listing; empty strings and `None` match everything.
#[derive(Debug, Clone, Default)]
pub struct TableFilter {
    /// Exact layer.
    pub layer: Option<Layer>,
    /// Exact owner.
    pub owner: String,
    /// Exact database.
    pub database: String,
    /// Substring of the name.
    pub name_contains: String,
}

/// A registered table as task inputs and outputs refer to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableIo {
    /// Table id.
    pub id: i64,
    /// Table name.
    pub name: String,
    /// Its layer, for the layer rules.
    pub layer: Layer,
}

impl Store {
    /// One table with its fields.
    pub async fn get_table(&self, lookup: &Lookup) -> Result<Table> {
        let mut conn = self.pool.acquire().await?;
        let row = match lookup {
            Lookup::Id(id) => {
                sqlx::query(concat!("SELECT ", table_columns!(), from_tables!(), " WHERE t.id = ?"))
                    .bind(*id)
                    .fetch_optional(&mut *conn)
                    .await?
            }
            Lookup::Name(name) => {
                sqlx::query(concat!("SELECT ", table_columns!(), from_tables!(), " WHERE t.name = ?"))
                    .bind(name.as_str())
                    .fetch_optional(&mut *conn)
                    .await?
            }
        };
        let row = row.ok_or_else(|| table_not_found(lookup))?;
        let mut table = table_from_row(&row, Vec::new())?;
        table.def.fields = fields_of(&mut conn, &[table.id]).await?.remove(&table.id).unwrap_or_default();
        Ok(table)
    }

    /// A page of tables with ids above `after_id`, ordered by id, and the number of all matches.
    pub async fn list_tables(
        &self,
        filter: &TableFilter,
        after_id: i64,
        limit: i64,
        with_fields: bool,
    ) -> Result<(Vec<Table>, i64)> {
        let mut conn = self.pool.acquire().await?;
        let mut count = QueryBuilder::new("SELECT COUNT(*) FROM data_table t WHERE 1 = 1");
        push_table_filter(&mut count, filter);
        let total: i64 = count.build().fetch_one(&mut *conn).await?.try_get(0)?;

        let mut page =
            QueryBuilder::new(concat!("SELECT ", table_columns!(), from_tables!(), " WHERE t.id > "));
        page.push_bind(after_id);
        push_table_filter(&mut page, filter);
        page.push(" ORDER BY t.id LIMIT ").push_bind(limit);
        let rows = page.build().fetch_all(&mut *conn).await?;
        let mut tables =
            rows.iter().map(|row| table_from_row(row, Vec::new())).collect::<Result<Vec<_>>>()?;
        if with_fields && !tables.is_empty() {
            let ids: Vec<i64> = tables.iter().map(|t| t.id).collect();
            let mut fields = fields_of(&mut conn, &ids).await?;
            for table in &mut tables {
                table.def.fields = fields.remove(&table.id).unwrap_or_default();
            }
        }
        Ok((tables, total))
    }
}

impl Tx {
    /// Registers a table; a taken name fails with `TABLE_NAME_TAKEN` (decided by the unique key,
    /// so two racing creates cannot both win).
    pub async fn insert_table(&mut self, def: &TableDef, now: EpochMillis) -> Result<Table> {
        let result = bind_new_table(sqlx::query(concat!("INSERT", insert_table_values!())), def, now)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| table_name_taken(e, &def.name))?;
        let id = self.inserted_id(&result).await?;
        insert_fields(&mut self.tx, id, &def.fields).await?;
        Ok(Table {
            id,
            def: def.clone(),
            version: Version(1),
            created_at: now,
            updated_at: now,
            source: None,
            drift: Vec::new(),
        })
    }

    /// Registers tables that do not exist yet (by name), skipping those that do: used when a
    /// task asks to register its missing inputs and outputs.
    pub async fn insert_tables_if_missing(&mut self, defs: &[TableDef], now: EpochMillis) -> Result<()> {
        for def in defs {
            // Audited: the only dynamic part is the dialect's fixed INSERT keyword.
            let sql = format!(concat!("{}", insert_table_values!()), self.dialect.insert_ignore());
            bind_new_table(sqlx::query(AssertSqlSafe(sql)), def, now).execute(&mut *self.tx).await?;
        }
        Ok(())
    }

    /// Ids of the named tables that exist, locked against deletion until the transaction ends.
    pub async fn table_ids(&mut self, names: &[&str]) -> Result<Vec<TableIo>> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT id, name, layer FROM data_table WHERE name IN ({}){}",
            placeholders(names.len()),
            self.dialect.locking_read()
        );
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for name in names {
            query = query.bind(*name);
        }
        let rows = query.fetch_all(&mut *self.tx).await?;
        rows.iter()
            .map(|row| {
                let layer: String = row.try_get("layer")?;
                Ok(TableIo {
                    id: row.try_get("id")?,
                    name: row.try_get("name")?,
                    layer: Layer::parse(&layer)
                        .ok_or_else(|| Error::internal(format!("stored layer {layer:?} is unknown")))?,
                })
            })
            .collect()
    }

    /// Replaces a table's definition if its version is still `expected`; bumps the version.
    pub async fn update_table(
        &mut self,
        id: i64,
        def: &TableDef,
        expected: Version,
        fields_changed: bool,
        now: EpochMillis,
    ) -> Result<()> {
        let result = sqlx::query(
            "UPDATE data_table SET name = ?, database_name = ?, layer = ?, owner = ?, description = ?, \
             status = ?, version = version + 1, updated_at = ? WHERE id = ? AND version = ?",
        )
        .bind(def.name.as_str())
        .bind(def.database.as_str())
        .bind(def.layer.as_str())
        .bind(def.owner.as_str())
        .bind(def.description.as_str())
        .bind(def.status.as_str())
        .bind(now)
        .bind(id)
        .bind(expected.0)
        .execute(&mut *self.tx)
        .await
        .map_err(|e| table_name_taken(e, &def.name))?;
        if result.rows_affected() == 0 {
            return Err(self
                .explain_missed_row(
                    "SELECT 1 FROM data_table WHERE id = ?",
                    id,
                    table_not_found(&Lookup::Id(id)),
                )
                .await);
        }
        if fields_changed {
            sqlx::query("DELETE FROM data_field WHERE table_id = ?").bind(id).execute(&mut *self.tx).await?;
            insert_fields(&mut self.tx, id, &def.fields).await?;
        }
        Ok(())
    }

    /// Names of the tasks that read or write a table (at most `limit`).
    pub async fn tasks_using_table(&mut self, id: i64, limit: i64) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT DISTINCT k.name FROM task_io io JOIN data_task k ON k.id = io.task_id \
             WHERE io.table_id = ? ORDER BY k.name LIMIT ?",
        )
        .bind(id)
        .bind(limit)
        .fetch_all(&mut *self.tx)
        .await?;
        rows.iter().map(|row| Ok(row.try_get(0)?)).collect()
    }

    /// Deletes a table (and its fields) if its version is `expected` (any version when `None`).
    pub async fn delete_table(&mut self, id: i64, expected: Option<Version>) -> Result<()> {
        let result = sqlx::query("DELETE FROM data_table WHERE id = ? AND (? IS NULL OR version = ?)")
            .bind(id)
            .bind(expected.map(|v| v.0))
            .bind(expected.map(|v| v.0))
            .execute(&mut *self.tx)
            .await
            .map_err(|e| if is_foreign_key_violation(&e) { table_in_use(id, &[]) } else { Error::from(e) })?;
        if result.rows_affected() == 0 {
            return Err(self
                .explain_missed_row(
                    "SELECT 1 FROM data_table WHERE id = ?",
                    id,
                    table_not_found(&Lookup::Id(id)),
                )
                .await);
        }
        Ok(())
    }

    /// Why a conditional write touched no row (`exists_sql` selects the row by id): the row is gone (`not_found`), or its
    /// version moved on (a stale etag).
    pub(super) async fn explain_missed_row(
        &mut self,
        exists_sql: &'static str,
        id: i64,
        not_found: Error,
    ) -> Error {
        let exists = sqlx::query(exists_sql).bind(id).fetch_optional(&mut *self.tx).await;
        match exists {
            Ok(Some(_)) => Error::etag_mismatch(),
            Ok(None) => not_found,
            Err(e) => e.into(),
        }
    }
}

/// The rest of an `INSERT` of a new table, after the `INSERT` keyword; see [`bind_new_table`].
macro_rules! insert_table_values {
    () => {
        " INTO data_table (name, database_name, layer, owner, description, status, version, created_at, \
         updated_at) VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?)"
    };
}
use insert_table_values;

fn bind_new_table<'q>(
    query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    def: &'q TableDef,
    now: EpochMillis,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
    query
        .bind(def.name.as_str())
        .bind(def.database.as_str())
        .bind(def.layer.as_str())
        .bind(def.owner.as_str())
        .bind(def.description.as_str())
        .bind(def.status.as_str())
        .bind(now)
        .bind(now)
}

/// The error of deleting a table that `tasks` (possibly not all of them) still use.
pub fn table_in_use(id: i64, tasks: &[String]) -> Error {
    let message = if tasks.is_empty() {
        format!("table {id} is read or written by a task; change those tasks first")
    } else {
        format!("table {id} is read or written by tasks {}; change those tasks first", tasks.join(", "))
    };
    Error::new(ErrorKind::FailedPrecondition, Reason::TableInUse, message)
        .with_metadata("tasks", tasks.join(","))
}

pub fn table_not_found(lookup: &Lookup) -> Error {
    Error::new(ErrorKind::NotFound, Reason::TableNotFound, format!("no table with {lookup}"))
}

fn table_name_taken(e: sqlx::Error, name: &str) -> Error {
    name_taken(e, Reason::TableNameTaken, "table", name)
}

fn push_table_filter(query: &mut QueryBuilder<sqlx::Any>, filter: &TableFilter) {
    if let Some(layer) = filter.layer {
        query.push(" AND t.layer = ").push_bind(layer.as_str());
    }
    if !filter.owner.is_empty() {
        query.push(" AND t.owner = ").push_bind(filter.owner.clone());
    }
    if !filter.database.is_empty() {
        query.push(" AND t.database_name = ").push_bind(filter.database.clone());
    }
    if !filter.name_contains.is_empty() {
        query.push(" AND t.name LIKE ").push_bind(like_pattern(&filter.name_contains)).push(" ESCAPE '!'");
    }
}

/// `%text%` with LIKE's wildcards in `text` escaped by `!` (an escape character both dialects
/// read alike, unlike the backslash).
pub(super) fn like_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '!') {
            pattern.push('!');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

fn table_from_row(row: &AnyRow, fields: Vec<Field>) -> Result<Table> {
    let layer: String = row.try_get("layer")?;
    let status: String = row.try_get("status")?;
    Ok(Table {
        id: row.try_get("id")?,
        def: TableDef {
            name: row.try_get("name")?,
            database: row.try_get("database_name")?,
            layer: Layer::parse(&layer)
                .ok_or_else(|| Error::internal(format!("stored layer {layer:?} is unknown")))?,
            owner: row.try_get("owner")?,
            description: row.try_get("description")?,
            status: TableStatus::parse(&status)
                .ok_or_else(|| Error::internal(format!("stored status {status:?} is unknown")))?,
            fields,
        },
        version: Version(row.try_get("version")?),
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        source: source_from_row(row)?,
        drift: decode_drift(row.try_get("drift")?)?,
    })
}

/// The sync facts of a table row, when it was ever synced.
fn source_from_row(row: &AnyRow) -> Result<Option<TableSource>> {
    let Some(synced_at) = row.try_get::<Option<i64>, _>("synced_at")? else { return Ok(None) };
    let gone: i64 = row.try_get("gone_from_source")?;
    Ok(Some(TableSource {
        data_source: row.try_get::<Option<String>, _>("data_source_name")?.unwrap_or_default(),
        rows: row.try_get("source_rows")?,
        data_bytes: row.try_get("source_bytes")?,
        last_modified: row.try_get("source_updated_at")?,
        synced_at,
        gone: gone != 0,
    }))
}

/// Drift as stored: a JSON list, or NULL for none.
pub(super) fn decode_drift(stored: Option<String>) -> Result<Vec<DriftItem>> {
    match stored.filter(|s| !s.is_empty()) {
        None => Ok(Vec::new()),
        Some(json) => serde_json::from_str(&json).map_err(|e| Error::internal(format!("stored drift: {e}"))),
    }
}

pub(super) async fn fields_of(
    conn: &mut AnyConnection,
    table_ids: &[i64],
) -> Result<HashMap<i64, Vec<Field>>> {
    let sql = format!(
        "SELECT table_id, ordinal, name, data_type, field_comment, nullable, primary_key FROM data_field \
         WHERE table_id IN ({}) ORDER BY table_id, ordinal",
        placeholders(table_ids.len())
    );
    let mut query = sqlx::query(AssertSqlSafe(sql));
    for id in table_ids {
        query = query.bind(*id);
    }
    let mut fields: HashMap<i64, Vec<Field>> = HashMap::new();
    for row in query.fetch_all(&mut *conn).await? {
        let table_id: i64 = row.try_get("table_id")?;
        let position: i64 = row.try_get("ordinal")?;
        let nullable: i64 = row.try_get("nullable")?;
        let primary_key: i64 = row.try_get("primary_key")?;
        fields.entry(table_id).or_default().push(Field {
            name: row.try_get("name")?,
            data_type: row.try_get("data_type")?,
            comment: row.try_get("field_comment")?,
            nullable: nullable != 0,
            primary_key: primary_key != 0,
            position: position as i32,
        });
    }
    Ok(fields)
}

/// Rows per multi-row INSERT: 7 binds each keeps every statement far below both dialects'
/// placeholder limits.
const FIELD_ROWS_PER_INSERT: usize = 500;

pub(super) async fn insert_fields(conn: &mut AnyConnection, table_id: i64, fields: &[Field]) -> Result<()> {
    for chunk in fields.chunks(FIELD_ROWS_PER_INSERT) {
        let mut insert = QueryBuilder::new(
            "INSERT INTO data_field (table_id, ordinal, name, data_type, field_comment, nullable, primary_key) ",
        );
        insert.push_values(chunk, |mut row, field| {
            row.push_bind(table_id)
                .push_bind(i64::from(field.position))
                .push_bind(field.name.clone())
                .push_bind(field.data_type.clone())
                .push_bind(field.comment.clone())
                .push_bind(i64::from(field.nullable))
                .push_bind(i64::from(field.primary_key));
        });
        insert.build().execute(&mut *conn).await?;
    }
    Ok(())
}

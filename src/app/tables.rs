//! Use cases of the table registry.

use super::paging::Page;
use super::{Catalog, with_retries};
use crate::domain::table::{Table, TableDef, TableDraft};
use crate::domain::{Etag, Lookup, Version, now_millis};
use crate::error::{Error, Reason, Result};
use crate::storage::{Changed, TableFilter, table_in_use};

/// The attributes of a table an update can change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableAttribute {
    /// Unique name.
    Name,
    /// Warehouse database.
    Database,
    /// Layer.
    Layer,
    /// Owner.
    Owner,
    /// Description.
    Description,
    /// Status.
    Status,
    /// Every field (replaced as a whole).
    Fields,
}

/// A page of tables.
#[derive(Debug)]
pub struct TablePage {
    /// The tables.
    pub tables: Vec<Table>,
    /// Token of the next page; empty on the last.
    pub next_page_token: String,
    /// Matches over all pages.
    pub total_size: i64,
}

/// Most tasks named in a TABLE_IN_USE error.
const IN_USE_TASKS_SHOWN: i64 = 20;

impl Catalog {
    /// Registers a table.
    pub async fn create_table(&self, draft: TableDraft) -> Result<Table> {
        let def = TableDef::validate(draft).map_err(|v| v.nested_under("table").into_error())?;
        let (store, def) = (&self.store, &def);
        let table = with_retries(move || async move {
            let now = now_millis();
            let mut tx = store.begin_write().await?;
            let table = tx.insert_table(def, now).await?;
            tx.lock_lineage().await?;
            tx.record_lineage_change(Changed::Table(table.id), now).await?;
            tx.commit().await?;
            Ok(table)
        })
        .await?;
        self.refresh_after_write().await;
        Ok(table)
    }

    /// One table, fields included.
    pub async fn get_table(&self, lookup: &Lookup) -> Result<Table> {
        self.store.get_table(lookup).await
    }

    /// A page of tables matching `filter`.
    pub async fn list_tables(
        &self,
        filter: &TableFilter,
        page_size: i32,
        page_token: &str,
        with_fields: bool,
    ) -> Result<TablePage> {
        let page = Page::parse(page_size, page_token, filter)?;
        let (mut tables, total_size) =
            self.store.list_tables(filter, page.after_id, page.fetch_limit(), with_fields).await?;
        let next_page_token = page.finish(&mut tables, |t| t.id);
        Ok(TablePage { tables, next_page_token, total_size })
    }

    /// Changes `attributes` of a table to their values in `patch`. With an etag, the update
    /// applies only to that version; without, it applies to the latest (retrying a lost race).
    pub async fn update_table(
        &self,
        target: &Lookup,
        patch: TableDraft,
        attributes: &[TableAttribute],
        etag: Option<Etag>,
    ) -> Result<Table> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let current = self.store.get_table(target).await?;
            if etag.is_some_and(|e| !e.matches(current.id, current.version)) {
                return Err(Error::etag_mismatch());
            }
            let mut draft = current.def.to_draft();
            for attribute in attributes {
                match attribute {
                    TableAttribute::Name => draft.name.clone_from(&patch.name),
                    TableAttribute::Database => draft.database.clone_from(&patch.database),
                    TableAttribute::Layer => draft.layer = patch.layer,
                    TableAttribute::Owner => draft.owner.clone_from(&patch.owner),
                    TableAttribute::Description => draft.description.clone_from(&patch.description),
                    TableAttribute::Status => draft.status = patch.status,
                    TableAttribute::Fields => draft.fields.clone_from(&patch.fields),
                }
            }
            let def = TableDef::validate(draft).map_err(|v| v.nested_under("table").into_error())?;
            let fields_changed = def.fields != current.def.fields;
            let now = now_millis();
            let (store, def_ref, current_ref) = (&self.store, &def, &current);
            let written = with_retries(move || async move {
                let mut tx = store.begin_write().await?;
                tx.update_table(current_ref.id, def_ref, current_ref.version, fields_changed, now).await?;
                tx.lock_lineage().await?;
                tx.record_lineage_change(Changed::Table(current_ref.id), now).await?;
                tx.commit().await
            })
            .await;
            match written {
                Ok(()) => {
                    self.refresh_after_write().await;
                    return Ok(Table {
                        id: current.id,
                        def,
                        version: Version(current.version.0 + 1),
                        created_at: current.created_at,
                        updated_at: now,
                        source: current.source.clone(),
                        drift: current.drift.clone(),
                    });
                }
                Err(e) if e.reason == Reason::EtagMismatch && etag.is_none() && attempt < 3 => {
                    continue;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Deletes a table that no task reads or writes.
    pub async fn delete_table(&self, id: i64, etag: Option<Etag>) -> Result<()> {
        if etag.is_some_and(|e| e.id != id) {
            return Err(Error::etag_mismatch());
        }
        let expected = etag.map(|e| e.version);
        let store = &self.store;
        with_retries(move || async move {
            let mut tx = store.begin_write().await?;
            let users = tx.tasks_using_table(id, IN_USE_TASKS_SHOWN).await?;
            if !users.is_empty() {
                return Err(table_in_use(id, &users));
            }
            tx.delete_table(id, expected).await?;
            tx.lock_lineage().await?;
            tx.record_lineage_change(Changed::Table(id), now_millis()).await?;
            tx.commit().await
        })
        .await?;
        self.refresh_after_write().await;
        Ok(())
    }
}

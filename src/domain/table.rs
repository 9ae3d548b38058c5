//! Tables: datasets in the warehouse, with fields and a layer.

use std::collections::HashSet;

use super::datasource::DriftItem;
use super::names::{self, MAX_OWNER_LEN, MAX_TEXT_LEN};
use super::{EpochMillis, Version};
use crate::error::Violations;

/// The layers of a layered warehouse, from raw to serving.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Layer {
    /// Operational data store.
    Ods,
    /// Detail.
    Dwd,
    /// Dimensions.
    Dim,
    /// Summaries.
    Dws,
    /// Serving.
    Ads,
    /// Not known yet: a table a sync registered whose name follows no layer convention, left
    /// for a person to place. Only syncs produce it; callers cannot ask for it.
    Unassigned,
}

impl Layer {
    /// Every layer of the warehouse, in order (not [`Layer::Unassigned`]).
    pub const ALL: [Layer; 5] = [Layer::Ods, Layer::Dwd, Layer::Dim, Layer::Dws, Layer::Ads];

    /// The stored and displayed form (`ODS`).
    pub fn as_str(self) -> &'static str {
        match self {
            Layer::Ods => "ODS",
            Layer::Dwd => "DWD",
            Layer::Dim => "DIM",
            Layer::Dws => "DWS",
            Layer::Ads => "ADS",
            Layer::Unassigned => "UNASSIGNED",
        }
    }

    /// Reads the stored form.
    pub fn parse(text: &str) -> Option<Layer> {
        Layer::ALL
            .into_iter()
            .chain([Layer::Unassigned])
            .find(|layer| layer.as_str().eq_ignore_ascii_case(text))
    }

    /// A compact code (the position in [`Layer::ALL`], then 5 for unassigned), for dense storage.
    pub(crate) fn code(self) -> u8 {
        self as u8
    }

    /// The layer of a [`Layer::code`].
    pub(crate) fn from_code(code: u8) -> Option<Layer> {
        match code {
            5 => Some(Layer::Unassigned),
            code => Layer::ALL.get(usize::from(code)).copied(),
        }
    }

    /// The layer a conventional name announces by its prefix (`ods_user`, `dw.dwd_user`).
    pub fn from_table_name(name: &str) -> Option<Layer> {
        let table = name.rsplit('.').next().unwrap_or(name);
        let (prefix, _) = table.split_once('_')?;
        Layer::ALL.into_iter().find(|layer| layer.as_str().eq_ignore_ascii_case(prefix))
    }
}

/// Lifecycle of a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableStatus {
    /// In use.
    Active,
    /// Kept for reference.
    Deprecated,
}

impl TableStatus {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            TableStatus::Active => "ACTIVE",
            TableStatus::Deprecated => "DEPRECATED",
        }
    }

    /// Reads the stored form.
    pub fn parse(text: &str) -> Option<TableStatus> {
        [TableStatus::Active, TableStatus::Deprecated].into_iter().find(|s| s.as_str() == text)
    }
}

/// A column of a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// Unique within the table (case-insensitively).
    pub name: String,
    /// SQL type as the warehouse spells it.
    pub data_type: String,
    /// Free text.
    pub comment: String,
    /// Accepts NULL.
    pub nullable: bool,
    /// Part of the primary key.
    pub primary_key: bool,
    /// 1-based position; 0 on input means "by order".
    pub position: i32,
}

/// What a caller asks a table to be; checked by [`TableDef::validate`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableDraft {
    /// See [`TableDef::name`].
    pub name: String,
    /// Empty: taken from a qualified name.
    pub database: String,
    /// `None`: taken from the name prefix.
    pub layer: Option<Layer>,
    /// See [`TableDef::owner`].
    pub owner: String,
    /// See [`TableDef::description`].
    pub description: String,
    /// `None`: active.
    pub status: Option<TableStatus>,
    /// Columns; positions all 0 or all distinct.
    pub fields: Vec<Field>,
}

/// A valid table definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableDef {
    /// Unique name, `table` or `database.table`.
    pub name: String,
    /// The warehouse database, possibly empty.
    pub database: String,
    /// Warehouse layer.
    pub layer: Layer,
    /// Responsible person or team.
    pub owner: String,
    /// Free text.
    pub description: String,
    /// Lifecycle.
    pub status: TableStatus,
    /// Columns ordered by position, positions 1..=n.
    pub fields: Vec<Field>,
}

/// A registered table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    /// Assigned by the store.
    pub id: i64,
    /// The definition.
    pub def: TableDef,
    /// Bumped on every change.
    pub version: Version,
    /// Registration time.
    pub created_at: EpochMillis,
    /// Last change.
    pub updated_at: EpochMillis,
    /// What the last sync from a data source found; `None` for tables never synced.
    pub source: Option<TableSource>,
    /// Structural changes syncs found that nobody acknowledged yet.
    pub drift: Vec<DriftItem>,
}

/// A table as its data source last reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSource {
    /// The data source's name.
    pub data_source: String,
    /// Estimated rows.
    pub rows: Option<i64>,
    /// Bytes of data.
    pub data_bytes: Option<i64>,
    /// When the warehouse last changed it, as the warehouse prints it.
    pub last_modified: String,
    /// When it was synced.
    pub synced_at: EpochMillis,
    /// Whether the last sync no longer found it.
    pub gone: bool,
}

impl TableDef {
    /// Checks every attribute of a draft, reporting all problems at once (field paths relative
    /// to the table), and fills in what conventions imply: database from a qualified name,
    /// layer from the name prefix, positions from the order of fields.
    pub fn validate(draft: TableDraft) -> Result<TableDef, Violations> {
        let mut violations = Violations::default();
        if let Err(why) = names::check_table_name(&draft.name) {
            violations.add("name", why);
        }
        let qualifier = draft.name.split_once('.').map(|(db, _)| db.to_owned());
        let database = match (draft.database.is_empty(), qualifier) {
            (true, Some(db)) => db,
            (false, Some(db)) if db != draft.database => {
                violations.add("database", format!("does not match the name's qualifier {db:?}"));
                draft.database
            }
            _ => draft.database,
        };
        if !database.is_empty()
            && let Err(why) = names::check_database_name(&database)
        {
            violations.add("database", why);
        }
        let layer = draft.layer.or_else(|| Layer::from_table_name(&draft.name));
        if layer.is_none() {
            violations.add(
                "layer",
                "is required: the name has no layer prefix (ods_, dwd_, dim_, dws_, ads_) to take it from",
            );
        }
        if let Err(why) = names::check_text(&draft.owner, MAX_OWNER_LEN) {
            violations.add("owner", why);
        }
        if let Err(why) = names::check_text(&draft.description, MAX_TEXT_LEN) {
            violations.add("description", why);
        }
        let fields = validate_fields(draft.fields, &mut violations);
        match layer {
            Some(layer) if violations.is_empty() => Ok(TableDef {
                name: draft.name,
                database,
                layer,
                owner: draft.owner,
                description: draft.description,
                status: draft.status.unwrap_or(TableStatus::Active),
                fields,
            }),
            _ => Err(violations),
        }
    }

    /// The draft this definition came from, to apply a partial update on.
    pub fn to_draft(&self) -> TableDraft {
        TableDraft {
            name: self.name.clone(),
            database: self.database.clone(),
            layer: Some(self.layer),
            owner: self.owner.clone(),
            description: self.description.clone(),
            status: Some(self.status),
            fields: self.fields.clone(),
        }
    }
}

/// Most fields a table may have.
pub const MAX_FIELDS: usize = 4096;

fn validate_fields(mut fields: Vec<Field>, violations: &mut Violations) -> Vec<Field> {
    if fields.len() > MAX_FIELDS {
        violations.add("fields", format!("a table may have at most {MAX_FIELDS} fields"));
        return fields;
    }
    let by_order = fields.iter().all(|f| f.position == 0);
    let mut seen_names = HashSet::new();
    let mut seen_positions = HashSet::new();
    for (index, field) in fields.iter_mut().enumerate() {
        let path = format!("fields[{index}]");
        if let Err(why) = names::check_field_name(&field.name) {
            violations.add(format!("{path}.name"), why);
        } else if !seen_names.insert(field.name.to_ascii_lowercase()) {
            violations.add(format!("{path}.name"), format!("duplicate field name {:?}", field.name));
        }
        if let Err(why) = names::check_field_type(&field.data_type) {
            violations.add(format!("{path}.type"), why);
        }
        if let Err(why) = names::check_text(&field.comment, MAX_TEXT_LEN) {
            violations.add(format!("{path}.comment"), why);
        }
        if by_order {
            field.position = index as i32 + 1;
        } else if field.position < 1 || field.position as usize > MAX_FIELDS {
            violations.add(format!("{path}.position"), "must be between 1 and 4096, or 0 on every field");
        } else if !seen_positions.insert(field.position) {
            violations.add(format!("{path}.position"), format!("duplicate position {}", field.position));
        }
    }
    fields.sort_by_key(|f| f.position);
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(name: &str, position: i32) -> Field {
        Field {
            name: name.into(),
            data_type: "bigint".into(),
            comment: String::new(),
            nullable: true,
            primary_key: false,
            position,
        }
    }

    #[test]
    fn conventions_fill_layer_database_and_positions() {
        let def = TableDef::validate(TableDraft {
            name: "dw.dwd_user".into(),
            fields: vec![field("id", 0), field("name", 0)],
            ..Default::default()
        })
        .unwrap();
        assert_eq!(def.layer, Layer::Dwd);
        assert_eq!(def.database, "dw");
        assert_eq!(def.status, TableStatus::Active);
        assert_eq!(def.fields.iter().map(|f| f.position).collect::<Vec<_>>(), [1, 2]);
    }

    #[test]
    fn explicit_positions_order_fields() {
        let def = TableDef::validate(TableDraft {
            name: "ods_x".into(),
            fields: vec![field("b", 2), field("a", 1)],
            ..Default::default()
        })
        .unwrap();
        assert_eq!(def.fields[0].name, "a");
    }

    #[test]
    fn reports_every_problem() {
        let err = TableDef::validate(TableDraft {
            name: "User".into(),
            database: "x".into(),
            fields: vec![field("id", 0), field("ID", 0), field("1x", 0)],
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(err.fields(), ["name", "layer", "fields[1].name", "fields[2].name"]);
    }

    #[test]
    fn layer_from_prefix() {
        assert_eq!(Layer::from_table_name("ods_user"), Some(Layer::Ods));
        assert_eq!(Layer::from_table_name("dw.ads_report"), Some(Layer::Ads));
        assert_eq!(Layer::from_table_name("user"), None);
        assert_eq!(Layer::from_table_name("odsuser"), None);
    }
}

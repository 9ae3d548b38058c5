//! Data sources (warehouse connections) and how a table's structure is reconciled with what the
//! warehouse reports: the warehouse owns the structure, people own descriptions, owners, layers
//! and the comments they wrote, and every structural change is recorded as drift.

use std::collections::{BTreeMap, HashMap};

use super::names::{check_database_name, check_task_name, check_text};
use super::table::Field;
use super::{EpochMillis, Version};
use crate::error::Violations;

/// Most databases a periodic sync covers.
pub const MAX_SYNC_DATABASES: usize = 100;
/// Shortest interval of a periodic sync, in seconds.
pub const MIN_SYNC_INTERVAL_SECS: i64 = 60;

/// What a data source is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataSourceKind {
    /// Apache Doris (speaks the MySQL protocol).
    Doris,
    /// MySQL or MariaDB.
    MySql,
}

impl DataSourceKind {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            DataSourceKind::Doris => "DORIS",
            DataSourceKind::MySql => "MYSQL",
        }
    }

    /// Reads the stored form.
    pub fn parse(text: &str) -> Option<DataSourceKind> {
        [DataSourceKind::Doris, DataSourceKind::MySql].into_iter().find(|k| k.as_str() == text)
    }

    /// The port its servers usually listen on (Doris FE's MySQL port is 9030).
    pub fn default_port(self) -> u16 {
        match self {
            DataSourceKind::Doris => 9030,
            DataSourceKind::MySql => 3306,
        }
    }
}

/// What a caller says a data source is (the password travels separately: it is write-only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataSourceDef {
    /// Unique name; SQL tasks refer to it, and DolphinScheduler's datasource of the same name runs them.
    pub name: String,
    /// Doris or MySQL.
    pub kind: DataSourceKind,
    /// Host name or address.
    pub host: String,
    /// Port.
    pub port: u16,
    /// User to connect as.
    pub user: String,
    /// Database used when a request names none.
    pub default_database: String,
    /// Extra connection options.
    pub options: BTreeMap<String, String>,
    /// Seconds between periodic syncs; 0 = on demand only.
    pub sync_interval_secs: i64,
    /// Databases a periodic sync covers; empty = the default database.
    pub sync_databases: Vec<String>,
    /// Tables a periodic sync covers (SQL LIKE); empty = all.
    pub sync_table_pattern: String,
}

impl DataSourceDef {
    /// Checks every attribute, reporting all problems at once.
    pub fn validate(&self) -> Violations {
        let mut violations = Violations::default();
        if let Err(why) = check_task_name(&self.name) {
            violations.add("name", why);
        }
        if self.host.trim().is_empty() || self.host.len() > 255 || self.host.contains(char::is_whitespace) {
            violations.add("host", "must be a host name or address of at most 255 characters");
        }
        if self.port == 0 {
            violations.add("port", "must be between 1 and 65535");
        }
        if self.user.is_empty() || self.user.len() > 128 {
            violations.add("user", "must be 1 to 128 characters");
        }
        if !self.default_database.is_empty()
            && let Err(why) = check_database_name(&self.default_database)
        {
            violations.add("default_database", why);
        }
        if self.options.len() > 50 {
            violations.add("options", "at most 50");
        }
        for (key, value) in &self.options {
            if key.is_empty() || check_text(value, 1000).is_err() || check_text(key, 100).is_err() {
                violations
                    .add(format!("options[{key}]"), "keys are 1 to 100 characters, values at most 1000");
            }
        }
        if self.sync_interval_secs < 0
            || (self.sync_interval_secs > 0 && self.sync_interval_secs < MIN_SYNC_INTERVAL_SECS)
        {
            violations.add(
                "sync_interval_seconds",
                format!("must be 0 (on demand only) or at least {MIN_SYNC_INTERVAL_SECS}"),
            );
        }
        if self.sync_databases.len() > MAX_SYNC_DATABASES {
            violations.add("sync_databases", format!("at most {MAX_SYNC_DATABASES}"));
        }
        for (i, database) in self.sync_databases.iter().enumerate() {
            if let Err(why) = check_database_name(database) {
                violations.add(format!("sync_databases[{i}]"), why);
            }
        }
        if self.sync_interval_secs > 0 && self.sync_databases.is_empty() && self.default_database.is_empty() {
            violations.add("sync_databases", "a periodic sync needs databases (or a default database)");
        }
        if self.sync_table_pattern.len() > 255 {
            violations.add("sync_table_pattern", "at most 255 characters");
        }
        violations
    }
}

/// A stored data source.
#[derive(Debug, Clone)]
pub struct DataSource {
    /// Assigned by the service.
    pub id: i64,
    /// What it is.
    pub def: DataSourceDef,
    /// The password, sealed (empty when none is set).
    pub password_sealed: String,
    /// When the last sync ended.
    pub last_sync_at: Option<EpochMillis>,
    /// Its report (JSON), when it succeeded.
    pub last_sync_report: String,
    /// Its error, when it failed.
    pub last_sync_error: String,
    /// Bumped on every change.
    pub version: Version,
    /// When it was created.
    pub created_at: EpochMillis,
    /// When it last changed.
    pub updated_at: EpochMillis,
}

/// A structural change the warehouse made that the portal did not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DriftKind {
    /// A column the portal did not have.
    ColumnAdded,
    /// A column the warehouse no longer has.
    ColumnDropped,
    /// A column whose type changed.
    ColumnRetyped,
    /// The warehouse no longer has the table (it is marked, not deleted).
    TableGone,
}

/// One recorded drift.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DriftItem {
    /// What changed.
    pub kind: DriftKind,
    /// The column (empty for TABLE_GONE).
    pub column: String,
    /// Its type in the portal before the sync (empty when added).
    pub portal_type: String,
    /// Its type in the warehouse (empty when dropped).
    pub warehouse_type: String,
    /// When the sync found it.
    pub detected_at: EpochMillis,
}

/// A column as the warehouse reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceColumn {
    /// Name.
    pub name: String,
    /// Type as the warehouse spells it.
    pub data_type: String,
    /// Accepts NULL.
    pub nullable: bool,
    /// Part of the primary key.
    pub primary_key: bool,
    /// The warehouse's comment.
    pub comment: String,
}

/// The fields a table gets from the warehouse's columns, and the drift from what the portal had.
/// The structure (names, order, types, nullability, keys) follows the warehouse; a comment the
/// portal has is kept, an empty one takes the warehouse's. A table that had no fields yet is
/// being imported: nothing drifted.
pub fn reconcile_fields(
    portal: &[Field],
    warehouse: &[SourceColumn],
    now: EpochMillis,
) -> (Vec<Field>, Vec<DriftItem>) {
    let by_name: HashMap<String, &Field> = portal.iter().map(|f| (f.name.to_ascii_lowercase(), f)).collect();
    let mut drift = Vec::new();
    let mut fields = Vec::with_capacity(warehouse.len());
    for (i, column) in warehouse.iter().enumerate() {
        let existing = by_name.get(&column.name.to_ascii_lowercase());
        match existing {
            None if !portal.is_empty() => drift.push(DriftItem {
                kind: DriftKind::ColumnAdded,
                column: column.name.clone(),
                portal_type: String::new(),
                warehouse_type: column.data_type.clone(),
                detected_at: now,
            }),
            Some(field) if normalize_type(&field.data_type) != normalize_type(&column.data_type) => drift
                .push(DriftItem {
                    kind: DriftKind::ColumnRetyped,
                    column: column.name.clone(),
                    portal_type: field.data_type.clone(),
                    warehouse_type: column.data_type.clone(),
                    detected_at: now,
                }),
            _ => {}
        }
        let comment = existing
            .map(|f| f.comment.clone())
            .filter(|c| !c.is_empty())
            .unwrap_or_else(|| column.comment.clone());
        fields.push(Field {
            name: column.name.clone(),
            data_type: column.data_type.clone(),
            comment,
            nullable: column.nullable,
            primary_key: column.primary_key,
            position: i as i32 + 1,
        });
    }
    let in_warehouse: std::collections::HashSet<String> =
        warehouse.iter().map(|c| c.name.to_ascii_lowercase()).collect();
    for field in portal {
        if !in_warehouse.contains(&field.name.to_ascii_lowercase()) {
            drift.push(DriftItem {
                kind: DriftKind::ColumnDropped,
                column: field.name.clone(),
                portal_type: field.data_type.clone(),
                warehouse_type: String::new(),
                detected_at: now,
            });
        }
    }
    (fields, drift)
}

/// A type for comparison: lowercase, without spaces, without the display width MySQL 5 and
/// MariaDB print for integers (`int(11)` is `int` on MySQL 8).
fn normalize_type(data_type: &str) -> String {
    let compact: String = data_type.to_ascii_lowercase().chars().filter(|c| !c.is_whitespace()).collect();
    for integer in ["tinyint", "smallint", "mediumint", "bigint", "integer", "int"] {
        if let Some(rest) = compact.strip_prefix(integer)
            && let Some(after) = rest.strip_prefix('(')
            && let Some(close) = after.find(')')
            && after[..close].chars().all(|c| c.is_ascii_digit())
        {
            return format!("{integer}{}", &after[close + 1..]);
        }
    }
    compact
}

/// Whether `text` matches the SQL LIKE `pattern` (`%` any run, `_` one character, `\` escapes);
/// the empty pattern matches everything. Case-insensitive, as MySQL's default collations are.
pub fn like(pattern: &str, text: &str) -> bool {
    if pattern.is_empty() {
        return true;
    }
    let pattern: Vec<char> = pattern.to_lowercase().chars().collect();
    let text: Vec<char> = text.to_lowercase().chars().collect();
    fn matches(p: &[char], t: &[char]) -> bool {
        match p.first() {
            None => t.is_empty(),
            Some('%') => (0..=t.len()).any(|skip| matches(&p[1..], &t[skip..])),
            Some('_') => !t.is_empty() && matches(&p[1..], &t[1..]),
            Some('\\') if p.len() > 1 => t.first() == Some(&p[1]) && matches(&p[2..], &t[1..]),
            Some(c) => t.first() == Some(c) && matches(&p[1..], &t[1..]),
        }
    }
    matches(&pattern, &text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(name: &str, data_type: &str, comment: &str) -> Field {
        Field {
            name: name.into(),
            data_type: data_type.into(),
            comment: comment.into(),
            nullable: true,
            primary_key: false,
            position: 0,
        }
    }

    fn column(name: &str, data_type: &str, comment: &str) -> SourceColumn {
        SourceColumn {
            name: name.into(),
            data_type: data_type.into(),
            nullable: false,
            primary_key: name == "id",
            comment: comment.into(),
        }
    }

    #[test]
    fn an_import_is_not_drift() {
        let (fields, drift) = reconcile_fields(&[], &[column("id", "bigint", "key")], 1);
        assert!(drift.is_empty());
        assert_eq!((fields[0].position, fields[0].comment.as_str(), fields[0].primary_key), (1, "key", true));
    }

    #[test]
    fn structure_follows_the_warehouse_and_people_keep_their_comments() {
        let portal =
            [field("id", "int", "the user"), field("email", "varchar(64)", ""), field("old", "text", "x")];
        let warehouse = [
            column("id", "int(11)", "wh id"),
            column("email", "varchar(255)", "wh email"),
            column("age", "int", ""),
        ];
        let (fields, drift) = reconcile_fields(&portal, &warehouse, 7);
        let names: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["id", "email", "age"]);
        assert_eq!(fields[0].comment, "the user", "a person's comment is kept");
        assert_eq!(fields[1].comment, "wh email", "an empty one takes the warehouse's");
        assert_eq!(fields[1].data_type, "varchar(255)");
        let kinds: Vec<(DriftKind, &str)> = drift.iter().map(|d| (d.kind, d.column.as_str())).collect();
        assert_eq!(
            kinds,
            [
                (DriftKind::ColumnRetyped, "email"),
                (DriftKind::ColumnAdded, "age"),
                (DriftKind::ColumnDropped, "old")
            ],
            "int(11) is int: no drift for id"
        );
        assert_eq!(
            (drift[0].portal_type.as_str(), drift[0].warehouse_type.as_str()),
            ("varchar(64)", "varchar(255)")
        );
    }

    #[test]
    fn like_patterns() {
        assert!(like("", "anything"));
        assert!(like("ods\\_%", "ods_user"));
        assert!(!like("ods\\_%", "odsxuser"));
        assert!(like("ods_%", "odsxuser"));
        assert!(like("%user", "dwd_USER"));
        assert!(!like("dwd_a", "dwd_ab"));
    }

    #[test]
    fn data_sources_are_checked() {
        let def = DataSourceDef {
            name: "Bad Name".into(),
            kind: DataSourceKind::Doris,
            host: "".into(),
            port: 0,
            user: String::new(),
            default_database: "Bad".into(),
            options: BTreeMap::new(),
            sync_interval_secs: 5,
            sync_databases: vec![],
            sync_table_pattern: String::new(),
        };
        assert_eq!(
            def.validate().fields(),
            ["name", "host", "port", "user", "default_database", "sync_interval_seconds"]
        );
    }
}

//! Table lineage (input and output tables) of SQL scripts, as written for
//! DolphinScheduler SQL tasks against MySQL-speaking (Doris) or Hive-speaking
//! warehouses.
//!
//! [`analyze`] renders DolphinScheduler placeholders ([`render_placeholders`]),
//! parses the script with `sqlparser` and walks every statement in order.
//! It reports tables only, not columns.
//!
//! # What counts as an input or an output
//!
//! * Every table read in a `FROM`, `JOIN`, derived table, subquery (in
//!   `SELECT`, `WHERE`, `IN`, `EXISTS`, `HAVING`, `CASE`, ...), set
//!   operation, `MERGE ... USING` (and subqueries in its `ON`/`WHEN`),
//!   `UPDATE ... FROM/JOIN` or `DELETE ... USING/JOIN` is read. Tables named
//!   by `INSERT [OVERWRITE] [INTO] [TABLE]`, `REPLACE INTO`, `CREATE TABLE`
//!   (with or without `AS SELECT`), `CREATE [MATERIALIZED] VIEW`, `UPDATE`,
//!   `DELETE`, `MERGE INTO`, `TRUNCATE` and `LOAD DATA ... INTO TABLE` are
//!   written.
//! * Statements are applied in order and, within one statement, reads come
//!   before writes. A table read *before* the script writes it is an input,
//!   so `INSERT OVERWRITE t SELECT ... FROM t` reports `t` as both input and
//!   output; the caller decides what to do with such self-dependencies. A
//!   table read only *after* the script wrote data into it (a staging table)
//!   is not an input.
//! * A plain `CREATE TABLE t (...)` or `CREATE TABLE t LIKE s` makes `t` an
//!   output but does not count as writing data: with `IF NOT EXISTS` the
//!   table may already hold data, so a later read of `t` is still an input.
//! * `CREATE TABLE t LIKE s`: `s` is an input. No rows flow, but the
//!   statement depends on `s` existing and copies its definition.
//! * `UPDATE t ...`, `DELETE FROM t ...` and `MERGE INTO t ...` make `t` an
//!   output only; their own target is not an input unless a subquery reads it
//!   explicitly. In a multi-table `UPDATE`, the updated tables are those
//!   whose name or alias qualifies a `SET` column, or the first table when no
//!   column is qualified; in a multi-table `DELETE`, the tables listed before
//!   `FROM` (or in `FROM` when `USING` is present).
//! * `TRUNCATE t` is a write of `t` (so `TRUNCATE t; INSERT INTO t ...`
//!   reports output `t`).
//! * `DROP TABLE t` / `DROP VIEW t` is neither input nor output, but a table
//!   the script wrote and then drops is a scratch table: it is removed from
//!   the outputs. `DROP TABLE IF EXISTS t; CREATE TABLE t AS ...` keeps `t`.
//! * `RENAME TABLE a TO b` / `ALTER TABLE a RENAME TO b` reads `a`, writes
//!   `b` and drops `a`. Other `ALTER` statements (partitions, properties),
//!   `SET`, `SHOW`, `ANALYZE`, `MSCK`, `CALL`, grants and the like contribute
//!   nothing; `SET @v = (SELECT ... FROM t)` reads `t`.
//! * Temporary tables and views (`CREATE TEMPORARY TABLE|VIEW`) are never
//!   reported; what they read is.
//! * CTE names are never tables. A CTE shadows a table of the same name only
//!   inside its own query, and only after its definition (or in its own body
//!   with `WITH RECURSIVE`).
//! * Aliases are never reported, nor are MySQL's `dual` and table-valued
//!   functions (`FROM f(...)`, `UNNEST`, `LATERAL VIEW explode(...)`).
//! * `EXPLAIN` and routine definitions (`CREATE FUNCTION|PROCEDURE|TRIGGER`,
//!   `PREPARE`) are not executed, so they contribute nothing.
//! * `INSERT OVERWRITE [LOCAL] DIRECTORY ... SELECT` and `SELECT ... INTO
//!   @var` only contribute their inputs.
//!
//! # Names
//!
//! Names are lowercased, quotes and backticks removed, and the parts kept as
//! written (`db.tbl` stays `db.tbl`, `catalog.db.tbl` stays so). After
//! `USE db` (Hive's `USE default` included), one-part table names of later
//! statements are qualified as `db.tbl`, so a script's own staging tables
//! match however they are written; CTE names are never qualified. Before
//! any `USE` names stay as written: the caller applies the data source's
//! default database if it wants one. An unresolved placeholder inside a name
//! is reported as written, e.g. `ods_${env}_user` (placeholder case kept).
//!
//! # Dialects, fall-backs and errors
//!
//! The whole script is parsed with the chosen dialect first. If that fails,
//! the script is split at top-level `;` and each statement is parsed with the
//! chosen dialect, then the other one (MySQL and Hive accept different
//! subsets, and Doris scripts borrow Hive syntax), then sqlparser's generic
//! dialect. Statements sqlparser rejects in every dialect but whose lineage
//! is clear are then handled at the token level:
//!
//! * Hive's multi-insert `[WITH ...] FROM src INSERT ... SELECT ... INSERT
//!   ...`: the `FROM` part and each `INSERT` are parsed separately;
//! * Doris `INSERT ... WITH LABEL l ...` and Hive `INSERT ... PARTITION (...)
//!   IF NOT EXISTS ...`: the label or condition is dropped;
//! * MySQL `UPDATE t1, t2 SET ...`: the commas become cross joins;
//! * `CREATE ... TABLE|VIEW name <options sqlparser does not know> [AS
//!   query | LIKE source]` (Doris `ENGINE=OLAP ... DISTRIBUTED BY ...
//!   PROPERTIES (...)`, Doris materialized views, Hive `COMMENT` before a
//!   view's `AS`): the options are dropped. This may accept DDL the engine
//!   would reject; lineage is not validation.
//!
//! A statement that still fails is skipped when it starts with a keyword
//! that never moves data and that parsers often reject (`SET`, `RESET`, `ADD
//! JAR`, `LIST`, `DFS`, `MSCK`, `ANALYZE`, `COMPUTE`, `REFRESH`,
//! `INVALIDATE`, `SHOW`, `DESC[RIBE]`, `EXPLAIN`) and no later line of it
//! starts a data statement (a missing `;` must not hide an `INSERT`).
//! Otherwise the chosen dialect's error for that statement is returned,
//! positioned in the original text: a position inside a substituted value
//! points at the placeholder's `$`, and "unexpected end" errors point just
//! after the statement's last token. Because sqlparser backtracks from
//! `IN (SELECT ...)` to `IN (list)`, an error inside such a subquery is
//! reported at the first token the list parse rejects.
//!
//! Not supported (an error is returned): Hive `SELECT TRANSFORM ... USING`,
//! MySQL `SELECT ... INTO OUTFILE`, Doris `LOAD LABEL ...` / broker loads,
//! MySQL `DELIMITER` scripts. Stored procedure calls and dynamic SQL are
//! opaque.
//!
//! # Resource limits
//!
//! Parsing runs on a short-lived thread with a 64 MiB stack; statements with
//! more than 10 000 chained operators (`a OR b OR ...`, `UNION` chains) or
//! 300 joins waiting for their `ON` are rejected; rendered text is capped at
//! 64 MiB. So no input can overflow the stack while the syntax tree is built,
//! walked or dropped, and a parser panic would become an error.

mod collect;
mod parse;
mod render;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::fmt;

pub use render::render_placeholders;

/// Stack for the analysis thread: deep but bounded syntax trees (see
/// `parse::MAX_CHAIN`) need far more than a default 2 MiB thread stack in
/// unoptimised builds.
const ANALYSIS_STACK_BYTES: usize = 64 * 1024 * 1024;

/// Message returned if the parser panics: never expected, but a panic on
/// the analysis thread must not reach the caller.
const INTERNAL_ERROR: &str = "internal error while analysing the SQL";

/// SQL dialect to parse with first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SqlDialect {
    /// MySQL, and MySQL-compatible engines such as Doris and StarRocks.
    MySql,
    /// HiveQL, also what Spark SQL and many warehouses accept.
    Hive,
}

/// Tables a script reads from (`inputs`) and writes to (`outputs`).
///
/// Both lists are sorted, deduplicated and lowercase; see the module
/// documentation for what counts as which.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SqlLineage {
    /// Tables read before the script writes them.
    pub inputs: Vec<String>,
    /// Tables the script creates or modifies, temporary ones excluded.
    pub outputs: Vec<String>,
}

/// Why a script could not be analysed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlError {
    /// What went wrong, without position.
    pub message: String,
    /// 1-based line in the original (un-rendered) text, 0 when unknown.
    pub line: u64,
    /// 1-based column (in characters) in the original text, 0 when unknown.
    pub column: u64,
}

impl SqlError {
    fn unpositioned(message: impl Into<String>) -> Self {
        Self { message: message.into(), line: 0, column: 0 }
    }
}

impl fmt::Display for SqlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            f.write_str(&self.message)
        } else {
            write!(f, "{} (line {}, column {})", self.message, self.line, self.column)
        }
    }
}

impl std::error::Error for SqlError {}

/// Infers the input and output tables of a SQL script.
///
/// Placeholders are rendered first with `params` (see
/// [`render_placeholders`]); statements may be separated by `;`. See the
/// module documentation for the rules and the dialect fall-backs.
///
/// # Errors
///
/// Returns an error when the input has no statement (empty, whitespace or
/// comments only), when a statement cannot be parsed by any dialect, or when
/// a statement is too complex to analyse safely.
pub fn analyze(
    sql: &str,
    dialect: SqlDialect,
    params: &HashMap<String, String>,
) -> Result<SqlLineage, SqlError> {
    let rendered = render::render(sql, params);
    if rendered.over_budget {
        return Err(SqlError::unpositioned(format!(
            "the SQL with its parameters substituted exceeds {} bytes",
            render::MAX_RENDERED_BYTES
        )));
    }
    std::thread::scope(|scope| {
        let worker = std::thread::Builder::new()
            .name("sql-lineage".to_owned())
            .stack_size(ANALYSIS_STACK_BYTES)
            .spawn_scoped(scope, || analyze_rendered(sql, &rendered, dialect));
        match worker {
            Ok(handle) => handle.join().unwrap_or_else(|_| Err(SqlError::unpositioned(INTERNAL_ERROR))),
            Err(e) => Err(SqlError::unpositioned(format!("could not start the SQL analysis: {e}"))),
        }
    })
}

fn analyze_rendered(
    original: &str,
    rendered: &render::Rendered,
    dialect: SqlDialect,
) -> Result<SqlLineage, SqlError> {
    let units = parse::parse_script(&rendered.text, dialect)
        .map_err(|failure| locate(original, rendered, &failure))?;
    let mut script = collect::Script::default();
    for unit in &units {
        script.add(unit);
    }
    let finish = |names: std::collections::BTreeSet<String>| {
        let mut names: Vec<String> = names.iter().map(|n| rendered.restore(n)).collect();
        names.sort();
        names.dedup();
        names
    };
    Ok(SqlLineage {
        inputs: finish(std::mem::take(&mut script.inputs)),
        outputs: finish(std::mem::take(&mut script.outputs)),
    })
}

/// Converts a failure located in the rendered text into an error located in
/// the original text.
fn locate(original: &str, rendered: &render::Rendered, failure: &parse::Failure) -> SqlError {
    let message = rendered.restore(&failure.message);
    let Some(at) = failure.at else {
        return SqlError::unpositioned(message);
    };
    let rendered_offset = char_offset(&rendered.text, at.line, at.column);
    let original_offset = rendered.original_offset(rendered_offset);
    let (line, column) = line_column(original, original_offset);
    SqlError { message, line, column }
}

/// Char offset of a 1-based line and column, as sqlparser counts them
/// (lines end at `\n`; a position past the end of a line stays on it).
fn char_offset(text: &str, line: u64, column: u64) -> usize {
    let mut current_line = 1u64;
    let mut offset = 0usize;
    let mut chars = text.chars();
    while current_line < line {
        match chars.next() {
            Some('\n') => current_line += 1,
            Some(_) => {}
            None => return offset,
        }
        offset += 1;
    }
    offset.saturating_add(usize::try_from(column.saturating_sub(1)).unwrap_or(usize::MAX))
}

/// 1-based line and column of a char offset.
fn line_column(text: &str, offset: usize) -> (u64, u64) {
    let (mut line, mut column) = (1u64, 1u64);
    for c in text.chars().take(offset) {
        if c == '\n' {
            line += 1;
            column = 1;
        } else {
            column += 1;
        }
    }
    (line, column)
}

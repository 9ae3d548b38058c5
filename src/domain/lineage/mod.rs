//! Lineage: which tables a task links (declared, inferred from its SQL, or both), what is
//! worth warning about, and the graph those links form.

pub mod graph;
pub mod sql;

use std::collections::{BTreeMap, BTreeSet};

use super::table::Layer;

/// Where a task's link to a table comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EdgeSource {
    /// Declared, not found in the SQL (or the task has none, or it could not be parsed).
    Declared,
    /// Inferred from the SQL of a task that declares nothing.
    Sql,
    /// Declared, and the SQL agrees.
    Both,
}

impl EdgeSource {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            EdgeSource::Declared => "DECLARED",
            EdgeSource::Sql => "SQL",
            EdgeSource::Both => "BOTH",
        }
    }

    /// Reads the stored form.
    pub fn parse(text: &str) -> Option<EdgeSource> {
        [EdgeSource::Declared, EdgeSource::Sql, EdgeSource::Both].into_iter().find(|s| s.as_str() == text)
    }
}

/// Kinds of lineage findings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum WarningKind {
    /// The SQL reads a table the task does not declare.
    UndeclaredInput,
    /// The SQL writes a table the task does not declare.
    UndeclaredOutput,
    /// A declared input the SQL does not read.
    InputNotInSql,
    /// A declared output the SQL does not write.
    OutputNotInSql,
    /// The task writes a lower layer than it reads.
    LayerOrder,
    /// The SQL could not be parsed.
    SqlNotParsed,
    /// The SQL reads a table it also writes (an incremental load): not an edge, as it would be
    /// a cycle of one table.
    SelfRead,
}

impl WarningKind {
    const ALL: [WarningKind; 7] = [
        WarningKind::UndeclaredInput,
        WarningKind::UndeclaredOutput,
        WarningKind::InputNotInSql,
        WarningKind::OutputNotInSql,
        WarningKind::LayerOrder,
        WarningKind::SqlNotParsed,
        WarningKind::SelfRead,
    ];

    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            WarningKind::UndeclaredInput => "UNDECLARED_INPUT",
            WarningKind::UndeclaredOutput => "UNDECLARED_OUTPUT",
            WarningKind::InputNotInSql => "INPUT_NOT_IN_SQL",
            WarningKind::OutputNotInSql => "OUTPUT_NOT_IN_SQL",
            WarningKind::LayerOrder => "LAYER_ORDER",
            WarningKind::SqlNotParsed => "SQL_NOT_PARSED",
            WarningKind::SelfRead => "SELF_READ",
        }
    }

    /// Reads the stored form.
    pub fn parse(text: &str) -> Option<WarningKind> {
        WarningKind::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

/// Something noticed about a task's lineage.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct LineageWarning {
    /// What kind.
    pub kind: WarningKind,
    /// The table concerned, or empty.
    pub table: String,
    /// For people.
    pub message: String,
}

/// The tables a task links, each with where the link comes from, and the findings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskLinks {
    /// Tables read, sorted by name.
    pub inputs: Vec<(String, EdgeSource)>,
    /// Tables written, sorted by name.
    pub outputs: Vec<(String, EdgeSource)>,
    /// Findings, sorted.
    pub warnings: Vec<LineageWarning>,
}

/// What the SQL analysis of a task's body gave, if it has SQL.
#[derive(Debug, Clone)]
pub enum SqlFinding {
    /// The body is not SQL.
    NoSql,
    /// The tables the SQL reads and writes.
    Parsed(sql::SqlLineage),
    /// Where and why it could not be parsed.
    Unparsed(sql::SqlError),
}

/// Whether a declared name and a name the SQL uses mean the same table: equal, or equal once
/// one of them drops its database qualifier (`dw.ods_user` and `ods_user`).
fn same_table(declared: &str, in_sql: &str) -> bool {
    let bare = |name: &str| name.rsplit('.').next().unwrap_or(name).to_owned();
    declared == in_sql
        || (bare(declared) == bare(in_sql) && (!declared.contains('.') || !in_sql.contains('.')))
}

/// Settles a task's links. A task that declares inputs or outputs links exactly those (the SQL
/// only confirms them or adds findings); a task that declares none links what its SQL reads
/// and writes.
pub fn settle_links(
    declared_inputs: &[String],
    declared_outputs: &[String],
    finding: &SqlFinding,
) -> TaskLinks {
    let mut warnings = BTreeSet::new();
    let declares_any = !declared_inputs.is_empty() || !declared_outputs.is_empty();
    let (sql_inputs, sql_outputs): (Vec<String>, Vec<String>) = match finding {
        SqlFinding::NoSql => (Vec::new(), Vec::new()),
        SqlFinding::Unparsed(error) => {
            warnings.insert(LineageWarning {
                kind: WarningKind::SqlNotParsed,
                table: String::new(),
                message: format!(
                    "the SQL could not be parsed at line {}, column {}: {}; {}",
                    error.line,
                    error.column,
                    error.message,
                    if declares_any { "the declared tables are used" } else { "declare inputs and outputs" }
                ),
            });
            (Vec::new(), Vec::new())
        }
        SqlFinding::Parsed(lineage) => {
            let mut inputs = Vec::new();
            for table in &lineage.inputs {
                if lineage.outputs.contains(table) {
                    warnings.insert(LineageWarning {
                        kind: WarningKind::SelfRead,
                        table: table.clone(),
                        message: format!(
                            "the SQL reads {table} before writing it; that read is not a lineage edge"
                        ),
                    });
                } else {
                    inputs.push(table.clone());
                }
            }
            (inputs, lineage.outputs.clone())
        }
    };

    let parsed = matches!(finding, SqlFinding::Parsed(_));
    let links = |declared: &[String],
                 inferred: &[String],
                 not_in_sql: WarningKind,
                 undeclared: WarningKind| {
        let mut links = BTreeMap::new();
        let mut findings = Vec::new();
        if declares_any {
            for name in declared {
                let confirmed = inferred.iter().any(|s| same_table(name, s));
                links.insert(name.clone(), if confirmed { EdgeSource::Both } else { EdgeSource::Declared });
                if parsed && !confirmed {
                    findings.push((not_in_sql, name.clone()));
                }
            }
            for name in inferred.iter().filter(|s| !declared.iter().any(|d| same_table(d, s))) {
                findings.push((undeclared, name.clone()));
            }
        } else {
            for name in inferred {
                links.insert(name.clone(), EdgeSource::Sql);
            }
        }
        (links.into_iter().collect::<Vec<_>>(), findings)
    };
    let (inputs, input_findings) =
        links(declared_inputs, &sql_inputs, WarningKind::InputNotInSql, WarningKind::UndeclaredInput);
    let (outputs, output_findings) =
        links(declared_outputs, &sql_outputs, WarningKind::OutputNotInSql, WarningKind::UndeclaredOutput);
    for (kind, table) in input_findings.into_iter().chain(output_findings) {
        let message = match kind {
            WarningKind::InputNotInSql => {
                format!("{table} is declared as an input but the SQL does not read it")
            }
            WarningKind::OutputNotInSql => {
                format!("{table} is declared as an output but the SQL does not write it")
            }
            WarningKind::UndeclaredInput => format!("the SQL reads {table}, which is not a declared input"),
            _ => format!("the SQL writes {table}, which is not a declared output"),
        };
        warnings.insert(LineageWarning { kind, table, message });
    }
    TaskLinks { inputs, outputs, warnings: warnings.into_iter().collect() }
}

/// The order of layers data is meant to flow in: ODS, then DWD and DIM, then DWS, then ADS.
/// A table without a layer has no place in that order.
fn layer_rank(layer: Layer) -> Option<u8> {
    match layer {
        Layer::Ods => Some(0),
        Layer::Dwd | Layer::Dim => Some(1),
        Layer::Dws => Some(2),
        Layer::Ads => Some(3),
        Layer::Unassigned => None,
    }
}

/// Findings for every output in a lower layer than an input (an ODS table written from a DWD
/// table): data flowing against the warehouse's layering.
pub fn layer_order_warnings(inputs: &[(String, Layer)], outputs: &[(String, Layer)]) -> Vec<LineageWarning> {
    let mut warnings = Vec::new();
    for (output, output_layer) in outputs {
        for (input, input_layer) in inputs {
            if let (Some(output_rank), Some(input_rank)) =
                (layer_rank(*output_layer), layer_rank(*input_layer))
                && output_rank < input_rank
            {
                warnings.push(LineageWarning {
                    kind: WarningKind::LayerOrder,
                    table: output.clone(),
                    message: format!(
                        "{} table {output} is written from {} table {input}: a lower layer reads a higher one",
                        output_layer.as_str(),
                        input_layer.as_str()
                    ),
                });
            }
        }
    }
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lineage(inputs: &[&str], outputs: &[&str]) -> SqlFinding {
        SqlFinding::Parsed(sql::SqlLineage {
            inputs: inputs.iter().map(|s| s.to_string()).collect(),
            outputs: outputs.iter().map(|s| s.to_string()).collect(),
        })
    }

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn sql_only_tasks_link_what_the_sql_reads_and_writes() {
        let links = settle_links(&[], &[], &lineage(&["ods_a", "ods_b"], &["dwd_c"]));
        assert_eq!(links.inputs, [("ods_a".into(), EdgeSource::Sql), ("ods_b".into(), EdgeSource::Sql)]);
        assert_eq!(links.outputs, [("dwd_c".into(), EdgeSource::Sql)]);
        assert!(links.warnings.is_empty());
    }

    #[test]
    fn declared_links_win_and_disagreements_are_reported() {
        let links = settle_links(
            &names(&["ods_a", "ods_x"]),
            &names(&["dwd_c"]),
            &lineage(&["ods_a", "dw.ods_b"], &["dw.dwd_c"]),
        );
        assert_eq!(
            links.inputs,
            [("ods_a".into(), EdgeSource::Both), ("ods_x".into(), EdgeSource::Declared)]
        );
        assert_eq!(links.outputs, [("dwd_c".into(), EdgeSource::Both)], "a qualified name in SQL matches");
        let kinds: Vec<(WarningKind, &str)> =
            links.warnings.iter().map(|w| (w.kind, w.table.as_str())).collect();
        assert_eq!(
            kinds,
            [(WarningKind::UndeclaredInput, "dw.ods_b"), (WarningKind::InputNotInSql, "ods_x")]
        );
    }

    #[test]
    fn unparsed_sql_keeps_the_declared_links() {
        let error = sql::SqlError { message: "bad".into(), line: 2, column: 7 };
        let links = settle_links(&names(&["ods_a"]), &names(&["dwd_a"]), &SqlFinding::Unparsed(error));
        assert_eq!(links.inputs, [("ods_a".into(), EdgeSource::Declared)]);
        assert_eq!(links.warnings.len(), 1);
        assert!(links.warnings[0].message.contains("line 2, column 7"));
    }

    #[test]
    fn self_reads_are_not_edges() {
        let links = settle_links(&[], &[], &lineage(&["dws_a", "dwd_b"], &["dws_a"]));
        assert_eq!(links.inputs, [("dwd_b".into(), EdgeSource::Sql)]);
        assert_eq!(links.warnings[0].kind, WarningKind::SelfRead);
    }

    #[test]
    fn layer_order() {
        let warnings = layer_order_warnings(
            &[("dwd_a".into(), Layer::Dwd), ("ods_b".into(), Layer::Ods)],
            &[("ods_c".into(), Layer::Ods), ("dim_d".into(), Layer::Dim)],
        );
        assert_eq!(warnings.len(), 1);
        assert_eq!(warnings[0].table, "ods_c");
    }
}

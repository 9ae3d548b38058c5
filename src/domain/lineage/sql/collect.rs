//! Walks parsed statements and folds their reads and writes into the
//! lineage of a whole script.

use std::collections::{BTreeSet, HashSet};
use std::ops::ControlFlow;

use sqlparser::ast::{
    AlterTableOperation, AssignmentTarget, Delete, FromTable, Ident, ObjectName, ObjectNamePart, ObjectType,
    Query, RenameTableNameKind, SetExpr, Statement, TableFactor, TableObject, TableWithJoins, Update, Use,
    Visit, Visitor,
};

use super::parse::Unit;

/// Whether a write gives the table the script's own data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WriteKind {
    /// INSERT, CTAS, UPDATE, ...: later reads see what the script wrote.
    Data,
    /// Plain `CREATE TABLE` (columns or `LIKE`): the table is an output, but
    /// with `IF NOT EXISTS` it may already hold data, so later reads still
    /// count as inputs.
    Definition,
}

#[derive(Debug)]
struct Write {
    name: String,
    kind: WriteKind,
    temporary: bool,
}

/// What one statement reads and writes, names already normalised.
#[derive(Debug, Default)]
struct Effects {
    reads: Vec<String>,
    writes: Vec<Write>,
    drops: Vec<String>,
    use_db: Option<String>,
}

/// Lineage state of a script, fed statement by statement.
#[derive(Debug, Default)]
pub(super) struct Script {
    default_db: Option<String>,
    written: HashSet<String>,
    temporary: HashSet<String>,
    pub(super) inputs: BTreeSet<String>,
    pub(super) outputs: BTreeSet<String>,
}

impl Script {
    pub(super) fn add(&mut self, unit: &Unit) {
        match unit {
            Unit::Statements(statements) => {
                for statement in statements {
                    let mut collector = Collector::new(self.default_db.as_deref());
                    collector.statement(statement);
                    let effects = collector.effects;
                    self.apply(effects);
                }
            }
            Unit::MultiInsert { source, inserts } => {
                let mut collector = Collector::new(self.default_db.as_deref());
                for statement in source.iter().chain(inserts) {
                    collector.statement(statement);
                }
                let effects = collector.effects;
                self.apply(effects);
            }
        }
    }

    /// Reads, then drops, then writes: `INSERT OVERWRITE t SELECT ... FROM t`
    /// keeps `t` on both sides, and `RENAME TABLE t TO t_old, t_new TO t`
    /// ends with `t` written.
    fn apply(&mut self, effects: Effects) {
        for name in effects.reads {
            if !self.written.contains(&name) && !self.temporary.contains(&name) {
                self.inputs.insert(name);
            }
        }
        for name in effects.drops {
            self.outputs.remove(&name);
            self.temporary.remove(&name);
        }
        for write in effects.writes {
            if write.temporary {
                self.temporary.insert(write.name.clone());
                self.outputs.remove(&write.name);
            }
            if write.kind == WriteKind::Data {
                self.written.insert(write.name.clone());
            }
            if !self.temporary.contains(&write.name) {
                self.outputs.insert(write.name);
            }
        }
        if let Some(db) = effects.use_db {
            self.default_db = Some(db);
        }
    }
}

/// CTE names visible in one query.
#[derive(Debug, Default)]
struct Scope {
    /// CTE bodies not yet walked, by address, with their names.
    pending: Vec<(*const Query, String)>,
    visible: Vec<String>,
    recursive: bool,
}

impl Scope {
    fn pending_name(&self, query: *const Query) -> Option<&String> {
        self.pending.iter().find(|(q, _)| std::ptr::eq(*q, query)).map(|(_, name)| name)
    }
}

/// Visits one statement. Every table factor is a read unless the statement
/// handler marked it as a write target; CTE scopes follow the query nesting.
struct Collector<'a> {
    default_db: Option<&'a str>,
    scopes: Vec<Scope>,
    /// Table factors that are written, compared by address only.
    targets: Vec<*const TableFactor>,
    effects: Effects,
}

impl<'a> Collector<'a> {
    fn new(default_db: Option<&'a str>) -> Self {
        Self { default_db, scopes: Vec::new(), targets: Vec::new(), effects: Effects::default() }
    }

    fn statement(&mut self, statement: &Statement) {
        // Defining a routine or explaining a statement does not run it.
        if matches!(
            statement,
            Statement::Explain { .. }
                | Statement::ExplainTable { .. }
                | Statement::CreateFunction(_)
                | Statement::CreateProcedure { .. }
                | Statement::CreateTrigger(_)
                | Statement::CreateMacro { .. }
                | Statement::Prepare { .. }
        ) {
            return;
        }
        let _ = statement.visit(self);
    }

    fn qualified(&self, parts: &[String]) -> Option<String> {
        if parts.is_empty() {
            return None;
        }
        let name = parts.join(".");
        match (self.default_db, parts.len()) {
            (Some(db), 1) => Some(format!("{db}.{name}")),
            _ => Some(name),
        }
    }

    fn is_cte(&self, parts: &[String]) -> bool {
        match parts {
            [name] => self.scopes.iter().any(|scope| scope.visible.iter().any(|v| v == name)),
            _ => false,
        }
    }

    fn read_parts(&mut self, parts: &[String]) {
        if self.is_cte(parts) || matches!(parts, [n] if n == "dual") {
            return;
        }
        if let Some(name) = self.qualified(parts) {
            self.effects.reads.push(name);
        }
    }

    fn read(&mut self, name: &ObjectName) {
        self.read_parts(&name_parts(name));
    }

    fn write(&mut self, name: &ObjectName, kind: WriteKind, temporary: bool) {
        if let Some(name) = self.qualified(&name_parts(name)) {
            self.effects.writes.push(Write { name, kind, temporary });
        }
    }

    fn write_factor(&mut self, factor: &TableFactor) {
        if let TableFactor::Table { name, .. } = factor {
            self.write(name, WriteKind::Data, false);
            self.targets.push(factor);
        }
    }

    fn drop_table(&mut self, name: &ObjectName) {
        if let Some(name) = self.qualified(&name_parts(name)) {
            self.effects.drops.push(name);
        }
    }

    fn rename(&mut self, from: &ObjectName, to: &ObjectName) {
        self.read(from);
        self.write(to, WriteKind::Data, false);
        self.drop_table(from);
    }

    /// `TABLE t` (a query body without SELECT) names a table outside any
    /// table factor. Walked with a stack: set operations can be long chains.
    fn set_expr_tables(&mut self, body: &SetExpr) {
        let mut stack = vec![body];
        while let Some(expr) = stack.pop() {
            match expr {
                SetExpr::SetOperation { left, right, .. } => {
                    stack.push(left);
                    stack.push(right);
                }
                SetExpr::Table(table) => {
                    let parts: Vec<String> = [&table.schema_name, &table.table_name]
                        .into_iter()
                        .flatten()
                        .map(|p| p.to_lowercase())
                        .collect();
                    if table.table_name.is_some() {
                        self.read_parts(&parts);
                    }
                }
                _ => {}
            }
        }
    }

    fn statement_writes(&mut self, statement: &Statement) {
        match statement {
            Statement::Insert(insert) => {
                if let TableObject::TableName(name) = &insert.table {
                    self.write(name, WriteKind::Data, false);
                }
                let when = insert.multi_table_when_clauses.iter().flat_map(|w| &w.into_clauses);
                let into = insert
                    .multi_table_into_clauses
                    .iter()
                    .chain(when)
                    .chain(insert.multi_table_else_clause.iter().flatten());
                for clause in into {
                    self.write(&clause.table_name, WriteKind::Data, false);
                }
            }
            Statement::Update(update) => self.update_targets(update),
            Statement::Delete(delete) => self.delete_targets(delete),
            Statement::Merge(merge) => self.write_factor(&merge.table),
            Statement::CreateTable(create) => {
                let kind = if create.query.is_some() || create.clone.is_some() {
                    WriteKind::Data
                } else {
                    WriteKind::Definition
                };
                self.write(&create.name, kind, create.temporary);
                if let Some(like) = &create.like {
                    let (sqlparser::ast::CreateTableLikeKind::Parenthesized(like)
                    | sqlparser::ast::CreateTableLikeKind::Plain(like)) = like;
                    self.read(&like.name);
                }
                if let Some(source) = &create.clone {
                    self.read(source);
                }
            }
            Statement::CreateView(view) => {
                self.write(&view.name, WriteKind::Data, view.temporary);
            }
            Statement::Truncate(truncate) => {
                for target in &truncate.table_names {
                    self.write(&target.name, WriteKind::Data, false);
                }
            }
            Statement::LoadData { table_name, .. } => {
                self.write(table_name, WriteKind::Data, false);
            }
            Statement::Drop {
                object_type: ObjectType::Table | ObjectType::View | ObjectType::MaterializedView,
                names,
                ..
            } => {
                for name in names {
                    self.drop_table(name);
                }
            }
            Statement::RenameTable(renames) => {
                for rename in renames {
                    self.rename(&rename.old_name, &rename.new_name);
                }
            }
            Statement::AlterTable(alter) => {
                for op in &alter.operations {
                    if let AlterTableOperation::RenameTable {
                        table_name: RenameTableNameKind::As(to) | RenameTableNameKind::To(to),
                    } = op
                    {
                        self.rename(&alter.name, to);
                    }
                }
            }
            Statement::Use(target) => {
                self.effects.use_db = match target {
                    Use::Object(name) | Use::Database(name) | Use::Schema(name) => {
                        Some(name_parts(name).join(".")).filter(|db| !db.is_empty())
                    }
                    Use::Default => Some("default".to_owned()),
                    _ => None,
                };
            }
            _ => {}
        }
    }

    /// The updated tables are those whose name or alias qualifies an
    /// assignment (`SET t1.a = t2.b`); without qualifiers, the first table.
    fn update_targets(&mut self, update: &Update) {
        let qualifiers: Vec<Vec<String>> = update
            .assignments
            .iter()
            .flat_map(|a| match &a.target {
                AssignmentTarget::ColumnName(name) => std::slice::from_ref(name),
                AssignmentTarget::Tuple(names) => names.as_slice(),
            })
            .filter_map(|column| {
                let parts = name_parts(column);
                let (_, table) = parts.split_last()?;
                (!table.is_empty()).then(|| table.to_vec())
            })
            .collect();
        let factors = factors_of(std::slice::from_ref(&update.table));
        let mut matched: Vec<&TableFactor> =
            factors.into_iter().filter(|f| qualifiers.iter().any(|q| refers_to(f, q))).collect();
        if matched.is_empty() {
            matched.push(&update.table.relation);
        }
        for factor in matched {
            self.write_factor(factor);
        }
    }

    /// `DELETE FROM t`, `DELETE FROM t USING ...`, MySQL's
    /// `DELETE a, b FROM t1 a JOIN t2 b ...` and `DELETE FROM a USING a JOIN b`.
    fn delete_targets(&mut self, delete: &Delete) {
        let from = match &delete.from {
            FromTable::WithFromKeyword(from) | FromTable::WithoutKeyword(from) => from,
        };
        let mut factors = factors_of(from);
        factors.extend(factors_of(delete.using.as_deref().unwrap_or_default()));
        let references: Vec<Vec<String>> = if delete.tables.is_empty() {
            for t in from {
                self.write_factor(&t.relation);
            }
            match &delete.using {
                Some(_) => from
                    .iter()
                    .filter_map(|t| match &t.relation {
                        TableFactor::Table { name, alias: None, .. } => Some(name_parts(name)),
                        _ => None,
                    })
                    .collect(),
                None => Vec::new(),
            }
        } else {
            delete.tables.iter().map(name_parts).collect()
        };
        for reference in references {
            let matching: Vec<&TableFactor> = factors
                .iter()
                .copied()
                .filter(|f| !self.targets.iter().any(|t| std::ptr::eq(*t, *f)))
                .filter(|f| refers_to(f, &reference))
                .collect();
            if matching.is_empty()
                && !delete.tables.is_empty()
                && let Some(name) = self.qualified(&reference)
            {
                self.effects.writes.push(Write { name, kind: WriteKind::Data, temporary: false });
            }
            for factor in matching {
                self.write_factor(factor);
            }
        }
    }
}

impl Visitor for Collector<'_> {
    type Break = ();

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<Self::Break> {
        let address: *const Query = query;
        if let Some(scope) = self.scopes.last_mut()
            && scope.recursive
            && let Some(name) = scope.pending_name(address).cloned()
        {
            scope.visible.push(name);
        }
        let scope = match &query.with {
            Some(with) => Scope {
                pending: with
                    .cte_tables
                    .iter()
                    .map(|cte| (&raw const *cte.query, ident_lower(&cte.alias.name)))
                    .collect(),
                visible: Vec::new(),
                recursive: with.recursive,
            },
            None => Scope::default(),
        };
        self.scopes.push(scope);
        self.set_expr_tables(&query.body);
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, query: &Query) -> ControlFlow<Self::Break> {
        self.scopes.pop();
        // A CTE becomes visible once its body is done, so an earlier CTE
        // cannot see a later one and a non-recursive CTE cannot see itself.
        let address: *const Query = query;
        if let Some(scope) = self.scopes.last_mut()
            && let Some(name) = scope.pending_name(address).cloned()
            && !scope.visible.contains(&name)
        {
            scope.visible.push(name);
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, factor: &TableFactor) -> ControlFlow<Self::Break> {
        if self.targets.iter().any(|t| std::ptr::eq(*t, factor)) {
            return ControlFlow::Continue(());
        }
        // With arguments it is a table-valued function, not a table.
        if let TableFactor::Table { name, args: None, .. } = factor {
            self.read(name);
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_statement(&mut self, statement: &Statement) -> ControlFlow<Self::Break> {
        self.statement_writes(statement);
        ControlFlow::Continue(())
    }
}

fn ident_lower(ident: &Ident) -> String {
    ident.value.to_lowercase()
}

/// Lowercase name parts; the parser has already removed quotes.
fn name_parts(name: &ObjectName) -> Vec<String> {
    name.0
        .iter()
        .map(|part| match part {
            ObjectNamePart::Identifier(ident) => ident_lower(ident),
            function @ ObjectNamePart::Function(_) => function.to_string().to_lowercase(),
        })
        .collect()
}

/// Table factors of a `FROM` list, including those inside parenthesised
/// joins (`t1 JOIN (t2 JOIN t3)`, which is also how MySQL nests `t1 JOIN t2
/// JOIN t3` when the first join has no `ON`).
fn factors_of(tables: &[TableWithJoins]) -> Vec<&TableFactor> {
    let mut factors = Vec::new();
    let mut stack: Vec<&TableWithJoins> = tables.iter().rev().collect();
    while let Some(table) = stack.pop() {
        for factor in std::iter::once(&table.relation).chain(table.joins.iter().map(|j| &j.relation)) {
            match factor {
                TableFactor::NestedJoin { table_with_joins, .. } => stack.push(table_with_joins),
                other => factors.push(other),
            }
        }
    }
    factors
}

/// Whether `reference` (`a`, `t`, `db.t`) designates this table factor: by
/// alias when it has one (SQL hides the name then), else by name suffix.
fn refers_to(factor: &TableFactor, reference: &[String]) -> bool {
    let TableFactor::Table { name, alias, .. } = factor else {
        return false;
    };
    match alias {
        Some(alias) => matches!(reference, [r] if *r == ident_lower(&alias.name)),
        None => !reference.is_empty() && name_parts(name).ends_with(reference),
    }
}

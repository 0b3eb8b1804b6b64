//! The online tail: new indexes built concurrently, constraints validated, NOT NULLs set over a
//! validated CHECK — after the main transaction, one statement at a time, each idempotent so that
//! a re-run finishes what an interruption left.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::{col, drop_steps, not_null_check, OnlinePlan, PathChoice, PathKind};
use crate::model::ConstraintKind;
use crate::model::{ident, Model, QName};
use crate::plan::Plan;

/// The marker the catalog puts on an index a concurrent build left INVALID.
pub(crate) const INVALID_MARK: &str = " /* invalid */";

/// One step of the tail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum TailStep {
    /// `CREATE INDEX CONCURRENTLY`; an INVALID index of that name (an interrupted build) is
    /// dropped concurrently first, a valid one is kept.
    BuildIndex {
        table: QName,
        name: String,
        /// The target's `CREATE [UNIQUE] INDEX ...` statement.
        definition: String,
    },
    /// `VALIDATE CONSTRAINT`: scans under SHARE UPDATE EXCLUSIVE, so writers go on. With `add`
    /// (a constraint on a column an expand/contract swaps), it is first added `NOT VALID` here,
    /// after the swap, instead of in the main transaction.
    Validate {
        table: QName,
        constraint: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        add: Option<String>,
    },
    /// `CHECK (c IS NOT NULL) NOT VALID` (added in the main transaction), validated, then
    /// `SET NOT NULL`, which trusts the validated CHECK and skips its scan, then the CHECK dropped.
    SetNotNull {
        table: QName,
        column: String,
        check: String,
    },
}

impl TailStep {
    pub fn object(&self) -> String {
        match self {
            Self::BuildIndex { table, .. }
            | Self::Validate { table, .. }
            | Self::SetNotNull { table, .. } => format!("table {table}"),
        }
    }

    pub fn action(&self) -> String {
        match self {
            Self::BuildIndex { name, .. } => format!("build index {name} concurrently"),
            Self::Validate { constraint, .. } => format!("validate constraint {constraint}"),
            Self::SetNotNull { column, .. } => {
                format!("{column} not null (validated CHECK, then SET NOT NULL without a scan)")
            }
        }
    }

    /// The statements, as a re-run on an untouched database would run them.
    pub fn sql(&self) -> Vec<String> {
        match self {
            Self::BuildIndex { definition, .. } => vec![format!("{};", concurrently(definition))],
            Self::Validate {
                table,
                constraint,
                add,
            } => {
                let mut out = Vec::new();
                if let Some(def) = add {
                    out.push(format!(
                        "ALTER TABLE {} ADD CONSTRAINT {} {def} NOT VALID;",
                        table.sql(),
                        ident(constraint)
                    ));
                }
                out.push(format!(
                    "ALTER TABLE {} VALIDATE CONSTRAINT {};",
                    table.sql(),
                    ident(constraint)
                ));
                out
            }
            Self::SetNotNull {
                table,
                column,
                check,
            } => {
                let t = table.sql();
                vec![
                    format!("ALTER TABLE {t} VALIDATE CONSTRAINT {};", ident(check)),
                    format!("ALTER TABLE {t} ALTER COLUMN {} SET NOT NULL;", col(column)),
                    format!(
                        "ALTER TABLE {t} DROP CONSTRAINT IF EXISTS {};",
                        ident(check)
                    ),
                ]
            }
        }
    }
}

/// `CREATE [UNIQUE] INDEX name ON ...` as a concurrent build.
pub(crate) fn concurrently(definition: &str) -> String {
    for head in ["CREATE UNIQUE INDEX ", "CREATE INDEX "] {
        if let Some(rest) = definition.strip_prefix(head) {
            return format!("{head}CONCURRENTLY {rest}");
        }
    }
    definition.to_string()
}

/// A change of the plan that has an online path.
pub(crate) struct Candidate {
    pub object: String,
    pub change: String,
    /// Indexes (into the plan's steps) of the statements the online path replaces.
    pub steps: Vec<usize>,
    /// The statement left in the main transaction instead, at the first of `steps`.
    pub main: Option<(String, String)>,
    pub tail: TailStep,
    pub how: &'static str,
    pub why: &'static str,
}

impl Candidate {
    pub fn in_transaction(self, why: &str) -> PathChoice {
        PathChoice {
            object: self.object,
            change: self.change,
            path: PathKind::InTransaction,
            how: "as planned, under the transaction's exclusive lock".into(),
            why: why.into(),
        }
    }
}

const INDEX_HOW: &str =
    "CREATE INDEX CONCURRENTLY after the transaction (an INVALID leftover is dropped and rebuilt)";
const INDEX_WHY: &str = "a plain CREATE INDEX blocks every write to the table while it reads the whole table; a concurrent build blocks none";
const CONSTRAINT_HOW: &str =
    "added NOT VALID in the transaction (no scan), VALIDATE CONSTRAINT after it";
const CONSTRAINT_WHY: &str = "a plain ADD CONSTRAINT checks every row under an exclusive lock; VALIDATE checks them under SHARE UPDATE EXCLUSIVE, which lets writes go on";
const NOT_NULL_HOW: &str = "CHECK (column IS NOT NULL) NOT VALID in the transaction; after it VALIDATE, SET NOT NULL (which trusts the validated CHECK and skips its scan), drop the CHECK";
const NOT_NULL_WHY: &str = "a plain SET NOT NULL scans the whole table under an exclusive lock";

/// The plan's changes that have an online path (on existing tables; a table the plan creates is
/// empty and never waited on).
/// `swapped`: (table, column) pairs an expand/contract retypes; a constraint on such a table is
/// added after the swap (it would otherwise be added to the column the swap drops), and a NOT
/// NULL of such a column is the swap's own.
pub(crate) fn candidates(
    from: &Model,
    to: &Model,
    plan: &Plan,
    swapped: &BTreeSet<(QName, String)>,
) -> Vec<Candidate> {
    let tables: BTreeMap<String, &QName> = from
        .tables
        .keys()
        .filter(|t| to.tables.contains_key(*t))
        .map(|t| (format!("table {t}"), t))
        .collect();
    let mut out = Vec::new();
    let find = |table: &QName, sql: &str| -> Option<usize> {
        let object = format!("table {table}");
        plan.steps
            .iter()
            .position(|s| s.object == object && s.sql == sql)
    };
    for (i, s) in plan.steps.iter().enumerate() {
        let Some(table) = tables.get(&s.object).copied() else {
            continue;
        };
        let (ft, tt) = (&from.tables[table], &to.tables[table]);
        let t = table.sql();
        if let Some(name) = s.action.strip_prefix("create index ") {
            let Some(ti) = tt.indexes.get(name) else {
                continue;
            };
            if s.sql != format!("{};", ti.definition) || tt.partition_key.is_some() {
                // Partitioned tables cannot build concurrently.
                continue;
            }
            let mut steps = vec![i];
            if ft
                .indexes
                .get(name)
                .is_some_and(|fi| fi.definition.ends_with(INVALID_MARK))
            {
                // The tail drops the leftover concurrently instead of the plan's DROP INDEX.
                let drop = format!("DROP INDEX {};", QName::new(&table.schema, name).sql());
                if let Some(d) = plan.steps.iter().position(|s| s.sql == drop) {
                    steps.insert(0, d);
                }
            }
            out.push(Candidate {
                object: s.object.clone(),
                change: format!("index {name}"),
                steps,
                main: None,
                tail: TailStep::BuildIndex {
                    table: table.clone(),
                    name: name.to_string(),
                    definition: ti.definition.clone(),
                },
                how: INDEX_HOW,
                why: INDEX_WHY,
            });
        } else if let Some(name) = s.action.strip_prefix("validate constraint ") {
            // A constraint the database has NOT VALID and the target validated: the plan's own
            // VALIDATE moves to the tail (a swapped table validates in its transaction).
            if swapped.iter().any(|(st, _)| st == table) {
                continue;
            }
            out.push(Candidate {
                object: s.object.clone(),
                change: format!("constraint {name}"),
                steps: vec![i],
                main: None,
                tail: TailStep::Validate {
                    table: table.clone(),
                    constraint: name.to_string(),
                    add: None,
                },
                how: CONSTRAINT_HOW,
                why: CONSTRAINT_WHY,
            });
        } else if let Some(name) = s.action.strip_prefix("add constraint ") {
            let Some(tc) = tt.constraints.get(name) else {
                continue;
            };
            if !matches!(tc.kind, ConstraintKind::ForeignKey | ConstraintKind::Check)
                || tc.definition.ends_with("NOT VALID")
            {
                continue;
            }
            let not_valid = format!("{} NOT VALID", tc.definition);
            let resumed = ft
                .constraints
                .get(name)
                .is_some_and(|fc| fc.definition == not_valid);
            let on_swapped = swapped.iter().any(|(st, _)| st == table);
            let (steps, main) = if resumed || on_swapped {
                // Added NOT VALID by an earlier run: only the validation is left. (On a swapped
                // table the add itself waits for the tail; a changed one is still dropped here.)
                let drop = format!("ALTER TABLE {t} DROP CONSTRAINT {};", ident(name));
                let mut steps = vec![i];
                if let Some(d) = find(table, &drop).filter(|_| resumed) {
                    steps.insert(0, d);
                }
                (steps, None)
            } else {
                (
                    vec![i],
                    Some((
                        format!("add constraint {name} NOT VALID"),
                        format!(
                            "ALTER TABLE {t} ADD CONSTRAINT {} {not_valid};",
                            ident(name)
                        ),
                    )),
                )
            };
            out.push(Candidate {
                object: s.object.clone(),
                change: format!("constraint {name}"),
                steps,
                main,
                tail: TailStep::Validate {
                    table: table.clone(),
                    constraint: name.to_string(),
                    add: (on_swapped && !resumed).then(|| tc.definition.clone()),
                },
                how: CONSTRAINT_HOW,
                why: CONSTRAINT_WHY,
            });
        } else if let Some(column) = s.action.strip_suffix(" not null") {
            let set = format!("ALTER TABLE {t} ALTER COLUMN {} SET NOT NULL;", col(column));
            if swapped.contains(&(table.clone(), column.to_string())) {
                continue;
            }
            if s.sql != set || ft.column(column).is_none() {
                // A column the plan adds is filled by the plan's own data steps, in the transaction.
                continue;
            }
            let check = not_null_check(column);
            let resumed = ft.constraints.contains_key(&check);
            let mut steps = vec![i];
            let main = if resumed {
                let drop = format!("ALTER TABLE {t} DROP CONSTRAINT {};", ident(&check));
                if let Some(d) = find(table, &drop) {
                    steps.insert(0, d);
                }
                None
            } else {
                Some((
                    format!("{column} not null: CHECK NOT VALID"),
                    format!(
                        "ALTER TABLE {t} ADD CONSTRAINT {} CHECK ({} IS NOT NULL) NOT VALID;",
                        ident(&check),
                        col(column)
                    ),
                ))
            };
            out.push(Candidate {
                object: s.object.clone(),
                change: format!("{column} not null"),
                steps,
                main,
                tail: TailStep::SetNotNull {
                    table: table.clone(),
                    column: column.to_string(),
                    check,
                },
                how: NOT_NULL_HOW,
                why: NOT_NULL_WHY,
            });
        }
    }
    out
}

/// Moves `candidates` out of the main transaction into the tail.
pub(crate) fn rewrite(candidates: Vec<Candidate>, out: &mut OnlinePlan) {
    let mut remove = BTreeSet::new();
    // Main steps replaced by a NOT VALID statement, with the tail step they belong to.
    let mut weakened: Vec<(usize, usize)> = Vec::new();
    for c in candidates {
        let mut steps = c.steps.iter().copied();
        match &c.main {
            Some((action, sql)) => {
                let first = steps.next().expect("a candidate covers a step");
                let s = &mut out.main.steps[first];
                s.action = action.clone();
                s.sql = sql.clone();
                // What the live rows must satisfy is checked by preflight on the original plan;
                // the NOT VALID statement itself cannot fail on them.
                s.checks.clear();
                remove.extend(steps);
                weakened.push((first, out.tail.len()));
            }
            None => remove.extend(steps),
        }
        if let Some(t) = tail_table(&c.tail) {
            out.settled_later.insert(t.clone());
        }
        out.paths.push(PathChoice {
            object: c.object,
            change: c.change,
            path: PathKind::Online,
            how: c.how.into(),
            why: c.why.into(),
        });
        out.tail.push(c.tail);
    }
    // When nothing else is left for the main transaction, its NOT VALID statements move into the
    // tail too: a transaction that only adds them would hold its locks while it verifies.
    let left = out.main.steps.len() - remove.len();
    if !weakened.is_empty() && left == weakened.len() {
        for (step, tail) in weakened {
            remove.insert(step);
            if let TailStep::Validate {
                table,
                constraint,
                add,
            } = &mut out.tail[tail]
            {
                let sql = &out.main.steps[step].sql;
                let head = format!(
                    "ALTER TABLE {} ADD CONSTRAINT {} ",
                    table.sql(),
                    ident(constraint)
                );
                *add = sql
                    .strip_prefix(&head)
                    .and_then(|d| d.strip_suffix(" NOT VALID;"))
                    .map(str::to_string);
            }
        }
    }
    drop_steps(&mut out.main, &remove);
    // Indexes first: a validation or SET NOT NULL that follows can use them.
    out.tail
        .sort_by_key(|t| !matches!(t, TailStep::BuildIndex { .. }));
}

fn tail_table(t: &TailStep) -> Option<&QName> {
    match t {
        TailStep::BuildIndex { table, .. }
        | TailStep::Validate { table, .. }
        | TailStep::SetNotNull { table, .. } => Some(table),
    }
}

/// Runs one tail step (autocommit; lock_timeout bounds each wait, lock conflicts are retried).
/// Returns how long its statements that take an exclusive lock held it.
pub(crate) async fn run_step(
    session: &mut super::run::Session,
    step: &TailStep,
    progress: &mut (dyn FnMut(super::OnlineProgress<'_>) + Send),
) -> Result<std::time::Duration, crate::SchemaError> {
    let mut exclusive = std::time::Duration::ZERO;
    match step {
        TailStep::BuildIndex {
            table,
            name,
            definition,
        } => {
            let valid: Option<bool> = sqlx::query_scalar(
                "SELECT i.indisvalid FROM pg_catalog.pg_index i
                   JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid
                   JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                  WHERE n.nspname = $1 AND c.relname = $2",
            )
            .bind(&table.schema)
            .bind(name)
            .fetch_optional(session.conn())
            .await?;
            match valid {
                Some(true) => return Ok(exclusive),
                Some(false) => {
                    // An interrupted build: its leftover is dropped, then built again.
                    let drop = format!(
                        "DROP INDEX CONCURRENTLY IF EXISTS {};",
                        QName::new(&table.schema, name).sql()
                    );
                    session.run("tail", &drop, progress).await?;
                }
                None => {}
            }
            session
                .run("tail", &format!("{};", concurrently(definition)), progress)
                .await?;
        }
        TailStep::Validate {
            table,
            constraint,
            add,
        } => {
            let sql = step.sql();
            let (validate, adds) = sql.split_last().expect("a VALIDATE");
            if add.is_some() && !super::run::constraint_exists(session, table, constraint).await? {
                for s in adds {
                    exclusive = exclusive.max(session.run("tail", s, progress).await?);
                }
            }
            session.run("tail", validate, progress).await?;
        }
        TailStep::SetNotNull {
            table,
            column,
            check,
        } => {
            let (not_null, has_check): (bool, bool) = sqlx::query_as(
                "SELECT a.attnotnull,
                        EXISTS (SELECT 1 FROM pg_catalog.pg_constraint co
                                 WHERE co.conrelid = a.attrelid AND co.conname = $3)
                   FROM pg_catalog.pg_attribute a
                  WHERE a.attrelid = (quote_ident($1) || '.' || quote_ident($2))::regclass
                    AND a.attname = $4",
            )
            .bind(&table.schema)
            .bind(&table.name)
            .bind(check)
            .bind(column)
            .fetch_one(session.conn())
            .await?;
            let t = table.sql();
            if !not_null && !has_check {
                let add = format!(
                    "ALTER TABLE {t} ADD CONSTRAINT {} CHECK ({} IS NOT NULL) NOT VALID;",
                    ident(check),
                    col(column)
                );
                exclusive = exclusive.max(session.run("tail", &add, progress).await?);
            }
            let sql = step.sql();
            let (validate, rest) = sql.split_first().expect("three statements");
            if !not_null {
                session.run("tail", validate, progress).await?;
                for s in rest {
                    exclusive = exclusive.max(session.run("tail", s, progress).await?);
                }
            } else if has_check {
                exclusive = exclusive.max(session.run("tail", &rest[1], progress).await?);
            }
        }
    }
    Ok(exclusive)
}

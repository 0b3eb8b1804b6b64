//! A plan that follows the target's directives: `@table` and `@column … from` renames instead of
//! drop + create, `@column … using` moves and retypes, and `*.data.sql` steps at their phase.
//!
//! Which directives apply is decided from the live model alone (a directive whose old name is gone
//! or whose new name already exists does nothing), so on a fresh or an already migrated database
//! the plan is the plain one. Renames go first; the rest of the plan is made from the model the
//! database has after them, which the server itself computes: the renames run in a transaction
//! that is rolled back (brief catalog locks, no data touched), so every constraint, index and view
//! reads the new names exactly as it will after the real rename.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use sqlx::{Connection, PgConnection};

use crate::diff::CompareOptions;
use crate::directives::{
    DataPhase, DataStep, DirectiveError, Directives, Origin, Problem, ResolveKind, Resolves,
};
use crate::model::TriggerState;
use crate::model::{ident, Column, Model, QName};
use crate::objects::ObjKey;
use crate::plan::{plan_hooked, Hooks, Plan, Step};
use crate::preflight::DataCheck;
use crate::SchemaError;

/// A data step as the plan carries it, whether or not it runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedDataStep {
    pub name: String,
    /// The `@step` line (`file:line`).
    pub origin: String,
    pub phase: DataPhase,
    /// The `@when` query, re-checked inside the apply transaction.
    pub when: Option<String>,
    /// Whether the step runs: its `@when` returned true, or it has none.
    pub runs: bool,
    /// What its `@rows` query counted at plan time.
    pub rows: Option<i64>,
    /// What it resolves, under the live names (see `Plan::resolved_by`).
    pub resolves: Vec<Resolves>,
    /// Its 1-based position in `Plan::steps` (None when it does not run).
    pub step: Option<usize>,
}

impl Plan {
    /// What the plan's running data steps resolve, for preflight.
    pub fn resolutions(&self) -> Vec<crate::preflight::Resolution> {
        self.data_steps
            .iter()
            .filter(|d| d.runs)
            .flat_map(|d| {
                d.resolves.iter().map(|r| crate::preflight::Resolution {
                    step: d.name.clone(),
                    kind: r.kind,
                    table: r.table.clone(),
                    columns: r.columns.clone(),
                })
            })
            .collect()
    }

    /// The data step in this plan that says it resolves a blocker of `kind` on `table`
    /// (`columns` in any order; for `check` the constraint name). Names are the live database's
    /// before the plan, like preflight's: a renamed table or column under its old name.
    pub fn resolved_by(
        &self,
        kind: ResolveKind,
        table: &QName,
        columns: &[String],
    ) -> Option<&PlannedDataStep> {
        let wanted: BTreeSet<&String> = columns.iter().collect();
        self.data_steps.iter().find(|d| {
            d.runs
                && d.resolves.iter().any(|r| {
                    r.kind == kind
                        && &r.table == table
                        && r.columns.iter().collect::<BTreeSet<_>>() == wanted
                })
        })
    }
}

/// Plans `from` → `to` following `directives`; `url` is the live database `from` was read from
/// (data step queries and row counts run there, read-only).
pub async fn plan_directed(
    url: &str,
    from: &Model,
    to: &Model,
    opts: CompareOptions,
    directives: &Directives,
) -> Result<Plan, SchemaError> {
    check_against_target(directives, to)?;
    if directives.is_empty() {
        return Ok(crate::plan::plan(from, to, opts));
    }
    let applied = Applicable::find(directives, from);
    let mut conn = crate::target::connect(url).await?;
    let result = plan_on(&mut conn, &applied, from, to, opts, directives).await;
    let _ = conn.close().await;
    result
}

/// Every directive names a table and column the target declares.
fn check_against_target(directives: &Directives, to: &Model) -> Result<(), DirectiveError> {
    let missing = |origin: &Origin, what: String| DirectiveError {
        origin: origin.clone(),
        problem: Problem::NotInTarget(what),
    };
    for t in &directives.tables {
        if !to.tables.contains_key(&t.table) {
            return Err(missing(&t.origin, format!("table {}", t.table)));
        }
    }
    for c in &directives.columns {
        let declared = to
            .tables
            .get(&c.table)
            .is_some_and(|t| t.column(&c.column).is_some());
        if !declared {
            return Err(missing(
                &c.origin,
                format!("column {}.{}", c.table, c.column),
            ));
        }
    }
    Ok(())
}

/// The directives that apply to this database.
#[derive(Debug, Default)]
struct Applicable {
    /// (target name, live name)
    tables: Vec<(QName, QName)>,
    /// (table under its target name, old column, new column)
    renames: Vec<(QName, String, String)>,
    /// (table under its target name, old column, new column, expression)
    moves: Vec<(QName, String, String, String)>,
    retype_using: BTreeMap<(QName, String), String>,
}

impl Applicable {
    fn find(d: &Directives, from: &Model) -> Self {
        let mut out = Applicable::default();
        for t in &d.tables {
            if from.tables.contains_key(&t.from) && !from.has_relation(&t.table) {
                out.tables.push((t.table.clone(), t.from.clone()));
            }
        }
        for c in &d.columns {
            let live = out
                .tables
                .iter()
                .find(|(new, _)| new == &c.table)
                .map(|(_, old)| old)
                .unwrap_or(&c.table);
            let Some(ft) = from.tables.get(live) else {
                continue;
            };
            match (ft.column(&c.column), &c.from, &c.using) {
                (Some(_), None, Some(expr)) => {
                    out.retype_using
                        .insert((c.table.clone(), c.column.clone()), expr.clone());
                }
                (None, Some(old), using) if ft.column(old).is_some() => match using {
                    None => out
                        .renames
                        .push((c.table.clone(), old.clone(), c.column.clone())),
                    Some(expr) => out.moves.push((
                        c.table.clone(),
                        old.clone(),
                        c.column.clone(),
                        expr.clone(),
                    )),
                },
                _ => {}
            }
        }
        out
    }

    fn renames_anything(&self) -> bool {
        !self.tables.is_empty() || !self.renames.is_empty()
    }

    /// The rename statements, in the order they run.
    fn rename_sql(&self) -> Vec<(QName, String, String)> {
        let mut out = Vec::new();
        for (new, old) in &self.tables {
            let mut sql = format!("ALTER TABLE {} RENAME TO {};", old.sql(), ident(&new.name));
            if new.schema != old.schema {
                sql.push_str(&format!(
                    "\nALTER TABLE {} SET SCHEMA {};",
                    QName::new(old.schema.clone(), new.name.clone()).sql(),
                    ident(&new.schema)
                ));
            }
            out.push((new.clone(), format!("rename from {old}"), sql));
        }
        for (t, old, new) in &self.renames {
            out.push((
                t.clone(),
                format!("rename column {old} → {new}"),
                format!(
                    "ALTER TABLE {} RENAME COLUMN {} TO {};",
                    t.sql(),
                    ident(old),
                    ident(new)
                ),
            ));
        }
        out
    }
}

async fn plan_on(
    conn: &mut PgConnection,
    applied: &Applicable,
    from: &Model,
    to: &Model,
    opts: CompareOptions,
    directives: &Directives,
) -> Result<Plan, SchemaError> {
    let mut renames = applied.rename_sql();
    // The model after the renames, as the server renders it.
    let mut renamed = if applied.renames_anything() {
        let mut tx = conn.begin().await?;
        sqlx::raw_sql("SET LOCAL lock_timeout = '5s'")
            .execute(&mut *tx)
            .await?;
        for (_, _, sql) in &renames {
            sqlx::raw_sql(sql).execute(&mut *tx).await?;
        }
        let mut model = crate::catalog::introspect(&mut tx).await?;
        // The same part of the database as `from`: the managed schemas only.
        crate::scope::restrict_like(&mut model, from);
        let tables: Vec<QName> = applied.tables.iter().map(|(t, _)| t.clone()).collect();
        let derived = derived_renames(&model, to, &tables);
        if !derived.is_empty() {
            for (_, _, sql) in &derived {
                sqlx::raw_sql(sql).execute(&mut *tx).await?;
            }
            model = crate::catalog::introspect(&mut tx).await?;
            crate::scope::restrict_like(&mut model, from);
            renames.extend(derived);
        }
        tx.rollback().await?;
        model
    } else {
        from.clone()
    };

    let mut tx = conn.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await?;
    let live_name = |t: &QName| -> QName {
        applied
            .tables
            .iter()
            .find(|(new, _)| new == t)
            .map(|(_, old)| old.clone())
            .unwrap_or_else(|| t.clone())
    };
    let mut counts: BTreeMap<QName, i64> = BTreeMap::new();
    let counted: BTreeSet<QName> = applied
        .tables
        .iter()
        .map(|(t, _)| t.clone())
        .chain(applied.renames.iter().map(|r| r.0.clone()))
        .chain(applied.moves.iter().map(|m| m.0.clone()))
        .collect();
    for t in counted {
        let n: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {}", live_name(&t).sql()))
            .fetch_one(&mut *tx)
            .await?;
        counts.insert(t, n);
    }
    let mut evaluated = Vec::new();
    for s in &directives.steps {
        let runs = match &s.when {
            None => true,
            Some(q) => when_holds(&mut tx, q)
                .await
                .map_err(|source| data_query(s, "when", source))?,
        };
        let rows = match (&s.rows, runs) {
            (Some(q), true) => Some(
                scalar_i64(&mut tx, q)
                    .await
                    .map_err(|source| data_query(s, "rows", source))?,
            ),
            _ => None,
        };
        evaluated.push((s, runs, rows));
    }
    tx.rollback().await?;

    let mut hooks = Hooks {
        retype_using: applied.retype_using.clone(),
        ..Hooks::default()
    };
    for (t, old, new, expr) in &applied.moves {
        let Some(declared) = to.tables.get(t).and_then(|tt| tt.column(new)) else {
            continue;
        };
        // Added nullable and bare; the plan then gives it its default, NOT NULL and constraints.
        let bare = Column {
            not_null: false,
            default: None,
            identity: None,
            generated: None,
            comment: None,
            grants: BTreeSet::new(),
            local: true,
            ..declared.clone()
        };
        if let Some(rt) = renamed.tables.get_mut(t) {
            rt.columns.push(bare);
        }
        hooks.moved_away.insert((t.clone(), old.clone()));
        let n = counts.get(t).copied().unwrap_or(0);
        let collate = declared
            .collation
            .as_ref()
            .map(|c| format!(" COLLATE {c}"))
            .unwrap_or_default();
        let mut sql = format!(
            "ALTER TABLE {} ADD COLUMN {} {}{collate};\n",
            t.sql(),
            ident(new),
            declared.data_type
        );
        sql.push_str(&without_user_triggers(
            &renamed,
            to,
            t,
            &format!("UPDATE {} SET {} = ({expr});", t.sql(), ident(new)),
        ));
        hooks.moves.push(
            Step {
                touches: Some(live_name(t)),
                ..Step::new(
                    format!("table {t}"),
                    format!("data: {new} moved from {old} ({n} rows)"),
                    sql,
                )
            }
            .creating(ObjKey::Column(t.clone(), new.clone()))
            // It reads the old column: before the plan drops it.
            .needing(ObjKey::Column(t.clone(), old.clone())),
        );
    }
    for (s, runs, rows) in &evaluated {
        if !runs {
            continue;
        }
        let touches = s.resolves.first().map(|r| live_name(&r.table));
        let action = match rows {
            Some(n) => format!("data: {} ({}), touches {n} rows", s.name, s.origin),
            None => format!("data: {} ({})", s.name, s.origin),
        };
        let mut step = Step {
            touches,
            ..Step::new(format!("data step {}", s.name), action, s.sql.clone())
        };
        // Its SQL is not parsed, so the graph knows only what it resolves: it runs while those
        // columns (a check: the table) exist, after the steps that make them.
        for r in &s.resolves {
            if r.kind == ResolveKind::Check {
                step = step.needing(ObjKey::Relation(r.table.clone()));
            } else {
                for c in &r.columns {
                    step = step.needing(ObjKey::Column(r.table.clone(), c.clone()));
                }
            }
        }
        match s.phase {
            DataPhase::BeforeConstraints => hooks.data_before_constraints.push(step),
            DataPhase::End => hooks.data_end.push(step),
        }
    }

    let inner = plan_hooked(&renamed, to, opts, &hooks);
    let mut steps: Vec<Step> = renames
        .into_iter()
        .map(|(t, action, sql)| {
            let n = counts.get(&t).copied().unwrap_or(0);
            Step {
                touches: Some(live_name(&t)),
                ..Step::new(
                    format!("table {t}"),
                    format!("{action} ({n} rows keep their values)"),
                    sql,
                )
            }
        })
        .collect();
    steps.extend(inner.steps);
    // The backup and preflight read the database before the plan, when renamed tables and
    // columns still have their old names.
    let live = LiveNames::new(applied);
    for s in &mut steps {
        if let Some(t) = &s.touches {
            s.touches = Some(live_name(t));
        }
        for c in &mut s.checks {
            live.check(c);
        }
    }
    let data_steps = evaluated
        .iter()
        .map(|(s, runs, rows)| {
            let object = format!("data step {}", s.name);
            PlannedDataStep {
                name: s.name.clone(),
                origin: s.origin.to_string(),
                phase: s.phase,
                when: s.when.clone(),
                runs: *runs,
                rows: *rows,
                resolves: s
                    .resolves
                    .iter()
                    .cloned()
                    .map(|mut r| {
                        live.resolves(&mut r);
                        r
                    })
                    .collect(),
                step: runs
                    .then(|| {
                        steps
                            .iter()
                            .position(|st| st.object == object)
                            .map(|i| i + 1)
                    })
                    .flatten(),
            }
        })
        .collect();
    Ok(Plan {
        steps,
        data_steps,
        ..inner
    })
}

/// Target names → the names the live database has before the plan (for preflight and backup).
struct LiveNames {
    tables: BTreeMap<QName, QName>,
    /// (table under its target name, new column) → old column
    columns: BTreeMap<(QName, String), String>,
}

impl LiveNames {
    fn new(applied: &Applicable) -> Self {
        LiveNames {
            tables: applied.tables.iter().cloned().collect(),
            columns: applied
                .renames
                .iter()
                .map(|(t, old, new)| ((t.clone(), new.clone()), old.clone()))
                .collect(),
        }
    }

    fn table(&self, t: &mut QName) -> QName {
        let target = t.clone();
        if let Some(old) = self.tables.get(t) {
            *t = old.clone();
        }
        target
    }

    fn column(&self, target: &QName, c: &mut String) {
        if let Some(old) = self.columns.get(&(target.clone(), c.clone())) {
            *c = old.clone();
        }
    }

    /// A key given as quoted identifiers (`DataCheck::Unique`).
    fn key(&self, target: &QName, k: &mut String) {
        let hit = self
            .columns
            .iter()
            .find(|((t, new), _)| t == target && ident(new) == *k);
        if let Some((_, old)) = hit {
            *k = ident(old);
        }
    }

    /// Only names that are plain fields are mapped; an expression naming a renamed column is
    /// left as it is (preflight then reports it as not checked ahead).
    fn check(&self, c: &mut DataCheck) {
        match c {
            DataCheck::NotNull { table, column } | DataCheck::RequiredColumn { table, column } => {
                let target = self.table(table);
                self.column(&target, column);
            }
            DataCheck::Cast {
                table,
                column,
                using,
                ..
            } => {
                let target = self.table(table);
                let new = ident(column);
                self.column(&target, column);
                let old = ident(column);
                if let Some(rest) = using.strip_prefix(&format!("{new}::")) {
                    *using = format!("{old}::{rest}");
                }
            }
            DataCheck::Unique { table, keys, .. } => {
                let target = self.table(table);
                for k in keys {
                    self.key(&target, k);
                }
            }
            DataCheck::ForeignKey {
                table,
                columns,
                references,
                referenced_columns,
                ..
            } => {
                let target = self.table(table);
                for c in columns {
                    self.column(&target, c);
                }
                let referenced = self.table(references);
                for c in referenced_columns {
                    self.column(&referenced, c);
                }
            }
            DataCheck::Check { table, .. } | DataCheck::Exclusion { table, .. } => {
                self.table(table);
            }
        }
    }

    fn resolves(&self, r: &mut Resolves) {
        let target = self.table(&mut r.table);
        if r.kind != ResolveKind::Check {
            for c in &mut r.columns {
                self.column(&target, c);
            }
        }
    }
}

/// A renamed table's constraints, indexes and serial sequences keep names made from the old
/// table's name; where the target has the same object under another name, it is renamed too
/// (instead of dropped and built again, which a key that others reference would not even allow).
fn derived_renames(renamed: &Model, to: &Model, tables: &[QName]) -> Vec<(QName, String, String)> {
    let mut out = Vec::new();
    for t in tables {
        let (Some(have), Some(want)) = (renamed.tables.get(t), to.tables.get(t)) else {
            continue;
        };
        let mut taken: BTreeSet<&String> = BTreeSet::new();
        for (cn, c) in &have.constraints {
            if want.constraints.contains_key(cn) {
                continue;
            }
            let twin = want.constraints.iter().find(|(tn, tc)| {
                !have.constraints.contains_key(*tn)
                    && !taken.contains(tn)
                    && tc.kind == c.kind
                    && tc.definition == c.definition
            });
            if let Some((tn, _)) = twin {
                taken.insert(tn);
                out.push((
                    t.clone(),
                    format!("rename constraint {cn} → {tn}"),
                    format!(
                        "ALTER TABLE {} RENAME CONSTRAINT {} TO {};",
                        t.sql(),
                        ident(cn),
                        ident(tn)
                    ),
                ));
            }
        }
        let shape = |name: &str, def: &str| {
            def.replacen(&format!("INDEX {} ON", ident(name)), "INDEX _ ON", 1)
        };
        for (iname, i) in &have.indexes {
            if want.indexes.contains_key(iname) {
                continue;
            }
            let twin = want.indexes.iter().find(|(tn, ti)| {
                !have.indexes.contains_key(*tn)
                    && !taken.contains(tn)
                    && shape(tn, &ti.definition) == shape(iname, &i.definition)
            });
            if let Some((tn, _)) = twin {
                taken.insert(tn);
                out.push((
                    t.clone(),
                    format!("rename index {iname} → {tn}"),
                    format!(
                        "ALTER INDEX {} RENAME TO {};",
                        QName::new(t.schema.clone(), iname.clone()).sql(),
                        ident(tn)
                    ),
                ));
            }
        }
        for (sn, sq) in &renamed.sequences {
            let Some((owner, col)) = &sq.owned_by else {
                continue;
            };
            if owner != t || to.sequences.contains_key(sn) {
                continue;
            }
            let twin = to.sequences.iter().find(|(tn, tq)| {
                tq.owned_by.as_ref() == Some(&(t.clone(), col.clone()))
                    && !renamed.sequences.contains_key(*tn)
                    && tn.schema == sn.schema
            });
            if let Some((tn, _)) = twin {
                out.push((
                    t.clone(),
                    format!("rename sequence {sn} → {tn}"),
                    format!("ALTER SEQUENCE {} RENAME TO {};", sn.sql(), ident(&tn.name)),
                ));
            }
        }
    }
    out
}

/// `statement` with the table's user triggers switched off around it, so a data move does not
/// also change what triggers write (an `updated_at`, an audit row). Triggers the plan keeps get
/// back the state they had.
fn without_user_triggers(renamed: &Model, to: &Model, t: &QName, statement: &str) -> String {
    let Some(table) = renamed.tables.get(t) else {
        return statement.to_string();
    };
    if table.triggers.is_empty() {
        return statement.to_string();
    }
    let mut sql = format!(
        "ALTER TABLE {} DISABLE TRIGGER USER;\n{statement}\n",
        t.sql()
    );
    sql.push_str(&format!("ALTER TABLE {} ENABLE TRIGGER USER;", t.sql()));
    let kept = to.tables.get(t);
    for (name, tr) in &table.triggers {
        let survives = kept
            .and_then(|k| k.triggers.get(name))
            .is_some_and(|k| k.definition == tr.definition);
        if tr.enabled == TriggerState::Origin {
            continue;
        }
        let state = format!("{} TRIGGER", tr.enabled.sql());
        if survives {
            sql.push_str(&format!(
                "\nALTER TABLE {} {state} {};",
                t.sql(),
                ident(name)
            ));
        }
    }
    sql
}

fn data_query(s: &DataStep, what: &'static str, source: sqlx::Error) -> SchemaError {
    SchemaError::DataQuery {
        origin: s.origin.to_string(),
        step: s.name.clone(),
        what,
        source,
    }
}

/// SQLSTATEs meaning "what the query reads does not exist here": undefined table, column,
/// schema.
const MISSING: [&str; 3] = ["42P01", "42703", "3F000"];

/// Runs a `@when` query in a savepoint. A database without what the query reads (a fresh one, or
/// one already past the change) is one the step does not apply to: false.
pub(crate) async fn when_holds(conn: &mut PgConnection, sql: &str) -> Result<bool, sqlx::Error> {
    let mut sp = conn.begin().await?;
    let result = sqlx::query_scalar::<_, Option<bool>>(sql)
        .fetch_one(&mut *sp)
        .await;
    sp.rollback().await?;
    match result {
        Ok(v) => Ok(v.unwrap_or(false)),
        Err(sqlx::Error::Database(e)) if e.code().is_some_and(|c| MISSING.contains(&&*c)) => {
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

async fn scalar_i64(conn: &mut PgConnection, sql: &str) -> Result<i64, sqlx::Error> {
    let mut sp = conn.begin().await?;
    let result = sqlx::query_scalar::<_, Option<i64>>(sql)
        .fetch_one(&mut *sp)
        .await;
    sp.rollback().await?;
    Ok(result?.unwrap_or(0))
}

/// Inside the apply transaction, before any step: every data step's `@when` still says what it
/// said when the plan was made.
pub(crate) async fn recheck(conn: &mut PgConnection, plan: &Plan) -> Result<(), SchemaError> {
    for d in &plan.data_steps {
        let Some(q) = &d.when else { continue };
        let now = when_holds(conn, q)
            .await
            .map_err(|source| SchemaError::DataQuery {
                origin: d.origin.clone(),
                step: d.name.clone(),
                what: "when",
                source,
            })?;
        if now != d.runs {
            return Err(SchemaError::DataChangedSincePlan {
                step: d.name.clone(),
                origin: d.origin.clone(),
            });
        }
    }
    Ok(())
}

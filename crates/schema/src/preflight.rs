//! Preflight: before a plan changes anything, run every step's data check read-only against the
//! live rows and report the steps PostgreSQL would refuse (blockers), with a count and examples.
//!
//! The planner attaches a [`DataCheck`] to each step that existing rows can break (a new NOT NULL,
//! a required column on a table with rows, a unique key or unique index over duplicates, a CHECK or
//! foreign key over violating rows, a type change). Everything here runs in one
//! `REPEATABLE READ READ ONLY` transaction, each check in its own savepoint: a check that cannot
//! be evaluated on today's shape (it names a column the plan adds, a type the plan creates) is
//! listed as not checked ahead instead of failing the preflight.
//!
//! Casts are tried on the stored values, not guessed: first the statement's own `USING`
//! expression is analysed over zero rows (PostgreSQL says "cannot cast type uuid to bigint" without
//! reading data: a blocker of kind `no-cast`); then it is evaluated over the whole column in one
//! scan; only when that scan fails is each distinct stored value tried in its own subtransaction
//! (a server-side `DO` loop, bounded to [`MAX_DISTINCT_TRIED`] values) to count the failing rows
//! and name three of them. This works on PostgreSQL 15 (no `pg_input_is_valid`) and exactly
//! matches what the `ALTER` would do, because it runs the same cast.

use std::time::{Duration, Instant};

use serde::Serialize;
use sqlx::{Connection, PgConnection, Row};

use crate::model::ConstraintKind;
use crate::model::{ident, literal, Model, QName};
use crate::plan::Plan;
use crate::SchemaError;

/// Distinct values of a column tried one by one when a cast fails somewhere.
pub const MAX_DISTINCT_TRIED: i64 = 200_000;

/// What the live rows must satisfy for one step to run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "check", rename_all = "kebab-case")]
pub enum DataCheck {
    /// `SET NOT NULL` on an existing column: no row may hold NULL.
    NotNull { table: QName, column: String },
    /// A column added `NOT NULL` without a default: the table must be empty.
    RequiredColumn { table: QName, column: String },
    /// A unique key, primary key or unique index: no two rows (matching `predicate`) share the
    /// key. `keys` are column names or the index's expressions.
    Unique {
        table: QName,
        name: String,
        keys: Vec<String>,
        predicate: Option<String>,
        nulls_distinct: bool,
    },
    /// A CHECK constraint: no row makes `expr` false.
    Check {
        table: QName,
        name: String,
        expr: String,
    },
    /// A foreign key: every non-null key has a referenced row.
    ForeignKey {
        table: QName,
        name: String,
        columns: Vec<String>,
        references: QName,
        referenced_columns: Vec<String>,
    },
    /// A type change: `using` (the statement's expression over the live column) must succeed for
    /// every stored value. With `enum_labels` the new type is an enum the plan creates: the values
    /// must be among its labels.
    Cast {
        table: QName,
        column: String,
        from_type: String,
        to_type: String,
        using: String,
        enum_labels: Option<Vec<String>>,
    },
    /// An exclusion constraint: not checked ahead (it would need a self-join per operator).
    Exclusion { table: QName, name: String },
}

impl DataCheck {
    pub fn table(&self) -> &QName {
        match self {
            Self::NotNull { table, .. }
            | Self::RequiredColumn { table, .. }
            | Self::Unique { table, .. }
            | Self::Check { table, .. }
            | Self::ForeignKey { table, .. }
            | Self::Cast { table, .. }
            | Self::Exclusion { table, .. } => table,
        }
    }

    /// The blocker kind this check reports.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::NotNull { .. } | Self::RequiredColumn { .. } => "not-null",
            Self::Unique { .. } => "unique",
            Self::Check { .. } => "check",
            Self::ForeignKey { .. } => "foreign-key",
            Self::Cast { .. } => "cast",
            Self::Exclusion { .. } => "exclusion",
        }
    }

    /// `public.users.email`, `public.payments payments_status_check`, ...
    pub fn object(&self) -> String {
        match self {
            Self::NotNull { table, column }
            | Self::RequiredColumn { table, column }
            | Self::Cast { table, column, .. } => format!("{table}.{column}"),
            Self::Unique { table, name, .. }
            | Self::Check { table, name, .. }
            | Self::ForeignKey { table, name, .. }
            | Self::Exclusion { table, name, .. } => format!("{table} {name}"),
        }
    }

    /// Whether a data step declaring `r` makes this check pass.
    pub fn resolved_by(&self, r: &Resolution) -> bool {
        if &r.table != self.table() {
            return false;
        }
        let same_set = |a: &[String], b: &[String]| {
            let mut a = a.to_vec();
            let mut b = b.to_vec();
            a.sort();
            b.sort();
            a == b
        };
        match (self, r.kind) {
            (Self::NotNull { column, .. }, ResolveKind::NotNull)
            | (Self::RequiredColumn { column, .. }, ResolveKind::NotNull) => {
                r.columns.iter().any(|c| c == column)
            }
            (Self::Unique { keys, .. }, ResolveKind::Unique) => same_set(keys, &r.columns),
            (Self::Check { name, .. }, ResolveKind::Check) => r.columns.iter().any(|c| c == name),
            (Self::ForeignKey { columns, .. }, ResolveKind::ForeignKey) => {
                same_set(columns, &r.columns)
            }
            _ => false,
        }
    }
}

/// The kinds a data step can say it resolves (`@resolves KIND SCHEMA.TABLE (COLS)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ResolveKind {
    NotNull,
    Unique,
    Check,
    ForeignKey,
}

impl ResolveKind {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "not-null" => Some(Self::NotNull),
            "unique" => Some(Self::Unique),
            "check" => Some(Self::Check),
            "foreign-key" => Some(Self::ForeignKey),
            _ => None,
        }
    }
}

/// A data step in the plan that makes a blocker go away: the hook through which data steps
/// (`@resolves`) meet preflight. For `Check` the columns hold the constraint name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Resolution {
    /// The data step's name.
    pub step: String,
    pub kind: ResolveKind,
    pub table: QName,
    pub columns: Vec<String>,
}

/// One step the live data would make fail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Blocker {
    /// `not-null`, `unique`, `check`, `foreign-key`, `cast`, `no-cast`.
    pub kind: String,
    /// The column or constraint.
    pub object: String,
    /// The 1-based index of the plan step.
    pub step: usize,
    /// Offending rows (for `no-cast`, the rows the cast would have to convert).
    pub count: i64,
    /// True when `count` is a lower bound (too many distinct values to try them all).
    pub count_is_lower_bound: bool,
    /// Up to three keys of offending rows (primary key values, duplicated keys, failing values).
    pub examples: Vec<String>,
    pub reason: String,
    /// The data step that resolves this blocker, when one is in the plan.
    pub resolved_by: Option<String>,
}

/// What preflight found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Preflight {
    /// Blockers no data step resolves: the plan cannot run.
    pub blockers: Vec<Blocker>,
    /// Blockers a data step of the plan resolves.
    pub resolved: Vec<Blocker>,
    /// Checks that could not be evaluated ahead, and why (PostgreSQL still checks them when the
    /// step runs, inside the transaction).
    pub unchecked: Vec<String>,
    /// How many checks ran.
    pub checks: usize,
    #[serde(serialize_with = "secs")]
    pub elapsed: Duration,
}

fn secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

impl Preflight {
    /// No blocker stands in the way.
    pub fn is_clear(&self) -> bool {
        self.blockers.is_empty()
    }

    /// The report for people (empty when there was nothing to check).
    pub fn text(&self) -> String {
        let mut out = String::new();
        if self.checks == 0 {
            return out;
        }
        if !self.blockers.is_empty() {
            out.push_str(&format!(
                "\nBlockers ({}): the live data would make these steps fail; nothing is applied while any remains:\n",
                self.blockers.len()
            ));
            for b in &self.blockers {
                out.push_str(&format!("  {}\n", blocker_line(b)));
            }
        }
        if !self.resolved.is_empty() {
            out.push_str("\nResolved by data steps of the plan:\n");
            for b in &self.resolved {
                out.push_str(&format!(
                    "  {}; resolved by data step {}\n",
                    blocker_line(b),
                    b.resolved_by.as_deref().unwrap_or("?")
                ));
            }
        }
        if !self.unchecked.is_empty() {
            out.push_str("\nNot checked ahead (PostgreSQL checks them when the step runs):\n");
            for u in &self.unchecked {
                out.push_str(&format!("  {u}\n"));
            }
        }
        out.push_str(&format!(
            "\nPreflight: {} data checks against the live rows, read-only, in {:.2} s; {} blockers\n",
            self.checks,
            self.elapsed.as_secs_f64(),
            self.blockers.len()
        ));
        out
    }
}

impl Preflight {
    /// For `db plan --format sql`: with blockers, a first statement that fails, so `psql -1`
    /// runs nothing of a plan PostgreSQL would refuse half-way; the blockers as comments.
    pub fn sql_guard(&self) -> String {
        if self.blockers.is_empty() {
            return String::new();
        }
        let mut out = String::new();
        for b in &self.blockers {
            out.push_str(&format!("-- blocker: {}\n", blocker_line(b)));
        }
        out.push_str(&format!(
            "DO $$ BEGIN RAISE EXCEPTION 'soprovod: this plan has {} blockers (see soprovod db plan); nothing was run'; END $$;\n",
            self.blockers.len()
        ));
        out
    }
}

fn blocker_line(b: &Blocker) -> String {
    let count = if b.count_is_lower_bound {
        format!("at least {}", b.count)
    } else {
        b.count.to_string()
    };
    let examples = if b.examples.is_empty() {
        String::new()
    } else {
        format!("; e.g. {}", b.examples.join("; "))
    };
    format!(
        "{:<11} step {} {}: {} ({count} rows){examples}",
        b.kind, b.step, b.object, b.reason
    )
}

/// Runs the data checks of `plan` against `url`, read-only. `from` is the model the plan was made
/// from (for primary keys to name rows by); `resolutions` are what the plan's data steps resolve.
pub async fn preflight(
    url: &str,
    from: &Model,
    plan: &Plan,
    resolutions: &[Resolution],
) -> Result<Preflight, SchemaError> {
    let started = Instant::now();
    let mut report = Preflight::default();
    let checks: Vec<(usize, &DataCheck)> = plan
        .steps
        .iter()
        .enumerate()
        .flat_map(|(i, s)| s.checks.iter().map(move |c| (i + 1, c)))
        .collect();
    if checks.is_empty() {
        return Ok(report);
    }
    let mut conn = crate::target::connect(url).await?;
    let mut tx = conn.begin().await?;
    sqlx::raw_sql(
        "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY; SET LOCAL search_path = ''",
    )
    .execute(&mut *tx)
    .await?;
    for (step, check) in checks {
        report.checks += 1;
        if let DataCheck::Exclusion { .. } = check {
            report.unchecked.push(format!(
                "step {step} {}: exclusion constraints are not checked ahead",
                check.object()
            ));
            continue;
        }
        if !from.tables.contains_key(check.table()) {
            report.unchecked.push(format!(
                "step {step} {}: the table {} does not exist yet",
                check.object(),
                check.table()
            ));
            continue;
        }
        let resolution = resolutions.iter().find(|r| check.resolved_by(r));
        sqlx::raw_sql("SAVEPOINT preflight_check")
            .execute(&mut *tx)
            .await?;
        let found = run_check(&mut tx, from, check).await;
        match found {
            Ok(None) => {
                sqlx::raw_sql("RELEASE SAVEPOINT preflight_check")
                    .execute(&mut *tx)
                    .await?;
            }
            Ok(Some(found)) => {
                sqlx::raw_sql("RELEASE SAVEPOINT preflight_check")
                    .execute(&mut *tx)
                    .await?;
                let blocker = Blocker {
                    kind: found.kind.unwrap_or(check.kind()).to_string(),
                    object: check.object(),
                    step,
                    count: found.count,
                    count_is_lower_bound: found.lower_bound,
                    examples: found.examples,
                    reason: found.reason,
                    resolved_by: resolution.map(|r| r.step.clone()),
                };
                if blocker.resolved_by.is_some() {
                    report.resolved.push(blocker);
                } else {
                    report.blockers.push(blocker);
                }
            }
            Err(e) => {
                sqlx::raw_sql("ROLLBACK TO SAVEPOINT preflight_check")
                    .execute(&mut *tx)
                    .await?;
                report.unchecked.push(format!(
                    "step {step} {} ({}): {}",
                    check.object(),
                    check.kind(),
                    db_message(&e)
                ));
            }
        }
    }
    tx.rollback().await?;
    let _ = conn.close().await;
    report.elapsed = started.elapsed();
    Ok(report)
}

fn db_message(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(d) => d.message().to_string(),
        other => other.to_string(),
    }
}

fn sqlstate(e: &sqlx::Error) -> Option<String> {
    match e {
        sqlx::Error::Database(d) => d.code().map(|c| c.into_owned()),
        _ => None,
    }
}

struct Found {
    kind: Option<&'static str>,
    count: i64,
    lower_bound: bool,
    examples: Vec<String>,
    reason: String,
}

impl Found {
    fn new(count: i64, examples: Vec<String>, reason: String) -> Option<Self> {
        (count > 0).then_some(Self {
            kind: None,
            count,
            lower_bound: false,
            examples,
            reason,
        })
    }
}

/// An expression naming a row of `table` (alias `a`) by its primary key, or by its ctid.
fn row_key(from: &Model, table: &QName) -> String {
    let pk = from.tables.get(table).and_then(|t| {
        t.constraints
            .values()
            .find(|c| c.kind == ConstraintKind::PrimaryKey)
            .map(|c| c.columns.clone())
    });
    match pk {
        Some(cols) if !cols.is_empty() => {
            let parts: Vec<String> = cols
                .iter()
                .map(|c| {
                    format!(
                        "{} || coalesce(a.{}::text, 'NULL')",
                        literal(&format!("{c}=")),
                        ident(c)
                    )
                })
                .collect();
            format!("pg_catalog.concat_ws(', ', {})", parts.join(", "))
        }
        _ => "'ctid ' || a.ctid::text".to_string(),
    }
}

/// Count and up to three row keys of `table` rows matching `condition` (over alias `a`).
async fn count_rows(
    conn: &mut PgConnection,
    from: &Model,
    table: &QName,
    condition: &str,
) -> Result<(i64, Vec<String>), sqlx::Error> {
    let t = table.sql();
    let key = row_key(from, table);
    let sql = format!(
        "SELECT (SELECT count(*) FROM {t} a WHERE {condition}),
                ARRAY(SELECT {key} FROM {t} a WHERE {condition} LIMIT 3)"
    );
    let row = sqlx::query(&sql).fetch_one(conn).await?;
    Ok((row.try_get(0)?, row.try_get(1)?))
}

async fn run_check(
    conn: &mut PgConnection,
    from: &Model,
    check: &DataCheck,
) -> Result<Option<Found>, sqlx::Error> {
    match check {
        DataCheck::NotNull { table, column } => {
            let (n, ex) =
                count_rows(conn, from, table, &format!("a.{} IS NULL", ident(column))).await?;
            Ok(Found::new(
                n,
                ex,
                format!("{column} becomes NOT NULL but rows hold NULL"),
            ))
        }
        DataCheck::RequiredColumn { table, column } => {
            let (n, ex) = count_rows(conn, from, table, "true").await?;
            Ok(Found::new(
                n,
                ex,
                format!("{column} is added NOT NULL without a default to a table with rows"),
            ))
        }
        DataCheck::Unique {
            table,
            keys,
            predicate,
            nulls_distinct,
            ..
        } => unique(conn, table, keys, predicate.as_deref(), *nulls_distinct).await,
        DataCheck::Check { table, expr, .. } => {
            let (n, ex) = count_rows(conn, from, table, &format!("NOT ({expr})")).await?;
            Ok(Found::new(n, ex, format!("rows violate CHECK ({expr})")))
        }
        DataCheck::ForeignKey {
            table,
            columns,
            references,
            referenced_columns,
            ..
        } => {
            let not_null: Vec<String> = columns
                .iter()
                .map(|c| format!("a.{} IS NOT NULL", ident(c)))
                .collect();
            let mut condition = not_null.join(" AND ");
            let reason = if from.tables.contains_key(references) {
                let matches: Vec<String> = columns
                    .iter()
                    .zip(referenced_columns)
                    .map(|(c, r)| format!("r.{} = a.{}", ident(r), ident(c)))
                    .collect();
                condition.push_str(&format!(
                    " AND NOT EXISTS (SELECT 1 FROM {} r WHERE {})",
                    references.sql(),
                    matches.join(" AND ")
                ));
                format!(
                    "rows reference {references} ({}) values that do not exist",
                    referenced_columns.join(", ")
                )
            } else {
                format!("rows reference {references}, which the plan creates empty")
            };
            let (n, ex) = count_rows(conn, from, table, &condition).await?;
            Ok(Found::new(n, ex, reason))
        }
        DataCheck::Cast {
            table,
            column,
            from_type,
            to_type,
            using,
            enum_labels,
        } => {
            cast(
                conn,
                table,
                column,
                from_type,
                to_type,
                using,
                enum_labels.as_deref(),
            )
            .await
        }
        DataCheck::Exclusion { .. } => Ok(None),
    }
}

async fn unique(
    conn: &mut PgConnection,
    table: &QName,
    keys: &[String],
    predicate: Option<&str>,
    nulls_distinct: bool,
) -> Result<Option<Found>, sqlx::Error> {
    let t = table.sql();
    let mut conditions: Vec<String> = predicate.map(|p| format!("({p})")).into_iter().collect();
    if nulls_distinct {
        conditions.extend(keys.iter().map(|k| format!("({k}) IS NOT NULL")));
    }
    let filter = if conditions.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conditions.join(" AND "))
    };
    let group: Vec<String> = (1..=keys.len()).map(|i| (i + 1).to_string()).collect();
    let sql = format!(
        "WITH d AS (
            SELECT count(*) AS n, {keys} FROM {t} {filter} GROUP BY {group} HAVING count(*) > 1
         )
         SELECT (SELECT coalesce(sum(n), 0)::bigint FROM d),
                ARRAY(SELECT pg_catalog.concat_ws(', ', {label}) || ' (' || n || ' rows)' FROM d LIMIT 3)",
        keys = keys
            .iter()
            .enumerate()
            .map(|(i, k)| format!("({k}) AS k{i}"))
            .collect::<Vec<_>>()
            .join(", "),
        group = group.join(", "),
        label = keys
            .iter()
            .enumerate()
            .map(|(i, k)| format!(
                "{} || coalesce(k{i}::text, 'NULL')",
                literal(&format!("{k}="))
            ))
            .collect::<Vec<_>>()
            .join(", "),
    );
    let row = sqlx::query(&sql).fetch_one(conn).await?;
    let (n, ex): (i64, Vec<String>) = (row.try_get(0)?, row.try_get(1)?);
    Ok(Found::new(
        n,
        ex,
        format!("rows share a key ({})", keys.join(", ")),
    ))
}

async fn cast(
    conn: &mut PgConnection,
    table: &QName,
    column: &str,
    from_type: &str,
    to_type: &str,
    using: &str,
    enum_labels: Option<&[String]>,
) -> Result<Option<Found>, sqlx::Error> {
    let t = table.sql();
    let col = ident(column);
    if let Some(labels) = enum_labels {
        let list: Vec<String> = labels.iter().map(|l| literal(l)).collect();
        // An array of the enum: each element must be a label (counted per element).
        let (value, from) = if to_type.ends_with("[]") {
            (
                "x".to_string(),
                format!("{t}, pg_catalog.unnest({col}) AS x"),
            )
        } else {
            (col.clone(), t.clone())
        };
        let sql = format!(
            "WITH d AS (
                SELECT {value}::text AS v, count(*) AS n FROM {from}
                WHERE {value} IS NOT NULL AND {value}::text <> ALL (ARRAY[{list}]::text[])
                GROUP BY 1
             )
             SELECT (SELECT coalesce(sum(n), 0)::bigint FROM d),
                    ARRAY(SELECT pg_catalog.quote_literal(v) || ' (' || n || ' rows)' FROM d ORDER BY n DESC LIMIT 3)",
            list = if list.is_empty() {
                "NULL".to_string()
            } else {
                list.join(", ")
            }
        );
        let row = sqlx::query(&sql).fetch_one(&mut *conn).await?;
        let (n, ex): (i64, Vec<String>) = (row.try_get(0)?, row.try_get(1)?);
        return Ok(Found::new(
            n,
            ex,
            format!("{column} {from_type} → {to_type}: values that are not labels of the new enum"),
        ));
    }
    // 1. Does the cast exist at all? Analysing the expression over zero rows reads no data.
    sqlx::raw_sql("SAVEPOINT preflight_cast")
        .execute(&mut *conn)
        .await?;
    let probe = sqlx::raw_sql(&format!("SELECT ({using}) FROM {t} LIMIT 0"))
        .execute(&mut *conn)
        .await;
    if let Err(e) = probe {
        sqlx::raw_sql("ROLLBACK TO SAVEPOINT preflight_cast")
            .execute(&mut *conn)
            .await?;
        if sqlstate(&e).as_deref() == Some("42846") {
            let (n, ex) = {
                let sql = format!(
                    "SELECT (SELECT count(*) FROM {t} WHERE {col} IS NOT NULL),
                            ARRAY(SELECT {col}::text FROM {t} WHERE {col} IS NOT NULL LIMIT 3)"
                );
                let row = sqlx::query(&sql).fetch_one(&mut *conn).await?;
                (row.try_get::<i64, _>(0)?, row.try_get::<Vec<String>, _>(1)?)
            };
            let reason = format!(
                "PostgreSQL has no cast from {from_type} to {to_type} ({})",
                db_message(&e)
            );
            if n == 0 {
                // Still no statement PostgreSQL can run: the ALTER fails even on an empty table.
                return Ok(Some(Found {
                    kind: Some("no-cast"),
                    count: 0,
                    lower_bound: false,
                    examples: Vec::new(),
                    reason,
                }));
            }
            return Ok(Some(Found {
                kind: Some("no-cast"),
                count: n,
                lower_bound: false,
                examples: ex
                    .into_iter()
                    .map(|v| format!("value {}", literal(&v)))
                    .collect(),
                reason,
            }));
        }
        return Err(e);
    }
    // 2. One scan: does the cast succeed for every stored value?
    let scan = sqlx::raw_sql(&format!(
        "SELECT count(({using})) FROM {t} WHERE {col} IS NOT NULL"
    ))
    .execute(&mut *conn)
    .await;
    let first_error = match scan {
        Ok(_) => {
            sqlx::raw_sql("RELEASE SAVEPOINT preflight_cast")
                .execute(&mut *conn)
                .await?;
            return Ok(None);
        }
        Err(e) => {
            sqlx::raw_sql("ROLLBACK TO SAVEPOINT preflight_cast")
                .execute(&mut *conn)
                .await?;
            db_message(&e)
        }
    };
    // 3. It fails somewhere: try each distinct stored value in its own subtransaction, with the
    // column replaced by the value read back in its own type.
    let value_expr = format!("(r.v::{from_type})");
    // Only the engine's own casts read nothing but the column; a declared USING expression may
    // read other columns, and then only the whole-table failure is known.
    let own_cast =
        using == format!("{col}::{to_type}") || using == format!("{col}::text::{to_type}");
    let per_value = own_cast
        .then(|| replace_column(using, &col, &value_expr))
        .flatten();
    let (count, examples, lower_bound) = match per_value {
        Some(expr) => {
            let body = format!(
                "DECLARE r record; bad bigint := 0; ex text[] := '{{}}'; tried bigint := 0;
                 BEGIN
                   FOR r IN SELECT {col}::text AS v, count(*) AS n FROM {t} WHERE {col} IS NOT NULL
                            GROUP BY 1 LIMIT {limit} LOOP
                     tried := tried + 1;
                     BEGIN
                       PERFORM {expr};
                     EXCEPTION WHEN OTHERS THEN
                       bad := bad + r.n;
                       IF pg_catalog.cardinality(ex) < 3 THEN
                         ex := ex || (pg_catalog.quote_literal(r.v) || ' (' || r.n || ' rows)');
                       END IF;
                     END;
                   END LOOP;
                   PERFORM pg_catalog.set_config('soprovod.preflight_bad', bad::text, true);
                   PERFORM pg_catalog.set_config('soprovod.preflight_tried', tried::text, true);
                   PERFORM pg_catalog.set_config('soprovod.preflight_examples',
                     pg_catalog.array_to_string(ex, E'\\x1f'), true);
                 END",
                limit = MAX_DISTINCT_TRIED,
            );
            sqlx::raw_sql(&format!("DO {}", dollar_quote(&body)))
                .execute(&mut *conn)
                .await?;
            let row = sqlx::query(
                "SELECT current_setting('soprovod.preflight_bad')::bigint,
                        current_setting('soprovod.preflight_tried')::bigint,
                        current_setting('soprovod.preflight_examples')",
            )
            .fetch_one(&mut *conn)
            .await?;
            let bad: i64 = row.try_get(0)?;
            let tried: i64 = row.try_get(1)?;
            let ex: String = row.try_get(2)?;
            let examples: Vec<String> = ex
                .split('\u{1f}')
                .filter(|s| !s.is_empty())
                .map(|s| format!("value {s}"))
                .collect();
            (
                bad.max(1),
                examples,
                tried >= MAX_DISTINCT_TRIED || bad == 0,
            )
        }
        None => (1, Vec::new(), true),
    };
    Ok(Some(Found {
        kind: None,
        count,
        lower_bound,
        examples,
        reason: format!("{column} {from_type} → {to_type} fails for stored values ({first_error})"),
    }))
}

/// `using` with every standalone occurrence of the quoted column name `col` replaced, or None
/// when the expression does not mention it (then it cannot be tried per value).
fn replace_column(using: &str, col: &str, with: &str) -> Option<String> {
    let bytes = using.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    let mut hit = false;
    let is_word = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'"' || b == b'.';
    while i < using.len() {
        if using[i..].starts_with(col)
            && (i == 0 || !is_word(bytes[i - 1]))
            && bytes.get(i + col.len()).is_none_or(|b| !is_word(*b))
        {
            out.push_str(with);
            i += col.len();
            hit = true;
        } else {
            let ch = using[i..].chars().next().unwrap_or(' ');
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    hit.then_some(out)
}

fn dollar_quote(body: &str) -> String {
    let mut tag = String::from("$pf$");
    while body.contains(&tag) {
        tag.insert(1, 'x');
    }
    format!("{tag}{body}{tag}")
}

/// The key expressions, predicate and NULLS NOT DISTINCT of a `CREATE UNIQUE INDEX` definition
/// as `pg_get_indexdef` renders it, or None for another kind of index.
pub fn unique_index_parts(definition: &str) -> Option<(Vec<String>, Option<String>, bool)> {
    if !definition.starts_with("CREATE UNIQUE INDEX") {
        return None;
    }
    let using = definition.find(" USING ")?;
    let open = using + definition[using..].find('(')?;
    let close = matching_paren(definition, open)?;
    let keys = split_top_level(&definition[open + 1..close])
        .into_iter()
        .map(|item| first_token(item.trim()).to_string())
        .collect();
    let rest = &definition[close + 1..];
    let predicate = rest
        .find(" WHERE ")
        .map(|w| rest[w + " WHERE ".len()..].trim().to_string());
    let nulls_distinct = !rest.contains("NULLS NOT DISTINCT");
    Some((keys, predicate, nulls_distinct))
}

fn matching_paren(s: &str, open: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    for (i, ch) in s[open..].char_indices() {
        match (quote, ch) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'') | (None, '"') => quote = Some(ch),
            (None, '(') => depth += 1,
            (None, ')') => {
                depth -= 1;
                if depth == 0 {
                    return Some(open + i);
                }
            }
            _ => {}
        }
    }
    None
}

fn split_top_level(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut quote: Option<char> = None;
    let mut start = 0;
    for (i, ch) in s.char_indices() {
        match (quote, ch) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'') | (None, '"') => quote = Some(ch),
            (None, '(') => depth += 1,
            (None, ')') => depth -= 1,
            (None, ',') if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

/// The expression of an index item without its opclass, ordering or collation.
fn first_token(item: &str) -> &str {
    let mut depth = 0i32;
    let mut quote: Option<char> = None;
    for (i, ch) in item.char_indices() {
        match (quote, ch) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'') | (None, '"') => quote = Some(ch),
            (None, '(') => depth += 1,
            (None, ')') => depth -= 1,
            (None, ' ') if depth == 0 => return &item[..i],
            _ => {}
        }
    }
    item
}

/// The expression of a `CHECK (...)` definition, or None when it is `NOT VALID` (existing rows
/// are then not checked by PostgreSQL either).
pub fn check_expression(definition: &str) -> Option<String> {
    if definition.ends_with(" NOT VALID") {
        return None;
    }
    let body = definition.strip_prefix("CHECK ")?;
    let body = body.strip_suffix(" NO INHERIT").unwrap_or(body);
    Some(body.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_index_definitions_give_their_keys_and_predicate() {
        let (keys, pred, nd) = unique_index_parts(
            "CREATE UNIQUE INDEX one_active ON public.subscriptions USING btree (user_id) WHERE (status = 'active'::text)",
        )
        .unwrap();
        assert_eq!(keys, vec!["user_id"]);
        assert_eq!(pred.as_deref(), Some("(status = 'active'::text)"));
        assert!(nd);
        let (keys, pred, _) = unique_index_parts(
            "CREATE UNIQUE INDEX u ON public.t USING btree (lower(email) text_pattern_ops, \"Odd Name\" DESC NULLS LAST)",
        )
        .unwrap();
        assert_eq!(keys, vec!["lower(email)", "\"Odd Name\""]);
        assert_eq!(pred, None);
        assert!(unique_index_parts("CREATE INDEX i ON public.t USING btree (a)").is_none());
    }

    #[test]
    fn a_column_is_replaced_only_where_it_stands_alone() {
        assert_eq!(
            replace_column("id::bigint", "id", "(r.v::uuid)").as_deref(),
            Some("(r.v::uuid)::bigint")
        );
        assert_eq!(
            replace_column("user_id::bigint", "id", "X"),
            None,
            "id inside user_id is not the column"
        );
        assert_eq!(
            replace_column("\"Amount\"::integer", "\"Amount\"", "X").as_deref(),
            Some("X::integer")
        );
    }

    #[test]
    fn not_valid_checks_are_not_checked_ahead() {
        assert_eq!(
            check_expression("CHECK ((amount > 0))").as_deref(),
            Some("((amount > 0))")
        );
        assert_eq!(check_expression("CHECK ((amount > 0)) NOT VALID"), None);
    }
}

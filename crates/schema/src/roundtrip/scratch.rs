//! The scratch database's side of the round trip: making a definition's owner there, and the
//! server's rendering of a definition made on it.

use sqlx::{Connection, PgConnection};

use super::{Kind, Owner, Pair, PROBE};
use crate::model::{ident, literal, Column, Model, QName, Table};

/// Creates the table (with the columns both sides declare alike) or the domain in the scratch
/// database. A column the scratch cannot make (a user type it lacks) is left out: a definition
/// that needs it then fails to render and its pair stays a difference.
pub(super) async fn make_owner(
    conn: &mut PgConnection,
    owner: &Owner,
    from: &Model,
    to: &Model,
) -> bool {
    let columns = match owner {
        Owner::Table(n) => match (from.tables.get(n), to.tables.get(n)) {
            (Some(ft), Some(tt)) => alike_columns(ft, tt),
            _ => return false,
        },
        Owner::Domain(_) => Vec::new(),
    };
    make_owner_with(conn, owner, to, &columns).await
}

/// Creates the table with `columns` (`name type [COLLATE c]`, each added on its own so one the
/// scratch cannot make leaves the others) or the domain as `to` declares it.
pub(super) async fn make_owner_with(
    conn: &mut PgConnection,
    owner: &Owner,
    to: &Model,
    columns: &[String],
) -> bool {
    let name = match owner {
        Owner::Table(n) | Owner::Domain(n) => n,
    };
    let schema = format!("CREATE SCHEMA IF NOT EXISTS {}", ident(&name.schema));
    if sqlx::raw_sql(&schema).execute(&mut *conn).await.is_err() {
        return false;
    }
    match owner {
        Owner::Table(n) => {
            let create = format!("CREATE TABLE {} ()", n.sql());
            if sqlx::raw_sql(&create).execute(&mut *conn).await.is_err() {
                return false;
            }
            for column in columns {
                // Autocommit, one column each: a failing one leaves the others.
                let _ = sqlx::raw_sql(&format!("ALTER TABLE {} ADD COLUMN {column}", n.sql()))
                    .execute(&mut *conn)
                    .await;
            }
            true
        }
        Owner::Domain(n) => {
            let Some(d) = to.domains.get(n) else {
                return false;
            };
            let collate = d
                .collation
                .as_ref()
                .map(|c| format!(" COLLATE {c}"))
                .unwrap_or_default();
            let create = format!("CREATE DOMAIN {} AS {}{collate}", n.sql(), d.base_type);
            sqlx::raw_sql(&create).execute(&mut *conn).await.is_ok()
        }
    }
}

/// `name type [COLLATE c]` of each column the two tables declare with the same type and collation.
fn alike_columns(from: &Table, to: &Table) -> Vec<String> {
    to.columns
        .iter()
        .filter(|c| {
            from.column(&c.name)
                .is_some_and(|f| f.data_type == c.data_type && f.collation == c.collation)
        })
        .map(column_sql)
        .collect()
}

/// `name type [COLLATE c]` of a column.
pub(super) fn column_sql(c: &Column) -> String {
    let collate = c
        .collation
        .as_ref()
        .map(|x| format!(" COLLATE {x}"))
        .unwrap_or_default();
    format!("{} {}{collate}", ident(&c.name), c.data_type)
}

/// The server's rendering of `definition` made on the pair's owner, in a transaction that is
/// rolled back; None when it does not run here.
pub(super) async fn render(
    conn: &mut PgConnection,
    pair: &Pair,
    definition: &str,
) -> Option<String> {
    let (make, read) = match (&pair.owner, &pair.kind) {
        (Owner::Table(t), Kind::Check) => (
            format!(
                "ALTER TABLE {} ADD CONSTRAINT {} {definition}",
                t.sql(),
                ident(&pair.name)
            ),
            format!(
                "SELECT pg_catalog.pg_get_constraintdef(oid) FROM pg_catalog.pg_constraint
                 WHERE conrelid = {}::regclass AND conname = {}",
                literal(&t.sql()),
                literal(&pair.name)
            ),
        ),
        (Owner::Domain(d), Kind::Check) => (
            format!(
                "ALTER DOMAIN {} ADD CONSTRAINT {} {definition}",
                d.sql(),
                ident(&pair.name)
            ),
            format!(
                "SELECT pg_catalog.pg_get_constraintdef(oid) FROM pg_catalog.pg_constraint
                 WHERE contypid = {}::regtype AND conname = {}",
                literal(&d.sql()),
                literal(&pair.name)
            ),
        ),
        (Owner::Table(t), Kind::Index) => (
            definition.to_string(),
            format!(
                "SELECT pg_catalog.pg_get_indexdef({}::regclass)",
                literal(&QName::new(&t.schema, &pair.name).sql())
            ),
        ),
        (Owner::Table(t), Kind::Generated { data_type }) => (
            format!(
                "ALTER TABLE {} ADD COLUMN {PROBE} {data_type} GENERATED ALWAYS AS ({definition}) STORED",
                t.sql()
            ),
            format!(
                "SELECT pg_catalog.pg_get_expr(d.adbin, d.adrelid) FROM pg_catalog.pg_attrdef d
                 JOIN pg_catalog.pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
                 WHERE d.adrelid = {}::regclass AND a.attname = '{PROBE}'",
                literal(&t.sql())
            ),
        ),
        (Owner::Table(t), Kind::PolicyUsing | Kind::PolicyCheck) => {
            let (clause, column) = match pair.kind {
                Kind::PolicyUsing => ("USING", "polqual"),
                _ => ("WITH CHECK", "polwithcheck"),
            };
            (
                format!("CREATE POLICY {PROBE} ON {} {clause} ({definition})", t.sql()),
                format!(
                    "SELECT pg_catalog.pg_get_expr({column}, polrelid) FROM pg_catalog.pg_policy
                     WHERE polrelid = {}::regclass AND polname = '{PROBE}'",
                    literal(&t.sql())
                ),
            )
        }
        (Owner::Domain(_), _) => return None,
    };
    let mut tx = Connection::begin(&mut *conn).await.ok()?;
    let rendered = match sqlx::raw_sql(&make).execute(&mut *tx).await {
        Ok(_) => sqlx::query_scalar::<_, String>(&read)
            .fetch_one(&mut *tx)
            .await
            .ok(),
        Err(_) => None,
    };
    let _ = tx.rollback().await;
    rendered
}

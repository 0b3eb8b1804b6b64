//! Readers of schemas, extensions, collations and enum types.

use sqlx::{PgConnection, Row};

use super::{extras, grants_expr, not_ext_member, qname, USER_NS};
use crate::model::*;
use crate::SchemaError;

/// Schemas.
pub(super) async fn schemas(conn: &mut PgConnection, m: &mut Model) -> Result<(), SchemaError> {
    let sql = format!(
        "SELECT n.nspname, pg_catalog.pg_get_userbyid(n.nspowner) AS owner,
                pg_catalog.obj_description(n.oid, 'pg_namespace') AS comment,
                {grants} AS grants
         FROM pg_catalog.pg_namespace n WHERE {USER_NS} AND {ext}",
        grants = grants_expr("n.nspacl", "n", "n.nspowner"),
        ext = not_ext_member("pg_namespace", "n.oid"),
    );
    for row in sqlx::query(&sql).fetch_all(&mut *conn).await? {
        m.namespaces.insert(
            row.try_get("nspname")?,
            Namespace {
                extras: extras(&row)?,
            },
        );
    }
    Ok(())
}

/// Extensions.
pub(super) async fn extensions(conn: &mut PgConnection, m: &mut Model) -> Result<(), SchemaError> {
    for row in sqlx::query(
        "SELECT e.extname, n.nspname, e.extversion FROM pg_catalog.pg_extension e
         JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace",
    )
    .fetch_all(&mut *conn)
    .await?
    {
        m.extensions.insert(
            row.try_get("extname")?,
            Extension {
                schema: row.try_get("nspname")?,
                version: row.try_get("extversion")?,
            },
        );
    }
    Ok(())
}

/// Collations.
pub(super) async fn collations(conn: &mut PgConnection, m: &mut Model) -> Result<(), SchemaError> {
    // Collations (ICU locale column names vary by server version, so read it through jsonb).
    let sql = format!(
        "SELECT n.nspname, c.collname AS relname, c.collprovider::text AS provider,
                c.collcollate, c.collctype, c.collisdeterministic,
                coalesce(to_jsonb(c) ->> 'colliculocale', to_jsonb(c) ->> 'colllocale') AS icu,
                pg_catalog.pg_get_userbyid(c.collowner) AS owner,
                pg_catalog.obj_description(c.oid, 'pg_collation') AS comment, '{{}}'::text[] AS grants
         FROM pg_catalog.pg_collation c JOIN pg_catalog.pg_namespace n ON n.oid = c.collnamespace
         WHERE {USER_NS} AND {ext}",
        ext = not_ext_member("pg_collation", "c.oid"),
    );
    for row in sqlx::query(&sql).fetch_all(&mut *conn).await? {
        let provider: String = row.try_get("provider")?;
        let mut options = match provider.as_str() {
            "i" => format!(
                "provider = icu, locale = {}",
                literal(&row.try_get::<Option<String>, _>("icu")?.unwrap_or_default())
            ),
            _ => format!(
                "provider = libc, lc_collate = {}, lc_ctype = {}",
                literal(
                    &row.try_get::<Option<String>, _>("collcollate")?
                        .unwrap_or_default()
                ),
                literal(
                    &row.try_get::<Option<String>, _>("collctype")?
                        .unwrap_or_default()
                )
            ),
        };
        if !row.try_get::<bool, _>("collisdeterministic")? {
            options.push_str(", deterministic = false");
        }
        m.collations.insert(
            qname(&row)?,
            Collation {
                options,
                extras: extras(&row)?,
            },
        );
    }
    Ok(())
}

/// Enum types (the other kinds of types are in `kinds` and `unmodelled`).
pub(super) async fn enums(conn: &mut PgConnection, m: &mut Model) -> Result<(), SchemaError> {
    let sql = format!(
        "SELECT n.nspname, t.typname AS relname, t.typtype::text AS typtype,
                (SELECT coalesce(array_agg(e.enumlabel::text ORDER BY e.enumsortorder), '{{}}')
                   FROM pg_catalog.pg_enum e WHERE e.enumtypid = t.oid) AS labels,
                pg_catalog.pg_get_userbyid(t.typowner) AS owner,
                pg_catalog.obj_description(t.oid, 'pg_type') AS comment, {grants} AS grants
         FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
         WHERE {USER_NS} AND {ext}
           AND t.typtype = 'e'",
        grants = grants_expr("t.typacl", "T", "t.typowner"),
        ext = not_ext_member("pg_type", "t.oid"),
    );
    for row in sqlx::query(&sql).fetch_all(&mut *conn).await? {
        let name = qname(&row)?;
        m.enums.insert(
            name,
            EnumType {
                labels: row.try_get("labels")?,
                extras: extras(&row)?,
            },
        );
    }
    Ok(())
}

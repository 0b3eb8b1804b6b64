//! Readers of table constraints and indexes.

use sqlx::{PgConnection, Row};

use super::{comment_join, Rels, USER_NS};
use crate::model::*;
use crate::SchemaError;

/// Constraints (not those inherited from a parent or cloned onto a partition).
pub(super) async fn constraints(
    conn: &mut PgConnection,
    m: &mut Model,
    rels: &Rels,
) -> Result<(), SchemaError> {
    let sql = format!(
        // Key columns in key order (not column order): a renamed or added column keeps its
        // place in the key, and a foreign key's columns pair with the referenced ones.
        "SELECT co.conrelid::int8 AS rel, co.conname::text AS name, co.contype::text AS kind,
                pg_catalog.pg_get_constraintdef(co.oid) AS def, co.confrelid::int8 AS fk_rel,
                (SELECT coalesce(array_agg(a.attname::text ORDER BY array_position(co.conkey, a.attnum)), '{{}}') FROM pg_catalog.pg_attribute a
                  WHERE a.attrelid = co.conrelid AND a.attnum = ANY (co.conkey)) AS columns,
                (SELECT coalesce(array_agg(a.attname::text ORDER BY array_position(co.confkey, a.attnum)), '{{}}') FROM pg_catalog.pg_attribute a
                  WHERE a.attrelid = co.confrelid AND a.attnum = ANY (co.confkey)) AS referenced_columns,
                ds.description AS comment
         FROM pg_catalog.pg_constraint co
         JOIN pg_catalog.pg_class c ON c.oid = co.conrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
         {comments}
         WHERE {USER_NS} AND co.conislocal AND co.conparentid = 0 AND co.contype IN ('p', 'u', 'f', 'c', 'x')",
        comments = comment_join("pg_constraint", "co.oid", "0"),
    );
    for row in sqlx::query(&sql).fetch_all(&mut *conn).await? {
        let Some(rel) = rels.get(&row.try_get::<i64, _>("rel")?) else {
            continue;
        };
        let Some(table) = m.tables.get_mut(rel) else {
            continue;
        };
        let fk: i64 = row.try_get("fk_rel")?;
        table.constraints.insert(
            row.try_get("name")?,
            Constraint {
                kind: ConstraintKind::from_code(&row.try_get::<String, _>("kind")?)?,
                definition: row.try_get("def")?,
                comment: row.try_get("comment")?,
                references: rels.get(&fk).cloned(),
                columns: row.try_get("columns")?,
                referenced_columns: row.try_get("referenced_columns")?,
            },
        );
    }
    Ok(())
}

/// Indexes that no constraint owns and that are not a partition's copy of a parent's index.
/// An index a concurrent build left INVALID reads differently from the one it should be, so it
/// is seen as a difference (and rebuilt) instead of passing for the real index; so does a
/// partitioned table's index that some partition lacks (made `ON ONLY`).
pub(super) async fn indexes(
    conn: &mut PgConnection,
    m: &mut Model,
    rels: &Rels,
) -> Result<(), SchemaError> {
    let sql = format!(
        "SELECT i.indrelid::int8 AS rel, c.relname::text AS name,
                pg_catalog.pg_get_indexdef(i.indexrelid)
                  || CASE WHEN i.indisvalid OR c.relkind NOT IN ('i', 'I') THEN '' ELSE ' /* invalid */' END AS def,
                ds.description AS comment
         FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
         {comments}
         WHERE {USER_NS} AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint co WHERE co.conindid = i.indexrelid
                             AND co.contype IN ('p', 'u', 'x') AND co.conrelid = i.indrelid)
           AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_inherits h WHERE h.inhrelid = i.indexrelid)",
        comments = comment_join("pg_class", "i.indexrelid", "0"),
    );
    for row in sqlx::query(&sql).fetch_all(&mut *conn).await? {
        let Some(rel) = rels.get(&row.try_get::<i64, _>("rel")?) else {
            continue;
        };
        let index = Index {
            definition: row.try_get("def")?,
            comment: row.try_get("comment")?,
        };
        let name: String = row.try_get("name")?;
        if let Some(table) = m.tables.get_mut(rel) {
            table.indexes.insert(name, index);
        } else if let Some(view) = m.views.get_mut(rel) {
            view.indexes.insert(name, index);
        }
    }
    Ok(())
}

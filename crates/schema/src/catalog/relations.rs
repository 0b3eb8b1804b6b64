//! Readers of relations (tables, views, materialized views), their partitioning and their columns.

use std::collections::{BTreeMap, HashMap};

use sqlx::{PgConnection, Row};

use super::{
    comment_join, extras, grants_expr, not_ext_member, parse_grants, qname, Rels, USER_NS,
};
use crate::model::*;
use crate::SchemaError;

/// Relations, with partition bounds and inheritance parents; returns oid -> name for the other readers.
pub(super) async fn relations(conn: &mut PgConnection, m: &mut Model) -> Result<Rels, SchemaError> {
    // Relations: tables, views, materialized views, sequences; oid -> name for the lookups below.
    let sql = format!(
        "SELECT c.oid::int8 AS oid, n.nspname, c.relname, c.relkind::text AS relkind,
                c.relpersistence::text AS persistence, coalesce(c.reloptions, '{{}}') AS reloptions,
                c.relrowsecurity, c.relforcerowsecurity, c.relispopulated,
                CASE WHEN c.relkind = 'p' THEN pg_catalog.pg_get_partkeydef(c.oid) END AS partkey,
                CASE WHEN c.relispartition THEN pg_catalog.pg_get_expr(c.relpartbound, c.oid) END AS partbound,
                CASE WHEN c.relkind IN ('v', 'm') THEN pg_catalog.pg_get_viewdef(c.oid) END AS viewdef,
                pg_catalog.pg_get_userbyid(c.relowner) AS owner,
                ds.description AS comment,
                {grants} AS grants
         FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
         {comments}
         WHERE {USER_NS} AND {ext} AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')",
        comments = comment_join("pg_class", "c.oid", "0"),
        grants = grants_expr("c.relacl", "r", "c.relowner"),
        ext = not_ext_member("pg_class", "c.oid"),
    );
    let mut rels: HashMap<i64, QName> = HashMap::new();
    let rows = sqlx::query(&sql).fetch_all(&mut *conn).await?;
    for row in &rows {
        let oid: i64 = row.try_get("oid")?;
        let name = qname(row)?;
        let kind: String = row.try_get("relkind")?;
        let extras = extras(row)?;
        match kind.as_str() {
            "r" | "p" => {
                m.tables.insert(
                    name.clone(),
                    Table {
                        columns: Vec::new(),
                        constraints: BTreeMap::new(),
                        indexes: BTreeMap::new(),
                        triggers: BTreeMap::new(),
                        policies: BTreeMap::new(),
                        unlogged: row.try_get::<String, _>("persistence")? == "u",
                        reloptions: row.try_get("reloptions")?,
                        row_security: row.try_get("relrowsecurity")?,
                        force_row_security: row.try_get("relforcerowsecurity")?,
                        partition_key: row.try_get("partkey")?,
                        partition_of: None,
                        inherits: Vec::new(),
                        extras,
                    },
                );
            }
            "v" | "m" => {
                let def: String = row
                    .try_get::<Option<String>, _>("viewdef")?
                    .unwrap_or_default();
                m.views.insert(
                    name.clone(),
                    View {
                        materialized: kind == "m",
                        definition: def.trim().trim_end_matches(';').to_string(),
                        columns: Vec::new(),
                        column_comments: BTreeMap::new(),
                        reloptions: row.try_get("reloptions")?,
                        populated: row.try_get("relispopulated")?,
                        indexes: BTreeMap::new(),
                        triggers: BTreeMap::new(),
                        extras,
                        depends: Depends::default(),
                    },
                );
            }
            _ => {}
        }
        rels.insert(oid, name);
    }
    // Partition bounds and inheritance parents.
    for row in sqlx::query(
        "SELECT i.inhrelid::int8 AS child, i.inhparent::int8 AS parent, c.relispartition,
                pg_catalog.pg_get_expr(c.relpartbound, c.oid) AS bound
         FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
         WHERE c.relkind IN ('r', 'p') ORDER BY i.inhrelid, i.inhseqno",
    )
    .fetch_all(&mut *conn)
    .await?
    {
        let (Some(child), Some(parent)) = (
            rels.get(&row.try_get::<i64, _>("child")?),
            rels.get(&row.try_get::<i64, _>("parent")?),
        ) else {
            continue;
        };
        let Some(table) = m.tables.get_mut(child) else {
            continue;
        };
        if row.try_get::<bool, _>("relispartition")? {
            table.partition_of = Some((
                parent.clone(),
                row.try_get::<Option<String>, _>("bound")?
                    .unwrap_or_default(),
            ));
        } else {
            table.inherits.push(parent.clone());
        }
    }
    Ok(rels)
}

/// Columns of tables and views.
pub(super) async fn columns(
    conn: &mut PgConnection,
    m: &mut Model,
    rels: &Rels,
) -> Result<(), SchemaError> {
    let sql = format!(
        "SELECT a.attrelid::int8 AS rel, a.attname::text AS name,
                pg_catalog.format_type(a.atttypid, a.atttypmod) AS data_type,
                CASE WHEN t.typtype = 'e' THEN tn.nspname::text END AS enum_schema,
                CASE WHEN t.typtype = 'e' THEN t.typname::text END AS enum_name,
                a.attnotnull, a.attislocal,
                CASE WHEN a.attgenerated = '' THEN pg_catalog.pg_get_expr(d.adbin, d.adrelid) END AS def,
                CASE WHEN a.attgenerated <> '' THEN pg_catalog.pg_get_expr(d.adbin, d.adrelid) END AS generated,
                nullif(a.attidentity::text, '') AS identity,
                CASE WHEN a.attcollation <> t.typcollation AND a.attcollation <> 0 THEN
                  (SELECT pg_catalog.quote_ident(cn.nspname) || '.' || pg_catalog.quote_ident(co.collname)
                   FROM pg_catalog.pg_collation co JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace
                   WHERE co.oid = a.attcollation) END AS collation,
                ds.description AS comment,
                CASE WHEN a.attacl IS NULL THEN '{{}}'::text[] ELSE {grants} END AS grants
         FROM pg_catalog.pg_attribute a
         JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
         JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
         JOIN pg_catalog.pg_namespace tn ON tn.oid = t.typnamespace
         LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
         {comments}
         WHERE {USER_NS} AND c.relkind IN ('r', 'p', 'v', 'm') AND a.attnum > 0 AND NOT a.attisdropped
         ORDER BY a.attrelid, a.attnum",
        grants = grants_expr("a.attacl", "c", "c.relowner"),
        comments = comment_join("pg_class", "a.attrelid", "a.attnum"),
    );
    for row in sqlx::query(&sql).fetch_all(&mut *conn).await? {
        let Some(rel) = rels.get(&row.try_get::<i64, _>("rel")?) else {
            continue;
        };
        let name: String = row.try_get("name")?;
        let data_type: String = row.try_get("data_type")?;
        let comment: Option<String> = row.try_get("comment")?;
        if let Some(table) = m.tables.get_mut(rel) {
            table.columns.push(Column {
                name,
                data_type,
                enum_type: match (
                    row.try_get::<Option<String>, _>("enum_schema")?,
                    row.try_get::<Option<String>, _>("enum_name")?,
                ) {
                    (Some(s), Some(n)) => Some(QName::new(s, n)),
                    _ => None,
                },
                not_null: row.try_get("attnotnull")?,
                default: row.try_get("def")?,
                identity: row.try_get("identity")?,
                generated: row.try_get("generated")?,
                collation: row.try_get("collation")?,
                comment,
                grants: parse_grants(row.try_get("grants")?),
                local: row.try_get("attislocal")?,
            });
        } else if let Some(view) = m.views.get_mut(rel) {
            if let Some(c) = comment {
                view.column_comments.insert(name.clone(), c);
            }
            view.columns.push((name, data_type));
        }
    }
    Ok(())
}

//! The settings of tables and views the model does not carry (replica identity, access method,
//! tablespace, `OF type`, clustering index, column storage, compression, statistics target and
//! options, view column defaults), as one `relation settings` object per relation that has any.
//!
//! Two flat catalog queries, one over relations and one over columns, assembled here: a query
//! per relation with correlated subqueries took a third of a second on 500 tables.

use std::collections::BTreeMap;

use sqlx::{PgConnection, Row};

use super::Unmodelled;
use crate::catalog::{not_ext_member, USER_NS};
use crate::SchemaError;

const KIND: &str = "relation settings";

/// Reads the relations with a non-default setting, keyed by oid order; `server_version` picks
/// the columns that exist (`attcompression` from PostgreSQL 14).
pub(super) async fn read(
    conn: &mut PgConnection,
    server_version: i32,
) -> Result<Vec<Unmodelled>, SchemaError> {
    let ext = not_ext_member("pg_class", "c.oid");
    let relations = format!(
        "SELECT c.oid::int8 AS oid, n.nspname::text AS schema, c.relname::text AS name,
                concat_ws(E'\\n',
                  CASE WHEN c.relkind IN ('r', 'p') AND c.relreplident <> 'd'
                       THEN 'replica identity: ' || c.relreplident::text || coalesce(' ' || ix.replident, '') END,
                  'access method: ' || am.amname,
                  'tablespace: ' || ts.spcname,
                  'of type: ' || CASE WHEN c.reloftype <> 0 THEN pg_catalog.format_type(c.reloftype, NULL) END,
                  'clustered on: ' || ix.clustered) AS definition
         FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
         LEFT JOIN pg_catalog.pg_am am ON am.oid = c.relam AND am.amname <> 'heap'
         LEFT JOIN pg_catalog.pg_tablespace ts ON ts.oid = c.reltablespace
         LEFT JOIN (SELECT i.indrelid,
                           max(ic.relname::text) FILTER (WHERE i.indisreplident) AS replident,
                           max(ic.relname::text) FILTER (WHERE i.indisclustered) AS clustered
                    FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
                    WHERE i.indisreplident OR i.indisclustered GROUP BY i.indrelid) ix ON ix.indrelid = c.oid
         WHERE c.relkind IN ('r', 'p', 'v', 'm') AND {USER_NS} AND {ext}
           AND ((c.relkind IN ('r', 'p') AND c.relreplident <> 'd') OR am.amname IS NOT NULL
                OR ts.spcname IS NOT NULL OR c.reloftype <> 0 OR ix.clustered IS NOT NULL)"
    );
    let compression = if server_version >= 140000 {
        "NULLIF(a.attcompression::text, '')"
    } else {
        "NULL::text"
    };
    // `attstattarget` is -1 for "default" before PostgreSQL 17 and NULL from 17 on.
    let columns = format!(
        "SELECT c.oid::int8 AS oid, n.nspname::text AS schema, c.relname::text AS name,
                'column ' || a.attname || ': ' || concat_ws(', ',
                  CASE WHEN a.attstorage <> t.typstorage THEN 'storage ' || a.attstorage::text END,
                  'compression ' || {compression},
                  'statistics ' || NULLIF(a.attstattarget::text, '-1'),
                  'options ' || pg_catalog.array_to_string(a.attoptions, ', '),
                  CASE WHEN c.relkind = 'v' THEN 'default ' || pg_catalog.pg_get_expr(d.adbin, d.adrelid) END) AS line
         FROM pg_catalog.pg_attribute a
         JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
         JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
         LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum AND c.relkind = 'v'
         WHERE c.relkind IN ('r', 'p', 'v', 'm') AND a.attnum > 0 AND NOT a.attisdropped
           AND {USER_NS} AND {ext}
           AND (a.attstorage <> t.typstorage OR {compression} IS NOT NULL
                OR NULLIF(a.attstattarget::text, '-1') IS NOT NULL OR a.attoptions IS NOT NULL
                OR d.adbin IS NOT NULL)
         ORDER BY c.oid, a.attnum"
    );
    // oid -> (schema, identity, lines): relation-level lines first, then columns in column order.
    let mut found: BTreeMap<i64, (String, String, Vec<String>)> = BTreeMap::new();
    for (sql, field) in [(relations, "definition"), (columns, "line")] {
        for row in sqlx::query(&sql).fetch_all(&mut *conn).await? {
            let schema: String = row.try_get("schema")?;
            let identity = format!("{schema}.{}", row.try_get::<String, _>("name")?);
            let entry = found
                .entry(row.try_get("oid")?)
                .or_insert_with(|| (schema, identity, Vec::new()));
            entry.2.push(row.try_get(field)?);
        }
    }
    Ok(found
        .into_values()
        .map(|(schema, identity, lines)| Unmodelled {
            kind: KIND.into(),
            schema: Some(schema),
            identity,
            definition: lines.join("\n"),
            owner: None,
        })
        .collect())
}

//! Reader of sequences.

use sqlx::{PgConnection, Row};

use super::{extras, grants_expr, not_ext_member, qname, Rels, USER_NS};
use crate::model::*;
use crate::SchemaError;

/// Sequences (identity sequences belong to their column and are not listed).
pub(super) async fn sequences(
    conn: &mut PgConnection,
    m: &mut Model,
    rels: &Rels,
) -> Result<(), SchemaError> {
    let sql = format!(
        "SELECT c.oid::int8 AS oid, n.nspname, c.relname, pg_catalog.format_type(s.seqtypid, NULL) AS data_type,
                s.seqstart, s.seqincrement, s.seqmin, s.seqmax, s.seqcache, s.seqcycle,
                (SELECT d.refobjid::int8 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_class'::regclass
                   AND d.objid = c.oid AND d.refclassid = 'pg_class'::regclass AND d.deptype = 'a' AND d.refobjsubid > 0) AS owner_rel,
                (SELECT a.attname::text FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_attribute a
                   ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
                   WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                   AND d.refclassid = 'pg_class'::regclass AND d.deptype = 'a' AND d.refobjsubid > 0) AS owner_col,
                pg_catalog.pg_get_userbyid(c.relowner) AS owner,
                pg_catalog.obj_description(c.oid, 'pg_class') AS comment,
                {grants} AS grants
         FROM pg_catalog.pg_sequence s JOIN pg_catalog.pg_class c ON c.oid = s.seqrelid
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
         WHERE {USER_NS} AND {ext}
           AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_class'::regclass
                           AND d.objid = c.oid AND d.deptype = 'i')",
        grants = grants_expr("c.relacl", "s", "c.relowner"),
        ext = not_ext_member("pg_class", "c.oid"),
    );
    for row in sqlx::query(&sql).fetch_all(&mut *conn).await? {
        let owner_rel: Option<i64> = row.try_get("owner_rel")?;
        let owner_col: Option<String> = row.try_get("owner_col")?;
        let owned_by = match (owner_rel.and_then(|o| rels.get(&o)), owner_col) {
            (Some(t), Some(c)) => Some((t.clone(), c)),
            _ => None,
        };
        m.sequences.insert(
            qname(&row)?,
            Sequence {
                data_type: row.try_get("data_type")?,
                start: row.try_get("seqstart")?,
                increment: row.try_get("seqincrement")?,
                min: row.try_get("seqmin")?,
                max: row.try_get("seqmax")?,
                cache: row.try_get("seqcache")?,
                cycle: row.try_get("seqcycle")?,
                owned_by,
                extras: extras(&row)?,
            },
        );
    }
    Ok(())
}

//! Reader of what each view's query reads (its rewrite rule's pg_depend rows).

use sqlx::{PgConnection, Row};

use super::{Procs, Rels};
use crate::model::*;
use crate::SchemaError;

/// What each view's query reads, through its rewrite rule.
pub(super) async fn depends(
    conn: &mut PgConnection,
    m: &mut Model,
    rels: &Rels,
    procs: &Procs,
) -> Result<(), SchemaError> {
    for row in sqlx::query(
        "SELECT DISTINCT r.ev_class::int8 AS view, d.refclassid::regclass::text AS refclass,
                d.refobjid::int8 AS ref, d.refobjsubid AS sub,
                CASE WHEN d.refclassid = 'pg_class'::regclass AND d.refobjsubid > 0 THEN
                  (SELECT a.attname::text FROM pg_catalog.pg_attribute a
                   WHERE a.attrelid = d.refobjid AND a.attnum = d.refobjsubid) END AS column_name,
                CASE WHEN d.refclassid = 'pg_type'::regclass THEN
                  (SELECT ROW(tn.nspname, t.typname)::text FROM pg_catalog.pg_type t
                   JOIN pg_catalog.pg_namespace tn ON tn.oid = t.typnamespace WHERE t.oid = d.refobjid) END AS type_name
         FROM pg_catalog.pg_rewrite r
         JOIN pg_catalog.pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
         WHERE d.refobjid <> r.ev_class AND d.deptype = 'n'",
    )
    .fetch_all(&mut *conn)
    .await?
    {
        let Some(view_name) = rels.get(&row.try_get::<i64, _>("view")?) else { continue };
        let Some(view) = m.views.get_mut(view_name) else { continue };
        let refclass: String = row.try_get("refclass")?;
        let r: i64 = row.try_get("ref")?;
        match refclass.as_str() {
            "pg_class" => {
                if let Some(rel) = rels.get(&r) {
                    match row.try_get::<Option<String>, _>("column_name")? {
                        Some(col) => {
                            view.depends.columns.insert((rel.clone(), col));
                        }
                        None => {
                            view.depends.relations.insert(rel.clone());
                        }
                    }
                    view.depends.relations.insert(rel.clone());
                }
            }
            "pg_proc" => {
                if let Some(f) = procs.get(&r) {
                    view.depends.functions.insert(f.clone());
                }
            }
            "pg_type" => {
                if let Some(t) = row.try_get::<Option<String>, _>("type_name")? {
                    if let Some((schema, name)) = parse_row_pair(&t) {
                        view.depends.types.insert(QName::new(schema, name));
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// Parses the text of `ROW(a, b)`, e.g. `(public,shipping_status)` or `(public,"a b")`.
fn parse_row_pair(text: &str) -> Option<(String, String)> {
    let inner = text.strip_prefix('(')?.strip_suffix(')')?;
    let mut fields = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = inner.chars().peekable();
    while let Some(ch) = chars.next() {
        match ch {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(std::mem::take(&mut cur)),
            _ => cur.push(ch),
        }
    }
    fields.push(cur);
    match fields.as_slice() {
        [a, b] => Some((a.clone(), b.clone())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn row_pairs_parse_with_and_without_quotes() {
        assert_eq!(
            super::parse_row_pair("(public,e)"),
            Some(("public".into(), "e".into()))
        );
        assert_eq!(
            super::parse_row_pair("(public,\"a,\"\"b\")"),
            Some(("public".into(), "a,\"b".into()))
        );
    }
}

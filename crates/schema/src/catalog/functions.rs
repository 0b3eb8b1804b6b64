//! Reader of functions and procedures.

use std::collections::HashMap;

use sqlx::{PgConnection, Row};

use super::{extras, grants_expr, not_ext_member, qname, Procs, Rels, USER_NS};
use crate::model::*;
use crate::SchemaError;

/// Functions and procedures; aggregates and window functions are read by `kinds`; returns oid -> name.
pub(super) async fn functions(
    conn: &mut PgConnection,
    m: &mut Model,
    rels: &Rels,
) -> Result<Procs, SchemaError> {
    let sql = format!(
        "SELECT p.oid::int8 AS oid, n.nspname, p.proname::text AS relname, p.prokind::text AS kind,
                pg_catalog.pg_get_function_identity_arguments(p.oid) AS args,
                CASE WHEN p.prokind IN ('f', 'p') THEN pg_catalog.pg_get_functiondef(p.oid) END AS def,
                pg_catalog.pg_get_function_result(p.oid) AS result,
                pg_catalog.oidvectortypes(p.proargtypes) AS arg_types,
                (SELECT coalesce(string_agg(coalesce(p.proargnames[i], '') || ' '
                          || pg_catalog.format_type(p.proallargtypes[i], NULL), ', ' ORDER BY i), '')
                   FROM pg_catalog.generate_subscripts(p.proargmodes, 1) AS i
                   WHERE p.proargmodes[i] IN ('o', 'b', 't')) AS out_params,
                p.pronargdefaults::int4 AS defaults,
                (SELECT coalesce(array_agg(DISTINCT t.typrelid::int8), '{{}}') FROM pg_catalog.pg_depend d
                   JOIN pg_catalog.pg_type t ON t.oid = d.refobjid
                   WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid
                     AND d.refclassid = 'pg_type'::regclass AND t.typrelid <> 0) AS rowtypes,
                pg_catalog.pg_get_userbyid(p.proowner) AS owner,
                pg_catalog.obj_description(p.oid, 'pg_proc') AS comment,
                {grants} AS grants
         FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
         WHERE {USER_NS} AND {ext}
           -- not the constructors a range type makes for itself (they go with the type)
           AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend x WHERE x.classid = 'pg_proc'::regclass
                           AND x.objid = p.oid AND x.deptype = 'i')",
        grants = grants_expr("p.proacl", "f", "p.proowner"),
        ext = not_ext_member("pg_proc", "p.oid"),
    );
    let mut procs: HashMap<i64, FnName> = HashMap::new();
    for row in sqlx::query(&sql).fetch_all(&mut *conn).await? {
        let key = FnName {
            name: qname(&row)?,
            args: row.try_get("args")?,
        };
        let kind: String = row.try_get("kind")?;
        procs.insert(row.try_get("oid")?, key.clone());
        if kind == "a" || kind == "w" {
            // Aggregates and window functions: `unmodelled`.
            continue;
        }
        let rowtypes: Vec<i64> = row.try_get("rowtypes")?;
        m.functions.insert(
            key,
            Function {
                definition: row
                    .try_get::<Option<String>, _>("def")?
                    .unwrap_or_default()
                    .trim_end()
                    .to_string(),
                result: row
                    .try_get::<Option<String>, _>("result")?
                    .unwrap_or_default(),
                procedure: kind == "p",
                arg_types: row.try_get("arg_types")?,
                out_params: row.try_get("out_params")?,
                defaults: row.try_get("defaults")?,
                extras: extras(&row)?,
                uses_relations: rowtypes
                    .iter()
                    .filter_map(|o| rels.get(o).cloned())
                    .collect(),
            },
        );
    }
    Ok(procs)
}

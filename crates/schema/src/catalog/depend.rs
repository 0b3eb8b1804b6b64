//! Reader of what each object needs, from pg_depend: the edges the planner orders statements by.
//!
//! Only user objects (oid 16384 and up) and normal or automatic dependencies: internal ones tie
//! an object to itself (a row type to its table, an array to its element), and objects of the
//! system catalogs always exist. A sequence's automatic dependency on the column that owns it is
//! left out: it is `OWNED BY`, set after both exist, not something the sequence needs to be made.

use std::collections::HashMap;

use sqlx::{PgConnection, Row};

use super::Procs;
use crate::model::QName;
use crate::objects::{Needs, ObjKey};
use crate::SchemaError;

/// Every user object pg_depend can name, as (catalog, oid, sub-id) → kind and names. A
/// constraint's index stands for the constraint, an array type for its element, a relation's row
/// type for the relation, a view's rewrite rule for the view, a composite type's columns for it.
const OBJECTS: &str = "
  SELECT 'pg_class'::regclass::oid AS classid, c.oid AS objid, 0 AS subid,
         CASE WHEN con.oid IS NOT NULL THEN 'constraint' WHEN c.relkind = 'S' THEN 'sequence'
              WHEN c.relkind IN ('i', 'I') THEN 'index' WHEN c.relkind = 'c' THEN 'type'
              ELSE 'relation' END AS kind,
         coalesce(tn.nspname, n.nspname)::text AS schema, coalesce(tc.relname, c.relname)::text AS name,
         con.conname::text AS part, 0::int8 AS fn
  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_catalog.pg_index i ON i.indexrelid = c.oid
  LEFT JOIN pg_catalog.pg_constraint con
    ON con.conindid = c.oid AND con.conrelid = i.indrelid AND con.contype IN ('p', 'u', 'x')
  LEFT JOIN pg_catalog.pg_class tc ON tc.oid = con.conrelid
  LEFT JOIN pg_catalog.pg_namespace tn ON tn.oid = tc.relnamespace
  WHERE c.oid >= 16384 AND c.relkind IN ('r', 'p', 'f', 'v', 'm', 'S', 'i', 'I', 'c')
UNION ALL
  SELECT 'pg_class'::regclass::oid, c.oid, a.attnum, CASE WHEN c.relkind = 'c' THEN 'type' ELSE 'column' END,
         n.nspname::text, c.relname::text, CASE WHEN c.relkind <> 'c' THEN a.attname::text END, 0
  FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  WHERE c.oid >= 16384 AND a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'f', 'v', 'm', 'c')
UNION ALL
  SELECT 'pg_type'::regclass::oid, t.oid, 0,
         CASE WHEN e.typrelid <> 0 AND r.relkind <> 'c' THEN 'relation' ELSE 'type' END,
         en.nspname::text, coalesce(r.relname, e.typname)::text, NULL, 0
  FROM pg_catalog.pg_type t
  JOIN pg_catalog.pg_type e
    ON e.oid = CASE WHEN t.typcategory = 'A' AND t.typelem <> 0 THEN t.typelem ELSE t.oid END
  JOIN pg_catalog.pg_namespace en ON en.oid = e.typnamespace
  LEFT JOIN pg_catalog.pg_class r ON r.oid = e.typrelid
  WHERE t.oid >= 16384
UNION ALL
  SELECT 'pg_proc'::regclass::oid, p.oid, 0, 'function', NULL, NULL, NULL, p.oid::int8
  FROM pg_catalog.pg_proc p WHERE p.oid >= 16384
UNION ALL
  SELECT 'pg_attrdef'::regclass::oid, d.oid, 0, 'default', n.nspname::text, c.relname::text, a.attname::text, 0
  FROM pg_catalog.pg_attrdef d JOIN pg_catalog.pg_class c ON c.oid = d.adrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_catalog.pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
UNION ALL
  SELECT 'pg_constraint'::regclass::oid, con.oid, 0, 'constraint', n.nspname::text,
         coalesce(c.relname, t.typname)::text, con.conname::text, 0
  FROM pg_catalog.pg_constraint con JOIN pg_catalog.pg_namespace n ON n.oid = con.connamespace
  LEFT JOIN pg_catalog.pg_class c ON c.oid = con.conrelid
  LEFT JOIN pg_catalog.pg_type t ON t.oid = con.contypid
  WHERE con.oid >= 16384
UNION ALL
  SELECT 'pg_trigger'::regclass::oid, tg.oid, 0, 'trigger', n.nspname::text, c.relname::text, tg.tgname::text, 0
  FROM pg_catalog.pg_trigger tg JOIN pg_catalog.pg_class c ON c.oid = tg.tgrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  WHERE NOT tg.tgisinternal
UNION ALL
  SELECT 'pg_rewrite'::regclass::oid, rw.oid, 0, 'relation', n.nspname::text, c.relname::text, NULL, 0
  FROM pg_catalog.pg_rewrite rw JOIN pg_catalog.pg_class c ON c.oid = rw.ev_class
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  WHERE rw.rulename = '_RETURN'
UNION ALL
  SELECT 'pg_namespace'::regclass::oid, n.oid, 0, 'schema', NULL, n.nspname::text, NULL, 0
  FROM pg_catalog.pg_namespace n WHERE n.oid >= 16384
UNION ALL
  SELECT 'pg_extension'::regclass::oid, x.oid, 0, 'extension', NULL, x.extname::text, NULL, 0
  FROM pg_catalog.pg_extension x
UNION ALL
  SELECT 'pg_collation'::regclass::oid, co.oid, 0, 'collation', n.nspname::text, co.collname::text, NULL, 0
  FROM pg_catalog.pg_collation co JOIN pg_catalog.pg_namespace n ON n.oid = co.collnamespace
  WHERE co.oid >= 16384
UNION ALL
  SELECT 'pg_policy'::regclass::oid, po.oid, 0, 'policy', n.nspname::text, c.relname::text, po.polname::text, 0
  FROM pg_catalog.pg_policy po JOIN pg_catalog.pg_class c ON c.oid = po.polrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
UNION ALL
  SELECT 'pg_statistic_ext'::regclass::oid, s.oid, 0, 'statistics', n.nspname::text, s.stxname::text, NULL, 0
  FROM pg_catalog.pg_statistic_ext s JOIN pg_catalog.pg_namespace n ON n.oid = s.stxnamespace";

/// What each user object needs, by name. The objects and the dependencies are read apart and
/// joined here: joining them in SQL cost the server more than both reads together.
pub(super) async fn needs(conn: &mut PgConnection, procs: &Procs) -> Result<Needs, SchemaError> {
    let mut keys: HashMap<(i64, i64, i32), ObjKey> = HashMap::new();
    for row in sqlx::query(&format!(
        "SELECT classid::int8 AS classid, objid::int8 AS objid, subid::int4 AS subid, kind, schema, name, part, fn
         FROM ({OBJECTS}) o"
    ))
    .fetch_all(&mut *conn)
    .await?
    {
        let k = key(
            row.try_get("kind")?,
            row.try_get("schema")?,
            row.try_get("name")?,
            row.try_get("part")?,
            row.try_get("fn")?,
            procs,
        );
        if let Some(k) = k {
            keys.insert(
                (row.try_get("classid")?, row.try_get("objid")?, row.try_get("subid")?),
                k,
            );
        }
    }
    let mut out = Needs::new();
    for row in sqlx::query(
        "SELECT classid::int8 AS classid, objid::int8 AS objid, objsubid AS subid,
                refclassid::int8 AS refclassid, refobjid::int8 AS refobjid, refobjsubid AS refsubid
         FROM pg_catalog.pg_depend
         WHERE deptype IN ('n', 'a') AND objid >= 16384 AND refobjid >= 16384",
    )
    .fetch_all(&mut *conn)
    .await?
    {
        let object = keys.get(&(
            row.try_get("classid")?,
            row.try_get("objid")?,
            row.try_get("subid")?,
        ));
        let needed = keys.get(&(
            row.try_get("refclassid")?,
            row.try_get("refobjid")?,
            row.try_get("refsubid")?,
        ));
        let (Some(object), Some(needed)) = (object, needed) else {
            continue;
        };
        if object == needed || matches!((object, needed), (ObjKey::Sequence(_), ObjKey::Column(..)))
        {
            continue;
        }
        out.entry(object.clone())
            .or_default()
            .insert(needed.clone());
    }
    Ok(out)
}

fn key(
    kind: String,
    schema: Option<String>,
    name: Option<String>,
    part: Option<String>,
    fn_oid: i64,
    procs: &Procs,
) -> Option<ObjKey> {
    let q = || Some(QName::new(schema.clone()?, name.clone()?));
    Some(match (kind.as_str(), part) {
        ("function", _) => ObjKey::Function(procs.get(&fn_oid)?.clone()),
        ("schema", _) => ObjKey::Schema(name?),
        ("extension", _) => ObjKey::Extension(name?),
        ("collation", _) => ObjKey::Collation(q()?),
        ("type", _) => ObjKey::Type(q()?),
        ("relation", _) => ObjKey::Relation(q()?),
        ("sequence", _) => ObjKey::Sequence(q()?),
        ("index", _) => ObjKey::Index(q()?),
        ("statistics", _) => ObjKey::Statistics(q()?),
        ("column", Some(c)) => ObjKey::Column(q()?, c),
        ("default", Some(c)) => ObjKey::Default(q()?, c),
        ("constraint", Some(c)) => ObjKey::Constraint(q()?, c),
        ("trigger", Some(n)) => ObjKey::Trigger(q()?, n),
        ("policy", Some(n)) => ObjKey::Policy(q()?, n),
        _ => return None,
    })
}

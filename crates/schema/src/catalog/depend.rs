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

/// Every user object pg_depend can name, as (catalog, oid, sub-id). Objects with a name of their
/// own carry it; parts (columns, defaults, constraints, triggers, policies) carry their own name
/// and their owner's (catalog, oid, sub-id), resolved in `needs` without joining names again.
/// `as_owner` objects are their owner: a relation's row type, a view's rewrite rule, a composite
/// type's columns. A constraint's index stands for the constraint, an array type for its element.
const OBJECTS: &str = "
  SELECT 'pg_class'::regclass::oid AS classid, c.oid AS objid, 0 AS subid,
         CASE WHEN con.oid IS NOT NULL THEN 'constraint' WHEN c.relkind = 'S' THEN 'sequence'
              WHEN c.relkind IN ('i', 'I') THEN 'index' WHEN c.relkind = 'c' THEN 'type'
              ELSE 'relation' END AS kind,
         n.nspname::text AS schema, c.relname::text AS name, con.conname::text AS part, 0::int8 AS fn,
         'pg_class'::regclass::oid AS oclass, coalesce(con.conrelid, 0::oid) AS owner, 0 AS osub
  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_catalog.pg_index i ON i.indexrelid = c.oid
  LEFT JOIN pg_catalog.pg_constraint con
    ON con.conindid = c.oid AND con.conrelid = i.indrelid AND con.contype IN ('p', 'u', 'x')
  WHERE c.oid >= 16384 AND c.relkind IN ('r', 'p', 'f', 'v', 'm', 'S', 'i', 'I', 'c')
UNION ALL
  SELECT 'pg_class'::regclass::oid, a.attrelid, a.attnum,
         CASE WHEN c.relkind = 'c' THEN 'as_owner' ELSE 'column' END, NULL, NULL, a.attname::text, 0,
         'pg_class'::regclass::oid, a.attrelid, 0
  FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
  WHERE a.attrelid >= 16384 AND a.attnum > 0 AND NOT a.attisdropped
    AND c.relkind IN ('r', 'p', 'f', 'v', 'm', 'c')
UNION ALL
  SELECT 'pg_type'::regclass::oid, t.oid, 0, CASE WHEN e.typrelid <> 0 THEN 'as_owner' ELSE 'type' END,
         en.nspname::text, e.typname::text, NULL, 0, 'pg_class'::regclass::oid, e.typrelid, 0
  FROM pg_catalog.pg_type t
  JOIN pg_catalog.pg_type e
    ON e.oid = CASE WHEN t.typcategory = 'A' AND t.typelem <> 0 THEN t.typelem ELSE t.oid END
  JOIN pg_catalog.pg_namespace en ON en.oid = e.typnamespace
  WHERE t.oid >= 16384
UNION ALL
  SELECT 'pg_proc'::regclass::oid, p.oid, 0, 'function', NULL, NULL, NULL, p.oid::int8, 0, 0, 0
  FROM pg_catalog.pg_proc p WHERE p.oid >= 16384
UNION ALL
  SELECT 'pg_attrdef'::regclass::oid, d.oid, 0, 'default', NULL, NULL, NULL, 0,
         'pg_class'::regclass::oid, d.adrelid, d.adnum
  FROM pg_catalog.pg_attrdef d WHERE d.oid >= 16384
UNION ALL
  SELECT 'pg_constraint'::regclass::oid, con.oid, 0, 'constraint', NULL, NULL, con.conname::text, 0,
         CASE WHEN con.conrelid <> 0 THEN 'pg_class'::regclass ELSE 'pg_type'::regclass END::oid,
         CASE WHEN con.conrelid <> 0 THEN con.conrelid ELSE con.contypid END, 0
  FROM pg_catalog.pg_constraint con WHERE con.oid >= 16384
UNION ALL
  SELECT 'pg_trigger'::regclass::oid, tg.oid, 0, 'trigger', NULL, NULL, tg.tgname::text, 0,
         'pg_class'::regclass::oid, tg.tgrelid, 0
  FROM pg_catalog.pg_trigger tg WHERE tg.oid >= 16384 AND NOT tg.tgisinternal
UNION ALL
  SELECT 'pg_rewrite'::regclass::oid, rw.oid, 0, 'as_owner', NULL, NULL, NULL, 0,
         'pg_class'::regclass::oid, rw.ev_class, 0
  FROM pg_catalog.pg_rewrite rw WHERE rw.oid >= 16384 AND rw.rulename = '_RETURN'
UNION ALL
  SELECT 'pg_policy'::regclass::oid, po.oid, 0, 'policy', NULL, NULL, po.polname::text, 0,
         'pg_class'::regclass::oid, po.polrelid, 0
  FROM pg_catalog.pg_policy po
UNION ALL
  SELECT 'pg_namespace'::regclass::oid, n.oid, 0, 'schema', NULL, n.nspname::text, NULL, 0, 0, 0, 0
  FROM pg_catalog.pg_namespace n WHERE n.oid >= 16384
UNION ALL
  SELECT 'pg_extension'::regclass::oid, x.oid, 0, 'extension', NULL, x.extname::text, NULL, 0, 0, 0, 0
  FROM pg_catalog.pg_extension x
UNION ALL
  SELECT 'pg_collation'::regclass::oid, co.oid, 0, 'collation', n.nspname::text, co.collname::text,
         NULL, 0, 0, 0, 0
  FROM pg_catalog.pg_collation co JOIN pg_catalog.pg_namespace n ON n.oid = co.collnamespace
  WHERE co.oid >= 16384
UNION ALL
  SELECT 'pg_statistic_ext'::regclass::oid, s.oid, 0, 'statistics', n.nspname::text, s.stxname::text,
         NULL, 0, 0, 0, 0
  FROM pg_catalog.pg_statistic_ext s JOIN pg_catalog.pg_namespace n ON n.oid = s.stxnamespace";

/// (catalog, oid, sub-id) of a pg_depend side.
type At = (i64, i64, i32);

/// A part waiting for its owner's key.
struct Part {
    at: At,
    kind: String,
    part: Option<String>,
    owner: At,
}

/// What each user object needs, by name. The objects and the dependencies are read apart and
/// joined here: joining them in SQL cost the server more than both reads together.
pub(super) async fn needs(conn: &mut PgConnection, procs: &Procs) -> Result<Needs, SchemaError> {
    let mut keys: HashMap<At, ObjKey> = HashMap::new();
    let mut parts: Vec<Part> = Vec::new();
    for row in sqlx::query(&format!(
        "SELECT classid::int8 AS classid, objid::int8 AS objid, subid::int4 AS subid, kind, schema,
                name, part, fn, oclass::int8 AS oclass, owner::int8 AS owner, osub::int4 AS osub
         FROM ({OBJECTS}) o"
    ))
    .fetch_all(&mut *conn)
    .await?
    {
        let at = (
            row.try_get("classid")?,
            row.try_get("objid")?,
            row.try_get("subid")?,
        );
        let kind: String = row.try_get("kind")?;
        let owner: At = (
            row.try_get("oclass")?,
            row.try_get("owner")?,
            row.try_get("osub")?,
        );
        if owner.1 != 0 {
            parts.push(Part {
                at,
                kind,
                part: row.try_get("part")?,
                owner,
            });
            continue;
        }
        let name: Option<String> = row.try_get("name")?;
        let q = || {
            Some(QName::new(
                row.try_get::<String, _>("schema").ok()?,
                name.clone()?,
            ))
        };
        let key = match kind.as_str() {
            "function" => procs
                .get(&row.try_get::<i64, _>("fn")?)
                .map(|f| ObjKey::Function(f.clone())),
            "schema" => name.clone().map(ObjKey::Schema),
            "extension" => name.clone().map(ObjKey::Extension),
            "collation" => q().map(ObjKey::Collation),
            "type" => q().map(ObjKey::Type),
            "relation" => q().map(ObjKey::Relation),
            "sequence" => q().map(ObjKey::Sequence),
            "index" => q().map(ObjKey::Index),
            "statistics" => q().map(ObjKey::Statistics),
            _ => None,
        };
        if let Some(key) = key {
            keys.insert(at, key);
        }
    }
    // Defaults last: their owners are columns, themselves parts.
    parts.sort_by_key(|p| p.kind == "default");
    for p in parts {
        let Some(owner) = keys.get(&p.owner) else {
            continue;
        };
        let key = match (p.kind.as_str(), owner, p.part) {
            ("as_owner", _, _) => owner.clone(),
            ("default", ObjKey::Column(t, c), _) => ObjKey::Default(t.clone(), c.clone()),
            (_, ObjKey::Relation(q) | ObjKey::Type(q), Some(part)) => match p.kind.as_str() {
                "column" => ObjKey::Column(q.clone(), part),
                "constraint" => ObjKey::Constraint(q.clone(), part),
                "trigger" => ObjKey::Trigger(q.clone(), part),
                "policy" => ObjKey::Policy(q.clone(), part),
                _ => continue,
            },
            _ => continue,
        };
        keys.insert(p.at, key);
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

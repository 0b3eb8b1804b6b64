//! Composite and range types: readers, typed diffs, generators.
//!
//! A composite type gains, loses and retypes attributes in place (`ALTER TYPE … ADD / DROP / ALTER
//! ATTRIBUTE`); PostgreSQL cannot reorder attributes, so a target that does is a blocker. A range
//! type cannot be altered at all: a changed one is a blocker. Both are created with the types
//! (a range whose subtype_diff or canonical function is the user's waits for the functions), and
//! dropped after what uses them.

use std::collections::BTreeMap;

use serde::Serialize;
use sqlx::{PgConnection, Row};

use super::Generated;
use crate::catalog::{grants_expr, not_ext_member, USER_NS};
use crate::diff::{extras_details, field, CompareOptions, Difference, Presence};
use crate::model::{ident, Extras, Grant, Model, QName};
use crate::objects::ObjKey;
use crate::plan::{step, Phase};
use crate::SchemaError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attribute {
    pub name: String,
    /// The type, with `COLLATE …` when the collation is not the type's.
    pub data_type: String,
    pub comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Composite {
    pub attributes: Vec<Attribute>,
    pub extras: Extras,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Range {
    /// The options of `CREATE TYPE … AS RANGE (…)`.
    pub options: String,
    /// Whether a function it names is the user's (it must then wait for the functions).
    #[serde(skip)]
    pub user_functions: bool,
    pub extras: Extras,
}

fn parse_grants(raw: Vec<String>) -> std::collections::BTreeSet<Grant> {
    raw.into_iter()
        .filter_map(|g| {
            let mut p = g.splitn(3, '|');
            Some(Grant {
                grantee: p.next()?.to_string(),
                privilege: p.next()?.to_string(),
                grantable: p.next()? == "true",
            })
        })
        .collect()
}

fn collation(oid: &str) -> String {
    format!(
        "(SELECT pg_catalog.quote_ident(cn.nspname) || '.' || pg_catalog.quote_ident(co.collname) FROM pg_catalog.pg_collation co \
          JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace WHERE co.oid = {oid})"
    )
}

pub async fn read_composites(
    conn: &mut PgConnection,
) -> Result<BTreeMap<QName, Composite>, SchemaError> {
    let sql = format!(
        "SELECT n.nspname::text AS schema, t.typname::text AS name,
                (SELECT coalesce(array_agg(a.attname::text ORDER BY a.attnum), '{{}}') FROM pg_catalog.pg_attribute a
                  WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped) AS names,
                (SELECT coalesce(array_agg(pg_catalog.format_type(a.atttypid, a.atttypmod)
                    || coalesce(' COLLATE ' || CASE WHEN a.attcollation <> at.typcollation THEN {coll} END, '') ORDER BY a.attnum), '{{}}')
                   FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type at ON at.oid = a.atttypid
                  WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped) AS types,
                (SELECT coalesce(array_agg(coalesce(pg_catalog.col_description(t.typrelid, a.attnum), E'\\x01') ORDER BY a.attnum), '{{}}')
                   FROM pg_catalog.pg_attribute a WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped) AS comments,
                pg_catalog.pg_get_userbyid(t.typowner) AS owner,
                pg_catalog.obj_description(t.oid, 'pg_type') AS comment, {grants} AS grants
         FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
         JOIN pg_catalog.pg_class r ON r.oid = t.typrelid
         WHERE t.typtype = 'c' AND r.relkind = 'c' AND {USER_NS} AND {ext}",
        coll = collation("a.attcollation"),
        grants = grants_expr("t.typacl", "T", "t.typowner"),
        ext = not_ext_member("pg_type", "t.oid"),
    );
    let mut out = BTreeMap::new();
    for row in sqlx::query(&sql).fetch_all(&mut *conn).await? {
        let names: Vec<String> = row.try_get("names")?;
        let types: Vec<String> = row.try_get("types")?;
        let comments: Vec<String> = row.try_get("comments")?;
        let attributes = names
            .into_iter()
            .zip(types)
            .zip(comments)
            .map(|((name, data_type), c)| Attribute {
                name,
                data_type,
                comment: (c != "\u{1}").then_some(c),
            })
            .collect();
        out.insert(
            QName::new(
                row.try_get::<String, _>("schema")?,
                row.try_get::<String, _>("name")?,
            ),
            Composite {
                attributes,
                extras: Extras {
                    owner: row.try_get("owner")?,
                    comment: row.try_get("comment")?,
                    grants: parse_grants(row.try_get("grants")?),
                },
            },
        );
    }
    Ok(out)
}

pub async fn read_ranges(conn: &mut PgConnection) -> Result<BTreeMap<QName, Range>, SchemaError> {
    let sql = format!(
        "SELECT n.nspname::text AS schema, t.typname::text AS name,
                concat_ws(', ',
                  'SUBTYPE = ' || pg_catalog.format_type(g.rngsubtype, NULL),
                  'SUBTYPE_OPCLASS = ' || (SELECT pg_catalog.quote_ident(opn.nspname) || '.' || pg_catalog.quote_ident(o.opcname)
                      FROM pg_catalog.pg_opclass o JOIN pg_catalog.pg_namespace opn ON opn.oid = o.opcnamespace WHERE o.oid = g.rngsubopc),
                  'COLLATION = ' || {coll},
                  'CANONICAL = ' || NULLIF(g.rngcanonical::text, '-'),
                  'SUBTYPE_DIFF = ' || NULLIF(g.rngsubdiff::text, '-'),
                  'MULTIRANGE_TYPE_NAME = ' || (SELECT pg_catalog.quote_ident(mn.nspname) || '.' || pg_catalog.quote_ident(m.typname)
                      FROM pg_catalog.pg_type m JOIN pg_catalog.pg_namespace mn ON mn.oid = m.typnamespace
                     WHERE m.oid = (pg_catalog.to_jsonb(g) ->> 'rngmultitypid')::oid)) AS options,
                EXISTS (SELECT 1 FROM pg_catalog.pg_proc p WHERE p.oid IN (g.rngcanonical, g.rngsubdiff)
                          AND p.pronamespace <> 'pg_catalog'::regnamespace) AS user_functions,
                pg_catalog.pg_get_userbyid(t.typowner) AS owner,
                pg_catalog.obj_description(t.oid, 'pg_type') AS comment, {grants} AS grants
         FROM pg_catalog.pg_range g JOIN pg_catalog.pg_type t ON t.oid = g.rngtypid
         JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
         WHERE {USER_NS} AND {ext}",
        coll = collation("g.rngcollation"),
        grants = grants_expr("t.typacl", "T", "t.typowner"),
        ext = not_ext_member("pg_type", "t.oid"),
    );
    let mut out = BTreeMap::new();
    for row in sqlx::query(&sql).fetch_all(&mut *conn).await? {
        out.insert(
            QName::new(
                row.try_get::<String, _>("schema")?,
                row.try_get::<String, _>("name")?,
            ),
            Range {
                options: row.try_get("options")?,
                user_functions: row.try_get("user_functions")?,
                extras: Extras {
                    owner: row.try_get("owner")?,
                    comment: row.try_get("comment")?,
                    grants: parse_grants(row.try_get("grants")?),
                },
            },
        );
    }
    Ok(out)
}

/// How a composite type changes; `None` when it cannot change in place (attribute order).
#[derive(Debug, Default)]
pub struct CompositeDiff<'a> {
    pub dropped: Vec<&'a str>,
    pub retyped: Vec<&'a Attribute>,
    pub added: Vec<&'a Attribute>,
    pub commented: Vec<&'a Attribute>,
}

pub fn diff_composite<'a>(a: &'a Composite, b: &'a Composite) -> Option<CompositeDiff<'a>> {
    let mut d = CompositeDiff::default();
    let kept_a: Vec<&str> = a
        .attributes
        .iter()
        .map(|x| x.name.as_str())
        .filter(|n| b.attributes.iter().any(|y| y.name == *n))
        .collect();
    let kept_b: Vec<&str> = b
        .attributes
        .iter()
        .map(|x| x.name.as_str())
        .filter(|n| kept_a.contains(n))
        .collect();
    if kept_a != kept_b {
        return None;
    }
    // New attributes can only be appended.
    let last_kept = b
        .attributes
        .iter()
        .rposition(|x| kept_a.contains(&x.name.as_str()));
    for (i, x) in b.attributes.iter().enumerate() {
        match a.attributes.iter().find(|y| y.name == x.name) {
            None if last_kept.is_some_and(|k| i < k) => return None,
            None => d.added.push(x),
            Some(y) => {
                if y.data_type != x.data_type {
                    d.retyped.push(x);
                }
                if y.comment != x.comment {
                    d.commented.push(x);
                }
            }
        }
    }
    for x in &a.attributes {
        if !b.attributes.iter().any(|y| y.name == x.name) {
            d.dropped.push(&x.name);
        }
    }
    Some(d)
}

pub fn differences(from: &Model, to: &Model, opts: CompareOptions) -> Vec<Difference> {
    let mut out = Vec::new();
    let mut push = |kind: &str, name: &QName, presence, details| {
        out.push(Difference {
            kind: kind.into(),
            name: name.to_string(),
            presence,
            details,
        })
    };
    for (name, a) in &from.composites {
        let Some(b) = to.composites.get(name) else {
            push("composite type", name, Presence::OnlyInFrom, vec![]);
            continue;
        };
        let mut details = Vec::new();
        field(&mut details, "attributes", &a.attributes, &b.attributes);
        extras_details(&mut details, &a.extras, &b.extras, opts);
        if !details.is_empty() {
            push("composite type", name, Presence::Differs, details);
        }
    }
    for name in to
        .composites
        .keys()
        .filter(|n| !from.composites.contains_key(*n))
    {
        push("composite type", name, Presence::OnlyInTo, vec![]);
    }
    for (name, a) in &from.ranges {
        let Some(b) = to.ranges.get(name) else {
            push("range type", name, Presence::OnlyInFrom, vec![]);
            continue;
        };
        let mut details = Vec::new();
        field(&mut details, "options", &a.options, &b.options);
        extras_details(&mut details, &a.extras, &b.extras, opts);
        if !details.is_empty() {
            push("range type", name, Presence::Differs, details);
        }
    }
    for name in to.ranges.keys().filter(|n| !from.ranges.contains_key(*n)) {
        push("range type", name, Presence::OnlyInTo, vec![]);
    }
    out
}

fn comment_attribute(out: &mut Generated, name: &QName, x: &Attribute) {
    out.push(
        Phase::Extras,
        step(
            format!("type {name}"),
            format!("comment on attribute {}", x.name),
            crate::plan::comment_sql(
                "COLUMN",
                &format!("{}.{}", name.sql(), ident(&x.name)),
                &x.comment,
            ),
        )
        .needing(ObjKey::Type(name.clone())),
    );
}

/// Composite types in an order where one used by another comes first.
fn creation_order<'a>(types: &[(&'a QName, &'a Composite)]) -> Vec<(&'a QName, &'a Composite)> {
    let mut left: Vec<_> = types.to_vec();
    let mut out: Vec<(&QName, &Composite)> = Vec::new();
    while !left.is_empty() {
        let uses_pending = |c: &Composite, left: &[(&QName, &Composite)]| {
            c.attributes.iter().any(|x| {
                left.iter()
                    .any(|(n, _)| x.data_type.trim_end_matches("[]") == n.sql())
            })
        };
        let pos = left
            .iter()
            .position(|(_, c)| !uses_pending(c, &left))
            .unwrap_or(0);
        out.push(left.remove(pos));
    }
    out
}

pub(crate) fn steps(from: &Model, to: &Model, opts: CompareOptions, out: &mut Generated) {
    let new: Vec<(&QName, &Composite)> = to
        .composites
        .iter()
        .filter(|(n, _)| !from.composites.contains_key(*n))
        .collect();
    for (name, b) in creation_order(&new) {
        let object = format!("type {name}");
        let attrs = b
            .attributes
            .iter()
            .map(|x| format!("{} {}", ident(&x.name), x.data_type))
            .collect::<Vec<_>>()
            .join(", ");
        out.push(
            Phase::Types,
            step(
                &object,
                "create",
                format!("CREATE TYPE {} AS ({attrs});", name.sql()),
            )
            .creating(ObjKey::Type(name.clone())),
        );
        for x in b.attributes.iter().filter(|x| x.comment.is_some()) {
            comment_attribute(out, name, x);
        }
        out.extras(
            "TYPE",
            &name.sql(),
            &object,
            &ObjKey::Type(name.clone()),
            None,
            &b.extras,
            opts,
            &from.current_user,
        );
    }
    for (name, b) in &to.composites {
        let Some(a) = from.composites.get(name) else {
            continue;
        };
        let object = format!("type {name}");
        let Some(d) = diff_composite(a, b) else {
            out.blockers.push(format!(
                "composite type {name}: its attributes change order, which PostgreSQL cannot do in place; not planned"
            ));
            continue;
        };
        let mut actions = Vec::new();
        actions.extend(
            d.dropped
                .iter()
                .map(|n| format!("DROP ATTRIBUTE {}", ident(n))),
        );
        actions.extend(
            d.retyped
                .iter()
                .map(|x| format!("ALTER ATTRIBUTE {} TYPE {}", ident(&x.name), x.data_type)),
        );
        actions.extend(
            d.added
                .iter()
                .map(|x| format!("ADD ATTRIBUTE {} {}", ident(&x.name), x.data_type)),
        );
        if !actions.is_empty() {
            out.push(
                Phase::Types,
                step(
                    &object,
                    "alter attributes",
                    format!("ALTER TYPE {} {} CASCADE;", name.sql(), actions.join(", ")),
                )
                // The type in TO's shape: after the types its new attributes use (pg_depend).
                .creating(ObjKey::Type(name.clone())),
            );
        }
        for x in d
            .commented
            .iter()
            .chain(d.added.iter().filter(|x| x.comment.is_some()))
        {
            comment_attribute(out, name, x);
        }
        out.extras(
            "TYPE",
            &name.sql(),
            &object,
            &ObjKey::Type(name.clone()),
            Some(&a.extras),
            &b.extras,
            opts,
            &from.current_user,
        );
    }
    for (name, b) in &to.ranges {
        let object = format!("type {name}");
        match from.ranges.get(name) {
            None => {
                // A user's canonical or subtype_diff function exists only after the functions.
                let phase = if b.user_functions {
                    Phase::CreateSequences
                } else {
                    Phase::Types
                };
                out.push(
                    phase,
                    step(
                        &object,
                        "create",
                        format!("CREATE TYPE {} AS RANGE ({});", name.sql(), b.options),
                    )
                    .creating(ObjKey::Type(name.clone())),
                );
                out.extras(
                    "TYPE",
                    &name.sql(),
                    &object,
                    &ObjKey::Type(name.clone()),
                    None,
                    &b.extras,
                    opts,
                    &from.current_user,
                );
            }
            Some(a) if a.options != b.options => out.blockers.push(format!(
                "range type {name}: ({}) → ({}) cannot be altered in place; not planned",
                a.options, b.options
            )),
            Some(a) => out.extras(
                "TYPE",
                &name.sql(),
                &object,
                &ObjKey::Type(name.clone()),
                Some(&a.extras),
                &b.extras,
                opts,
                &from.current_user,
            ),
        }
    }
    let gone = |m: &Model, n: &QName| !m.composites.contains_key(n) && !m.ranges.contains_key(n);
    for name in from
        .composites
        .keys()
        .chain(from.ranges.keys())
        .filter(|n| gone(to, n))
    {
        out.push(
            Phase::DropLate,
            step(
                format!("type {name}"),
                "drop",
                format!("DROP TYPE {};", name.sql()),
            )
            .dropping(ObjKey::Type(name.clone())),
        );
    }
}

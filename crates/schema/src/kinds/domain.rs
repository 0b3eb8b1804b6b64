//! Domains and their constraints: reader, typed diff, generator.
//!
//! A domain is created bare with the types (before tables and functions use it), its CHECK
//! constraints are added right after the functions (a check may call one; a changed domain's new
//! checks wait until columns changed),
//! and it is dropped after the tables, columns and functions that used it. A changed base type or
//! collation cannot be altered in place; that is a blocker rather than a silent rebuild.

use std::collections::BTreeMap;

use serde::Serialize;
use sqlx::{PgConnection, Row};

use super::Generated;
use crate::catalog::{grants_expr, not_ext_member, USER_NS};
use crate::diff::{extras_details, field, show, CompareOptions, Difference, Presence};
use crate::model::{ident, Extras, Grant, Model, QName};
use crate::objects::ObjKey;
use crate::plan::{step, Phase};
use crate::SchemaError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Domain {
    /// The base type with its modifiers (`numeric(10,2)`).
    pub base_type: String,
    /// A collation other than the base type's.
    pub collation: Option<String>,
    pub not_null: bool,
    pub default: Option<String>,
    /// CHECK constraints by name.
    pub constraints: BTreeMap<String, DomainConstraint>,
    pub extras: Extras,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DomainConstraint {
    /// `pg_get_constraintdef`: `CHECK (VALUE > 0)`, with `NOT VALID` when it is.
    pub definition: String,
    pub comment: Option<String>,
}

/// Reads every domain of the user schemas that no extension owns.
pub async fn read(conn: &mut PgConnection) -> Result<BTreeMap<QName, Domain>, SchemaError> {
    let sql = format!(
        "SELECT n.nspname::text AS schema, t.typname::text AS name,
                pg_catalog.format_type(t.typbasetype, t.typtypmod) AS base_type,
                CASE WHEN t.typcollation <> (SELECT b.typcollation FROM pg_catalog.pg_type b WHERE b.oid = t.typbasetype)
                     THEN (SELECT pg_catalog.quote_ident(cn.nspname) || '.' || pg_catalog.quote_ident(co.collname) FROM pg_catalog.pg_collation co
                           JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace WHERE co.oid = t.typcollation) END AS collation,
                t.typnotnull, pg_catalog.pg_get_expr(t.typdefaultbin, 0) AS def,
                (SELECT coalesce(array_agg(c.conname::text ORDER BY c.conname), '{{}}') FROM pg_catalog.pg_constraint c
                  WHERE c.contypid = t.oid AND c.contype = 'c') AS con_names,
                (SELECT coalesce(array_agg(pg_catalog.pg_get_constraintdef(c.oid) ORDER BY c.conname), '{{}}')
                   FROM pg_catalog.pg_constraint c WHERE c.contypid = t.oid AND c.contype = 'c') AS con_defs,
                (SELECT coalesce(array_agg(coalesce(pg_catalog.obj_description(c.oid, 'pg_constraint'), '') ORDER BY c.conname), '{{}}')
                   FROM pg_catalog.pg_constraint c WHERE c.contypid = t.oid AND c.contype = 'c') AS con_comments,
                (SELECT coalesce(array_agg(pg_catalog.obj_description(c.oid, 'pg_constraint') IS NOT NULL ORDER BY c.conname), '{{}}')
                   FROM pg_catalog.pg_constraint c WHERE c.contypid = t.oid AND c.contype = 'c') AS con_has_comment,
                pg_catalog.pg_get_userbyid(t.typowner) AS owner,
                pg_catalog.obj_description(t.oid, 'pg_type') AS comment, {grants} AS grants
         FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
         WHERE t.typtype = 'd' AND {USER_NS} AND {ext}",
        grants = grants_expr("t.typacl", "T", "t.typowner"),
        ext = not_ext_member("pg_type", "t.oid"),
    );
    let mut out = BTreeMap::new();
    for row in sqlx::query(&sql).fetch_all(&mut *conn).await? {
        let names: Vec<String> = row.try_get("con_names")?;
        let defs: Vec<String> = row.try_get("con_defs")?;
        let comments: Vec<String> = row.try_get("con_comments")?;
        let has_comment: Vec<bool> = row.try_get("con_has_comment")?;
        let constraints = names
            .into_iter()
            .zip(defs)
            .zip(comments.into_iter().zip(has_comment))
            .map(|((name, definition), (comment, has))| {
                (
                    name,
                    DomainConstraint {
                        definition,
                        comment: has.then_some(comment),
                    },
                )
            })
            .collect();
        let grants: Vec<String> = row.try_get("grants")?;
        out.insert(
            QName::new(
                row.try_get::<String, _>("schema")?,
                row.try_get::<String, _>("name")?,
            ),
            Domain {
                base_type: row.try_get("base_type")?,
                collation: row.try_get("collation")?,
                not_null: row.try_get("typnotnull")?,
                default: row.try_get("def")?,
                constraints,
                extras: Extras {
                    owner: row.try_get("owner")?,
                    comment: row.try_get("comment")?,
                    grants: grants
                        .into_iter()
                        .filter_map(|g| {
                            let mut p = g.splitn(3, '|');
                            Some(Grant {
                                grantee: p.next()?.to_string(),
                                privilege: p.next()?.to_string(),
                                grantable: p.next()? == "true",
                            })
                        })
                        .collect(),
                },
            },
        );
    }
    Ok(out)
}

/// How one domain differs: the typed diff both drift and the generator work from.
#[derive(Debug, Default)]
pub struct DomainDiff<'a> {
    /// Base type or collation: not alterable.
    pub retyped: bool,
    pub default: Option<&'a Option<String>>,
    pub not_null: Option<bool>,
    /// Constraints only in FROM or defined differently there (dropped).
    pub dropped: Vec<&'a str>,
    /// Constraints only in TO or defined differently (added).
    pub added: Vec<(&'a str, &'a DomainConstraint)>,
    /// Constraints kept whose comment changes.
    pub commented: Vec<(&'a str, &'a Option<String>)>,
}

pub fn diff<'a>(a: &'a Domain, b: &'a Domain) -> DomainDiff<'a> {
    let mut d = DomainDiff {
        retyped: a.base_type != b.base_type || a.collation != b.collation,
        ..Default::default()
    };
    if a.default != b.default {
        d.default = Some(&b.default);
    }
    if a.not_null != b.not_null {
        d.not_null = Some(b.not_null);
    }
    for (name, ca) in &a.constraints {
        match b.constraints.get(name) {
            Some(cb) if cb.definition == ca.definition => {
                if cb.comment != ca.comment {
                    d.commented.push((name, &cb.comment));
                }
            }
            _ => d.dropped.push(name),
        }
    }
    for (name, cb) in &b.constraints {
        if a.constraints.get(name).map(|c| &c.definition) != Some(&cb.definition) {
            d.added.push((name, cb));
        }
    }
    d
}

/// Drift in domains.
pub fn differences(
    from: &BTreeMap<QName, Domain>,
    to: &BTreeMap<QName, Domain>,
    opts: CompareOptions,
) -> Vec<Difference> {
    let mut out = Vec::new();
    let push = |out: &mut Vec<Difference>, name: &QName, presence, details| {
        out.push(Difference {
            kind: "domain".into(),
            name: name.to_string(),
            presence,
            details,
        })
    };
    for (name, a) in from {
        let Some(b) = to.get(name) else {
            push(&mut out, name, Presence::OnlyInFrom, vec![]);
            continue;
        };
        let mut details = Vec::new();
        field(&mut details, "base type", &a.base_type, &b.base_type);
        field(&mut details, "collation", &a.collation, &b.collation);
        field(&mut details, "not null", &a.not_null, &b.not_null);
        if a.default != b.default {
            details.push(format!(
                "default: {} → {}",
                show(&a.default),
                show(&b.default)
            ));
        }
        for (cname, ca) in &a.constraints {
            match b.constraints.get(cname) {
                None => details.push(format!("constraint {cname} only in FROM")),
                Some(cb) if cb != ca => details.push(format!(
                    "constraint {cname}: {} ({}) → {} ({})",
                    ca.definition,
                    show(&ca.comment),
                    cb.definition,
                    show(&cb.comment)
                )),
                _ => {}
            }
        }
        for (cname, cb) in &b.constraints {
            if !a.constraints.contains_key(cname) {
                details.push(format!("constraint {cname} only in TO: {}", cb.definition));
            }
        }
        extras_details(&mut details, &a.extras, &b.extras, opts);
        if !details.is_empty() {
            push(&mut out, name, Presence::Differs, details);
        }
    }
    for name in to.keys().filter(|n| !from.contains_key(*n)) {
        push(&mut out, name, Presence::OnlyInTo, vec![]);
    }
    out
}

fn add_constraint(
    out: &mut Generated,
    phase: Phase,
    name: &QName,
    cname: &str,
    c: &DomainConstraint,
) {
    let object = format!("domain {name}");
    out.push(
        phase,
        step(
            &object,
            format!("add constraint {cname}"),
            format!(
                "ALTER DOMAIN {} ADD CONSTRAINT {} {};",
                name.sql(),
                ident(cname),
                c.definition
            ),
        )
        .creating(ObjKey::Constraint(name.clone(), cname.to_string())),
    );
    if let Some(comment) = &c.comment {
        out.push(
            Phase::Extras,
            step(
                &object,
                format!("comment on constraint {cname}"),
                format!(
                    "COMMENT ON CONSTRAINT {} ON DOMAIN {} IS {};",
                    ident(cname),
                    name.sql(),
                    crate::model::literal(comment)
                ),
            )
            .needing(ObjKey::Constraint(name.clone(), cname.to_string())),
        );
    }
}

/// The steps from FROM's domains to TO's.
pub(crate) fn steps(from: &Model, to: &Model, opts: CompareOptions, out: &mut Generated) {
    for (name, b) in &to.domains {
        let object = format!("domain {name}");
        let target = name.sql();
        let Some(a) = from.domains.get(name) else {
            let mut sql = format!("CREATE DOMAIN {target} AS {}", b.base_type);
            if let Some(c) = &b.collation {
                sql.push_str(&format!(" COLLATE {c}"));
            }
            if let Some(d) = &b.default {
                sql.push_str(&format!(" DEFAULT {d}"));
            }
            if b.not_null {
                sql.push_str(" NOT NULL");
            }
            sql.push(';');
            out.push(
                Phase::Types,
                step(&object, "create", sql).creating(ObjKey::Type(name.clone())),
            );
            // Right after the functions a check may call, before any column or type uses the
            // domain (PostgreSQL refuses to add a check to a domain a stored column uses via a
            // composite type).
            for (cname, c) in &b.constraints {
                add_constraint(out, Phase::CreateSequences, name, cname, c);
            }
            out.extras(
                "DOMAIN",
                &target,
                &object,
                &ObjKey::Type(name.clone()),
                None,
                &b.extras,
                opts,
                &from.current_user,
            );
            continue;
        };
        let mut d = diff(a, b);
        // A check or default calling a function the plan drops and recreates goes with it.
        for (cname, cb) in &b.constraints {
            let key = ObjKey::Constraint(name.clone(), cname.clone());
            if out.rebuilt.contains(&key) && a.constraints.contains_key(cname) {
                if !d.dropped.contains(&cname.as_str()) {
                    d.dropped.push(cname);
                }
                if !d.added.iter().any(|(n, _)| n == cname) {
                    d.added.push((cname, cb));
                }
            }
        }
        let default_rebuilt = d.default.is_none()
            && a.default.is_some()
            && out.rebuilt.contains(&ObjKey::Type(name.clone()));
        if default_rebuilt {
            // Keyed as the type: its default's needs are recorded on the domain itself. After
            // the domain's own constraint drops (same object, so phase order counts).
            out.push(
                Phase::DropViews,
                step(
                    &object,
                    "drop default (it calls a function that is recreated)",
                    format!("ALTER DOMAIN {target} DROP DEFAULT;"),
                )
                .dropping(ObjKey::Type(name.clone())),
            );
            if let Some(e) = &b.default {
                out.push(
                    Phase::AddConstraints,
                    step(
                        &object,
                        "default",
                        format!("ALTER DOMAIN {target} SET DEFAULT {e};"),
                    )
                    .creating(ObjKey::Type(name.clone())),
                );
            }
        }
        if d.retyped {
            out.blockers.push(format!(
                "domain {name}: base type or collation {} {} → {} {} cannot be altered in place and is not planned; \
                 create a new domain and move the columns to it",
                a.base_type,
                show(&a.collation),
                b.base_type,
                show(&b.collation)
            ));
            continue;
        }
        if let Some(default) = d.default {
            let sql = match default {
                Some(e) => format!("ALTER DOMAIN {target} SET DEFAULT {e};"),
                None => format!("ALTER DOMAIN {target} DROP DEFAULT;"),
            };
            // The domain in TO's shape: after the functions its default calls (pg_depend).
            out.push(
                Phase::Types,
                step(&object, "default", sql).creating(ObjKey::Type(name.clone())),
            );
        }
        match d.not_null {
            Some(true) => out.push(
                Phase::AddConstraints,
                step(
                    &object,
                    "set not null",
                    format!("ALTER DOMAIN {target} SET NOT NULL;"),
                )
                .needing(ObjKey::Type(name.clone())),
            ),
            Some(false) => out.push(
                Phase::Types,
                step(
                    &object,
                    "drop not null",
                    format!("ALTER DOMAIN {target} DROP NOT NULL;"),
                )
                .needing(ObjKey::Type(name.clone())),
            ),
            None => {}
        }
        for cname in &d.dropped {
            // First of the drop phases: nothing depends on a domain constraint, and the function
            // it calls may be dropped early.
            out.push(
                Phase::DropTriggers,
                step(
                    &object,
                    format!("drop constraint {cname}"),
                    format!("ALTER DOMAIN {target} DROP CONSTRAINT {};", ident(cname)),
                )
                .dropping(ObjKey::Constraint(name.clone(), cname.to_string())),
            );
        }
        for (cname, c) in &d.added {
            add_constraint(out, Phase::AddConstraints, name, cname, c);
        }
        for (cname, comment) in &d.commented {
            out.push(
                Phase::Extras,
                step(
                    &object,
                    format!("comment on constraint {cname}"),
                    crate::plan::comment_sql(
                        "CONSTRAINT",
                        &format!("{} ON DOMAIN {target}", ident(cname)),
                        comment,
                    ),
                )
                .needing(ObjKey::Constraint(name.clone(), cname.to_string())),
            );
        }
        out.extras(
            "DOMAIN",
            &target,
            &object,
            &ObjKey::Type(name.clone()),
            Some(&a.extras),
            &b.extras,
            opts,
            &from.current_user,
        );
    }
    for (name, a) in from
        .domains
        .iter()
        .filter(|(n, _)| !to.domains.contains_key(*n))
    {
        // Its checks go first, so the functions they call can be dropped before the domain is.
        for cname in a.constraints.keys() {
            out.push(
                Phase::DropTriggers,
                step(
                    format!("domain {name}"),
                    format!("drop constraint {cname}"),
                    format!(
                        "ALTER DOMAIN {} DROP CONSTRAINT {};",
                        name.sql(),
                        ident(cname)
                    ),
                )
                .dropping(ObjKey::Constraint(name.clone(), cname.clone())),
            );
        }
        out.push(
            Phase::DropLate,
            step(
                format!("domain {name}"),
                "drop",
                format!("DROP DOMAIN {};", name.sql()),
            )
            .dropping(ObjKey::Type(name.clone())),
        );
    }
}

//! Extended statistics (`CREATE STATISTICS`): reader, typed diff, generator.
//!
//! Dropped before columns change (a statistics object on a dropped column would go with it),
//! created with the indexes once tables and columns are in place; a changed definition is dropped
//! and created again (statistics hold no data the next ANALYZE does not rebuild).

use std::collections::BTreeMap;

use serde::Serialize;
use sqlx::{PgConnection, Row};

use super::Generated;
use crate::catalog::{not_ext_member, USER_NS};
use crate::diff::{extras_details, field, CompareOptions, Difference, Presence};
use crate::model::{Extras, Model, QName};
use crate::objects::ObjKey;
use crate::plan::{step, Phase};
use crate::SchemaError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Statistics {
    /// `pg_get_statisticsobjdef`: the full `CREATE STATISTICS` statement.
    pub definition: String,
    /// `ALTER STATISTICS … SET STATISTICS n`, when set.
    pub target: Option<i32>,
    pub extras: Extras,
}

pub async fn read(conn: &mut PgConnection) -> Result<BTreeMap<QName, Statistics>, SchemaError> {
    let sql = format!(
        "SELECT n.nspname::text AS schema, s.stxname::text AS name, pg_catalog.pg_get_statisticsobjdef(s.oid) AS def,
                NULLIF(pg_catalog.to_jsonb(s) ->> 'stxstattarget', '-1')::int AS target,
                pg_catalog.pg_get_userbyid(s.stxowner) AS owner,
                pg_catalog.obj_description(s.oid, 'pg_statistic_ext') AS comment
         FROM pg_catalog.pg_statistic_ext s JOIN pg_catalog.pg_namespace n ON n.oid = s.stxnamespace
         WHERE {USER_NS} AND {ext}",
        ext = not_ext_member("pg_statistic_ext", "s.oid"),
    );
    let mut out = BTreeMap::new();
    for row in sqlx::query(&sql).fetch_all(&mut *conn).await? {
        out.insert(
            QName::new(
                row.try_get::<String, _>("schema")?,
                row.try_get::<String, _>("name")?,
            ),
            Statistics {
                definition: row.try_get("def")?,
                target: row.try_get("target")?,
                extras: Extras {
                    owner: row.try_get("owner")?,
                    comment: row.try_get("comment")?,
                    grants: Default::default(),
                },
            },
        );
    }
    Ok(out)
}

/// How one statistics object differs.
pub struct StatisticsDiff {
    pub recreate: bool,
    pub target: Option<Option<i32>>,
}

pub fn diff(a: &Statistics, b: &Statistics) -> StatisticsDiff {
    StatisticsDiff {
        recreate: a.definition != b.definition,
        target: (a.target != b.target).then_some(b.target),
    }
}

pub fn differences(
    from: &BTreeMap<QName, Statistics>,
    to: &BTreeMap<QName, Statistics>,
    opts: CompareOptions,
) -> Vec<Difference> {
    let mut out = Vec::new();
    let mut push = |name: &QName, presence, details| {
        out.push(Difference {
            kind: "statistics".into(),
            name: name.to_string(),
            presence,
            details,
        })
    };
    for (name, a) in from {
        let Some(b) = to.get(name) else {
            push(name, Presence::OnlyInFrom, vec![]);
            continue;
        };
        let mut details = Vec::new();
        field(&mut details, "definition", &a.definition, &b.definition);
        field(&mut details, "statistics target", &a.target, &b.target);
        extras_details(&mut details, &a.extras, &b.extras, opts);
        if !details.is_empty() {
            push(name, Presence::Differs, details);
        }
    }
    for name in to.keys().filter(|n| !from.contains_key(*n)) {
        push(name, Presence::OnlyInTo, vec![]);
    }
    out
}

fn create(out: &mut Generated, name: &QName, b: &Statistics) {
    let object = format!("statistics {name}");
    out.push(
        Phase::Indexes,
        step(&object, "create", format!("{};", b.definition))
            .creating(ObjKey::Statistics(name.clone())),
    );
    if let Some(t) = b.target {
        out.push(
            Phase::Indexes,
            step(
                &object,
                format!("statistics target {t}"),
                format!("ALTER STATISTICS {} SET STATISTICS {t};", name.sql()),
            )
            .needing(ObjKey::Statistics(name.clone())),
        );
    }
}

fn drop(out: &mut Generated, name: &QName) {
    out.push(
        Phase::DropConstraints,
        step(
            format!("statistics {name}"),
            "drop",
            format!("DROP STATISTICS {};", name.sql()),
        )
        .dropping(ObjKey::Statistics(name.clone())),
    );
}

pub(crate) fn steps(from: &Model, to: &Model, opts: CompareOptions, out: &mut Generated) {
    for (name, b) in &to.statistics {
        let object = format!("statistics {name}");
        let target = name.sql();
        match from.statistics.get(name) {
            None => {
                create(out, name, b);
                out.extras(
                    "STATISTICS",
                    &target,
                    &object,
                    &ObjKey::Statistics(name.clone()),
                    None,
                    &b.extras,
                    opts,
                    &from.current_user,
                );
            }
            Some(a) => {
                let d = diff(a, b);
                if d.recreate {
                    drop(out, name);
                    create(out, name, b);
                    out.extras(
                        "STATISTICS",
                        &target,
                        &object,
                        &ObjKey::Statistics(name.clone()),
                        None,
                        &b.extras,
                        opts,
                        &from.current_user,
                    );
                    continue;
                }
                if let Some(t) = d.target {
                    out.push(
                        Phase::Indexes,
                        step(
                            &object,
                            "statistics target",
                            format!(
                                "ALTER STATISTICS {target} SET STATISTICS {};",
                                t.unwrap_or(-1)
                            ),
                        )
                        .needing(ObjKey::Statistics(name.clone())),
                    );
                }
                out.extras(
                    "STATISTICS",
                    &target,
                    &object,
                    &ObjKey::Statistics(name.clone()),
                    Some(&a.extras),
                    &b.extras,
                    opts,
                    &from.current_user,
                );
            }
        }
    }
    for name in from
        .statistics
        .keys()
        .filter(|n| !to.statistics.contains_key(*n))
    {
        drop(out, name);
    }
}

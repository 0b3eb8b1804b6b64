//! Publications (logical replication): reader, typed diff, generator.
//!
//! A publication is not in a schema. Its tables (with a column list and row filter from
//! PostgreSQL 15) and schemas are added and dropped one by one; `FOR ALL TABLES` switched on or
//! off recreates it. Removals run early (before the plan drops a table that is a member), additions
//! late (after the tables and columns they name exist).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use sqlx::{PgConnection, Row};

use super::Generated;
use crate::diff::{extras_details, field, CompareOptions, Difference, Presence};
use crate::model::{ident, Extras, Model, QName};
use crate::objects::{Needs, ObjKey};
use crate::plan::{step, Phase};
use crate::SchemaError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Publication {
    pub all_tables: bool,
    /// The operations published, as `WITH (publish = ...)` spells them: `insert, update`.
    pub publish: String,
    pub via_root: bool,
    /// Member table (`public.a`) → what follows its name: ` (id, name) WHERE (...)` or nothing.
    pub tables: BTreeMap<String, String>,
    /// `TABLES IN SCHEMA` members (PostgreSQL 15).
    pub schemas: BTreeSet<String>,
    pub extras: Extras,
}

/// The publications, and what their members need: a table member its table, a schema member its
/// schema (pg_depend does not name publications, so the planner's graph learns it here).
pub async fn read(
    conn: &mut PgConnection,
) -> Result<(BTreeMap<String, Publication>, Needs), SchemaError> {
    let version: i32 = sqlx::query_scalar("SELECT current_setting('server_version_num')::int")
        .fetch_one(&mut *conn)
        .await?;
    let mut out = BTreeMap::new();
    for row in sqlx::query(
        "SELECT p.pubname::text AS name, p.puballtables,
                concat_ws(', ', CASE WHEN p.pubinsert THEN 'insert' END, CASE WHEN p.pubupdate THEN 'update' END,
                          CASE WHEN p.pubdelete THEN 'delete' END, CASE WHEN p.pubtruncate THEN 'truncate' END) AS publish,
                coalesce((pg_catalog.to_jsonb(p) ->> 'pubviaroot')::boolean, false) AS via_root,
                pg_catalog.pg_get_userbyid(p.pubowner) AS owner,
                pg_catalog.obj_description(p.oid, 'pg_publication') AS comment
         FROM pg_catalog.pg_publication p",
    )
    .fetch_all(&mut *conn)
    .await?
    {
        out.insert(
            row.try_get::<String, _>("name")?,
            Publication {
                all_tables: row.try_get("puballtables")?,
                publish: row.try_get("publish")?,
                via_root: row.try_get("via_root")?,
                tables: BTreeMap::new(),
                schemas: BTreeSet::new(),
                extras: Extras {
                    owner: row.try_get("owner")?,
                    comment: row.try_get("comment")?,
                    grants: BTreeSet::new(),
                },
            },
        );
    }
    let (columns, filter) = if version >= 150000 {
        (
            "coalesce(' (' || (SELECT string_agg(pg_catalog.quote_ident(a.attname), ', ' ORDER BY a.attnum)
               FROM pg_catalog.pg_attribute a WHERE a.attrelid = r.prrelid AND a.attnum = ANY (r.prattrs)) || ')', '')",
            "coalesce(' WHERE (' || pg_catalog.pg_get_expr(r.prqual, r.prrelid) || ')', '')",
        )
    } else {
        ("''", "''")
    };
    let members = format!(
        "SELECT p.pubname::text AS name,
                pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname) AS member,
                n.nspname::text AS nspname, c.relname::text AS relname,
                {columns} || {filter} AS spec
         FROM pg_catalog.pg_publication_rel r JOIN pg_catalog.pg_publication p ON p.oid = r.prpubid
         JOIN pg_catalog.pg_class c ON c.oid = r.prrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
    );
    let mut needs = Needs::new();
    for row in sqlx::query(&members).fetch_all(&mut *conn).await? {
        let name: String = row.try_get("name")?;
        let member: String = row.try_get("member")?;
        needs
            .entry(ObjKey::PublicationMember(name.clone(), member.clone()))
            .or_default()
            .insert(ObjKey::Relation(QName::new(
                row.try_get::<String, _>("nspname")?,
                row.try_get::<String, _>("relname")?,
            )));
        if let Some(p) = out.get_mut(&name) {
            p.tables.insert(member, row.try_get("spec")?);
        }
    }
    if version >= 150000 {
        for row in sqlx::query(
            "SELECT p.pubname::text AS name, pg_catalog.quote_ident(n.nspname) AS schema,
                    n.nspname::text AS nspname
             FROM pg_catalog.pg_publication_namespace x JOIN pg_catalog.pg_publication p ON p.oid = x.pnpubid
             JOIN pg_catalog.pg_namespace n ON n.oid = x.pnnspid",
        )
        .fetch_all(&mut *conn)
        .await?
        {
            let name: String = row.try_get("name")?;
            let schema: String = row.try_get("schema")?;
            needs
                .entry(schema_member(&name, &schema))
                .or_default()
                .insert(ObjKey::Schema(row.try_get("nspname")?));
            if let Some(p) = out.get_mut(&name) {
                p.schemas.insert(schema);
            }
        }
    }
    Ok((out, needs))
}

/// The key of a `TABLES IN SCHEMA` member (`schema` quoted as the model holds it).
fn schema_member(publication: &str, schema: &str) -> ObjKey {
    ObjKey::PublicationMember(publication.into(), format!("TABLES IN SCHEMA {schema}"))
}

fn table_member(publication: &str, table: &str) -> ObjKey {
    ObjKey::PublicationMember(publication.into(), table.into())
}

pub fn differences(
    from: &BTreeMap<String, Publication>,
    to: &BTreeMap<String, Publication>,
    opts: CompareOptions,
) -> Vec<Difference> {
    let mut out = Vec::new();
    let mut push = |name: &str, presence, details| {
        out.push(Difference {
            kind: "publication".into(),
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
        field(&mut details, "all tables", &a.all_tables, &b.all_tables);
        field(&mut details, "publish", &a.publish, &b.publish);
        field(&mut details, "via partition root", &a.via_root, &b.via_root);
        field(&mut details, "tables", &a.tables, &b.tables);
        field(&mut details, "schemas", &a.schemas, &b.schemas);
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

fn options(p: &Publication) -> String {
    format!(
        "(publish = '{}', publish_via_partition_root = {})",
        p.publish, p.via_root
    )
}

fn create(out: &mut Generated, name: &str, p: &Publication) {
    let members: Vec<String> = p
        .tables
        .iter()
        .map(|(t, spec)| format!("TABLE {t}{spec}"))
        .chain(p.schemas.iter().map(|s| format!("TABLES IN SCHEMA {s}")))
        .collect();
    let what = if p.all_tables {
        " FOR ALL TABLES".to_string()
    } else if members.is_empty() {
        String::new()
    } else {
        format!(" FOR {}", members.join(", "))
    };
    out.push(
        Phase::Extras,
        step(
            format!("publication {name}"),
            "create",
            format!(
                "CREATE PUBLICATION {}{what} WITH {};",
                ident(name),
                options(p)
            ),
        )
        // Its members come with it (`ObjKey::parent`): after the tables and schemas they need.
        .creating(ObjKey::Publication(name.into())),
    );
}

fn drop(out: &mut Generated, name: &str) {
    out.push(
        Phase::DropConstraints,
        step(
            format!("publication {name}"),
            "drop",
            format!("DROP PUBLICATION {};", ident(name)),
        )
        .dropping(ObjKey::Publication(name.into())),
    );
}

pub(crate) fn steps(from: &Model, to: &Model, opts: CompareOptions, out: &mut Generated) {
    for (name, b) in &to.publications {
        let object = format!("publication {name}");
        let target = ident(name);
        let extras = |out: &mut Generated, a: Option<&Extras>| {
            out.extras(
                "PUBLICATION",
                &target,
                &object,
                &ObjKey::Publication(name.clone()),
                a,
                &b.extras,
                opts,
                &from.current_user,
            )
        };
        let Some(a) = from.publications.get(name) else {
            create(out, name, b);
            extras(out, None);
            continue;
        };
        if a.all_tables != b.all_tables {
            drop(out, name);
            create(out, name, b);
            extras(out, None);
            continue;
        }
        if a.publish != b.publish || a.via_root != b.via_root {
            out.push(
                Phase::Extras,
                step(
                    &object,
                    "set options",
                    format!("ALTER PUBLICATION {target} SET {};", options(b)),
                )
                .needing(ObjKey::Publication(name.clone())),
            );
        }
        // A member dropped goes before what it needed is dropped; one added after it exists.
        let member = |action: &str, what: String, key: ObjKey, out: &mut Generated| {
            let s = step(
                &object,
                format!("{} {what}", action.to_lowercase()),
                format!("ALTER PUBLICATION {target} {action} {what};"),
            );
            if action == "DROP" {
                out.push(Phase::DropConstraints, s.dropping(key));
            } else {
                out.push(Phase::Extras, s.creating(key));
            }
        };
        for (t, spec) in &a.tables {
            if b.tables.get(t) != Some(spec) {
                member("DROP", format!("TABLE {t}"), table_member(name, t), out);
            }
        }
        for (t, spec) in &b.tables {
            if a.tables.get(t) != Some(spec) {
                member(
                    "ADD",
                    format!("TABLE {t}{spec}"),
                    table_member(name, t),
                    out,
                );
            }
        }
        for s in a.schemas.difference(&b.schemas) {
            let what = format!("TABLES IN SCHEMA {s}");
            member("DROP", what, schema_member(name, s), out);
        }
        for s in b.schemas.difference(&a.schemas) {
            let what = format!("TABLES IN SCHEMA {s}");
            member("ADD", what, schema_member(name, s), out);
        }
        extras(out, Some(&a.extras));
    }
    for name in from
        .publications
        .keys()
        .filter(|n| !to.publications.contains_key(*n))
    {
        drop(out, name);
    }
}

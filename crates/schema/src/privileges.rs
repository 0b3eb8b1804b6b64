//! Default privileges (`ALTER DEFAULT PRIVILEGES`): read from `pg_default_acl`, compared, planned,
//! and used to know what grants an object the plan creates will have the moment it exists.
//!
//! The default privileges of the role that introspects apply to what the engine creates (objects
//! are created by the applying role); those of other roles it is a member of are modelled too
//! (`FOR ROLE`), since it can change them, and those of roles it cannot act for are left out. In
//! every schema (no `IN SCHEMA`) they are always compared: they apply in the managed schemas too.
//! A plan creates its objects first (they get what the
//! live database's default privileges give), then converges each object's grants to the target's
//! (revoking on a new object takes nothing from anyone, so it is no hazard), and changes the
//! default privileges themselves last. So `verify` agrees after `apply` whatever the two sides'
//! default privileges are, and a database whose defaults grant to API roles (a Supabase project)
//! keeps them when the target states the same defaults.

use std::collections::{BTreeMap, BTreeSet};

use sqlx::{PgConnection, Row};

use crate::diff::{Difference, Presence};
use crate::model::{ident, DefaultPrivilegeKey, Grant, Model};
use crate::objects::ObjKey;
use crate::plan::{HazardKind, Step};
use crate::SchemaError;

pub type DefaultPrivileges = BTreeMap<DefaultPrivilegeKey, BTreeSet<Grant>>;

/// The default privileges of the current role and of every role it can act for (a member of:
/// `ALTER DEFAULT PRIVILEGES FOR ROLE` needs that); grants to the role itself are implicit and
/// left out. Roles it cannot act for are left out like another schema: it could change nothing.
pub async fn read(conn: &mut PgConnection) -> Result<DefaultPrivileges, SchemaError> {
    let rows = sqlx::query(
        "SELECT CASE WHEN d.defaclrole <> (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname = current_user)
                     THEN pg_catalog.pg_get_userbyid(d.defaclrole) END AS role,
                n.nspname, d.defaclobjtype::text AS objtype,
                coalesce(array_agg(CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_catalog.pg_get_userbyid(a.grantee) END
                           || '|' || a.privilege_type || '|' || a.is_grantable::text ORDER BY 1)
                         FILTER (WHERE a.grantee <> d.defaclrole), '{}') AS grants
         FROM pg_catalog.pg_default_acl d
         LEFT JOIN pg_catalog.pg_namespace n ON n.oid = d.defaclnamespace
         LEFT JOIN LATERAL pg_catalog.aclexplode(d.defaclacl) a ON true
         WHERE pg_catalog.pg_has_role(current_user, d.defaclrole, 'MEMBER')
         GROUP BY 1, 2, 3",
    )
    .fetch_all(conn)
    .await?;
    let mut out = DefaultPrivileges::new();
    for row in rows {
        let objtype: String = row.try_get("objtype")?;
        let Some(objects) = objects_of(&objtype) else {
            continue;
        };
        let grants: Vec<String> = row.try_get("grants")?;
        out.insert(
            DefaultPrivilegeKey {
                role: row.try_get("role")?,
                schema: row.try_get("nspname")?,
                objects: objects.to_string(),
            },
            grants
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
        );
    }
    Ok(out)
}

fn objects_of(objtype: &str) -> Option<&'static str> {
    match objtype {
        "r" => Some("TABLES"),
        "S" => Some("SEQUENCES"),
        "f" => Some("FUNCTIONS"),
        "T" => Some("TYPES"),
        "n" => Some("SCHEMAS"),
        _ => None,
    }
}

/// The `ON …S` class of default privileges an object of plan kind `kind` falls under.
fn objects_for_kind(kind: &str) -> Option<&'static str> {
    match kind {
        "TABLE" | "VIEW" | "MATERIALIZED VIEW" => Some("TABLES"),
        "SEQUENCE" => Some("SEQUENCES"),
        "FUNCTION" | "PROCEDURE" => Some("FUNCTIONS"),
        "TYPE" | "DOMAIN" => Some("TYPES"),
        "SCHEMA" => Some("SCHEMAS"),
        _ => None,
    }
}

/// What PostgreSQL grants a new object of this class when no default privilege says otherwise.
fn built_in(objects: &str) -> BTreeSet<Grant> {
    let public = |p: &str| Grant {
        grantee: "PUBLIC".into(),
        privilege: p.into(),
        grantable: false,
    };
    match objects {
        "FUNCTIONS" => [public("EXECUTE")].into(),
        "TYPES" => [public("USAGE")].into(),
        _ => BTreeSet::new(),
    }
}

/// The grants an object of plan kind `kind` (`TABLE`, `FUNCTION`, …) gets when the introspected
/// role creates it in `schema` on the database `model` was read from: the every-schema default
/// (or the built-in one) plus the schema's.
pub fn created_grants(model: &Model, kind: &str, schema: Option<&str>) -> BTreeSet<Grant> {
    let Some(objects) = objects_for_kind(kind) else {
        return BTreeSet::new();
    };
    let key = |schema: Option<&str>| DefaultPrivilegeKey {
        role: None,
        schema: schema.map(str::to_string),
        objects: objects.to_string(),
    };
    let mut out = model
        .default_privileges
        .get(&key(None))
        .cloned()
        .unwrap_or_else(|| built_in(objects));
    if let (Some(s), true) = (schema, objects != "SCHEMAS") {
        if let Some(extra) = model.default_privileges.get(&key(Some(s))) {
            out.extend(extra.iter().cloned());
        }
    }
    out
}

/// The schema of a plan target (`public.users`, `"My Schema".t`, `public.f(integer)`).
pub fn schema_of_target(target: &str) -> Option<String> {
    if let Some(rest) = target.strip_prefix('"') {
        let mut name = String::new();
        let mut chars = rest.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    name.push('"');
                } else {
                    return (chars.next() == Some('.')).then_some(name);
                }
            } else {
                name.push(c);
            }
        }
        None
    } else {
        let dot = target.find('.')?;
        let paren = target.find('(').unwrap_or(target.len());
        (dot < paren).then(|| target[..dot].to_string())
    }
}

/// Differences between two sets of default privileges, for `diff`/`verify`.
pub fn compare(from: &DefaultPrivileges, to: &DefaultPrivileges) -> Vec<Difference> {
    let mut out = Vec::new();
    let keys: BTreeSet<&DefaultPrivilegeKey> = from.keys().chain(to.keys()).collect();
    for k in keys {
        let a = effective(from, k);
        let b = effective(to, k);
        if a == b {
            continue;
        }
        let mut details = Vec::new();
        for g in a.difference(&b) {
            details.push(format!(
                "grant {} to {} only in FROM",
                g.privilege, g.grantee
            ));
        }
        for g in b.difference(&a) {
            details.push(format!("grant {} to {} only in TO", g.privilege, g.grantee));
        }
        out.push(Difference {
            kind: "default privileges".into(),
            name: k.to_string(),
            presence: Presence::Differs,
            details,
        });
    }
    out
}

fn effective(m: &DefaultPrivileges, k: &DefaultPrivilegeKey) -> BTreeSet<Grant> {
    m.get(k).cloned().unwrap_or_else(|| {
        if k.schema.is_none() {
            built_in(&k.objects)
        } else {
            BTreeSet::new()
        }
    })
}

fn grantee(g: &str) -> String {
    if g == "PUBLIC" {
        g.to_string()
    } else {
        ident(g)
    }
}

/// The statements that bring FROM's default privileges to TO's. They run after every object of
/// the plan is created (see the module comment): each needs every key in `made` (what the plan's
/// other steps create) and its schema. Revoking one is a `security` hazard.
pub(crate) fn steps(from: &Model, to: &Model, made: &[ObjKey]) -> Vec<Step> {
    let mut out = Vec::new();
    let keys: BTreeSet<&DefaultPrivilegeKey> = from
        .default_privileges
        .keys()
        .chain(to.default_privileges.keys())
        .collect();
    for k in keys {
        let a = effective(&from.default_privileges, k);
        let b = effective(&to.default_privileges, k);
        let role = match &k.role {
            Some(r) => format!(" FOR ROLE {}", ident(r)),
            None => String::new(),
        };
        let scope = match &k.schema {
            Some(s) => format!("{role} IN SCHEMA {}", ident(s)),
            None => role,
        };
        let object = format!("default privileges on {k}");
        let needing = |mut s: Step| {
            s.needs.extend(made.iter().cloned());
            s.needs.extend(k.schema.clone().map(ObjKey::Schema));
            s
        };
        for g in a.difference(&b) {
            let keeps_privilege = b
                .iter()
                .any(|t| t.grantee == g.grantee && t.privilege == g.privilege);
            let option = if keeps_privilege {
                "GRANT OPTION FOR "
            } else {
                ""
            };
            out.push(needing(
                Step::new(
                    &object,
                    format!("revoke {} from {}", g.privilege, g.grantee),
                    format!(
                        "ALTER DEFAULT PRIVILEGES{scope} REVOKE {option}{} ON {} FROM {};",
                        g.privilege,
                        k.objects,
                        grantee(&g.grantee)
                    ),
                )
                .with_hazard(
                    HazardKind::Security,
                    format!(
                        "{} is no longer granted {} on new {}",
                        g.grantee,
                        g.privilege,
                        k.objects.to_lowercase()
                    ),
                ),
            ));
        }
        for g in b.difference(&a) {
            let option = if g.grantable {
                " WITH GRANT OPTION"
            } else {
                ""
            };
            out.push(needing(Step::new(
                &object,
                format!("grant {} to {}", g.privilege, g.grantee),
                format!(
                    "ALTER DEFAULT PRIVILEGES{scope} GRANT {} ON {} TO {}{option};",
                    g.privilege,
                    k.objects,
                    grantee(&g.grantee)
                ),
            )));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_of_a_target_is_read_through_quotes() {
        assert_eq!(schema_of_target("public.users").as_deref(), Some("public"));
        assert_eq!(
            schema_of_target("\"My \"\"S\".t").as_deref(),
            Some("My \"S")
        );
        assert_eq!(
            schema_of_target("public.f(a numeric(10,2))").as_deref(),
            Some("public")
        );
        assert_eq!(schema_of_target("auth"), None);
    }
}

//! Readers of triggers and row-level security policies.

use sqlx::{PgConnection, Row};

use super::{Procs, Rels};
use crate::model::*;
use crate::SchemaError;

/// Triggers on tables and views (not internal ones, not a partition's clone).
pub(super) async fn triggers(
    conn: &mut PgConnection,
    m: &mut Model,
    rels: &Rels,
    procs: &Procs,
) -> Result<(), SchemaError> {
    for row in sqlx::query(
        "SELECT t.tgrelid::int8 AS rel, t.tgname::text AS name, pg_catalog.pg_get_triggerdef(t.oid) AS def,
                t.tgenabled::text AS enabled, t.tgfoid::int8 AS func,
                pg_catalog.obj_description(t.oid, 'pg_trigger') AS comment
         FROM pg_catalog.pg_trigger t WHERE NOT t.tgisinternal AND t.tgparentid = 0",
    )
    .fetch_all(&mut *conn)
    .await?
    {
        let Some(rel) = rels.get(&row.try_get::<i64, _>("rel")?) else { continue };
        let func = procs
            .get(&row.try_get::<i64, _>("func")?)
            .cloned()
            .unwrap_or(FnName { name: QName::new("pg_catalog", "?"), args: String::new() });
        let trigger = Trigger {
            definition: row.try_get("def")?,
            enabled: TriggerState::from_code(&row.try_get::<String, _>("enabled")?)?,
            comment: row.try_get("comment")?,
            function: func,
        };
        let name: String = row.try_get("name")?;
        if let Some(table) = m.tables.get_mut(rel) {
            table.triggers.insert(name, trigger);
        } else if let Some(view) = m.views.get_mut(rel) {
            view.triggers.insert(name, trigger);
        }
    }
    Ok(())
}

/// Row-level security policies.
pub(super) async fn policies(
    conn: &mut PgConnection,
    m: &mut Model,
    rels: &Rels,
) -> Result<(), SchemaError> {
    for row in sqlx::query(
        "SELECT p.polrelid::int8 AS rel, p.polname::text AS name, p.polpermissive, p.polcmd::text AS cmd,
                CASE WHEN p.polroles = '{0}' THEN ARRAY['PUBLIC']
                     ELSE ARRAY(SELECT pg_catalog.pg_get_userbyid(r) FROM unnest(p.polroles) r ORDER BY 1) END AS roles,
                pg_catalog.pg_get_expr(p.polqual, p.polrelid) AS qual,
                pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) AS with_check,
                pg_catalog.obj_description(p.oid, 'pg_policy') AS comment
         FROM pg_catalog.pg_policy p",
    )
    .fetch_all(&mut *conn)
    .await?
    {
        let Some(rel) = rels.get(&row.try_get::<i64, _>("rel")?) else { continue };
        let Some(table) = m.tables.get_mut(rel) else { continue };
        let command = PolicyCommand::from_code(&row.try_get::<String, _>("cmd")?)?;
        table.policies.insert(
            row.try_get("name")?,
            Policy {
                permissive: row.try_get("polpermissive")?,
                command,
                roles: row.try_get("roles")?,
                using: row.try_get("qual")?,
                with_check: row.try_get("with_check")?,
                comment: row.try_get("comment")?,
            },
        );
    }
    Ok(())
}

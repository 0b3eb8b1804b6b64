//! Introspection: reads pg_catalog into a `Model`, in one snapshot.
//!
//! Every query runs in the caller's transaction with `search_path` emptied, so the server renders
//! expressions with schema-qualified names. Objects that belong to an extension are left out (the
//! extension stands for them); objects of kinds the model does not cover are read by `unmodelled`
//! into `Model::unmodelled` with their catalog definition. One reader per object kind, in the
//! submodules; `introspect` runs them in an order that lets later ones resolve oids.

use std::collections::{BTreeSet, HashMap};

use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};

use crate::model::*;
use crate::SchemaError;

mod constraints;
mod depend;
mod functions;
mod namespaces;
mod relations;
mod sequences;
mod triggers;
mod views;

/// User schemas: not the system's, not temporary, not an extension's.
pub(crate) const USER_NS: &str = "n.nspname NOT IN ('pg_catalog', 'information_schema')
    AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'";

/// `objid` of catalog `class` is not a member of an extension.
pub(crate) fn not_ext_member(class: &str, objid: &str) -> String {
    format!(
        "NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend x WHERE x.classid = '{class}'::regclass \
         AND x.objid = {objid} AND x.deptype = 'e')"
    )
}

/// A join that brings the comment on `objid` of `catalog` as `ds.description`: the functions
/// `obj_description` and `col_description` are SQL functions the server runs once per row, which
/// cost more than the rest of a reader on a few thousand columns.
pub(crate) fn comment_join(catalog: &str, objid: &str, subid: &str) -> String {
    format!(
        "LEFT JOIN pg_catalog.pg_description ds ON ds.objoid = {objid} \
         AND ds.classoid = 'pg_catalog.{catalog}'::regclass AND ds.objsubid = {subid}"
    )
}

/// The non-owner grants of an ACL column, with the default ACL when it is null.
pub(crate) fn grants_expr(acl: &str, kind: &str, owner: &str) -> String {
    let explode = format!(
        "(SELECT coalesce(array_agg(CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_catalog.pg_get_userbyid(a.grantee) END \
            || '|' || a.privilege_type || '|' || a.is_grantable::text ORDER BY 1), '{{}}') \
          FROM pg_catalog.aclexplode(coalesce({acl}, pg_catalog.acldefault('{kind}', {owner}))) a \
          WHERE a.grantee <> {owner})"
    );
    // Relations, sequences and schemas grant nothing to others by default: no need to explode
    // the default ACL of every one of them.
    if matches!(kind, "r" | "s" | "n") {
        format!("CASE WHEN {acl} IS NULL THEN '{{}}'::text[] ELSE {explode} END")
    } else {
        explode
    }
}

fn parse_grants(raw: Vec<String>) -> BTreeSet<Grant> {
    raw.into_iter()
        .filter_map(|g| {
            let mut parts = g.splitn(3, '|');
            Some(Grant {
                grantee: parts.next()?.to_string(),
                privilege: parts.next()?.to_string(),
                grantable: parts.next()? == "true",
            })
        })
        .collect()
}

fn extras(row: &PgRow) -> Result<Extras, sqlx::Error> {
    Ok(Extras {
        owner: row.try_get("owner")?,
        comment: row.try_get("comment")?,
        grants: parse_grants(row.try_get("grants")?),
    })
}

fn qname(row: &PgRow) -> Result<QName, sqlx::Error> {
    Ok(QName::new(
        row.try_get::<String, _>("nspname")?,
        row.try_get::<String, _>("relname")?,
    ))
}

/// oid -> name of the relations read, for the readers that meet oids.
pub(super) type Rels = HashMap<i64, QName>;
/// oid -> name of the functions read.
pub(super) type Procs = HashMap<i64, FnName>;

/// Reads the whole model. Call inside a transaction (`REPEATABLE READ READ ONLY` for a consistent
/// snapshot, or the apply transaction to see its own changes).
pub async fn introspect(conn: &mut PgConnection) -> Result<Model, SchemaError> {
    sqlx::query("SET LOCAL search_path = ''")
        .execute(&mut *conn)
        .await?;
    let mut m = Model {
        current_user: sqlx::query_scalar("SELECT current_user::text")
            .fetch_one(&mut *conn)
            .await?,
        ..Model::default()
    };

    namespaces::schemas(conn, &mut m).await?;
    namespaces::extensions(conn, &mut m).await?;
    namespaces::collations(conn, &mut m).await?;
    namespaces::enums(conn, &mut m).await?;
    let rels = relations::relations(conn, &mut m).await?;
    sequences::sequences(conn, &mut m, &rels).await?;
    relations::columns(conn, &mut m, &rels).await?;
    constraints::constraints(conn, &mut m, &rels).await?;
    constraints::indexes(conn, &mut m, &rels).await?;
    let procs = functions::functions(conn, &mut m, &rels).await?;
    triggers::triggers(conn, &mut m, &rels, &procs).await?;
    triggers::policies(conn, &mut m, &rels).await?;
    views::depends(conn, &mut m, &rels, &procs).await?;
    m.needs = depend::needs(conn, &procs).await?;

    // Kinds the model leaves alone, compared by their catalog definition.
    crate::kinds::read(conn, &mut m).await?;
    m.unmodelled = crate::unmodelled::read(conn).await?;
    m.default_privileges = crate::privileges::read(&mut *conn).await?;
    Ok(m)
}

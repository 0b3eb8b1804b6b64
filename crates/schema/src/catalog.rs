//! Introspection: reads pg_catalog into a `Model`, in one snapshot.
//!
//! Every query runs in the caller's transaction with `search_path` emptied, so the server renders
//! expressions with schema-qualified names. Objects that belong to an extension are left out (the
//! extension stands for them); objects of kinds the model does not cover are read by `unmodelled`
//! into `Model::unmodelled` with their catalog definition.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};

use crate::model::*;
use crate::SchemaError;

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

/// The non-owner grants of an ACL column, with the default ACL when it is null.
pub(crate) fn grants_expr(acl: &str, kind: &str, owner: &str) -> String {
    format!(
        "(SELECT coalesce(array_agg(CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_catalog.pg_get_userbyid(a.grantee) END \
            || '|' || a.privilege_type || '|' || a.is_grantable::text ORDER BY 1), '{{}}') \
          FROM pg_catalog.aclexplode(coalesce({acl}, pg_catalog.acldefault('{kind}', {owner}))) a \
          WHERE a.grantee <> {owner})"
    )
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

    // Schemas.
    let sql = format!(
        "SELECT n.nspname, pg_catalog.pg_get_userbyid(n.nspowner) AS owner,
                pg_catalog.obj_description(n.oid, 'pg_namespace') AS comment,
                {grants} AS grants
         FROM pg_catalog.pg_namespace n WHERE {USER_NS} AND {ext}",
        grants = grants_expr("n.nspacl", "n", "n.nspowner"),
        ext = not_ext_member("pg_namespace", "n.oid"),
    );
    for row in sqlx::query(&sql).fetch_all(&mut *conn).await? {
        m.namespaces.insert(
            row.try_get("nspname")?,
            Namespace {
                extras: extras(&row)?,
            },
        );
    }

    // Extensions.
    for row in sqlx::query(
        "SELECT e.extname, n.nspname, e.extversion FROM pg_catalog.pg_extension e
         JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace",
    )
    .fetch_all(&mut *conn)
    .await?
    {
        m.extensions.insert(
            row.try_get("extname")?,
            Extension {
                schema: row.try_get("nspname")?,
                version: row.try_get("extversion")?,
            },
        );
    }

    // Collations (ICU locale column names vary by server version, so read it through jsonb).
    let sql = format!(
        "SELECT n.nspname, c.collname AS relname, c.collprovider::text AS provider,
                c.collcollate, c.collctype, c.collisdeterministic,
                coalesce(to_jsonb(c) ->> 'colliculocale', to_jsonb(c) ->> 'colllocale') AS icu,
                pg_catalog.pg_get_userbyid(c.collowner) AS owner,
                pg_catalog.obj_description(c.oid, 'pg_collation') AS comment, '{{}}'::text[] AS grants
         FROM pg_catalog.pg_collation c JOIN pg_catalog.pg_namespace n ON n.oid = c.collnamespace
         WHERE {USER_NS} AND {ext}",
        ext = not_ext_member("pg_collation", "c.oid"),
    );
    for row in sqlx::query(&sql).fetch_all(&mut *conn).await? {
        let provider: String = row.try_get("provider")?;
        let mut options = match provider.as_str() {
            "i" => format!(
                "provider = icu, locale = {}",
                literal(&row.try_get::<Option<String>, _>("icu")?.unwrap_or_default())
            ),
            _ => format!(
                "provider = libc, lc_collate = {}, lc_ctype = {}",
                literal(
                    &row.try_get::<Option<String>, _>("collcollate")?
                        .unwrap_or_default()
                ),
                literal(
                    &row.try_get::<Option<String>, _>("collctype")?
                        .unwrap_or_default()
                )
            ),
        };
        if !row.try_get::<bool, _>("collisdeterministic")? {
            options.push_str(", deterministic = false");
        }
        m.collations.insert(
            qname(&row)?,
            Collation {
                options,
                extras: extras(&row)?,
            },
        );
    }

    // Enum types (the other kinds of types are in `unmodelled`).
    let sql = format!(
        "SELECT n.nspname, t.typname AS relname, t.typtype::text AS typtype,
                (SELECT coalesce(array_agg(e.enumlabel::text ORDER BY e.enumsortorder), '{{}}')
                   FROM pg_catalog.pg_enum e WHERE e.enumtypid = t.oid) AS labels,
                pg_catalog.pg_get_userbyid(t.typowner) AS owner,
                pg_catalog.obj_description(t.oid, 'pg_type') AS comment, {grants} AS grants
         FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
         WHERE {USER_NS} AND {ext}
           AND t.typtype = 'e'",
        grants = grants_expr("t.typacl", "T", "t.typowner"),
        ext = not_ext_member("pg_type", "t.oid"),
    );
    for row in sqlx::query(&sql).fetch_all(&mut *conn).await? {
        let name = qname(&row)?;
        m.enums.insert(
            name,
            EnumType {
                labels: row.try_get("labels")?,
                extras: extras(&row)?,
            },
        );
    }

    // Relations: tables, views, materialized views, sequences; oid -> name for the lookups below.
    let sql = format!(
        "SELECT c.oid::int8 AS oid, n.nspname, c.relname, c.relkind::text AS relkind,
                c.relpersistence::text AS persistence, coalesce(c.reloptions, '{{}}') AS reloptions,
                c.relrowsecurity, c.relforcerowsecurity, c.relispopulated,
                CASE WHEN c.relkind = 'p' THEN pg_catalog.pg_get_partkeydef(c.oid) END AS partkey,
                CASE WHEN c.relispartition THEN pg_catalog.pg_get_expr(c.relpartbound, c.oid) END AS partbound,
                CASE WHEN c.relkind IN ('v', 'm') THEN pg_catalog.pg_get_viewdef(c.oid) END AS viewdef,
                pg_catalog.pg_get_userbyid(c.relowner) AS owner,
                pg_catalog.obj_description(c.oid, 'pg_class') AS comment,
                {grants} AS grants
         FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
         WHERE {USER_NS} AND {ext} AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')",
        grants = grants_expr("c.relacl", "r", "c.relowner"),
        ext = not_ext_member("pg_class", "c.oid"),
    );
    let mut rels: HashMap<i64, QName> = HashMap::new();
    let mut kinds: HashMap<i64, String> = HashMap::new();
    let rows = sqlx::query(&sql).fetch_all(&mut *conn).await?;
    for row in &rows {
        let oid: i64 = row.try_get("oid")?;
        let name = qname(row)?;
        let kind: String = row.try_get("relkind")?;
        let extras = extras(row)?;
        match kind.as_str() {
            "r" | "p" => {
                m.tables.insert(
                    name.clone(),
                    Table {
                        columns: Vec::new(),
                        constraints: BTreeMap::new(),
                        indexes: BTreeMap::new(),
                        triggers: BTreeMap::new(),
                        policies: BTreeMap::new(),
                        unlogged: row.try_get::<String, _>("persistence")? == "u",
                        reloptions: row.try_get("reloptions")?,
                        row_security: row.try_get("relrowsecurity")?,
                        force_row_security: row.try_get("relforcerowsecurity")?,
                        partition_key: row.try_get("partkey")?,
                        partition_of: None,
                        inherits: Vec::new(),
                        extras,
                    },
                );
            }
            "v" | "m" => {
                let def: String = row
                    .try_get::<Option<String>, _>("viewdef")?
                    .unwrap_or_default();
                m.views.insert(
                    name.clone(),
                    View {
                        materialized: kind == "m",
                        definition: def.trim().trim_end_matches(';').to_string(),
                        columns: Vec::new(),
                        column_comments: BTreeMap::new(),
                        reloptions: row.try_get("reloptions")?,
                        populated: row.try_get("relispopulated")?,
                        indexes: BTreeMap::new(),
                        triggers: BTreeMap::new(),
                        extras,
                        depends: Depends::default(),
                    },
                );
            }
            _ => {}
        }
        rels.insert(oid, name);
        kinds.insert(oid, kind);
    }
    // Partition bounds and inheritance parents.
    for row in sqlx::query(
        "SELECT i.inhrelid::int8 AS child, i.inhparent::int8 AS parent, c.relispartition,
                pg_catalog.pg_get_expr(c.relpartbound, c.oid) AS bound
         FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
         WHERE c.relkind IN ('r', 'p') ORDER BY i.inhrelid, i.inhseqno",
    )
    .fetch_all(&mut *conn)
    .await?
    {
        let (Some(child), Some(parent)) = (
            rels.get(&row.try_get::<i64, _>("child")?),
            rels.get(&row.try_get::<i64, _>("parent")?),
        ) else {
            continue;
        };
        let Some(table) = m.tables.get_mut(child) else {
            continue;
        };
        if row.try_get::<bool, _>("relispartition")? {
            table.partition_of = Some((
                parent.clone(),
                row.try_get::<Option<String>, _>("bound")?
                    .unwrap_or_default(),
            ));
        } else {
            table.inherits.push(parent.clone());
        }
    }

    // Sequences (identity sequences belong to their column and are not listed).
    let sql = format!(
        "SELECT c.oid::int8 AS oid, n.nspname, c.relname, pg_catalog.format_type(s.seqtypid, NULL) AS data_type,
                s.seqstart, s.seqincrement, s.seqmin, s.seqmax, s.seqcache, s.seqcycle,
                (SELECT d.refobjid::int8 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_class'::regclass
                   AND d.objid = c.oid AND d.refclassid = 'pg_class'::regclass AND d.deptype = 'a' AND d.refobjsubid > 0) AS owner_rel,
                (SELECT a.attname::text FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_attribute a
                   ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
                   WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                   AND d.refclassid = 'pg_class'::regclass AND d.deptype = 'a' AND d.refobjsubid > 0) AS owner_col,
                pg_catalog.pg_get_userbyid(c.relowner) AS owner,
                pg_catalog.obj_description(c.oid, 'pg_class') AS comment,
                {grants} AS grants
         FROM pg_catalog.pg_sequence s JOIN pg_catalog.pg_class c ON c.oid = s.seqrelid
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
         WHERE {USER_NS} AND {ext}
           AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_class'::regclass
                           AND d.objid = c.oid AND d.deptype = 'i')",
        grants = grants_expr("c.relacl", "s", "c.relowner"),
        ext = not_ext_member("pg_class", "c.oid"),
    );
    for row in sqlx::query(&sql).fetch_all(&mut *conn).await? {
        let owner_rel: Option<i64> = row.try_get("owner_rel")?;
        let owner_col: Option<String> = row.try_get("owner_col")?;
        let owned_by = match (owner_rel.and_then(|o| rels.get(&o)), owner_col) {
            (Some(t), Some(c)) => Some((t.clone(), c)),
            _ => None,
        };
        m.sequences.insert(
            qname(&row)?,
            Sequence {
                data_type: row.try_get("data_type")?,
                start: row.try_get("seqstart")?,
                increment: row.try_get("seqincrement")?,
                min: row.try_get("seqmin")?,
                max: row.try_get("seqmax")?,
                cache: row.try_get("seqcache")?,
                cycle: row.try_get("seqcycle")?,
                owned_by,
                extras: extras(&row)?,
            },
        );
    }

    // Columns of tables and views.
    let sql = format!(
        "SELECT a.attrelid::int8 AS rel, a.attname::text AS name,
                pg_catalog.format_type(a.atttypid, a.atttypmod) AS data_type,
                CASE WHEN t.typtype = 'e' THEN tn.nspname::text END AS enum_schema,
                CASE WHEN t.typtype = 'e' THEN t.typname::text END AS enum_name,
                a.attnotnull, a.attislocal,
                CASE WHEN a.attgenerated = '' THEN pg_catalog.pg_get_expr(d.adbin, d.adrelid) END AS def,
                CASE WHEN a.attgenerated <> '' THEN pg_catalog.pg_get_expr(d.adbin, d.adrelid) END AS generated,
                nullif(a.attidentity::text, '') AS identity,
                CASE WHEN a.attcollation <> t.typcollation AND a.attcollation <> 0 THEN
                  (SELECT pg_catalog.quote_ident(cn.nspname) || '.' || pg_catalog.quote_ident(co.collname)
                   FROM pg_catalog.pg_collation co JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace
                   WHERE co.oid = a.attcollation) END AS collation,
                pg_catalog.col_description(a.attrelid, a.attnum) AS comment,
                CASE WHEN a.attacl IS NULL THEN '{{}}'::text[] ELSE {grants} END AS grants
         FROM pg_catalog.pg_attribute a
         JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
         JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
         JOIN pg_catalog.pg_namespace tn ON tn.oid = t.typnamespace
         LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
         WHERE {USER_NS} AND c.relkind IN ('r', 'p', 'v', 'm') AND a.attnum > 0 AND NOT a.attisdropped
         ORDER BY a.attrelid, a.attnum",
        grants = grants_expr("a.attacl", "c", "c.relowner"),
    );
    for row in sqlx::query(&sql).fetch_all(&mut *conn).await? {
        let Some(rel) = rels.get(&row.try_get::<i64, _>("rel")?) else {
            continue;
        };
        let name: String = row.try_get("name")?;
        let data_type: String = row.try_get("data_type")?;
        let comment: Option<String> = row.try_get("comment")?;
        if let Some(table) = m.tables.get_mut(rel) {
            table.columns.push(Column {
                name,
                data_type,
                enum_type: match (
                    row.try_get::<Option<String>, _>("enum_schema")?,
                    row.try_get::<Option<String>, _>("enum_name")?,
                ) {
                    (Some(s), Some(n)) => Some(QName::new(s, n)),
                    _ => None,
                },
                not_null: row.try_get("attnotnull")?,
                default: row.try_get("def")?,
                identity: row.try_get("identity")?,
                generated: row.try_get("generated")?,
                collation: row.try_get("collation")?,
                comment,
                grants: parse_grants(row.try_get("grants")?),
                local: row.try_get("attislocal")?,
            });
        } else if let Some(view) = m.views.get_mut(rel) {
            if let Some(c) = comment {
                view.column_comments.insert(name.clone(), c);
            }
            view.columns.push((name, data_type));
        }
    }

    // Constraints (not those inherited from a parent or cloned onto a partition).
    for row in sqlx::query(
        // Key columns in key order (not column order): a renamed or added column keeps its
        // place in the key, and a foreign key's columns pair with the referenced ones.
        "SELECT co.conrelid::int8 AS rel, co.conname::text AS name, co.contype::text AS kind,
                pg_catalog.pg_get_constraintdef(co.oid) AS def, co.confrelid::int8 AS fk_rel,
                (SELECT coalesce(array_agg(a.attname::text ORDER BY array_position(co.conkey, a.attnum)), '{}') FROM pg_catalog.pg_attribute a
                  WHERE a.attrelid = co.conrelid AND a.attnum = ANY (co.conkey)) AS columns,
                (SELECT coalesce(array_agg(a.attname::text ORDER BY array_position(co.confkey, a.attnum)), '{}') FROM pg_catalog.pg_attribute a
                  WHERE a.attrelid = co.confrelid AND a.attnum = ANY (co.confkey)) AS referenced_columns,
                pg_catalog.obj_description(co.oid, 'pg_constraint') AS comment
         FROM pg_catalog.pg_constraint co
         WHERE co.conrelid <> 0 AND co.conislocal AND co.conparentid = 0 AND co.contype IN ('p', 'u', 'f', 'c', 'x')",
    )
    .fetch_all(&mut *conn)
    .await?
    {
        let Some(rel) = rels.get(&row.try_get::<i64, _>("rel")?) else { continue };
        let Some(table) = m.tables.get_mut(rel) else { continue };
        let fk: i64 = row.try_get("fk_rel")?;
        table.constraints.insert(
            row.try_get("name")?,
            Constraint {
                kind: row.try_get("kind")?,
                definition: row.try_get("def")?,
                comment: row.try_get("comment")?,
                references: rels.get(&fk).cloned(),
                columns: row.try_get("columns")?,
                referenced_columns: row.try_get("referenced_columns")?,
            },
        );
    }

    // Indexes that no constraint owns and that are not a partition's copy of a parent's index.
    for row in sqlx::query(
        "SELECT i.indrelid::int8 AS rel, c.relname::text AS name, pg_catalog.pg_get_indexdef(i.indexrelid) AS def,
                pg_catalog.obj_description(i.indexrelid, 'pg_class') AS comment
         FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid
         WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint co WHERE co.conindid = i.indexrelid
                             AND co.contype IN ('p', 'u', 'x') AND co.conrelid = i.indrelid)
           AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_inherits h WHERE h.inhrelid = i.indexrelid)",
    )
    .fetch_all(&mut *conn)
    .await?
    {
        let Some(rel) = rels.get(&row.try_get::<i64, _>("rel")?) else { continue };
        let index = Index { definition: row.try_get("def")?, comment: row.try_get("comment")? };
        let name: String = row.try_get("name")?;
        if let Some(table) = m.tables.get_mut(rel) {
            table.indexes.insert(name, index);
        } else if let Some(view) = m.views.get_mut(rel) {
            view.indexes.insert(name, index);
        }
    }

    // Functions and procedures; aggregates and window functions are not modelled.
    let sql = format!(
        "SELECT p.oid::int8 AS oid, n.nspname, p.proname::text AS relname, p.prokind::text AS kind,
                pg_catalog.pg_get_function_identity_arguments(p.oid) AS args,
                CASE WHEN p.prokind IN ('f', 'p') THEN pg_catalog.pg_get_functiondef(p.oid) END AS def,
                pg_catalog.pg_get_function_result(p.oid) AS result,
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
                extras: extras(&row)?,
                uses_relations: rowtypes
                    .iter()
                    .filter_map(|o| rels.get(o).cloned())
                    .collect(),
            },
        );
    }

    // Triggers on tables and views (not internal ones, not a partition's clone).
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
            enabled: row.try_get("enabled")?,
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

    // Row-level security policies.
    for row in sqlx::query(
        "SELECT p.polrelid::int8 AS rel, p.polname::text AS name, p.polpermissive, p.polcmd::text AS cmd,
                CASE WHEN p.polroles = '{0}' THEN ARRAY['PUBLIC']
                     ELSE ARRAY(SELECT pg_catalog.pg_get_userbyid(r) FROM unnest(p.polroles) r ORDER BY 1) END AS roles,
                pg_catalog.pg_get_expr(p.polqual, p.polrelid) AS qual,
                pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) AS with_check
         FROM pg_catalog.pg_policy p",
    )
    .fetch_all(&mut *conn)
    .await?
    {
        let Some(rel) = rels.get(&row.try_get::<i64, _>("rel")?) else { continue };
        let Some(table) = m.tables.get_mut(rel) else { continue };
        let command = match row.try_get::<String, _>("cmd")?.as_str() {
            "r" => "SELECT",
            "a" => "INSERT",
            "w" => "UPDATE",
            "d" => "DELETE",
            _ => "ALL",
        };
        table.policies.insert(
            row.try_get("name")?,
            Policy {
                permissive: row.try_get("polpermissive")?,
                command: command.to_string(),
                roles: row.try_get("roles")?,
                using: row.try_get("qual")?,
                with_check: row.try_get("with_check")?,
            },
        );
    }

    // What each view's query reads, through its rewrite rule.
    for row in sqlx::query(
        "SELECT DISTINCT r.ev_class::int8 AS view, d.refclassid::regclass::text AS refclass,
                d.refobjid::int8 AS ref, d.refobjsubid AS sub,
                CASE WHEN d.refclassid = 'pg_class'::regclass AND d.refobjsubid > 0 THEN
                  (SELECT a.attname::text FROM pg_catalog.pg_attribute a
                   WHERE a.attrelid = d.refobjid AND a.attnum = d.refobjsubid) END AS column_name,
                CASE WHEN d.refclassid = 'pg_type'::regclass THEN
                  (SELECT ROW(tn.nspname, t.typname)::text FROM pg_catalog.pg_type t
                   JOIN pg_catalog.pg_namespace tn ON tn.oid = t.typnamespace WHERE t.oid = d.refobjid) END AS type_name
         FROM pg_catalog.pg_rewrite r
         JOIN pg_catalog.pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
         WHERE d.refobjid <> r.ev_class AND d.deptype = 'n'",
    )
    .fetch_all(&mut *conn)
    .await?
    {
        let Some(view_name) = rels.get(&row.try_get::<i64, _>("view")?) else { continue };
        let Some(view) = m.views.get_mut(view_name) else { continue };
        let refclass: String = row.try_get("refclass")?;
        let r: i64 = row.try_get("ref")?;
        match refclass.as_str() {
            "pg_class" => {
                if let Some(rel) = rels.get(&r) {
                    match row.try_get::<Option<String>, _>("column_name")? {
                        Some(col) => {
                            view.depends.columns.insert((rel.clone(), col));
                        }
                        None => {
                            view.depends.relations.insert(rel.clone());
                        }
                    }
                    view.depends.relations.insert(rel.clone());
                }
            }
            "pg_proc" => {
                if let Some(f) = procs.get(&r) {
                    view.depends.functions.insert(f.clone());
                }
            }
            "pg_type" => {
                if let Some(t) = row.try_get::<Option<String>, _>("type_name")? {
                    if let Some((schema, name)) = parse_row_pair(&t) {
                        view.depends.types.insert(QName::new(schema, name));
                    }
                }
            }
            _ => {}
        }
    }

    // Kinds the model leaves alone, compared by their catalog definition.
    crate::kinds::read(conn, &mut m).await?;
    m.unmodelled = crate::unmodelled::read(conn).await?;
    m.default_privileges = crate::privileges::read(&mut *conn).await?;
    Ok(m)
}

/// Parses the text of `ROW(a, b)`, e.g. `(public,shipping_status)` or `(public,"a b")`.
fn parse_row_pair(text: &str) -> Option<(String, String)> {
    let inner = text.strip_prefix('(')?.strip_suffix(')')?;
    let mut fields = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = inner.chars().peekable();
    while let Some(ch) = chars.next() {
        match ch {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(std::mem::take(&mut cur)),
            _ => cur.push(ch),
        }
    }
    fields.push(cur);
    match fields.as_slice() {
        [a, b] => Some((a.clone(), b.clone())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn row_pairs_parse_with_and_without_quotes() {
        assert_eq!(
            super::parse_row_pair("(public,e)"),
            Some(("public".into(), "e".into()))
        );
        assert_eq!(
            super::parse_row_pair("(public,\"a,\"\"b\")"),
            Some(("public".into(), "a,\"b".into()))
        );
    }
}

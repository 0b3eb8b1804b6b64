//! Expand/contract retypes (`integer` → `bigint` on a big table with views on it): a shadow
//! column kept in sync by a trigger, filled in batches of short transactions, its indexes built
//! concurrently and its keys validated while writers go on; then one short swap transaction
//! renames the columns and recreates the views. Nothing holds an exclusive lock for a rewrite.
//! This module decides which retypes can go that way and takes them out of the plan; `expand`
//! holds their statements.

use std::collections::BTreeSet;

use super::expand::{self, shadow_column, Retype, RetypedColumn};
use super::{
    drop_steps, not_null_check, shadow_name, step_object, OnlinePlan, PathChoice, PathKind,
};
use crate::casts::cast_effect;
use crate::model::ConstraintKind;
use crate::model::{Model, QName, Table};
use crate::plan::Plan;

/// Why `table` cannot be retyped by expand/contract, or its single-column key.
fn eligible(
    from: &Model,
    table: &QName,
    ft: &Table,
    columns: &BTreeSet<String>,
) -> Result<(String, String), String> {
    if ft.partition_key.is_some() || ft.partition_of.is_some() || !ft.inherits.is_empty() {
        return Err("partitioned or inherited tables are retyped in the transaction".into());
    }
    let mut key = None;
    for (cn, c) in &ft.constraints {
        let on_retyped = c.columns.iter().any(|x| columns.contains(x));
        if c.kind == ConstraintKind::PrimaryKey && c.columns.len() == 1 {
            key = Some(c.columns[0].clone());
        }
        if on_retyped && c.kind != ConstraintKind::ForeignKey {
            return Err(format!(
                "constraint {cn} (not a foreign key) is on the retyped column"
            ));
        }
    }
    for (tn, t) in &from.tables {
        for (cn, c) in &t.constraints {
            if c.references.as_ref() == Some(table)
                && c.referenced_columns.iter().any(|x| columns.contains(x))
            {
                return Err(format!(
                    "foreign key {tn}.{cn} references the retyped column (it would have to be retyped with it)"
                ));
            }
        }
    }
    // A policy or trigger WHEN reading the column follows the old one through the swap's rename
    // (pg_depend is by column number), and the cleanup could not drop it.
    for (object, needs) in &from.needs {
        let reads_retyped = needs.iter().any(|n| {
            matches!(n, crate::objects::ObjKey::Column(t, c) if t == table && columns.contains(c))
        });
        if reads_retyped
            && matches!(
                object,
                crate::objects::ObjKey::Policy(..) | crate::objects::ObjKey::Trigger(..)
            )
        {
            return Err(format!("{object} reads the retyped column"));
        }
    }
    for c in columns {
        let fc = ft.column(c).expect("retyped column exists");
        if fc.identity.is_some() || fc.generated.is_some() || fc.enum_type.is_some() {
            return Err(format!("{c} is an identity, generated or enum column"));
        }
        let owned = (table.clone(), c.clone());
        if from
            .sequences
            .values()
            .any(|s| s.owned_by.as_ref() == Some(&owned))
        {
            // Dropping the old column in the swap would drop the sequence it owns.
            return Err(format!("{c} owns a sequence (a serial column)"));
        }
    }
    let key = key.ok_or("the table has no single-column primary key to copy rows in batches by")?;
    if columns.contains(&key) {
        return Err("the retyped column is the primary key".into());
    }
    let key_type = ft.column(&key).expect("key column").data_type.clone();
    Ok((key, key_type))
}

/// Views (of FROM or TO) that read `table`, directly or through other views.
fn views_on(from: &Model, to: &Model, table: &QName) -> BTreeSet<QName> {
    let mut set: BTreeSet<QName> = BTreeSet::new();
    loop {
        let before = set.len();
        for views in [&from.views, &to.views] {
            for (n, v) in views {
                if v.depends.relations.contains(table)
                    || v.depends.relations.iter().any(|r| set.contains(r))
                {
                    set.insert(n.clone());
                }
            }
        }
        if set.len() == before {
            return set;
        }
    }
}

fn retype_steps(plan: &Plan, from: &Model, to: &Model) -> Vec<(usize, QName)> {
    plan.steps
        .iter()
        .enumerate()
        .filter(|(_, s)| s.action.starts_with("retype "))
        .filter_map(|(i, s)| {
            from.tables
                .keys()
                .find(|t| to.tables.contains_key(*t) && s.object == format!("table {t}"))
                .map(|t| (i, t.clone()))
        })
        .collect()
}

/// Columns of `table` whose type changes (not only their collation).
fn retyped_columns(from: &Model, to: &Model, table: &QName) -> Vec<(String, String, String)> {
    let (ft, tt) = (&from.tables[table], &to.tables[table]);
    tt.columns
        .iter()
        .filter_map(|tc| {
            let fc = ft.column(&tc.name)?;
            (fc.data_type != tc.data_type)
                .then(|| (tc.name.clone(), fc.data_type.clone(), tc.data_type.clone()))
        })
        .collect()
}

const WHY_ONLINE: &str = "ALTER COLUMN TYPE rewrites the whole table (and its indexes) under an ACCESS EXCLUSIVE lock; expand/contract holds that lock only for the swap";
const HOW_ONLINE: &str = "expand/contract: shadow column + sync trigger, batched backfill in short transactions, indexes built concurrently and keys validated, then one short swap transaction (rename, views recreated)";

/// Mode auto: retypes stay in the transaction, and the plan says why.
pub(crate) fn explain_auto(from: &Model, to: &Model, plan: &Plan, paths: &mut Vec<PathChoice>) {
    for (i, t) in retype_steps(plan, from, to) {
        if !plan.steps[i]
            .hazards
            .iter()
            .any(|h| h.kind == crate::plan::HazardKind::TableRewrite)
        {
            continue;
        }
        paths.push(PathChoice {
            object: format!("table {t}"),
            change: plan.steps[i].action.clone(),
            path: PathKind::InTransaction,
            how: "ALTER COLUMN TYPE, rewriting the table under the transaction's exclusive lock".into(),
            why: "expand/contract is not free (every row is written a second time, a trigger runs meanwhile); --online takes it".into(),
        });
    }
}

/// Mode on: takes the retypes that can go expand/contract out of `out.main`.
pub(crate) fn rewrite(from: &Model, to: &Model, out: &mut OnlinePlan) -> Vec<Retype> {
    let mut retypes = Vec::new();
    let mut remove = BTreeSet::new();
    for (i, table) in retype_steps(&out.main, from, to) {
        let step = &out.main.steps[i];
        let object = step.object.clone();
        let change = step.action.clone();
        let rewrites = step
            .hazards
            .iter()
            .any(|h| h.kind == crate::plan::HazardKind::TableRewrite);
        let cols = retyped_columns(from, to, &table);
        let names: BTreeSet<String> = cols.iter().map(|c| c.0.clone()).collect();
        let ft = &from.tables[&table];
        let tt = &to.tables[&table];
        let refuse = |why: String| PathChoice {
            object: object.clone(),
            change: change.clone(),
            path: PathKind::InTransaction,
            how: "ALTER COLUMN TYPE under the transaction's exclusive lock".into(),
            why,
        };
        if !rewrites {
            out.paths.push(refuse(
                "the new type needs no rewrite: a catalog change, short under any lock".into(),
            ));
            continue;
        }
        if let Some((c, ..)) = cols.iter().find(|(_, a, b)| cast_effect(a, b).lossy) {
            out.paths.push(refuse(format!(
                "{c}: the cast can lose or reject values; it is checked and made in one statement"
            )));
            continue;
        }
        if step.sql.contains(" USING (") || cols.is_empty() {
            out.paths.push(refuse(
                "a declared USING expression or a collation change is applied as declared".into(),
            ));
            continue;
        }
        let (key, key_type) = match eligible(from, &table, ft, &names) {
            Ok(k) => k,
            Err(why) => {
                out.paths.push(refuse(why));
                continue;
            }
        };
        let views = views_on(from, to, &table);
        if views.iter().any(|v| {
            from.views
                .get(v)
                .or(to.views.get(v))
                .is_some_and(|v| v.materialized)
        }) {
            out.paths.push(refuse(
                "a materialized view reads the table; refilling it would hold the swap's lock"
                    .into(),
            ));
            continue;
        }

        let t = table.sql();
        let function = QName::new(&table.schema, shadow_name(&table.name, "__online_sync"));
        let trigger = shadow_name(&table.name, "__online_sync");
        let view_objects: BTreeSet<String> = views
            .iter()
            .flat_map(|v| [step_object("view", v), step_object("materialized view", v)])
            .collect();
        let mut view_drops = Vec::new();
        let mut view_creates = Vec::new();
        let mut defaults = Vec::new();
        for (j, s) in out.main.steps.iter().enumerate() {
            if view_objects.contains(&s.object) {
                remove.insert(j);
                if s.sql.starts_with("DROP VIEW") || s.sql.starts_with("DROP MATERIALIZED VIEW") {
                    view_drops.push(s.sql.clone());
                } else {
                    view_creates.push(s.sql.clone());
                }
                continue;
            }
            // What an interrupted earlier run left (shadow column, trigger, function, shadow
            // indexes and keys): the plan would drop it; this path finishes it instead.
            if s.sql.contains("__online") && (s.object == object || s.sql.contains(&function.sql()))
            {
                remove.insert(j);
                continue;
            }
            if s.object != object {
                continue;
            }
            if j == i || s.sql == format!("ANALYZE {t};") {
                remove.insert(j);
                continue;
            }
            for c in &names {
                let about = s.action == format!("drop default of {c}")
                    || s.action == format!("default of {c}")
                    || s.action == format!("comment on column {c}")
                    || s.action.ends_with(&format!(" on column {c}"));
                if about {
                    remove.insert(j);
                    if s.action == format!("default of {c}") {
                        defaults.push(s.sql.clone());
                    }
                }
            }
        }

        let columns: Vec<RetypedColumn> = cols
            .iter()
            .map(|(name, _, to_type)| RetypedColumn {
                name: name.clone(),
                shadow: shadow_column(name),
                to_type: to_type.clone(),
                not_null_check: tt
                    .column(name)
                    .is_some_and(|c| c.not_null)
                    .then(|| not_null_check(&shadow_column(name))),
            })
            .collect();
        let expand::Shadows {
            indexes,
            foreign_keys,
            renames,
            cleanup,
        } = expand::shadows(&table, ft, &names, &columns);
        let swap = expand::swap_sql(
            &table,
            ft,
            tt,
            &columns,
            (&trigger, &function),
            expand::SwapParts {
                view_drops,
                view_creates,
                renames,
                defaults,
            },
        );

        out.settled_later.insert(table.clone());
        out.settled_later.extend(views.iter().cloned());
        out.paths.push(PathChoice {
            object,
            change,
            path: PathKind::Online,
            how: HOW_ONLINE.into(),
            why: WHY_ONLINE.into(),
        });
        let referenced: Vec<QName> = ft
            .constraints
            .values()
            .filter(|c| {
                c.kind == ConstraintKind::ForeignKey && c.columns.iter().any(|x| names.contains(x))
            })
            .filter_map(|c| c.references.clone())
            .filter(|r| r != &table)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        retypes.push(Retype {
            table,
            key,
            key_type,
            columns,
            function,
            trigger,
            indexes,
            foreign_keys,
            cleanup,
            referenced,
            swap,
        });
    }
    drop_steps(&mut out.main, &remove);
    retypes
}

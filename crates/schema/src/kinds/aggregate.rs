//! Aggregates (`CREATE AGGREGATE`): reader, typed diff, generator.
//!
//! The statement is composed from pg_aggregate, so two databases with the same aggregate compare
//! equal whatever text created it. Created after the functions it calls; changed in place with
//! `CREATE OR REPLACE AGGREGATE` unless its result type changes (then dropped and created);
//! dropped after the views that use it and before the functions it calls.

use std::collections::BTreeMap;

use serde::Serialize;
use sqlx::{PgConnection, Row};

use super::Generated;
use crate::catalog::{grants_expr, not_ext_member, USER_NS};
use crate::diff::{extras_details, CompareOptions, Difference, Presence};
use crate::model::{literal, Extras, FnName, Grant, Model, QName};
use crate::objects::ObjKey;
use crate::plan::{step, Phase};
use crate::SchemaError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Aggregate {
    /// `pg_get_function_arguments`: the argument list as `CREATE AGGREGATE` takes it
    /// (`double precision ORDER BY anyelement` for an ordered-set aggregate).
    pub arguments: String,
    /// The options in parentheses: `SFUNC = public.add_sq, STYPE = bigint, INITCOND = '0'`.
    pub options: String,
    pub result: String,
    pub extras: Extras,
}

impl Aggregate {
    fn create_sql(&self, name: &FnName, replace: bool) -> String {
        format!(
            "CREATE {}AGGREGATE {}({}) ({});",
            if replace { "OR REPLACE " } else { "" },
            name.name.sql(),
            self.arguments,
            self.options
        )
    }
}

/// Appends `KEY = value` when there is a value.
fn opt(o: &mut Vec<String>, key: &str, v: Option<String>) {
    if let Some(v) = v {
        o.push(format!("{key} = {v}"));
    }
}

/// `name(identity arguments)` for DROP, COMMENT, ALTER and GRANT.
fn target(name: &FnName) -> String {
    format!("{}({})", name.name.sql(), name.args)
}

pub async fn read(conn: &mut PgConnection) -> Result<BTreeMap<FnName, Aggregate>, SchemaError> {
    let func = |col: &str| format!("NULLIF({col}::text, '-')");
    let sql = format!(
        "SELECT n.nspname::text AS schema, p.proname::text AS name,
                pg_catalog.pg_get_function_identity_arguments(p.oid) AS args,
                pg_catalog.pg_get_function_arguments(p.oid) AS arguments,
                pg_catalog.pg_get_function_result(p.oid) AS result,
                a.aggkind::text AS kind, {sfunc} AS sfunc, pg_catalog.format_type(a.aggtranstype, NULL) AS stype,
                a.aggtransspace AS sspace, {finalfunc} AS finalfunc, a.aggfinalextra AS finalextra,
                a.aggfinalmodify::text AS finalmodify, {combinefunc} AS combinefunc,
                {serialfunc} AS serialfunc, {deserialfunc} AS deserialfunc, a.agginitval AS initcond,
                {msfunc} AS msfunc, {minvfunc} AS minvfunc,
                CASE WHEN a.aggmtranstype <> 0 THEN pg_catalog.format_type(a.aggmtranstype, NULL) END AS mstype,
                a.aggmtransspace AS msspace, {mfinalfunc} AS mfinalfunc, a.aggmfinalextra AS mfinalextra,
                a.aggmfinalmodify::text AS mfinalmodify, a.aggminitval AS minitcond,
                (SELECT CASE WHEN opn.nspname = 'pg_catalog' THEN o.oprname::text
                             ELSE 'OPERATOR(' || pg_catalog.quote_ident(opn.nspname) || '.' || o.oprname || ')' END
                   FROM pg_catalog.pg_operator o JOIN pg_catalog.pg_namespace opn ON opn.oid = o.oprnamespace
                  WHERE o.oid = a.aggsortop) AS sortop,
                p.proparallel::text AS parallel,
                pg_catalog.pg_get_userbyid(p.proowner) AS owner,
                pg_catalog.obj_description(p.oid, 'pg_proc') AS comment, {grants} AS grants
         FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_aggregate a ON a.aggfnoid = p.oid
         JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
         WHERE {USER_NS} AND {ext}",
        sfunc = func("a.aggtransfn"),
        finalfunc = func("a.aggfinalfn"),
        combinefunc = func("a.aggcombinefn"),
        serialfunc = func("a.aggserialfn"),
        deserialfunc = func("a.aggdeserialfn"),
        msfunc = func("a.aggmtransfn"),
        minvfunc = func("a.aggminvtransfn"),
        mfinalfunc = func("a.aggmfinalfn"),
        grants = grants_expr("p.proacl", "f", "p.proowner"),
        ext = not_ext_member("pg_proc", "p.oid"),
    );
    let mut out = BTreeMap::new();
    for row in sqlx::query(&sql).fetch_all(&mut *conn).await? {
        let text = |c: &str| row.try_get::<Option<String>, _>(c);
        let mut o: Vec<String> = Vec::new();
        let modify = |m: Option<String>| {
            m.map(|m| {
                match m.as_str() {
                    "s" => "SHAREABLE",
                    "w" => "READ_WRITE",
                    _ => "READ_ONLY",
                }
                .to_string()
            })
        };
        let space = |c: &str| -> Result<Option<String>, sqlx::Error> {
            Ok(Some(row.try_get::<i32, _>(c)?)
                .filter(|n| *n > 0)
                .map(|n| n.to_string()))
        };
        opt(&mut o, "SFUNC", text("sfunc")?);
        opt(&mut o, "STYPE", text("stype")?);
        opt(&mut o, "SSPACE", space("sspace")?);
        let finalfunc = text("finalfunc")?;
        if finalfunc.is_some() {
            opt(&mut o, "FINALFUNC", finalfunc);
            if row.try_get::<bool, _>("finalextra")? {
                o.push("FINALFUNC_EXTRA".into());
            }
            o.push(format!(
                "FINALFUNC_MODIFY = {}",
                modify(text("finalmodify")?).unwrap_or_default()
            ));
        }
        opt(&mut o, "COMBINEFUNC", text("combinefunc")?);
        opt(&mut o, "SERIALFUNC", text("serialfunc")?);
        opt(&mut o, "DESERIALFUNC", text("deserialfunc")?);
        opt(&mut o, "INITCOND", text("initcond")?.map(|v| literal(&v)));
        let msfunc = text("msfunc")?;
        if msfunc.is_some() {
            opt(&mut o, "MSFUNC", msfunc);
            opt(&mut o, "MINVFUNC", text("minvfunc")?);
            opt(&mut o, "MSTYPE", text("mstype")?);
            opt(&mut o, "MSSPACE", space("msspace")?);
            let mfinal = text("mfinalfunc")?;
            if mfinal.is_some() {
                opt(&mut o, "MFINALFUNC", mfinal);
                if row.try_get::<bool, _>("mfinalextra")? {
                    o.push("MFINALFUNC_EXTRA".into());
                }
                o.push(format!(
                    "MFINALFUNC_MODIFY = {}",
                    modify(text("mfinalmodify")?).unwrap_or_default()
                ));
            }
            opt(&mut o, "MINITCOND", text("minitcond")?.map(|v| literal(&v)));
        }
        opt(&mut o, "SORTOP", text("sortop")?);
        o.push(format!(
            "PARALLEL = {}",
            match text("parallel")?.as_deref() {
                Some("s") => "SAFE",
                Some("r") => "RESTRICTED",
                _ => "UNSAFE",
            }
        ));
        if text("kind")?.as_deref() == Some("h") {
            o.push("HYPOTHETICAL".into());
        }
        let grants: Vec<String> = row.try_get("grants")?;
        out.insert(
            FnName {
                name: QName::new(
                    row.try_get::<String, _>("schema")?,
                    row.try_get::<String, _>("name")?,
                ),
                args: row.try_get("args")?,
            },
            Aggregate {
                arguments: row.try_get("arguments")?,
                options: o.join(", "),
                result: row.try_get("result")?,
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

/// How one aggregate changes.
#[derive(Debug, PartialEq, Eq)]
pub enum AggregateChange {
    Same,
    /// Same result type: `CREATE OR REPLACE AGGREGATE`.
    Replace,
    /// Another result type: drop and create.
    Recreate,
}

pub fn diff(a: &Aggregate, b: &Aggregate) -> AggregateChange {
    if a.result != b.result || a.arguments != b.arguments {
        AggregateChange::Recreate
    } else if a.options != b.options {
        AggregateChange::Replace
    } else {
        AggregateChange::Same
    }
}

pub fn differences(
    from: &BTreeMap<FnName, Aggregate>,
    to: &BTreeMap<FnName, Aggregate>,
    opts: CompareOptions,
) -> Vec<Difference> {
    let mut out = Vec::new();
    let mut push = |name: &FnName, presence, details| {
        out.push(Difference {
            kind: "aggregate".into(),
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
        if a.result != b.result {
            details.push(format!("result: {} → {}", a.result, b.result));
        }
        if a.options != b.options {
            details.push(format!("definition: {} → {}", a.options, b.options));
        }
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

fn drop(out: &mut Generated, name: &FnName, action: &str) {
    // After the views that use it are dropped, before any function it calls is.
    out.push(
        Phase::DropViews,
        step(
            format!("aggregate {name}"),
            action,
            format!("DROP AGGREGATE {};", target(name)),
        )
        .dropping(ObjKey::Function(name.clone())),
    );
}

pub(crate) fn steps(from: &Model, to: &Model, opts: CompareOptions, out: &mut Generated) {
    for (name, b) in &to.aggregates {
        let object = format!("aggregate {name}");
        let t = target(name);
        let a = from.aggregates.get(name);
        let change = a.map_or(AggregateChange::Recreate, |a| diff(a, b));
        let kept = match (a, &change) {
            (Some(_), AggregateChange::Recreate) => {
                drop(out, name, "drop to create with another result type");
                None
            }
            (a, _) => a,
        };
        match change {
            AggregateChange::Same => {}
            AggregateChange::Replace => out.push(
                Phase::Functions,
                step(&object, "replace", b.create_sql(name, true))
                    .creating(ObjKey::Function(name.clone())),
            ),
            AggregateChange::Recreate => out.push(
                Phase::Functions,
                step(&object, "create", b.create_sql(name, false))
                    .creating(ObjKey::Function(name.clone())),
            ),
        }
        out.extras(
            "AGGREGATE",
            &t,
            &object,
            &ObjKey::Function(name.clone()),
            kept.map(|a| &a.extras),
            &b.extras,
            opts,
            &from.current_user,
        );
    }
    for name in from
        .aggregates
        .keys()
        .filter(|n| !to.aggregates.contains_key(*n))
    {
        drop(out, name, "drop");
    }
}

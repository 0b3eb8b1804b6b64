//! Comparing two models: per object, whether it is only in FROM, only in TO, or what differs.
//!
//! This is the operator's view of drift (`db diff`, `db verify`) and the check before COMMIT. The
//! planner works from the two models directly; both compare the same fields.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;

use serde::Serialize;

use crate::model::*;

/// How two models are compared.
#[derive(Debug, Clone, Copy)]
pub struct CompareOptions {
    /// Compare object owners. Off when the target was loaded from SQL into a scratch database,
    /// whose objects are all owned by whoever loaded it.
    pub owners: bool,
}

impl Default for CompareOptions {
    fn default() -> Self {
        Self { owners: true }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    OnlyInFrom,
    OnlyInTo,
    Differs,
}

/// One object that is not the same on both sides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Difference {
    /// `table`, `view`, `materialized view`, `function`, `sequence`, `enum`, `schema`, ...
    pub kind: String,
    pub name: String,
    pub presence: Presence,
    /// For `Differs`: one line per differing property, `column user_id: type integer → bigint`.
    pub details: Vec<String>,
}

/// All differences between two models; empty means the same schema.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Drift {
    pub differences: Vec<Difference>,
}

impl Drift {
    pub fn is_empty(&self) -> bool {
        self.differences.is_empty()
    }
}

struct Collector {
    out: Vec<Difference>,
}

impl Collector {
    fn maps<K: Ord + ToString, V>(
        &mut self,
        kind: &str,
        from: &BTreeMap<K, V>,
        to: &BTreeMap<K, V>,
        mut details: impl FnMut(&V, &V) -> Vec<String>,
    ) {
        for (k, a) in from {
            match to.get(k) {
                None => self.push(kind, k.to_string(), Presence::OnlyInFrom, vec![]),
                Some(b) => {
                    let d = details(a, b);
                    if !d.is_empty() {
                        self.push(kind, k.to_string(), Presence::Differs, d);
                    }
                }
            }
        }
        for k in to.keys().filter(|k| !from.contains_key(*k)) {
            self.push(kind, k.to_string(), Presence::OnlyInTo, vec![]);
        }
    }

    fn push(&mut self, kind: &str, name: String, presence: Presence, details: Vec<String>) {
        self.out.push(Difference {
            kind: kind.to_string(),
            name,
            presence,
            details,
        });
    }
}

pub(crate) fn show<T: Debug>(v: &Option<T>) -> String {
    match v {
        None => "none".into(),
        Some(x) => format!("{x:?}"),
    }
}

pub(crate) fn field<T: PartialEq + Debug>(out: &mut Vec<String>, what: &str, a: &T, b: &T) {
    if a != b {
        out.push(format!("{what}: {a:?} → {b:?}"));
    }
}

pub(crate) fn extras_details(out: &mut Vec<String>, a: &Extras, b: &Extras, opts: CompareOptions) {
    if opts.owners && a.owner != b.owner {
        out.push(format!("owner: {} → {}", a.owner, b.owner));
    }
    if a.comment != b.comment {
        out.push(format!(
            "comment: {} → {}",
            show(&a.comment),
            show(&b.comment)
        ));
    }
    grants_details(out, "", &a.grants, &b.grants);
}

fn grants_details(out: &mut Vec<String>, prefix: &str, a: &BTreeSet<Grant>, b: &BTreeSet<Grant>) {
    for g in a.difference(b) {
        out.push(format!(
            "{prefix}grant {} to {} only in FROM",
            g.privilege, g.grantee
        ));
    }
    for g in b.difference(a) {
        out.push(format!(
            "{prefix}grant {} to {} only in TO",
            g.privilege, g.grantee
        ));
    }
}

/// Named sub-objects (constraints, indexes, ...) of a table or view.
fn sub_details<V: PartialEq + Debug>(
    out: &mut Vec<String>,
    what: &str,
    a: &BTreeMap<String, V>,
    b: &BTreeMap<String, V>,
    describe: impl Fn(&V) -> String,
) {
    for (k, va) in a {
        match b.get(k) {
            None => out.push(format!("{what} {k} only in FROM")),
            Some(vb) if va != vb => {
                out.push(format!("{what} {k}: {} → {}", describe(va), describe(vb)))
            }
            _ => {}
        }
    }
    for (k, vb) in b {
        if !a.contains_key(k) {
            out.push(format!("{what} {k} only in TO: {}", describe(vb)));
        }
    }
}

pub fn column_details(out: &mut Vec<String>, a: &Column, b: &Column) {
    let n = &a.name;
    field(out, &format!("column {n} type"), &a.data_type, &b.data_type);
    field(
        out,
        &format!("column {n} not null"),
        &a.not_null,
        &b.not_null,
    );
    if a.default != b.default {
        out.push(format!(
            "column {n} default: {} → {}",
            show(&a.default),
            show(&b.default)
        ));
    }
    field(
        out,
        &format!("column {n} identity"),
        &a.identity,
        &b.identity,
    );
    field(
        out,
        &format!("column {n} generated"),
        &a.generated,
        &b.generated,
    );
    field(
        out,
        &format!("column {n} collation"),
        &a.collation,
        &b.collation,
    );
    field(out, &format!("column {n} comment"), &a.comment, &b.comment);
    grants_details(out, &format!("column {n}: "), &a.grants, &b.grants);
}

fn table_details(a: &Table, b: &Table, opts: CompareOptions) -> Vec<String> {
    let mut out = Vec::new();
    for ca in &a.columns {
        match b.column(&ca.name) {
            None => out.push(format!(
                "column {} ({}) only in FROM",
                ca.name, ca.data_type
            )),
            Some(cb) => column_details(&mut out, ca, cb),
        }
    }
    for cb in &b.columns {
        if a.column(&cb.name).is_none() {
            out.push(format!("column {} ({}) only in TO", cb.name, cb.data_type));
        }
    }
    sub_details(
        &mut out,
        "constraint",
        &a.constraints,
        &b.constraints,
        |c| c.definition.clone(),
    );
    sub_details(&mut out, "index", &a.indexes, &b.indexes, |i| {
        i.definition.clone()
    });
    sub_details(&mut out, "trigger", &a.triggers, &b.triggers, |t| {
        format!("{} ({})", t.definition, t.enabled)
    });
    sub_details(&mut out, "policy", &a.policies, &b.policies, |p| {
        format!("{p:?}")
    });
    field(&mut out, "unlogged", &a.unlogged, &b.unlogged);
    field(&mut out, "storage options", &a.reloptions, &b.reloptions);
    field(
        &mut out,
        "row level security",
        &a.row_security,
        &b.row_security,
    );
    field(
        &mut out,
        "forced row level security",
        &a.force_row_security,
        &b.force_row_security,
    );
    field(
        &mut out,
        "partition key",
        &a.partition_key,
        &b.partition_key,
    );
    field(&mut out, "partition of", &a.partition_of, &b.partition_of);
    field(&mut out, "inherits", &a.inherits, &b.inherits);
    extras_details(&mut out, &a.extras, &b.extras, opts);
    out
}

fn view_details(a: &View, b: &View, opts: CompareOptions) -> Vec<String> {
    let mut out = Vec::new();
    field(&mut out, "materialized", &a.materialized, &b.materialized);
    if a.definition != b.definition {
        out.push(format!(
            "definition: {} → {}",
            one_line(&a.definition),
            one_line(&b.definition)
        ));
    }
    field(&mut out, "columns", &a.columns, &b.columns);
    field(
        &mut out,
        "column comments",
        &a.column_comments,
        &b.column_comments,
    );
    field(&mut out, "options", &a.reloptions, &b.reloptions);
    field(&mut out, "populated", &a.populated, &b.populated);
    sub_details(&mut out, "index", &a.indexes, &b.indexes, |i| {
        i.definition.clone()
    });
    sub_details(&mut out, "trigger", &a.triggers, &b.triggers, |t| {
        format!("{} ({})", t.definition, t.enabled)
    });
    extras_details(&mut out, &a.extras, &b.extras, opts);
    out
}

/// A definition squeezed onto one line for a report.
pub fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Every difference between `from` and `to`.
pub fn compare(from: &Model, to: &Model, opts: CompareOptions) -> Drift {
    let mut c = Collector { out: Vec::new() };
    c.maps("schema", &from.namespaces, &to.namespaces, |a, b| {
        let mut out = Vec::new();
        extras_details(&mut out, &a.extras, &b.extras, opts);
        out
    });
    c.maps("extension", &from.extensions, &to.extensions, |a, b| {
        let mut out = Vec::new();
        field(&mut out, "schema", &a.schema, &b.schema);
        field(&mut out, "version", &a.version, &b.version);
        out
    });
    c.maps("collation", &from.collations, &to.collations, |a, b| {
        let mut out = Vec::new();
        field(&mut out, "options", &a.options, &b.options);
        extras_details(&mut out, &a.extras, &b.extras, opts);
        out
    });
    c.maps("enum", &from.enums, &to.enums, |a, b| {
        let mut out = Vec::new();
        field(&mut out, "labels", &a.labels, &b.labels);
        extras_details(&mut out, &a.extras, &b.extras, opts);
        out
    });
    c.maps("sequence", &from.sequences, &to.sequences, |a, b| {
        let mut out = Vec::new();
        field(&mut out, "type", &a.data_type, &b.data_type);
        field(&mut out, "start", &a.start, &b.start);
        field(&mut out, "increment", &a.increment, &b.increment);
        field(&mut out, "min", &a.min, &b.min);
        field(&mut out, "max", &a.max, &b.max);
        field(&mut out, "cache", &a.cache, &b.cache);
        field(&mut out, "cycle", &a.cycle, &b.cycle);
        field(&mut out, "owned by", &a.owned_by, &b.owned_by);
        extras_details(&mut out, &a.extras, &b.extras, opts);
        out
    });
    c.maps("table", &from.tables, &to.tables, |a, b| {
        table_details(a, b, opts)
    });
    let (fv, tv) = split_views(from, to);
    c.maps("view", &fv.0, &tv.0, |a, b| view_details(a, b, opts));
    c.maps("materialized view", &fv.1, &tv.1, |a, b| {
        view_details(a, b, opts)
    });
    c.maps("function", &from.functions, &to.functions, |a, b| {
        let mut out = Vec::new();
        if a.definition != b.definition {
            out.push(format!(
                "definition: {} → {}",
                one_line(&a.definition),
                one_line(&b.definition)
            ));
        }
        extras_details(&mut out, &a.extras, &b.extras, opts);
        out
    });
    c.out.extend(crate::kinds::differences(from, to, opts));
    c.out.extend(crate::privileges::compare(
        &from.default_privileges,
        &to.default_privileges,
    ));
    c.out.extend(crate::unmodelled::compare(
        &from.unmodelled,
        &to.unmodelled,
        opts,
    ));
    Drift { differences: c.out }
}

type ViewMaps = (BTreeMap<QName, View>, BTreeMap<QName, View>);

/// Views and materialized views as separate kinds, so a view turned matview reads as drop + create.
fn split_views(from: &Model, to: &Model) -> (ViewMaps, ViewMaps) {
    let split = |m: &Model| {
        let (mut v, mut mv) = (BTreeMap::new(), BTreeMap::new());
        for (k, view) in &m.views {
            if view.materialized {
                mv.insert(k.clone(), view.clone())
            } else {
                v.insert(k.clone(), view.clone())
            };
        }
        (v, mv)
    };
    (split(from), split(to))
}

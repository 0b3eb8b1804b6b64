//! Dependency cycles between whole statements that a known rewrite breaks, the way PostgreSQL
//! itself needs such a schema made:
//! - a new table whose column defaults call functions (one of which needs the table, directly or
//!   through other statements) is created without those defaults, each then set by its own
//!   `ALTER TABLE … SET DEFAULT` after the functions;
//! - a view is first created as a stand-in with the target's columns and no reads (`SELECT
//!   NULL::type AS column, ...`), so what reads it can be made, and replaced with its definition
//!   once what the definition needs exists (`CREATE OR REPLACE VIEW` keeps the columns).
//!
//! Only a plan with a cycle is rewritten; any cycle no rewrite breaks stays a blocker.

use super::graph::{permute, sort};
use super::*;
use crate::objects::Needs;

/// Orders `steps`; on a cycle, tries one rewrite for each table and view left in it (phase
/// order), then the defaults of all of those tables at once, and keeps the first that orders
/// every step. The second value describes cycles left, if any.
pub(super) fn order(
    steps: Vec<Step>,
    from: &Model,
    to: &Model,
    notes: &mut Vec<String>,
) -> (Vec<Step>, Vec<String>) {
    let sorted = sort(&steps, &from.needs, &to.needs);
    if sorted.cycles.is_empty() {
        return (permute(steps, &sorted.placed), sorted.cycles);
    }
    let tables: Vec<(usize, &QName)> = sorted
        .stuck
        .iter()
        .filter_map(|&i| defaults_candidate(&steps[i], to).map(|t| (i, t)))
        .collect();
    // Each rewrite is made and sorted in turn: the first that orders every step is kept.
    let mut attempt = |rewritten: Vec<Step>, needs: Option<Needs>, note: String| {
        let again = sort(&rewritten, &from.needs, needs.as_ref().unwrap_or(&to.needs));
        again.cycles.is_empty().then(|| {
            notes.push(note);
            permute(rewritten, &again.placed)
        })
    };
    for &i in &sorted.stuck {
        let done = if let Some(&(_, table)) = tables.iter().find(|(j, _)| *j == i) {
            attempt(
                with_defaults_apart(&steps, &[(i, table)], to),
                None,
                defaults_note(&[table]),
            )
        } else if let Some(view) = stand_in_candidate(&steps[i], to) {
            let (rewritten, needs) = with_stand_in(&steps, i, view, to);
            attempt(
                rewritten,
                Some(needs),
                format!(
                    "view {view} is in a dependency cycle: it is created first as a stand-in with \
                     its columns and no reads, and replaced with its definition once what it \
                     reads exists"
                ),
            )
        } else {
            None
        };
        if let Some(ordered) = done {
            return (ordered, Vec::new());
        }
    }
    if tables.len() > 1 {
        let all: Vec<&QName> = tables.iter().map(|(_, t)| *t).collect();
        let rewritten = with_defaults_apart(&steps, &tables, to);
        if let Some(ordered) = attempt(rewritten, None, defaults_note(&all)) {
            return (ordered, Vec::new());
        }
    }
    (permute(steps, &sorted.placed), sorted.cycles)
}

fn defaults_note(tables: &[&QName]) -> String {
    let names: Vec<String> = tables.iter().map(|t| t.to_string()).collect();
    format!(
        "table {} is in a dependency cycle through the functions its defaults call: it is created \
         without those defaults, and each is set after the functions",
        names.join(", ")
    )
}

/// The new table a `CREATE TABLE` step makes, when a column of it (not a partition's: its
/// defaults are the parent's) has a default that calls a function.
fn defaults_candidate<'m>(s: &Step, to: &'m Model) -> Option<&'m QName> {
    let ObjKey::Relation(t) = s.creates.first()? else {
        return None;
    };
    let (t, tt) = to.tables.get_key_value(t)?;
    let creates_table =
        s.sql.starts_with("CREATE TABLE ") || s.sql.starts_with("CREATE UNLOGGED TABLE ");
    (creates_table
        && tt.partition_of.is_none()
        && !defaults_calling_functions(t, tt, to).is_empty())
    .then_some(t)
}

/// Local columns of `t` whose default calls a function (TO's pg_depend).
fn defaults_calling_functions<'t>(name: &QName, t: &'t Table, to: &Model) -> Vec<&'t Column> {
    t.columns
        .iter()
        .filter(|c| c.local && c.default.is_some() && c.identity.is_none())
        .filter(|c| {
            to.needs
                .get(&ObjKey::Default(name.clone(), c.name.clone()))
                .is_some_and(|n| n.iter().any(|k| matches!(k, ObjKey::Function(_))))
        })
        .collect()
}

/// `steps` with each `(index, table)` creation made without its defaults that call functions,
/// each set by its own step right after (the graph moves it after the functions).
fn with_defaults_apart(steps: &[Step], tables: &[(usize, &QName)], to: &Model) -> Vec<Step> {
    let mut out = Vec::with_capacity(steps.len() + tables.len());
    for (i, s) in steps.iter().enumerate() {
        let Some((_, name)) = tables.iter().find(|(j, _)| *j == i) else {
            out.push(s.clone());
            continue;
        };
        let tt = &to.tables[*name];
        let apart = defaults_calling_functions(name, tt, to);
        let shown = Table {
            columns: tt
                .columns
                .iter()
                .map(|c| Column {
                    default: c
                        .default
                        .clone()
                        .filter(|_| !apart.iter().any(|a| a.name == c.name)),
                    ..c.clone()
                })
                .collect(),
            ..tt.clone()
        };
        out.push(Step {
            sql: Planner::create_table_sql(name, &shown, None),
            ..s.clone()
        });
        for c in apart {
            out.push(
                step(
                    &s.object,
                    format!("default of {} (set apart: a dependency cycle)", c.name),
                    format!(
                        "ALTER TABLE ONLY {} ALTER COLUMN {} SET DEFAULT {};",
                        name.sql(),
                        ident(&c.name),
                        c.default.as_deref().unwrap_or_default()
                    ),
                )
                .creating(ObjKey::Default((*name).clone(), c.name.clone())),
            );
        }
    }
    out
}

/// The view a plain `CREATE VIEW` step makes (not a materialized one: its rows would be computed
/// from the stand-in).
fn stand_in_candidate<'m>(s: &Step, to: &'m Model) -> Option<&'m QName> {
    if !s.sql.starts_with("CREATE VIEW ") {
        return None;
    }
    s.creates.iter().find_map(|k| match k {
        ObjKey::Relation(v) => to
            .views
            .get_key_value(v)
            .filter(|(_, tv)| !tv.materialized && !tv.columns.is_empty())
            .map(|(v, _)| v),
        _ => None,
    })
}

/// `steps` with step `i` (which creates `view`) split into the stand-in and the replacement, and
/// TO's needs without the view's: the replacement needs them instead.
fn with_stand_in(steps: &[Step], i: usize, view: &QName, to: &Model) -> (Vec<Step>, Needs) {
    let key = ObjKey::Relation(view.clone());
    let columns = to.views[view]
        .columns
        .iter()
        .map(|(c, t)| format!("NULL::{t} AS {}", ident(c)))
        .collect::<Vec<_>>()
        .join(", ");
    let original = &steps[i];
    let stand_in = step(
        &original.object,
        "create a stand-in with the target's columns (a dependency cycle)",
        format!("CREATE VIEW {} AS SELECT {columns};", view.sql()),
    )
    .creating(key.clone());
    let mut replace = Step {
        action: "replace the stand-in with the target definition".into(),
        sql: original
            .sql
            .replacen("CREATE VIEW ", "CREATE OR REPLACE VIEW ", 1),
        creates: Vec::new(),
        ..original.clone()
    };
    let mut needs = to.needs.clone();
    replace
        .needs
        .extend(needs.remove(&key).into_iter().flatten());
    let mut out = Vec::with_capacity(steps.len() + 1);
    out.extend(steps[..i].iter().cloned());
    out.push(stand_in);
    out.push(replace);
    out.extend(steps[i + 1..].iter().cloned());
    (out, needs)
}

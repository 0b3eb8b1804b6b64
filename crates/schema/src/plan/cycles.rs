//! Dependency cycles between whole statements that one known rewrite breaks: a view in the cycle
//! is first created as a stand-in with the target's columns and no reads (`SELECT NULL::type AS
//! column, ...`), so what reads it can be made, and replaced with its definition once what the
//! definition needs exists (`CREATE OR REPLACE VIEW` keeps the columns). This is how PostgreSQL
//! itself lets such a schema be made. Any other cycle stays a blocker.

use super::graph::{permute, sort};
use super::*;
use crate::objects::Needs;

/// Orders `steps`; on a cycle, tries a stand-in for each view left in it (phase order), and keeps
/// the first rewrite that orders every step. The second value describes cycles left, if any.
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
    for &i in &sorted.stuck {
        let Some(view) = stand_in_candidate(&steps[i], to) else {
            continue;
        };
        let (rewritten, needs) = with_stand_in(&steps, i, view, to);
        let again = sort(&rewritten, &from.needs, &needs);
        if again.cycles.is_empty() {
            notes.push(format!(
                "view {view} is in a dependency cycle: it is created first as a stand-in with its \
                 columns and no reads, and replaced with its definition once what it reads exists"
            ));
            return (permute(rewritten, &again.placed), again.cycles);
        }
    }
    (permute(steps, &sorted.placed), sorted.cycles)
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

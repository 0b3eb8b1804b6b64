//! The order of a plan: a dependency graph over its steps, sorted with the phases as tie-break.
//!
//! Each step says which objects it creates, drops and needs (`ObjKey`s); each model says what its
//! objects need (pg_depend). Edges, for every pair of distinct steps A and B:
//! - A creates X, B creates Y, and Y needs X in TO (or B says it needs X): A before B;
//! - A drops Y, B drops X, and Y needed X in FROM: A before B (dependents go first);
//! - A drops X, B creates X (replaced): A before B; where a step C renames X out of the way
//!   instead (`Step::renaming`), C before B, and A drops the renamed old object, after its users;
//! - A drops a function that needed X in FROM, B renames X: A before B, since a function is
//!   dropped by its signature, which names X's types by name;
//! - A says it needs X, which B drops and no step makes again: A before B (it reads X while it
//!   is there);
//! - A and B are about the same object (`Step::object`) and A comes first by phase: A before B,
//!   so an object's comments, grants and indexes stay after its creation wherever that moves.
//!
//! A statement that creates or drops an object creates or drops its parts with it (a table its
//! columns, a column its default): a key without a step of its own is looked up at its parent.
//! Among the steps free to run, the one first by phase runs first, so a plan whose phases already
//! agree with every edge keeps its order; an edge against the phases moves only what it must.
//! A cycle is reported (the steps keep their phase order) and blocks the plan.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap};

use super::Step;
use crate::objects::{Needs, ObjKey};

/// Orders `steps` (given in phase order) by their dependencies; the second value describes the
/// cycles found, if any. The tests' shorthand for `sort` and `permute`.
#[cfg(test)]
pub(crate) fn order(steps: Vec<Step>, from: &Needs, to: &Needs) -> (Vec<Step>, Vec<String>) {
    let sorted = sort(&steps, from, to);
    (permute(steps, &sorted.placed), sorted.cycles)
}

/// `steps` in `placed` order.
pub(super) fn permute(steps: Vec<Step>, placed: &[usize]) -> Vec<Step> {
    let mut slots: Vec<Option<Step>> = steps.into_iter().map(Some).collect();
    placed
        .iter()
        .map(|i| slots[*i].take().expect("each step placed once"))
        .collect()
}

/// The order of a plan's steps, as indexes.
pub(super) struct Sorted {
    /// Every index once: the sorted steps, then those left in a cycle (or after one).
    pub placed: Vec<usize>,
    /// Those left, in phase order.
    pub stuck: Vec<usize>,
    pub cycles: Vec<String>,
}

pub(super) fn sort(steps: &[Step], from: &Needs, to: &Needs) -> Sorted {
    let edges = edges(steps, from, to);
    let n = steps.len();
    let mut indegree = vec![0usize; n];
    for (_, b) in &edges {
        indegree[*b] += 1;
    }
    let mut after: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (a, b) in &edges {
        after[*a].push(*b);
    }
    // The free step first by phase (its index) runs next.
    let mut free: BinaryHeap<Reverse<usize>> =
        (0..n).filter(|i| indegree[*i] == 0).map(Reverse).collect();
    let mut placed = Vec::with_capacity(n);
    while let Some(Reverse(i)) = free.pop() {
        placed.push(i);
        for &b in &after[i] {
            indegree[b] -= 1;
            if indegree[b] == 0 {
                free.push(Reverse(b));
            }
        }
    }
    let mut cycles = Vec::new();
    let mut stuck = Vec::new();
    if placed.len() < n {
        stuck = (0..n).filter(|i| indegree[*i] > 0).collect();
        let shown: Vec<String> = stuck
            .iter()
            .take(6)
            .map(|i| format!("{} ({})", steps[*i].object, steps[*i].action))
            .collect();
        cycles.push(format!(
            "dependency cycle: {} statements need each other ({}{}); the engine cannot order them, \
             make the change in two steps",
            stuck.len(),
            shown.join(", "),
            if stuck.len() > shown.len() { ", ..." } else { "" }
        ));
        placed.extend(stuck.iter().copied());
    }
    Sorted {
        placed,
        stuck,
        cycles,
    }
}

/// Which steps create and drop each key.
#[derive(Default)]
struct Index<'a> {
    creators: HashMap<&'a ObjKey, Vec<usize>>,
    droppers: HashMap<&'a ObjKey, Vec<usize>>,
    renamers: HashMap<&'a ObjKey, Vec<usize>>,
}

impl Index<'_> {
    /// The steps that make `key`: its own, else its parent's (and so on up).
    fn made_by<'m>(map: &'m HashMap<&ObjKey, Vec<usize>>, key: &ObjKey) -> &'m [usize] {
        if let Some(steps) = map.get(key) {
            return steps;
        }
        let mut k = key.parent();
        while let Some(cur) = k {
            if let Some(steps) = map.get(&cur) {
                return steps;
            }
            k = cur.parent();
        }
        &[]
    }
}

/// Edges (before, after) between step indexes, deduplicated.
fn edges(steps: &[Step], from: &Needs, to: &Needs) -> BTreeSet<(usize, usize)> {
    let mut ix = Index::default();
    for (i, s) in steps.iter().enumerate() {
        for k in &s.creates {
            ix.creators.entry(k).or_default().push(i);
        }
        for k in &s.drops {
            ix.droppers.entry(k).or_default().push(i);
        }
        for k in &s.renames {
            ix.renamers.entry(k).or_default().push(i);
        }
    }
    let mut out = BTreeSet::new();
    let mut link = |a: &[usize], b: &[usize]| {
        for &x in a {
            for &y in b {
                if x != y {
                    out.insert((x, y));
                }
            }
        }
    };
    if !ix.creators.is_empty() {
        for (y, needs) in to {
            let makers = Index::made_by(&ix.creators, y);
            if makers.is_empty() {
                continue;
            }
            for x in needs {
                link(Index::made_by(&ix.creators, x), makers);
            }
        }
    }
    if !ix.droppers.is_empty() {
        for (y, needs) in from {
            let droppers = Index::made_by(&ix.droppers, y);
            if droppers.is_empty() {
                continue;
            }
            for x in needs {
                link(droppers, Index::made_by(&ix.droppers, x));
            }
        }
    }
    for (i, s) in steps.iter().enumerate() {
        for x in &s.needs {
            let makers = Index::made_by(&ix.creators, x);
            if makers.is_empty() {
                link(&[i], Index::made_by(&ix.droppers, x));
            } else {
                link(makers, &[i]);
            }
        }
        for x in &s.creates {
            // A renamed object frees its name at the rename; its drop comes when its users are gone.
            let renamers = Index::made_by(&ix.renamers, x);
            if renamers.is_empty() {
                link(Index::made_by(&ix.droppers, x), &[i]);
            } else {
                link(renamers, &[i]);
            }
        }
    }
    for (x, renamers) in &ix.renamers {
        for (y, needs) in from {
            if matches!(y, ObjKey::Function(_)) && needs.contains(*x) {
                link(Index::made_by(&ix.droppers, y), renamers);
            }
        }
    }
    // Steps on the same object keep their phase order.
    let mut last: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, s) in steps.iter().enumerate() {
        if let Some(prev) = last.insert(s.object.as_str(), i) {
            out.insert((prev, i));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{FnName, QName};
    use crate::plan::step;

    fn q(n: &str) -> QName {
        QName::new("public", n)
    }

    fn f(n: &str) -> ObjKey {
        ObjKey::Function(FnName {
            name: q(n),
            args: String::new(),
        })
    }

    fn sqls(steps: &[Step]) -> Vec<&str> {
        steps.iter().map(|s| s.sql.as_str()).collect()
    }

    #[test]
    fn steps_without_edges_keep_their_phase_order() {
        let steps = vec![
            step("table public.a", "create", "A"),
            step("table public.b", "create", "B"),
            step("view public.v", "create", "V"),
        ];
        let (out, cycles) = order(steps, &Needs::new(), &Needs::new());
        assert_eq!(sqls(&out), ["A", "B", "V"]);
        assert!(cycles.is_empty());
    }

    #[test]
    fn a_view_waits_for_the_late_function_it_calls_and_its_grant_follows_it() {
        let steps = vec![
            step("table public.t", "create", "T").creating(ObjKey::Relation(q("t"))),
            step("view public.v", "create", "V").creating(ObjKey::Relation(q("v"))),
            step("view public.v", "grant", "G"),
            step("table public.other", "create", "O"),
            step("function public.f()", "create", "F").creating(f("f")),
        ];
        let mut to = Needs::new();
        to.insert(ObjKey::Relation(q("v")), [f("f")].into());
        to.insert(f("f"), [ObjKey::Relation(q("t"))].into());
        let (out, cycles) = order(steps, &Needs::new(), &to);
        assert_eq!(sqls(&out), ["T", "O", "F", "V", "G"]);
        assert!(cycles.is_empty());
    }

    #[test]
    fn a_column_made_by_its_table_is_found_through_the_parent() {
        let steps = vec![
            step("table public.t", "create", "T").creating(ObjKey::Relation(q("t"))),
            step("function public.f()", "create", "F").creating(f("f")),
        ];
        let mut to = Needs::new();
        to.insert(ObjKey::Default(q("t"), "c".into()), [f("f")].into());
        let (out, _) = order(steps, &Needs::new(), &to);
        assert_eq!(sqls(&out), ["F", "T"]);
    }

    #[test]
    fn what_used_an_object_is_dropped_before_it_and_a_replaced_object_is_dropped_before_it_is_made()
    {
        let steps = vec![
            step("function public.f()", "drop", "DF").dropping(f("f")),
            step("function public.f()", "create", "CF").creating(f("f")),
            step("table public.t", "drop default", "DD")
                .dropping(ObjKey::Default(q("t"), "c".into())),
        ];
        let mut from = Needs::new();
        from.insert(ObjKey::Default(q("t"), "c".into()), [f("f")].into());
        let (out, _) = order(steps, &from, &Needs::new());
        assert_eq!(sqls(&out), ["DD", "DF", "CF"]);
    }

    #[test]
    fn a_renamed_type_is_made_again_after_the_rename_and_dropped_after_its_users_moved() {
        let ty = ObjKey::Type(q("mood"));
        let col = ObjKey::Column(q("t"), "m".into());
        let steps = vec![
            step("type public.mood", "rename", "R").renaming(ty.clone()),
            step("type public.mood", "create", "C").creating(ty.clone()),
            step("function public.f(x mood)", "drop", "DF").dropping(f("f")),
            step("table public.t", "retype", "RT")
                .dropping(col.clone())
                .creating(col.clone()),
            step("type public.mood", "drop old", "D").dropping(ty.clone()),
        ];
        let mut from = Needs::new();
        from.insert(f("f"), [ty.clone()].into());
        from.insert(col.clone(), [ty.clone()].into());
        let mut to = Needs::new();
        to.insert(col, [ty].into());
        let (out, cycles) = order(steps, &from, &to);
        // The function is dropped by a signature naming the type: before the rename.
        assert_eq!(sqls(&out), ["DF", "R", "C", "RT", "D"]);
        assert!(cycles.is_empty(), "{cycles:?}");
    }

    #[test]
    fn a_step_reading_what_the_plan_drops_runs_before_the_drop() {
        let old = ObjKey::Column(q("t"), "old".into());
        let steps = vec![
            step("table public.t", "drop column old", "D").dropping(old.clone()),
            step("data step move", "move old to new", "M")
                .creating(ObjKey::Column(q("t"), "new".into()))
                .needing(old),
        ];
        let (out, cycles) = order(steps, &Needs::new(), &Needs::new());
        assert_eq!(sqls(&out), ["M", "D"]);
        assert!(cycles.is_empty());
    }

    #[test]
    fn a_cycle_is_reported_and_no_step_is_lost() {
        let steps = vec![
            step("table public.t", "create", "T").creating(ObjKey::Relation(q("t"))),
            step("function public.f()", "create", "F").creating(f("f")),
        ];
        let mut to = Needs::new();
        to.insert(ObjKey::Default(q("t"), "c".into()), [f("f")].into());
        to.insert(f("f"), [ObjKey::Relation(q("t"))].into());
        let (out, cycles) = order(steps, &Needs::new(), &to);
        assert_eq!(sqls(&out), ["T", "F"]);
        assert_eq!(cycles.len(), 1);
        assert!(cycles[0].contains("2 statements"), "{}", cycles[0]);
    }
}

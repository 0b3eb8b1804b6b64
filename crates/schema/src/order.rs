//! Dependency order of views: what a view reads comes before it.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::QName;

/// The keys of `items` such that every item comes after the items it depends on (`deps` may name
/// things outside `items`; those are ignored). Ties keep name order, so plans are stable.
pub fn topo_order<V>(
    items: &BTreeMap<QName, V>,
    deps: impl Fn(&V) -> &BTreeSet<QName>,
) -> Vec<QName> {
    let mut placed: BTreeSet<&QName> = BTreeSet::new();
    let mut out = Vec::with_capacity(items.len());
    // Depth-first with an explicit stack; a cycle (impossible for views) is broken by name order.
    let mut visiting: BTreeSet<&QName> = BTreeSet::new();
    for start in items.keys() {
        if placed.contains(start) {
            continue;
        }
        let mut stack: Vec<(&QName, bool)> = vec![(start, false)];
        while let Some((name, expanded)) = stack.pop() {
            if placed.contains(name) {
                continue;
            }
            if expanded {
                visiting.remove(name);
                placed.insert(name);
                out.push(name.clone());
                continue;
            }
            if !visiting.insert(name) {
                continue;
            }
            stack.push((name, true));
            for d in deps(&items[name]).iter().rev() {
                if let Some((k, _)) = items.get_key_value(d) {
                    if !placed.contains(k) && !visiting.contains(k) {
                        stack.push((k, false));
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chain_comes_out_base_first() {
        let q = |n: &str| QName::new("public", n);
        let mut items: BTreeMap<QName, BTreeSet<QName>> = BTreeMap::new();
        items.insert(q("a"), [q("c")].into());
        items.insert(q("b"), [q("t")].into());
        items.insert(q("c"), [q("b")].into());
        let order = topo_order(&items, |d| d);
        assert_eq!(order, vec![q("b"), q("c"), q("a")]);
    }
}

//! Which schemas the engine manages: by default the ones the target declares, so a database's
//! other schemas (`auth`, a hosting platform's own schemas), their functions and the extensions
//! installed there are neither compared, planned nor dropped. `--schema NAME` names them instead.
//!
//! A model is cut down to its scope right after introspection ([`restrict`]); the scope is kept on
//! the model so `apply`, which introspects again inside its transaction, cuts its own snapshots
//! the same way ([`restrict_like`]). A new object kind in `Model` must be cut here too.

use std::collections::BTreeSet;

use crate::model::Model;

/// The part of a database the engine compares, plans and changes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    pub schemas: BTreeSet<String>,
    /// Objects outside any schema (casts, publications, event triggers, ...) the target has: only
    /// these are compared. Those only in the live database belong to whoever installed them.
    pub global_objects: BTreeSet<String>,
}

impl Scope {
    /// The scope for bringing a database to `target`: the schemas `explicit` names, or else every
    /// schema the target has.
    pub fn for_target(target: &Model, explicit: &[String]) -> Self {
        let schemas: BTreeSet<String> = if explicit.is_empty() {
            target.namespaces.keys().cloned().collect()
        } else {
            explicit.iter().cloned().collect()
        };
        Self {
            schemas,
            global_objects: target
                .unmodelled
                .iter()
                .filter(|(_, u)| u.schema.is_none())
                .map(|(k, _)| k.clone())
                .chain(
                    target
                        .publications
                        .keys()
                        .map(|p| format!("publication {p}")),
                )
                .collect(),
        }
    }

    pub fn contains(&self, schema: &str) -> bool {
        self.schemas.contains(schema)
    }
}

/// Removes from `model` everything outside `scope`, and remembers the scope on it.
pub fn restrict(model: &mut Model, scope: &Scope) {
    let inside = |s: &str| scope.contains(s);
    model.namespaces.retain(|n, _| inside(n));
    model.extensions.retain(|_, e| inside(&e.schema));
    model.collations.retain(|n, _| inside(&n.schema));
    model.enums.retain(|n, _| inside(&n.schema));
    model.sequences.retain(|n, _| inside(&n.schema));
    model.tables.retain(|n, _| inside(&n.schema));
    model.views.retain(|n, _| inside(&n.schema));
    model.functions.retain(|n, _| inside(&n.name.schema));
    model.domains.retain(|n, _| inside(&n.schema));
    model.aggregates.retain(|n, _| inside(&n.name.schema));
    model.statistics.retain(|n, _| inside(&n.schema));
    model
        .publications
        .retain(|p, _| scope.global_objects.contains(&format!("publication {p}")));
    model.unmodelled.retain(|k, u| match &u.schema {
        Some(s) => inside(s),
        None => scope.global_objects.contains(k),
    });
    // Default privileges in every schema (no `IN SCHEMA`) apply in the managed ones too: kept.
    model.default_privileges.retain(|k, _| match &k.schema {
        Some(s) => inside(s),
        None => true,
    });
    model.scope = Some(scope.clone());
}

/// Cuts `model` (a fresh snapshot) to the scope `like` was cut to, if any.
pub fn restrict_like(model: &mut Model, like: &Model) {
    if let Some(scope) = &like.scope {
        restrict(model, scope);
    }
}

/// Cuts a live model and its target down to the schemas `explicit` names, or else the target's.
pub fn restrict_both(from: &mut Model, to: &mut Model, explicit: &[String]) {
    let scope = Scope::for_target(to, explicit);
    restrict(from, &scope);
    restrict(to, &scope);
}

//! Planning: the ordered statements that turn FROM into TO, each with its typed hazards.
//!
//! Each statement says which objects (`ObjKey`) it creates, drops, renames and needs (comments,
//! grants and owners need their object); `graph::sort` orders them by those and by what each
//! side's objects need (pg_depend): made before what needs them, dependents dropped before what
//! they used, a replaced object dropped (or renamed away) before it is made again. The target's
//! data steps name only what they `@resolves` (their SQL is not parsed); `@phase` places the rest.
//! A cycle through a view is broken by a stand-in for the view (`cycles`); any other is a blocker.
//! The phases below are only the tie-break among statements with no edge between them, so a plan
//! reads in a stable order: new schemas, types and functions before the tables that use them;
//! dependent views dropped before the columns they read change and recreated from TO's definitions
//! after; foreign keys dropped before and added after the other constraints; objects dropped last.
//! Which views a change touches comes from pg_depend, transitively.
//!
//! One generator per object kind, each an `impl Planner` in its own module (`tables`, `columns`,
//! `alter_table`, `constraints`, `indexes`, `views`, `functions`, ...); `kinds::*` holds the
//! kinds that also have their own typed diff. `analyse` works out, before any generator runs, what
//! a change breaks and which of FROM's objects are rebuilt around it.

use std::collections::{BTreeMap, BTreeSet};

use crate::casts::{cast_effect, CastEffect};
use crate::diff::CompareOptions;
use crate::model::*;
use crate::objects::ObjKey;
use crate::order::topo_order;
use crate::preflight::{unique_index_parts, DataCheck};

mod alter_table;
mod analyse;
mod columns;
mod constraints;
mod cycles;
mod enums;
mod extras;
mod functions;
mod graph;
mod indexes;
mod namespaces;
mod sequences;
mod sql;
mod step;
mod tables;
mod views;

use sql::*;
pub(crate) use sql::{comment_sql, default_grants, grantee};
pub(crate) use step::step;
pub use step::{Hazard, HazardKind, Plan, Step};

/// Phases in run order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Phase {
    CreateSchemas,
    Extensions,
    Collations,
    Types,
    DropTriggers,
    DropViews,
    DropFunctionsEarly,
    DropForeignKeys,
    DropConstraints,
    Functions,
    CreateSequences,
    DetachPartitions,
    CreateTables,
    /// `@column … from OLD using (EXPR)`: the new column is added and filled.
    MoveColumns,
    AlterColumns,
    AlterSequences,
    /// Data steps of phase `before-constraints`.
    DataBeforeConstraints,
    SetNotNull,
    AddConstraints,
    AddForeignKeys,
    Indexes,
    TableOptions,
    /// Columns are dropped late, so data steps can still read them.
    DropColumns,
    DropTables,
    CreateViews,
    LateFunctions,
    CreateTriggers,
    Extras,
    DropLate,
    DropExtensions,
    DropSchemas,
    /// Data steps of phase `end`.
    DataEnd,
    Analyze,
}

/// What the declared schema's directives add to a plan (see `provenance`); empty for a plain plan.
#[derive(Debug, Clone, Default)]
pub(crate) struct Hooks {
    /// `ALTER COLUMN … TYPE … USING (EXPR)` instead of the default cast, by (table, column).
    pub retype_using: BTreeMap<(QName, String), String>,
    /// Columns whose data moved to another column: dropping them loses nothing.
    pub moved_away: BTreeSet<(QName, String)>,
    /// Steps that add and fill moved columns.
    pub moves: Vec<Step>,
    pub data_before_constraints: Vec<Step>,
    pub data_end: Vec<Step>,
}

struct Planner<'a> {
    hooks: &'a Hooks,
    from: &'a Model,
    to: &'a Model,
    opts: CompareOptions,
    steps: BTreeMap<Phase, Vec<Step>>,
    notes: Vec<String>,
    /// (table, column) pairs whose type, collation or existence changes.
    changed_columns: BTreeSet<(QName, String)>,
    /// Relations that disappear or are dropped and created again.
    replaced_relations: BTreeSet<QName>,
    /// Enums dropped or recreated (rename + create), so what uses them is rebuilt.
    replaced_enums: BTreeSet<QName>,
    /// Columns of a recreated enum or of an array of it: retyped onto the new type through text.
    enum_columns: BTreeSet<(QName, String)>,
    /// Functions dropped (and maybe created again), so what uses them is rebuilt.
    replaced_functions: BTreeSet<FnName>,
    /// FROM's defaults, constraints, indexes, policies and triggers that call a replaced
    /// function or read a column added back, foreign keys that use a dropped index, and what
    /// needs those in turn (pg_depend): dropped before it and made again from TO's definition
    /// after, even where the definition reads the same.
    rebuilt: BTreeSet<ObjKey>,
    /// Tables created again from scratch (partitioning changed).
    recreated_tables: BTreeSet<QName>,
    /// Tables whose rows are rewritten (followed by ANALYZE).
    rewritten: BTreeSet<QName>,
    /// Serial sequences dropped before their column becomes an identity (whose own sequence may
    /// then take the same name, so the late drop must leave it alone).
    serials_to_identity: BTreeSet<QName>,
    /// Changes a `kinds::*` generator cannot make (a domain's base type, ...).
    kind_blockers: Vec<String>,
}

/// Plans the change from `from` to `to`.
pub fn plan(from: &Model, to: &Model, opts: CompareOptions) -> Plan {
    plan_hooked(from, to, opts, &Hooks::default())
}

pub(crate) fn plan_hooked(from: &Model, to: &Model, opts: CompareOptions, hooks: &Hooks) -> Plan {
    let mut p = Planner {
        hooks,
        from,
        to,
        opts,
        steps: BTreeMap::new(),
        notes: Vec::new(),
        changed_columns: BTreeSet::new(),
        replaced_relations: BTreeSet::new(),
        replaced_enums: BTreeSet::new(),
        enum_columns: BTreeSet::new(),
        replaced_functions: BTreeSet::new(),
        rebuilt: BTreeSet::new(),
        recreated_tables: BTreeSet::new(),
        rewritten: BTreeSet::new(),
        serials_to_identity: BTreeSet::new(),
        kind_blockers: Vec::new(),
    };
    p.run();
    let mut unmodelled = crate::unmodelled::blockers(&from.unmodelled, &to.unmodelled, opts);
    unmodelled.append(&mut p.kind_blockers);
    let (steps, mut cycles) = cycles::order(
        p.steps.into_values().flatten().collect(),
        from,
        to,
        &mut p.notes,
    );
    unmodelled.append(&mut cycles);
    Plan {
        steps,
        unmodelled,
        notes: p.notes,
        data_steps: Vec::new(),
    }
}

impl<'a> Planner<'a> {
    fn push(&mut self, phase: Phase, s: Step) {
        self.steps.entry(phase).or_default().push(s);
    }

    fn run(&mut self) {
        self.analyse();
        self.namespaces();
        self.extensions();
        self.collations();
        self.enums();
        self.functions();
        self.sequences();
        self.tables();
        self.views();
        self.drop_unused_types();
        // Kinds in their own modules (`kinds::*`): after the old code's steps, so within a phase
        // their drops come after those of the functions and tables that use them.
        let (placed, blockers) = crate::kinds::steps(self.from, self.to, self.opts, &self.rebuilt);
        for (phase, s) in placed {
            self.push(phase, s);
        }
        self.kind_blockers.extend(blockers);
        let hooks = self.hooks;
        for (phase, steps) in [
            (Phase::MoveColumns, &hooks.moves),
            (Phase::DataBeforeConstraints, &hooks.data_before_constraints),
            (Phase::DataEnd, &hooks.data_end),
        ] {
            for s in steps {
                self.push(phase, s.clone());
            }
        }
        // After every object is created, so each got the live defaults the plan converged.
        let made: Vec<ObjKey> = self
            .steps
            .values()
            .flatten()
            .flat_map(|s| &s.creates)
            .filter(|k| {
                matches!(
                    k,
                    ObjKey::Schema(_)
                        | ObjKey::Relation(_)
                        | ObjKey::Sequence(_)
                        | ObjKey::Function(_)
                        | ObjKey::Type(_)
                )
            })
            .cloned()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        for s in crate::privileges::steps(self.from, self.to, &made) {
            self.push(Phase::Extras, s);
        }
        for t in std::mem::take(&mut self.rewritten) {
            if self.to.tables.contains_key(&t) {
                self.push(
                    Phase::Analyze,
                    step(
                        format!("table {t}"),
                        "refresh planner statistics after the rewrite",
                        format!("ANALYZE {};", t.sql()),
                    )
                    .needing(ObjKey::Relation(t.clone())),
                );
            }
        }
        if self
            .steps
            .values()
            .flatten()
            .any(|s| s.sql.starts_with("CREATE INDEX") || s.sql.starts_with("CREATE UNIQUE INDEX"))
        {
            self.notes.push(
                "indexes are built inside the transaction with plain CREATE INDEX (it blocks writes to the table while it \
                 builds); CREATE INDEX CONCURRENTLY cannot run in a transaction block, so the engine does not use it"
                    .into(),
            );
        }
        if self
            .steps
            .values()
            .flatten()
            .any(|s| s.sql.contains("ADD VALUE"))
        {
            self.notes.push(
                "ALTER TYPE ... ADD VALUE runs inside the transaction (PostgreSQL 12 and later allow it); the new label \
                 cannot be used by a row in the same transaction, and the plan does not use it"
                    .into(),
            );
        }
    }
}

/// Whether `a` appears in `b` in the same order (so `b` is `a` with labels added).
fn is_subsequence(a: &[String], b: &[String]) -> bool {
    let mut it = b.iter();
    a.iter().all(|x| it.any(|y| y == x))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_added_in_between_keep_the_order() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert!(is_subsequence(&s(&["a", "c"]), &s(&["a", "b", "c"])));
        assert!(!is_subsequence(&s(&["c", "a"]), &s(&["a", "b", "c"])));
        assert!(!is_subsequence(&s(&["a", "x"]), &s(&["a", "b"])));
    }

    #[test]
    fn hazard_kinds_round_trip_through_their_names() {
        for k in HazardKind::ALL {
            assert_eq!(HazardKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(HazardKind::parse("everything"), None);
    }
}

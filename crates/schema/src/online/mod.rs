//! The online path (`--online`): changes that would hold an exclusive lock for as long as a table
//! scan or rewrite takes are made in low-lock ways instead, and the plan says for each which way
//! it takes and why.
//!
//! A plan made by `plan::plan` is rewritten, not re-planned: its statements for new indexes, new
//! foreign keys and CHECKs, new NOT NULLs and non-lossy retypes are taken out of (or weakened in)
//! the one transaction and become stages around it:
//!
//! ```text
//! prepare (retype: expand, sync trigger, batched backfill, shadow indexes and keys, validated)
//!   -> main transaction (everything else; NOT VALID constraints and NOT NULL checks)
//!   -> swap (retype: one short transaction per table: rename, views recreated)
//!   -> tail (CREATE INDEX CONCURRENTLY, VALIDATE CONSTRAINT, SET NOT NULL over a validated CHECK)
//!   -> verify against the target
//! ```
//!
//! Every stage can be interrupted and is finished by running the same command again: what is
//! left is read from the database (an INVALID index reads differently from the real one, a NOT
//! VALID constraint differently from a validated one, shadow objects carry `__online` names).

mod expand;
mod retype;
mod run;
mod tail;

use std::collections::BTreeSet;

use serde::Serialize;

use crate::model::{ident, Model, QName};
use crate::plan::{Plan, Step};

pub use expand::{Retype, RetypedColumn};
pub use run::{apply, OnlineProgress, OnlineReport};
pub use tail::TailStep;

/// Whether the online path is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Only where it costs nothing: a plan made of nothing but changes with an online path that
    /// stand alone (new indexes, foreign keys, CHECKs, NOT NULLs on existing tables). Retypes stay
    /// in the transaction (expand/contract writes every row a second time).
    #[default]
    Auto,
    /// `--online`: every change that has an online path takes it.
    On,
    /// `--no-online`: everything in one transaction.
    Off,
}

/// How one change is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PathKind {
    Online,
    InTransaction,
}

/// The way one change of the plan takes, for people and for JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PathChoice {
    /// `table public.users`.
    pub object: String,
    /// `index users_email_idx`, `constraint fk`, `user_id not null`, `retype user_id`.
    pub change: String,
    pub path: PathKind,
    /// How it is done.
    pub how: String,
    /// Why this way.
    pub why: String,
}

/// A plan with its online stages.
#[derive(Debug, Clone, Default, Serialize)]
pub struct OnlinePlan {
    /// The one transaction (what is left of the plan, with NOT VALID constraints).
    pub main: Plan,
    /// Expand/contract retypes: prepared before `main`, swapped after it.
    pub retypes: Vec<Retype>,
    /// After `main` and the swaps, one statement at a time outside any transaction block.
    pub tail: Vec<TailStep>,
    pub paths: Vec<PathChoice>,
    /// Tables and views the main transaction leaves to later stages (not checked before its
    /// COMMIT; the last stage checks everything).
    #[serde(skip)]
    pub settled_later: BTreeSet<QName>,
}

impl OnlinePlan {
    /// Whether anything runs outside the main transaction.
    pub fn has_stages(&self) -> bool {
        !self.retypes.is_empty() || !self.tail.is_empty()
    }

    pub fn is_empty(&self) -> bool {
        self.main.is_empty() && !self.has_stages()
    }

    /// Every statement, in run order, for `--format sql` (the tail cannot run inside `psql -1`).
    pub fn sql(&self) -> String {
        let mut out = String::new();
        for r in &self.retypes {
            out.push_str(&format!("-- prepare {}: expand and backfill\n", r.table));
            for s in r.prepare_sql() {
                out.push_str(&s);
                out.push('\n');
            }
        }
        out.push_str(&crate::format::plan_sql(&self.main));
        for r in &self.retypes {
            out.push_str(&format!("-- swap {} (one short transaction)\n", r.table));
            out.push_str("BEGIN;\nSET LOCAL lock_timeout = '50ms';\n");
            for t in std::iter::once(&r.table).chain(&r.referenced) {
                out.push_str(&format!(
                    "LOCK TABLE ONLY {} IN ACCESS EXCLUSIVE MODE;\n",
                    t.sql()
                ));
            }
            for s in &r.swap {
                out.push_str(s);
                out.push('\n');
            }
            out.push_str("COMMIT;\n");
            for s in &r.cleanup {
                out.push_str(s);
                out.push('\n');
            }
        }
        if !self.tail.is_empty() {
            out.push_str(
                "-- after the transaction, one statement at a time (not in a transaction block)\n",
            );
        }
        for t in &self.tail {
            for s in t.sql() {
                out.push_str(&s);
                out.push('\n');
            }
        }
        out
    }

    /// The whole plan for people: the main transaction, then the paths and the online stages.
    pub fn plan_text(&self) -> String {
        let head = if self.main.is_empty() && !self.main.is_blocked() && self.has_stages() {
            format!(
                "Plan: nothing for the one transaction; {} online changes (below).\n",
                self.retypes.len() + self.tail.len()
            )
        } else {
            crate::format::plan_text(&self.main)
        };
        format!("{head}{}", self.text())
    }

    /// The paths and stages as text (after the plan's own text).
    pub fn text(&self) -> String {
        let mut out = String::new();
        if self.paths.is_empty() {
            return out;
        }
        out.push_str("\nPaths (how each change that could lock for long is made):\n");
        for p in &self.paths {
            let path = match p.path {
                PathKind::Online => "online",
                PathKind::InTransaction => "in the transaction",
            };
            out.push_str(&format!(
                "  {}: {} — {path}: {}\n      why: {}\n",
                p.object, p.change, p.how, p.why
            ));
        }
        for r in &self.retypes {
            out.push_str(&format!(
                "\nBefore the transaction, {} (expand; rows copied in batches of short transactions):\n",
                r.table
            ));
            for s in r.prepare_sql() {
                out.push_str(&format!("  {s}\n"));
            }
            out.push_str(&format!(
                "Swap of {} after the transaction (one short transaction under lock_timeout):\n",
                r.table
            ));
            for s in &r.swap {
                out.push_str(&format!("  {}\n", s.replace('\n', "\n  ")));
            }
            out.push_str("Then, one short statement each:\n");
            for s in &r.cleanup {
                out.push_str(&format!("  {s}\n"));
            }
        }
        if !self.tail.is_empty() {
            out.push_str("\nAfter the transaction, step by step (a re-run finishes what an interruption left):\n");
            for (i, t) in self.tail.iter().enumerate() {
                out.push_str(&format!("  [{}] {}: {}\n", i + 1, t.object(), t.action()));
            }
        }
        out
    }
}

/// The longest identifier PostgreSQL keeps; longer ones are cut silently, which would break the
/// names a re-run looks for.
const NAME_MAX: usize = 63;

/// `base` with `suffix`, the base shortened (on a char boundary) so the whole stays a name.
pub(crate) fn shadow_name(base: &str, suffix: &str) -> String {
    let mut keep = NAME_MAX.saturating_sub(suffix.len()).min(base.len());
    while !base.is_char_boundary(keep) {
        keep -= 1;
    }
    format!("{}{suffix}", &base[..keep])
}

/// The CHECK that carries a new NOT NULL of `column` until it is validated.
pub(crate) fn not_null_check(column: &str) -> String {
    shadow_name(column, "__online_not_null")
}

/// Rewrites `plan` (from `from` to `to`) for the online path under `mode`.
pub fn plan(from: &Model, to: &Model, plan: &Plan, mode: Mode) -> OnlinePlan {
    let mut out = OnlinePlan {
        main: plan.clone(),
        ..Default::default()
    };
    if mode == Mode::Off {
        out.paths = tail::candidates(from, to, plan, &BTreeSet::new())
            .into_iter()
            .map(|c| c.in_transaction("--no-online keeps every change in the one transaction"))
            .collect();
        return out;
    }
    // Columns an interrupted swap retired (`__online_old`): their values live on in the column
    // that took their name, so dropping them loses nothing.
    for s in &mut out.main.steps {
        if s.sql.contains("__online_old") {
            s.hazards
                .retain(|h| h.kind != crate::plan::HazardKind::DataLoss);
        }
    }
    let retypes = if mode == Mode::On {
        retype::rewrite(from, to, &mut out)
    } else {
        retype::explain_auto(from, to, plan, &mut out.paths);
        Vec::new()
    };
    let swapped: BTreeSet<(QName, String)> = retypes
        .iter()
        .flat_map(|r| r.columns.iter().map(|c| (r.table.clone(), c.name.clone())))
        .collect();
    out.retypes = retypes;
    let candidates = tail::candidates(from, to, &out.main, &swapped);
    if mode == Mode::Auto {
        // Free only when nothing else shares the transaction: then all-or-nothing buys nothing,
        // and each tail step stands alone (a re-run finishes the rest).
        let covered: BTreeSet<usize> = candidates.iter().flat_map(|c| c.steps.clone()).collect();
        let all_online = !candidates.is_empty()
            && (0..plan.steps.len()).all(|i| {
                covered.contains(&i) || plan.steps[i].sql.trim_start().starts_with("ANALYZE")
            });
        if !all_online {
            let why = "the plan changes other things too, and one transaction keeps them all-or-nothing; --online takes the online path anyway";
            out.paths
                .extend(candidates.into_iter().map(|c| c.in_transaction(why)));
            return out;
        }
    }
    tail::rewrite(candidates, &mut out);
    out
}

/// Steps of `plan` on the objects named `object` (as steps name them: `view public.v`).
pub(crate) fn step_object(kind: &str, name: &QName) -> String {
    format!("{kind} {name}")
}

pub(crate) fn drop_steps(main: &mut Plan, remove: &BTreeSet<usize>) -> Vec<Step> {
    let mut taken = Vec::new();
    let mut kept = Vec::new();
    for (i, s) in std::mem::take(&mut main.steps).into_iter().enumerate() {
        if remove.contains(&i) {
            taken.push(s);
        } else {
            kept.push(s);
        }
    }
    main.steps = kept;
    taken
}

pub(crate) fn col(name: &str) -> String {
    ident(name)
}

//! Rendering plans and drift as text for people, SQL for psql, and JSON for programs.
//!
//! JSON is stable (`format_version` 1) and looks like this:
//!
//! Plan (`db plan --format json`):
//! ```json
//! { "format_version": 1,
//!   "steps": [ { "index": 1, "object": "table public.users", "action": "drop column total_generations",
//!                "sql": "ALTER TABLE public.users DROP COLUMN total_generations;",
//!                "hazards": [ { "kind": "data-loss", "reason": "..." } ] } ],
//!   "hazards": [ { "kind": "data-loss", "object": "table public.users", "reason": "..." } ],
//!   "unmodelled": [ "domain public.posint differs and is not modelled: - type: integer; + type: bigint" ],
//!   "notes": [ "..." ],
//!   "data_steps": [ { "name": "dedupe", "origin": "080_takeover.data.sql:3",
//!                     "phase": "before-constraints", "when": "SELECT ...", "runs": true,
//!                     "rows": 12, "step": 7,
//!                     "resolves": [ { "kind": "unique", "table": { "schema": "public", "name": "t" },
//!                                     "columns": [ "user_id" ] } ] } ] }
//! ```
//! Drift (`db diff --format json`, `db verify`):
//! ```json
//! { "format_version": 1, "drift": true,
//!   "differences": [ { "kind": "table", "name": "public.users",
//!                      "presence": "only_in_from" | "only_in_to" | "differs",
//!                      "details": [ "column id type: \"integer\" → \"bigint\"" ] } ] }
//! ```
//! `unmodelled` lists blockers: differences in kinds the engine does not model; a plan with any is
//! refused by `db apply`. In drift their kind reads `domain (not modelled)`.
//! Hazard kinds are `data-loss`, `lossy-cast`, `table-rewrite`, `matview-repopulate`, `security`.
//! `db plan --format json` adds `blockers` (data blockers, see `preflight::Blocker`) and the whole
//! `preflight` report (`blockers`, `resolved`, `unchecked`, `checks`, `elapsed` in seconds).
//! It also adds `online` (`schema::online`): `paths` (one per change that could lock for long:
//! `object`, `change`, `path` = `online` | `in-transaction`, `how`, `why`), `retypes` (each
//! expand/contract: `table`, `key`, `columns`, shadow `indexes` and `foreign_keys`, the `swap`
//! statements) and `tail` (steps after the main transaction, each with `kind` = `build-index` |
//! `validate` | `set-not-null`). `steps` are then the main transaction's only.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::diff::{Drift, Presence};
use crate::plan::{HazardKind, Plan};

/// The output formats of `db plan` and `db diff`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Sql,
    Json,
}

impl Format {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "text" => Some(Self::Text),
            "sql" => Some(Self::Sql),
            "json" => Some(Self::Json),
            _ => None,
        }
    }
}

/// A plan as an operator reads it.
pub fn plan_text(plan: &Plan) -> String {
    let mut out = String::new();
    if plan.is_empty() && !plan.is_blocked() {
        out.push_str("Nothing to do: the database is at the target.\n");
    } else if plan.is_empty() {
        out.push_str("Blocked: the database differs from the target only in what the engine does not model.\n");
    } else {
        let mut counts: BTreeMap<HazardKind, usize> = BTreeMap::new();
        for (_, h) in plan.hazards() {
            *counts.entry(h.kind).or_default() += 1;
        }
        let hz = if counts.is_empty() {
            "no hazards".to_string()
        } else {
            counts
                .iter()
                .map(|(k, n)| format!("{k} ×{n}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        out.push_str(&format!(
            "Plan: {} steps in one transaction; {hz}\n\n",
            plan.steps.len()
        ));
        for (i, s) in plan.steps.iter().enumerate() {
            let kinds: Vec<&str> = s.hazards.iter().map(|h| h.kind.as_str()).collect();
            let tag = if kinds.is_empty() {
                String::new()
            } else {
                format!("   [{}]", kinds.join(", "))
            };
            out.push_str(&format!("{:>3}. {}: {}{tag}\n", i + 1, s.object, s.action));
            for line in s.sql.lines() {
                out.push_str(&format!("       {line}\n"));
            }
        }
        if !counts.is_empty() {
            out.push_str("\nHazards:\n");
            for (s, h) in plan.hazards() {
                out.push_str(&format!(
                    "  {:<18} {}: {}\n",
                    h.kind.as_str(),
                    s.object,
                    h.reason
                ));
            }
        }
    }
    if !plan.data_steps.is_empty() {
        out.push_str("\nData steps of the target:\n");
        for d in &plan.data_steps {
            let status = match (d.step, d.rows) {
                (Some(i), Some(n)) => format!("runs as step {i}, touches {n} rows"),
                (Some(i), None) => format!("runs as step {i}"),
                (None, _) => "does not run: its @when is false here".to_string(),
            };
            out.push_str(&format!(
                "  {} ({}, {}): {status}\n",
                d.name,
                d.origin,
                d.phase.as_str()
            ));
            for r in d.resolves.iter().filter(|_| d.step.is_some()) {
                out.push_str(&format!("      resolves {r}\n"));
            }
        }
    }
    if plan.is_blocked() {
        out.push_str(
            "\nBlockers (not modelled; the plan cannot make these, so apply changes nothing):\n",
        );
        for u in &plan.unmodelled {
            out.push_str(&format!("  {u}\n"));
        }
        out.push_str("  hint: change these objects by hand (or in the target), then plan again\n");
    }
    if !plan.notes.is_empty() {
        out.push_str("\nNotes:\n");
        for n in &plan.notes {
            out.push_str(&format!("  {n}\n"));
        }
    }
    out
}

/// A plan as a script: `psql -1 -f` (or `| psql -1`) runs it.
pub fn plan_sql(plan: &Plan) -> String {
    let mut out = String::from("-- soprovod schema plan; run it in one transaction (psql -1)\n");
    out.push_str("SET check_function_bodies = off;\n");
    for (i, s) in plan.steps.iter().enumerate() {
        out.push_str(&format!("\n-- {}. {}: {}\n", i + 1, s.object, s.action));
        for h in &s.hazards {
            out.push_str(&format!("-- hazard {}: {}\n", h.kind, h.reason));
        }
        out.push_str(&s.sql);
        out.push('\n');
    }
    for u in &plan.unmodelled {
        out.push_str(&format!(
            "-- BLOCKER (not modelled, not in this script): {u}\n"
        ));
    }
    out
}

#[derive(Serialize)]
struct JsonStep<'a> {
    index: usize,
    object: &'a str,
    action: &'a str,
    sql: &'a str,
    hazards: &'a [crate::plan::Hazard],
}

#[derive(Serialize)]
struct JsonHazard<'a> {
    kind: HazardKind,
    object: &'a str,
    reason: &'a str,
}

#[derive(Serialize)]
struct JsonPlan<'a> {
    format_version: u32,
    steps: Vec<JsonStep<'a>>,
    hazards: Vec<JsonHazard<'a>>,
    unmodelled: &'a [String],
    notes: &'a [String],
    data_steps: &'a [crate::provenance::PlannedDataStep],
}

pub fn plan_json(plan: &Plan) -> String {
    let doc = JsonPlan {
        format_version: 1,
        steps: plan
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| JsonStep {
                index: i + 1,
                object: &s.object,
                action: &s.action,
                sql: &s.sql,
                hazards: &s.hazards,
            })
            .collect(),
        hazards: plan
            .hazards()
            .into_iter()
            .map(|(s, h)| JsonHazard {
                kind: h.kind,
                object: &s.object,
                reason: &h.reason,
            })
            .collect(),
        unmodelled: &plan.unmodelled,
        notes: &plan.notes,
        data_steps: &plan.data_steps,
    };
    serde_json::to_string_pretty(&doc).expect("plan serializes")
}

/// Drift as an operator's report: per object, only in FROM / only in TO / what differs.
pub fn drift_text(drift: &Drift, from_label: &str, to_label: &str) -> String {
    if drift.is_empty() {
        return format!("No drift: {from_label} and {to_label} have the same schema.\n");
    }
    let mut out = format!(
        "Drift: {} objects differ between FROM ({from_label}) and TO ({to_label}).\n\n",
        drift.differences.len()
    );
    for d in &drift.differences {
        match d.presence {
            Presence::OnlyInFrom => out.push_str(&format!("{} {}: only in FROM\n", d.kind, d.name)),
            Presence::OnlyInTo => out.push_str(&format!("{} {}: only in TO\n", d.kind, d.name)),
            Presence::Differs => {
                out.push_str(&format!("{} {}: differs\n", d.kind, d.name));
                for line in &d.details {
                    out.push_str(&format!("    {line}\n"));
                }
            }
        }
    }
    out
}

#[derive(Serialize)]
struct JsonDrift<'a> {
    format_version: u32,
    drift: bool,
    differences: &'a [crate::diff::Difference],
}

pub fn drift_json(drift: &Drift) -> String {
    serde_json::to_string_pretty(&JsonDrift {
        format_version: 1,
        drift: !drift.is_empty(),
        differences: &drift.differences,
    })
    .expect("drift serializes")
}

/// Human-readable size.
fn size(bytes: i64) -> String {
    let b = bytes as f64;
    if b >= 1024.0 * 1024.0 * 1024.0 {
        format!("{:.1} GB", b / (1024.0 * 1024.0 * 1024.0))
    } else if b >= 1024.0 * 1024.0 {
        format!("{:.0} MB", b / (1024.0 * 1024.0))
    } else {
        format!("{:.0} kB", b / 1024.0)
    }
}

/// The lock section of a plan: which tables are locked exclusively, why, how big they are, and
/// roughly how long writers and readers of them will wait.
pub fn locks_text(locks: &[crate::locks::LockEstimate]) -> String {
    use crate::locks::LockReason;
    use std::fmt::Write as _;
    if locks.is_empty() {
        return String::new();
    }
    let total: f64 = locks.iter().map(|l| l.seconds).sum();
    let mut out = format!(
        "\nLocks: the apply takes ACCESS EXCLUSIVE on {} tables at its start and holds them until COMMIT (estimated ~{:.1} s):\n",
        locks.len(),
        total
    );
    for l in locks {
        let why = match l.reason {
            LockReason::Changed if l.rewrite => "rewritten",
            LockReason::Changed => "changed",
            LockReason::ForeignKey => "foreign key to a changed table",
        };
        let _ = writeln!(
            out,
            "  {:<40} {:>10} ~{} rows, {}",
            l.table.to_string(),
            size(l.bytes),
            l.rows,
            why
        );
    }
    let _ = writeln!(
        out,
        "  While it runs, reads and writes of these tables wait (the bot's statements give up after their lock timeout and the user is asked to try again)."
    );
    if total > crate::locks::LONG_LOCK_SECS {
        let _ = writeln!(
            out,
            "  That is long for a live bot: apply when traffic is low (an online path, with concurrent index builds and expand/contract retypes, is not built yet)."
        );
    }
    out
}

//! Which tables an apply locks, in which order, and what that costs: taken up front so that a
//! migration on a live database never deadlocks with the writers it shares the tables with.
//!
//! Writers take their locks child first: an `INSERT INTO letter_sessions` locks `letter_sessions`,
//! then its foreign-key check locks the referenced row of `users`. An apply that locked `users`
//! first and `letter_sessions` later would wait for such a writer while the writer waits for it.
//! So the apply locks every table it will change, and every table joined to one of them by a
//! foreign key (PostgreSQL rebuilds or re-checks those keys), at the start of its transaction, in
//! that same order: referencing tables before the tables they reference.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::model::{Model, QName};
use crate::plan::Plan;

/// Why a table is in the lock set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LockReason {
    /// A step of the plan alters or drops it.
    Changed,
    /// It references, or is referenced by, a changed table through a foreign key.
    ForeignKey,
}

/// One table the apply locks `ACCESS EXCLUSIVE` before its first step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableLock {
    pub table: QName,
    pub reason: LockReason,
}

/// The tables `plan` locks, referencing tables before referenced ones (ties and cycles by name).
/// Tables the plan creates are not in it: nobody else can hold a lock on them.
pub fn lock_order(from: &Model, plan: &Plan) -> Vec<TableLock> {
    let changed: BTreeSet<QName> = plan
        .touched_tables()
        .into_iter()
        .filter(|t| from.tables.contains_key(t))
        .collect();
    let mut set: BTreeMap<QName, LockReason> = changed
        .iter()
        .map(|t| (t.clone(), LockReason::Changed))
        .collect();
    // child -> parents, over the whole model, restricted to the lock set below.
    let mut references: BTreeMap<QName, BTreeSet<QName>> = BTreeMap::new();
    for (name, table) in &from.tables {
        for c in table.constraints.values() {
            if let Some(parent) = &c.references {
                if parent != name {
                    references
                        .entry(name.clone())
                        .or_default()
                        .insert(parent.clone());
                }
            }
        }
    }
    for (child, parents) in &references {
        for parent in parents {
            if changed.contains(child) && from.tables.contains_key(parent) {
                set.entry(parent.clone()).or_insert(LockReason::ForeignKey);
            }
            if changed.contains(parent) {
                set.entry(child.clone()).or_insert(LockReason::ForeignKey);
            }
        }
    }

    // Kahn's algorithm: a table may be locked once every table referencing it is.
    let mut waiting_on: BTreeMap<QName, usize> = set.keys().map(|t| (t.clone(), 0)).collect();
    for (child, parents) in &references {
        if !set.contains_key(child) {
            continue;
        }
        for parent in parents.iter().filter(|p| set.contains_key(*p)) {
            *waiting_on.get_mut(parent).expect("in the set") += 1;
        }
    }
    let mut order = Vec::with_capacity(set.len());
    let mut done: BTreeSet<QName> = BTreeSet::new();
    while done.len() < set.len() {
        let next = waiting_on
            .iter()
            .find(|(t, n)| **n == 0 && !done.contains(*t))
            .map(|(t, _)| t.clone())
            // A cycle of foreign keys: break it at the first table by name.
            .unwrap_or_else(|| {
                set.keys()
                    .find(|t| !done.contains(*t))
                    .expect("tables left")
                    .clone()
            });
        done.insert(next.clone());
        if let Some(parents) = references.get(&next) {
            for parent in parents.iter().filter(|p| set.contains_key(*p)) {
                let n = waiting_on.get_mut(parent).expect("in the set");
                *n = n.saturating_sub(1);
            }
        }
        order.push(TableLock {
            reason: set[&next],
            table: next,
        });
    }
    order
}

/// What locking a table costs, from its size on disk: what an operator reads before applying.
#[derive(Debug, Clone, Serialize)]
pub struct LockEstimate {
    pub table: QName,
    pub reason: LockReason,
    pub rows: i64,
    pub bytes: i64,
    /// Whether a step rewrites the table (a retype, a volatile default): the lock is then held for
    /// about as long as writing the table anew takes.
    pub rewrite: bool,
    /// A rough duration of the exclusive lock, in seconds.
    pub seconds: f64,
}

/// Rewrite speed assumed by the estimate (bytes of table plus indexes per second). Measured on
/// this project's 2-core machine with the v9.5 retype of `letter_sessions` (see the
/// `live_writers` bench); disks and cores elsewhere change it, hence "roughly".
const REWRITE_BYTES_PER_SEC: f64 = 60.0 * 1024.0 * 1024.0;

/// A plan whose longest exclusive lock is estimated above this many seconds gets a pointer to
/// the online path in its text.
pub const LONG_LOCK_SECS: f64 = 5.0;

/// Sizes the lock set of `plan` on the live database (catalog statistics only, no table scan).
pub async fn estimate(
    conn: &mut sqlx::PgConnection,
    from: &Model,
    plan: &Plan,
) -> Result<Vec<LockEstimate>, sqlx::Error> {
    let rewritten: BTreeSet<QName> = plan
        .steps
        .iter()
        .filter(|s| {
            s.hazards
                .iter()
                .any(|h| h.kind == crate::plan::HazardKind::TableRewrite)
        })
        .filter_map(|s| s.touches.clone())
        .collect();
    let mut out = Vec::new();
    for lock in lock_order(from, plan) {
        let (rows, bytes): (i64, i64) = sqlx::query_as(
            "SELECT greatest(c.reltuples, 0)::bigint, pg_total_relation_size(c.oid)
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE n.nspname = $1 AND c.relname = $2",
        )
        .bind(&lock.table.schema)
        .bind(&lock.table.name)
        .fetch_optional(&mut *conn)
        .await?
        .unwrap_or((0, 0));
        let rewrite = rewritten.contains(&lock.table);
        let seconds = if rewrite {
            bytes as f64 / REWRITE_BYTES_PER_SEC
        } else {
            0.0
        };
        out.push(LockEstimate {
            table: lock.table,
            reason: lock.reason,
            rows,
            bytes,
            rewrite,
            seconds,
        });
    }
    Ok(out)
}

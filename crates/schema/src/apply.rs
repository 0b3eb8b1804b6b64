//! Applying a plan: one transaction that first locks every table it will change (in the order
//! writers lock them, see `locks`), a lock timeout on each wait, bounded retries of the whole
//! transaction when a lock cannot be had, a progress report per step, and a check against the
//! target before COMMIT.

use std::time::{Duration, Instant};

use sqlx::Connection;

use crate::diff::{compare, CompareOptions};
use crate::model::Model;
use crate::plan::{Plan, Step};
use crate::{catalog, SchemaError};

#[derive(Debug, Clone, Copy)]
pub struct ApplyOptions {
    /// `SET LOCAL lock_timeout`: the longest wait for one lock. Past it the transaction rolls back
    /// (nothing has changed) and is retried; while the apply waits, new statements on that table
    /// queue behind it, so this also bounds how long writers are held up by a wait.
    pub lock_timeout: Duration,
    /// How many times the whole transaction is tried again after a lock timeout or a deadlock.
    pub retries: u32,
    pub compare: CompareOptions,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        Self {
            lock_timeout: Duration::from_secs(2),
            retries: 5,
            compare: CompareOptions::default(),
        }
    }
}

/// What `apply` reports while it runs.
#[derive(Debug)]
pub enum Progress<'a> {
    /// Step `index` (1-based) of `total` is about to run.
    Started {
        index: usize,
        total: usize,
        step: &'a Step,
    },
    /// Step `index` ran in `elapsed`.
    Finished {
        index: usize,
        total: usize,
        step: &'a Step,
        elapsed: Duration,
    },
    /// All steps ran; the database is being compared with the target.
    Verifying,
    /// A table of the lock set was locked after waiting `waited` for other sessions.
    Locked {
        table: &'a crate::model::QName,
        waited: Duration,
    },
    /// A lock could not be had (or PostgreSQL broke a deadlock); everything was rolled back and
    /// the transaction starts again after `backoff`.
    Retrying {
        attempt: u32,
        of: u32,
        backoff: Duration,
        reason: String,
    },
}

#[derive(Debug, Clone)]
pub struct ApplyReport {
    pub steps: usize,
    pub elapsed: Duration,
    /// How many times the transaction was started again after a lock conflict.
    pub retries: u32,
    /// The longest wait for one lock in the attempt that committed.
    pub longest_lock_wait: Duration,
}

/// SQLSTATEs after which the whole transaction can simply be tried again: nothing was committed.
fn is_lock_conflict(e: &SchemaError) -> bool {
    let source = match e {
        SchemaError::Step { source, .. } => source,
        SchemaError::Lock { source, .. } => source,
        SchemaError::Db(source) => source,
        _ => return false,
    };
    is_lock_error(source)
}

/// Lock timeout or deadlock: the statement (or transaction) changed nothing and can be tried again.
pub(crate) fn is_lock_error(source: &sqlx::Error) -> bool {
    matches!(source, sqlx::Error::Database(db)
        if matches!(db.code().as_deref(), Some("55P03") | Some("40P01")))
}

/// 200 ms, 400 ms, 800 ms... capped at 5 s, with up to 50% jitter so that retries of several
/// appliers do not meet again.
pub(crate) fn backoff(attempt: u32) -> Duration {
    let base = 200u64
        .saturating_mul(1 << attempt.min(5).saturating_sub(1))
        .min(5_000);
    let jitter = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::from(d.subsec_nanos()) % (base / 2 + 1))
        .unwrap_or(0);
    Duration::from_millis(base + jitter)
}

/// Runs `plan` on `url` in one transaction. `from` is the model the plan was made from (the
/// transaction first checks the database still looks like it); `target` is what the database
/// must look like before COMMIT. On any failure the transaction rolls back.
pub async fn apply(
    url: &str,
    from: &Model,
    plan: &Plan,
    target: &Model,
    options: ApplyOptions,
    progress: &mut (dyn FnMut(Progress<'_>) + Send),
) -> Result<ApplyReport, SchemaError> {
    apply_with(url, from, plan, target, options, &|_| false, progress).await
}

/// `apply`, except that differences `later` accepts are left for stages that run after COMMIT
/// (the online path's swap and tail, see `online`), which verify them themselves.
pub async fn apply_with(
    url: &str,
    from: &Model,
    plan: &Plan,
    target: &Model,
    options: ApplyOptions,
    later: &(dyn Fn(&crate::diff::Difference) -> bool + Sync),
    progress: &mut (dyn FnMut(Progress<'_>) + Send),
) -> Result<ApplyReport, SchemaError> {
    if plan.is_blocked() {
        return Err(SchemaError::Blocked(plan.unmodelled.clone()));
    }
    let started = Instant::now();
    let locks = crate::locks::lock_order(from, plan);
    let mut attempt = 0;
    loop {
        match apply_once(url, from, plan, target, &locks, options, later, progress).await {
            Ok(mut report) => {
                report.retries = attempt;
                report.elapsed = started.elapsed();
                return Ok(report);
            }
            Err(e) if attempt < options.retries && is_lock_conflict(&e) => {
                attempt += 1;
                let pause = backoff(attempt);
                progress(Progress::Retrying {
                    attempt,
                    of: options.retries,
                    backoff: pause,
                    reason: e.to_string(),
                });
                tokio::time::sleep(pause).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// One attempt: lock, check, run every step, verify, commit; any failure rolls back.
#[allow(clippy::too_many_arguments)]
async fn apply_once(
    url: &str,
    from: &Model,
    plan: &Plan,
    target: &Model,
    locks: &[crate::locks::TableLock],
    options: ApplyOptions,
    later: &(dyn Fn(&crate::diff::Difference) -> bool + Sync),
    progress: &mut (dyn FnMut(Progress<'_>) + Send),
) -> Result<ApplyReport, SchemaError> {
    let started = Instant::now();
    let mut conn = crate::target::connect(url).await?;
    let mut tx = conn.begin().await?;
    sqlx::raw_sql(&format!(
        "SET LOCAL lock_timeout = '{}ms'",
        options.lock_timeout.as_millis()
    ))
    .execute(&mut *tx)
    .await?;
    // Function bodies may name tables created later in the plan.
    sqlx::raw_sql("SET LOCAL check_function_bodies = off")
        .execute(&mut *tx)
        .await?;

    // Every lock the plan needs, before anything else, one table at a time so each wait is seen.
    let mut longest_lock_wait = Duration::ZERO;
    for lock in locks {
        let t = Instant::now();
        sqlx::raw_sql(&format!(
            "LOCK TABLE ONLY {} IN ACCESS EXCLUSIVE MODE",
            lock.table.sql()
        ))
        .execute(&mut *tx)
        .await
        .map_err(|source| SchemaError::Lock {
            table: lock.table.to_string(),
            source,
        })?;
        let waited = t.elapsed();
        longest_lock_wait = longest_lock_wait.max(waited);
        progress(Progress::Locked {
            table: &lock.table,
            waited,
        });
    }

    let mut now = catalog::introspect(&mut tx).await?;
    crate::scope::restrict_like(&mut now, from);
    let changed = compare(&now, from, options.compare);
    if !changed.is_empty() {
        tx.rollback().await?;
        return Err(SchemaError::ChangedSincePlan(changed.differences.len()));
    }
    if let Err(e) = crate::provenance::recheck(&mut tx, plan).await {
        let _ = tx.rollback().await;
        return Err(e);
    }

    let total = plan.steps.len();
    for (i, step) in plan.steps.iter().enumerate() {
        let index = i + 1;
        progress(Progress::Started { index, total, step });
        let t = Instant::now();
        if let Err(source) = sqlx::raw_sql(&step.sql).execute(&mut *tx).await {
            let _ = tx.rollback().await;
            return Err(SchemaError::Step {
                step: index,
                object: step.object.clone(),
                action: step.action.clone(),
                source,
            });
        }
        progress(Progress::Finished {
            index,
            total,
            step,
            elapsed: t.elapsed(),
        });
    }

    progress(Progress::Verifying);
    let mut after = catalog::introspect(&mut tx).await?;
    crate::scope::restrict_like(&mut after, from);
    // Views rendered from the target's text may render differently from that text.
    let mut target = target.clone();
    crate::equivalence::reconcile(&mut tx, &after, &mut target).await?;
    let leftover = |target: &Model| {
        let mut left = compare(&after, target, options.compare);
        left.differences.retain(|d| !later(d));
        left
    };
    let mut left = leftover(&target);
    // A CHECK or index the plan added from the target's text may render differently from it;
    // the server decides in a scratch database (only made when something is left, so a plan
    // that converged as text pays nothing; the locks are held meanwhile).
    if !left.is_empty() && crate::roundtrip::reconcile_checks(url, &after, &mut target).await? > 0 {
        left = leftover(&target);
    }
    if !left.is_empty() {
        tx.rollback().await?;
        return Err(SchemaError::Leftover(left));
    }
    tx.commit().await?;
    let _ = conn.close().await;
    Ok(ApplyReport {
        steps: total,
        elapsed: started.elapsed(),
        retries: 0,
        longest_lock_wait,
    })
}

//! Applying a plan: one transaction, a lock timeout, a progress report per step, and a check
//! against the target before COMMIT.

use std::time::{Duration, Instant};

use sqlx::Connection;

use crate::diff::{compare, CompareOptions};
use crate::model::Model;
use crate::plan::{Plan, Step};
use crate::{catalog, SchemaError};

#[derive(Debug, Clone, Copy)]
pub struct ApplyOptions {
    /// `SET LOCAL lock_timeout`: a step waiting longer for a lock fails, and everything rolls back.
    pub lock_timeout: Duration,
    pub compare: CompareOptions,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        Self {
            lock_timeout: Duration::from_secs(5),
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
}

#[derive(Debug, Clone)]
pub struct ApplyReport {
    pub steps: usize,
    pub elapsed: Duration,
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

    let now = catalog::introspect(&mut tx).await?;
    let changed = compare(&now, from, options.compare);
    if !changed.is_empty() {
        tx.rollback().await?;
        return Err(SchemaError::ChangedSincePlan(changed.differences.len()));
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
    let after = catalog::introspect(&mut tx).await?;
    // Views rendered from the target's text may render differently from that text.
    let mut target = target.clone();
    crate::equivalence::reconcile(&mut tx, &after, &mut target).await?;
    let mut left = compare(&after, &target, options.compare);
    // Objects of kinds the engine does not model were named in the plan as left alone; they are
    // drift for `verify`, not a reason to undo the plan.
    left.differences
        .retain(|d| d.kind != crate::diff::NOT_MODELLED);
    if !left.is_empty() {
        tx.rollback().await?;
        return Err(SchemaError::Leftover(left));
    }
    tx.commit().await?;
    let _ = conn.close().await;
    Ok(ApplyReport {
        steps: total,
        elapsed: started.elapsed(),
    })
}

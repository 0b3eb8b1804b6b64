//! Running an online plan: prepare (expand, backfill), the main transaction, the swaps, the tail,
//! then a check against the target. Every statement outside the main transaction runs under the
//! same lock_timeout with bounded retries as the main transaction (see `apply`).

use std::time::{Duration, Instant};

use sqlx::{Connection, PgConnection};

use super::{expand::Retype, tail, OnlinePlan};
use crate::apply::{backoff, is_lock_error, ApplyOptions, ApplyReport, Progress};
use crate::diff::{compare, Difference};
use crate::model::{ident, Model, QName};
use crate::SchemaError;

/// What the online apply reports while it runs.
#[derive(Debug)]
pub enum OnlineProgress<'a> {
    /// The main transaction's own progress.
    Main(Progress<'a>),
    /// A statement outside the main transaction finished.
    Ran {
        stage: &'static str,
        what: String,
        elapsed: Duration,
    },
    /// A backfill batch committed: `rows` copied so far.
    Backfilled { table: &'a QName, rows: u64 },
    /// A swap transaction committed after holding its lock for `held`.
    Swapped { table: &'a QName, held: Duration },
    /// A statement met a lock it could not have within lock_timeout (or a deadlock); nothing of
    /// it was done, it runs again after `backoff`.
    Retrying {
        what: String,
        attempt: u32,
        of: u32,
        backoff: Duration,
        reason: String,
    },
    /// The database is compared with the target.
    Verifying,
}

#[derive(Debug, Clone, Default)]
pub struct OnlineReport {
    /// The main transaction, when there was anything left for it.
    pub main: Option<ApplyReport>,
    pub backfilled_rows: u64,
    /// How long each swap transaction held its exclusive lock (from LOCK to COMMIT).
    pub swaps: Vec<(QName, Duration)>,
    /// The longest single statement of the tail or of a retype's cleanup that takes an exclusive
    /// lock (SET NOT NULL, the drop of a NOT NULL check, of a retired key or column), which is
    /// how long it held it (its wait for the lock included).
    pub longest_tail_exclusive: Duration,
    /// The same for the prepare stage (adding the shadow column, the trigger, NOT VALID keys).
    pub longest_prepare_exclusive: Duration,
    pub tail_steps: usize,
    /// Statements run again after a lock timeout or deadlock, outside the main transaction.
    pub retries: u32,
    pub elapsed: Duration,
}

impl OnlineReport {
    /// The longest an exclusive lock was held by a stage outside the main transaction.
    pub fn longest_exclusive(&self) -> Duration {
        self.swaps
            .iter()
            .map(|s| s.1)
            .chain([self.longest_tail_exclusive, self.longest_prepare_exclusive])
            .max()
            .unwrap_or_default()
    }
}

type Report<'p> = &'p mut (dyn FnMut(OnlineProgress<'_>) + Send);

/// One connection outside any transaction block, with the apply's lock_timeout.
pub(crate) struct Session {
    conn: PgConnection,
    options: ApplyOptions,
    retries: u32,
}

impl Session {
    async fn open(url: &str, options: ApplyOptions) -> Result<Self, SchemaError> {
        let mut conn = crate::target::connect(url).await?;
        sqlx::raw_sql(&format!(
            "SET lock_timeout = '{}ms'",
            options.lock_timeout.as_millis()
        ))
        .execute(&mut conn)
        .await?;
        Ok(Self {
            conn,
            options,
            retries: 0,
        })
    }

    pub(crate) fn conn(&mut self) -> &mut PgConnection {
        &mut self.conn
    }

    /// Runs `sql` (autocommit), again after a backoff when it meets a lock conflict.
    pub(crate) async fn run(
        &mut self,
        stage: &'static str,
        sql: &str,
        progress: Report<'_>,
    ) -> Result<Duration, SchemaError> {
        let mut attempt = 0;
        let what = sql.lines().next().unwrap_or(sql).to_string();
        loop {
            let t = Instant::now();
            match sqlx::raw_sql(sql).execute(&mut self.conn).await {
                Ok(_) => {
                    let elapsed = t.elapsed();
                    progress(OnlineProgress::Ran {
                        stage,
                        what,
                        elapsed,
                    });
                    return Ok(elapsed);
                }
                Err(e) if attempt < self.options.retries && is_lock_error(&e) => {
                    attempt += 1;
                    self.retries += 1;
                    let pause = backoff(attempt);
                    progress(OnlineProgress::Retrying {
                        what: what.clone(),
                        attempt,
                        of: self.options.retries,
                        backoff: pause,
                        reason: e.to_string(),
                    });
                    tokio::time::sleep(pause).await;
                }
                Err(source) => {
                    return Err(SchemaError::Online {
                        stage,
                        what,
                        source,
                    })
                }
            }
        }
    }
}

/// Runs `online` on `url`: the online counterpart of `apply::apply`. `from` is the model the
/// plan was made from, `target` what the database must look like at the end.
pub async fn apply(
    url: &str,
    from: &Model,
    online: &OnlinePlan,
    target: &Model,
    options: ApplyOptions,
    batch_rows: u64,
    progress: Report<'_>,
) -> Result<OnlineReport, SchemaError> {
    if online.main.is_blocked() {
        return Err(SchemaError::Blocked(online.main.unmodelled.clone()));
    }
    let started = Instant::now();
    let mut report = OnlineReport::default();
    let mut session = Session::open(url, options).await?;

    for r in &online.retypes {
        let (rows, held) = prepare(&mut session, r, batch_rows, progress).await?;
        report.backfilled_rows += rows;
        report.longest_prepare_exclusive = report.longest_prepare_exclusive.max(held);
    }
    let mut from_now = from.clone();
    if !online.retypes.is_empty() {
        // The expand changed the table; everything else must still be as planned.
        from_now = crate::target::introspect_conn(session.conn()).await?;
        crate::scope::restrict_like(&mut from_now, from);
        let (mut a, mut b) = (from_now.clone(), from.clone());
        strip_shadows(&mut a, &online.retypes);
        strip_shadows(&mut b, &online.retypes);
        let changed = compare(&a, &b, options.compare);
        if !changed.is_empty() {
            return Err(SchemaError::ChangedSincePlan(changed.differences.len()));
        }
    }

    if !online.main.steps.is_empty() {
        let later = |d: &Difference| settled_later(online, d);
        let main = crate::apply::apply_with(
            url,
            &from_now,
            &online.main,
            target,
            options,
            &later,
            &mut |p| progress(OnlineProgress::Main(p)),
        )
        .await?;
        report.main = Some(main);
    }

    for r in &online.retypes {
        let held = swap(&mut session, r, progress).await?;
        report.swaps.push((r.table.clone(), held));
        for sql in &r.cleanup {
            let took = session.run("cleanup", sql, progress).await?;
            if !sql.contains("CONCURRENTLY") {
                report.longest_tail_exclusive = report.longest_tail_exclusive.max(took);
            }
        }
        // Statistics of the new column; outside the swap, so its lock is not held meanwhile.
        session
            .run("swap", &format!("ANALYZE {};", r.table.sql()), progress)
            .await?;
    }

    for step in &online.tail {
        let held = tail::run_step(&mut session, step, progress).await?;
        report.longest_tail_exclusive = report.longest_tail_exclusive.max(held);
        report.tail_steps += 1;
    }

    progress(OnlineProgress::Verifying);
    let mut now = crate::target::introspect_conn(session.conn()).await?;
    crate::scope::restrict_like(&mut now, from);
    let mut target = target.clone();
    crate::equivalence::reconcile(session.conn(), &now, &mut target).await?;
    let mut left = compare(&now, &target, options.compare);
    // CHECKs and indexes made from the target's text may render differently from it.
    if !left.is_empty() && crate::roundtrip::reconcile_checks(url, &now, &mut target).await? > 0 {
        left = compare(&now, &target, options.compare);
    }
    report.retries = session.retries;
    let _ = session.conn.close().await;
    if !left.is_empty() {
        return Err(SchemaError::Leftover(left));
    }
    report.elapsed = started.elapsed();
    Ok(report)
}

fn settled_later(online: &OnlinePlan, d: &Difference) -> bool {
    d.name.contains("__online")
        || (matches!(d.kind.as_str(), "table" | "view" | "materialized view")
            && online.settled_later.iter().any(|q| q.to_string() == d.name))
}

/// Takes the shadow objects of `retypes` out of `m` (to compare what the expand left alone).
fn strip_shadows(m: &mut Model, retypes: &[Retype]) {
    for r in retypes {
        if let Some(t) = m.tables.get_mut(&r.table) {
            t.columns.retain(|c| !c.name.contains("__online"));
            t.indexes.retain(|n, _| !n.contains("__online"));
            t.constraints.retain(|n, _| !n.contains("__online"));
            t.triggers.retain(|n, _| n != &r.trigger);
        }
        m.functions.retain(|f, _| f.name != r.function);
    }
}

/// Expand, backfill, shadow indexes and keys; each piece idempotent. Returns the rows copied and
/// the longest statement that took an exclusive lock.
async fn prepare(
    session: &mut Session,
    r: &Retype,
    batch_rows: u64,
    progress: Report<'_>,
) -> Result<(u64, Duration), SchemaError> {
    let mut held = Duration::ZERO;
    for sql in r.expand_sql() {
        held = held.max(session.run("prepare", &sql, progress).await?);
    }
    // Batches by key: each an autocommit UPDATE of at most `batch_rows` rows, so a row lock is
    // held for one batch at most and writers of other rows never wait.
    let key = ident(&r.key);
    let t = r.table.sql();
    let mut last: Option<String> = None;
    let mut rows = 0u64;
    loop {
        let bound = match &last {
            None => format!(
                "SELECT max({key})::text FROM (SELECT {key} FROM {t} ORDER BY {key} LIMIT {batch_rows}) b"
            ),
            Some(lo) => format!(
                "SELECT max({key})::text FROM (SELECT {key} FROM {t} WHERE {key} > {} ORDER BY {key} LIMIT {batch_rows}) b",
                typed(lo, &r.key_type)
            ),
        };
        let hi: Option<String> = sqlx::query_scalar(&bound).fetch_one(session.conn()).await?;
        let Some(hi) = hi else { break };
        let hi_sql = typed(&hi, &r.key_type);
        let lo_sql = last.as_deref().map(|lo| typed(lo, &r.key_type));
        let sql = r.backfill_sql(lo_sql.as_deref(), &hi_sql);
        let result = run_counting(session, &sql, progress).await?;
        rows += result;
        progress(OnlineProgress::Backfilled {
            table: &r.table,
            rows,
        });
        last = Some(hi);
    }
    for (name, def) in &r.indexes {
        let step = tail::TailStep::BuildIndex {
            table: r.table.clone(),
            name: name.clone(),
            definition: def.replacen(" CONCURRENTLY", "", 1),
        };
        tail::run_step(session, &step, progress).await?;
    }
    for (name, def) in &r.foreign_keys {
        if !constraint_exists(session, &r.table, name).await? {
            session
                .run(
                    "prepare",
                    &format!(
                        "ALTER TABLE {t} ADD CONSTRAINT {} {def} NOT VALID;",
                        ident(name)
                    ),
                    progress,
                )
                .await?;
        }
        session
            .run(
                "prepare",
                &format!("ALTER TABLE {t} VALIDATE CONSTRAINT {};", ident(name)),
                progress,
            )
            .await?;
    }
    for c in &r.columns {
        let Some(check) = &c.not_null_check else {
            continue;
        };
        if !constraint_exists(session, &r.table, check).await? {
            let add = format!(
                "ALTER TABLE {t} ADD CONSTRAINT {} CHECK ({} IS NOT NULL) NOT VALID;",
                ident(check),
                ident(&c.shadow)
            );
            held = held.max(session.run("prepare", &add, progress).await?);
        }
        session
            .run(
                "prepare",
                &format!("ALTER TABLE {t} VALIDATE CONSTRAINT {};", ident(check)),
                progress,
            )
            .await?;
    }
    Ok((rows, held))
}

/// A key value read back as text, as a literal of its type.
fn typed(value: &str, ty: &str) -> String {
    format!("CAST({} AS {ty})", crate::model::literal(value))
}

/// One backfill batch with retries; returns the rows it changed.
async fn run_counting(
    session: &mut Session,
    sql: &str,
    progress: Report<'_>,
) -> Result<u64, SchemaError> {
    let mut attempt = 0;
    loop {
        match sqlx::query(sql).execute(&mut session.conn).await {
            Ok(done) => return Ok(done.rows_affected()),
            Err(e) if attempt < session.options.retries && is_lock_error(&e) => {
                attempt += 1;
                session.retries += 1;
                let pause = backoff(attempt);
                progress(OnlineProgress::Retrying {
                    what: "backfill batch".into(),
                    attempt,
                    of: session.options.retries,
                    backoff: pause,
                    reason: e.to_string(),
                });
                tokio::time::sleep(pause).await;
            }
            Err(source) => {
                return Err(SchemaError::Online {
                    stage: "prepare",
                    what: "backfill batch".into(),
                    source,
                })
            }
        }
    }
}

pub(crate) async fn constraint_exists(
    session: &mut Session,
    table: &QName,
    name: &str,
) -> Result<bool, SchemaError> {
    Ok(sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint
                         WHERE conrelid = (quote_ident($1) || '.' || quote_ident($2))::regclass
                           AND conname = $3)",
    )
    .bind(&table.schema)
    .bind(&table.name)
    .bind(name)
    .fetch_one(session.conn())
    .await?)
}

/// The longest the swap waits for one lock. While it waits, writers queue behind it, so this
/// bounds how long they are held up; a busy table means another try after a backoff instead.
const SWAP_LOCK_WAIT: Duration = Duration::from_millis(50);

/// The swap waits much shorter than other statements, so it is tried this many times more
/// often than `--retries` says (20 with the default 5).
const SWAP_TRIES_PER_RETRY: u32 = 4;

/// The swap: one short transaction, its locks taken first (this table, then the tables its
/// dropped foreign keys reference: the writers' order), each wait short, retried as a whole.
/// Returns how long it held its exclusive lock.
async fn swap(
    session: &mut Session,
    r: &Retype,
    progress: Report<'_>,
) -> Result<Duration, SchemaError> {
    let mut attempt = 0;
    let tries = session.options.retries * SWAP_TRIES_PER_RETRY;
    loop {
        match swap_once(session, r).await {
            Ok(held) => {
                progress(OnlineProgress::Swapped {
                    table: &r.table,
                    held,
                });
                return Ok(held);
            }
            Err(e) if attempt < tries && is_lock_error(&e) => {
                attempt += 1;
                session.retries += 1;
                let pause = backoff(attempt.min(3));
                progress(OnlineProgress::Retrying {
                    what: format!("swap of {}", r.table),
                    attempt,
                    of: tries,
                    backoff: pause,
                    reason: e.to_string(),
                });
                tokio::time::sleep(pause).await;
            }
            Err(source) => {
                return Err(SchemaError::Online {
                    stage: "swap",
                    what: format!(
                        "swap of {} (rolled back; the shadow column stays, a re-run swaps)",
                        r.table
                    ),
                    source,
                })
            }
        }
    }
}

async fn swap_once(session: &mut Session, r: &Retype) -> Result<Duration, sqlx::Error> {
    let wait = session.options.lock_timeout.min(SWAP_LOCK_WAIT);
    let mut tx = session.conn.begin().await?;
    sqlx::raw_sql(&format!(
        "SET LOCAL lock_timeout = '{}ms'; LOCK TABLE ONLY {} IN ACCESS EXCLUSIVE MODE",
        wait.as_millis(),
        r.table.sql()
    ))
    .execute(&mut *tx)
    .await?;
    let held = Instant::now();
    // The rest in one round trip: the lock is held for the server's work, not for the network.
    let mut batch = String::new();
    for t in &r.referenced {
        batch.push_str(&format!(
            "LOCK TABLE ONLY {} IN ACCESS EXCLUSIVE MODE;\n",
            t.sql()
        ));
    }
    for sql in &r.swap {
        batch.push_str(sql);
        batch.push('\n');
    }
    sqlx::raw_sql(&batch).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(held.elapsed())
}

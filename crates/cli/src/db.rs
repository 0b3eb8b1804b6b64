//! `soprovod db …`: the embedded database, and the schema engine's commands (plan, apply, diff,
//! verify) that bring a database to the declared schema or compare two databases.

use std::collections::BTreeSet;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};
use pgcluster::LocalCluster;
use schema::format::{self, Format};
use schema::{HazardKind, Plan, Progress, Target};

use crate::dbsource::{self, redact, DbSource};
use crate::Outcome;

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Start the embedded database if needed, bring it to the declared schema, print its URL.
    ///
    /// An empty database gets the declared schema; an existing one is brought to it through the
    /// schema engine: the plan is shown on stderr and hazards are refused unless allowed.
    Up(UpArgs),
    /// Stop the embedded database.
    Down,
    /// Show what it takes to bring the database to the target; changes nothing.
    Plan(PlanArgs),
    /// Bring the database to the target in one transaction, verify it, commit.
    Apply(ApplyArgs),
    /// Drift between two live databases (exit 0 no drift, 1 drift, 2 error).
    Diff(DiffArgs),
    /// Is the database exactly at the target? Prints the drift if not (exit 0 same, 1 drift).
    Verify(VerifyArgs),
    /// Put back what `db apply` backed up, then check every table holds exactly the rows it held.
    ///
    /// In place (the configured database) this is a rollback: the backed-up schemas are replaced
    /// by the backup in one transaction, so anything written since is gone. `--into URL` restores
    /// into another, empty database. Nothing changes unless every table checks out.
    Restore(RestoreArgs),
    /// Write the database's schema as declared .sql files that `--target DIR` accepts.
    ///
    /// pg_dump's schema, cut into files of one kind each, numbered in an order that loads
    /// (001_schema.sql, 002_function.sql, 003_table.sql, …). Owners are left out; grants and
    /// comments are kept. `db apply --target DIR` on another database brings it to this schema.
    Dump(DumpArgs),
}

#[derive(Debug, Args)]
pub struct DumpArgs {
    /// The directory to write (created if missing; it must not hold .sql files yet).
    #[arg(long, value_name = "DIR", default_value = "schema")]
    out: PathBuf,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The .dump file `db apply` printed (its .manifest.json must be next to it).
    #[arg(value_name = "BACKUP")]
    backup: PathBuf,
    /// Restore into this database (it must hold no tables) instead of the configured one.
    #[arg(long, value_name = "URL")]
    into: Option<String>,
}

#[derive(Debug, Args)]
pub struct TargetArgs {
    /// What to bring the database to: the declared schema shipped in the binary (default), a
    /// directory of .sql files (run in file-name order), or a postgres:// URL to copy the schema from.
    #[arg(long, value_name = "T")]
    target: Option<String>,
    /// A schema to manage (repeatable). By default the engine manages the schemas the target has
    /// and leaves every other schema (auth, a platform's own), its functions and extensions alone.
    #[arg(long = "schema", value_name = "NAME")]
    schemas: Vec<String>,
}

/// Low-lock ways of making changes (see `schema::online`).
#[derive(Debug, Args)]
pub struct OnlineArgs {
    /// Choose low-lock ways where they exist and say which: indexes built CONCURRENTLY, foreign
    /// keys and CHECKs added NOT VALID then validated, a NOT NULL through a validated CHECK (these
    /// after the main transaction, step by step; a re-run finishes an interrupted one), and
    /// non-lossy retypes by expand/contract (shadow column, trigger, batched backfill, short
    /// swap). Without it, only a plan made of nothing but such index, constraint and NOT NULL
    /// changes takes the online path (it costs nothing there).
    #[arg(long, conflicts_with = "no_online")]
    online: bool,
    /// Everything in the one transaction, even where the online path would cost nothing.
    #[arg(long)]
    no_online: bool,
    /// Rows per backfill transaction of an expand/contract retype.
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    batch_rows: u64,
}

impl OnlineArgs {
    fn mode(&self) -> schema::online::Mode {
        if self.online {
            schema::online::Mode::On
        } else if self.no_online {
            schema::online::Mode::Off
        } else {
            schema::online::Mode::Auto
        }
    }
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    target: TargetArgs,
    #[command(flatten)]
    online: OnlineArgs,
    /// text (for people), sql (only SQL: `soprovod db plan --format sql | psql -1`), json (stable).
    #[arg(long, default_value = "text", value_parser = ["text", "sql", "json"])]
    format: String,
}

#[derive(Debug, Args)]
pub struct HazardArgs {
    /// Hazard kinds to allow: `all`, or a comma list of data-loss, lossy-cast, table-rewrite,
    /// matview-repopulate, security. A plan with a hazard that is not allowed changes nothing
    /// (exit 1). Blockers (steps the live data would make fail) are never allowed.
    #[arg(long, value_name = "KINDS")]
    allow_hazards: Option<String>,
    /// Directory for the pg_dump backup of the tables the plan touches (default:
    /// $SOPROVOD_DATA_DIR/backups).
    #[arg(long, value_name = "DIR", conflicts_with = "no_backup")]
    backup_dir: Option<PathBuf>,
    /// Do not back up the touched tables first.
    #[arg(long)]
    no_backup: bool,
    /// Longest wait for one lock, in milliseconds. The apply locks the tables it changes at its
    /// start; a wait longer than this rolls everything back (nothing changed) and the transaction
    /// is tried again, up to --retries times. Writers queue behind a waiting apply, so this also
    /// bounds how long a wait holds them up.
    #[arg(long, value_name = "MS", default_value_t = 2000)]
    lock_timeout: u64,
    /// How many times the whole transaction is tried again after a lock timeout or a deadlock.
    #[arg(long, value_name = "N", default_value_t = 5)]
    retries: u32,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    target: TargetArgs,
    /// Apply without asking. Without it, a confirmation is read from the terminal; when stdin is
    /// not a terminal the command refuses (exit 1).
    #[arg(long, short = 'y')]
    yes: bool,
    #[command(flatten)]
    hazards: HazardArgs,
    #[command(flatten)]
    online: OnlineArgs,
}

#[derive(Debug, Args)]
pub struct UpArgs {
    #[command(flatten)]
    hazards: HazardArgs,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The database that would change.
    #[arg(long, value_name = "URL")]
    from: String,
    /// The database to compare with.
    #[arg(long, value_name = "URL")]
    to: String,
    /// text (an operator's report), sql (the script that makes FROM look like TO; run it with
    /// `psql -1`), json (stable).
    #[arg(long, default_value = "text", value_parser = ["text", "sql", "json"])]
    format: String,
    /// A schema to compare (repeatable). By default: the schemas TO has.
    #[arg(long = "schema", value_name = "NAME")]
    schemas: Vec<String>,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    target: TargetArgs,
    /// text or json.
    #[arg(long, default_value = "text", value_parser = ["text", "json"])]
    format: String,
}

/// `data_dir` is SOPROVOD_DATA_DIR: backups go to its `backups/` unless `--backup-dir` says.
pub async fn run(cmd: DbCommand, source: &DbSource, data_dir: &Path) -> anyhow::Result<Outcome> {
    match cmd {
        DbCommand::Up(args) => up(source, args).await,
        DbCommand::Down => down(source).await,
        DbCommand::Plan(args) => plan(source, args).await,
        DbCommand::Apply(mut args) => {
            args.hazards
                .backup_dir
                .get_or_insert_with(|| data_dir.join("backups"));
            apply(source, args).await
        }
        DbCommand::Diff(args) => diff(args).await,
        DbCommand::Verify(args) => verify(source, args).await,
        DbCommand::Restore(args) => restore(source, args).await,
        DbCommand::Dump(args) => dump(source, args).await,
    }
}

fn target(args: &TargetArgs) -> anyhow::Result<Target> {
    match &args.target {
        None => Ok(declared_target()),
        Some(raw) => Target::parse(raw).map_err(anyhow::Error::msg),
    }
}

/// The product's declared schema with its data-step files.
fn declared_target() -> Target {
    Target::Files(
        store::declared_target_files()
            .map(|f| schema::SourceFile::new(f.name, f.sql))
            .collect(),
    )
}

fn target_label(args: &TargetArgs) -> String {
    args.target
        .as_deref()
        .map(redact)
        .unwrap_or_else(|| "the declared schema".into())
}

/// The database's model, the target's model and the plan between them.
async fn make_plan(
    url: &str,
    target: &Target,
    schemas: &[String],
) -> anyhow::Result<(schema::Model, schema::Model, Plan)> {
    // The live database first: when it is unreachable, that is what the error names.
    let mut from = schema::introspect_url(url)
        .await
        .with_context(|| format!("introspecting {}", redact(url)))?;
    let mut to = schema::load_target(url, target)
        .await
        .context("loading the target schema")?;
    restrict(&mut from, &mut to, schemas);
    schema::reconcile_url(url, &from, &mut to)
        .await
        .context("comparing view, check and index definitions")?;
    let directives = target.directives()?;
    let plan = schema::plan_directed(url, &from, &to, target.compare_options(), &directives)
        .await
        .context("planning with the target's renames and data steps")?;
    Ok((from, to, plan))
}

/// Cuts both models down to the managed schemas: `schemas`, or else the target's.
fn restrict(from: &mut schema::Model, to: &mut schema::Model, schemas: &[String]) {
    schema::scope::restrict_both(from, to, schemas);
}

/// What the data steps of the plan resolve (`@resolves`); preflight reports those blockers as
/// resolved instead of refusing.
fn resolutions(plan: &Plan) -> Vec<schema::Resolution> {
    plan.resolutions()
}

/// Runs the plan's data checks against the live rows, read-only.
async fn run_preflight(
    url: &str,
    from: &schema::Model,
    plan: &Plan,
) -> anyhow::Result<schema::Preflight> {
    schema::preflight(url, from, plan, &resolutions(plan))
        .await
        .context("preflight: checking the plan against the live rows")
}

async fn plan(source: &DbSource, args: PlanArgs) -> anyhow::Result<Outcome> {
    let target = target(&args.target)?;
    let url = source.ensure_url().await?;
    let (from, to, plan) = make_plan(&url, &target, &args.target.schemas).await?;
    let preflight = run_preflight(&url, &from, &plan).await?;
    let online = schema::online::plan(&from, &to, &plan, args.online.mode());
    match Format::parse(&args.format).unwrap_or(Format::Text) {
        Format::Text => {
            print!("{}", online.plan_text());
            print!("{}", lock_text(&url, &from, &online.main).await?);
            print!("{}", preflight.text());
        }
        Format::Sql => print!("{}{}", preflight.sql_guard(), online.sql()),
        Format::Json => {
            let mut doc: serde_json::Value =
                serde_json::from_str(&format::plan_json(&online.main))?;
            // Which way each change takes, and the stages outside the main transaction.
            doc["online"] = serde_json::json!({
                "paths": online.paths,
                "retypes": online.retypes,
                "tail": online.tail,
            });
            doc["blockers"] = serde_json::to_value(&preflight.blockers)?;
            doc["preflight"] = serde_json::to_value(&preflight)?;
            println!("{}", serde_json::to_string_pretty(&doc)?);
        }
    }
    Ok(Outcome::Ok)
}

/// Prints the preflight report; true when no blocker stands in the way.
fn blockers_clear(preflight: &schema::Preflight) -> bool {
    print!("{}", preflight.text());
    if preflight.is_clear() {
        return true;
    }
    eprintln!(
        "refused: {} blockers (listed above): the live data would make the plan fail; nothing was changed. \
         Fix the rows, or add a data step that resolves them, then plan again",
        preflight.blockers.len()
    );
    false
}

fn parse_allowed(raw: Option<&str>) -> anyhow::Result<BTreeSet<HazardKind>> {
    let Some(raw) = raw else {
        return Ok(BTreeSet::new());
    };
    let mut out = BTreeSet::new();
    for part in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        if part == "all" {
            out.extend(HazardKind::ALL);
        } else {
            out.insert(HazardKind::parse(part).with_context(|| {
                format!("unknown hazard kind {part:?}; the kinds are all, data-loss, lossy-cast, table-rewrite, matview-repopulate, security")
            })?);
        }
    }
    Ok(out)
}

/// Hazards of `plan` that are not allowed, listed on stderr; true when the plan may run.
fn hazards_allowed(plan: &Plan, allowed: &BTreeSet<HazardKind>) -> bool {
    let refused: Vec<_> = plan
        .hazards()
        .into_iter()
        .filter(|(_, h)| !allowed.contains(&h.kind))
        .collect();
    if refused.is_empty() {
        return true;
    }
    let kinds: BTreeSet<&str> = refused.iter().map(|(_, h)| h.kind.as_str()).collect();
    eprintln!("refused: the plan has hazards that are not allowed; nothing was changed:");
    for (s, h) in &refused {
        eprintln!("  {:<18} {}: {}", h.kind.as_str(), s.object, h.reason);
    }
    eprintln!(
        "allow them with --allow-hazards {} (or --allow-hazards all)",
        kinds.into_iter().collect::<Vec<_>>().join(",")
    );
    false
}

/// A plan with blockers (differences the engine does not model) never runs; true when refused.
fn refuse_blocked(plan: &Plan) -> bool {
    if !plan.is_blocked() {
        return false;
    }
    eprintln!(
        "refused: the database differs from the target in {} objects the engine does not model (listed under Blockers); nothing was changed",
        plan.unmodelled.len()
    );
    true
}

/// Backs up, applies with progress on stderr, reports. The plan is already accepted.
async fn run_plan(
    url: &str,
    from: &schema::Model,
    to: &schema::Model,
    plan: &Plan,
    target: &Target,
    hazards: &HazardArgs,
) -> anyhow::Result<()> {
    if !hazards.no_backup && !plan.touched_tables().is_empty() {
        let dir = hazards
            .backup_dir
            .clone()
            .context("no backup directory (db::run sets the default)")?;
        let started = std::time::Instant::now();
        let backup = schema::backup_database(url, &dir)
            .await
            .context("backing up the database (use --no-backup to skip)")?;
        eprintln!(
            "backup of the database ({} tables, {} rows, {:.1} MB, {:.2} s): {}",
            backup.tables,
            backup.rows,
            backup.bytes as f64 / 1e6,
            started.elapsed().as_secs_f64(),
            backup.file.display()
        );
        eprintln!("restore with: {}", backup.restore_command);
    }
    let options = schema::ApplyOptions {
        lock_timeout: Duration::from_millis(hazards.lock_timeout),
        retries: hazards.retries,
        compare: target.compare_options(),
    };
    // On a terminal a bar shows the running step; either way each finished step gets a line.
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(plan.steps.len() as u64);
        if let Ok(style) =
            indicatif::ProgressStyle::with_template("{spinner} [{pos}/{len}] {elapsed} {wide_msg}")
        {
            bar.set_style(style);
        }
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    });
    let say = |line: String| match &bar {
        Some(bar) => bar.println(line),
        None => eprintln!("{line}"),
    };
    let mut report = |p: Progress<'_>| match p {
        Progress::Started { step, .. } => {
            if let Some(bar) = &bar {
                bar.set_message(format!("{}: {}", step.object, step.action));
            }
        }
        Progress::Finished {
            index,
            total,
            step,
            elapsed,
        } => {
            say(format!(
                "[{index}/{total}] {}: {} ({:.3} s)",
                step.object,
                step.action,
                elapsed.as_secs_f64()
            ));
            if let Some(bar) = &bar {
                bar.inc(1);
            }
        }
        Progress::Verifying => {
            if let Some(bar) = &bar {
                bar.set_message("verifying against the target");
            }
            say("verifying the database against the target before COMMIT".to_string())
        }
        Progress::Locked { table, waited } => say(format!(
            "locked {} (ACCESS EXCLUSIVE) after waiting {:.3} s",
            table.sql(),
            waited.as_secs_f64()
        )),
        Progress::Retrying {
            attempt,
            of,
            backoff,
            reason,
        } => say(format!(
            "rolled back, nothing changed ({reason}); retry {attempt} of {of} in {:.1} s",
            backoff.as_secs_f64()
        )),
    };
    let result = schema::apply(url, from, plan, to, options, &mut report).await;
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    match result {
        Ok(done) => {
            eprintln!(
                "applied {} steps in one transaction in {:.2} s ({} retries, longest lock wait {:.3} s); the database is at the target",
                done.steps,
                done.elapsed.as_secs_f64(),
                done.retries,
                done.longest_lock_wait.as_secs_f64()
            );
            Ok(())
        }
        Err(schema::SchemaError::Leftover(drift)) => {
            eprint!(
                "{}",
                format::drift_text(&drift, "database after the plan", "target")
            );
            anyhow::bail!("the plan did not reach the target; rolled back, nothing changed")
        }
        Err(e) => Err(e.into()),
    }
}

/// Backs up, then runs an online plan (prepare, main transaction, swaps, tail, verify) with each
/// step reported on stderr.
async fn run_online(
    url: &str,
    from: &schema::Model,
    to: &schema::Model,
    plan: &Plan,
    online: &schema::online::OnlinePlan,
    target: &Target,
    args: &ApplyArgs,
) -> anyhow::Result<()> {
    use schema::online::OnlineProgress;
    let hazards = &args.hazards;
    if !hazards.no_backup && !plan.touched_tables().is_empty() {
        let dir = hazards
            .backup_dir
            .clone()
            .context("no backup directory (db::run sets the default)")?;
        let backup = schema::backup_database(url, &dir)
            .await
            .context("backing up the database (use --no-backup to skip)")?;
        eprintln!("backup of the database: {}", backup.file.display());
        eprintln!("restore with: {}", backup.restore_command);
    }
    let options = schema::ApplyOptions {
        lock_timeout: Duration::from_millis(hazards.lock_timeout),
        retries: hazards.retries,
        compare: target.compare_options(),
    };
    let mut report = |p: OnlineProgress<'_>| match p {
        OnlineProgress::Main(Progress::Finished {
            index,
            total,
            step,
            elapsed,
        }) => eprintln!(
            "[{index}/{total}] {}: {} ({:.3} s)",
            step.object,
            step.action,
            elapsed.as_secs_f64()
        ),
        OnlineProgress::Main(Progress::Retrying {
            attempt,
            of,
            reason,
            ..
        }) => eprintln!(
            "main transaction rolled back, nothing changed ({reason}); retry {attempt} of {of}"
        ),
        OnlineProgress::Main(Progress::Verifying) => {
            eprintln!("verifying the main transaction before COMMIT")
        }
        OnlineProgress::Main(_) => {}
        OnlineProgress::Ran {
            stage,
            what,
            elapsed,
        } => eprintln!("[{stage}] {what} ({:.3} s)", elapsed.as_secs_f64()),
        OnlineProgress::Backfilled { table, rows } => {
            eprintln!("[prepare] {table}: {rows} rows copied")
        }
        OnlineProgress::Swapped { table, held } => eprintln!(
            "[swap] {table} swapped; exclusive lock held {:.3} s",
            held.as_secs_f64()
        ),
        OnlineProgress::Retrying {
            what,
            attempt,
            of,
            backoff,
            reason,
        } => eprintln!(
            "{what}: {reason}; retry {attempt} of {of} in {:.1} s",
            backoff.as_secs_f64()
        ),
        OnlineProgress::Verifying => eprintln!("verifying the database against the target"),
    };
    match schema::online::apply(
        url,
        from,
        online,
        to,
        options,
        args.online.batch_rows,
        &mut report,
    )
    .await
    {
        Ok(done) => {
            eprintln!(
                "applied online in {:.2} s: {} rows backfilled, {} swaps, {} tail steps, {} retries, longest exclusive lock outside the main transaction {:.3} s; the database is at the target",
                done.elapsed.as_secs_f64(),
                done.backfilled_rows,
                done.swaps.len(),
                done.tail_steps,
                done.retries,
                done.longest_exclusive().as_secs_f64()
            );
            Ok(())
        }
        Err(schema::SchemaError::Leftover(drift)) => {
            eprint!(
                "{}",
                format::drift_text(&drift, "database after the online plan", "target")
            );
            anyhow::bail!("the online plan did not reach the target; run `db apply --online` again to see what is left")
        }
        Err(e) => Err(e.into()),
    }
}

/// What the plan locks and for roughly how long, from the tables' sizes: said before it happens.
async fn lock_text(url: &str, from: &schema::Model, plan: &Plan) -> anyhow::Result<String> {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(url)
        .await
        .with_context(|| format!("connecting to {}", redact(url)))?;
    let locks = schema::locks::estimate(&mut conn, from, plan)
        .await
        .context("sizing the tables the plan locks")?;
    let _ = conn.close().await;
    Ok(format::locks_text(&locks))
}

async fn apply(source: &DbSource, args: ApplyArgs) -> anyhow::Result<Outcome> {
    let allowed = parse_allowed(args.hazards.allow_hazards.as_deref())?;
    let target = target(&args.target)?;
    let url = source.ensure_url().await?;
    let (from, to, plan) = make_plan(&url, &target, &args.target.schemas).await?;
    if plan.is_empty() && !plan.is_blocked() {
        eprintln!(
            "nothing to do: the database is at {}",
            target_label(&args.target)
        );
        return Ok(Outcome::Ok);
    }
    let online = schema::online::plan(&from, &to, &plan, args.online.mode());
    print!("{}", online.plan_text());
    if refuse_blocked(&plan) {
        return Ok(Outcome::Refused);
    }
    print!("{}", lock_text(&url, &from, &online.main).await?);
    // Preflight reads the original plan: its checks are what the online steps must meet too.
    let preflight = run_preflight(&url, &from, &plan).await?;
    let clear = blockers_clear(&preflight);
    if !hazards_allowed(&online.main, &allowed) || !clear {
        return Ok(Outcome::Refused);
    }
    if !args.yes {
        if !std::io::stdin().is_terminal() {
            eprintln!("refused: not confirmed; stdin is not a terminal, so pass --yes to apply without asking. Nothing was changed.");
            return Ok(Outcome::Refused);
        }
        eprint!(
            "Apply these {} steps to {}? [y/N] ",
            plan.steps.len(),
            redact(&url)
        );
        std::io::stderr().flush().ok();
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            eprintln!("refused: not confirmed. Nothing was changed.");
            return Ok(Outcome::Refused);
        }
    }
    if online.has_stages() {
        run_online(&url, &from, &to, &plan, &online, &target, &args).await?;
    } else {
        run_plan(&url, &from, &to, &online.main, &target, &args.hazards).await?;
    }
    if args.target.target.is_none() {
        fill_analytics_summaries(&url).await?;
    }
    Ok(Outcome::Ok)
}

/// After a plan created the analytics summary tables on a database that already had users, fills
/// them once so the cohort report is fast again (until then it is exact but computed from the base
/// tables). The engine itself knows nothing about them; this is the product's own step.
async fn fill_analytics_summaries(url: &str) -> anyhow::Result<()> {
    let pool = store::connect(url, 1)
        .await
        .with_context(|| format!("connecting to {}", redact(url)))?;
    if !store::analytics::summaries_filled(&pool).await? {
        let started = std::time::Instant::now();
        store::analytics::rebuild_summaries(&pool)
            .await
            .context("filling the analytics summaries")?;
        eprintln!(
            "analytics summaries filled from the existing rows ({:.2} s)",
            started.elapsed().as_secs_f64()
        );
    }
    pool.close().await;
    Ok(())
}

async fn diff(args: DiffArgs) -> anyhow::Result<Outcome> {
    let mut from = schema::introspect_url(&args.from)
        .await
        .with_context(|| format!("introspecting {}", redact(&args.from)))?;
    let mut to = schema::introspect_url(&args.to)
        .await
        .with_context(|| format!("introspecting {}", redact(&args.to)))?;
    restrict(&mut from, &mut to, &args.schemas);
    schema::reconcile_url(&args.from, &from, &mut to)
        .await
        .context("comparing view, check and index definitions")?;
    let opts = schema::CompareOptions::default();
    let drift = schema::compare(&from, &to, opts);
    match Format::parse(&args.format).unwrap_or(Format::Text) {
        Format::Text => print!(
            "{}",
            format::drift_text(&drift, &redact(&args.from), &redact(&args.to))
        ),
        Format::Json => println!("{}", format::drift_json(&drift)),
        Format::Sql => print!("{}", format::plan_sql(&schema::plan(&from, &to, opts))),
    }
    Ok(if drift.is_empty() {
        Outcome::Ok
    } else {
        Outcome::Refused
    })
}

async fn dump(source: &DbSource, args: DumpArgs) -> anyhow::Result<Outcome> {
    let url = source.ensure_url().await?;
    let out = args.out.clone();
    let url_owned = url.clone();
    let report = tokio::task::spawn_blocking(move || schema::dump::dump(&url_owned, &out))
        .await?
        .with_context(|| format!("dumping the schema of {}", redact(&url)))?;
    for f in &report.files {
        println!("{}", f.display());
    }
    eprintln!(
        "wrote {} objects in {} files to {}; use it with --target {}",
        report.objects,
        report.files.len(),
        args.out.display(),
        args.out.display()
    );
    Ok(Outcome::Ok)
}

async fn restore(source: &DbSource, args: RestoreArgs) -> anyhow::Result<Outcome> {
    let manifest = schema::backup::read_manifest(&args.backup)?;
    let url = match &args.into {
        Some(url) => {
            let pool = store::connect(url, 1)
                .await
                .with_context(|| format!("connecting to {}", redact(url)))?;
            let existing = store::user_relations(&pool).await?;
            pool.close().await;
            if !existing.is_empty() {
                anyhow::bail!(
                    "{} already holds {} tables or views; restore --into an empty database (createdb a new one), or without --into to roll the configured database back",
                    redact(url),
                    existing.len()
                );
            }
            url.clone()
        }
        None => source.ensure_url().await?,
    };
    eprintln!(
        "restoring {} ({} tables, {} rows) into {}",
        args.backup.display(),
        manifest.tables.len(),
        manifest.tables.iter().map(|t| t.rows).sum::<i64>(),
        redact(&url)
    );
    let started = std::time::Instant::now();
    let file = args.backup.clone();
    let url_owned = url.clone();
    let report = tokio::task::spawn_blocking(move || schema::restore(&file, &url_owned)).await??;
    eprintln!(
        "restored in one transaction in {:.2} s; all {} tables hold exactly the rows they held ({} rows)",
        started.elapsed().as_secs_f64(),
        report.tables,
        report.rows
    );
    Ok(Outcome::Ok)
}

async fn verify(source: &DbSource, args: VerifyArgs) -> anyhow::Result<Outcome> {
    let target = target(&args.target)?;
    let url = source.ensure_url().await?;
    let mut from = schema::introspect_url(&url)
        .await
        .with_context(|| format!("introspecting {}", redact(&url)))?;
    let mut to = schema::load_target(&url, &target)
        .await
        .context("loading the target schema")?;
    restrict(&mut from, &mut to, &args.target.schemas);
    schema::reconcile_url(&url, &from, &mut to)
        .await
        .context("comparing view, check and index definitions")?;
    let drift = schema::compare(&from, &to, target.compare_options());
    if args.format == "json" {
        println!("{}", format::drift_json(&drift));
    } else {
        print!(
            "{}",
            format::drift_text(&drift, "the database", &target_label(&args.target))
        );
    }
    Ok(if drift.is_empty() {
        Outcome::Ok
    } else {
        Outcome::Refused
    })
}

async fn up(source: &DbSource, args: UpArgs) -> anyhow::Result<Outcome> {
    let allowed = parse_allowed(args.hazards.allow_hazards.as_deref())?;
    let (origin, url) = match source {
        DbSource::Url(url) => ("external", url.clone()),
        DbSource::Embedded(dir) => {
            let (started, url) = dbsource::start_embedded(dir.clone()).await?;
            (
                if started {
                    "embedded, started"
                } else {
                    "embedded, already running"
                },
                url,
            )
        }
    };
    let pool = store::connect(&url, 2)
        .await
        .with_context(|| format!("connecting to {}", redact(&url)))?;
    let existing = store::user_relations(&pool).await?;
    pool.close().await;
    let schema_state = if existing.is_empty() {
        let pool = store::connect(&url, 2)
            .await
            .with_context(|| format!("connecting to {}", redact(&url)))?;
        store::create_declared_schema(&pool)
            .await
            .context("creating the declared schema")?;
        pool.close().await;
        "declared schema created".to_string()
    } else {
        // An existing database goes through the schema engine; stdout keeps only the URL.
        let target = declared_target();
        let (from, to, plan) = make_plan(&url, &target, &[]).await?;
        if plan.is_empty() && !plan.is_blocked() {
            "at the declared schema (verified)".to_string()
        } else {
            eprint!("{}", format::plan_text(&plan));
            if refuse_blocked(&plan) {
                return Ok(Outcome::Refused);
            }
            let preflight = run_preflight(&url, &from, &plan).await?;
            eprint!("{}", preflight.text());
            let clear = preflight.is_clear();
            if !clear {
                eprintln!(
                    "refused: {} blockers (listed above); nothing was changed",
                    preflight.blockers.len()
                );
            }
            if !hazards_allowed(&plan, &allowed) || !clear {
                return Ok(Outcome::Refused);
            }
            run_plan(&url, &from, &to, &plan, &target, &args.hazards).await?;
            fill_analytics_summaries(&url).await?;
            format!(
                "brought to the declared schema ({} steps)",
                plan.steps.len()
            )
        }
    };
    eprintln!("database ready ({origin}); {schema_state}");
    println!("{url}");
    Ok(Outcome::Ok)
}

async fn down(source: &DbSource) -> anyhow::Result<Outcome> {
    let DbSource::Embedded(dir) = source else {
        anyhow::bail!(
            "`db down` stops the embedded database; with DATABASE_URL or --database-url set there is none to stop"
        );
    };
    let dir = dir.clone();
    let stopped = tokio::task::spawn_blocking(move || -> anyhow::Result<bool> {
        let cluster = LocalCluster::new(&dir)?;
        Ok(cluster.down()?)
    })
    .await??;
    eprintln!(
        "{}",
        if stopped {
            "embedded database stopped"
        } else {
            "embedded database was not running"
        }
    );
    Ok(Outcome::Ok)
}

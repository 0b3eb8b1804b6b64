//! What the throughput bench prints besides its timings: the machine's load when it started,
//! the statements the bot sent to PostgreSQL (counted from sqlx's own per-statement events, so
//! nothing in the bot is instrumented for the bench), and where the CPU went — the bot's
//! runtime, the bench's own (the fake Bot API, the LLM double, the simulated users) and the
//! PostgreSQL server processes. A bench that spends its cores on its own doubles measures them,
//! not the bot: the split says how much of the machine the bot actually had.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tracing::field::{Field, Visit};
use tracing::subscriber::Interest;
use tracing::{Event, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;

/// The thread name of the bot's runtime in the harness (`support::harness`).
pub const BOT_THREADS: &str = "bot-worker";

/// The 1-, 5- and 15-minute load averages, as /proc/loadavg gives them.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// Statements sent by any sqlx connection of this process, by their first words.
#[derive(Clone, Default)]
pub struct Statements {
    total: Arc<AtomicU64>,
    by_kind: Arc<Mutex<HashMap<String, u64>>>,
}

impl Statements {
    /// Installs the counter as the process's tracing subscriber (nothing else is logged).
    pub fn install() -> Self {
        let counter = Self::default();
        tracing_subscriber::registry()
            .with(Counting(counter.clone()))
            .init();
        counter
    }

    /// Statements counted so far, and by kind.
    pub fn snapshot(&self) -> (u64, HashMap<String, u64>) {
        (
            self.total.load(Ordering::Relaxed),
            self.by_kind.lock().unwrap().clone(),
        )
    }
}

/// What happened between two snapshots, largest kinds first.
pub fn statements_between(
    before: &(u64, HashMap<String, u64>),
    after: &(u64, HashMap<String, u64>),
) -> (u64, Vec<(String, u64)>) {
    let mut kinds: Vec<(String, u64)> = after
        .1
        .iter()
        .map(|(k, n)| (k.clone(), n - before.1.get(k).copied().unwrap_or(0)))
        .filter(|(_, n)| *n > 0)
        .collect();
    kinds.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    (after.0 - before.0, kinds)
}

struct Counting(Statements);

const TARGET: &str = "sqlx::query";

impl<S: Subscriber> Layer<S> for Counting {
    fn register_callsite(&self, meta: &'static Metadata<'static>) -> Interest {
        if meta.target() == TARGET && meta.is_event() {
            Interest::always()
        } else {
            Interest::never()
        }
    }

    fn enabled(&self, meta: &Metadata<'_>, _: Context<'_, S>) -> bool {
        meta.target() == TARGET && meta.is_event()
    }

    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let mut summary = Summary(String::new());
        event.record(&mut summary);
        self.0.total.fetch_add(1, Ordering::Relaxed);
        *self.0.by_kind.lock().unwrap().entry(summary.0).or_default() += 1;
    }
}

/// sqlx's `summary` field: the statement's first four words.
struct Summary(String);

impl Visit for Summary {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "summary" {
            self.0 = value.trim_end_matches(" …").to_string();
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "summary" {
            self.0 = format!("{value:?}")
                .trim_matches('"')
                .trim_end_matches(" …")
                .to_string();
        }
    }
}

/// CPU seconds used so far: by the bot's runtime threads, by the rest of this process (the
/// bench's doubles and simulated users), and by the PostgreSQL processes this process started.
#[derive(Debug, Clone, Copy, Default)]
pub struct Cpu {
    pub bot: f64,
    pub bench: f64,
    pub postgres: f64,
}

impl Cpu {
    pub fn now() -> Self {
        let tick = clock_tick();
        let me = std::process::id();
        let process = stat_times(&format!("/proc/{me}/stat")).map_or(0.0, |(_, t)| t);
        let mut bot = 0.0;
        if let Ok(tasks) = std::fs::read_dir(format!("/proc/{me}/task")) {
            for task in tasks.flatten() {
                let path = task.path().join("stat");
                if let Some((name, t)) = stat_times(&path.to_string_lossy()) {
                    if name.starts_with(BOT_THREADS) {
                        bot += t;
                    }
                }
            }
        }
        Self {
            bot: bot / tick,
            bench: (process - bot) / tick,
            postgres: postgres_ticks(me) / tick,
        }
    }

    pub fn since(self, before: Self) -> Self {
        Self {
            bot: self.bot - before.bot,
            bench: self.bench - before.bench,
            postgres: self.postgres - before.postgres,
        }
    }
}

fn clock_tick() -> f64 {
    // Linux reports process times in USER_HZ, 100 on every architecture it runs on.
    100.0
}

/// (name, utime + stime in ticks) of a /proc stat file.
fn stat_times(path: &str) -> Option<(String, f64)> {
    let text = std::fs::read_to_string(path).ok()?;
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let name = text[open + 1..close].to_string();
    let fields: Vec<&str> = text[close + 2..].split_whitespace().collect();
    // After the name: state (field 3), ..., utime (14), stime (15).
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((name, utime + stime))
}

/// Ticks of every live `postgres` process descended from `root`: the test cluster's server and
/// its backends (the bot's pool keeps its connections for the whole run).
fn postgres_ticks(root: u32) -> f64 {
    let mut parent: HashMap<u32, u32> = HashMap::new();
    let mut times: HashMap<u32, (String, f64)> = HashMap::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    for e in entries.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some(close) = text.rfind(')') else {
            continue;
        };
        let fields: Vec<&str> = text[close + 2..].split_whitespace().collect();
        if let Some(ppid) = fields.get(1).and_then(|s| s.parse().ok()) {
            parent.insert(pid, ppid);
        }
        if let Some(t) = stat_times(&format!("/proc/{pid}/stat")) {
            times.insert(pid, t);
        }
    }
    let descends = |mut pid: u32| {
        while let Some(&p) = parent.get(&pid) {
            if p == root {
                return true;
            }
            if p <= 1 {
                return false;
            }
            pid = p;
        }
        false
    };
    times
        .iter()
        .filter(|(pid, (name, _))| name == "postgres" && descends(**pid))
        .map(|(_, (_, t))| *t)
        .sum()
}

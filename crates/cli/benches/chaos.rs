//! Chaos with real kills: N users go through whole journeys (a letter, ❤️, another variant, an
//! improvement, a Stars payment through pre_checkout_query and successful_payment, /subscription)
//! through the fake Bot API while the `soprovod serve` process is `kill -9`ed and restarted K
//! times at random moments (seeded). A user whose letter was interrupted presses the retry button
//! of the notice, as a person would. Prints updates sent / answered / duplicated / lost, payments
//! sent / recorded, and the quota counted against the letters delivered.
//!
//! `cargo bench -p cli --bench chaos` with CHAOS_USERS (default 40), CHAOS_KILLS (5),
//! CHAOS_MIN_GAP_MS / CHAOS_MAX_GAP_MS (the pause before each kill, 100 / 800), CHAOS_SEED (1),
//! CHAOS_WEBHOOK=1 (webhook mode instead of long polling).
//!
//! The users are ordinary users, rate limits and quota included; only the generation limit is
//! raised through configuration (RATE_LIMIT_GENERATIONS=10): a retry after a kill is a fourth
//! generation in five minutes, which the limit of 3 would make wait minutes.

#[path = "../tests/cli/kill_nine/bot_process.rs"]
mod bot_process;

use std::collections::{BTreeSet, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bot_process::World;
use serde_json::Value;
use testkit::doubles::bot_api::{Call, FakeBotApi, TgUser};
use testkit::doubles::texts::{RESUME, VACANCY};

const LETTER: &str = "Версия письма номер";
/// The /premium answer, under which the "buy" button is.
const PREMIUM_OFFER: &str = "Оплата — Telegram Stars";
const IMPROVE_REQUEST: &str = "Сделай письмо короче и официальнее";
/// The prompt after a press of "improve".
const IMPROVE_PROMPT: &str = "Что изменить";
const FIRST_USER: i64 = 3_000_000;
/// How long one answer may take before the update counts as lost.
const PATIENCE: Duration = Duration::from_secs(120);

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

#[derive(Default)]
struct Tally {
    sent: AtomicUsize,
    answered: AtomicUsize,
    lost: AtomicUsize,
    retries: AtomicUsize,
    payments_sent: AtomicUsize,
    /// (chat, when, what) of each retry after an interruption notice, to print beside a
    /// duplicate: a user who asked again is not the bot sending twice.
    redone: std::sync::Mutex<Vec<(i64, Instant, String)>>,
    /// Per chat, how often the user pressed "improve": each press is answered with one
    /// "what to change?" prompt, so that many prompts are not duplicates.
    improve_presses: std::sync::Mutex<std::collections::HashMap<i64, usize>>,
}

/// One user's side of the conversation.
struct Journey {
    api: FakeBotApi,
    u: TgUser,
    t: Arc<Tally>,
    /// Interruption notices already answered with a retry.
    notices_seen: usize,
}

impl Journey {
    fn texts(&self) -> Vec<String> {
        self.api.texts_to(self.u.id)
    }

    fn count(&self, needle: &str) -> usize {
        self.texts().iter().filter(|t| t.contains(needle)).count()
    }

    /// Distinct letters delivered (a letter Telegram got twice counts once here).
    fn letters(&self) -> usize {
        self.texts()
            .into_iter()
            .filter(|t| t.contains(LETTER))
            .collect::<HashSet<_>>()
            .len()
    }

    /// The last message whose text contains `needle`, with its buttons.
    fn last_message(&self, needle: &str) -> Option<Call> {
        self.api
            .messages_to(self.u.id)
            .into_iter()
            .rev()
            .find(|c| c.text().contains(needle))
    }

    /// Sends `update` and waits for `answered`; counts it answered or lost. A notice that a
    /// letter was interrupted is answered by pressing its retry button on the way.
    async fn step(&mut self, update: Value, mut answered: impl FnMut(&Self) -> bool) -> bool {
        let what = describe(&update);
        self.api.push(update);
        self.t.sent.fetch_add(1, Ordering::SeqCst);
        let deadline = Instant::now() + PATIENCE;
        loop {
            let api = self.api.clone();
            let left = deadline.saturating_duration_since(Instant::now());
            let seen = self.notices_seen;
            let done = api
                .holds_within(left, || answered(self) || self.count("прервалась") > seen)
                .await;
            if answered(self) {
                self.t.answered.fetch_add(1, Ordering::SeqCst);
                return true;
            }
            if !done {
                self.t.lost.fetch_add(1, Ordering::SeqCst);
                let got: Vec<String> = self.texts().iter().map(|t| first_line(t)).collect();
                eprintln!("lost: user {}: {what}; it got {got:?}", self.u.id);
                return false;
            }
            self.notices_seen = self.count("прервалась");
            self.redo(&what).await;
        }
    }

    /// What a person does after "the generation was interrupted": a cut-off letter is retried
    /// with the notice's button; a cut-off variant or improvement is asked for again.
    async fn redo(&mut self, what: &str) {
        let Some(notice) = self.last_message("прервалась") else {
            return;
        };
        let data = notice.callback_data();
        let find = |prefix: &str| data.iter().find(|d| d.starts_with(prefix)).cloned();
        self.t.retries.fetch_add(1, Ordering::SeqCst);
        self.t
            .redone
            .lock()
            .unwrap()
            .push((self.u.id, Instant::now(), what.to_string()));
        if let Some(retry) = find("gen:") {
            self.api.push(self.u.press(&retry, 1));
        } else if what.starts_with("press var:") {
            if let Some(variant) = find("var:") {
                self.api.push(self.u.press(&variant, 1));
            }
        } else if let (Some(improve), Some(request)) = (
            find("imp:"),
            what.strip_prefix("text ")
                .map(|t| t.trim_matches('"').to_string()),
        ) {
            let asked = self.count(IMPROVE_PROMPT);
            self.pressed_improve();
            self.api.push(self.u.press(&improve, 1));
            let api = self.api.clone();
            if api
                .holds_within(PATIENCE, || self.count(IMPROVE_PROMPT) > asked)
                .await
            {
                self.api.push(self.u.text(&request));
            }
        }
    }

    fn pressed_improve(&self) {
        *self
            .t
            .improve_presses
            .lock()
            .unwrap()
            .entry(self.u.id)
            .or_default() += 1;
    }

    fn button(&self, needle: &str, prefix: &str) -> Option<String> {
        self.last_message(needle)?
            .callback_data()
            .into_iter()
            .find(|d| d.starts_with(prefix))
    }
}

/// What an update is, in a few words (for the report of a loss).
fn describe(update: &Value) -> String {
    if let Some(t) = update["message"]["text"].as_str() {
        return format!("text {:?}", first_line(t));
    }
    if let Some(d) = update["callback_query"]["data"].as_str() {
        return format!("press {d}");
    }
    if update.get("pre_checkout_query").is_some() {
        return "pre_checkout_query".into();
    }
    if update["message"].get("successful_payment").is_some() {
        return "successful_payment".into();
    }
    "other".into()
}

fn first_line(t: &str) -> String {
    t.lines().next().unwrap_or("").chars().take(40).collect()
}

async fn journey(api: FakeBotApi, id: i64, t: Arc<Tally>) {
    let mut j = Journey {
        api: api.clone(),
        u: TgUser::new(id),
        t: t.clone(),
        notices_seen: 0,
    };
    let u = j.u.clone();
    if !j
        .step(u.text("/start chaos"), |j| j.count("Шаг 1 из 2") >= 1)
        .await
        || !j
            .step(u.text(VACANCY), |j| j.count("Шаг 2 из 2") >= 1)
            .await
        || !j.step(u.text(RESUME), |j| j.letters() >= 1).await
    {
        return;
    }
    let Some(like) = j.button(LETTER, "fb:l:") else {
        return;
    };
    let press = u.press(&like, 1);
    let cb = press["callback_query"]["id"].as_str().unwrap().to_string();
    j.step(press, |j| j.api.is_answered(&cb)).await;
    let Some(variant) = j.button(LETTER, "var:") else {
        return;
    };
    if !j.step(u.press(&variant, 1), |j| j.letters() >= 2).await {
        return;
    }
    let Some(improve) = j.button(LETTER, "imp:") else {
        return;
    };
    j.pressed_improve();
    if !j
        .step(u.press(&improve, 1), |j| j.count(IMPROVE_PROMPT) >= 1)
        .await
        || !j.step(u.text(IMPROVE_REQUEST), |j| j.letters() >= 3).await
        || !j
            .step(u.text("/premium"), |j| j.count(PREMIUM_OFFER) >= 1)
            .await
    {
        return;
    }
    let Some(buy) = j.button(PREMIUM_OFFER, "buy") else {
        return;
    };
    let invoices = |j: &Journey| {
        j.api
            .calls_of("sendInvoice")
            .into_iter()
            .filter(|c| c.chat_id() == Some(id))
            .collect::<Vec<_>>()
    };
    if !j.step(u.press(&buy, 1), |j| !invoices(j).is_empty()).await {
        return;
    }
    let invoice = invoices(&j).remove(0);
    let payload = invoice.str("payload").unwrap_or_default().to_string();
    let total: i64 = 150;
    let query = format!("pcq-{id}");
    let ok_answer = |j: &Journey| {
        j.api.calls_of("answerPreCheckoutQuery").iter().any(|c| {
            c.str("pre_checkout_query_id") == Some(query.as_str())
                && match c.body.get("ok") {
                    Some(Value::Bool(ok)) => *ok,
                    Some(Value::String(ok)) => ok == "true",
                    _ => false,
                }
        })
    };
    if !j
        .step(u.pre_checkout(&query, &payload, total), ok_answer)
        .await
    {
        return;
    }
    t.payments_sent.fetch_add(1, Ordering::SeqCst);
    if !j
        .step(
            u.successful_payment(&format!("chaos-{id}"), &payload, total),
            |j| j.count("Premium активен") >= 1,
        )
        .await
    {
        return;
    }
    j.step(u.text("/subscription"), |j| j.count("План:") >= 1)
        .await;
}

fn main() {
    let users = env("CHAOS_USERS", 40) as i64;
    let kills = env("CHAOS_KILLS", 5);
    let min_gap = env("CHAOS_MIN_GAP_MS", 100);
    let max_gap = env("CHAOS_MAX_GAP_MS", 800).max(min_gap);
    let seed = env("CHAOS_SEED", 1);
    let webhook = env("CHAOS_WEBHOOK", 0) == 1;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let load_before = load();
        let mut w = if webhook {
            World::webhook().await
        } else {
            World::polling().await
        };
        w.set_env("RATE_LIMIT_GENERATIONS", "10");
        let tally = Arc::new(Tally::default());
        let started = Instant::now();
        let mut bot = w.start();
        let tasks: Vec<_> = (0..users)
            .map(|i| tokio::spawn(journey(w.api.clone(), FIRST_USER + i, tally.clone())))
            .collect();
        // The killer: K crashes at seeded random moments, each followed by a restart.
        let mut rng = fastrand::Rng::with_seed(seed);
        let mut moments = Vec::new();
        let mut kill_times = Vec::new();
        for _ in 0..kills {
            let gap = rng.u64(min_gap..=max_gap);
            tokio::time::sleep(Duration::from_millis(gap)).await;
            let signalled = Instant::now();
            bot.kill().await;
            // Kill k ends process k; process k + 1 starts after it was reaped.
            kill_times.push(Kill {
                signalled,
                reaped: Instant::now(),
            });
            moments.push(format!("{:.1}s", started.elapsed().as_secs_f64()));
            bot = w.start();
        }
        for t in tasks {
            t.await.unwrap();
        }
        let wall = started.elapsed();
        // The last process may still be starting: SIGTERM then stops the start, exit 0.
        bot.stop().await;
        let run = Run {
            started,
            kills: kill_times,
        };
        report(
            &w,
            &tally,
            users,
            wall,
            &moments,
            &run,
            seed,
            webhook,
            &load_before,
        )
        .await;
    });
}

/// One `kill -9`: when SIGKILL was sent and when the process was reaped.
struct Kill {
    signalled: Instant,
    reaped: Instant,
}

/// The run's clock and its kills, to tell which copies a kill separates.
struct Run {
    started: Instant,
    kills: Vec<Kill>,
}

impl Run {
    fn secs(&self, t: Instant) -> String {
        format!("{:.3}s", t.duration_since(self.started).as_secs_f64())
    }
}

/// One copy of a message as the fake recorded it: when it handled the request and which bot
/// process made it (every process gets its own TELEGRAM_API_URL, so the fake knows).
#[derive(Clone, Copy)]
struct Sent {
    at: Instant,
    process: Option<usize>,
}

impl From<&Call> for Sent {
    fn from(c: &Call) -> Self {
        Self {
            at: c.at,
            process: c.process,
        }
    }
}

/// Messages and answers that reached Telegram more than once.
#[derive(Default)]
struct Dups {
    /// Copies made by one process: the bot sent them twice on its own.
    by_one_process: usize,
    /// Copies made by two processes, the first killed after it made its copy: Telegram took
    /// the first, the killed process never recorded it, the next one sent it again (the
    /// at-least-once window).
    across_kill: usize,
    /// Of those, copies the fake handled only after the killed process was reaped (the request
    /// was in the socket before the kill): by the fake's clock alone there is no kill between
    /// them, which is how the earlier accounting counted them as duplicated.
    handled_after_reaping: usize,
    /// The longest time from a first copy to the kill after it.
    longest_window: Duration,
    by_kind: std::collections::BTreeMap<String, usize>,
}

impl Dups {
    /// `copies`: each copy of one message, in the order the fake handled them; `what` names the
    /// message for the printed details.
    fn classify(&mut self, kind: &str, what: &str, copies: &[Sent], run: &Run) {
        for pair in copies.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            let (Some(pa), Some(pb)) = (a.process, b.process) else {
                panic!("a call without its process: every process gets url_for_process");
            };
            let by_clock = run.kills.iter().any(|k| k.reaped > a.at && k.reaped < b.at);
            if pa == pb {
                self.by_one_process += 1;
            } else {
                // Process pa ended with kill pa (a later process never makes an earlier copy).
                if let Some(kill) = run.kills.get(pa) {
                    self.longest_window = self
                        .longest_window
                        .max(kill.signalled.saturating_duration_since(a.at));
                }
                self.across_kill += 1;
                *self.by_kind.entry(kind.to_string()).or_default() += 1;
                if by_clock {
                    continue;
                }
                self.handled_after_reaping += 1;
            }
            let kill = |p: usize| {
                run.kills.get(p).map_or("never killed".to_string(), |k| {
                    format!(
                        "SIGKILL at {}, reaped at {}",
                        run.secs(k.signalled),
                        run.secs(k.reaped)
                    )
                })
            };
            eprintln!(
                "{} {kind} ({what}): copy 1 handled at {} from process {pa} ({}), copy 2 at {} from process {pb} ({})",
                if pa == pb {
                    "DUPLICATED by one process:"
                } else {
                    "sent again after a kill, the first copy handled after the reaping:"
                },
                run.secs(a.at),
                kill(pa),
                run.secs(b.at),
                kill(pb),
            );
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn report(
    w: &World,
    tally: &Tally,
    users: i64,
    wall: Duration,
    moments: &[String],
    run: &Run,
    seed: u64,
    webhook: bool,
    load_before: &str,
) {
    // Improvements do not use the quota: the LLM requests that carried the user's request.
    let improvements: BTreeSet<usize> = (0..w.llm.requests().len())
        .filter(|&n| w.llm.user_message(n).contains(IMPROVE_REQUEST))
        .map(|n| n + 1)
        .collect();
    let mut dups = Dups::default();
    let mut delivered_letters = 0;
    let is_letter = |t: &str| t.contains(LETTER);
    for i in 0..users {
        let chat = FIRST_USER + i;
        let messages = w.api.messages_to(chat);
        let before = dups.by_one_process;
        let copies_of = |keep: &dyn Fn(&str) -> bool| -> Vec<Sent> {
            messages
                .iter()
                .filter(|c| keep(c.text()))
                .map(Sent::from)
                .collect()
        };
        for needle in [
            "Шаг 1 из 2",
            "Шаг 2 из 2",
            IMPROVE_PROMPT,
            PREMIUM_OFFER,
            "Premium активен",
            "План:",
        ] {
            let copies = copies_of(&|t| t.contains(needle));
            let presses = tally.improve_presses.lock().unwrap().get(&chat).copied();
            if needle == IMPROVE_PROMPT && copies.len() <= presses.unwrap_or(0) {
                // One prompt per press: the user asked each time (after an interruption
                // notice, possibly twice when the notice came again across a kill).
                continue;
            }
            dups.classify(needle, &format!("chat {chat}"), &copies, run);
        }
        let letters: BTreeSet<&str> = messages
            .iter()
            .map(|c| c.text())
            .filter(|t| is_letter(t))
            .collect();
        for letter in &letters {
            let copies = copies_of(&|t| t == *letter);
            dups.classify("letter", &format!("chat {chat}"), &copies, run);
        }
        delivered_letters += letters
            .iter()
            .filter(|t| {
                let n = t
                    .split(LETTER)
                    .nth(1)
                    .and_then(|r| r.split('.').next())
                    .and_then(|n| n.trim().parse::<usize>().ok());
                !n.is_some_and(|n| improvements.contains(&n))
            })
            .count() as i64;
        let invoices: Vec<Sent> = w
            .api
            .calls_of("sendInvoice")
            .iter()
            .filter(|c| c.chat_id() == Some(chat))
            .map(Sent::from)
            .collect();
        dups.classify("invoice", &format!("chat {chat}"), &invoices, run);
        if dups.by_one_process > before {
            for m in &messages {
                eprintln!(
                    "  chat {chat} at {} from process {:?}: {}",
                    run.secs(m.at),
                    m.process,
                    first_line(m.text())
                );
            }
            for (_, at, what) in tally.redone.lock().unwrap().iter().filter(|r| r.0 == chat) {
                eprintln!(
                    "  chat {chat} at {}: the user retried after a notice: {what}",
                    run.secs(*at)
                );
            }
        }
    }
    for (method, key) in [
        ("answerCallbackQuery", "callback_query_id"),
        ("answerPreCheckoutQuery", "pre_checkout_query_id"),
    ] {
        let calls = w.api.calls_of(method);
        let ids: BTreeSet<&str> = calls.iter().filter_map(|c| c.str(key)).collect();
        for id in ids {
            let copies: Vec<Sent> = calls
                .iter()
                .filter(|c| c.str(key) == Some(id))
                .map(Sent::from)
                .collect();
            dups.classify(method, id, &copies, run);
        }
    }
    let quota = w
        .scalar(&format!(
            "SELECT coalesce(sum(s.letters_used), 0)::bigint FROM subscriptions s
             JOIN users u ON u.id = s.user_id WHERE u.telegram_user_id >= {FIRST_USER}"
        ))
        .await;
    let recorded = w
        .scalar("SELECT count(*) FROM payments WHERE provider_payment_id LIKE 'chaos-%'")
        .await;
    let pending = w
        .scalar("SELECT count(*) FROM update_inbox WHERE done_at IS NULL")
        .await;
    let sent = tally.sent.load(Ordering::SeqCst);
    println!(
        "chaos (real kill -9 of soprovod serve, {}): {users} users, {} kills at {} (seed {seed})",
        if webhook { "webhook" } else { "long polling" },
        moments.len(),
        moments.join(", ")
    );
    println!("  wall:              {:.1} s", wall.as_secs_f64());
    println!(
        "  updates sent:      {sent} (+{} retry presses after interruption notices)",
        tally.retries.load(Ordering::SeqCst)
    );
    println!(
        "  answered:          {}",
        tally.answered.load(Ordering::SeqCst)
    );
    println!("  lost:              {}", tally.lost.load(Ordering::SeqCst));
    println!(
        "  duplicated:        {} (copies made by one process)",
        dups.by_one_process
    );
    println!(
        "  sent again after a kill: {} (Telegram took the first copy at most {} ms before the SIGKILL; the bot could not know) {:?}",
        dups.across_kill,
        dups.longest_window.as_millis(),
        dups.by_kind
    );
    println!(
        "    of which the fake handled the first copy after the reaping: {}",
        dups.handled_after_reaping
    );
    println!("  inbox pending:     {pending}");
    println!(
        "  payments:          sent {}, recorded {recorded}",
        tally.payments_sent.load(Ordering::SeqCst)
    );
    println!(
        "  quota:             {quota} letters counted, {delivered_letters} delivered ({})",
        if quota == delivered_letters {
            "exact"
        } else {
            "MISMATCH"
        }
    );
    println!(
        "  load average:      {load_before} before, {} after",
        load()
    );
}

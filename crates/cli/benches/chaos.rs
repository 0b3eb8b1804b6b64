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
use testkit::doubles::bot_api::{FakeBotApi, TgUser};
use testkit::doubles::texts::{RESUME, VACANCY};

const LETTER: &str = "Версия письма номер";
/// The /premium answer, under which the "buy" button is.
const PREMIUM_OFFER: &str = "Оплата — Telegram Stars";
const IMPROVE_REQUEST: &str = "Сделай письмо короче и официальнее";
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
    fn last_message(&self, needle: &str) -> Option<testkit::doubles::bot_api::Call> {
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
            let asked = self.count("Что изменить");
            self.api.push(self.u.press(&improve, 1));
            let api = self.api.clone();
            if api
                .holds_within(PATIENCE, || self.count("Что изменить") > asked)
                .await
            {
                self.api.push(self.u.text(&request));
            }
        }
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
    if !j
        .step(u.press(&improve, 1), |j| j.count("Что изменить") >= 1)
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
            bot.kill().await;
            // Reaped: whatever reached the fake before this came from the killed process.
            kill_times.push(Instant::now());
            moments.push(format!("{:.1}s", started.elapsed().as_secs_f64()));
            bot = w.start();
        }
        for t in tasks {
            t.await.unwrap();
        }
        let wall = started.elapsed();
        // The last process may still be starting: SIGTERM then stops the start, exit 0.
        bot.stop().await;
        report(
            &w,
            &tally,
            users,
            wall,
            &moments,
            &kill_times,
            seed,
            webhook,
            &load_before,
        )
        .await;
    });
}

/// Messages and answers that reached Telegram more than once.
#[derive(Default)]
struct Dups {
    /// Copies with no kill between them: the bot sent them twice on its own.
    without_kill: usize,
    /// Copies on either side of a kill: Telegram took the first, the killed process never
    /// recorded it, the next one sent it again (the at-least-once window).
    across_kill: usize,
    /// The longest time from a first copy to the kill after it.
    longest_window: Duration,
    by_kind: std::collections::BTreeMap<String, usize>,
}

impl Dups {
    /// `times`: when each copy of one message reached the fake, in order.
    fn classify(&mut self, kind: &str, times: &[Instant], kills: &[Instant]) {
        for pair in times.windows(2) {
            match kills.iter().find(|k| **k > pair[0] && **k < pair[1]) {
                Some(k) => {
                    self.across_kill += 1;
                    self.longest_window = self.longest_window.max(k.duration_since(pair[0]));
                    *self.by_kind.entry(kind.to_string()).or_default() += 1;
                }
                None => {
                    self.without_kill += 1;
                    eprintln!("duplicated without a kill between: {kind}");
                }
            }
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
    kills: &[Instant],
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
        let times_of = |keep: &dyn Fn(&str) -> bool| -> Vec<Instant> {
            messages
                .iter()
                .filter(|c| keep(c.text()))
                .map(|c| c.at)
                .collect()
        };
        for needle in [
            "Шаг 1 из 2",
            "Шаг 2 из 2",
            "Что изменить",
            PREMIUM_OFFER,
            "Premium активен",
            "План:",
        ] {
            dups.classify(needle, &times_of(&|t| t.contains(needle)), kills);
        }
        let letters: BTreeSet<&str> = messages
            .iter()
            .map(|c| c.text())
            .filter(|t| is_letter(t))
            .collect();
        for letter in &letters {
            dups.classify("letter", &times_of(&|t| t == *letter), kills);
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
        let invoices: Vec<Instant> = w
            .api
            .calls_of("sendInvoice")
            .iter()
            .filter(|c| c.chat_id() == Some(chat))
            .map(|c| c.at)
            .collect();
        dups.classify("invoice", &invoices, kills);
    }
    for (method, key) in [
        ("answerCallbackQuery", "callback_query_id"),
        ("answerPreCheckoutQuery", "pre_checkout_query_id"),
    ] {
        let calls = w.api.calls_of(method);
        let ids: BTreeSet<&str> = calls.iter().filter_map(|c| c.str(key)).collect();
        for id in ids {
            let times: Vec<Instant> = calls
                .iter()
                .filter(|c| c.str(key) == Some(id))
                .map(|c| c.at)
                .collect();
            dups.classify(method, &times, kills);
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
        "  duplicated:        {} (copies with no kill between them)",
        dups.without_kill
    );
    println!(
        "  sent again after a kill: {} (Telegram took the first copy at most {} ms before the kill; the bot could not know) {:?}",
        dups.across_kill,
        dups.longest_window.as_millis(),
        dups.by_kind
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

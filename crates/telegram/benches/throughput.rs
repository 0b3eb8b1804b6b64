//! Updates per second through the whole bot: the fake Bot API serving updates by long polling,
//! the real engine on PostgreSQL, an instant LLM double. Simulated users behave like people: each
//! sends its next update only after the bot has answered the previous one. Prints throughput and
//! the latency (update queued → answer delivered) percentiles.
//!
//! While they are busy, payers send Stars pre-checkout queries (BENCH_PRE_CHECKOUTS, default 30,
//! one every 20 ms from the start of the load): their answer times show the fast path holds
//! under full load (Telegram waits 10 s).
//!
//! Also printed: the load average when it started, the statements the bot sent per update (and
//! which), and the CPU time of the bot, of the bench itself (fake Bot API, LLM double, simulated
//! users) and of PostgreSQL during the load (`measure`).
//!
//! `cargo bench -p telegram --bench throughput` (BENCH_USERS, default 300).

mod measure;
#[path = "../tests/telegram/support/mod.rs"]
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::harness::{World, RESUME, VACANCY};
use testkit::doubles::bot_api::{FakeBotApi, TgUser};
use tokio::sync::Mutex;

/// One step: the update and what shows it was answered.
async fn step(
    api: &FakeBotApi,
    chat: i64,
    update: Value,
    needle: &str,
    latencies: &Mutex<Vec<Duration>>,
) {
    let before = api.wait_chat(chat, |_| true).await;
    let t0 = Instant::now();
    api.push(update);
    api.wait_chat(chat, |texts| {
        texts[before.min(texts.len())..]
            .iter()
            .any(|t| t.contains(needle))
    })
    .await;
    latencies.lock().await.push(t0.elapsed());
}

async fn user(api: FakeBotApi, id: i64, latencies: Arc<Mutex<Vec<Duration>>>) -> usize {
    let u = TgUser::new(id);
    step(
        &api,
        id,
        u.text("/start bench-load-test"),
        "Шаг 1 из 2",
        &latencies,
    )
    .await;
    step(&api, id, u.text(VACANCY), "Шаг 2 из 2", &latencies).await;
    step(&api, id, u.text(RESUME), "Версия письма номер", &latencies).await;
    // A button press: its answer is the callback answer.
    let like = api
        .last_message_to(id, "Версия письма номер")
        .unwrap()
        .callback_data()
        .into_iter()
        .find(|d| d.starts_with("fb:l:"))
        .unwrap();
    let press = u.press(&like, 1);
    let cb_id = press["callback_query"]["id"].as_str().unwrap().to_string();
    let t0 = Instant::now();
    api.push(press);
    api.wait_answered(&cb_id).await;
    latencies.lock().await.push(t0.elapsed());
    step(&api, id, u.text("/subscription"), "План:", &latencies).await;
    5
}

/// A payer: a user who opened /premium and pressed "buy"; returns the invoice's payload.
async fn payer(api: &FakeBotApi, id: i64) -> String {
    let u = TgUser::new(id);
    let t = Mutex::new(Vec::new());
    step(api, id, u.text("/start"), "Шаг 1 из 2", &t).await;
    step(api, id, u.text("/premium"), "Premium", &t).await;
    api.push(u.press("buy", 1));
    let calls = api
        .wait_until("an invoice", |calls| {
            calls
                .iter()
                .any(|c| c.method == "sendInvoice" && c.chat_id() == Some(id))
        })
        .await;
    calls
        .iter()
        .find(|c| c.method == "sendInvoice" && c.chat_id() == Some(id))
        .and_then(|c| c.str("payload"))
        .unwrap()
        .to_string()
}

/// Pre-checkout queries of `payers`, one every 20 ms; the time each waited for its answer.
async fn pre_checkouts(api: FakeBotApi, payers: Vec<(i64, String)>) -> Vec<Duration> {
    let mut waits = Vec::new();
    for (n, (id, payload)) in payers.into_iter().enumerate() {
        let api = api.clone();
        let query = format!("bench-pcq-{n}");
        waits.push(tokio::spawn(async move {
            let t0 = Instant::now();
            api.push(TgUser::new(id).pre_checkout(&query, &payload, 150));
            api.wait_answered(&query).await;
            t0.elapsed()
        }));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut out = Vec::new();
    for w in waits {
        out.push(w.await.unwrap());
    }
    out
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn main() {
    let users: i64 = std::env::var("BENCH_USERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let payers: i64 = std::env::var("BENCH_PRE_CHECKOUTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    let load_at_start = measure::load_average();
    let statements = measure::Statements::install();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .thread_name("bench-worker")
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let pool_size = 20;
        let w = World::with_pool_size(pool_size).await;
        let mut config = w.config();
        config.quota.free_letters_per_month = 1000;
        let bot = w.start_polling(config).await;
        // Warm-up: one user through every step, so connections and caches exist.
        let warm = Arc::new(Mutex::new(Vec::new()));
        user(w.api.clone(), 1_000_000, warm).await;
        let mut invoices = Vec::new();
        for i in 0..payers {
            let id = 3_000_000 + i;
            invoices.push((id, payer(&w.api, id).await));
        }

        let latencies = Arc::new(Mutex::new(Vec::new()));
        let statements_before = statements.snapshot();
        let cpu_before = measure::Cpu::now();
        let started = Instant::now();
        let tasks: Vec<_> =
            (0..users).map(|i| tokio::spawn(user(w.api.clone(), 2_000_000 + i, latencies.clone()))).collect();
        let paying = tokio::spawn(pre_checkouts(w.api.clone(), invoices));
        let mut updates = 0;
        for t in tasks {
            updates += t.await.unwrap();
        }
        let wall = started.elapsed();
        let cpu = measure::Cpu::now().since(cpu_before);
        let (sent, kinds) = measure::statements_between(&statements_before, &statements.snapshot());
        let mut waits = paying.await.unwrap();
        waits.sort();
        let approved = w
            .api
            .calls_of("answerPreCheckoutQuery")
            .iter()
            .filter(|c| c.str("pre_checkout_query_id").is_some_and(|q| q.starts_with("bench-pcq-")))
            .filter(|c| c.body["ok"] == true)
            .count();
        bot.stop().await;
        let mut l = latencies.lock().await.clone();
        l.sort();
        let per_sec = updates as f64 / wall.as_secs_f64();
        println!("telegram throughput: {users} users x 5 updates (start, vacancy, resume+letter, like, subscription)");
        println!("  load average: {load_at_start} at the start (1, 5, 15 min; {} cores)", std::thread::available_parallelism().map_or(0, |n| n.get()));
        println!("  bot:          pool of {pool_size} connections, {} updates handled at once", telegram::serve::parallel_updates(pool_size));
        println!("  updates:      {updates} in {:.2} s", wall.as_secs_f64());
        println!("  throughput:   {per_sec:.0} updates/s");
        println!(
            "  latency:      p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            percentile(&l, 0.50).as_secs_f64() * 1e3,
            percentile(&l, 0.90).as_secs_f64() * 1e3,
            percentile(&l, 0.99).as_secs_f64() * 1e3,
            l.last().unwrap().as_secs_f64() * 1e3
        );
        println!("  letters:      {}", w.llm.count());
        let per_update = |n: u64| n as f64 / updates as f64;
        println!(
            "  statements:   {:.2} per update ({sent} in all; sqlx's count, pool pings not included)",
            per_update(sent)
        );
        for (kind, n) in kinds.iter().take(14) {
            println!("    {:>5.2}  {kind}", per_update(*n));
        }
        let secs = wall.as_secs_f64();
        println!(
            "  cpu:          bot {:.1} s ({:.2} cores), bench's own doubles and users {:.1} s ({:.2}), postgres {:.1} s ({:.2}); per update: bot {:.2} ms, bench {:.2} ms, postgres {:.2} ms",
            cpu.bot, cpu.bot / secs, cpu.bench, cpu.bench / secs, cpu.postgres, cpu.postgres / secs,
            cpu.bot * 1e3 / updates as f64, cpu.bench * 1e3 / updates as f64, cpu.postgres * 1e3 / updates as f64
        );
        println!("  target:       >= 500 updates/s at 300 users -> {}", if per_sec >= 500.0 { "met" } else { "NOT met" });
        if let Some(max) = waits.last() {
            println!(
                "  pre-checkout: {} sent during the load, {approved} approved; answered p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms (Telegram waits 10 s: {})",
                waits.len(),
                percentile(&waits, 0.50).as_secs_f64() * 1e3,
                percentile(&waits, 0.99).as_secs_f64() * 1e3,
                max.as_secs_f64() * 1e3,
                if *max < Duration::from_secs(10) { "met" } else { "NOT met" }
            );
        }
    });
}

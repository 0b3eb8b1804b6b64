//! Updates per second through the whole bot: the fake Bot API serving updates by long polling,
//! the real engine on PostgreSQL, an instant LLM double. Simulated users behave like people: each
//! sends its next update only after the bot has answered the previous one. Prints throughput and
//! the latency (update queued → answer delivered) percentiles.
//!
//! `cargo bench -p telegram --bench throughput` (BENCH_USERS, default 300).

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
    let like = {
        let calls = api.calls_of("sendMessage");
        let letter = calls
            .iter()
            .rev()
            .find(|c| c.chat_id() == Some(id) && c.text().contains("Версия письма номер"))
            .unwrap();
        letter
            .callback_data()
            .into_iter()
            .find(|d| d.starts_with("fb:l:"))
            .unwrap()
    };
    let press = u.press(&like, 1);
    let cb_id = press["callback_query"]["id"].as_str().unwrap().to_string();
    let t0 = Instant::now();
    api.push(press);
    api.wait_answered(&cb_id).await;
    latencies.lock().await.push(t0.elapsed());
    step(&api, id, u.text("/subscription"), "План:", &latencies).await;
    5
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
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let w = World::with_pool_size(20).await;
        let mut config = w.config();
        config.quota.free_letters_per_month = 1000;
        let bot = w.start_polling(config).await;
        // Warm-up: one user through every step, so connections and caches exist.
        let warm = Arc::new(Mutex::new(Vec::new()));
        user(w.api.clone(), 1_000_000, warm).await;

        let latencies = Arc::new(Mutex::new(Vec::new()));
        let started = Instant::now();
        let tasks: Vec<_> =
            (0..users).map(|i| tokio::spawn(user(w.api.clone(), 2_000_000 + i, latencies.clone()))).collect();
        let mut updates = 0;
        for t in tasks {
            updates += t.await.unwrap();
        }
        let wall = started.elapsed();
        bot.stop().await;
        let mut l = latencies.lock().await.clone();
        l.sort();
        let per_sec = updates as f64 / wall.as_secs_f64();
        println!("telegram throughput: {users} users x 5 updates (start, vacancy, resume+letter, like, subscription)");
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
        println!("  target:       >= 300 updates/s -> {}", if per_sec >= 300.0 { "met" } else { "NOT met" });
    });
}

//! Chaos: N users go through whole journeys (letter, ❤️, another variant, a Stars payment,
//! /subscription) through the fake Bot API while the bot is killed (its runtime dropped: every
//! task stops, every socket closes, as with `kill -9`) and restarted K times at random moments.
//! Prints updates sent / answered / duplicated / lost, payments sent / recorded, and the quota
//! counted against the letters delivered.
//!
//! `cargo bench -p telegram --bench chaos` (CHAOS_USERS, default 30; CHAOS_KILLS, default 4;
//! CHAOS_MAX_GAP_MS, the longest pause between restarts, default 3000).

#[path = "../tests/telegram/support/mod.rs"]
mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::harness::{World, RESUME, VACANCY};
use testkit::doubles::bot_api::{Call, FakeBotApi, TgUser};

const LETTER: &str = "Версия письма номер";

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn texts(api: &FakeBotApi, chat: i64) -> Vec<Call> {
    api.messages_to(chat)
}

fn count(api: &FakeBotApi, chat: i64, needle: &str) -> usize {
    texts(api, chat)
        .iter()
        .filter(|c| c.text().contains(needle))
        .count()
}

/// Waits (polling, up to two minutes) until `chat` has `n` messages containing `needle`; an
/// interruption notice on the way is answered by pressing its retry button, as a user would.
async fn expect(api: &FakeBotApi, u: &TgUser, needle: &str, n: usize, retried: &mut usize) -> bool {
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        if count(api, u.id, needle) >= n {
            return true;
        }
        let notices: Vec<Call> = texts(api, u.id)
            .into_iter()
            .filter(|c| c.text().contains("прервалась"))
            .collect();
        if notices.len() > *retried {
            *retried = notices.len();
            if let Some(data) = notices.last().and_then(|c| {
                c.callback_data()
                    .into_iter()
                    .find(|d| d.starts_with("gen:"))
            }) {
                api.push(u.press(&data, 1));
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[derive(Default)]
struct Tally {
    sent: AtomicUsize,
    answered: AtomicUsize,
    lost: AtomicUsize,
    payments_sent: AtomicUsize,
}

async fn journey(w: Arc<World>, id: i64, t: Arc<Tally>) {
    let api = w.api.clone();
    let u = TgUser::new(id);
    let mut retried = 0;
    let step = |ok: bool| {
        t.sent.fetch_add(1, Ordering::SeqCst);
        if ok {
            t.answered.fetch_add(1, Ordering::SeqCst);
        } else {
            t.lost.fetch_add(1, Ordering::SeqCst);
        }
        ok
    };
    api.push(u.text("/start chaos"));
    if !step(expect(&api, &u, "Шаг 1 из 2", 1, &mut retried).await) {
        return;
    }
    api.push(u.text(VACANCY));
    if !step(expect(&api, &u, "Шаг 2 из 2", 1, &mut retried).await) {
        return;
    }
    api.push(u.text(RESUME));
    if !step(expect(&api, &u, LETTER, 1, &mut retried).await) {
        return;
    }
    let letter = texts(&api, id)
        .into_iter()
        .find(|c| c.text().contains(LETTER))
        .unwrap();
    let data = letter.callback_data();
    let like = data.iter().find(|d| d.starts_with("fb:l:")).cloned();
    let variant = data.iter().find(|d| d.starts_with("var:")).cloned();
    if let Some(like) = like {
        let press = u.press(&like, 1);
        let cb = press["callback_query"]["id"].as_str().unwrap().to_string();
        api.push(press);
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut ok = false;
        while Instant::now() < deadline {
            if api
                .calls_of("answerCallbackQuery")
                .iter()
                .any(|c| c.str("callback_query_id") == Some(cb.as_str()))
            {
                ok = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        step(ok);
    }
    if let Some(variant) = variant {
        api.push(u.press(&variant, 1));
        if !step(expect(&api, &u, LETTER, 2, &mut retried).await) {
            return;
        }
    }
    let payload = format!("premium:{}:150:30", w.user_id(id).await);
    t.payments_sent.fetch_add(1, Ordering::SeqCst);
    api.push(u.successful_payment(&format!("chaos-{id}"), &payload, 150));
    if !step(expect(&api, &u, "Premium активен", 1, &mut retried).await) {
        return;
    }
    api.push(u.text("/subscription"));
    step(expect(&api, &u, "План:", 1, &mut retried).await);
}

fn main() {
    let users = env("CHAOS_USERS", 30) as i64;
    let kills = env("CHAOS_KILLS", 4);
    let max_gap = env("CHAOS_MAX_GAP_MS", 3000).max(200);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let w = Arc::new(World::with_pool_size(20).await);
        let tally = Arc::new(Tally::default());
        let started = Instant::now();
        let mut bot = w.start_polling(w.config()).await;
        let mut tasks = Vec::new();
        for i in 0..users {
            let id = 3_000_000 + i;
            tasks.push(tokio::spawn(journey(w.clone(), id, tally.clone())));
        }
        // The killer: K crashes at random moments, each followed by a restart.
        let mut seed = started.elapsed().as_nanos() as u64 | 1;
        for k in 0..kills {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let gap = 200 + seed % max_gap;
            tokio::time::sleep(Duration::from_millis(gap)).await;
            bot.kill();
            println!("  kill {} after {gap} ms", k + 1);
            bot = w.start_polling(w.config()).await;
        }
        for t in tasks {
            t.await.unwrap();
        }
        bot.stop().await;
        let wall = started.elapsed();

        let mut duplicated = 0;
        let mut delivered_letters = 0;
        for i in 0..users {
            let chat = 3_000_000 + i;
            for (needle, want) in [("Шаг 1 из 2", 1), ("Шаг 2 из 2", 1), ("Premium активен", 1), ("План:", 1)] {
                duplicated += count(&w.api, chat, needle).saturating_sub(want);
            }
            let letters: Vec<String> = texts(&w.api, chat)
                .into_iter()
                .filter(|c| c.text().contains(LETTER))
                .map(|c| c.text().to_string())
                .collect();
            let mut distinct = letters.clone();
            distinct.sort();
            distinct.dedup();
            duplicated += letters.len() - distinct.len();
            delivered_letters += distinct.len() as i64;
        }
        let answers: Vec<Value> = w
            .api
            .calls_of("answerCallbackQuery")
            .into_iter()
            .filter_map(|c| c.body.get("callback_query_id").cloned())
            .collect();
        let mut ids: Vec<String> = answers.iter().map(|v| v.to_string()).collect();
        ids.sort();
        let all = ids.len();
        ids.dedup();
        duplicated += all - ids.len();
        let quota = w
            .scalar(
                "SELECT coalesce(sum(s.letters_used), 0)::bigint FROM subscriptions s
                 JOIN users u ON u.id = s.user_id WHERE u.telegram_user_id >= 3000000",
            )
            .await;
        let recorded = w.scalar("SELECT count(*) FROM payments WHERE provider_payment_id LIKE 'chaos-%'").await;
        let pending = w.scalar("SELECT count(*) FROM update_inbox WHERE done_at IS NULL").await;
        println!("chaos: {users} users, {kills} kills (restarts at random moments, up to {max_gap} ms apart)");
        println!("  wall:            {:.1} s", wall.as_secs_f64());
        println!("  updates sent:    {}", tally.sent.load(Ordering::SeqCst));
        println!("  answered:        {}", tally.answered.load(Ordering::SeqCst));
        println!("  lost:            {}", tally.lost.load(Ordering::SeqCst));
        println!("  duplicated:      {duplicated}");
        println!("  inbox pending:   {pending}");
        println!("  payments:        sent {}, recorded {recorded}", tally.payments_sent.load(Ordering::SeqCst));
        println!("  quota:           {quota} letters counted, {delivered_letters} delivered ({})",
            if quota == delivered_letters { "exact" } else { "MISMATCH" });
    });
}

//! Benchmark: conversation steps per second and step latency through the engine, with the real
//! database (testkit cluster) and an instant LLM double on 127.0.0.1.
//!
//! A step is one user event handled to the end (for a generation: `handle` plus `complete`).
//! Each simulated user runs: /start, vacancy, resume (letter), like, improve, improvement
//! (letter), another variant (letter), /subscription. `cargo bench -p bot --bench steps`;
//! BENCH_USERS and BENCH_CONCURRENCY override the load.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::routing::post;
use axum::{Json, Router};
use bot::{Config, Engine, Event, EventId, EventKind, Profile, Replies, Step};
use domain::TelegramUserId;
use serde_json::{json, Value};

const VACANCY: &str = "Backend-разработчик (Rust) в финтех-команду.\n\nТребования:\n- опыт коммерческой разработки на Rust от 2 лет\n- уверенное знание PostgreSQL\n- опыт с Kafka или RabbitMQ\n\nУсловия: удалёнка.";
const RESUME: &str = "Иван Петров, backend-разработчик.\n\nОпыт:\n- 2021–2026: платёжный шлюз на Rust (tokio, axum), PostgreSQL, RabbitMQ.\n- 2018–2021: Python, Django, PostgreSQL, оптимизация запросов.\n\nНавыки: Rust, PostgreSQL, Docker, Kubernetes, наставничество.\nОбразование: МГТУ им. Баумана, прикладная математика, 2018. Английский B2, немецкий A2.";
const LETTER: &str = "Здравствуйте!\n\nПять лет я разрабатываю backend на Rust и PostgreSQL и отвечаю за платёжный шлюз: от схемы базы до мониторинга, с очередями RabbitMQ и наставничеством младших коллег.\n\nБуду рад обсудить детали.\n\nС уважением,\n[Ваше имя]";

static SEQ: AtomicU64 = AtomicU64::new(0);

async fn instant_llm() -> String {
    async fn reply(Json(_): Json<Value>) -> Json<Value> {
        Json(json!({
            "choices": [{"index": 0, "message": {"role": "assistant", "content": LETTER}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 300, "completion_tokens": 200, "total_tokens": 500}
        }))
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            Router::new().route("/v1/chat/completions", post(reply)),
        )
        .await
        .unwrap()
    });
    format!("http://{addr}/v1")
}

fn event(profile: &Profile, kind: EventKind) -> Event {
    Event {
        id: EventId::parse(&format!("bench:{}", SEQ.fetch_add(1, Ordering::Relaxed))).unwrap(),
        from: profile.clone(),
        kind,
    }
}

async fn step(engine: &Engine, ev: Event, latencies: &mut Vec<Duration>) -> Replies {
    let started = Instant::now();
    let r = match engine.handle(ev).await {
        Step::Done(r) => r,
        Step::Generating(p) => engine.complete(p).await,
    };
    latencies.push(started.elapsed());
    r
}

fn data(r: &Replies, label: &str) -> String {
    r.buttons()
        .into_iter()
        .find(|b| b.label.contains(label))
        .map(|b| b.data.clone())
        .unwrap_or_else(|| panic!("no {label}: {}", r.text()))
}

async fn conversation(engine: Engine, tg: i64) -> Vec<Duration> {
    let profile = Profile::bare(TelegramUserId::parse(tg).unwrap());
    let mut lat = Vec::with_capacity(8);
    step(
        &engine,
        event(&profile, EventKind::Text("/start".into())),
        &mut lat,
    )
    .await;
    step(
        &engine,
        event(&profile, EventKind::Text(VACANCY.into())),
        &mut lat,
    )
    .await;
    let r = step(
        &engine,
        event(&profile, EventKind::Text(RESUME.into())),
        &mut lat,
    )
    .await;
    step(
        &engine,
        event(
            &profile,
            EventKind::Button {
                data: data(&r, "Нравится"),
            },
        ),
        &mut lat,
    )
    .await;
    step(
        &engine,
        event(
            &profile,
            EventKind::Button {
                data: data(&r, "Улучшить"),
            },
        ),
        &mut lat,
    )
    .await;
    let r = step(
        &engine,
        event(&profile, EventKind::Text("Сделай короче".into())),
        &mut lat,
    )
    .await;
    let v = step(
        &engine,
        event(
            &profile,
            EventKind::Button {
                data: data(&r, "Ещё вариант"),
            },
        ),
        &mut lat,
    )
    .await;
    assert!(
        v.messages.iter().any(|m| m.letter),
        "the variant was written: {}",
        v.text()
    );
    step(
        &engine,
        event(&profile, EventKind::Text("/subscription".into())),
        &mut lat,
    )
    .await;
    lat
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    let users: i64 = std::env::var("BENCH_USERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(400);
    let concurrency: i64 = std::env::var("BENCH_CONCURRENCY")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(8);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let db = testkit::db_with("declared", &store::declared_sql()).await;
        let pool = sqlx::postgres::PgPoolOptions::new().max_connections(concurrency as u32 + 4).connect(&db.url).await.unwrap();
        let settings = llm::Settings {
            api_key: Some(llm::ApiKey::from("bench")),
            base_url: instant_llm().await,
            // The engine's steps are measured, not the letter checks (one model call each).
            check_letters: false,
            ..llm::Settings::default()
        };
        let engine = Engine::new(pool, llm::Writer::from_settings(settings), Config::default());

        // Warm-up: connections, prepared statements, the double's keep-alive.
        for u in 0..concurrency {
            conversation(engine.clone(), 1_000_000 + u).await;
        }

        let started = Instant::now();
        let next = Arc::new(AtomicU64::new(0));
        let mut workers = Vec::new();
        for _ in 0..concurrency {
            let (engine, next) = (engine.clone(), next.clone());
            workers.push(tokio::spawn(async move {
                let mut all = Vec::new();
                loop {
                    let u = next.fetch_add(1, Ordering::Relaxed) as i64;
                    if u >= users {
                        break all;
                    }
                    all.extend(conversation(engine.clone(), 2_000_000 + u).await);
                }
            }));
        }
        let mut latencies = Vec::new();
        for w in workers {
            latencies.extend(w.await.unwrap());
        }
        let wall = started.elapsed();
        latencies.sort();
        let steps = latencies.len();
        println!("engine steps: {users} conversations x 8 steps (3 generations each), {concurrency} concurrent users");
        println!("  steps          {steps}");
        println!("  wall time      {:.2} s", wall.as_secs_f64());
        println!("  throughput     {:.0} steps/s", steps as f64 / wall.as_secs_f64());
        println!(
            "  latency        p50 {:.2} ms   p90 {:.2} ms   p99 {:.2} ms   max {:.2} ms",
            pct(&latencies, 0.50).as_secs_f64() * 1e3,
            pct(&latencies, 0.90).as_secs_f64() * 1e3,
            pct(&latencies, 0.99).as_secs_f64() * 1e3,
            latencies.last().unwrap().as_secs_f64() * 1e3
        );
    });
}

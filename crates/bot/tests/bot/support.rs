//! Test harness: a database with the declared schema, an LLM double on 127.0.0.1 speaking the
//! chat-completions wire format (and recording what it saw), a fake clock, and event builders.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use bot::{Config, Engine, Event, EventId, EventKind, Media, Profile, Replies, Step};
use chrono::{DateTime, Utc};
use domain::{FakeClock, TelegramUserId};
use serde_json::{json, Value};
use sqlx::PgPool;

/// What the double does with one request.
#[derive(Debug, Clone)]
pub enum Behaviour {
    Status(u16),
    Malformed,
    Reply(String),
    Hang,
}

#[derive(Default)]
struct Shared {
    script: Mutex<VecDeque<Behaviour>>,
    seen: Mutex<Vec<Value>>,
    served: AtomicU64,
}

/// The LLM double. Unscripted requests get a letter numbered by how many letters it wrote.
#[derive(Clone)]
pub struct Llm {
    pub base_url: String,
    shared: Arc<Shared>,
}

pub fn letter_number(n: u64) -> String {
    format!(
        "Здравствуйте!\n\nЭто письмо номер {n}. Я пять лет разрабатываю backend на Rust и PostgreSQL, \
         отвечаю за платёжный шлюз и наставляю младших разработчиков. R&D-задачи <без> страха.\n\n\
         Буду рад обсудить, чем могу помочь вашей команде.\n\nС уважением,\n[Ваше имя]"
    )
}

async fn complete(State(shared): State<Arc<Shared>>, Json(body): Json<Value>) -> Response {
    shared.seen.lock().unwrap().push(body);
    let next = shared.script.lock().unwrap().pop_front();
    let content = match next {
        Some(Behaviour::Status(code)) => {
            return (StatusCode::from_u16(code).unwrap(), "scripted failure").into_response()
        }
        Some(Behaviour::Malformed) => {
            return (
                StatusCode::OK,
                [("content-type", "application/json")],
                "{\"choices\":",
            )
                .into_response()
        }
        Some(Behaviour::Hang) => return std::future::pending::<Response>().await,
        Some(Behaviour::Reply(text)) => text,
        None => letter_number(shared.served.fetch_add(1, Ordering::SeqCst) + 1),
    };
    Json(json!({
        "id": "chatcmpl-double",
        "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 300, "completion_tokens": 250, "total_tokens": 550}
    }))
    .into_response()
}

impl Llm {
    pub async fn start() -> Self {
        let shared = Arc::new(Shared::default());
        let app = Router::new()
            .route("/v1/chat/completions", post(complete))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self {
            base_url: format!("http://{addr}/v1"),
            shared,
        }
    }

    pub fn script(&self, behaviours: Vec<Behaviour>) {
        self.shared.script.lock().unwrap().extend(behaviours);
    }

    /// The user messages of every request seen so far.
    pub fn prompts(&self) -> Vec<String> {
        self.shared
            .seen
            .lock()
            .unwrap()
            .iter()
            .map(|b| {
                b["messages"][1]["content"]
                    .as_str()
                    .unwrap_or("")
                    .to_string()
            })
            .collect()
    }

    pub fn requests(&self) -> usize {
        self.shared.seen.lock().unwrap().len()
    }

    pub fn settings(&self) -> llm::Settings {
        llm::Settings {
            api_key: Some(llm::ApiKey::from("sk-test")),
            base_url: self.base_url.clone(),
            model: "main-model".into(),
            fallback_model: Some("fallback-model".into()),
            timeout: Duration::from_millis(400),
            retries: 2,
            backoff: Duration::from_millis(1),
            provider: "openai".into(),
            // These tests count model calls; the letter checks and their one regeneration are
            // tested in the llm crate.
            check_letters: false,
            ..llm::Settings::default()
        }
    }
}

pub fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

pub struct Harness {
    pub pool: PgPool,
    /// The test database's URL, for a pool opened the way the product opens it.
    pub url: String,
    pub llm: Llm,
    pub clock: Arc<FakeClock>,
    pub config: Config,
}

impl Harness {
    pub async fn new() -> Self {
        Self::with_config(Config::default()).await
    }

    pub async fn with_config(config: Config) -> Self {
        let db = testkit::db_with("declared", &store::declared_sql()).await;
        let pool = db.pool().await;
        Self {
            pool,
            url: db.url.clone(),
            llm: Llm::start().await,
            clock: Arc::new(FakeClock::at(t("2026-03-10T09:00:00Z"))),
            config,
        }
    }

    /// A new engine on the same database, double and clock (as after a restart).
    pub fn engine(&self) -> Engine {
        Engine::with_clock(
            self.pool.clone(),
            llm::Writer::from_settings(self.llm.settings()),
            self.config.clone(),
            self.clock.clone(),
        )
    }

    /// An engine whose letters come from the offline composer (no API key).
    pub fn offline_engine(&self) -> Engine {
        Engine::with_clock(
            self.pool.clone(),
            llm::Writer::Offline,
            self.config.clone(),
            self.clock.clone(),
        )
    }

    pub fn advance(&self, minutes: i64) {
        self.clock.advance(chrono::Duration::minutes(minutes));
    }

    pub async fn scalar_i64(&self, sql: &str) -> i64 {
        sqlx::query_scalar::<_, i64>(sql)
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }

    pub async fn letters_used(&self, user: &User) -> i32 {
        sqlx::query_scalar(
            "SELECT s.letters_used FROM subscriptions s JOIN users u ON u.id = s.user_id
             WHERE u.telegram_user_id = $1 AND s.status = 'active'",
        )
        .bind(user.tg.get())
        .fetch_one(&self.pool)
        .await
        .unwrap()
    }
}

static EVENT_SEQ: AtomicU64 = AtomicU64::new(1);

/// A Telegram user talking to the engine.
#[derive(Clone)]
pub struct User {
    pub tg: TelegramUserId,
    pub profile: Profile,
}

impl User {
    pub fn new(tg: i64) -> Self {
        let tg = TelegramUserId::parse(tg).unwrap();
        let profile = Profile {
            telegram_id: tg,
            username: Some(format!("user{}", tg.get())),
            first_name: Some("Анна".into()),
            last_name: None,
            language_code: Some("ru".into()),
        };
        Self { tg, profile }
    }

    pub fn english(tg: i64) -> Self {
        let mut u = Self::new(tg);
        u.profile.language_code = Some("en-GB".into());
        u
    }

    pub fn event(&self, kind: EventKind) -> Event {
        let n = EVENT_SEQ.fetch_add(1, Ordering::Relaxed);
        Event {
            id: EventId::parse(&format!("test:{}:{n}", std::process::id())).unwrap(),
            from: self.profile.clone(),
            kind,
        }
    }

    pub fn text(&self, s: &str) -> Event {
        self.event(EventKind::Text(s.to_string()))
    }

    pub fn press(&self, data: &str) -> Event {
        self.event(EventKind::Button {
            data: data.to_string(),
        })
    }

    pub fn media(&self, m: Media) -> Event {
        self.event(EventKind::Unsupported(m))
    }
}

/// Sends one event through the engine and completes a generation if one started; returns every
/// reply in order, flattened.
pub async fn send(engine: &Engine, event: Event) -> Replies {
    let mut all = Replies::default();
    match engine.handle(event).await {
        Step::Done(r) => merge(&mut all, r),
        Step::Generating(p) => {
            merge(&mut all, p.progress.clone());
            let done = engine.complete(p).await;
            merge(&mut all, done);
        }
    }
    all
}

fn merge(into: &mut Replies, r: Replies) {
    into.messages.extend(r.messages);
    into.signals.extend(r.signals);
    if r.button_answer.is_some() {
        into.button_answer = r.button_answer;
    }
}

/// The callback data of the first button whose label contains `label`.
pub fn button(r: &Replies, label: &str) -> String {
    r.buttons()
        .into_iter()
        .find(|b| b.label.contains(label))
        .unwrap_or_else(|| panic!("no button {label:?} in {:?}", r.buttons()))
        .data
        .clone()
}

pub fn has_button(r: &Replies, label: &str) -> bool {
    r.buttons().into_iter().any(|b| b.label.contains(label))
}

pub const VACANCY: &str = "Backend-разработчик (Rust) в финтех-команду.\n\nТребования:\n- опыт коммерческой разработки на Rust от 2 лет\n- уверенное знание PostgreSQL\n- опыт с Kafka или RabbitMQ\n\nУсловия: удалёнка, ДМС.";

pub const RESUME: &str = "Иван Петров, backend-разработчик.\n\nОпыт:\n- 2021–2026, ООО «Ромашка»: разработка платёжного шлюза на Rust (tokio, axum), PostgreSQL, очереди RabbitMQ.\n- 2018–2021, ООО «Лютик»: Python, Django, PostgreSQL, оптимизация запросов.\n\nНавыки: Rust, PostgreSQL, Docker, Kubernetes, наставничество младших разработчиков.\nОбразование: МГТУ им. Баумана, прикладная математика.";

/// /start, vacancy and resume: returns the replies of the resume (the first letter).
pub async fn first_letter(engine: &Engine, user: &User) -> Replies {
    send(engine, user.text("/start")).await;
    send(engine, user.text(VACANCY)).await;
    send(engine, user.text(RESUME)).await
}

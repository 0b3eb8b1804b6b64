//! A chat-completions server on 127.0.0.1 that answers from a script and records every request.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};

/// What the double does with one request.
#[derive(Debug, Clone)]
pub enum Behaviour {
    Letter(String),
    Status(u16),
    /// The status with a `Retry-After` header of this value.
    RetryAfter(u16, String),
    Malformed,
    /// Never answers (the client must time out).
    Hang,
}

#[derive(Default)]
struct Shared {
    script: Mutex<VecDeque<Behaviour>>,
    seen: Mutex<Vec<(Option<String>, Value)>>,
    arrived: Mutex<Vec<Instant>>,
}

pub struct Double {
    pub base_url: String,
    shared: Arc<Shared>,
}

pub const LETTER: &str = "Здравствуйте!\n\nМеня заинтересовала ваша вакансия. Пять лет я разрабатываю сервисы на Rust и PostgreSQL, \
                          последние два года отвечаю за платёжный шлюз.\n\nБуду рад обсудить детали.\n\nС уважением,\n[Ваше имя]";

async fn complete(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    shared.seen.lock().unwrap().push((auth, body));
    shared.arrived.lock().unwrap().push(Instant::now());
    let next = shared
        .script
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or(Behaviour::Letter(LETTER.into()));
    match next {
        Behaviour::Letter(text) => Json(json!({
            "id": "chatcmpl-test",
            "object": "chat.completion",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 120, "completion_tokens": 80, "total_tokens": 200}
        }))
        .into_response(),
        Behaviour::Status(code) => (StatusCode::from_u16(code).unwrap(), Json(json!({"error": {"message": "scripted"}}))).into_response(),
        Behaviour::RetryAfter(code, value) => (
            StatusCode::from_u16(code).unwrap(),
            [("retry-after", value)],
            Json(json!({"error": {"message": "scripted"}})),
        )
            .into_response(),
        Behaviour::Malformed => (StatusCode::OK, [("content-type", "application/json")], "{\"choices\": [").into_response(),
        Behaviour::Hang => std::future::pending::<Response>().await,
    }
}

impl Double {
    pub async fn start(script: Vec<Behaviour>) -> Self {
        let shared = Arc::new(Shared {
            script: Mutex::new(script.into()),
            seen: Mutex::default(),
            arrived: Mutex::default(),
        });
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

    /// The pauses between consecutive requests.
    pub fn gaps(&self) -> Vec<Duration> {
        let arrived = self.shared.arrived.lock().unwrap();
        arrived.windows(2).map(|w| w[1] - w[0]).collect()
    }

    /// The request bodies seen so far, with their Authorization header.
    pub fn seen(&self) -> Vec<(Option<String>, Value)> {
        self.shared.seen.lock().unwrap().clone()
    }
}

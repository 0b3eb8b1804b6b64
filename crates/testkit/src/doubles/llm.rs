//! An OpenAI-compatible chat-completions double on 127.0.0.1: answers every
//! `POST /chat/completions` with a well-formed letter and records the requests it saw.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, Semaphore};

#[derive(Clone)]
pub struct LlmDouble {
    pub addr: SocketAddr,
    inner: Arc<Inner>,
}

struct Inner {
    requests: Mutex<Vec<Value>>,
    /// Woken on every request that arrives.
    arrived: Notify,
    count: AtomicUsize,
    /// When set, each answer waits for a permit, so a test can hold a generation in flight.
    gate: Mutex<Option<Arc<Semaphore>>>,
    /// Paragraphs repeated in each letter (1 = a normal letter).
    repeat: AtomicUsize,
}

impl LlmDouble {
    pub async fn start() -> Self {
        let inner = Arc::new(Inner {
            requests: Mutex::new(Vec::new()),
            arrived: Notify::new(),
            count: AtomicUsize::new(0),
            gate: Mutex::new(None),
            repeat: AtomicUsize::new(1),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind LLM double");
        let addr = listener.local_addr().unwrap();
        let app = Router::new()
            .route("/chat/completions", post(complete))
            .with_state(inner.clone());
        tokio::spawn(async move {
            axum::serve(listener, app).await.expect("LLM double server");
        });
        Self { addr, inner }
    }

    /// What OPENAI_BASE_URL should be.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn requests(&self) -> Vec<Value> {
        self.inner.requests.lock().unwrap().clone()
    }

    /// Waits until at least `n` requests have arrived (answered or held).
    pub async fn wait_requests(&self, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let arrived = self.inner.arrived.notified();
            if self.inner.requests.lock().unwrap().len() >= n {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the LLM double never got request #{n}"
            );
            let _ = tokio::time::timeout(Duration::from_millis(500), arrived).await;
        }
    }

    /// Answers written so far (held requests not included).
    pub fn count(&self) -> usize {
        self.inner.count.load(Ordering::SeqCst)
    }

    /// From now on every answer waits for a permit of the returned semaphore.
    pub fn hold(&self) -> Arc<Semaphore> {
        let gate = Arc::new(Semaphore::new(0));
        *self.inner.gate.lock().unwrap() = Some(gate.clone());
        gate
    }

    /// Answers without waiting again (a held request stays held).
    pub fn release_hold(&self) {
        *self.inner.gate.lock().unwrap() = None;
    }

    /// Letters `times` as long as usual from now on.
    pub fn long_letters(&self, times: usize) {
        self.inner.repeat.store(times.max(1), Ordering::SeqCst);
    }

    /// The user message of the `n`-th request (0-based).
    pub fn user_message(&self, n: usize) -> String {
        let reqs = self.requests();
        let msgs = reqs[n]["messages"].as_array().cloned().unwrap_or_default();
        msgs.iter()
            .filter(|m| m["role"] == "user")
            .filter_map(|m| m["content"].as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// The letter the double writes for request number `n`: about 230 words, Russian, marked with
/// its number so tests can tell versions apart.
pub fn letter(n: usize) -> String {
    long_letter(n, 1)
}

/// [`letter`] with its middle paragraphs repeated `times` times.
pub fn long_letter(n: usize, times: usize) -> String {
    let para = "Меня заинтересовала ваша вакансия, потому что задачи команды совпадают с тем, чем я занимаюсь \
последние пять лет: я проектирую и сопровождаю сервисы на Rust и PostgreSQL, слежу за их надёжностью и \
скоростью, участвую в разборе инцидентов и улучшаю процессы выкладки.";
    let mid = "В текущей роли я перевёл ключевой сервис с очередей на потоковую обработку, сократил задержку \
ответа вдвое и настроил наблюдаемость так, что команда узнаёт о проблемах раньше пользователей. \
Мне близки ваши принципы: ответственность за результат, открытое обсуждение решений и аккуратный код.";
    let end = "Буду рад рассказать подробнее о своём опыте на собеседовании и обсудить, чем могу быть полезен \
вашей команде уже в первые месяцы работы. Спасибо за внимание к моей кандидатуре.";
    let body: Vec<String> = (0..times)
        .map(|i| format!("{para}\n\n{mid} Часть {}.", i + 1))
        .collect();
    format!(
        "Здравствуйте!\n\n{}\n\nВерсия письма номер {n}.\n\n{end}\n\nС уважением,\nАнна",
        body.join("\n\n")
    )
}

async fn complete(State(inner): State<Arc<Inner>>, Json(body): Json<Value>) -> Json<Value> {
    let n = {
        let mut reqs = inner.requests.lock().unwrap();
        reqs.push(body.clone());
        reqs.len()
    };
    inner.arrived.notify_waiters();
    let gate = inner.gate.lock().unwrap().clone();
    if let Some(gate) = gate {
        if let Ok(permit) = gate.acquire().await {
            permit.forget();
        }
    }
    inner.count.fetch_add(1, Ordering::SeqCst);
    let model = body["model"].as_str().unwrap_or("gpt-4o").to_string();
    Json(json!({
        "id": format!("chatcmpl-{n}"),
        "object": "chat.completion",
        "created": 1_763_700_000,
        "model": model,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": long_letter(n, inner.repeat.load(Ordering::SeqCst))},
            "finish_reason": "stop"
        }],
        "usage": {"prompt_tokens": 900, "completion_tokens": 420, "total_tokens": 1320}
    }))
}

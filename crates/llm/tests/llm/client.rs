//! The client's wire format, retries, fallback, timeouts and reply checks.

use std::time::Duration;

use llm::{Kind, LlmError, Settings, Task, Writer};

use crate::double::{Behaviour, Double, LETTER};

const VACANCY: &str =
    "Ищем backend-разработчика на Rust. Требования: опыт с PostgreSQL, Kafka, умение писать тесты.";
const RESUME: &str = "Пять лет разработки на Rust и PostgreSQL, платёжный шлюз, наставничество.";

fn settings(double: &Double) -> Settings {
    Settings::from_lookup(|name| match name {
        "OPENAI_API_KEY" => Some("sk-test-secret".into()),
        "OPENAI_BASE_URL" => Some(double.base_url.clone()),
        "OPENAI_MODEL" => Some("main-model".into()),
        "OPENAI_FALLBACK_MODEL" => Some("fallback-model".into()),
        // Retries and fallback are tested with a short scripted letter; the checks have their own tests.
        "OPENAI_CHECK_LETTERS" => Some("off".into()),
        _ => None,
    })
    .map(|s| Settings {
        timeout: Duration::from_millis(300),
        backoff: Duration::from_millis(1),
        ..s
    })
    .unwrap()
}

fn task() -> Task<'static> {
    Task::Letter {
        vacancy: VACANCY,
        resume: RESUME,
        variant: 0,
    }
}

#[tokio::test]
async fn a_request_carries_a_system_prompt_the_inputs_and_the_key() {
    let double = Double::start(vec![]).await;
    let letter = Writer::from_settings(settings(&double))
        .write(&task())
        .await
        .unwrap();
    assert_eq!(letter.text, LETTER);
    assert_eq!(letter.model, "main-model");
    assert!(!letter.offline);
    assert!(letter.seconds > 0.0 && letter.seconds < 5.0);
    let seen = double.seen();
    assert_eq!(seen.len(), 1);
    let (auth, body) = &seen[0];
    assert_eq!(auth.as_deref(), Some("Bearer sk-test-secret"));
    assert_eq!(body["model"], "main-model");
    assert_eq!(body["messages"][0]["role"], "system");
    let system = body["messages"][0]["content"].as_str().unwrap();
    assert!(system.contains("200–300 слов"), "{system}");
    assert!(system.contains("Не придумывай опыт"), "{system}");
    let user = body["messages"][1]["content"].as_str().unwrap();
    assert!(user.contains(VACANCY) && user.contains(RESUME));
    assert_eq!(letter.calls.len(), 1);
    let call = &letter.calls[0];
    assert!(call.success);
    assert_eq!(
        (
            call.prompt_tokens,
            call.completion_tokens,
            call.total_tokens
        ),
        (Some(120), Some(80), Some(200))
    );
    assert_eq!(call.kind, Kind::Generation);
}

#[tokio::test]
async fn an_english_vacancy_gets_the_english_rules() {
    let double = Double::start(vec![]).await;
    let t = Task::Letter {
        vacancy: "We are hiring a Rust engineer to build payment services.",
        resume: RESUME,
        variant: 1,
    };
    Writer::from_settings(settings(&double))
        .write(&t)
        .await
        .unwrap();
    let body = &double.seen()[0].1;
    assert!(body["messages"][0]["content"]
        .as_str()
        .unwrap()
        .contains("Write in English"));
    assert!(body["messages"][1]["content"]
        .as_str()
        .unwrap()
        .contains("another variant"));
}

#[tokio::test]
async fn a_429_is_retried_and_then_succeeds() {
    let double = Double::start(vec![Behaviour::Status(429), Behaviour::Status(503)]).await;
    let letter = Writer::from_settings(settings(&double))
        .write(&task())
        .await
        .unwrap();
    assert_eq!(letter.model, "main-model");
    let outcomes: Vec<(bool, Option<String>)> = letter
        .calls
        .iter()
        .map(|c| (c.success, c.error.clone()))
        .collect();
    assert_eq!(
        outcomes,
        vec![
            (false, Some("the LLM endpoint answered HTTP 429".into())),
            (false, Some("the LLM endpoint answered HTTP 503".into())),
            (true, None)
        ]
    );
}

fn models_seen(double: &Double) -> Vec<String> {
    double
        .seen()
        .iter()
        .map(|(_, b)| b["model"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_retry_after_in_seconds_is_waited_out_before_the_retry() {
    let double = Double::start(vec![Behaviour::RetryAfter(429, "1".into())]).await;
    let letter = Writer::from_settings(settings(&double))
        .write(&task())
        .await
        .unwrap();
    assert_eq!(letter.model, "main-model");
    assert_eq!(models_seen(&double), ["main-model", "main-model"]);
    let gap = double.gaps()[0];
    assert!(gap >= Duration::from_secs(1), "retried after {gap:?}");
}

#[tokio::test]
async fn a_retry_after_given_as_an_http_date_is_waited_out() {
    // Two seconds ahead, cut to whole seconds by the format: at least one second to wait.
    let at = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(2));
    let double = Double::start(vec![Behaviour::RetryAfter(503, at)]).await;
    let letter = Writer::from_settings(settings(&double))
        .write(&task())
        .await
        .unwrap();
    assert_eq!(letter.model, "main-model");
    let gap = double.gaps()[0];
    assert!(gap >= Duration::from_millis(900), "retried after {gap:?}");
}

#[tokio::test]
async fn a_retry_after_past_the_bound_moves_to_the_fallback_model_at_once() {
    let double = Double::start(vec![Behaviour::RetryAfter(429, "3600".into())]).await;
    let letter = Writer::from_settings(settings(&double))
        .write(&task())
        .await
        .unwrap();
    assert_eq!(letter.model, "fallback-model");
    assert_eq!(models_seen(&double), ["main-model", "fallback-model"]);
    let gap = double.gaps()[0];
    assert!(gap < Duration::from_secs(5), "waited {gap:?}");
}

#[tokio::test]
async fn after_the_retries_the_fallback_model_is_tried_once() {
    let script = vec![
        Behaviour::Status(500),
        Behaviour::Status(500),
        Behaviour::Status(500),
    ];
    let double = Double::start(script).await;
    let letter = Writer::from_settings(settings(&double))
        .write(&task())
        .await
        .unwrap();
    assert_eq!(letter.model, "fallback-model");
    let models: Vec<String> = double
        .seen()
        .iter()
        .map(|(_, b)| b["model"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        models,
        ["main-model", "main-model", "main-model", "fallback-model"]
    );
}

#[tokio::test]
async fn a_hanging_endpoint_times_out_and_every_attempt_is_reported() {
    let double = Double::start(vec![Behaviour::Hang; 4]).await;
    let failure = Writer::from_settings(settings(&double))
        .write(&task())
        .await
        .unwrap_err();
    assert_eq!(failure.error, LlmError::Timeout(Duration::from_millis(300)));
    assert_eq!(failure.calls.len(), 4);
    assert!(failure
        .calls
        .iter()
        .all(|c| !c.success && c.response_time_ms >= 300));
}

#[tokio::test]
async fn malformed_json_is_a_failure_and_goes_to_the_fallback_without_retrying() {
    let double = Double::start(vec![Behaviour::Malformed, Behaviour::Malformed]).await;
    let failure = Writer::from_settings(settings(&double))
        .write(&task())
        .await
        .unwrap_err();
    assert!(
        matches!(failure.error, LlmError::Malformed(_)),
        "{:?}",
        failure.error
    );
    let models: Vec<&str> = failure.calls.iter().map(|c| c.model.as_str()).collect();
    assert_eq!(models, ["main-model", "fallback-model"]);
}

#[tokio::test]
async fn an_empty_or_preamble_only_reply_is_no_letter() {
    let double = Double::start(vec![
        Behaviour::Letter(String::new()),
        Behaviour::Letter("Вот ваше письмо:\n```\n```".into()),
    ])
    .await;
    let failure = Writer::from_settings(settings(&double))
        .write(&task())
        .await
        .unwrap_err();
    assert!(matches!(failure.error, LlmError::NoLetter(_)));
    assert_eq!(failure.calls.len(), 2);
    // The HTTP exchange worked, so the tokens are still reported.
    assert_eq!(failure.calls[0].total_tokens, Some(200));
    assert!(failure.calls.iter().all(|c| !c.success));
}

#[tokio::test]
async fn a_reply_with_a_preamble_comes_back_clean() {
    let double = Double::start(vec![Behaviour::Letter(format!(
        "Конечно! Вот ваше письмо:\n\n```\n{}\n```",
        LETTER.replace('\n', "\\n")
    ))])
    .await;
    let letter = Writer::from_settings(settings(&double))
        .write(&task())
        .await
        .unwrap();
    assert_eq!(letter.text, LETTER);
}

#[tokio::test]
async fn without_an_api_key_the_offline_composer_writes_the_letter() {
    let s = Settings::from_lookup(|_| None).unwrap();
    let writer = Writer::from_settings(s);
    assert!(writer.is_offline());
    let letter = writer.write(&task()).await.unwrap();
    assert!(letter.offline && letter.calls.is_empty());
    assert_eq!(letter.model, "offline-composer");
    assert!(letter.text.contains("С уважением,"), "{}", letter.text);
}

#[test]
fn the_api_key_never_shows_in_debug_output() {
    let s =
        Settings::from_lookup(|n| (n == "OPENAI_API_KEY").then(|| "sk-very-secret".to_string()))
            .unwrap();
    assert!(!format!("{s:?}").contains("sk-very-secret"));
}

fn checked_settings(double: &Double) -> Settings {
    Settings {
        check_letters: true,
        ..settings(double)
    }
}

/// A letter of `n` words in Russian, with `extra` appended (a number, say).
fn russian_letter(n: usize, extra: &str) -> String {
    let body = vec!["слово"; n.saturating_sub(4)].join(" ");
    let extra = if extra.is_empty() {
        String::new()
    } else {
        format!(" {extra}")
    };
    format!("Здравствуйте!\n\n{body}{extra}\n\nС уважением,\nИван")
}

#[tokio::test]
async fn a_model_letter_that_fails_the_checks_is_regenerated_once_with_the_problems_named() {
    let short = russian_letter(120, "");
    let invented = russian_letter(240, "и 17 лет опыта");
    let good = russian_letter(240, "");
    let double = Double::start(vec![
        Behaviour::Letter(short),
        Behaviour::Letter(good.clone()),
        Behaviour::Letter(invented),
        Behaviour::Letter(good.clone()),
    ])
    .await;
    let writer = Writer::from_settings(checked_settings(&double));
    let first = writer.write(&task()).await.unwrap();
    assert_eq!(first.text, good);
    assert_eq!(first.calls.len(), 2);
    let second = writer.write(&task()).await.unwrap();
    assert_eq!(second.text, good);
    let seen = double.seen();
    assert_eq!(seen.len(), 4);
    let retry_prompt = seen[1].1["messages"][1]["content"].as_str().unwrap();
    assert!(retry_prompt.contains("нужно 200–300"), "{retry_prompt}");
    let retry_prompt = seen[3].1["messages"][1]["content"].as_str().unwrap();
    assert!(retry_prompt.contains("17"), "{retry_prompt}");
}

#[tokio::test]
async fn a_letter_that_passes_the_checks_costs_one_call_and_a_second_failure_keeps_the_first() {
    let good = russian_letter(230, "");
    let double = Double::start(vec![
        Behaviour::Letter(good.clone()),
        Behaviour::Letter("Dear team, this is English and short.".repeat(8)),
        Behaviour::Status(500),
    ])
    .await;
    let writer = Writer::from_settings(checked_settings(&double));
    let a = writer.write(&task()).await.unwrap();
    assert_eq!((a.text.as_str(), a.calls.len()), (good.as_str(), 1));
    // The regeneration fails: the first letter stands, and both calls are recorded.
    let b = writer.write(&task()).await.unwrap();
    assert!(b.text.starts_with("Dear team"));
    assert_eq!(b.calls.len(), 2);
    assert!(!b.calls[1].success);
}

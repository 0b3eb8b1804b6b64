//! LLM failures seen by the user: a clear message, every call in openai_requests with
//! success=false, no quota used.

use crate::support::*;

async fn failing_letter(script: Vec<Behaviour>) -> (Harness, bot::Replies, User) {
    let h = Harness::new().await;
    h.llm.script(script);
    let engine = h.engine();
    let anna = User::new(7001);
    let r = first_letter(&engine, &anna).await;
    (h, r, anna)
}

async fn calls(h: &Harness) -> Vec<(String, bool, Option<String>, String)> {
    sqlx::query_as(
        "SELECT model, success, error_message, request_type FROM openai_requests ORDER BY id",
    )
    .fetch_all(&h.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_429_then_success_gives_the_letter_and_logs_both_calls() {
    let (h, r, anna) = failing_letter(vec![Behaviour::Status(429)]).await;
    assert!(r.messages.iter().any(|m| m.letter), "{}", r.text());
    let c = calls(&h).await;
    assert_eq!(c.len(), 2);
    assert!(!c[0].1 && c[0].2.as_deref().unwrap().contains("429"));
    assert!(c[1].1 && c[1].3 == "letter_generation");
    assert_eq!(h.letters_used(&anna).await, 1);
    let tokens: Option<i32> =
        sqlx::query_scalar("SELECT total_tokens FROM openai_requests WHERE success")
            .fetch_one(&h.pool)
            .await
            .unwrap();
    assert_eq!(tokens, Some(550));
}

#[tokio::test]
async fn a_timeout_on_every_attempt_is_a_clear_failure() {
    let (h, r, anna) = failing_letter(vec![Behaviour::Hang; 4]).await;
    assert!(
        r.text().contains("Не получилось написать письмо"),
        "{}",
        r.text()
    );
    let c = calls(&h).await;
    assert_eq!(
        c.iter().map(|x| x.0.as_str()).collect::<Vec<_>>(),
        ["main-model", "main-model", "main-model", "fallback-model"]
    );
    assert!(c
        .iter()
        .all(|x| !x.1 && x.2.as_deref().unwrap().contains("no answer")));
    assert_eq!(h.letters_used(&anna).await, 0);
    assert_eq!(
        h.scalar_i64("SELECT count(*) FROM user_events WHERE event_type = 'letter_failed'")
            .await,
        1
    );
}

#[tokio::test]
async fn malformed_json_is_a_clear_failure() {
    let (h, r, anna) = failing_letter(vec![Behaviour::Malformed, Behaviour::Malformed]).await;
    assert!(
        r.text().contains("Не получилось написать письмо"),
        "{}",
        r.text()
    );
    let c = calls(&h).await;
    assert_eq!(c.len(), 2);
    assert!(c.iter().all(|x| !x.1
        && x.2
            .as_deref()
            .unwrap()
            .contains("not a chat-completions response")));
    assert_eq!(h.letters_used(&anna).await, 0);
}

#[tokio::test]
async fn an_empty_or_preamble_only_reply_is_a_clear_failure() {
    let (h, r, anna) = failing_letter(vec![
        Behaviour::Reply(String::new()),
        Behaviour::Reply("Вот ваше письмо:\n```\n```".into()),
    ])
    .await;
    assert!(
        r.text().contains("Не получилось написать письмо"),
        "{}",
        r.text()
    );
    let c = calls(&h).await;
    assert_eq!(c.len(), 2);
    assert!(c
        .iter()
        .all(|x| !x.1 && x.2.as_deref().unwrap().contains("no letter")));
    assert_eq!(h.letters_used(&anna).await, 0);
    let letter: Option<String> = sqlx::query_scalar("SELECT generated_letter FROM letter_sessions")
        .fetch_one(&h.pool)
        .await
        .unwrap();
    assert_eq!(letter, None);
}

#[tokio::test]
async fn a_failed_improvement_keeps_the_letter_and_the_improvement() {
    let h = Harness::new().await;
    let engine = h.engine();
    let anna = User::new(7002);
    let r = first_letter(&engine, &anna).await;
    send(&engine, anna.press(&button(&r, "Улучшить"))).await;
    h.llm.script(vec![Behaviour::Status(500); 4]);
    let r = send(&engine, anna.text("Добавь про наставничество")).await;
    assert!(
        r.text().contains("Не получилось переписать письмо"),
        "{}",
        r.text()
    );
    assert!(
        has_button(&r, "Улучшить (2)"),
        "the improvement was not used"
    );
    assert_eq!(h.scalar_i64("SELECT count(*) FROM openai_requests WHERE request_type = 'letter_improvement' AND NOT success").await, 4);
    assert_eq!(
        h.scalar_i64("SELECT count(*) FROM letter_iterations").await,
        0
    );
    assert_eq!(h.letters_used(&anna).await, 1);
}

//! Whole conversations: letter, improvements on the latest version, feedback, another variant,
//! quota reached and the upsell; state surviving an engine restart; repeated and stale events.

use bot::Signal;

use crate::support::*;

#[tokio::test]
async fn a_whole_conversation_from_start_to_the_upsell() {
    let h = Harness::new().await;
    let engine = h.engine();
    let anna = User::new(5001);

    let r = send(&engine, anna.text("/start")).await;
    assert!(r.text().contains("Привет, Анна!"), "{}", r.text());
    assert!(
        r.text().contains("Шаг 1 из 2") && r.text().contains("3/3"),
        "{}",
        r.text()
    );

    let r = send(&engine, anna.text(VACANCY)).await;
    assert!(
        r.text().contains("Шаг 2 из 2") && r.text().contains("/privacy"),
        "{}",
        r.text()
    );

    let r = send(&engine, anna.text(RESUME)).await;
    assert!(r.signals.contains(&Signal::GenerationStarted));
    let letter = r
        .messages
        .iter()
        .find(|m| m.letter)
        .expect("a letter message");
    assert!(letter.html.contains("письмо номер 1"), "{}", letter.html);
    // Model text is escaped for Telegram HTML.
    assert!(
        letter.html.contains("R&amp;D-задачи &lt;без&gt; страха"),
        "{}",
        letter.html
    );
    assert!(r.text().contains("2/3"), "{}", r.text());
    assert!(
        has_button(&r, "Нравится")
            && has_button(&r, "Улучшить (2)")
            && has_button(&r, "Ещё вариант")
    );
    assert_eq!(h.letters_used(&anna).await, 1);
    assert_eq!(h.scalar_i64("SELECT count(*) FROM users WHERE consent_given_at IS NOT NULL AND consent_version IS NOT NULL").await, 1);
    let prompt = &h.llm.prompts()[0];
    assert!(prompt.contains("уверенное знание PostgreSQL") && prompt.contains("ООО «Ромашка»"));

    // First improvement: built on letter 1.
    h.advance(2);
    let r = send(&engine, anna.press(&button(&r, "Улучшить"))).await;
    assert!(
        r.text().contains("Осталось улучшений: <b>2</b>"),
        "{}",
        r.text()
    );
    let r = send(&engine, anna.text("Сделай короче и добавь про Kubernetes")).await;
    assert!(
        r.text().contains("письмо номер 2") && r.text().contains("Осталось улучшений: <b>1</b>"),
        "{}",
        r.text()
    );
    let p = &h.llm.prompts()[1];
    assert!(
        p.contains("письмо номер 1") && p.contains("Сделай короче и добавь про Kubernetes"),
        "{p}"
    );

    // Second improvement: built on the latest version (letter 2), not the first letter.
    h.advance(2);
    let r = send(&engine, anna.press(&button(&r, "Улучшить"))).await;
    assert!(
        r.text().contains("Осталось улучшений: <b>1</b>"),
        "{}",
        r.text()
    );
    let r = send(&engine, anna.text("Более официальный тон")).await;
    let p = &h.llm.prompts()[2];
    assert!(
        p.contains("письмо номер 2") && !p.contains("письмо номер 1"),
        "{p}"
    );
    assert!(
        r.text().contains("Осталось улучшений: <b>0</b>"),
        "{}",
        r.text()
    );
    assert!(
        !has_button(&r, "Улучшить"),
        "free plans get two improvements"
    );
    let iterations: Vec<(i32, String)> =
        sqlx::query_as("SELECT iteration_number, improvement_request FROM letter_iterations ORDER BY iteration_number")
            .fetch_all(&h.pool)
            .await
            .unwrap();
    assert_eq!(
        iterations,
        vec![
            (1, "Сделай короче и добавь про Kubernetes".into()),
            (2, "Более официальный тон".into())
        ]
    );
    assert_eq!(
        h.letters_used(&anna).await,
        1,
        "improvements do not use quota"
    );

    // Feedback on the latest version; a second press changes it.
    let r2 = send(&engine, anna.press(&button(&r, "Нравится"))).await;
    assert!(r2.button_answer.unwrap().contains("Спасибо"));
    send(&engine, anna.press(&button(&r, "Не то"))).await;
    let fb: Vec<(i32, String)> =
        sqlx::query_as("SELECT iteration_number, feedback_type FROM letter_feedback")
            .fetch_all(&h.pool)
            .await
            .unwrap();
    assert_eq!(fb, vec![(2, "dislike".to_string())]);

    // Another variant: a new session from the same inputs, counted against the quota.
    h.advance(6);
    let r = send(&engine, anna.press(&button(&r, "Ещё вариант"))).await;
    assert!(
        r.text().contains("письмо номер 4") && r.text().contains("1/3"),
        "{}",
        r.text()
    );
    assert_eq!(h.letters_used(&anna).await, 2);
    let p = &h.llm.prompts()[3];
    assert!(p.contains("уверенное знание PostgreSQL") && p.contains("ООО «Ромашка»"));
    h.advance(2);
    let r = send(&engine, anna.press(&button(&r, "Ещё вариант"))).await;
    assert!(r.text().contains("0/3"), "{}", r.text());

    // Quota reached: the upsell, no call to the model.
    h.advance(2);
    let before = h.llm.requests();
    let r = send(&engine, anna.press(&button(&r, "Ещё вариант"))).await;
    assert!(
        r.text().contains("Лимит исчерпан") && r.text().contains("Premium"),
        "{}",
        r.text()
    );
    assert!(has_button(&r, "Купить Premium"));
    assert_eq!(h.llm.requests(), before);
    assert_eq!(h.letters_used(&anna).await, 3);
    let events: Vec<String> = sqlx::query_scalar("SELECT event_type FROM user_events ORDER BY id")
        .fetch_all(&h.pool)
        .await
        .unwrap();
    for expected in [
        "start",
        "vacancy_sent",
        "resume_sent",
        "letter_generated",
        "letter_improved",
        "feedback_given",
        "limit_reached",
        "premium_offer_shown",
    ] {
        assert!(
            events.iter().any(|e| e == expected),
            "{expected} missing from {events:?}"
        );
    }
    assert_eq!(
        events.iter().filter(|e| *e == "letter_generated").count(),
        3
    );
    let sessions: Vec<(String, Option<f64>)> = sqlx::query_as(
        "SELECT status, generation_time_seconds FROM letter_sessions ORDER BY created_at",
    )
    .fetch_all(&h.pool)
    .await
    .unwrap();
    assert_eq!(sessions.len(), 3);
    assert!(
        sessions
            .iter()
            .all(|(s, secs)| s == "completed" && secs.is_some_and(|v| v > 0.0 && v < 10.0)),
        "{sessions:?}"
    );
}

#[tokio::test]
async fn a_new_engine_continues_the_conversation_where_the_old_one_stopped() {
    let h = Harness::new().await;
    let anna = User::new(5002);
    {
        let first = h.engine();
        send(&first, anna.text("/start")).await;
        send(&first, anna.text(VACANCY)).await;
    }
    let second = h.engine();
    let r = send(&second, anna.text(RESUME)).await;
    assert!(r.messages.iter().any(|m| m.letter), "{}", r.text());
    assert!(h.llm.prompts()[0].contains("уверенное знание PostgreSQL"));
}

#[tokio::test]
async fn a_repeated_event_id_is_a_no_op() {
    let h = Harness::new().await;
    let engine = h.engine();
    let anna = User::new(5003);
    send(&engine, anna.text("/start")).await;
    let vacancy = anna.text(VACANCY);
    let first = send(&engine, vacancy.clone()).await;
    assert!(first.text().contains("Шаг 2 из 2"));
    let again = send(&engine, vacancy).await;
    assert!(again.messages.is_empty());
    assert_eq!(
        h.scalar_i64("SELECT count(*) FROM letter_sessions").await,
        1
    );
    assert_eq!(
        h.scalar_i64("SELECT count(*) FROM user_events WHERE event_type = 'vacancy_sent'")
            .await,
        1
    );
    // The conversation still waits for the resume.
    let r = send(&engine, anna.text(RESUME)).await;
    assert!(r.messages.iter().any(|m| m.letter));
}

#[tokio::test]
async fn a_button_of_a_closed_letter_gets_a_polite_answer() {
    let h = Harness::new().await;
    let engine = h.engine();
    let anna = User::new(5004);
    let r = first_letter(&engine, &anna).await;
    let old_like = button(&r, "Нравится");
    let old_variant = button(&r, "Ещё вариант");
    send(&engine, anna.text("/new")).await;
    for data in [
        old_like,
        old_variant,
        "feedback_like_123_0".to_string(),
        "imp:zzz".to_string(),
    ] {
        let r = send(&engine, anna.press(&data)).await;
        assert!(
            r.button_answer.as_deref().unwrap_or("").contains("закрыто"),
            "{data}: {r:?}"
        );
    }
    assert_eq!(
        h.scalar_i64("SELECT count(*) FROM letter_feedback").await,
        0
    );
    assert_eq!(h.llm.requests(), 1);
}

#[tokio::test]
async fn cancel_ends_the_letter_and_new_starts_one() {
    let h = Harness::new().await;
    let engine = h.engine();
    let anna = User::new(5005);
    send(&engine, anna.text("/start")).await;
    send(&engine, anna.text(VACANCY)).await;
    let r = send(&engine, anna.text("/cancel")).await;
    assert!(r.text().contains("отменено"), "{}", r.text());
    let status: String = sqlx::query_scalar("SELECT status FROM letter_sessions")
        .fetch_one(&h.pool)
        .await
        .unwrap();
    assert_eq!(status, "abandoned");
    // Out of turn now: a resume is not expected.
    let r = send(&engine, anna.text(RESUME)).await;
    assert!(r.text().contains("/new"), "{}", r.text());
    let r = send(&engine, anna.text("/new")).await;
    assert!(r.text().contains("Шаг 1 из 2"));
}

#[tokio::test]
async fn english_speakers_get_english_texts() {
    let h = Harness::new().await;
    let engine = h.engine();
    let ann = User::english(5006);
    let r = send(&engine, ann.text("/start")).await;
    assert!(
        r.text().contains("Step 1 of 2") && r.text().contains("Letters left this month"),
        "{}",
        r.text()
    );
    let r = send(&engine, ann.text("/help")).await;
    assert!(r.text().contains("/delete_me"));
}

#[tokio::test]
async fn the_sixth_command_in_a_minute_is_refused_except_for_admins() {
    let mut config = bot::Config::default();
    config
        .admins
        .push(domain::TelegramUserId::parse(5008).unwrap());
    let h = Harness::with_config(config).await;
    let engine = h.engine();
    let anna = User::new(5007);
    for _ in 0..5 {
        assert!(!send(&engine, anna.text("/help"))
            .await
            .text()
            .contains("Слишком много"));
    }
    let r = send(&engine, anna.text("/help")).await;
    assert!(
        r.text().contains("Слишком много команд") && r.text().contains("сек"),
        "{}",
        r.text()
    );
    h.advance(1);
    assert!(!send(&engine, anna.text("/help"))
        .await
        .text()
        .contains("Слишком много"));
    let admin = User::new(5008);
    for _ in 0..8 {
        assert!(!send(&engine, admin.text("/about"))
            .await
            .text()
            .contains("Слишком много"));
    }
}

#[tokio::test]
async fn a_fourth_generation_within_five_minutes_waits() {
    let h = Harness::new().await;
    let engine = h.engine();
    let anna = User::new(5009);
    let r = first_letter(&engine, &anna).await;
    let r = send(&engine, anna.press(&button(&r, "Ещё вариант"))).await;
    let r = send(&engine, anna.press(&button(&r, "Ещё вариант"))).await;
    let r = send(&engine, anna.press(&button(&r, "Ещё вариант"))).await;
    assert!(r.text().contains("Слишком много генераций"), "{}", r.text());
    assert!(r.text().contains("не больше 3 за 5 минут"), "{}", r.text());
    assert_eq!(h.llm.requests(), 3);
    assert_eq!(h.letters_used(&anna).await, 3);
}

#[tokio::test]
async fn the_generation_limit_set_by_rate_limit_generations_is_the_one_applied_and_named() {
    let config = bot::Config::from_lookup(|name| match name {
        "RATE_LIMIT_GENERATIONS" => Some("4".into()),
        "FREE_LETTERS_PER_MONTH" => Some("10".into()),
        _ => None,
    })
    .unwrap();
    let h = Harness::with_config(config).await;
    let engine = h.engine();
    let anna = User::new(5010);
    let mut r = first_letter(&engine, &anna).await;
    for _ in 0..3 {
        r = send(&engine, anna.press(&button(&r, "Ещё вариант"))).await;
        assert!(!r.text().contains("Слишком много"), "{}", r.text());
    }
    let r = send(&engine, anna.press(&button(&r, "Ещё вариант"))).await;
    assert!(r.text().contains("не больше 4 за 5 минут"), "{}", r.text());
    assert_eq!(h.llm.requests(), 4);
    assert_eq!(h.letters_used(&anna).await, 4);
}

#[tokio::test]
async fn delete_me_erases_letters_after_confirmation() {
    let h = Harness::new().await;
    let engine = h.engine();
    let anna = User::new(5010);
    first_letter(&engine, &anna).await;
    let r = send(&engine, anna.text("/delete_me")).await;
    let keep = send(&engine, anna.press(&button(&r, "Отмена"))).await;
    assert!(keep.text().contains("Ничего не удалено"));
    assert_eq!(
        h.scalar_i64("SELECT count(*) FROM letter_sessions").await,
        1
    );
    let r = send(&engine, anna.text("/delete_me")).await;
    let done = send(&engine, anna.press(&button(&r, "Да, удалить"))).await;
    assert!(done.text().contains("удалено писем — 1"), "{}", done.text());
    assert_eq!(
        h.scalar_i64("SELECT count(*) FROM letter_sessions").await,
        0
    );
    assert_eq!(
        h.scalar_i64("SELECT count(*) FROM users WHERE first_name IS NULL AND username IS NULL")
            .await,
        1
    );
    assert_eq!(
        h.scalar_i64("SELECT count(*) FROM user_events WHERE event_type = 'data_deleted'")
            .await,
        1
    );
    // openai_requests rows stay, keyed by ids only.
    assert_eq!(
        h.scalar_i64("SELECT count(*) FROM openai_requests WHERE session_id IS NULL")
            .await,
        1
    );
}

#[tokio::test]
async fn the_start_payload_is_stored_on_first_touch_only() {
    let h = Harness::new().await;
    let engine = h.engine();
    let referrer = User::new(5011);
    send(&engine, referrer.text("/start")).await;
    let anna = User::new(5012);
    send(&engine, anna.text("/start vk-cpc-spring_sale")).await;
    send(&engine, anna.text("/start ref_5011")).await;
    type Row = (Option<String>, Option<String>, Option<String>, Option<i64>);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT utm_source, utm_medium, utm_campaign, referral_user_id FROM acquisition_channels",
    )
    .fetch_all(&h.pool)
    .await
    .unwrap();
    assert_eq!(
        rows,
        vec![(
            Some("vk".into()),
            Some("cpc".into()),
            Some("spring_sale".into()),
            None
        )]
    );

    let bob = User::new(5013);
    send(&engine, bob.text("/start ref_5011")).await;
    let ref_id: Option<i64> = sqlx::query_scalar(
        "SELECT a.referral_user_id FROM acquisition_channels a JOIN users u ON u.id = a.user_id WHERE u.telegram_user_id = 5013",
    )
    .fetch_one(&h.pool)
    .await
    .unwrap();
    let referrer_id: i64 = sqlx::query_scalar("SELECT id FROM users WHERE telegram_user_id = 5011")
        .fetch_one(&h.pool)
        .await
        .unwrap();
    assert_eq!(ref_id, Some(referrer_id));

    // Unknown referrer: stored as null. Malformed payload: greeting anyway, nothing stored.
    let carl = User::new(5014);
    let r = send(&engine, carl.text("/start ref_99999")).await;
    assert!(r.text().contains("Шаг 1 из 2"));
    let dina = User::new(5015);
    let odd = "ы!".repeat(32);
    let r = send(&engine, dina.text(&format!("/start {odd}"))).await;
    assert!(r.text().contains("Шаг 1 из 2"));
    assert_eq!(
        h.scalar_i64("SELECT count(*) FROM acquisition_channels")
            .await,
        3
    );
    assert_eq!(
        h.scalar_i64("SELECT count(*) FROM acquisition_channels WHERE telegram_start_param = 'ref_99999' AND referral_user_id IS NULL").await,
        1
    );
}

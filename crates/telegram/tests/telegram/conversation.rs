//! A whole conversation through Telegram: from a utm link to a liked, improved letter, with
//! the rows it leaves keyed by the internal user id, and "typing…" during generations.

use crate::support::harness::{World, RESUME, VACANCY};
use crate::support::{button, message_containing, sent_to};
use testkit::doubles::bot_api::TgUser;

/// Far from any internal id the database hands out in a test.
const TG_ID: i64 = 987_654_321;

#[tokio::test]
async fn a_conversation_from_a_utm_link_to_a_liked_improvement_is_stored_under_the_internal_user_id(
) {
    let w = World::new().await;
    let bot = w.start_polling(w.config()).await;
    let anna = TgUser::new(TG_ID);

    w.api.push(anna.text("/start vk-cpc-spring_sale"));
    let greeting = message_containing(&w.api, TG_ID, 0, "Шаг 1 из 2").await;
    assert!(greeting.text().contains("3/3"), "{}", greeting.text());
    assert_eq!(greeting.str("parse_mode"), Some("HTML"));

    w.api.push(anna.text(VACANCY));
    let ask_resume = message_containing(&w.api, TG_ID, 1, "Шаг 2 из 2").await;
    assert!(
        ask_resume.text().contains("/privacy"),
        "the first resume request carries the consent notice"
    );

    w.api.push(anna.text(RESUME));
    let letter = message_containing(&w.api, TG_ID, 2, "Версия письма номер 1").await;
    let like_first = button(&letter, "fb:l:");
    let improve = button(&letter, "imp:");
    assert!(button(&letter, "var:").len() <= 64 && improve.len() <= 64 && like_first.len() <= 64);
    // "typing…" was shown while the letter was being written: after the resume, before the letter.
    let calls = w.api.calls();
    let typing_at = calls
        .iter()
        .position(|c| c.method == "sendChatAction" && c.str("action") == Some("typing"));
    let letter_at = calls
        .iter()
        .position(|c| c.method == "sendMessage" && c.text().contains("Версия письма номер 1"));
    assert!(
        typing_at.is_some() && typing_at < letter_at,
        "typing must precede the letter"
    );

    w.api.push(anna.press(&improve, 10));
    let ask = message_containing(&w.api, TG_ID, 3, "Что изменить").await;
    assert!(
        ask.text().contains("Осталось улучшений: <b>2</b>"),
        "{}",
        ask.text()
    );
    w.api
        .push(anna.text("Сделай короче и добавь про дежурства"));
    let improved = message_containing(&w.api, TG_ID, 4, "Версия письма номер 2").await;
    // The model saw the latest version and the request.
    let prompt = w.llm.user_message(1);
    assert!(
        prompt.contains("Версия письма номер 1") && prompt.contains("добавь про дежурства"),
        "{prompt}"
    );

    w.api.push(anna.press(&button(&improved, "fb:l:"), 11));
    w.api
        .wait_until("the like answered", |c| {
            c.iter()
                .filter(|c| c.method == "answerCallbackQuery")
                .count()
                >= 2
        })
        .await;

    w.api.push(anna.text("/subscription"));
    let sub = message_containing(&w.api, TG_ID, 5, "2/3").await;
    assert!(!sub.text().is_empty());
    w.api.wait_all_confirmed().await;
    bot.stop().await;

    // Every button press was answered.
    let presses = 2;
    assert_eq!(w.api.calls_of("answerCallbackQuery").len(), presses);

    let uid = w.user_id(TG_ID).await;
    assert_ne!(uid, TG_ID);
    let acq: (i64, Option<String>, Option<String>, Option<String>, Option<String>) = sqlx::query_as(
        "SELECT user_id, utm_source, utm_medium, utm_campaign, telegram_start_param FROM acquisition_channels",
    )
    .fetch_one(&w.pool)
    .await
    .unwrap();
    assert_eq!(
        acq,
        (
            uid,
            Some("vk".into()),
            Some("cpc".into()),
            Some("spring_sale".into()),
            Some("vk-cpc-spring_sale".into())
        )
    );
    let session: (i64, String, String, String) =
        sqlx::query_as("SELECT user_id, status, job_description, resume_text FROM letter_sessions")
            .fetch_one(&w.pool)
            .await
            .unwrap();
    assert_eq!((session.0, session.1.as_str()), (uid, "completed"));
    assert_eq!((session.2.as_str(), session.3.as_str()), (VACANCY, RESUME));
    let iteration: (i64, i32, String) = sqlx::query_as(
        "SELECT user_id, iteration_number, improvement_request FROM letter_iterations",
    )
    .fetch_one(&w.pool)
    .await
    .unwrap();
    assert_eq!(
        iteration,
        (uid, 1, "Сделай короче и добавь про дежурства".to_string())
    );
    let feedback: Vec<(i64, i32, String)> =
        sqlx::query_as("SELECT user_id, iteration_number, feedback_type FROM letter_feedback")
            .fetch_all(&w.pool)
            .await
            .unwrap();
    assert_eq!(feedback, vec![(uid, 1, "like".to_string())]);
    let requests: Vec<(Option<i64>, String, bool)> =
        sqlx::query_as("SELECT user_id, request_type, success FROM openai_requests ORDER BY id")
            .fetch_all(&w.pool)
            .await
            .unwrap();
    assert_eq!(
        requests,
        vec![
            (Some(uid), "letter_generation".to_string(), true),
            (Some(uid), "letter_improvement".to_string(), true)
        ]
    );
    let events: Vec<(Option<i64>, String)> =
        sqlx::query_as("SELECT user_id, event_type FROM user_events ORDER BY id")
            .fetch_all(&w.pool)
            .await
            .unwrap();
    let kinds: Vec<&str> = events.iter().map(|(_, k)| k.as_str()).collect();
    for expected in [
        "start",
        "vacancy_sent",
        "resume_sent",
        "letter_generated",
        "letter_improved",
        "feedback_given",
    ] {
        assert!(
            kinds.contains(&expected),
            "no {expected} event in {kinds:?}"
        );
    }
    assert!(
        events.iter().all(|(u, _)| *u == Some(uid)),
        "every event is keyed by the internal id: {events:?}"
    );
    assert_eq!(
        w.scalar("SELECT count(*) FROM users WHERE consent_given_at IS NOT NULL")
            .await,
        1
    );
    // Nothing anywhere points at the Telegram id as if it were a user id.
    let misuse = format!(
        "SELECT (SELECT count(*) FROM letter_sessions WHERE user_id = {TG_ID}) + (SELECT count(*) FROM user_events WHERE user_id = {TG_ID})
              + (SELECT count(*) FROM openai_requests WHERE user_id = {TG_ID}) + (SELECT count(*) FROM acquisition_channels WHERE user_id = {TG_ID})"
    );
    assert_eq!(w.scalar(&misuse).await, 0);
    assert_eq!(
        sent_to(&w.api.calls(), TG_ID)
            .iter()
            .filter(|m| m.text().contains("Версия письма номер"))
            .count(),
        2
    );
}

#[tokio::test]
async fn the_command_menu_is_registered_in_russian_and_english() {
    let w = World::new().await;
    let bot = w.start_polling(w.config()).await;
    let calls = w
        .api
        .wait_until("three setMyCommands", |c| {
            c.iter().filter(|c| c.method == "setMyCommands").count() >= 3
        })
        .await;
    bot.stop().await;
    let menus: Vec<_> = calls
        .iter()
        .filter(|c| c.method == "setMyCommands")
        .collect();
    let lang = |c: &&testkit::doubles::bot_api::Call| c.str("language_code").map(str::to_string);
    assert!(menus.iter().any(|c| lang(c).as_deref() == Some("ru")));
    let en = menus
        .iter()
        .find(|c| lang(c).as_deref() == Some("en"))
        .expect("an English menu");
    let commands = en.body["commands"].as_array().unwrap();
    let names: Vec<&str> = commands
        .iter()
        .filter_map(|c| c["command"].as_str())
        .collect();
    for c in [
        "start",
        "new",
        "cancel",
        "help",
        "premium",
        "subscription",
        "privacy",
        "terms",
        "delete_me",
    ] {
        assert!(names.contains(&c), "{c} missing from {names:?}");
    }
    assert!(commands.iter().any(|c| c["description"] == "A new letter"));
}

#[tokio::test]
async fn privacy_and_terms_say_what_is_stored_and_how_to_erase_it_in_the_users_language() {
    let w = World::new().await;
    let bot = w.start_polling(w.config()).await;
    let ru = TgUser::new(111_222_001);
    let mut en = TgUser::new(111_222_002);
    en.language_code = "en".into();
    w.api.push(ru.text("/privacy"));
    w.api.push(ru.text("/terms"));
    w.api.push(en.text("/privacy"));
    let privacy = message_containing(&w.api, 111_222_001, 0, "/delete_me").await;
    assert!(privacy.text().contains("резюме"), "{}", privacy.text());
    message_containing(&w.api, 111_222_001, 0, "Telegram Stars").await;
    let english = message_containing(&w.api, 111_222_002, 0, "/delete_me").await;
    assert!(
        english.text().contains("What is stored"),
        "{}",
        english.text()
    );
    bot.stop().await;
}

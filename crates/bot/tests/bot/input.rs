//! Bad input gets the hint of what the bot expects now, and nothing of it is stored.

use bot::{EventKind, Media};

use crate::support::*;

async fn at_vacancy_step(h: &Harness, user: &User) -> bot::Engine {
    let engine = h.engine();
    send(&engine, user.text("/start")).await;
    engine
}

#[tokio::test]
async fn a_too_short_or_too_long_vacancy_is_refused_and_not_stored() {
    let h = Harness::new().await;
    let anna = User::new(8001);
    let engine = at_vacancy_step(&h, &anna).await;
    let r = send(&engine, anna.text("Нужен программист")).await;
    assert!(
        r.text().contains("Слишком коротко")
            && r.text().contains("17 символов")
            && r.text().contains("100"),
        "{}",
        r.text()
    );
    let r = send(&engine, anna.text(&"в".repeat(10_001))).await;
    assert!(
        r.text().contains("Слишком длинно") && r.text().contains("10000"),
        "{}",
        r.text()
    );
    assert_eq!(
        h.scalar_i64("SELECT count(*) FROM letter_sessions").await,
        0
    );
    // Still at step 1: a good vacancy is taken.
    assert!(send(&engine, anna.text(VACANCY))
        .await
        .text()
        .contains("Шаг 2 из 2"));
}

#[tokio::test]
async fn text_over_50_kilobytes_is_refused_with_a_clear_message() {
    let h = Harness::new().await;
    let anna = User::new(8002);
    let engine = at_vacancy_step(&h, &anna).await;
    let r = send(&engine, anna.text(&"Ю".repeat(26_000))).await;
    assert!(r.text().contains("50 КБ"), "{}", r.text());
    send(&engine, anna.text(VACANCY)).await;
    let r = send(&engine, anna.text(&"Я".repeat(30_000))).await;
    assert!(r.text().contains("50 КБ"), "{}", r.text());
    assert_eq!(
        h.scalar_i64("SELECT count(*) FROM letter_sessions WHERE resume_text IS NOT NULL")
            .await,
        0
    );
    assert_eq!(h.llm.requests(), 0);
}

#[tokio::test]
async fn a_link_to_a_file_host_asks_for_the_text() {
    let h = Harness::new().await;
    let anna = User::new(8003);
    let engine = at_vacancy_step(&h, &anna).await;
    for link in [
        "https://docs.google.com/document/d/1abc/edit",
        "https://disk.yandex.ru/i/xyz",
        "https://cloud.mail.ru/public/a/b",
    ] {
        let r = send(&engine, anna.text(&format!("Вакансия по ссылке {link} — посмотрите, пожалуйста, там всё подробно описано, спасибо!!!"))).await;
        assert!(
            r.text().contains("Скопируйте текст"),
            "{link}: {}",
            r.text()
        );
    }
    assert_eq!(
        h.scalar_i64("SELECT count(*) FROM letter_sessions").await,
        0
    );
}

#[tokio::test]
async fn photos_stickers_and_voice_get_the_hint_of_the_current_step() {
    let h = Harness::new().await;
    let anna = User::new(8004);
    let engine = at_vacancy_step(&h, &anna).await;
    let r = send(&engine, anna.media(Media::Photo)).await;
    assert!(r.text().contains("только текст"), "{}", r.text());
    send(&engine, anna.text(VACANCY)).await;
    for m in [Media::Sticker, Media::Voice, Media::Document] {
        let r = send(&engine, anna.media(m)).await;
        assert!(
            r.text().contains(".txt, .pdf или .docx"),
            "{m:?}: {}",
            r.text()
        );
    }
    let r = send(&engine, anna.text("короткое резюме")).await;
    assert!(
        r.text().contains("Слишком коротко для резюме"),
        "{}",
        r.text()
    );
    assert_eq!(
        h.scalar_i64("SELECT count(*) FROM letter_sessions WHERE resume_text IS NOT NULL")
            .await,
        0
    );
    // A document's extracted text is taken as the resume.
    let r = send(
        &engine,
        anna.event(EventKind::Document {
            file_name: "cv.pdf".into(),
            text: RESUME.into(),
        }),
    )
    .await;
    assert!(r.messages.iter().any(|m| m.letter), "{}", r.text());
    let doc: bool = sqlx::query_scalar("SELECT (event_data->>'document')::boolean FROM user_events WHERE event_type = 'resume_sent'")
        .fetch_one(&h.pool)
        .await
        .unwrap();
    assert!(doc);
}

#[tokio::test]
async fn text_out_of_turn_gets_a_hint() {
    let h = Harness::new().await;
    let engine = h.engine();
    let anna = User::new(8005);
    let r = send(&engine, anna.text(VACANCY)).await;
    assert!(r.text().contains("/new"), "idle: {}", r.text());
    assert_eq!(
        h.scalar_i64("SELECT count(*) FROM letter_sessions").await,
        0
    );
    first_letter(&engine, &anna).await;
    let r = send(&engine, anna.text("а можно ещё?")).await;
    assert!(r.text().contains("кнопки под письмом"), "{}", r.text());
    let r = send(&engine, anna.text("/unknown")).await;
    assert!(r.text().contains("/help"), "{}", r.text());
}

//! The traps a new user fell into: the quota said too late, an emoji "vacancy", a vacancy with a
//! test-task link, 👎 pointing to spent improvements, a stale "Да, удалить", Russian plurals.

use crate::support::*;

async fn use_up_quota(h: &Harness, user: &User) {
    sqlx::query(
        "UPDATE subscriptions SET letters_used = letters_limit
         WHERE status = 'active' AND user_id = (SELECT id FROM users WHERE telegram_user_id = $1)",
    )
    .bind(user.tg.get())
    .execute(&h.pool)
    .await
    .unwrap();
}

#[tokio::test]
async fn with_no_letters_left_start_and_new_say_so_before_asking_for_any_text() {
    let h = Harness::new().await;
    let engine = h.engine();
    let olga = User::new(7201);
    send(&engine, olga.text("/start")).await;
    use_up_quota(&h, &olga).await;
    for command in ["/new", "/start"] {
        let r = send(&engine, olga.text(command)).await;
        assert!(
            r.text().contains("Лимит исчерпан") && !r.text().contains("Шаг 1 из 2"),
            "{command}: {}",
            r.text()
        );
        assert!(has_button(&r, "Купить Premium"), "{}", r.text());
    }
    // A vacancy sent anyway is not taken as step 1.
    let r = send(&engine, olga.text(VACANCY)).await;
    assert!(!r.text().contains("Шаг 2 из 2"), "{}", r.text());
    assert_eq!(
        h.scalar_i64("SELECT count(*) FROM letter_sessions").await,
        0
    );
}

#[tokio::test]
async fn new_shows_the_letters_left_with_the_first_step() {
    let h = Harness::new().await;
    let engine = h.engine();
    let olga = User::new(7202);
    send(&engine, olga.text("/start")).await;
    let r = send(&engine, olga.text("/new")).await;
    assert!(
        r.text().contains("3/3") && r.text().contains("Шаг 1 из 2"),
        "{}",
        r.text()
    );
}

#[tokio::test]
async fn an_emoji_only_vacancy_is_refused_and_a_full_one_with_a_docs_link_is_accepted() {
    let h = Harness::new().await;
    let engine = h.engine();
    let olga = User::new(7203);
    send(&engine, olga.text("/start")).await;
    let r = send(&engine, olga.text(&"🔥🚀💼✨".repeat(40))).await;
    assert!(
        r.text().contains("эмодзи и символы не в счёт") && !r.text().contains("Шаг 2 из 2"),
        "{}",
        r.text()
    );
    let with_link = format!("{VACANCY}\n\nТестовое задание: https://docs.google.com/document/d/1AbCdEf/edit — пришлите решение с откликом.");
    let r = send(&engine, olga.text(&with_link)).await;
    assert!(r.text().contains("Шаг 2 из 2"), "{}", r.text());
    let bare = send(&engine, olga.text("/new")).await;
    assert!(bare.text().contains("Шаг 1 из 2"));
    let r = send(
        &engine,
        olga.text("Вакансия вот тут, посмотрите: https://docs.google.com/document/d/1AbCdEfGhIjKlMnOpQrStUvWxYz0123456789/edit?usp=sharing"),
    )
    .await;
    assert!(r.text().contains("Google Docs"), "{}", r.text());
}

#[tokio::test]
async fn a_too_short_vacancy_is_counted_with_the_right_russian_plural() {
    let h = Harness::new().await;
    let engine = h.engine();
    let olga = User::new(7204);
    send(&engine, olga.text("/start")).await;
    let r = send(&engine, olga.text(&"в".repeat(54))).await;
    assert!(r.text().contains("54 символа,"), "{}", r.text());
    let r = send(&engine, olga.text(&"а".repeat(21))).await;
    assert!(r.text().contains("21 символ,"), "{}", r.text());
}

#[tokio::test]
async fn a_dislike_with_no_improvements_left_does_not_point_to_improve() {
    let h = Harness::new().await;
    let engine = h.engine();
    let olga = User::new(7205);
    let r = first_letter(&engine, &olga).await;
    let early = send(&engine, olga.press(&button(&r, "Не то"))).await;
    assert!(
        early
            .button_answer
            .as_deref()
            .unwrap_or("")
            .contains("Улучшить"),
        "{:?}",
        early.button_answer
    );
    sqlx::query("UPDATE letter_sessions SET iterations_used = max_iterations")
        .execute(&h.pool)
        .await
        .unwrap();
    let late = send(&engine, olga.press(&button(&r, "Не то"))).await;
    let answer = late.button_answer.unwrap_or_default();
    assert!(
        !answer.contains("Улучшить") && answer.contains("другой вариант"),
        "{answer}"
    );
}

#[tokio::test]
async fn a_stale_delete_confirmation_pressed_after_new_deletes_nothing() {
    let h = Harness::new().await;
    let engine = h.engine();
    let olga = User::new(7206);
    first_letter(&engine, &olga).await;
    let confirm = send(&engine, olga.text("/delete_me")).await;
    let yes = button(&confirm, "Да, удалить");
    send(&engine, olga.text("/new")).await;
    send(&engine, olga.text(VACANCY)).await;
    let r = send(&engine, olga.press(&yes)).await;
    assert!(r.text().contains("устарел"), "{}", r.text());
    assert_eq!(
        h.scalar_i64("SELECT count(*) FROM letter_sessions").await,
        2
    );

    // Asked again and confirmed at once: one letter and one vacancy without a letter are erased,
    // and the count said is the letters.
    let confirm = send(&engine, olga.text("/delete_me")).await;
    let r = send(&engine, olga.press(&button(&confirm, "Да, удалить"))).await;
    assert!(r.text().contains("удалено писем — 1,"), "{}", r.text());
    assert_eq!(
        h.scalar_i64("SELECT count(*) FROM letter_sessions").await,
        0
    );
}

#[tokio::test]
async fn a_vacancy_with_a_nul_byte_gets_a_clear_answer_not_an_outage() {
    let h = Harness::new().await;
    let engine = h.engine();
    let olga = User::new(7207);
    send(&engine, olga.text("/start")).await;
    let r = send(&engine, olga.text(&format!("{VACANCY}\0"))).await;
    assert!(
        r.text().contains("нулевой байт") && !r.text().contains("недоступен"),
        "{}",
        r.text()
    );
    // Still at step 1: the clean vacancy is accepted.
    let r = send(&engine, olga.text(VACANCY)).await;
    assert!(r.text().contains("Шаг 2 из 2"), "{}", r.text());
}

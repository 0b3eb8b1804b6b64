//! The conversation with the offline composer: every variant differs from the letters before it
//! and one that cannot is not charged; an improvement it cannot apply is said so for free.

use crate::support::*;

fn letter_html(r: &bot::Replies) -> String {
    r.messages
        .iter()
        .find(|m| m.letter)
        .map(|m| m.html.clone())
        .unwrap_or_else(|| panic!("no letter in {}", r.text()))
}

#[tokio::test]
async fn offline_variants_differ_from_every_letter_before_them() {
    let h = Harness::new().await;
    let engine = h.offline_engine();
    let ivan = User::new(7101);
    let r = first_letter(&engine, &ivan).await;
    let mut seen = vec![letter_html(&r)];
    let mut last = r;
    for _ in 0..2 {
        h.advance(1);
        last = send(&engine, ivan.press(&button(&last, "Ещё вариант"))).await;
        let text = letter_html(&last);
        assert!(!seen.contains(&text), "a variant repeats a letter: {text}");
        seen.push(text);
    }
    assert_eq!(h.letters_used(&ivan).await, 3);
}

#[tokio::test]
async fn a_variant_the_offline_composer_cannot_make_different_is_not_charged() {
    let h = Harness::new().await;
    let engine = h.offline_engine();
    let ivan = User::new(7102);
    let r = first_letter(&engine, &ivan).await;
    // Every variant the composer could write next is already one of this user's letters.
    for v in 1..12 {
        sqlx::query(
            "INSERT INTO letter_sessions (id, user_id, status, job_description, resume_text, generated_letter, max_iterations, created_at)
             SELECT gen_random_uuid(), id, 'completed', $1, $2, $3, 2, now() FROM users WHERE telegram_user_id = $4",
        )
        .bind(VACANCY)
        .bind(RESUME)
        .bind(llm::offline_compose(VACANCY, RESUME, v))
        .bind(ivan.tg.get())
        .execute(&h.pool)
        .await
        .unwrap();
    }
    let before = h.letters_used(&ivan).await;
    h.advance(1);
    let again = send(&engine, ivan.press(&button(&r, "Ещё вариант"))).await;
    assert!(
        again.text().contains("Письмо не списано") && !again.messages.iter().any(|m| m.letter),
        "{}",
        again.text()
    );
    assert_eq!(h.letters_used(&ivan).await, before);
    // No rate-limit slot was used: two more generations still fit in the 5-minute window.
    send(&engine, ivan.press(&button(&r, "Улучшить"))).await;
    let r = send(&engine, ivan.text("сделай короче")).await;
    assert!(r.messages.iter().any(|m| m.letter), "{}", r.text());
}

#[tokio::test]
async fn an_offline_improvement_it_cannot_apply_uses_neither_an_improvement_nor_a_slot() {
    let h = Harness::new().await;
    let engine = h.offline_engine();
    let ivan = User::new(7103);
    let r = first_letter(&engine, &ivan).await;
    let first = letter_html(&r);
    send(&engine, ivan.press(&button(&r, "Улучшить"))).await;
    let refused = send(&engine, ivan.text("добавь опыт с Kafka")).await;
    assert!(
        refused.text().contains("В резюме нет «Kafka»")
            && !refused.messages.iter().any(|m| m.letter),
        "{}",
        refused.text()
    );
    let iterations = "SELECT count(*) FROM letter_iterations";
    assert_eq!(h.scalar_i64(iterations).await, 0);
    // Still asked for a request: the next one is applied, and it is really shorter.
    let done = send(&engine, ivan.text("сделай короче и проще")).await;
    let shorter = letter_html(&done);
    assert!(
        shorter.split_whitespace().count() < first.split_whitespace().count(),
        "{shorter}"
    );
    assert_eq!(h.scalar_i64(iterations).await, 1);
    assert!(has_button(&done, "Улучшить (1)"), "{}", done.text());
}

//! What users throw at a bot: media, strange buttons, huge texts, odd payloads, documents; and
//! what Telegram throws back: 429s. Every update gets a hint or an answer, nothing crashes,
//! nothing is lost, and the conversation goes on.

use std::time::Duration;

use crate::support::harness::{World, RESUME, VACANCY};
use crate::support::{button, message_containing, sent_to};
use testkit::doubles::bot_api::TgUser;

#[tokio::test]
async fn media_strange_buttons_huge_text_and_odd_payloads_get_hints_and_nothing_is_lost() {
    let w = World::new().await;
    let bot = w.start_polling(w.config()).await;
    let odd = TgUser::new(600_000_001);
    let weird = TgUser::new(600_000_002);

    // A 64-character payload that is well-formed but means nothing, and one that is malformed.
    let payload64 = "-_".repeat(32);
    w.api.push(odd.text(&format!("/start {payload64}")));
    w.api
        .push(weird.text("/start <script>alert(1)</script>&ref=💥"));
    message_containing(&w.api, 600_000_001, 0, "Шаг 1 из 2").await;
    message_containing(&w.api, 600_000_002, 0, "Шаг 1 из 2").await;

    // While the bot waits for a vacancy: a photo, a sticker, a voice message, an unknown button,
    // a button of a letter that does not exist, and 50 KB of text.
    let chat = 600_000_001;
    w.api.push(odd.photo());
    w.api.push(odd.sticker());
    w.api.push(odd.voice());
    w.api.push(odd.press("no-such-button", 1));
    w.api
        .push(odd.press("imp:0123456789abcdef0123456789abcdef", 2));
    w.api.push(odd.press(&"x".repeat(64), 3));
    w.api
        .push(odd.text(&"Очень длинная вакансия. ".repeat(2200)));
    w.api.wait_all_confirmed().await;
    let calls = w
        .api
        .wait_until("three button answers", |c| {
            c.iter()
                .filter(|c| c.method == "answerCallbackQuery")
                .count()
                >= 3
        })
        .await;
    // Every message got a reply (a hint), and the 50 KB text was refused, not stored.
    let replies = w
        .api
        .wait_until("four hints", |c| sent_to(c, chat).len() >= 5)
        .await;
    let hints: Vec<String> = sent_to(&replies, chat)
        .iter()
        .skip(1)
        .map(|c| c.text().to_string())
        .collect();
    assert!(
        hints.iter().take(3).all(|h| h.contains("текст")),
        "media hints: {hints:?}"
    );
    assert_eq!(
        calls
            .iter()
            .filter(|c| c.method == "answerCallbackQuery")
            .count(),
        3
    );
    assert_eq!(
        w.scalar("SELECT count(*) FROM letter_sessions").await,
        0,
        "nothing stored for refused text"
    );

    // And the conversation goes on.
    w.api.push(odd.text(VACANCY));
    message_containing(&w.api, chat, 5, "Шаг 2 из 2").await;
    w.api.push(odd.text(RESUME));
    message_containing(&w.api, chat, 6, "Версия письма номер").await;
    w.api.wait_all_confirmed().await;
    bot.stop().await;

    let acquisition: Vec<(i64, Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT u.telegram_user_id, a.telegram_start_param, a.utm_source FROM acquisition_channels a JOIN users u ON u.id = a.user_id",
    )
    .fetch_all(&w.pool)
    .await
    .unwrap();
    assert_eq!(
        acquisition,
        vec![(600_000_001, Some(payload64), None)],
        "the malformed payload is not stored"
    );
    assert_eq!(w.scalar("SELECT count(*) FROM users").await, 2);
}

#[tokio::test]
async fn a_resume_sent_as_a_docx_file_becomes_the_letter_input() {
    let w = World::new().await;
    let bot = w.start_polling(w.config()).await;
    let u = TgUser::new(610_000_001);
    let lines: Vec<&str> = RESUME.split(". ").collect();
    w.api
        .add_file("resume-docx", "documents/file_7.docx", docx(&lines));
    w.api
        .add_file("virus", "documents/file_8.exe", b"MZ\x90\x00".to_vec());

    w.api.push(u.text("/start"));
    w.api.push(u.text(VACANCY));
    message_containing(&w.api, 610_000_001, 1, "Шаг 2 из 2").await;
    w.api
        .push(u.document("virus", "setup.exe", "application/octet-stream", 4));
    message_containing(&w.api, 610_000_001, 2, ".docx").await;
    w.api.push(u.document(
        "resume-docx",
        "Резюме.docx",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        9000,
    ));
    message_containing(&w.api, 610_000_001, 3, "Версия письма номер").await;
    bot.stop().await;
    // Only the .docx was fetched; the .exe was refused by its type without a download.
    let fetched: Vec<String> = w
        .api
        .calls_of("getFile")
        .iter()
        .filter_map(|c| c.str("file_id").map(str::to_string))
        .collect();
    assert_eq!(fetched, vec!["resume-docx".to_string()]);
    let stored: String = sqlx::query_scalar("SELECT resume_text FROM letter_sessions")
        .fetch_one(&w.pool)
        .await
        .unwrap();
    assert!(
        stored.contains("Перевела обработку платежей") && stored.contains("МГТУ"),
        "{stored}"
    );
    assert!(w.llm.user_message(0).contains("партиционирование"));
}

#[tokio::test]
async fn a_429_from_telegram_is_waited_out_and_the_message_still_arrives() {
    let w = World::new().await;
    let bot = w.start_polling(w.config()).await;
    w.api.throttle("sendMessage", 1, 1);
    w.api.push(TgUser::new(620_000_001).text("/start"));
    message_containing(&w.api, 620_000_001, 0, "Шаг 1 из 2").await;
    bot.stop().await;
    let sends: Vec<_> = w.api.calls_of("sendMessage");
    assert_eq!(sends.len(), 2);
    assert!(sends[0].throttled && !sends[1].throttled);
    assert_eq!(
        sends[0].text(),
        sends[1].text(),
        "the same message is sent again"
    );
    assert!(
        sends[1].at.duration_since(sends[0].at) >= Duration::from_secs(1),
        "retry_after was honoured"
    );
}

#[tokio::test]
async fn a_letter_longer_than_a_telegram_message_is_split_on_paragraphs_with_buttons_on_the_last_part(
) {
    let w = World::new().await;
    let bot = w.start_polling(w.config()).await;
    w.llm.long_letters(8);
    let u = TgUser::new(630_000_001);
    w.api.push(u.text("/start"));
    w.api.push(u.text(VACANCY));
    w.api.push(u.text(RESUME));
    let last = message_containing(&w.api, 630_000_001, 0, "Версия письма номер 1").await;
    bot.stop().await;
    let sent = sent_to(&w.api.calls(), 630_000_001);
    let parts: Vec<_> = sent
        .iter()
        .filter(|c| {
            c.text().contains("Меня заинтересовала") || c.text().contains("Версия письма номер")
        })
        .collect();
    assert!(parts.len() >= 2, "a {}-part letter", parts.len());
    for p in &parts {
        // The fake Bot API refuses a message over 4096 units after entity parsing, as Telegram does.
        assert!(p.text().encode_utf16().count() <= 4096);
        assert!(!p.text().starts_with(' '));
    }
    assert!(
        parts[..parts.len() - 1]
            .iter()
            .all(|p| p.buttons().is_empty()),
        "buttons only under the last part"
    );
    assert!(!button(&last, "fb:l:").is_empty());
}

/// A minimal .docx whose paragraphs are `paragraphs`.
fn docx(paragraphs: &[&str]) -> Vec<u8> {
    use std::io::Write;
    let body: String = paragraphs
        .iter()
        .map(|p| format!("<w:p><w:r><w:t>{p}.</w:t></w:r></w:p>"))
        .collect();
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><w:document xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\"><w:body>{body}</w:body></w:document>"
    );
    let mut buf = std::io::Cursor::new(Vec::new());
    let mut zip = zip::ZipWriter::new(&mut buf);
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    zip.start_file("word/document.xml", opts).unwrap();
    zip.write_all(xml.as_bytes()).unwrap();
    zip.finish().unwrap();
    buf.into_inner()
}

//! Logs never hold resume or vacancy text: a whole conversation (with a failure and refused
//! input) runs under a capturing global subscriber at TRACE level, and the capture is searched for
//! distinctive phrases of the inputs.

use std::io::Write;
use std::sync::{Arc, Mutex};

use tracing_subscriber::fmt::MakeWriter;

use crate::support::*;

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[tokio::test]
async fn a_whole_conversation_leaves_no_user_text_in_the_logs() {
    // The global subscriber, not a thread-scoped one: callsite caching makes scoped subscribers
    // miss events when other tests run in parallel. It also captures the other tests' logs, which
    // must be just as clean.
    let capture = Capture::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(capture.clone())
        .with_ansi(false)
        .finish();
    tracing::subscriber::set_global_default(subscriber)
        .expect("only this test installs a subscriber");

    let h = Harness::new().await;
    let engine = h.engine();
    let anna = User::new(9001);
    let vacancy = format!("{VACANCY}\nПроект Изумрудный-Трамвай-7731 для банка.");
    let resume = format!("{RESUME}\nПочта ivan.petrov.secret@example.org, телефон +7 915 123-45-67, проект Лиловый-Дирижабль-5520.");
    send(&engine, anna.text("/start")).await;
    send(
        &engine,
        anna.text("Короткая вакансия Оранжевый-Пингвин-3390"),
    )
    .await;
    send(&engine, anna.text(&vacancy)).await;
    h.llm.script(vec![Behaviour::Status(429)]);
    let r = send(&engine, anna.text(&resume)).await;
    send(&engine, anna.press(&button(&r, "Улучшить"))).await;
    h.llm.script(vec![Behaviour::Status(500); 4]);
    let failed = send(&engine, anna.text("Упомяни Бирюзовый-Экскаватор-1184")).await;
    send(&engine, anna.press(&button(&failed, "Улучшить"))).await;
    let r = send(&engine, anna.text("Упомяни Бирюзовый-Экскаватор-1184")).await;
    assert!(r.messages.iter().any(|m| m.letter), "{}", r.text());
    send(&engine, anna.press(&button(&r, "Нравится"))).await;

    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("LLM call failed"),
        "the capture works: {}",
        &logs[..logs.len().min(2000)]
    );
    for secret in [
        "Изумрудный-Трамвай",
        "Лиловый-Дирижабль",
        "Оранжевый-Пингвин",
        "Бирюзовый-Экскаватор",
        "ivan.petrov.secret",
        "915 123-45-67",
        "Ромашка",
        "уверенное знание PostgreSQL",
        "письмо номер",
        "sk-test",
    ] {
        assert!(!logs.contains(secret), "{secret} leaked into the logs");
    }
}

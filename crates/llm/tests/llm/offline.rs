//! The offline composer through the public API, as `soprovod chat` without an API key uses it.

use llm::{offline_compose, Settings, Task, Writer};

const VACANCY: &str = "Ищем Python-разработчика в команду платежей. Требования: опыт коммерческой разработки на Python от 3 лет, знание PostgreSQL и умение писать сложные запросы, опыт с Django или FastAPI, понимание Docker и CI/CD. Будет плюсом: опыт в финтехе, Kafka. Задачи: развитие платёжного API, оптимизация запросов, код-ревью.";
const RESUME: &str = "Иван Петров. Python-разработчик, 4 года опыта. 2021–2025: ООО «Ромашка», backend-разработчик: разработал REST API на FastAPI для биллинга (200 rps), оптимизировал запросы PostgreSQL и сократил время отчётов с 40 до 3 секунд, настроил CI/CD в GitLab, контейнеризация в Docker. Навыки: Python, FastAPI, Django, PostgreSQL, Docker.";

fn offline_writer() -> Writer {
    let writer = Writer::from_settings(Settings::from_lookup(|_| None).unwrap());
    assert!(writer.is_offline());
    writer
}

#[tokio::test]
async fn the_offline_writer_turns_an_inline_requirement_list_into_a_letter_backed_by_the_resume() {
    let letter = offline_writer()
        .write(&Task::Letter {
            vacancy: VACANCY,
            resume: RESUME,
            variant: 0,
        })
        .await
        .unwrap();
    assert!(letter.offline && letter.calls.is_empty() && letter.model == "offline-composer");
    let t = &letter.text;
    assert!(t.starts_with("[Офлайн-черновик"), "{t}");
    assert!(
        t.contains("«Python-разработчик»") && !t.contains("Ищем"),
        "{t}"
    );
    assert!(
        t.contains("• знание PostgreSQL и умение писать сложные запросы — оптимизировал запросы PostgreSQL и сократил время отчётов с 40 до 3 секунд"),
        "{t}"
    );
    assert!(
        t.contains(
            "• опыт с Django или FastAPI — разработал REST API на FastAPI для биллинга (200 rps)"
        ),
        "{t}"
    );
    assert!(
        !t.contains("Kafka"),
        "not in the resume, so not claimed: {t}"
    );
    let words = t.split_whitespace().count();
    assert!((120..=300).contains(&words), "{words} words: {t}");
    assert_eq!(offline_compose(VACANCY, RESUME, 0), *t);
}

#[tokio::test]
async fn another_variant_from_the_offline_writer_is_a_different_text() {
    let w = offline_writer();
    let a = w
        .write(&Task::Letter {
            vacancy: VACANCY,
            resume: RESUME,
            variant: 0,
        })
        .await
        .unwrap();
    let b = w
        .write(&Task::Letter {
            vacancy: VACANCY,
            resume: RESUME,
            variant: 2,
        })
        .await
        .unwrap();
    assert_ne!(a.text, b.text);
    assert!(
        b.text.starts_with("[Офлайн-черновик") && b.text.contains("с 40 до 3 секунд"),
        "{}",
        b.text
    );
}

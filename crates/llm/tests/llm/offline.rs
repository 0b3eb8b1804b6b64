//! The offline composer through the public API, as `soprovod chat` without an API key uses it.

use llm::{offline_compose, LlmError, Settings, Task, Unapplied, Writer};

const VACANCY: &str = "Ищем Python-разработчика в команду платежей. Требования: опыт коммерческой разработки на Python от 3 лет, знание PostgreSQL и умение писать сложные запросы, опыт с Django или FastAPI, понимание Docker и CI/CD. Будет плюсом: опыт в финтехе, Kafka. Задачи: развитие платёжного API, оптимизация запросов, код-ревью.";
const RESUME: &str = "Иван Петров. Python-разработчик, 4 года опыта. 2021–2025: ООО «Ромашка», backend-разработчик: разработал REST API на FastAPI для биллинга (200 rps), оптимизировал запросы PostgreSQL и сократил время отчётов с 40 до 3 секунд, настроил CI/CD в GitLab, контейнеризация в Docker. Навыки: Python, FastAPI, Django, PostgreSQL, Docker.";

fn offline_writer() -> Writer {
    let writer = Writer::from_settings(Settings::from_lookup(|_| None).unwrap());
    assert!(writer.is_offline());
    writer
}

#[tokio::test]
async fn the_offline_writer_writes_a_signed_letter_from_an_inline_vacancy_without_claiming_kafka() {
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
    assert!(t.starts_with("Здравствуйте!"), "{t}");
    assert!(
        t.contains("«Python-разработчик»") && !t.contains("Ищем"),
        "{t}"
    );
    assert!(
        t.contains("с 40 до 3 секунд") && t.contains("(200 rps)"),
        "{t}"
    );
    assert!(t.ends_with("С уважением,\nИван Петров"), "{t}");
    assert!(!t.contains("Kafka") && !t.contains('•'), "{t}");
    let words = t.split_whitespace().count();
    assert!((200..=300).contains(&words), "{words} words: {t}");
    assert_eq!(offline_compose(VACANCY, RESUME, 0), *t);
}

#[tokio::test]
async fn another_variant_from_the_offline_writer_is_a_different_text() {
    let w = offline_writer();
    let mut seen = Vec::new();
    for variant in 0..6 {
        let l = w
            .write(&Task::Letter {
                vacancy: VACANCY,
                resume: RESUME,
                variant,
            })
            .await
            .unwrap();
        assert!(
            !seen.contains(&l.text),
            "variant {variant} repeats: {}",
            l.text
        );
        seen.push(l.text);
    }
}

#[tokio::test]
async fn an_offline_improvement_it_cannot_apply_is_an_error_that_says_why() {
    let w = offline_writer();
    let latest = offline_compose(VACANCY, RESUME, 0);
    let failure = w
        .write(&Task::Improve {
            vacancy: VACANCY,
            resume: RESUME,
            latest: &latest,
            request: "добавь опыт с Kafka",
        })
        .await
        .unwrap_err();
    assert_eq!(
        failure.error,
        LlmError::Unapplied(Unapplied::NotInResume("Kafka".into()))
    );
    assert!(failure.calls.is_empty());
    let ok = w
        .write(&Task::Improve {
            vacancy: VACANCY,
            resume: RESUME,
            latest: &latest,
            request: "короче, пожалуйста",
        })
        .await
        .unwrap();
    assert!(ok.text.split_whitespace().count() < latest.split_whitespace().count());
}

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

const RICH_RESUME: &str = "Иван Петров\nPython-разработчик, 4 года опыта\n\n- Разработал REST API на FastAPI для биллинга (200 rps).\n- Оптимизировал запросы PostgreSQL и сократил время отчётов с 40 до 3 секунд.\n- Настроил CI/CD в GitLab и перевёл сервисы в Docker.\n- Поддерживал внутренние сервисы на Django, писал unit-тесты на pytest.\n- Провёл миграцию хранилища на Redis без простоя.\n- Наставлял двух стажёров.\n\nНавыки: Python, FastAPI, Django, PostgreSQL, Docker, Redis.";

fn improve(latest: &str, request: &str) -> Result<String, Unapplied> {
    llm::offline_improve(VACANCY, RICH_RESUME, latest, request)
}

fn words(t: &str) -> usize {
    t.split_whitespace().count()
}

#[test]
fn offline_improvements_do_what_people_ask() {
    let latest = offline_compose(VACANCY, RICH_RESUME, 0);

    let formal = improve(&latest, "сделай официальнее").unwrap();
    assert!(formal.starts_with("Уважаемые коллеги!"), "{formal}");
    assert_eq!(
        improve(&formal, "ещё официальнее"),
        Err(Unapplied::AlreadyFormal)
    );
    let casual = improve(&latest, "менее формально").unwrap();
    assert!(casual.starts_with("Привет!") && casual.contains("Всего доброго,\nИван Петров"));

    let plain = improve(&latest, "убери канцелярит").unwrap();
    assert!(
        !plain.contains("предложить свою кандидатуру") && plain != latest,
        "{plain}"
    );

    let shorter = improve(&latest, "короче").unwrap();
    assert!(words(&shorter) < words(&latest));
    assert!(shorter.ends_with("Иван Петров") && shorter.starts_with("Здравствуйте!"));

    let longer = improve(&shorter, "подробнее").unwrap();
    assert!(words(&longer) > words(&shorter), "{longer}");

    let dropped = improve(&latest, "убери Django").unwrap();
    assert!(
        !dropped.contains("Django") && latest.contains("Django"),
        "{dropped}"
    );
    assert_eq!(
        improve(&latest, "убери Kafka"),
        Err(Unapplied::NotInLetter("Kafka".into()))
    );

    let stressed = improve(&latest, "подчеркни Docker").unwrap();
    let body = stressed.split("\n\n").nth(2).unwrap();
    assert!(
        body.starts_with("Главное, что хочу подчеркнуть:") && body.contains("Docker"),
        "{stressed}"
    );

    let added = improve(&latest, "добавь про Redis").unwrap();
    assert!(
        added.contains("миграцию хранилища на Redis") && !latest.contains("миграцию хранилища"),
        "{added}"
    );

    assert_eq!(improve(&latest, "сделай красиво"), Err(Unapplied::Unknown));
}

//! `soprovod chat` scripted through piped stdin against a test database: the whole first letter
//! from the offline composer, a button pressed by number, and the rows it leaves.

use std::io::Write;
use std::process::{Command, Stdio};

const VACANCY: &str = "Backend-разработчик на Rust в команду платежей.
Требования:
- опыт коммерческой разработки на Rust от 2 лет
- уверенное знание PostgreSQL
- опыт с Kafka";

const RESUME: &str = "Мария Соколова, backend-разработчик.
- 2020–2026: сервисы на Rust (tokio, axum) для платёжной системы, 3 года в проде
- оптимизировала запросы PostgreSQL, сократив время отчётов вдвое
- наставничество двух младших разработчиков
Образование: СПбГУ, математико-механический факультет, 2019. Английский B2.";

fn soprovod_chat(url: &str, script: &str) -> std::process::Output {
    soprovod_chat_bytes(url, script.as_bytes())
}

fn soprovod_chat_bytes(url: &str, script: &[u8]) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_soprovod"))
        .args(["--database-url", url, "chat", "--user-id", "4242"])
        .env_remove("OPENAI_API_KEY")
        .env_remove("DATABASE_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run soprovod chat");
    child.stdin.take().unwrap().write_all(script).unwrap();
    child.wait_with_output().unwrap()
}

#[tokio::test]
async fn a_scripted_chat_writes_an_offline_letter_and_takes_a_button_by_number() {
    let db = testkit::empty_db().await;
    // Vacancy, resume, then choice 1 (❤️ like) and /subscription.
    let script = format!("{VACANCY}\n.\n{RESUME}\n.\n1\n/subscription\n/quit\n");
    let out = soprovod_chat(&db.url, &script);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "stderr: {}\nstdout: {stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("строкой из одной точки"),
        "the way to end a message is shown: {stdout}"
    );
    assert!(
        stdout.contains("Шаг 1 из 2") && stdout.contains("Шаг 2 из 2"),
        "{stdout}"
    );
    assert!(stdout.contains("офлайн-черновик"), "{stdout}");
    assert!(
        stdout.contains("я оптимизировала запросы PostgreSQL, сократив время отчётов вдвое"),
        "{stdout}"
    );
    assert!(
        stdout.contains("«Backend-разработчик на Rust»")
            && stdout.contains("С уважением,\nМария Соколова"),
        "{stdout}"
    );
    assert!(!stdout.contains("Kafka"), "not in the resume: {stdout}");
    assert!(stdout.contains("[1] ❤️ Нравится"), "{stdout}");
    assert!(
        stdout.contains("Спасибо"),
        "the like was answered: {stdout}"
    );
    assert!(
        stdout.contains("Писем осталось в этом месяце: 2/3"),
        "{stdout}"
    );
    // No HTML tags reach the terminal.
    assert!(!stdout.contains("<b>"), "{stdout}");

    let pool = db.pool().await;
    let (status, model): (String, String) =
        sqlx::query_as("SELECT status, model_used FROM letter_sessions")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(
        (status.as_str(), model.as_str()),
        ("completed", "offline-composer")
    );
    let feedback: String = sqlx::query_scalar("SELECT feedback_type FROM letter_feedback")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(feedback, "like");

    // A second run continues with the same user: the quota remembers the first letter.
    let out = soprovod_chat(&db.url, "/subscription\n");
    assert!(String::from_utf8_lossy(&out.stdout).contains("2/3"));
}

fn ok_stdout(out: &std::process::Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "stderr: {}\nstdout: {stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[tokio::test]
async fn a_cp1251_vacancy_is_read_as_such_and_the_chat_goes_on() {
    let db = testkit::empty_db().await;
    let (vacancy, _, _) = encoding_rs::WINDOWS_1251.encode(VACANCY);
    let mut script = vacancy.into_owned();
    script.extend_from_slice(b"\n.\n/subscription\n/quit\n");
    let stdout = ok_stdout(&soprovod_chat_bytes(&db.url, &script));
    assert!(
        stdout.contains("Windows-1251") && stdout.contains("Шаг 2 из 2"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Писем осталось"),
        "the chat went on: {stdout}"
    );
    assert!(stdout.contains("До встречи!"), "{stdout}");
}

#[tokio::test]
async fn a_nul_byte_gets_a_clear_message_and_no_error_line() {
    let db = testkit::empty_db().await;
    let script = format!("{VACANCY}\0\n.\n/quit\n");
    let out = soprovod_chat(&db.url, &script);
    let stdout = ok_stdout(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stdout.contains("нулевой байт"), "{stdout}");
    assert!(
        !stdout.contains("ERROR") && !stderr.contains("ERROR") && !stdout.contains("недоступен"),
        "{stdout}\n{stderr}"
    );
    // Nothing was taken as the vacancy.
    assert!(!stdout.contains("Шаг 2 из 2"), "{stdout}");
}

#[tokio::test]
async fn a_number_that_is_no_button_is_answered_and_commands_after_it_still_work() {
    let db = testkit::empty_db().await;
    let stdout = ok_stdout(&soprovod_chat(&db.url, "7\n/help\n/quit\n"));
    assert!(stdout.contains("Кнопки с номером 7 нет"), "{stdout}");
    assert!(
        stdout.contains("Как это работает"),
        "/help was not swallowed: {stdout}"
    );
    assert!(
        stdout.contains("soprovod db down") || stdout.contains("До встречи!"),
        "{stdout}"
    );
}

#[tokio::test]
async fn button_numbers_keep_their_meaning_when_improvements_run_out() {
    let db = testkit::empty_db().await;
    let script = format!(
        "{VACANCY}\n.\n{RESUME}\n.\n3\nсделай короче\n.\n3\nсделай формальнее\n.\n3\n/quit\n"
    );
    let stdout = ok_stdout(&soprovod_chat(&db.url, &script));
    assert!(stdout.contains("[3] ✏️ Улучшить (2)"), "{stdout}");
    assert!(stdout.contains("[3] ✏️ Улучшить (1)"), "{stdout}");
    // With no improvement left, 🔄 (a paid action) keeps number 4 and 3 is no button.
    assert!(!stdout.contains("[3] 🔄"), "{stdout}");
    let last = stdout.rsplit("[1] ❤️").next().unwrap();
    assert!(last.contains("[4] 🔄 Ещё вариант"), "{last}");
    assert!(last.contains("Кнопки с номером 3 нет"), "{last}");
}

#[tokio::test]
async fn ctrl_d_in_the_middle_of_a_paste_keeps_the_accepted_vacancy_for_the_next_chat() {
    let db = testkit::empty_db().await;
    // The input ends while the resume is being pasted.
    let first = ok_stdout(&soprovod_chat(
        &db.url,
        &format!("{VACANCY}\n.\nМария Соколова, backend-разработчик.\n"),
    ));
    assert!(first.contains("Шаг 2 из 2"), "{first}");
    let second = ok_stdout(&soprovod_chat(&db.url, &format!("{RESUME}\n.\n/quit\n")));
    assert!(second.contains("Продолжаем с того места"), "{second}");
    assert!(
        second.contains("С уважением,"),
        "the letter was written: {second}"
    );
}

/// The terminal chat logs like `serve`: each event in a span with its id and the internal user id
/// the engine resolved, and none of the texts.
#[tokio::test]
async fn each_chat_event_is_logged_with_its_id_and_the_internal_user_id_only() {
    let db = testkit::empty_db().await;
    let mut child = Command::new(env!("CARGO_BIN_EXE_soprovod"))
        .args(["--database-url", &db.url, "chat", "--user-id", "4243"])
        .env_remove("OPENAI_API_KEY")
        .env_remove("DATABASE_URL")
        .env("SOPROVOD_LOG", "info")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run soprovod chat");
    let script = format!("{VACANCY}\n.\n/quit\n");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let user: i64 = sqlx::query_scalar("SELECT id FROM users WHERE telegram_user_id = 4243")
        .fetch_one(&db.pool().await)
        .await
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    let handled: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("event handled"))
        .collect();
    // /start, then the vacancy.
    assert_eq!(
        handled.len(),
        2,
        "{log}\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    for line in handled {
        assert!(line.contains("event{event=chat:"), "{line}");
        assert!(line.contains(&format!("user=user#{user}}}")), "{line}");
    }
    let first_line = VACANCY.lines().next().unwrap();
    assert!(!log.contains(first_line), "{log}");
}
